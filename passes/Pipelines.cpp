//===- Pipelines.cpp - HybridC pass pipelines -------------------*- C++ -*-===//

#include "passes/Pipelines.h"

#include "passes/Passes.h"

#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

#include <cstring>

using namespace mlir;

namespace {
struct Step {
  const char *pipeline; // textual form, so the steps read like hybrid-opt's
  const char *why;
  /// Whether the options leave the step in (always when null).
  bool (*enabled)(const hybrid::PipelineOptions &) = nullptr;
};

// Layer-level cleanup after import.
constexpr Step kHybridSteps[] = {
    {"canonicalize", "fold what the import left foldable, drop unused weights"},
    {"cse", "merge identical weight references (a tied embedding and head)"},
    {"hybrid-fuse-moe-routing",
     "each MoE block: one routing op, grouped experts and their combine",
     [](const hybrid::PipelineOptions &o) { return bool(o.fuseMoERouting); }},
    {"hybrid-tile-scans{chunk-size=%chunk}",
     "Gated DeltaNet and Mamba prefill in chunks (skipped for 0)",
     [](const hybrid::PipelineOptions &o) { return o.scanChunkSize != 0; }},
};

// Layer ops to linalg on tensors plus loop nests on state buffers.
constexpr Step kLinalgSteps[] = {
    {"convert-hybrid-to-linalg{max-seq-len=%seq max-batch=%batch "
     "pack-weights=%pack column-workgroups=%columns mma-tiles=%columns "
     "warpgroup-tiles=%warpgroup block-shared-bytes=%smem bf16-dot=%bf16dot}",
     "every layer op to linalg and loops; state handles become buffers; "
     "linear layers read packed weights"},
    {"convert-elementwise-to-linalg", "residual adds on tensors to linalg"},
    {"func.func(hybrid-fuse-elementwise)",
     "MoE combine, residual add, norm reduction and normalisation: one "
     "loop over rows"},
    {"canonicalize",
     "clean up the index arithmetic of the loop nests, drop the unpacked "
     "weights nothing reads"},
    {"cse", "share the repeated index and weight computations"},
    {"hybrid-weights-to-arguments",
     "weights become arguments the runtime binds to the tensors' bytes"},
};

// Tensors to buffers and parallel loops (both targets).
#define HYBRID_BUFFER_STEPS                                                    \
  {"one-shot-bufferize{bufferize-function-boundaries "                         \
   "function-boundary-type-conversion=identity-layout-map}",                   \
   "tensors to buffers, arguments as plain memrefs"},                          \
      {"buffer-deallocation-pipeline",                                         \
       "free every temporary buffer; only the returned logits outlive a "      \
       "call"},                                                                \
      {"scf-forall-to-parallel", "the fused row loops as scf.parallel"},       \
      {"convert-linalg-to-parallel-loops",                                     \
       "linalg to loops, parallel dimensions as scf.parallel (tiling comes "   \
       "later)"},                                                              \
      {"hybrid-offload-host-work",                                             \
       "copies and the plan's own buffer work become loops: the plan only "    \
       "allocates and dispatches (on a GPU it cannot touch device memory)"}

// The host plan's own ops to the LLVM dialect (both targets; the CPU's
// kernels go along).
#define HYBRID_HOST_STEPS(memrefToLLVM, memrefWhy)                             \
  {"convert-scf-to-cf", "structured control flow to branches"},                \
      {"expand-strided-metadata", "subviews to explicit offsets"},             \
      {"lower-affine", "affine index maps to arith"},                          \
      {"convert-vector-to-llvm{vector-contract-lowering=outerproduct "         \
       "enable-x86vector=%bf16dot}",                                           \
       "the linear layers' register tiles: vector loads, FMAs, reductions "    \
       "(gpu-kernel-forms' contract tiles as outer products: row FMAs; "       \
       "bf16-dot's dot products as AVX512-BF16's intrinsic)"},                 \
      {"convert-ub-to-llvm",                                                   \
       "the poison values of the contract tiles' lowering (gpu-kernel-forms)", \
       [](const hybrid::PipelineOptions &o) {                                  \
         return bool(o.gpuKernelForms);                                        \
       }},                                                                     \
      {memrefToLLVM, memrefWhy},                                               \
      {"convert-math-to-llvm", "exp, rsqrt, cos, ... to LLVM intrinsics"},     \
      {"convert-arith-to-llvm", "scalar arithmetic"},                          \
      {"convert-cf-to-llvm", "branches"},                                      \
      {"convert-func-to-llvm", "functions and calls"},                         \
      {"convert-hybrid-dispatch-to-llvm",                                      \
       "dispatches to calls of the runtime's executor (CPU kernels: packed "   \
       "entries) or GPU launcher"},                                            \
      {"reconcile-unrealized-casts",                                           \
       "drop the casts the conversions paired up"}

// Tensors to buffers, top-level parallel loops to kernels and dispatches,
// the kernel transformations (CPU).
constexpr Step kKernelSteps[] = {
    HYBRID_BUFFER_STEPS,
    {"hybrid-form-dispatches",
     "each top-level parallel loop becomes a kernel and a dispatch the "
     "runtime spreads over its threads"},
    {"hybrid-cooperative-rows{shared-memory-bytes=%smem}",
     "row kernels' column loops shared by a workgroup's threads, as on a GPU "
     "(gpu-kernel-forms)",
     [](const hybrid::PipelineOptions &o) { return bool(o.gpuKernelForms); }},
    {"hybrid-merge-dispatches{small-blocks=0}",
     "independent kernels side by side in one dispatch, as on a GPU "
     "(gpu-kernel-forms)",
     [](const hybrid::PipelineOptions &o) { return bool(o.gpuKernelForms); }},
    {"hybrid-chain-dispatches",
     "a decode step's norms, routers and MoE grouping in the tail of the "
     "kernel before them, as on a GPU (gpu-kernel-forms)",
     [](const hybrid::PipelineOptions &o) { return bool(o.gpuKernelForms); }},
    {"hybrid-merge-dispatches",
     "what the tails set apart side by side, as on a GPU (gpu-kernel-forms)",
     [](const hybrid::PipelineOptions &o) { return bool(o.gpuKernelForms); }},
    {"hybrid-deduplicate-kernels",
     "one kernel for the identical kernels of repeated layers: each is "
     "compiled once"},
    {"hybrid-expand-warpgroup-mma",
     "sm_90a's warpgroup products as each warp's contract tiles "
     "(gpu-kernel-forms with cuda-arch=sm_90a, the only forms that have them)",
     [](const hybrid::PipelineOptions &o) {
       return o.gpuKernelForms && hybrid::hasWarpgroupMma(o.cudaArch);
     }},
    {"hybrid-round-tiles-to-tf32{split=%split}",
     "the f32 tensor-core tiles' operands rounded to tf32 (or split into "
     "tf32 values and remainders, three products each), the GPU's "
     "precision (gpu-kernel-forms with tile-precision tf32 or 3xtf32)",
     [](const hybrid::PipelineOptions &o) {
       return o.tilePrecision == "tf32" || o.tilePrecision == "3xtf32";
     }},
    {"hybrid-reverse-parallel-order",
     "every kernel's workgroups and parallel loops last first: a check that "
     "no iteration depends on an earlier one (reverse-parallel-order)",
     [](const hybrid::PipelineOptions &o) { return bool(o.reverseParallelOrder); }},
    {"hybrid-approximate-math",
     "exp and log as polynomials, so that their loops vectorise"},
    {"hybrid-dealloc-after-last-use",
     "each buffer freed after the last dispatch that uses it, not when the "
     "call returns: later layers reuse earlier layers' memory"},
    {"hybrid-check-bounds",
     "every buffer access checked against its buffer's shape as it runs "
     "(check-bounds)",
     [](const hybrid::PipelineOptions &o) { return bool(o.checkBounds); }},
};

// Kernels and plan to the LLVM dialect (CPU).
constexpr Step kLLVMSteps[] = {
    {"convert-vector-to-scf{full-unroll=1}",
     "the tensor-core tiles' 2-D transfers as a transfer per row, unrolled "
     "(gpu-kernel-forms): loops of rows would stage each tile through a "
     "stack temporary in the workgroup's loop body, where the stack grows "
     "at every K step",
     [](const hybrid::PipelineOptions &o) { return bool(o.gpuKernelForms); }},
    {"arith-expand{include-bf16=%expandbf16}",
     "bf16 conversions (bf16 state and caches, fp8 weights' dequantized "
     "values, the tensor-core tiles' x) as integer arithmetic: without the "
     "CPU's own instruction (native-bf16) LLVM would call compiler-rt's "
     "__truncsfbf2, which the artifact's code does not link"},
    HYBRID_HOST_STEPS("finalize-memref-to-llvm{use-generic-functions=1}",
                      "memref descriptors and accesses; the plan's buffers "
                      "from the runtime's allocator, which keeps them for "
                      "reuse"),
};

// Tensors to buffers, top-level parallel loops to GPU kernels and their
// launches, the kernels' GPU forms (tensor-core tiles, griddepcontrol,
// cp.async) (CUDA).
constexpr Step kCUDAKernelSteps[] = {
    HYBRID_BUFFER_STEPS,
    {"hybrid-form-dispatches",
     "each top-level parallel loop becomes a kernel and a dispatch"},
    {"hybrid-cooperative-rows{shared-memory-bytes=%smem}",
     "norms and residual adds a block per row, their column loops strided "
     "over its threads (rows up to the arch's shared memory)"},
    {"hybrid-merge-dispatches{small-blocks=0}",
     "independent kernels side by side in one launch (the router's GEMV "
     "with the shared expert's, ...): fewer launches per decode step; small "
     "block kernels are left to the tails"},
    {"hybrid-chain-dispatches",
     "a decode step's norms, routers and MoE grouping run by the last block "
     "to finish of the kernel before them (an atomic count): no launch of "
     "their own"},
    {"hybrid-merge-dispatches",
     "what the tails set apart side by side (the shared expert's down GEMV "
     "with the experts' gate and up GEMV)"},
    {"hybrid-deduplicate-kernels",
     "one kernel for the identical kernels of repeated layers: the NVPTX "
     "backend and ptxas compile each once"},
    {"hybrid-approximate-math{every-op=1}",
     "exp, log, sin, cos, ... as polynomials: no libm or libdevice on the "
     "GPU"},
    {"hybrid-kernels-to-gpu{block-size=128 shared-memory-bytes=%smem}",
     "kernels into gpu.module @hybrid_kernels, one thread per workgroup (a "
     "block for block forms: tensor-core tiles, chunked scans, norms; their "
     "shared buffers in dynamic shared memory, up to the arch's limit)"},
    {"nvvm-attach-target{module=hybrid_kernels chip=%arch features=%ptx O=3}",
     "the NVPTX target: architecture and the PTX ISA it needs"},
    {"gpu.module(hybrid-mma-tiles-to-nvgpu{split-tf32=%split})",
     "the linear layers' contract tiles to mma.sync (tf32 m16n8k8, three "
     "of them for 3xtf32; bf16 m16n8k16), fragments loaded from shared "
     "memory per lane"},
    {"gpu.module(hybrid-warpgroup-mma-to-nvvm)",
     "sm_90a: the bf16 linear layers' and experts' warpgroup products to "
     "wgmma.mma_async, "
     "matrix descriptors from the staged core matrices' strides",
     [](const hybrid::PipelineOptions &o) {
       return hybrid::hasWarpgroupMma(o.cudaArch);
     }},
    {"gpu.module(hybrid-programmatic-dependent-launch)",
     "sm_90 and later: every kernel lets the next one launch early and "
     "waits for the grid before it before touching memory (griddepcontrol): "
     "the runtime overlaps a decode step's launches",
     [](const hybrid::PipelineOptions &o) {
       return hybrid::hasGridDependencyControl(o.cudaArch);
     }},
    {"gpu.module(hybrid-async-shared-copies)",
     "the block kernels' staging copies from global into shared memory as "
     "cp.async, waited for at the next barrier"},
};

// Kernels to PTX, the plan to the LLVM dialect (CUDA).
constexpr Step kCUDASteps[] = {
    {"gpu.module(convert-scf-to-cf,expand-strided-metadata,lower-affine,"
     "convert-nvgpu-to-nvvm,convert-gpu-to-nvvm,convert-nvvm-to-llvm,"
     "convert-vector-to-llvm,"
     "hybrid-replace-libdevice-calls,canonicalize,cse,"
     "reconcile-unrealized-casts)",
     "kernels to the NVVM dialect (memrefs as expanded descriptors), "
     "without libdevice"},
    {"gpu-module-to-binary{format=isa}", "PTX from LLVM's NVPTX backend"},
    HYBRID_HOST_STEPS("finalize-memref-to-llvm{use-generic-functions=1}",
                      "memref descriptors; allocations through the "
                      "runtime's device allocator"),
};
#undef HYBRID_BUFFER_STEPS
#undef HYBRID_HOST_STEPS

/// The PTX ISA version an architecture needs (sm_80: PTX 7.0, sm_90: 7.8,
/// sm_90a: 8.0).
const char *ptxFeatures(StringRef arch) {
  return arch == "sm_80" ? "+ptx70" : arch == "sm_90a" ? "+ptx80" : "+ptx78";
}

LogicalResult append(OpPassManager &pm, ArrayRef<Step> steps,
                     const hybrid::PipelineOptions &options, bool cuda) {
  for (const Step &step : steps) {
    if (step.enabled && !step.enabled(options))
      continue;
    std::string text = step.pipeline;
    auto substitute = [&](const char *key, const std::string &value) {
      for (size_t at = text.find(key); at != std::string::npos;
           at = text.find(key, at + value.size()))
        text.replace(at, std::strlen(key), value);
    };
    substitute("%seq", std::to_string(options.maxSeqLen));
    substitute("%batch", std::to_string(options.maxBatch));
    substitute("%chunk", std::to_string(options.scanChunkSize));
    substitute("%pack", std::to_string(options.packWeights));
    substitute("%split", options.tilePrecision == "3xtf32" ? "1" : "0");
    substitute("%expandbf16", options.nativeBF16 ? "0" : "1");
    substitute("%bf16dot", options.bf16Dot ? "1" : "0");
    // GPU threads run packed linear layers a column each (coalesced), GPU
    // warps their full token tiles on tensor cores.
    bool gpuForms = (cuda || options.gpuKernelForms) && options.packWeights > 0;
    substitute("%columns", gpuForms ? "1" : "0");
    substitute("%warpgroup",
               gpuForms && hybrid::hasWarpgroupMma(options.cudaArch) ? "1"
                                                                     : "0");
    // The CPU's GPU forms (gpu-kernel-forms) take the default architecture's
    // limit, as --target=cuda would.
    substitute("%smem", std::to_string(hybrid::cudaBlockSharedBytes(
                            options.cudaArch)));
    substitute("%arch", options.cudaArch);
    substitute("%ptx", ptxFeatures(options.cudaArch));
    if (failed(parsePassPipeline(text, pm, llvm::errs())))
      return failure();
  }
  return success();
}
} // namespace

