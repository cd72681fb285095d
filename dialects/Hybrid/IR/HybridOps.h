//===- HybridOps.h - Hybrid dialect layer-level ops -------------*- C++ -*-===//

#ifndef HYBRIDC_DIALECTS_HYBRID_IR_HYBRIDOPS_H
#define HYBRIDC_DIALECTS_HYBRID_IR_HYBRIDOPS_H

#include "dialects/Hybrid/IR/HybridDialect.h"
#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#define GET_OP_CLASSES
#include "dialects/Hybrid/IR/HybridOps.h.inc"

namespace hybrid {
/// Largest `chunk_size` of a recurrent mixer: its chunked form keeps
/// C x C and C x d scratch matrices per head on a thread's stack.
constexpr int64_t kMaxChunkSize = 4096;
/// Largest `packed(NR)` panel of a weight: a panel row is one vector of
/// accumulators, held in registers.
constexpr int64_t kMaxPanel = 256;
} // namespace hybrid

#endif // HYBRIDC_DIALECTS_HYBRID_IR_HYBRIDOPS_H
