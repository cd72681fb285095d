//===- WeightBinding.h - Check the IR's weights against a checkpoint -*- C++ -*-===//

#ifndef HYBRIDC_FRONTENDS_HF_WEIGHTBINDING_H
#define HYBRIDC_FRONTENDS_HF_WEIGHTBINDING_H

#include "frontends/HF/Safetensors.h"

#include "mlir/IR/BuiltinOps.h"

namespace hybrid::hf {

/// Checks every `hybrid.weight` of `module` against `checkpoint`: presence,
/// shape and dtype; then gives each weight the checkpoint's element type.
/// An MTP function whose own tensors are all absent (transformers does not
/// save them) is removed with a warning. Checkpoint tensors that no weight
/// uses are listed in one warning.
llvm::Error bindWeights(mlir::ModuleOp module, const Checkpoint &checkpoint,
                        std::vector<std::string> &warnings);

} // namespace hybrid::hf

#endif // HYBRIDC_FRONTENDS_HF_WEIGHTBINDING_H
