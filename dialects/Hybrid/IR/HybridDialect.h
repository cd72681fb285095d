//===- HybridDialect.h - Hybrid dialect -------------------------*- C++ -*-===//
//
// The dialect class, its enums, attributes and state types. Include
// HybridOps.h for the ops.
//
//===----------------------------------------------------------------------===//

#ifndef HYBRIDC_DIALECTS_HYBRID_IR_HYBRIDDIALECT_H
#define HYBRIDC_DIALECTS_HYBRID_IR_HYBRIDDIALECT_H

#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Dialect.h"

#include "dialects/Hybrid/IR/HybridOpsDialect.h.inc"
#include "dialects/Hybrid/IR/HybridEnums.h.inc"

#define GET_ATTRDEF_CLASSES
#include "dialects/Hybrid/IR/HybridAttrs.h.inc"

#define GET_TYPEDEF_CLASSES
#include "dialects/Hybrid/IR/HybridOpsTypes.h.inc"

#endif // HYBRIDC_DIALECTS_HYBRID_IR_HYBRIDDIALECT_H
