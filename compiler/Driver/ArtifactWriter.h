//===- ArtifactWriter.h - Native code and the .hyb artifact -----*- C++ -*-===//

#ifndef HYBRIDC_COMPILER_DRIVER_ARTIFACTWRITER_H
#define HYBRIDC_COMPILER_DRIVER_ARTIFACTWRITER_H

#include "frontends/HF/Safetensors.h"

#include "mlir/IR/BuiltinOps.h"
#include "llvm/Support/Error.h"

#include <string>
#include <vector>

namespace hybridc {

/// One argument of @forward as the runtime binds it (read at the linalg
/// stage, where arguments still carry hybrid.state / hybrid.weight).
struct EntryArgument {
  enum Kind { Tokens, Positions, State, Weight, Slots, LogitRows, Sequences, CallStart } kind;
  std::string name;
  std::vector<int64_t> shape; // -1: the token (logit rows: row) dimension
  mlir::Type elementType;
  int64_t experts = 0;
  /// Output rows per panel when the weight is packed (hybrid.packed), else 0.
  int64_t packed = 0;
  /// Packed with each row's inputs in pairs (hybrid.packed_pairs).
  bool pairs = false;
};

/// Reads @forward's arguments at the linalg stage.
llvm::Expected<std::vector<EntryArgument>> readEntryArguments(mlir::ModuleOp module);

struct ArtifactOptions {
  std::string cpu = "x86-64-v3"; // an LLVM x86-64 CPU name, or native
  std::string modelType;
  int64_t vocab = 0, hidden = 0, layers = 0, maxSeqLen = 0, maxBatch = 1;
  /// Reference the checkpoint's safetensors files (in `weightsDir`, an
  /// absolute path) instead of copying the weights into the artifact.
  bool externalWeights = false;
  std::string weightsDir;
  /// CUDA target: the kernels' architecture, PTX and (when ptxas ran)
  /// cubin; empty `cudaArch` for the CPU target.
  std::string cudaArch, ptx, cubin;
  /// Every kernel waits for the grid before it itself
  /// (hybrid-programmatic-dependent-launch), so it may be launched early.
  bool programmaticLaunch = false;
};

/// A compiled artifact, ready to be written: the flatbuffer (config,
/// argument table, native code, kernels) and where each embedded weight
/// goes. The weights are read from the checkpoint, and packed, as the file
/// is written: never held in memory whole.
class Artifact {
public:
  /// Streams the file (artifact_format.h's layout): the flatbuffer, the
  /// weights section, the checksum of both.
  llvm::Error write(llvm::raw_ostream &os) const;

private:
  friend llvm::Expected<Artifact>
  buildArtifact(mlir::ModuleOp, const std::vector<EntryArgument> &,
                const hybrid::hf::Checkpoint &, const ArtifactOptions &);

  struct EmbeddedWeight {
    EntryArgument arg;
    /// One tensor, or one per expert in expert order.
    std::vector<const hybrid::hf::TensorInfo *> tensors;
    uint64_t offset, size; // offset from the start of the weights section
  };
  std::string flatbuffer; // size-prefixed
  uint64_t weightsOffset = 0;
  std::vector<EmbeddedWeight> weights;
  const hybrid::hf::Checkpoint *checkpoint = nullptr;
};

/// Whether the code compiled for `cpu` (ArtifactOptions::cpu) may use the
/// LLVM x86 feature `feature` (e.g. "avx512f"): for "native", as this
/// machine reports its features.
bool cpuHasFeature(const std::string &cpu, const std::string &feature);

/// `cpu` (--cpu) is native or an x86-64 CPU LLVM knows with AVX2 and FMA.
llvm::Error checkCpu(const std::string &cpu);

/// Compiles `module` (LLVM dialect) to a shared object (LLVM codegen, then
/// ld.lld) and lays out the artifact: config, argument table, the shared
/// object and the weights of `checkpoint`, or references to them with
/// `externalWeights`.
llvm::Expected<Artifact>
buildArtifact(mlir::ModuleOp module, const std::vector<EntryArgument> &arguments,
              const hybrid::hf::Checkpoint &checkpoint,
              const ArtifactOptions &options);
} // namespace hybridc

#endif // HYBRIDC_COMPILER_DRIVER_ARTIFACTWRITER_H
