//===- LoopUtils.h - iteration spaces of parallel loops ---------*- C++ -*-===//
//
// Shared by the passes that spread an `scf.parallel`'s iterations over
// workgroups (hybrid-form-dispatches) or over a block's threads
// (hybrid-kernels-to-gpu): both number the whole iteration space linearly.
//
//===----------------------------------------------------------------------===//

#ifndef HYBRIDC_PASSES_LOOPUTILS_H
#define HYBRIDC_PASSES_LOOPUTILS_H

#include "mlir/IR/Builders.h"

namespace hybrid {

/// ceil((ub - lb) / step), 0 for an empty range.
mlir::Value tripCount(mlir::OpBuilder &b, mlir::Location loc, mlir::Value lb,
                      mlir::Value ub, mlir::Value step);

/// The induction variables at iteration `linear` of an iteration space of
/// `trips` per dimension, the last dimension fastest (neighbouring
/// iterations take neighbouring columns): lbs[d] + index_d * steps[d].
llvm::SmallVector<mlir::Value>
delinearize(mlir::OpBuilder &b, mlir::Location loc, mlir::Value linear,
            llvm::ArrayRef<mlir::Value> trips, mlir::ValueRange lbs,
            mlir::ValueRange steps);

} // namespace hybrid

#endif // HYBRIDC_PASSES_LOOPUTILS_H
