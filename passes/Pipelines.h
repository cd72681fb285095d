//===- Pipelines.h - HybridC pass pipelines ---------------------*- C++ -*-===//

#ifndef HYBRIDC_PASSES_PIPELINES_H
#define HYBRIDC_PASSES_PIPELINES_H

#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassOptions.h"

namespace hybrid {

/// The options every pipeline reads; hybridc fills them from its flags and
/// `hybrid-opt --hybrid-cpu-pipeline{...}` from the pipeline string.
struct PipelineOptions : mlir::PassPipelineOptions<PipelineOptions> {
  Option<int64_t> maxSeqLen{*this, "max-seq-len",
                            llvm::cl::desc("Positions a KV cache holds"),
                            llvm::cl::init(4096)};
  Option<int64_t> maxBatch{
      *this, "max-batch",
      llvm::cl::desc("Sequences one call can advance (batched state buffers "
                     "above 1)"),
      llvm::cl::init(1)};
  Option<int64_t> packWeights{
      *this, "pack-weights",
      llvm::cl::desc("Output rows per panel of packed linear weights (0 keeps "
                     "the checkpoint layout)"),
      llvm::cl::init(0)};
  Option<int64_t> scanChunkSize{
      *this, "scan-chunk-size",
      llvm::cl::desc("Tokens per chunk of the recurrent mixers' prefill "
                     "(hybrid-tile-scans); 0 keeps them token by token"),
      llvm::cl::init(16)};
  Option<bool> fuseMoERouting{
      *this, "fuse-moe-routing",
      llvm::cl::desc("Split MoE blocks into one routing kernel and grouped "
                     "experts (hybrid-fuse-moe-routing); off keeps the "
                     "per-token reference form"),
      llvm::cl::init(true)};
  Option<std::string> cudaArch{
      *this, "cuda-arch",
      llvm::cl::desc("NVIDIA architecture of the CUDA target: sm_80, sm_90 or "
                     "sm_90a (sm_90 with wgmma: bf16 linear layers' and "
                     "experts' full tiles as warpgroup products); with "
                     "gpu-kernel-forms, "
                     "the architecture whose forms the CPU pipeline builds"),
      llvm::cl::init("sm_90")};
  Option<bool> gpuKernelForms{
      *this, "gpu-kernel-forms",
      llvm::cl::desc("CPU pipeline: shape the kernels as the CUDA target does "
                     "(a workgroup per output column, per state column, per "
                     "KV split; tensor-core tiles as vector contracts) and "
                     "run them on the CPU, to check those forms where no GPU "
                     "is; needs pack-weights"),
      llvm::cl::init(false)};
  Option<bool> reverseParallelOrder{
      *this, "reverse-parallel-order",
      llvm::cl::desc("CPU pipeline: run every kernel's workgroups and "
                     "parallel loops last first "
                     "(hybrid-reverse-parallel-order), a check that no "
                     "iteration depends on an earlier one, as on a GPU"),
      llvm::cl::init(false)};
  Option<bool> checkBounds{
      *this, "check-bounds",
      llvm::cl::desc("CPU pipeline: check every buffer access against its "
                     "buffer's shape as the program runs "
                     "(hybrid-check-bounds); the first access out of bounds "
                     "stops the program"),
      llvm::cl::init(false)};
  Option<bool> nativeBF16{
      *this, "native-bf16",
      llvm::cl::desc("CPU pipeline: the target CPU rounds f32 to bf16 with an "
                     "instruction (AVX512-BF16, AVX-NE-CONVERT): bf16 "
                     "truncations stay truncations for LLVM to select it, "
                     "instead of integer arithmetic. The instruction treats "
                     "f32 denormals (below 1.2e-38) as zero; hybridc sets "
                     "this for --cpu native where the CPU has it"),
      llvm::cl::init(false)};
  Option<bool> bf16Dot{
      *this, "bf16-dot",
      llvm::cl::desc("CPU pipeline: the target CPU has AVX512-BF16's dot "
                     "product: bf16 linear layers' weights packed in pairs "
                     "of inputs, x rounded to bf16, two products per f32 "
                     "lane (convert-hybrid-to-linalg's bf16-dot); hybridc "
                     "sets this for --cpu native where the CPU has it"),
      llvm::cl::init(false)};
  Option<std::string> tilePrecision{
      *this, "tile-precision",
      llvm::cl::desc("Precision of the f32 tensor-core tiles: f32 (CPU "
                     "pipeline with gpu-kernel-forms: multiplied in f32), "
                     "tf32 (operands rounded to tf32 as a GPU's tensor cores "
                     "take them) or 3xtf32 (each operand a tf32 value plus "
                     "its tf32 remainder, three products: about f32's "
                     "precision for three times the tensor-core work). "
                     "Default f32 on the CPU pipeline, tf32 on the CUDA "
                     "pipeline"),
      llvm::cl::init("")};
};

/// Stages of the pipelines, in order; `--emit=` stops after one. Kernel:
/// the plan's dispatches and their kernels on buffers, before lowering to
/// LLVM (CUDA: to NVVM and PTX).
enum class Stage { Hybrid, Linalg, Kernel, LLVM };

/// Appends the passes that take the IR from just before `first` (imported
/// hybrid IR for Stage::Hybrid) to the end of `last`.
enum class Target { CPU, CUDA };

/// The stages `first` to `last` for `target`; fails on an unknown CUDA
/// architecture.
mlir::LogicalResult buildPipeline(mlir::OpPassManager &pm, Target target,
                                  const PipelineOptions &options, Stage last,
                                  Stage first = Stage::Hybrid);

/// Whether `arch` is a CUDA architecture the CUDA target compiles for.
bool isCUDAArch(llvm::StringRef arch);

/// Whether `precision` names f32 tensor-core tiles' precision on `target`:
/// f32 (CPU forms only: a GPU's tensor cores take f32 only as tf32), tf32
/// or 3xtf32; empty for the target's default.
bool isTilePrecision(llvm::StringRef precision, Target target);

/// Whether `arch` has sm_90a's warpgroup products (wgmma), which the GPU
/// forms then use for bf16 linear layers' full tiles.
bool hasWarpgroupMma(llvm::StringRef arch);

/// Whether `arch` has griddepcontrol (sm_90 and later): the CUDA target's
/// kernels then wait for the grid before them themselves
/// (hybrid-programmatic-dependent-launch), and the runtime may launch them
/// before it completes.
bool hasGridDependencyControl(llvm::StringRef arch);

/// Shared memory a block may have on `arch` once its kernel opts in (the
/// runtime does, for kernels that need more than 48 KiB): sm_80 163 KiB,
/// sm_90 and sm_90a 227 KiB.
int64_t cudaBlockSharedBytes(llvm::StringRef arch);

/// Registers hybrid-cpu-pipeline and hybrid-cuda-pipeline for hybrid-opt.
void registerPipelines();

} // namespace hybrid

#endif // HYBRIDC_PASSES_PIPELINES_H
