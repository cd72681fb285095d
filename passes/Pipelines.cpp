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
     "pack-weights=%pack}",
     "every layer op to linalg and loops; state handles become buffers; "
     "linear layers read packed weights"},
    {"convert-elementwise-to-linalg", "residual adds on tensors to linalg"},
    {"func.func(hybrid-fuse-elementwise)",
     "residual add, norm reduction and normalisation: one loop over rows"},
    {"canonicalize",
     "clean up the index arithmetic of the loop nests, drop the unpacked "
     "weights nothing reads"},
    {"cse", "share the repeated index and weight computations"},
    {"hybrid-weights-to-arguments",
     "weights become arguments the runtime binds to the tensors' bytes"},
};

// Tensors to buffers, loops to the LLVM dialect.
constexpr Step kLLVMSteps[] = {
    {"one-shot-bufferize{bufferize-function-boundaries "
     "function-boundary-type-conversion=identity-layout-map}",
     "tensors to buffers, arguments as plain memrefs"},
    {"buffer-deallocation-pipeline",
     "free every temporary buffer; only the returned logits outlive a call"},
    {"scf-forall-to-parallel", "the fused row loops as scf.parallel"},
    {"convert-linalg-to-parallel-loops",
     "linalg to loops, parallel dimensions as scf.parallel (tiling comes "
     "later)"},
    {"hybrid-form-dispatches",
     "each top-level parallel loop becomes a kernel and a dispatch the "
     "runtime spreads over its threads"},
    {"hybrid-approximate-math",
     "exp and log as polynomials, so that their loops vectorise"},
    {"convert-scf-to-cf", "structured control flow to branches"},
    {"expand-strided-metadata", "subviews to explicit offsets"},
    {"lower-affine", "affine index maps to arith"},
    {"convert-vector-to-llvm",
     "the linear layers' register tiles: vector loads, FMAs, reductions"},
    {"finalize-memref-to-llvm", "memref descriptors and accesses"},
    {"convert-math-to-llvm", "exp, rsqrt, cos, ... to LLVM intrinsics"},
    {"convert-arith-to-llvm", "scalar arithmetic"},
    {"convert-cf-to-llvm", "branches"},
    {"convert-func-to-llvm", "functions and calls"},
    {"convert-hybrid-dispatch-to-llvm",
     "dispatches to calls of the runtime's executor, kernels to packed "
     "entries"},
    {"reconcile-unrealized-casts", "drop the casts the conversions paired up"},
};

LogicalResult append(OpPassManager &pm, ArrayRef<Step> steps,
                     const hybrid::PipelineOptions &options) {
  for (const Step &step : steps) {
    if (step.enabled && !step.enabled(options))
      continue;
    std::string text = step.pipeline;
    for (auto [key, value] : {std::pair<const char *, int64_t>{"%seq", options.maxSeqLen},
                              {"%batch", options.maxBatch},
                              {"%chunk", options.scanChunkSize},
                              {"%pack", options.packWeights}})
      if (size_t at = text.find(key); at != std::string::npos)
        text.replace(at, std::strlen(key), std::to_string(value));
    if (failed(parsePassPipeline(text, pm, llvm::errs())))
      return failure();
  }
  return success();
}
} // namespace

LogicalResult hybrid::buildCPUPipeline(OpPassManager &pm,
                                       const PipelineOptions &options,
                                       Stage last, Stage first) {
  const std::pair<Stage, ArrayRef<Step>> stages[] = {
      {Stage::Hybrid, kHybridSteps},
      {Stage::Linalg, kLinalgSteps},
      {Stage::LLVM, kLLVMSteps}};
  for (auto [stage, steps] : stages) {
    if (stage < first)
      continue;
    if (failed(append(pm, steps, options)))
      return failure();
    if (stage == last)
      break;
  }
  return success();
}

void hybrid::registerPipelines() {
  PassPipelineRegistration<PipelineOptions>(
      "hybrid-cpu-pipeline",
      "Layer-level hybrid IR to the LLVM dialect for CPUs",
      [](OpPassManager &pm, const PipelineOptions &options) {
        (void)buildCPUPipeline(pm, options, Stage::LLVM);
      });
}
