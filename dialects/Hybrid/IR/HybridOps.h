//===- HybridOps.h - Hybrid dialect layer-level ops -------------*- C++ -*-===//

#ifndef HYBRIDC_DIALECTS_HYBRID_IR_HYBRIDOPS_H
#define HYBRIDC_DIALECTS_HYBRID_IR_HYBRIDOPS_H

#include "dialects/Hybrid/IR/HybridDialect.h"
#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#define GET_OP_CLASSES
#include "dialects/Hybrid/IR/HybridOps.h.inc"

#endif // HYBRIDC_DIALECTS_HYBRID_IR_HYBRIDOPS_H
