//===- LoopUtils.h - iteration spaces of parallel loops ---------*- C++ -*-===//
//
// Shared by the passes that spread an `scf.parallel`'s iterations over
// workgroups (hybrid-form-dispatches) or over a block's threads
// (hybrid-kernels-to-gpu): both number the whole iteration space linearly.
// And what the GPU passes know of an index's alignment, of the warps
// loops that hold the tensor-core tiles and their operands, and of
// prefetches.
//
//===----------------------------------------------------------------------===//

#ifndef HYBRIDC_PASSES_LOOPUTILS_H
#define HYBRIDC_PASSES_LOOPUTILS_H

#include "mlir/IR/Builders.h"

namespace hybrid {

/// ceil((ub - lb) / step), 0 for an empty range.
mlir::Value tripCount(mlir::OpBuilder &b, mlir::Location loc, mlir::Value lb,
                      mlir::Value ub, mlir::Value step);

/// The induction variables at iteration `linear` of an iteration space of
/// `trips` per dimension, the last dimension fastest (neighbouring
/// iterations take neighbouring columns): lbs[d] + index_d * steps[d].
llvm::SmallVector<mlir::Value>
delinearize(mlir::OpBuilder &b, mlir::Location loc, mlir::Value linear,
            llvm::ArrayRef<mlir::Value> trips, mlir::ValueRange lbs,
            mlir::ValueRange steps);

/// The largest number `value` is known to be a multiple of, from the
/// constants, scf.for induction variables (lower bound and step), and
/// affine or arith sums and products that make it (0 for zero, a multiple
/// of anything; 1 when nothing is known).
int64_t knownDivisor(mlir::Value value, int depth = 0);

/// Whether `op` is inside a warps loop (an `scf.parallel` marked
/// kWarpsAttr): where contract tiles, a warp's tensor-core work, belong.
bool inWarpsLoop(mlir::Operation *op);

/// Whether each element of `value` (f32, or a vector of f32, or their
/// bits as i32) is finite: its exponent bits not all ones (an i1, or a
/// vector of i1 of its shape). Built at `b`'s insertion point.
mlir::Value isFinite(mlir::OpBuilder &b, mlir::Location loc, mlir::Value value);

/// The tf32 remainder of `value` (f32, or a vector of f32) whose tf32
/// rounding is `hi`: value - hi (exact in f32) rounded by `roundToTF32`,
/// or 0 where that difference is not finite (an infinite or NaN value, or
/// one that rounds past the largest tf32: it then gives what tf32 alone
/// gives, where inf - inf would make a 3xtf32 tile NaN). Built after `hi`.
mlir::Value tf32Remainder(mlir::Value value, mlir::Value hi,
                          llvm::function_ref<mlir::Value(mlir::Value)> roundToTF32);

/// Whether `op` and the ops inside it only compute and prefetch
/// (memref.prefetch: a hint, it reads nothing any thread computes with):
/// the GEMVs' prefetch of their weights, which needs no barrier around it
/// and may run before a kernel waits for the grid before it.
bool onlyComputesAndPrefetches(mlir::Operation *op);

} // namespace hybrid

#endif // HYBRIDC_PASSES_LOOPUTILS_H