LogicalResult hybrid::buildPipeline(OpPassManager &pm, Target target,
                                    const PipelineOptions &options, Stage last,
                                    Stage first) {
  bool cuda = target == Target::CUDA;
  if ((cuda && !isCUDAArch(options.cudaArch)) ||
      !isTilePrecision(options.tilePrecision, target))
    return failure();
  const std::pair<Stage, ArrayRef<Step>> stages[] = {
      {Stage::Hybrid, kHybridSteps},
      {Stage::Linalg, kLinalgSteps},
      {Stage::Kernel, cuda ? ArrayRef<Step>(kCUDAKernelSteps)
                           : ArrayRef<Step>(kKernelSteps)},
      {Stage::LLVM,
       cuda ? ArrayRef<Step>(kCUDASteps) : ArrayRef<Step>(kLLVMSteps)}};
  for (auto [stage, steps] : stages) {
    if (stage < first)
      continue;
    if (failed(append(pm, steps, options, cuda)))
      return failure();
    if (stage == last)
      break;
  }
  return success();
}

bool hybrid::isCUDAArch(StringRef arch) {
  return arch == "sm_80" || arch == "sm_90" || arch == "sm_90a";
}

bool hybrid::isTilePrecision(StringRef precision, Target target) {
  if (precision.empty() || precision == "tf32" || precision == "3xtf32")
    return true;
  return precision == "f32" && target == Target::CPU;
}

