//===- LoopUtils.cpp - iteration spaces of parallel loops -----------------===//

#include "passes/LoopUtils.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include <functional>
#include <numeric>

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

int64_t hybrid::knownDivisor(Value value, int depth) {
  if (depth > 16)
    return 1;
  if (std::optional<int64_t> constant = getConstantIntValue(value))
    return std::abs(*constant);
  if (auto iv = dyn_cast<BlockArgument>(value)) {
    auto loop = dyn_cast<scf::ForOp>(iv.getOwner()->getParentOp());
    if (loop && loop.getInductionVar() == iv)
      return std::gcd(knownDivisor(loop.getLowerBound(), depth + 1),
                      knownDivisor(loop.getStep(), depth + 1));
    return 1;
  }
  Operation *op = value.getDefiningOp();
  if (isa<arith::AddIOp, arith::SubIOp>(op))
    return std::gcd(knownDivisor(op->getOperand(0), depth + 1),
                    knownDivisor(op->getOperand(1), depth + 1));
  if (isa<arith::MulIOp>(op))
    return knownDivisor(op->getOperand(0), depth + 1) *
           knownDivisor(op->getOperand(1), depth + 1);
  auto apply = dyn_cast<affine::AffineApplyOp>(op);
  if (!apply)
    return 1;
  AffineMap map = apply.getAffineMap();
  std::function<int64_t(AffineExpr)> divisor = [&](AffineExpr e) -> int64_t {
    if (auto c = dyn_cast<AffineConstantExpr>(e))
      return std::abs(c.getValue());
    if (auto d = dyn_cast<AffineDimExpr>(e))
      return knownDivisor(apply.getOperand(d.getPosition()), depth + 1);
    if (auto sym = dyn_cast<AffineSymbolExpr>(e))
      return knownDivisor(
          apply.getOperand(map.getNumDims() + sym.getPosition()), depth + 1);
    auto binary = cast<AffineBinaryOpExpr>(e);
    int64_t l = divisor(binary.getLHS()), r = divisor(binary.getRHS());
    switch (e.getKind()) {
    case AffineExprKind::Add:
      return std::gcd(l, r);
    case AffineExprKind::Mul:
      return l * r;
    case AffineExprKind::Mod: // a - c * floor(a / c)
      return std::gcd(l, r);
    default:
      return 1;
    }
  };
  return divisor(map.getResult(0));
}

bool hybrid::inWarpsLoop(Operation *op) {
  for (Operation *parent = op->getParentOp(); parent;
       parent = parent->getParentOp())
    if (isa<scf::ParallelOp>(parent) && parent->hasAttr(kWarpsAttr))
      return true;
  return false;
}

Value hybrid::isFinite(OpBuilder &b, Location loc, Value value) {
  Type bitsType = b.getI32Type();
  if (auto vector = dyn_cast<VectorType>(value.getType()))
    bitsType = vector.clone(bitsType);
  TypedAttr exponentBits = b.getI32IntegerAttr(0x7f800000);
  if (auto shaped = dyn_cast<ShapedType>(bitsType))
    exponentBits = DenseElementsAttr::get(shaped, ArrayRef<Attribute>(exponentBits));
  Value mask = arith::ConstantOp::create(b, loc, exponentBits);
  Value bits = value.getType() == bitsType
                   ? value
                   : arith::BitcastOp::create(b, loc, bitsType, value).getResult();
  return arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ne,
                               arith::AndIOp::create(b, loc, bits, mask), mask);
}

Value hybrid::tf32Remainder(Value value, Value hi,
                            function_ref<Value(Value)> roundToTF32) {
  OpBuilder b(hi.getContext());
  b.setInsertionPointAfterValue(hi);
  Location loc = hi.getLoc();
  Value rest = arith::SubFOp::create(b, loc, value, hi);
  Value rounded = roundToTF32(rest);
  b.setInsertionPointAfterValue(rounded);
  Value zero = arith::ConstantOp::create(b, loc, b.getZeroAttr(rest.getType()));
  return arith::SelectOp::create(b, loc, isFinite(b, loc, rest), rounded, zero);
}

bool hybrid::onlyComputesAndPrefetches(Operation *op) {
  return !op->walk([](Operation *inner) {
              if (isa<memref::PrefetchOp>(inner) ||
                  inner->hasTrait<OpTrait::HasRecursiveMemoryEffects>() ||
                  isMemoryEffectFree(inner))
                return WalkResult::advance();
              return WalkResult::interrupt();
            }).wasInterrupted();
}
