//===- hybrid-opt.cpp - mlir-opt with the hybrid dialect --------*- C++ -*-===//
//
// Parses, verifies and transforms hybrid IR with any registered pass or
// pipeline, like mlir-opt.
//
//===----------------------------------------------------------------------===//

#include "dialects/Hybrid/IR/HybridOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"
#include "mlir/Transforms/Passes.h"

int main(int argc, char **argv) {
  mlir::registerTransformsPasses();
  mlir::DialectRegistry registry;
  registry.insert<hybrid::HybridDialect, mlir::arith::ArithDialect,
                  mlir::func::FuncDialect, mlir::tensor::TensorDialect>();
  return mlir::asMainReturnCode(
      mlir::MlirOptMain(argc, argv, "HybridC optimizer driver\n", registry));
}