bool hybrid::hasWarpgroupMma(StringRef arch) { return arch == "sm_90a"; }

bool hybrid::hasGridDependencyControl(StringRef arch) {
  return arch == "sm_90" || arch == "sm_90a";
}

int64_t hybrid::cudaBlockSharedBytes(StringRef arch) {
  // cudaDevAttrMaxSharedMemoryPerBlockOptin of the A100 and the H100/H200.
  return arch == "sm_80" ? 163 * 1024 : 227 * 1024;
}

namespace {
using hybrid::PipelineOptions;
using hybrid::Target;

/// Registers `arg` as the whole pipeline for `target`; a bad option value,
/// or cuda-arch on the CPU pipeline, is an error rather than ignored.
void registerPipeline(StringRef arg, StringRef description, Target target) {
  registerPassPipeline(
      arg, description,
      [target, arg](OpPassManager &pm, StringRef text,
                    function_ref<LogicalResult(const Twine &)> error) {
        PipelineOptions options;
        if (failed(options.parseFromString(text)))
          return failure();
        if (target == Target::CPU && options.cudaArch.hasValue() &&
            !options.gpuKernelForms)
          return error(arg + ": cuda-arch applies to hybrid-cuda-pipeline "
                             "and to gpu-kernel-forms");
        if (target == Target::CUDA && options.reverseParallelOrder.hasValue())
          return error(arg + ": reverse-parallel-order applies to "
                             "hybrid-cpu-pipeline (a GPU has no order)");
        if (target == Target::CUDA && options.gpuKernelForms.hasValue())
          return error(arg + ": gpu-kernel-forms applies to hybrid-cpu-pipeline "
                             "(the CUDA pipeline builds those forms anyway)");
        if (target == Target::CUDA && options.bf16Dot.hasValue())
          return error(arg + ": bf16-dot applies to hybrid-cpu-pipeline "
                             "(AVX512-BF16 is an x86 instruction set)");
        if (options.bf16Dot && options.gpuKernelForms)
          return error(arg + ": bf16-dot applies to the CPU's own forms, not "
                             "to gpu-kernel-forms");
        if (target == Target::CUDA && options.nativeBF16.hasValue())
          return error(arg + ": native-bf16 applies to hybrid-cpu-pipeline "
                             "(NVPTX selects the GPU's conversions itself)");
        if (target == Target::CUDA && options.checkBounds.hasValue())
          return error(arg + ": check-bounds applies to hybrid-cpu-pipeline "
                             "(its checks run on the CPU)");
        if (target == Target::CPU && options.tilePrecision.hasValue() &&
            !options.gpuKernelForms)
          return error(arg + ": tile-precision needs gpu-kernel-forms on "
                             "hybrid-cpu-pipeline (the CPU forms have no "
                             "tensor-core tiles)");
        if (!hybrid::isTilePrecision(options.tilePrecision, target))
          return error(arg + ": tile-precision must be " +
                       (target == Target::CPU
                            ? "f32, tf32 or 3xtf32"
                            : "tf32 or 3xtf32 (a GPU's tensor cores take f32 "
                              "operands only as tf32)") +
                       ", got '" + options.tilePrecision + "'");
        if (options.gpuKernelForms && options.packWeights <= 0)
          return error(arg + ": gpu-kernel-forms needs pack-weights");
        if (!hybrid::isCUDAArch(options.cudaArch))
          return error(arg + ": cuda-arch must be sm_80, sm_90 or sm_90a, got '" +
                       options.cudaArch + "'");
        if (failed(hybrid::buildPipeline(pm, target, options,
                                         hybrid::Stage::LLVM)))
          return error(arg + ": internal error: a step does not parse");
        return success();
      },
      [](function_ref<void(const detail::PassOptions &)> handler) {
        handler(PipelineOptions());
      });
}
} // namespace

void hybrid::registerPipelines() {
  registerPipeline("hybrid-cpu-pipeline",
                   "Layer-level hybrid IR to the LLVM dialect for CPUs",
                   Target::CPU);
  registerPipeline("hybrid-cuda-pipeline",
                   "Layer-level hybrid IR to PTX kernels (in a gpu.binary) and "
                   "a host plan in the LLVM dialect for NVIDIA GPUs",
                   Target::CUDA);
}
