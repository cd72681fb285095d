//===- HybridDialect.cpp - Hybrid dialect registration ----------*- C++ -*-===//

#include "dialects/Hybrid/IR/HybridOps.h"

#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace hybrid;

#include "dialects/Hybrid/IR/HybridOpsDialect.cpp.inc"
#include "dialects/Hybrid/IR/HybridEnums.cpp.inc"

void HybridDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "dialects/Hybrid/IR/HybridOps.cpp.inc"
      >();
  registerTypesAndAttributes();
}
