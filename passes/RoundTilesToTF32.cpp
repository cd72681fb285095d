//===- RoundTilesToTF32.cpp - the CPU's tensor-core tiles in tf32 ---------===//
//
// hybrid-round-tiles-to-tf32: a check of the GPU forms on the CPU, not a
// speed pass. On a GPU every f32 contract tile is a tf32 mma.sync whose
// operands hybrid-mma-tiles-to-nvgpu rounds to tf32 (cvt.rna: 10 bits of
// mantissa, to nearest, ties away from zero); on the CPU the same tiles
// multiply in f32. Rounding their operands here the same way gives the
// CPU the GPU's precision, so a check against the checkpoint's outputs
// shows what tf32 costs a model before a GPU runs it. With split (3xtf32)
// each tile is the three tf32 products hybrid-mma-tiles-to-nvgpu's
// split-tf32 has the GPU compute, so the CPU shows what they recover.
//
//===----------------------------------------------------------------------===//

#include "passes/LoopUtils.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

namespace hybrid {
#define GEN_PASS_DEF_ROUNDTILESTOTF32PASS
#include "passes/Passes.h.inc"
} // namespace hybrid

using namespace mlir;

namespace {
/// Whether tf32 holds every value of `operand` as it is: one widened from
/// a type of at most 16 bits (bf16 tiles, f16 weights).
bool exactInTF32(Value operand) {
  auto widened = operand.getDefiningOp<arith::ExtFOp>();
  return widened &&
         getElementTypeOrSelf(widened.getIn()).getIntOrFloatBitWidth() <= 16;
}

/// `value` (f32 elements) rounded to tf32 as cvt.rna.tf32.f32 does: half
/// of the 13 dropped bits' unit added to the magnitude's bits, then those
/// bits cleared (a carry into the exponent is the next binade, or
/// infinity past the largest). Infinities and NaNs stay as they are. Built
/// where `value` is defined, so that every tile taking it shares it.
Value roundedToTF32(Value value) {
  OpBuilder b(value.getContext());
  b.setInsertionPointAfterValue(value);
  Location loc = value.getLoc();
  Type bitsType = b.getI32Type();
  if (auto vector = dyn_cast<VectorType>(value.getType()))
    bitsType = vector.clone(bitsType);
  auto constant = [&](uint32_t word) -> Value {
    IntegerAttr scalar = b.getI32IntegerAttr(static_cast<int32_t>(word));
    if (auto shaped = dyn_cast<ShapedType>(bitsType))
      return arith::ConstantOp::create(
          b, loc, DenseElementsAttr::get(shaped, ArrayRef<Attribute>(scalar)));
    return arith::ConstantOp::create(b, loc, scalar);
  };
  Value bits = arith::BitcastOp::create(b, loc, bitsType, value);
  Value finite = hybrid::isFinite(b, loc, bits);
  Value halfUnit = constant(0x1000u);
  Value roundedUp = arith::AddIOp::create(b, loc, bits, halfUnit);
  Value keptBits = constant(0xffffe000u);
  Value rounded = arith::AndIOp::create(b, loc, roundedUp, keptBits);
  return arith::BitcastOp::create(
      b, loc, value.getType(),
      arith::SelectOp::create(b, loc, finite, rounded, bits));
}

/// An f32 tile operand as tf32 values: its rounding (hi) and, unless it is
/// exact in tf32, the rounding of what that leaves (lo = tf32(x - hi); the
/// difference is exact in f32).
struct TF32Parts {
  Value hi, lo;
};

/// The tf32 parts of `operand`, built once where it is defined; `lo` only
/// when asked for (`split`).
TF32Parts partsOf(Value operand, bool split, DenseMap<Value, TF32Parts> &parts) {
  auto [it, first] = parts.try_emplace(operand);
  if (!first)
    return it->second;
  if (exactInTF32(operand))
    return it->second = {operand, Value()};
  Value hi = roundedToTF32(operand);
  Value lo = split ? hybrid::tf32Remainder(operand, hi, roundedToTF32) : Value();
  return it->second = {hi, lo};
}

struct RoundTilesToTF32Pass
    : hybrid::impl::RoundTilesToTF32PassBase<RoundTilesToTF32Pass> {
  using Base::Base;

  void runOnOperation() override {
    SmallVector<vector::ContractionOp> tiles;
    getOperation()->walk([&](vector::ContractionOp contract) {
      if (getElementTypeOrSelf(contract.getLhsType()).isF32() &&
          getElementTypeOrSelf(contract.getRhsType()).isF32() &&
          hybrid::inWarpsLoop(contract))
        tiles.push_back(contract);
    });
    DenseMap<Value, TF32Parts> parts;
    for (vector::ContractionOp tile : tiles) {
      TF32Parts a = partsOf(tile.getLhs(), split, parts);
      TF32Parts b = partsOf(tile.getRhs(), split, parts);
      // 3xtf32: the remainders' products first, each accumulating into
      // the next, so that the largest product is added last.
      OpBuilder builder(tile);
      auto product = [&](Value lhs, Value rhs) {
        auto partial = cast<vector::ContractionOp>(builder.clone(*tile));
        partial.getLhsMutable().assign(lhs);
        partial.getRhsMutable().assign(rhs);
        tile.getAccMutable().assign(partial.getResult());
      };
      if (a.lo)
        product(a.lo, b.hi);
      if (b.lo)
        product(a.hi, b.lo);
      tile.getLhsMutable().assign(a.hi);
      tile.getRhsMutable().assign(b.hi);
    }
  }
};
} // namespace
