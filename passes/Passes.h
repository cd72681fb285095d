//===- Passes.h - HybridC passes --------------------------------*- C++ -*-===//

#ifndef HYBRIDC_PASSES_PASSES_H
#define HYBRIDC_PASSES_PASSES_H

#include "dialects/Hybrid/IR/HybridDialect.h"
#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Index/IR/IndexDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Dialect/X86Vector/X86VectorDialect.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

namespace hybrid {

/// Marks an `scf.parallel` nested in a workgroup whose iterations the
/// workgroup's threads share (convert-hybrid-to-linalg's block forms): on a
/// GPU, hybrid-kernels-to-gpu runs such a kernel a block per workgroup and
/// each marked loop strided over the block's threads between barriers; on
/// a CPU it is a plain loop.
inline constexpr llvm::StringLiteral kCooperativeAttr = "hybrid.cooperative";

/// Marks a cooperative loop, in a loop over steps, whose stores nothing
/// reads before the barrier that opens the next step's prefetch: a copy
/// into the other slot of a double-buffered stage, read a step later. On
/// a GPU it gets no barrier after it (hybrid-kernels-to-gpu, which keeps
/// the mark on the loop it makes), and the barriers of the step do not
/// wait for its copies (hybrid-async-shared-copies): they are in flight
/// while the block works on the slot before.
inline constexpr llvm::StringLiteral kPrefetchAttr = "hybrid.prefetch";

/// Marks an `scf.parallel` nested in a workgroup with one iteration per warp
/// of a block (kBlockWarps of them): on a GPU each warp runs one iteration,
/// its lanes together (contract tiles are a warp's), and the cooperative
/// loops inside are the whole block's, so every warp reaches them alike; on
/// a CPU it is a plain loop, whose iterations each run those cooperative
/// loops in full (they must not depend on the warp).
inline constexpr llvm::StringLiteral kWarpsAttr = "hybrid.warps";

/// Marks the `scf.for` that hybrid-kernels-to-gpu makes of a cooperative
/// loop (its iterations strided over the block's threads). Under the block
/// forms' contract, nothing reads what such a loop stores into shared
/// memory before the next barrier, except the same iteration:
/// hybrid-async-shared-copies relies on it.
inline constexpr llvm::StringLiteral kBlockStridedAttr = "hybrid.block_strided";

/// Marks the `scf.parallel` of one of the forms a linear layer's output
/// is computed in (convert-hybrid-to-linalg's tensor-core tiles, their
/// epilogue, GEMV and column forms, for different rows of one call; the
/// experts' GEMV and the scatter of their full tiles' outputs): of
/// the buffers another marked loop also writes, it writes only rows that
/// no other writes (the forms of one layer take disjoint rows of its
/// output; distinct layers have distinct outputs). hybrid-form-dispatches
/// keeps the mark on the dispatch; hybrid-merge-dispatches lets a GEMV
/// join a kernel that runs before the layer's other forms, and
/// hybrid-chain-dispatches moves the experts' scatter above their GEMV.
inline constexpr llvm::StringLiteral kRowFormAttr = "hybrid.row_form";

/// Threads of a GPU warp.
inline constexpr int64_t kWarpLanes = 32;
/// Warps of a block that has warps loops (kWarpsAttr): the CUDA pipeline's
/// block size is kBlockWarps * kWarpLanes threads.
inline constexpr int64_t kBlockWarps = 4;

/// Shared memory any CUDA block may hold without opting in to more: the
/// budget of the row kernels' and linear layers' block forms, and the
/// chunked delta rule's by default (convert-hybrid-to-linalg's
/// block-shared-bytes; the CUDA pipeline gives the architecture's).
inline constexpr int64_t kBlockSharedBytes = 48 * 1024;

#define GEN_PASS_DECL
#include "passes/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "passes/Passes.h.inc"

} // namespace hybrid

#endif // HYBRIDC_PASSES_PASSES_H
