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
#include "mlir/Target/LLVM/NVVM/Target.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/GPU/GPUToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/NVVM/NVVMToLLVMIRTranslation.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"

int main(int argc, char **argv) {
  mlir::registerAllPasses();
  hybrid::registerHybridPasses();
  hybrid::registerPipelines();
  mlir::DialectRegistry registry;
  mlir::registerAllDialects(registry);
  mlir::registerAllExtensions(registry);
  // gpu-module-to-binary of the CUDA pipeline translates kernels to LLVM IR.
  mlir::registerBuiltinDialectTranslation(registry);
  mlir::registerLLVMDialectTranslation(registry);
  mlir::registerGPUDialectTranslation(registry);
  mlir::registerNVVMDialectTranslation(registry);
  mlir::NVVM::registerNVVMTargetInterfaceExternalModels(registry);
  registry.insert<hybrid::HybridDialect>();
  return mlir::asMainReturnCode(
      mlir::MlirOptMain(argc, argv, "HybridC optimizer driver\n", registry));
}
