//===- LoopUtils.cpp - iteration spaces of parallel loops -----------------===//

#include "passes/LoopUtils.h"

#include "mlir/Dialect/Arith/IR/Arith.h"

using namespace mlir;

Value hybrid::tripCount(OpBuilder &b, Location loc, Value lb, Value ub,
                        Value step) {
  Value zero = arith::ConstantIndexOp::create(b, loc, 0);
  Value span = arith::MaxSIOp::create(
      b, loc, arith::SubIOp::create(b, loc, ub, lb), zero);
  return arith::CeilDivUIOp::create(b, loc, span, step);
}

SmallVector<Value> hybrid::delinearize(OpBuilder &b, Location loc,
                                       Value linear, ArrayRef<Value> trips,
                                       ValueRange lbs, ValueRange steps) {
  SmallVector<Value> ivs(trips.size());
  Value rest = linear;
  for (int64_t d = static_cast<int64_t>(trips.size()) - 1; d >= 0; --d) {
    Value index =
        d == 0 ? rest
               : arith::RemUIOp::create(b, loc, rest, trips[d]).getResult();
    if (d > 0)
      rest = arith::DivUIOp::create(b, loc, rest, trips[d]);
    ivs[d] = arith::AddIOp::create(
        b, loc, lbs[d], arith::MulIOp::create(b, loc, index, steps[d]));
  }
  return ivs;
}
