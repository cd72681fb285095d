//===- hybrid-opt.cpp - mlir-opt with the hybrid dialect --------*- C++ -*-===//
//
// Parses, verifies and transforms hybrid IR with any registered pass or
// pipeline: every upstream dialect and pass, plus HybridC's own, so that a
// lowering can be replayed stage by stage from a file.
//
//===----------------------------------------------------------------------===//

#include "dialects/Hybrid/IR/HybridOps.h"
#include "passes/Passes.h"
#include "passes/Pipelines.h"

#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"

int main(int argc, char **argv) {
  mlir::registerAllPasses();
  hybrid::registerHybridPasses();
  hybrid::registerPipelines();
  mlir::DialectRegistry registry;
  mlir::registerAllDialects(registry);
  mlir::registerAllExtensions(registry);
  registry.insert<hybrid::HybridDialect>();
  return mlir::asMainReturnCode(
      mlir::MlirOptMain(argc, argv, "HybridC optimizer driver\n", registry));
}
