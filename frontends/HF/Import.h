//===- Import.h - Hugging Face checkpoint importer --------------*- C++ -*-===//
//
// Turns a Hugging Face checkpoint folder (config.json + safetensors) or a bare
// config.json into layer-level hybrid IR. Every tensor the config implies is
// a `hybrid.weight`; when safetensors are present each one is checked for
// presence, shape and dtype, and takes the checkpoint's element type.
//
//===----------------------------------------------------------------------===//

#ifndef HYBRIDC_FRONTENDS_HF_IMPORT_H
#define HYBRIDC_FRONTENDS_HF_IMPORT_H

#include "frontends/HF/Safetensors.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"
#include "llvm/Support/Error.h"

#include <optional>
#include <string>
#include <vector>

namespace hybrid::hf {

struct ImportOptions {
  /// Element type of the KV caches and conv windows ("bf16", "f16", "f32");
  /// empty: the checkpoint's dtype.
  std::string stateDType;
};

struct ImportResult {
  mlir::OwningOpRef<mlir::ModuleOp> module;
  /// Things the user should know that do not stop the import (e.g. tensors
  /// in the checkpoint that the config does not explain).
  std::vector<std::string> warnings;
  /// The checkpoint the weights were checked against (none for a bare
  /// config.json); it keeps the safetensors mapped.
  std::optional<Checkpoint> checkpoint;
};

/// Imports `modelPath`: a checkpoint folder or a config.json file.
llvm::Expected<ImportResult> importModel(mlir::MLIRContext &context,
                                         llvm::StringRef modelPath,
                                         const ImportOptions &options);

/// The model_type values the importer understands, for error messages.
llvm::ArrayRef<llvm::StringRef> supportedModelTypes();

} // namespace hybrid::hf

#endif // HYBRIDC_FRONTENDS_HF_IMPORT_H
