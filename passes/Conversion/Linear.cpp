//===- Linear.cpp - linear layers in the forms the target takes -*- C++ -*-===//
//
// convert-hybrid-to-linalg's linear layers (y = x w^T) in every form a
// target takes: the CPU's packed panels and dot products, the GPU forms'
// column, GEMV and tensor-core (mma.sync, wgmma) workgroups; the SwiGLU
// pair. The grouped experts (MoE.cpp) reuse their pieces (LinearForms.h).
//
//===----------------------------------------------------------------------===//

#include "passes/Conversion/LinearForms.h"

#include "dialects/Hybrid/IR/HybridOps.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Dialect/X86Vector/X86VectorDialect.h"
#include "mlir/IR/AffineMap.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"

#include <limits>

using namespace mlir;
using namespace hybrid;

namespace hybrid::lowering {

Value readRounded(OpBuilder &b, Location loc, Value x, ValueRange at,
                  Type roundTo) {
  Value value = tensor::ExtractOp::create(b, loc, x, at);
  if (roundTo && roundTo.getIntOrFloatBitWidth() <
                     value.getType().getIntOrFloatBitWidth())
    value = arith::TruncFOp::create(b, loc, roundTo, value);
  return toF32(b, loc, value);
}

/// A linear layer's register tile: kTileTokens tokens x kTileOutputs
/// outputs, with kLanes-wide vectors along the reduction (see `linear`).
constexpr int64_t kTileTokens = 4, kTileOutputs = 4, kLanes = 8;

/// sum_{i in [from, in)} x[t, i] * w[o, i] + init, as a scalar loop.
Value scalarDot(OpBuilder &b, Location loc, Value x, const RowMajorWeight &w,
                Value t, Value o, Value from, Value to, Value init) {
  auto fastmath = arith::FastMathFlagsAttr::get(b.getContext(), kDotMath);
  Value one = arith::ConstantIndexOp::create(b, loc, 1);
  return scf::ForOp::create(
             b, loc, from, to, one, ValueRange{init},
             [&](OpBuilder &fb, Location fl, Value i, ValueRange acc) {
               Value xv = tensor::ExtractOp::create(fb, fl, x, ValueRange{t, i});
               Value wv = w.read(fb, fl, ValueRange{o, i}, /*width=*/0);
               Value product = arith::MulFOp::create(fb, fl, xv, wv, fastmath);
               scf::YieldOp::create(
                   fb, fl, arith::AddFOp::create(fb, fl, acc[0], product, fastmath)
                               .getResult());
             })
      .getResult(0);
}


/// The name of a linear layer's kernel stage: its weight's last module
/// (in_proj_qkvz for model.layers.0.linear_attn.in_proj_qkvz.weight), or
/// "linear" for a weight that is not a checkpoint tensor.
std::string weightStage(Value w) {
  StringRef name;
  if (auto generic = w.getDefiningOp<linalg::GenericOp>();
      generic && generic->hasAttr(kDequantizedBlockAttr))
    w = generic.getDpsInputs()[0];
  if (auto arg = dyn_cast<BlockArgument>(w)) {
    if (auto func = dyn_cast<func::FuncOp>(arg.getOwner()->getParentOp()))
      if (auto attr = func.getArgAttrOfType<StringAttr>(arg.getArgNumber(),
                                                        "hybrid.weight"))
        name = attr.getValue();
  } else if (auto weight = w.getDefiningOp<WeightOp>()) {
    name = weight.getName();
  }
  name.consume_back(".weight");
  name = name.rsplit('.').second.empty() ? name : name.rsplit('.').second;
  return name.empty() ? "linear" : name.str();
}



/// Token tiles of the mma form's workgroups for linear layers of `weights`
/// weights sharing x: the block reuses each staged weight row for 64
/// tokens, 32 for a pair (gate and up), which keeps a warp's accumulators
/// to 16 tiles (64 registers).
constexpr int64_t mmaLinearRowTiles(int64_t weights) {
  return std::max<int64_t>(1, 4 / weights);
}

int64_t mmaExpertRowTiles(const Codegen &codegen) {
  return codegen.warpgroup ? hybrid::kBlockWarps : mmaLinearRowTiles(2);
}

Value decodeFP8E4M3FN(OpBuilder &b, Location loc, Value raw) {
  auto vector = dyn_cast<VectorType>(raw.getType());
  auto like = [&](Type element) -> Type {
    return vector ? VectorType::get(vector.getShape(), element) : element;
  };
  Type i32 = like(b.getI32Type()), f32 = like(b.getF32Type());
  auto constant = [&](Type type, TypedAttr value) -> Value {
    if (vector)
      return arith::ConstantOp::create(
          b, loc, type, DenseElementsAttr::get(cast<ShapedType>(type), value));
    return arith::ConstantOp::create(b, loc, type, value);
  };
  auto bitsOf = [&](int64_t v) { return constant(i32, b.getI32IntegerAttr(v)); };
  Value bits = arith::ExtSIOp::create(
      b, loc, i32, arith::BitcastOp::create(b, loc, like(b.getI8Type()), raw));
  Value shifted = arith::ShLIOp::create(b, loc, bits, bitsOf(20));
  Value placed = arith::AndIOp::create(
      b, loc, shifted, bitsOf(static_cast<int32_t>(0x87F00000u)));
  Value scaledDown = arith::BitcastOp::create(b, loc, f32, placed);
  Value value = arith::MulFOp::create(
      b, loc, scaledDown, constant(f32, b.getF32FloatAttr(std::ldexp(1.0f, 120))));
  Value magnitude = arith::AndIOp::create(b, loc, placed, bitsOf(0x7FF00000));
  Value nan = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, magnitude,
                                    bitsOf(0x07F00000));
  return arith::SelectOp::create(
      b, loc, nan,
      constant(f32, b.getF32FloatAttr(std::numeric_limits<float>::quiet_NaN())),
      value);
}

/// decode(raw) * scale, rounded to `element` as the dequantized weight is,
/// as f32: `raw` fp8 bits (or a vector of them), `scale` the block's f32.
Value dequantizeFP8(OpBuilder &b, Location loc, Value raw, Value scale,
                    Type element) {
  Value decoded = decodeFP8E4M3FN(b, loc, raw);
  Type f32 = decoded.getType();
  if (auto vector = dyn_cast<VectorType>(f32))
    scale = vector::BroadcastOp::create(b, loc, vector, scale);
  Value w = arith::MulFOp::create(b, loc, decoded, scale);
  if (element.isF32())
    return w;
  Type rounded = isa<VectorType>(f32)
                     ? Type(VectorType::get(cast<VectorType>(f32).getShape(), element))
                     : element;
  Value narrow = arith::TruncFOp::create(b, loc, rounded, w);
  return arith::ExtFOp::create(b, loc, f32, narrow);
}

/// The width-`width` vector (a scalar for 0) of `data` at `at`, as stored.
Value readStored(OpBuilder &b, Location loc, Value data, ValueRange at,
                 int64_t width) {
  if (!width)
    return tensor::ExtractOp::create(b, loc, data, at);
  Type raw = cast<ShapedType>(data.getType()).getElementType();
  Value pad = arith::ConstantOp::create(b, loc, raw, b.getFloatAttr(raw, 0.0));
  return vector::TransferReadOp::create(b, loc, VectorType::get({width}, raw), data,
                                        at, pad, ArrayRef<bool>{true});
}

RowMajorWeight RowMajorWeight::of(Value w, int64_t width) {
  RowMajorWeight weight{w, {}, 0, 0, cast<ShapedType>(w.getType()).getElementType()};
  auto generic = w.getDefiningOp<linalg::GenericOp>();
  auto block = generic ? generic->getAttrOfType<DenseI64ArrayAttr>(kDequantizedBlockAttr)
                       : DenseI64ArrayAttr();
  if (!block || block[1] % std::max<int64_t>(width, 1) != 0)
    return weight;
  weight.data = generic.getDpsInputs()[0];
  weight.scale = generic.getDpsInputs()[1];
  weight.blockRows = block[0];
  weight.blockCols = block[1];
  return weight;
}

Value RowMajorWeight::read(OpBuilder &b, Location loc, ValueRange at,
                           int64_t width) const {
  size_t n = at.size();
  return readScaled(b, loc, at, width, n - 2, at[n - 2], at[n - 1]);
}

Value RowMajorWeight::readScaled(OpBuilder &b, Location loc, ValueRange at,
                                 int64_t width, size_t lead, Value row,
                                 Value k) const {
  Value raw = readStored(b, loc, data, at, width);
  if (!scale)
    return toF32(b, loc, raw);
  return dequantizeFP8(b, loc, raw, blockScale(b, loc, at, lead, row, k), element);
}

Value RowMajorWeight::blockScale(OpBuilder &b, Location loc, ValueRange at, size_t lead,
                                 Value row, Value k) const {
  auto index = [&](int64_t c) -> Value {
    return arith::ConstantIndexOp::create(b, loc, c);
  };
  SmallVector<Value> scaleAt(at.take_front(lead));
  scaleAt.push_back(arith::DivUIOp::create(b, loc, row, index(blockRows)));
  scaleAt.push_back(arith::DivUIOp::create(b, loc, k, index(blockCols)));
  return tensor::ExtractOp::create(b, loc, scale, scaleAt);
}


/// fp8 panel rows decoded in 16-bit lanes: the byte sign-extended, shifted
/// and masked as decodeFP8E4M3FN does in 32 bits gives the bf16 of the
/// value times 2^-120 (bf16 has f32's exponent), two weights per 32-bit
/// lane. Each 32-bit lane's low and high halves are then f32s by one shift
/// or one mask, for the scale's product: even lanes, then odd. Rounding to
/// bf16 is one conversion of both halves into one vector, whose halves are
/// split again: the panel comes out in the order panelLanes() gives, in
/// about 34 instructions per 64 weights (AVX-512) instead of read()'s 43
/// (decode, one token: fp8 weights were read at less than half of bf16's
/// bytes/s).
SmallVector<int64_t> PackedWeight::panelLanes() const {
  int64_t n = panel();
  bool rounds = element.isBF16() || element.isF32();
  if (!scale || !rounds || n % 4 != 0)
    return {};
  // Even lanes, then odd ones: the 16-bit split.
  SmallVector<int64_t> lanes;
  for (int64_t parity : {0, 1})
    for (int64_t q = parity; q < n; q += 2)
      lanes.push_back(q);
  if (element.isF32())
    return lanes;
  // The bf16 rounding's split of those, the same way.
  SmallVector<int64_t> rounded;
  for (int64_t parity : {0, 1})
    for (int64_t q = parity; q < n; q += 2)
      rounded.push_back(lanes[q]);
  return rounded;
}

/// The low and high 16 bits of each 32-bit lane of `halves` (a vector of
/// i16, twice as many lanes as the result) as f32s: vector<n/2 x f32>
/// each, even lanes then odd lanes of `halves`.
static std::pair<Value, Value> splitHalves(OpBuilder &b, Location loc, Value halves) {
  int64_t n = cast<VectorType>(halves.getType()).getDimSize(0);
  auto i32s = VectorType::get({n / 2}, b.getI32Type());
  auto f32s = VectorType::get({n / 2}, b.getF32Type());
  auto splat = [&](int64_t v) -> Value {
    return arith::ConstantOp::create(
        b, loc, i32s,
        DenseElementsAttr::get(i32s, b.getI32IntegerAttr(static_cast<int32_t>(v))));
  };
  Value words = vector::BitCastOp::create(b, loc, i32s, halves);
  Value low = arith::ShLIOp::create(b, loc, words, splat(16));
  Value high = arith::AndIOp::create(b, loc, words, splat(0xFFFF0000u));
  return {arith::BitcastOp::create(b, loc, f32s, low),
          arith::BitcastOp::create(b, loc, f32s, high)};
}

Value PackedWeight::readPanel(OpBuilder &b, Location loc, ValueRange at) const {
  int64_t n = panel();
  if (panelLanes().empty())
    return read(b, loc, at, n);
  auto vector = [&](Type element) { return VectorType::get({n}, element); };
  auto splat16 = [&](int64_t v) -> Value {
    auto type = vector(b.getI16Type());
    return arith::ConstantOp::create(
        b, loc, type,
        DenseElementsAttr::get(type, b.getI16IntegerAttr(static_cast<int16_t>(v))));
  };
  Value raw = arith::BitcastOp::create(b, loc, vector(b.getI8Type()),
                                       readStored(b, loc, data, at, n));
  Value bits = arith::ExtSIOp::create(b, loc, vector(b.getI16Type()), raw);
  Value placed = arith::AndIOp::create(
      b, loc, arith::ShLIOp::create(b, loc, bits, splat16(4)), splat16(0x87F0));
  // S.1111.111 is NaN: the byte's low 7 bits all set.
  auto bytes = vector(b.getI8Type());
  Value seven = arith::ConstantOp::create(
      b, loc, bytes, DenseElementsAttr::get(bytes, b.getI8IntegerAttr(0x7F)));
  Value nan = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq,
                                    arith::AndIOp::create(b, loc, raw, seven), seven);
  placed = arith::SelectOp::create(b, loc, nan, splat16(0x7FC0), placed);
  // The block's scale, as read()'s. One product with scale * 2^120 where
  // that is finite (|scale| < 2^8, as a checkpoint's are: its blocks'
  // weights below 448 * 2^8), else two, as read() does: either way each
  // weight is rounded once.
  auto half = VectorType::get({n / 2}, b.getF32Type());
  Value s = blockScale(b, loc, at, at.size() - 3, firstRow(b, loc, at), at[at.size() - 2]);
  Value placement = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(std::ldexp(1.0f, 120)));
  Value fits = arith::CmpFOp::create(
      b, loc, arith::CmpFPredicate::OLT, math::AbsFOp::create(b, loc, s),
      arith::ConstantOp::create(b, loc, b.getF32FloatAttr(256.0f)));
  auto [evenPlaced, oddPlaced] = splitHalves(b, loc, placed);
  auto scaled = scf::IfOp::create(
      b, loc, fits,
      [&](OpBuilder &tb, Location tl) {
        Value factor = vector::BroadcastOp::create(
            tb, tl, half, arith::MulFOp::create(tb, tl, s, placement));
        scf::YieldOp::create(tb, tl,
                             ValueRange{arith::MulFOp::create(tb, tl, evenPlaced, factor),
                                        arith::MulFOp::create(tb, tl, oddPlaced, factor)});
      },
      [&](OpBuilder &eb, Location el) {
        Value up = vector::BroadcastOp::create(eb, el, half, placement);
        Value factor = vector::BroadcastOp::create(eb, el, half, s);
        auto twice = [&](Value v) -> Value {
          return arith::MulFOp::create(eb, el, arith::MulFOp::create(eb, el, v, up), factor);
        };
        scf::YieldOp::create(eb, el, ValueRange{twice(evenPlaced), twice(oddPlaced)});
      });
  Value even = scaled.getResult(0), odd = scaled.getResult(1);
  SmallVector<int64_t> concat;
  for (int64_t q = 0; q < n; ++q)
    concat.push_back(q);
  Value both = vector::ShuffleOp::create(b, loc, even, odd, concat);
  if (element.isF32())
    return both;
  // Rounded to bf16 in one conversion, split again as above.
  Value rounded = arith::TruncFOp::create(b, loc, vector(element), both);
  auto [low, high] = splitHalves(
      b, loc, arith::BitcastOp::create(b, loc, vector(b.getI16Type()), rounded));
  return vector::ShuffleOp::create(b, loc, low, high, concat);
}

PanelOrder PanelOrder::of(ArrayRef<PackedWeight> weights) {
  PanelOrder order{weights.front().panelLanes(), {}};
  for (const PackedWeight &w : weights)
    if (w.panelLanes() != order.lanes)
      order.lanes.clear();
  order.inverse.resize(order.lanes.size());
  for (auto [q, lane] : llvm::enumerate(order.lanes))
    order.inverse[lane] = static_cast<int64_t>(q);
  return order;
}

Value PanelOrder::read(OpBuilder &b, Location loc, const PackedWeight &w,
                       ValueRange at) const {
  return lanes.empty() ? w.read(b, loc, at, w.panel()) : w.readPanel(b, loc, at);
}

Value PanelOrder::restore(OpBuilder &b, Location loc, Value sums) const {
  return lanes.empty() ? sums : vector::ShuffleOp::create(b, loc, sums, sums, inverse);
}

PackedWeight packedCopy(OpBuilder &b, const PackableWeight &source, int64_t panel,
                        bool pairs) {
  WeightOp weight = source.weight, scale = source.scale;
  RankedTensorType plain = source.type();
  ArrayRef<int64_t> shape = plain.getShape();
  SmallVector<int64_t> packed(shape.drop_back(2));
  int64_t out = shape[shape.size() - 2], in = shape.back();
  int64_t group = pairs ? 2 : 1;
  packed.append({static_cast<int64_t>(llvm::divideCeil(out, panel)),
                 static_cast<int64_t>(llvm::divideCeil(in, group)), group * panel});
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointAfter(weight);
  Value data = WeightOp::create(
      b, weight.getLoc(), RankedTensorType::get(packed, plain.getElementType()),
      weight.getNameAttr(), weight.getExpertsAttr(), b.getI64IntegerAttr(panel),
      pairs ? b.getUnitAttr() : UnitAttr());
  return {{data, scale ? scale.getResult() : Value(), source.blockRows,
           source.blockCols, source.element},
          pairs};
}

Value PackedWeight::readPairs(OpBuilder &b, Location loc, ValueRange at) const {
  assert(pairs && "a weight in pairs");
  return readStored(b, loc, data, at, 2 * panel());
}

bool bf16PairsFit(const Codegen &codegen, ArrayRef<PackableWeight> weights) {
  return codegen.bf16Dot &&
         llvm::all_of(weights, [](const PackableWeight &w) {
           return !w.scale && w.type().getElementType().isBF16() &&
                  w.type().getShape().back() % 2 == 0;
         });
}

Value bf16Input(OpBuilder &b, Location loc, Value x, StringRef stage) {
  ImplicitLocOpBuilder ib(loc, b);
  LoopNest loops{ib};
  constexpr int64_t lanes = 16;
  int64_t in = cast<RankedTensorType>(x.getType()).getDimSize(1);
  Type bf16 = ib.getBF16Type();
  Value tokens = tensor::DimOp::create(ib, x, 0);
  Value rounded = memref::AllocOp::create(
      ib, MemRefType::get({ShapedType::kDynamic, in}, bf16), ValueRange{tokens});
  Value fewerThanATile = arith::CmpIOp::create(ib, arith::CmpIPredicate::ult, tokens,
                                               loops.index(kPackedTokens));
  Value rows = arith::SelectOp::create(ib, fewerThanATile, loops.index(0), tokens);
  // A workgroup per row, 16 inputs a conversion.
  loops.parallel((stage + "_bf16_input").str(), {rows}, [&](ValueRange ivs) {
    auto convert = [&](Value k, bool inBounds) {
      Value v = vector::TransferReadOp::create(
          ib, VectorType::get({lanes}, ib.getF32Type()), x, ValueRange{ivs[0], k},
          loops.f32(0.0), ArrayRef<bool>{inBounds});
      vector::TransferWriteOp::create(
          ib, arith::TruncFOp::create(ib, VectorType::get({lanes}, bf16), v),
          rounded, ValueRange{ivs[0], k}, ArrayRef<bool>{inBounds});
    };
    int64_t whole = in - in % lanes;
    loops.forLoop(loops.index(0), loops.index(whole), {}, [&](Value k, ValueRange) {
      convert(k, true);
      return SmallVector<Value>{};
    }, lanes);
    if (whole < in)
      convert(loops.index(whole), false);
  });
  return rounded;
}

Value pairSplat(OpBuilder &b, Location loc, Value xb, ValueRange row, Value i) {
  SmallVector<Value> at(row);
  at.push_back(arith::MulIOp::create(b, loc, i, arith::ConstantIndexOp::create(b, loc, 2)));
  Value pair = readStored(b, loc, xb, at, 2);
  auto bf16Pair = VectorType::get({2}, b.getBF16Type());
  if (pair.getType() != bf16Pair)
    pair = arith::TruncFOp::create(b, loc, bf16Pair, pair);
  Value word = vector::BitCastOp::create(
      b, loc, VectorType::get({1}, b.getI32Type()), pair);
  Value words = vector::BroadcastOp::create(
      b, loc, VectorType::get({16}, b.getI32Type()), word);
  return vector::BitCastOp::create(b, loc, VectorType::get({32}, b.getBF16Type()),
                                   words);
}

/// acc + x * panel: one broadcast FMA for an f32 input `x` and a
/// vector<panel x f32>; for a pair of bf16 inputs (pairSplat) and a panel
/// row in pairs (readPairs), a dot product per 16 of acc's lanes, or with
/// `widen` the pair's halves as f32 (a shift, a mask) and two FMAs: for a
/// single row, which streams its weights from memory (decode), the dot
/// product's twice the arithmetic per instruction does not matter, and a C
/// loop over 64 MB of panels in pairs read them at 20-22 GB/s so, 19-21
/// with the dot product (AMD EPYC VM, one thread). The FMAs take the pair's
/// second input first, as the dot product adds its products (each exact
/// in f32): the same sums bit for bit in every tile shape, but for
/// denormals, which the dot product takes and gives as zero.
static Value multiplyAdd(OpBuilder &b, Location loc, Value x, Value panel,
                         Value acc, bool widen) {
  auto accType = cast<VectorType>(acc.getType());
  if (!isa<VectorType>(x.getType())) {
    Value splat = vector::BroadcastOp::create(b, loc, accType, x);
    return vector::FMAOp::create(b, loc, splat, panel, acc);
  }
  constexpr int64_t lanes = 16;
  auto words = VectorType::get({lanes}, b.getI32Type());
  auto floats = VectorType::get({lanes}, b.getF32Type());
  auto wordSplat = [&](uint32_t v) -> Value {
    return arith::ConstantOp::create(
        b, loc, words, DenseElementsAttr::get(words, b.getI32IntegerAttr(v)));
  };
  // A 32-bit lane's two bf16 as f32: the low one shifted up, the high one
  // with the low bits cleared.
  auto halves = [&](Value pairs) -> std::pair<Value, Value> {
    Value w = vector::BitCastOp::create(b, loc, words, pairs);
    return {vector::BitCastOp::create(
                b, loc, floats, arith::ShLIOp::create(b, loc, w, wordSplat(16))),
            vector::BitCastOp::create(
                b, loc, floats, arith::AndIOp::create(b, loc, w, wordSplat(0xffff0000u)))};
  };
  std::pair<Value, Value> xHalves = widen ? halves(x) : std::pair<Value, Value>{};
  auto step = [&](Value part, Value weights) -> Value {
    if (!widen)
      return x86vector::DotBF16Op::create(b, loc, floats, part, x, weights);
    auto [first, second] = halves(weights);
    part = vector::FMAOp::create(b, loc, xHalves.second, second, part);
    return vector::FMAOp::create(b, loc, xHalves.first, first, part);
  };
  if (accType.getNumElements() == lanes)
    return step(acc, panel);
  for (int64_t at = 0; at < accType.getNumElements(); at += lanes) {
    Value part = vector::ExtractStridedSliceOp::create(
        b, loc, acc, ArrayRef<int64_t>{at}, ArrayRef<int64_t>{lanes},
        ArrayRef<int64_t>{1});
    Value weights = vector::ExtractStridedSliceOp::create(
        b, loc, panel, ArrayRef<int64_t>{2 * at}, ArrayRef<int64_t>{2 * lanes},
        ArrayRef<int64_t>{1});
    acc = vector::InsertStridedSliceOp::create(b, loc, step(part, weights), acc,
                                               ArrayRef<int64_t>{at},
                                               ArrayRef<int64_t>{1});
  }
  return acc;
}

Value dotPairs(OpBuilder &b, Location loc, Value pairs, Value row, Value acc) {
  return multiplyAdd(b, loc, pairs, row, acc, /*widen=*/false);
}

std::optional<PackableWeight> packableSource(const Codegen &codegen, Value w,
                                             bool experts) {
  if (codegen.panel <= 0)
    return std::nullopt;
  PackableWeight source;
  source.element = cast<ShapedType>(w.getType()).getElementType();
  if (auto generic = w.getDefiningOp<linalg::GenericOp>()) {
    auto block = generic->getAttrOfType<DenseI64ArrayAttr>(kDequantizedBlockAttr);
    if (!block || block[0] % codegen.panel != 0)
      return std::nullopt;
    source.scale = generic.getDpsInputs()[1].getDefiningOp<WeightOp>();
    source.blockRows = block[0];
    source.blockCols = block[1];
    w = generic.getDpsInputs()[0];
    if (!source.scale || source.scale.getPacked())
      return std::nullopt;
  }
  source.weight = w.getDefiningOp<WeightOp>();
  if (!source.weight || source.weight.getPacked() ||
      bool(source.weight.getExperts()) != experts)
    return std::nullopt;
  return source;
}


/// Runs `tileOf` on the rows of token tile `tileIndex` (tiles of
/// `tileTokens` of the call's tokens from `start` (0 when null) to `tokens`):
/// on all of them at once when the tile is full, else on one row at a time
/// (the ragged last tile, and decode's single token).
void forTileRows(
    OpBuilder &pb, Location pl, int64_t tileTokens, Value tileIndex,
    Value tokens,
    function_ref<void(OpBuilder &, Location, ArrayRef<Value>)> tileOf,
    Value start = {}) {
  auto index = [&](OpBuilder &ib, int64_t v) -> Value {
    return arith::ConstantIndexOp::create(ib, pl, v);
  };
  Value tile = index(pb, tileTokens), one = index(pb, 1);
  Value t0 = arith::MulIOp::create(pb, pl, tileIndex, tile);
  if (start)
    t0 = arith::AddIOp::create(pb, pl, t0, start);
  Value tEnd = arith::MinUIOp::create(
      pb, pl, arith::AddIOp::create(pb, pl, t0, tile), tokens);
  Value full = arith::CmpIOp::create(pb, pl, arith::CmpIPredicate::eq,
                                     arith::SubIOp::create(pb, pl, tEnd, t0), tile);
  scf::IfOp::create(
      pb, pl, full,
      [&](OpBuilder &fb, Location fl) {
        SmallVector<Value> rows;
        for (int64_t m = 0; m < tileTokens; ++m)
          rows.push_back(arith::AddIOp::create(fb, fl, t0, index(fb, m)));
        tileOf(fb, fl, rows);
        scf::YieldOp::create(fb, fl);
      },
      [&](OpBuilder &eb, Location el) {
        scf::ForOp::create(eb, el, t0, tEnd, one, ValueRange{},
                           [&](OpBuilder &tb, Location tl, Value t, ValueRange) {
                             tileOf(tb, tl, {t});
                             scf::YieldOp::create(tb, tl);
                           });
        scf::YieldOp::create(eb, el);
      });
}

SmallVector<Value> panelProducts(ImplicitLocOpBuilder &b, const PanelOrder &order,
                                 int64_t rowCount, int64_t weights, ValueRange init,
                                 Value kBegin, Value kEnd,
                                 function_ref<Value(Value, int64_t)> panelAt,
                                 function_ref<Value(int64_t, Value)> xAt,
                                 function_ref<ParkedSums(int64_t)> parkAt) {
  // The loop over k of the weights `ws`, accumulators row-major over them.
  auto productsOf = [&](ArrayRef<int64_t> ws, ValueRange accInit) {
    return scf::ForOp::create(
        b, kBegin, kEnd, arith::ConstantIndexOp::create(b, 1), accInit,
        [&](OpBuilder &lb, Location, Value k, ValueRange accs) {
          OpBuilder::InsertionGuard guard(b);
          b.setInsertionPoint(lb.getInsertionBlock(), lb.getInsertionPoint());
          SmallVector<Value> panels;
          for (int64_t w : ws)
            panels.push_back(panelAt(k, w));
          SmallVector<Value> next;
          for (int64_t m = 0; m < rowCount; ++m) {
            Value x = xAt(m, k);
            for (auto [i, panel] : llvm::enumerate(panels))
              next.push_back(multiplyAdd(b, b.getLoc(), x, panel,
                                         accs[m * ws.size() + i],
                                         /*widen=*/rowCount == 1));
          }
          scf::YieldOp::create(b, next);
        });
  };
  auto restored = [&](ValueRange sums) {
    return llvm::to_vector(llvm::map_range(
        sums, [&](Value sum) { return order.restore(b, b.getLoc(), sum); }));
  };
  auto all = llvm::to_vector(llvm::seq<int64_t>(0, weights));
  if (rowCount * weights <= kPackedTokens)
    return restored(productsOf(all, init).getResults());
  // Past the register tile (kPackedTokens x one panel: 24 of AVX-512's 32
  // registers), a loop per weight. With all of a tile's weights in one
  // loop LLVM kept accumulators in memory, a load and a store per input (3
  // tokens x gate and up ran at half the FMA rate of 6 tokens x one
  // weight); so it did where a weight's finished sums stayed values across
  // the next weight's loop. They wait in the caller's memory instead
  // (where LLVM forwards them anyway, as in the dense SwiGLU kernel, two of
  // the second loop's accumulators still spill: measured no slower).
  assert(parkAt && "a tile of a loop per weight parks the first one's sums");
  auto vf32 = cast<VectorType>(init.front().getType());
  Value padding = f32Constant(b, b.getLoc(), 0.0);
  SmallVector<Value> sums(init.begin(), init.end());
  for (int64_t w : all) {
    SmallVector<Value> accInit;
    for (int64_t m = 0; m < rowCount; ++m)
      accInit.push_back(init[m * weights + w]);
    auto rowSums = restored(productsOf({w}, accInit).getResults());
    for (int64_t m = 0; m < rowCount; ++m) {
      sums[m * weights + w] = rowSums[m];
      if (w == 0) {
        ParkedSums parked = parkAt(m);
        vector::TransferWriteOp::create(b, rowSums[m], parked.buffer, parked.at,
                                        ArrayRef<bool>{parked.inBounds});
      }
    }
  }
  for (int64_t m = 0; m < rowCount; ++m) {
    ParkedSums parked = parkAt(m);
    sums[m * weights] = vector::TransferReadOp::create(
        b, vf32, parked.buffer, parked.at, padding, ArrayRef<bool>{parked.inBounds});
  }
  return sums;
}

void packedWorkgroup(OpBuilder &pb, Location pl, int64_t panel, Value x,
                     ArrayRef<PackedWeight> packed, int64_t out, int64_t in,
                     int64_t tileTokens, Value tokens, Value y,
                     PanelEpilogue epilogue, Value p, Value tileIndex,
                     Value rounded) {
  Type f32 = pb.getF32Type();
  auto vf32 = VectorType::get({panel}, f32);
  auto index = [&](OpBuilder &ib, int64_t v) -> Value {
    return arith::ConstantIndexOp::create(ib, pl, v);
  };
  Value o0 = arith::MulIOp::create(pb, pl, p, index(pb, panel));
  Value vzero = arith::ConstantOp::create(
      pb, pl, vf32, DenseElementsAttr::get(vf32, pb.getF32FloatAttr(0.0)));
  // fp8 panels in readPanel's lane order, put back in order once per row
  // before the epilogue.
  PanelOrder order = PanelOrder::of(packed);
  // Weights in pairs take x in bf16, two inputs a step.
  bool pairs = packed.front().pairs;
  assert((!pairs || rounded) && "weights in pairs read the full tiles' x rounded");
  // Accumulators of rows `rows` (row-major over weights) over all inputs,
  // combined and stored to y.
  auto tileOf = [&](OpBuilder &tb, Location tl, ArrayRef<Value> rows) {
    size_t perRow = packed.size();
    SmallVector<Value> init(rows.size() * perRow, vzero);
    ImplicitLocOpBuilder ib(tl, tb);
    auto sums = panelProducts(
        ib, order, rows.size(), perRow, init, index(tb, 0),
        index(tb, pairs ? in / 2 : in),
        [&](Value k, int64_t w) {
          if (pairs)
            return packed[w].readPairs(ib, tl, ValueRange{p, k, index(ib, 0)});
          return order.read(ib, tl, packed[w], ValueRange{p, k, index(ib, 0)});
        },
        [&](int64_t m, Value k) -> Value {
          if (pairs)
            return pairSplat(ib, tl, rows.size() == 1 ? x : rounded, {rows[m]}, k);
          return tensor::ExtractOp::create(ib, x, ValueRange{rows[m], k});
        },
        [&](int64_t m) -> ParkedSums {
          // The row's output (SwiGLU's gate waits where the product goes).
          return {y, {rows[m], o0}, out % panel == 0};
        });
    for (auto [r, row] : llvm::enumerate(rows)) {
      Value result = epilogue(tb, tl, ArrayRef(sums).slice(r * perRow, perRow));
      vector::TransferWriteOp::create(tb, tl, result, y, ValueRange{row, o0},
                                      ArrayRef<bool>{out % panel == 0});
    }
  };
  forTileRows(pb, pl, tileTokens, tileIndex, tokens, tileOf);
}


/// Inputs per chunk of a staged panel (stagedPanelRows): a chunk of a
/// panel of 64 bf16 weights is 16 KiB, read from L1 by every tile.
constexpr int64_t kStageDepth = 128;

void stagedPanelRows(ImplicitLocOpBuilder &b, LoopNest &loops,
                     ArrayRef<PackedWeight> packed, ValueRange lead, Value p,
                     int64_t in, int64_t tileTokens, Value stage, Value sums,
                     Value first, Value end, RowInputs inputsOf,
                     function_ref<void(Value, ValueRange)> finish) {
  int64_t panel = packed.front().panel();
  Type element = packed.front().element;
  auto vf32 = VectorType::get({panel}, b.getF32Type());
  auto stored = VectorType::get({panel}, element);
  Value zero = loops.index(0), depth = loops.index(kStageDepth);
  auto sumAt = [&](Value row, size_t w) -> SmallVector<Value> {
    return {arith::SubIOp::create(b, row, first), loops.index(w), zero};
  };
  auto readSums = [&](Value row) {
    SmallVector<Value> values;
    for (size_t w = 0; w < packed.size(); ++w)
      values.push_back(vector::TransferReadOp::create(
          b, vf32, sums, sumAt(row, w), loops.f32(0.0), ArrayRef<bool>{true}));
    return values;
  };
  auto writeSums = [&](Value row, ValueRange values) {
    for (auto [w, value] : llvm::enumerate(values))
      vector::TransferWriteOp::create(b, value, sums, sumAt(row, w),
                                      ArrayRef<bool>{true});
  };
  Value vzero = arith::ConstantOp::create(
      b, vf32, DenseElementsAttr::get(vf32, b.getF32FloatAttr(0.0)));
  loops.forLoop(first, end, {}, [&](Value row, ValueRange) {
    writeSums(row, SmallVector<Value>(packed.size(), vzero));
    return SmallVector<Value>{};
  });
  Value chunks = loops.index(llvm::divideCeil(in, kStageDepth));
  loops.forLoop(zero, chunks, {}, [&](Value chunk, ValueRange) {
    Value k0 = arith::MulIOp::create(b, chunk, depth);
    Value k1 = arith::MinUIOp::create(b, arith::AddIOp::create(b, k0, depth),
                                      loops.index(in));
    loops.forLoop(k0, k1, {}, [&](Value k, ValueRange) {
      Value local = arith::SubIOp::create(b, k, k0);
      for (auto [w, weight] : llvm::enumerate(packed)) {
        SmallVector<Value> at(lead);
        at.append({p, k, zero});
        Value decoded = weight.read(b, b.getLoc(), at, panel);
        if (decoded.getType() != stored)
          decoded = arith::TruncFOp::create(b, stored, decoded);
        vector::TransferWriteOp::create(b, decoded, stage,
                                        ValueRange{loops.index(w), local, zero},
                                        ArrayRef<bool>{true});
      }
      return SmallVector<Value>{};
    });
    loops.rowTiles(first, end, tileTokens, [&](ArrayRef<Value> rows) {
      SmallVector<Value> init;
      SmallVector<std::function<Value(Value)>> inputs;
      for (Value row : rows) {
        llvm::append_range(init, readSums(row));
        inputs.push_back(inputsOf(row));
      }
      auto products = panelProducts(
          b, PanelOrder{}, rows.size(), packed.size(), init, k0, k1,
          [&](Value k, int64_t w) {
            Value local = arith::SubIOp::create(b, k, k0);
            return toF32(
                b, b.getLoc(),
                vector::TransferReadOp::create(
                    b, stored, stage, ValueRange{loops.index(w), local, zero},
                    arith::ConstantOp::create(b, element, b.getFloatAttr(element, 0.0)),
                    ArrayRef<bool>{true}));
          },
          [&](int64_t m, Value k) { return inputs[m](k); },
          [&](int64_t m) -> ParkedSums { return {sums, sumAt(rows[m], 0), true}; });
      for (auto [m, row] : llvm::enumerate(rows))
        writeSums(row, ArrayRef(products).slice(m * packed.size(), packed.size()));
    });
    return SmallVector<Value>{};
  });
  loops.forLoop(first, end, {}, [&](Value row, ValueRange) {
    finish(row, readSums(row));
    return SmallVector<Value>{};
  });
}

bool decodedAsRead(ArrayRef<PackedWeight> packed) {
  return llvm::all_of(packed, [&](const PackedWeight &w) {
    return w.scale && w.element == packed.front().element;
  });
}

std::pair<Value, Value> stagedPanelScratch(LoopNest &loops, const PackedWeight &like,
                                           int64_t weights, int64_t tileTokens) {
  int64_t panel = like.panel();
  return {loops.scratch({weights, kStageDepth, panel}, like.element),
          loops.scratch({kStagedTiles * tileTokens, weights, panel},
                        loops.b.getF32Type())};
}

std::pair<Value, Value> stagedGroup(ImplicitLocOpBuilder &b, LoopNest &loops,
                                    Value first, Value limit, int64_t tileTokens) {
  Value end = arith::MinUIOp::create(
      b, arith::AddIOp::create(b, first, loops.index(kStagedTiles * tileTokens)),
      limit);
  Value several = arith::CmpIOp::create(b, arith::CmpIPredicate::ugt,
                                        arith::SubIOp::create(b, end, first),
                                        loops.index(tileTokens));
  return {end, several};
}

/// One workgroup of a packed linear kernel whose weights are decoded as
/// read (fp8): panel `p` for the tokens of group `group` (kStagedTiles tiles
/// of `tileTokens`), staged (stagedPanelRows) when it has more than one
/// tile, else packedWorkgroup's one tile (decode's token). As
/// packedWorkgroup otherwise; `scratch` from stagedPanelScratch.
void stagedWorkgroup(ImplicitLocOpBuilder &b, LoopNest &loops, Value x,
                     ArrayRef<PackedWeight> packed, int64_t out, int64_t in,
                     int64_t tileTokens, Value tokens, Value y,
                     PanelEpilogue epilogue, Value p, Value group,
                     std::pair<Value, Value> scratch) {
  int64_t panel = packed.front().panel();
  Value first =
      arith::MulIOp::create(b, group, loops.index(kStagedTiles * tileTokens));
  auto [end, several] = stagedGroup(b, loops, first, tokens, tileTokens);
  Value o0 = arith::MulIOp::create(b, p, loops.index(panel));
  loops.ifElse(
      several,
      [&] {
        stagedPanelRows(
            b, loops, packed, {}, p, in, tileTokens, scratch.first, scratch.second,
            first, end,
            [&](Value row) -> std::function<Value(Value)> {
              return [&b, x, row](Value k) -> Value {
                return tensor::ExtractOp::create(b, x, ValueRange{row, k});
              };
            },
            [&](Value row, ValueRange sums) {
              vector::TransferWriteOp::create(b, epilogue(b, b.getLoc(), sums), y,
                                              ValueRange{row, o0},
                                              ArrayRef<bool>{out % panel == 0});
            });
      },
      [&] {
        packedWorkgroup(b, b.getLoc(), panel, x, packed, out, in, tileTokens,
                        tokens, y, epilogue, p,
                        arith::MulIOp::create(b, group, loops.index(kStagedTiles)));
      });
}

/// One workgroup of the column form (Codegen::columns): output column `c`
/// of the weights `packed` ([panels, in, panel]) for the tokens
/// of tile `tileIndex` (tiles of `tileTokens` from token `start`, 0 when
/// null), epilogue(accumulators as vector<1>) stored into y[token, c]. Each
/// output is a sum over the inputs in order, as in packedWorkgroup. x is
/// read through `roundTo` when given (readRounded).
void columnWorkgroup(OpBuilder &pb, Location pl, int64_t panel, Value x,
                     Type roundTo, ArrayRef<PackedWeight> packed, int64_t in,
                     int64_t tileTokens, Value tokens, Value y,
                     PanelEpilogue epilogue, Value c, Value tileIndex,
                     Value start = {}) {
  Type f32 = pb.getF32Type();
  auto v1 = VectorType::get({1}, f32);
  auto index = [&](OpBuilder &ib, int64_t v) -> Value {
    return arith::ConstantIndexOp::create(ib, pl, v);
  };
  Value one = index(pb, 1);
  Value p = arith::DivUIOp::create(pb, pl, c, index(pb, panel));
  Value j = arith::RemUIOp::create(pb, pl, c, index(pb, panel));
  Value zero = arith::ConstantOp::create(pb, pl, f32, pb.getF32FloatAttr(0.0));
  auto tileOf = [&](OpBuilder &tb, Location tl, ArrayRef<Value> rows) {
    size_t perRow = packed.size();
    SmallVector<Value> init(rows.size() * perRow, zero);
    auto loop = scf::ForOp::create(
        tb, tl, index(tb, 0), index(tb, in), one, init,
        [&](OpBuilder &lb, Location ll, Value k, ValueRange accs) {
          SmallVector<Value> weightsAtK;
          for (const PackedWeight &w : packed)
            weightsAtK.push_back(w.read(lb, ll, ValueRange{p, k, j}, 0));
          SmallVector<Value> next;
          for (auto [r, row] : llvm::enumerate(rows)) {
            Value a = readRounded(lb, ll, x, ValueRange{row, k}, roundTo);
            for (auto [wi, wv] : llvm::enumerate(weightsAtK))
              next.push_back(
                  math::FmaOp::create(lb, ll, a, wv, accs[r * perRow + wi]));
          }
          scf::YieldOp::create(lb, ll, next);
        });
    for (auto [r, row] : llvm::enumerate(rows)) {
      SmallVector<Value> asVectors;
      for (Value acc : loop.getResults().slice(r * perRow, perRow))
        asVectors.push_back(vector::BroadcastOp::create(tb, tl, v1, acc));
      Value result = epilogue(tb, tl, asVectors);
      memref::StoreOp::create(
          tb, tl, vector::ExtractOp::create(tb, tl, result, ArrayRef<int64_t>{0}),
          y, ValueRange{row, c});
    }
  };
  forTileRows(pb, pl, tileTokens, tileIndex, tokens, tileOf, start);
}

/// Runs `run(builder, i, local)` for the member i whose units [first[i],
/// first[i] + count[i]) hold `unit`, `local` = unit - first[i]: a chain of
/// range tests, the last member taken by elimination.
void forUnitOwner(OpBuilder &b, Location loc, Value unit,
                  ArrayRef<int64_t> first, ArrayRef<int64_t> count,
                  function_ref<void(OpBuilder &, size_t, Value)> run) {
  std::function<void(OpBuilder &, size_t)> select = [&](OpBuilder &sb,
                                                        size_t i) {
    auto runMember = [&](OpBuilder &rb) {
      run(rb, i,
          arith::SubIOp::create(rb, loc, unit,
                                arith::ConstantIndexOp::create(rb, loc, first[i])));
    };
    if (i + 1 == first.size()) {
      runMember(sb);
      return;
    }
    Value mine = arith::CmpIOp::create(
        sb, loc, arith::CmpIPredicate::ult, unit,
        arith::ConstantIndexOp::create(sb, loc, first[i] + count[i]));
    scf::IfOp::create(
        sb, loc, mine,
        [&](OpBuilder &tb, Location) {
          runMember(tb);
          scf::YieldOp::create(tb, loc);
        },
        [&](OpBuilder &eb, Location) {
          select(eb, i + 1);
          scf::YieldOp::create(eb, loc);
        });
  };
  select(b, 0);
}

/// The GEMV form of the GPU forms' linear layers (gemvLinears), for calls
/// of at most kGemvRows rows -- decode steps, batches of them, every row
/// past the tensor cores' full tiles: the column form's thread per output
/// walks all the inputs alone, one 2-byte load after another, far too few loads
/// in flight to stream the weights at the memory's bandwidth. Instead each
/// workgroup (a block of kGemvThreads) takes a panel and a split of the
/// inputs: a thread per (slice of the split's inputs, 16 bytes of the
/// panel's row), 16-byte loads; the block sums its slices, and the last of
/// a panel's workgroups to finish sums the splits (lastOfSplits: no second
/// kernel), which are as many as give about kGemvWorkgroups workgroups.
/// A workgroup takes its rows one after another: its slice of the weights
/// stays in L1, and a thread's registers hold one row's sums (a decode
/// step's occupancy).
constexpr int64_t kGemvRows = kMmaTokens - 1, kGemvThreads = 128,
                  kGemvWorkgroups = 512;

std::optional<GemvShape> gemvShape(const Codegen &codegen, Type element,
                                   int64_t panels, int64_t in) {
  int64_t bytes = element.getIntOrFloatBitWidth() / 8;
  if (!codegen.columns || bytes == 0 || 16 % bytes != 0)
    return std::nullopt;
  int64_t width = 16 / bytes;
  if (codegen.panel % width != 0 || kGemvThreads % (codegen.panel / width) != 0)
    return std::nullopt;
  int64_t loads = codegen.panel / width, slices = kGemvThreads / loads;
  if (in % slices != 0)
    return std::nullopt;
  // Splits that leave each slice at least 8 inputs and divide them evenly.
  int64_t splits = std::max<int64_t>(1, kGemvWorkgroups / panels);
  while (splits > 1 && (in % (splits * slices) != 0 || in / splits < 8 * slices))
    --splits;
  return GemvShape{width, loads, slices, splits};
}

scf::ParallelOp
rowFormLoop(OpBuilder &b, Location loc, ValueRange ubs,
            function_ref<void(OpBuilder &, Location, ValueRange)> body) {
  Value zero = arith::ConstantIndexOp::create(b, loc, 0);
  Value one = arith::ConstantIndexOp::create(b, loc, 1);
  SmallVector<bool> single;
  SmallVector<Value> kept;
  for (Value ub : ubs)
    single.push_back(isConstantIntValue(ub, 1));
  if (llvm::all_of(single, [](bool unit) { return unit; }))
    single.front() = false; // a loop of one iteration still
  for (auto [ub, unit] : llvm::zip(ubs, single))
    if (!unit)
      kept.push_back(ub);
  auto loop = scf::ParallelOp::create(
      b, loc, SmallVector<Value>(kept.size(), zero), kept,
      SmallVector<Value>(kept.size(), one),
      [&](OpBuilder &pb, Location pl, ValueRange ivs) {
        SmallVector<Value> all;
        unsigned next = 0;
        for (bool unit : single)
          all.push_back(unit ? zero : ivs[next++]);
        body(pb, pl, all);
      });
  loop->setAttr(hybrid::kRowFormAttr, b.getUnitAttr());
  return loop;
}

Value gemvTakes(ImplicitLocOpBuilder &b, Value rows) {
  Value one = arith::ConstantIndexOp::create(b, 1);
  // rows - 1 < kGemvRows, unsigned: 0 rows wrap around to the largest.
  return arith::CmpIOp::create(b, arith::CmpIPredicate::ult,
                               arith::SubIOp::create(b, rows, one),
                               arith::ConstantIndexOp::create(b, kGemvRows));
}

/// Outputs of gemvLinears: y[first + r, c] = epilogue(x[first + r] w_0^T,
/// ...)[c] for the weights `packed` ([panels, in, panel], all of one
/// element type and input), each also given to `consume` (when not null)
/// in calls that the GEMV form runs whole (first = 0).
struct GemvOutput {
  SmallVector<PackedWeight> packed;
  int64_t out;
  Value y;
  PanelEpilogue epilogue;
  GemvConsumer consume = nullptr;
};

/// A zero-initialised i32 global of `count` entries, for lastOfSplits'
/// arrival counts (named after `stage`; each kernel reads it through its
/// own memref.get_global).
memref::GlobalOp arrivalCounts(OpBuilder &b, Location loc, StringRef stage,
                               int64_t count) {
  auto module = b.getInsertionBlock()->getParentOp()->getParentOfType<ModuleOp>();
  std::string name = (stage + "_arrivals").str();
  for (int suffix = 1; module.lookupSymbol(name); ++suffix)
    name = (stage + "_arrivals_" + Twine(suffix)).str();
  auto type = MemRefType::get({count}, b.getI32Type());
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(module.getBody());
  return memref::GlobalOp::create(
      b, loc, name, b.getStringAttr("private"), type,
      DenseElementsAttr::get(RankedTensorType::get({count}, b.getI32Type()),
                             b.getI32IntegerAttr(0).getValue()),
      /*constant=*/false, /*alignment=*/nullptr);
}

/// Runs `last` in the last of the `splits` workgroups of `unit` to get
/// here (a GPU's serial split-K reduction): one thread of each counts its
/// arrival in counts[unit] (an acquire-release atomic, after the block's
/// threads have met: every workgroup's writes before it are seen by the
/// last one), the last one also sets the count back to 0 for the next
/// call. Its threads all read the count from the block's buffer, so they
/// agree on the branch. One split is its own last.
void lastOfSplits(ImplicitLocOpBuilder &b, LoopNest &loops,
                  memref::GlobalOp counts, Value unit, int64_t splits,
                  function_ref<void()> last) {
  if (splits == 1)
    return last();
  Type i32 = b.getI32Type();
  Value arrivedBefore = loops.scratch({1}, i32);
  Value zero = loops.index(0);
  loops.single([&] {
    Value counter = memref::GetGlobalOp::create(b, counts.getType(), counts.getName());
    Value before = memref::AtomicRMWOp::create(
        b, arith::AtomicRMWKind::addi, arith::ConstantIntOp::create(b, i32, 1),
        counter, ValueRange{unit});
    memref::StoreOp::create(b, before, arrivedBefore, ValueRange{zero});
    Value isLast = arith::CmpIOp::create(
        b, arith::CmpIPredicate::eq, before,
        arith::ConstantIntOp::create(b, i32, splits - 1));
    loops.ifElse(isLast, [&] {
      memref::AtomicRMWOp::create(b, arith::AtomicRMWKind::assign,
                                  arith::ConstantIntOp::create(b, i32, 0), counter,
                                  ValueRange{unit});
    }, [] {});
  });
  Value isLast = arith::CmpIOp::create(
      b, arith::CmpIPredicate::eq,
      memref::LoadOp::create(b, arrivedBefore, ValueRange{zero}),
      arith::ConstantIntOp::create(b, i32, splits - 1));
  loops.ifElse(isLast, last, [] {});
}

/// sum_s sums[sumRow, weight, s, column] for each weight, as vector<1>.
SmallVector<Value> gemvSplitSums(ImplicitLocOpBuilder &b, LoopNest &loops,
                                 Value sums, int64_t weights, int64_t splits,
                                 Value sumRow, Value column) {
  SmallVector<Value> values;
  for (int64_t w = 0; w < weights; ++w) {
    Value total = loops.forLoop(loops.index(0), loops.index(splits), {loops.f32(0.0)},
                                [&](Value split, ValueRange sum) {
      Value term = memref::LoadOp::create(
          b, sums, ValueRange{sumRow, loops.index(w), split, column});
      return SmallVector<Value>{arith::AddFOp::create(b, sum[0], term)};
    }).getResult(0);
    values.push_back(
        vector::BroadcastOp::create(b, VectorType::get({1}, b.getF32Type()), total));
  }
  return values;
}

void gemvPanelSums(ImplicitLocOpBuilder &b, LoopNest &loops,
                   const GemvShape &shape, int64_t panel, int64_t out, int64_t in,
                   ArrayRef<PackedWeight> packed, ValueRange lead,
                   Value p, Value split, Value rowBegin, Value rowEnd,
                   function_ref<Value(Value, Value)> xAt, Value sliceSums,
                   Value sums, function_ref<Value(Value)> sumsRow,
                   memref::GlobalOp counts, Value unit,
                   function_ref<void(Value, Value, ArrayRef<Value>)> finish) {
  Type f32 = b.getF32Type();
  auto index = [&](int64_t v) { return loops.index(v); };
  auto add = [&](Value l, Value r) -> Value { return arith::AddIOp::create(b, l, r); };
  auto mul = [&](Value l, int64_t r) -> Value {
    return arith::MulIOp::create(b, l, index(r));
  };
  int64_t weights = static_cast<int64_t>(packed.size());
  int64_t span = in / shape.splits, steps = span / shape.slices;
  auto vectorType = VectorType::get({shape.width}, f32);
  Value zero = index(0);
  loops.forLoop(rowBegin, rowEnd, {}, [&](Value row, ValueRange) {
    // One dimension each: a unit one would be folded away with the mark.
    loops.cooperative({index(shape.slices * shape.loads)}, [&](ValueRange qj) {
      Value q = arith::DivUIOp::create(b, qj[0], index(shape.loads));
      Value j = mul(arith::RemUIOp::create(b, qj[0], index(shape.loads)), shape.width);
      Value begin = add(mul(split, span), q);
      SmallVector<Value> init(
          weights, arith::ConstantOp::create(
                       b, vectorType,
                       DenseElementsAttr::get(vectorType, b.getF32FloatAttr(0.0))));
      auto walk = loops.forLoop(zero, index(steps), init, [&](Value i, ValueRange acc) {
        Value k = add(begin, mul(i, shape.slices));
        Value xk = vector::BroadcastOp::create(b, vectorType, xAt(row, k));
        SmallVector<Value> next;
        for (auto [w, weight] : llvm::enumerate(packed)) {
          SmallVector<Value> at(lead);
          at.append({p, k, j});
          Value v = weight.read(b, b.getLoc(), at, shape.width);
          next.push_back(vector::FMAOp::create(b, xk, v, acc[w]));
        }
        return next;
      });
      for (int64_t w = 0; w < weights; ++w)
        vector::StoreOp::create(b, walk.getResult(w), sliceSums,
                                ValueRange{add(index(w * shape.slices), q), j});
    });
    loops.cooperative({index(weights * panel)}, [&](ValueRange wc) {
      Value w = arith::DivUIOp::create(b, wc[0], index(panel));
      Value c = arith::RemUIOp::create(b, wc[0], index(panel));
      Value total = loops.forLoop(zero, index(shape.slices), {loops.f32(0.0)},
                                  [&](Value q, ValueRange sum) {
        Value term = memref::LoadOp::create(
            b, sliceSums, ValueRange{add(mul(w, shape.slices), q), c});
        return SmallVector<Value>{arith::AddFOp::create(b, sum[0], term)};
      }).getResult(0);
      memref::StoreOp::create(b, total, sums,
                              ValueRange{sumsRow(row), w, split, add(mul(p, panel), c)});
    });
    return SmallVector<Value>{};
  });
  lastOfSplits(b, loops, counts, unit, shape.splits, [&] {
    loops.forLoop(rowBegin, rowEnd, {}, [&](Value row, ValueRange) {
      loops.cooperative({index(panel)}, [&](ValueRange c) {
        Value column = add(mul(p, panel), c[0]);
        Value inside =
            arith::CmpIOp::create(b, arith::CmpIPredicate::ult, column, index(out));
        loops.ifElse(inside, [&] {
          finish(row, column,
                 gemvSplitSums(b, loops, sums, weights, shape.splits, sumsRow(row),
                               column));
        }, [] {});
      });
      return SmallVector<Value>{};
    });
  });
}

/// Lines of 128 bytes of its weights' slices that a GEMV workgroup asks L2
/// for before it reads anything (prefetchSlices): one per thread, the
/// slices' first 16 KiB. Launched early (hybrid-programmatic-dependent-
/// launch), the block fetches them while the kernel before it still runs,
/// so that its loads find them in L2; bounded, as every resident block of
/// the grid prefetches at once (16 blocks of 16 KiB on each of an H100's
/// 132 SMs: 33 MiB of its 50 MB L2).
constexpr int64_t kPrefetchLines = kGemvThreads, kCacheLineBytes = 128;

/// The workgroup's first phase in the GEMV form: the first kPrefetchLines
/// lines of each weight's slice [p, split's inputs, panel] (packed weights
/// are contiguous there) prefetched, a memref.prefetch per line. A hint:
/// it reads nothing the kernel computes with, so the kernel waits for the
/// grid before it only after it (hybrid-programmatic-dependent-launch).
void prefetchSlices(ImplicitLocOpBuilder &b, LoopNest &loops, int64_t span,
                    ArrayRef<PackedWeight> packed, Value p, Value split) {
  for (const PackedWeight &weight : packed) {
    // A dense layer's [panels, in, panel], of 1-, 2- or 4-byte elements
    // (gemvShape takes only those that 16-byte loads divide).
    auto type = cast<RankedTensorType>(weight.data.getType());
    int64_t bytes = weight.stored().getIntOrFloatBitWidth() / 8;
    int64_t panel = weight.panel();
    assert(type.getRank() == 3 && bytes > 0 && 16 % bytes == 0);
    int64_t perLine = kCacheLineBytes / bytes; // elements
    int64_t lines =
        std::min<int64_t>(kPrefetchLines, llvm::divideCeil(span * panel, perLine));
    Value buffer = bufferization::ToBufferOp::create(
        b, MemRefType::get(type.getShape(), type.getElementType()), weight.data,
        /*readOnly=*/true);
    loops.cooperative({loops.index(lines)}, [&](ValueRange line) {
      Value element = arith::MulIOp::create(b, line[0], loops.index(perLine));
      Value k = arith::AddIOp::create(
          b, arith::MulIOp::create(b, split, loops.index(span)),
          arith::DivUIOp::create(b, element, loops.index(panel)));
      Value j = arith::RemUIOp::create(b, element, loops.index(panel));
      memref::PrefetchOp::create(b, buffer, ValueRange{p, k, j},
                                 /*isWrite=*/false, /*localityHint=*/1,
                                 /*isDataCache=*/true);
    });
  }
}

/// The outputs for rows [first, first + rows) in the GEMV form (see
/// kGemvRows) when `few`, x read through `roundTo` when given
/// (readRounded); its kernel gets no workgroups otherwise. The outputs'
/// panels are its units (forUnitOwner).
void gemvLinears(ImplicitLocOpBuilder &b, const GemvShape &shape, int64_t panel,
                 Value x, Type roundTo, ArrayRef<GemvOutput> outputs, int64_t in,
                 Value first, Value rows, Value few, StringRef stage) {
  LoopNest loops{b};
  Type f32 = b.getF32Type();
  auto index = [&](int64_t v) { return loops.index(v); };
  auto add = [&](Value l, Value r) -> Value { return arith::AddIOp::create(b, l, r); };
  // In the region `rb` points into (a branch of forUnitOwner's), `b` too.
  auto inside = [&](OpBuilder &rb, function_ref<void()> body) {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPoint(rb.getInsertionBlock(), rb.getInsertionPoint());
    body();
  };
  Value zero = index(0);
  SmallVector<int64_t> firstPanel, panels;
  int64_t weightsAtMost = 1;
  // Each output's split sums: [rows, weights, splits, panels * panel].
  SmallVector<Value> sums;
  for (const GemvOutput &output : outputs) {
    int64_t weights = static_cast<int64_t>(output.packed.size());
    weightsAtMost = std::max(weightsAtMost, weights);
    firstPanel.push_back(panels.empty() ? 0 : firstPanel.back() + panels.back());
    panels.push_back(llvm::divideCeil(output.out, panel));
    sums.push_back(memref::AllocOp::create(
        b, MemRefType::get({ShapedType::kDynamic, weights, shape.splits,
                            panels.back() * panel},
                           f32),
        ValueRange{rows}));
  }
  auto xAt = [&](Value row, Value k) -> Value {
    return readRounded(b, b.getLoc(), x, ValueRange{row, k}, roundTo);
  };
  auto sumsRow = [&](Value row) -> Value { return arith::SubIOp::create(b, row, first); };
  int64_t units = firstPanel.back() + panels.back();
  memref::GlobalOp counts;
  if (shape.splits > 1)
    counts = arrivalCounts(b, b.getLoc(), stage, units);
  rowFormLoop(b, NameLoc::get(b.getStringAttr(stage + "_gemv"), b.getLoc()),
              {arith::SelectOp::create(b, few, index(units), zero),
               index(shape.splits)},
              [&](OpBuilder &nb, Location, ValueRange ivs) {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPoint(nb.getInsertionBlock(), nb.getInsertionPoint());
    Value sliceSums = loops.scratch({weightsAtMost * shape.slices, panel}, f32);
    forUnitOwner(b, b.getLoc(), ivs[0], firstPanel, panels,
                 [&](OpBuilder &rb, size_t o, Value p) { inside(rb, [&] {
      const GemvOutput &output = outputs[o];
      auto finish = [&](Value row, Value c, ArrayRef<Value> totals) {
        Value result = output.epilogue(b, b.getLoc(), totals);
        Value value = vector::ExtractOp::create(b, result, ArrayRef<int64_t>{0});
        memref::StoreOp::create(b, value, output.y, ValueRange{row, c});
        if (!output.consume)
          return;
        Value whole = arith::CmpIOp::create(b, arith::CmpIPredicate::eq, first, zero);
        loops.ifElse(whole, [&] { output.consume(b, row, c, value); }, [] {});
      };
      prefetchSlices(b, loops, in / shape.splits, output.packed, p, ivs[1]);
      gemvPanelSums(b, loops, shape, panel, output.out, in, output.packed, {}, p, ivs[1],
                    first, add(first, rows), xAt, sliceSums, sums[o], sumsRow,
                    counts, ivs[0], finish);
    }); });
  });
}

Type mmaOperandType(Type element) {
  return element.isBF16() ? element : Float32Type::get(element.getContext());
}

/// Inputs per contract tile for weights of `element` (the k of m16n8k).
int64_t mmaDepth(Type element) { return element.isBF16() ? 16 : 8; }

/// Padding of the mma form's staged rows, in elements: 16 bytes for x's
/// tile, 8 elements for the weights' (rows that fall on distinct shared
/// memory banks for the warp's fragment loads; 16-byte aligned for
/// ldmatrix).
int64_t mmaStageXPad(Type type) {
  return 16 / static_cast<int64_t>(type.getIntOrFloatBitWidth() / 8);
}
constexpr int64_t kMmaStageWeightPad = 8;

/// Slots of each staged tile of the mma form: while the warps multiply one
/// step's tiles, the block copies the next step's into the other slot.
constexpr int64_t kMmaStageSlots = 2;

/// Bytes of the mma form's staged tiles at `depth` inputs per step, for
/// workgroups of `rowTiles` token tiles.
int64_t mmaStageBytes(Type type, int64_t depth, int64_t panel,
                      int64_t weights, int64_t rowTiles) {
  int64_t bytes = type.getIntOrFloatBitWidth() / 8;
  return kMmaStageSlots * bytes *
         (rowTiles * kMmaTokens * (depth + mmaStageXPad(type)) +
          weights * depth * (hybrid::kBlockWarps * panel + kMmaStageWeightPad));
}

/// Inputs the mma form stages per step for a layer of `in` inputs: the
/// largest of 32, 16, 8 that divides `in`, holds whole contract tiles and
/// fits a block's shared memory; none if no such step exists.
std::optional<int64_t> mmaStageDepth(Type element, int64_t in, int64_t panel,
                                     int64_t weights, int64_t rowTiles) {
  for (int64_t depth : {32, 16, 8})
    if (depth % mmaDepth(element) == 0 && in % depth == 0 &&
        mmaStageBytes(mmaOperandType(element), depth, panel, weights,
                      rowTiles) <=
            hybrid::kBlockSharedBytes)
      return depth;
  return std::nullopt;
}

/// The entry block of the function `b` inserts into: where static scratch
/// goes (an alloca inside a loop would grow the stack every iteration).
Block *functionEntry(OpBuilder &b) {
  Operation *parent = b.getInsertionBlock()->getParentOp();
  if (!isa<FunctionOpInterface>(parent))
    parent = parent->getParentOfType<FunctionOpInterface>();
  return &parent->getRegion(0).front();
}

/// acc + a bTile for a [m, k] and bTile [k, n]: one tensor-core tile
/// (hybrid-mma-tiles-to-nvgpu makes it an mma.sync on a GPU).
Value mmaContract(OpBuilder &b, Location loc, Value a, Value bTile, Value acc) {
  MLIRContext *ctx = b.getContext();
  AffineExpr m = getAffineDimExpr(0, ctx), n = getAffineDimExpr(1, ctx),
             k = getAffineDimExpr(2, ctx);
  auto maps = b.getAffineMapArrayAttr(
      {AffineMap::get(3, 0, {m, k}, ctx), AffineMap::get(3, 0, {k, n}, ctx),
       AffineMap::get(3, 0, {m, n}, ctx)});
  auto iterators = b.getArrayAttr(
      {vector::IteratorTypeAttr::get(ctx, vector::IteratorType::parallel),
       vector::IteratorTypeAttr::get(ctx, vector::IteratorType::parallel),
       vector::IteratorTypeAttr::get(ctx, vector::IteratorType::reduction)});
  return vector::ContractionOp::create(b, loc, a, bTile, acc, maps, iterators);
}


bool warpgroupFits(const Codegen &codegen, Type element) {
  int64_t n = hybrid::kBlockWarps * codegen.panel;
  return codegen.warpgroup && element.isBF16() && n % 8 == 0 && n <= 256;
}

MmaStage mmaStage(OpBuilder &b, Location loc, Type element, int64_t in,
                  int64_t panel, int64_t weights, int64_t rowTiles,
                  bool warpgroup) {
  MmaStage stage{mmaOperandType(element),
                 *mmaStageDepth(element, in, panel, weights, rowTiles),
                 rowTiles,
                 warpgroup,
                 {},
                 {}};
  OpBuilder eb = OpBuilder::atBlockBegin(functionEntry(b));
  if (warpgroup) {
    assert(rowTiles == hybrid::kBlockWarps && stage.depth % 16 == 0);
    stage.x = memref::AllocaOp::create(
        eb, loc,
        MemRefType::get({kMmaStageSlots * rowTiles * kMmaTokens / 8,
                         stage.depth / 8, 8, 8},
                        stage.type));
    for (int64_t w = 0; w < weights; ++w)
      stage.weights.push_back(memref::AllocaOp::create(
          eb, loc,
          MemRefType::get({kMmaStageSlots * stage.depth / 8,
                           hybrid::kBlockWarps * panel / 8, 8, 8},
                          stage.type)));
    return stage;
  }
  stage.x = memref::AllocaOp::create(
      eb, loc,
      MemRefType::get({kMmaStageSlots * rowTiles * kMmaTokens,
                       stage.depth + mmaStageXPad(stage.type)},
                      stage.type));
  for (int64_t w = 0; w < weights; ++w)
    stage.weights.push_back(memref::AllocaOp::create(
        eb, loc,
        MemRefType::get({kMmaStageSlots * stage.depth,
                         hybrid::kBlockWarps * panel + kMmaStageWeightPad},
                        stage.type)));
  return stage;
}

void mmaWorkgroup(OpBuilder &pb, Location pl, const MmaStage &stage,
                  int64_t panel, Value x, ArrayRef<PackedWeight> packed,
                  int64_t out, int64_t in, ArrayRef<Value> ys, Value group,
                  Value t0, Value rows, ValueRange lead) {
  MLIRContext *ctx = pb.getContext();
  Type f32 = pb.getF32Type(), type = stage.type;
  Type element = packed.front().element, stored = packed.front().stored();
  int64_t depth = stage.depth, tileDepth = mmaDepth(element);
  int64_t panels = llvm::divideCeil(out, panel);
  int64_t blocks = panel / kMmaOutputs, rowTiles = stage.rowTiles;
  // Accumulator (weight w, token tile m, block n) is number
  // (w * rowTiles + m) * blocks + n; in the warpgroup form, where the warp
  // is the token tile, (w, block c of the kBlockWarps panels) is number
  // w * columnTiles + c.
  int64_t tiles = blocks * rowTiles * static_cast<int64_t>(packed.size());
  int64_t columnTiles = hybrid::kBlockWarps * blocks;
  // Elements per copy: one 16- or 32-byte vector.
  constexpr int64_t kCopy = 8;
  auto index = [&](OpBuilder &ib, int64_t v) -> Value {
    return arith::ConstantIndexOp::create(ib, pl, v);
  };
  AffineExpr d0 = getAffineDimExpr(0, ctx), d1 = getAffineDimExpr(1, ctx);
  auto apply = [&](OpBuilder &ib, AffineExpr e, ValueRange operands) -> Value {
    return affine::AffineApplyOp::create(ib, pl, AffineMap::get(2, 0, e),
                                         operands);
  };
  auto vectorOf = [](ArrayRef<int64_t> shape, Type t) {
    return VectorType::get(shape, t);
  };
  auto widened = [&](OpBuilder &ib, Value v) -> Value {
    auto vt = cast<VectorType>(v.getType());
    if (vt.getElementType() == f32)
      return v;
    return arith::ExtFOp::create(ib, pl, vectorOf(vt.getShape(), f32), v);
  };
  Value zero = index(pb, 0), one = index(pb, 1);
  Type xElement = cast<ShapedType>(x.getType()).getElementType();
  Value padX = arith::ConstantOp::create(pb, pl, xElement,
                                         pb.getFloatAttr(xElement, 0.0));
  Value padW =
      arith::ConstantOp::create(pb, pl, stored, pb.getFloatAttr(stored, 0.0));
  Value padStage =
      arith::ConstantOp::create(pb, pl, type, pb.getFloatAttr(type, 0.0));
  auto accType = vectorOf({kMmaTokens, kMmaOutputs}, f32);
  Value accZero = arith::ConstantOp::create(
      pb, pl, accType, DenseElementsAttr::get(accType, pb.getF32FloatAttr(0.0)));
  // for i in [0, count): a loop the block's threads share; its body runs
  // only if `live` (the count stays constant: on a GPU each thread's
  // iterations unroll).
  auto cooperative = [&](OpBuilder &ob, int64_t count, Value live,
                         bool prefetch,
                         function_ref<void(OpBuilder &, Value)> body) {
    auto loop = scf::ParallelOp::create(
        ob, pl, ValueRange{zero}, ValueRange{index(ob, count)}, ValueRange{one},
        [&](OpBuilder &lb, Location, ValueRange iv) {
          if (!live)
            return body(lb, iv[0]);
          scf::IfOp::create(lb, pl, live, [&](OpBuilder &tb, Location tl) {
            body(tb, iv[0]);
            scf::YieldOp::create(tb, tl);
          });
        });
    loop->setAttr(hybrid::kCooperativeAttr, ob.getUnitAttr());
    if (prefetch)
      loop->setAttr(hybrid::kPrefetchAttr, ob.getUnitAttr());
  };
  int64_t xRows = rowTiles * kMmaTokens;
  // The copies of the step from input k0 into slot `slot` (x's rows from
  // slot * xRows, the weights' from slot * depth); none unless `live`.
  auto copyStep = [&](OpBuilder &sb, Value k0, Value slot, Value live,
                      bool prefetch) {
    // The block's panels of each weight.
    int64_t panelCopies = panel / kCopy;
    int64_t stageRowCopies = hybrid::kBlockWarps * panelCopies;
    Value wFirst = apply(sb, d0 * depth, {slot, slot});
    for (auto [w, weight] : llvm::enumerate(packed))
      cooperative(sb, depth * stageRowCopies, live, prefetch,
                  [&](OpBuilder &cb, Value i) {
        Value row = apply(cb, d0.floorDiv(stageRowCopies), {i, i});
        Value p = apply(cb, (d0 % stageRowCopies).floorDiv(panelCopies), {i, i});
        Value column = apply(cb, (d0 % panelCopies) * kCopy, {i, i});
        Value global = apply(cb, d0 * hybrid::kBlockWarps + d1, {group, p});
        if (panels % hybrid::kBlockWarps != 0)
          global = arith::MinUIOp::create(cb, pl, global, index(cb, panels - 1));
        SmallVector<Value> at(lead);
        at.append({global, apply(cb, d0 + d1, {k0, row}), column});
        Value v;
        if (weight.scale) {
          // fp8: decoded and rounded to the weight's element, which the
          // stage's type holds exactly.
          v = weight.read(cb, pl, at, kCopy);
          if (type != f32)
            v = arith::TruncFOp::create(cb, pl, vectorOf({kCopy}, type), v);
        } else {
          v = vector::TransferReadOp::create(cb, pl, vectorOf({kCopy}, stored),
                                             weight.data, at, padW,
                                             ArrayRef<bool>{true});
          if (stored != type)
            v = widened(cb, v);
        }
        if (stage.warpgroup) {
          // Core matrix (input / 8, output / 8), its row input % 8.
          vector::StoreOp::create(
              cb, pl, v, stage.weights[w],
              ValueRange{apply(cb, (d0 + d1).floorDiv(8), {wFirst, row}),
                         apply(cb, (d0 * panel + d1).floorDiv(8), {p, column}),
                         apply(cb, d0 % 8, {row, row}), zero});
          return;
        }
        vector::StoreOp::create(
            cb, pl, v, stage.weights[w],
            ValueRange{apply(cb, d0 + d1, {wFirst, row}),
                       apply(cb, d0 * panel + d1, {p, column})});
      });
    // x's tiles (after the weights' copies, which need not wait for their
    // loads), f32 x rounded to bf16 tiles on the way (mmaInput does it
    // before where it can).
    int64_t rowCopies = depth / kCopy;
    Value xFirst = apply(sb, d0 * xRows, {slot, slot});
    cooperative(sb, xRows * rowCopies, live, prefetch,
                [&](OpBuilder &cb, Value i) {
      Value row = apply(cb, d0.floorDiv(rowCopies), {i, i});
      Value column = apply(cb, (d0 % rowCopies) * kCopy, {i, i});
      Value token = apply(cb, d0 + d1, {t0, row});
      if (rowTiles > 1)
        token = arith::MinUIOp::create(
            cb, pl, token, arith::SubIOp::create(cb, pl, rows, one));
      Value v = vector::TransferReadOp::create(
          cb, pl, vectorOf({kCopy}, xElement), x,
          ValueRange{token, apply(cb, d0 + d1, {k0, column})}, padX,
          ArrayRef<bool>{true});
      if (xElement != type)
        v = arith::TruncFOp::create(cb, pl, vectorOf({kCopy}, type), v);
      if (stage.warpgroup) {
        // Core matrix (token / 8, input / 8), its row token % 8.
        vector::StoreOp::create(
            cb, pl, v, stage.x,
            ValueRange{apply(cb, (d0 + d1).floorDiv(8), {xFirst, row}),
                       apply(cb, d0.floorDiv(kCopy), {column, column}),
                       apply(cb, d0 % 8, {row, row}), zero});
        return;
      }
      vector::StoreOp::create(cb, pl, v, stage.x,
                              ValueRange{apply(cb, d0 + d1, {xFirst, row}), column});
    });
  };

  auto warps = scf::ParallelOp::create(
      pb, pl, ValueRange{zero}, ValueRange{index(pb, hybrid::kBlockWarps)},
      ValueRange{one}, [&](OpBuilder &wb, Location, ValueRange wv) {
    Value warp = wv[0];
    copyStep(wb, zero, zero, Value(), /*prefetch=*/false);
    auto loop = scf::ForOp::create(
        wb, pl, zero, index(wb, in), index(wb, depth),
        SmallVector<Value>(tiles, accZero),
        [&](OpBuilder &lb, Location, Value k0, ValueRange accs) {
          Value slot = apply(lb, d0.floorDiv(depth) % kMmaStageSlots, {k0, k0});
          Value nextStep = apply(lb, d0 + depth, {k0, k0});
          copyStep(lb, nextStep, apply(lb, 1 - d0, {slot, slot}),
                   arith::CmpIOp::create(lb, pl, arith::CmpIPredicate::ult,
                                         nextStep, index(lb, in)),
                   /*prefetch=*/true);
          SmallVector<Value> next(accs);
          if (stage.warpgroup) {
            // The block's 64 x (kBlockWarps panels) product, 16 inputs (two
            // core matrices) a step; the warp's part: its token tile.
            Value xGroup = apply(lb, d0 * (xRows / 8), {slot, slot});
            for (int64_t s = 0; s < depth / tileDepth; ++s)
              for (auto [w, staged] : llvm::enumerate(stage.weights)) {
                auto first = next.begin() + w * columnTiles;
                auto product = WarpgroupMmaOp::create(
                    lb, pl, stage.x, xGroup, index(lb, 2 * s), staged,
                    apply(lb, d0 * (depth / 8) + 2 * s, {slot, slot}), zero,
                    warp, ValueRange(ArrayRef<Value>(first, columnTiles)));
                llvm::copy(product.getResults(), first);
              }
            scf::YieldOp::create(lb, pl, next);
            return;
          }
          Value xFirst = apply(lb, d0 * xRows, {slot, slot});
          Value wFirst = apply(lb, d0 * depth, {slot, slot});
          // The warp's panel, tile by tile.
          for (int64_t s = 0; s < depth / tileDepth; ++s) {
            SmallVector<Value> aTiles;
            for (int64_t m = 0; m < rowTiles; ++m)
              aTiles.push_back(widened(
                  lb, vector::TransferReadOp::create(
                          lb, pl, vectorOf({kMmaTokens, tileDepth}, type),
                          stage.x,
                          ValueRange{apply(lb, d0 + m * kMmaTokens, {xFirst, xFirst}),
                                     index(lb, s * tileDepth)},
                          padStage, ArrayRef<bool>{true, true})));
            for (auto [w, staged] : llvm::enumerate(stage.weights))
              for (int64_t n = 0; n < blocks; ++n) {
                Value column = apply(lb, d0 * panel + n * kMmaOutputs, {warp, warp});
                Value bTile = widened(
                    lb, vector::TransferReadOp::create(
                            lb, pl, vectorOf({tileDepth, kMmaOutputs}, type),
                            staged,
                            ValueRange{apply(lb, d0 + s * tileDepth, {wFirst, wFirst}),
                                       column},
                            padStage, ArrayRef<bool>{true, true}));
                for (int64_t m = 0; m < rowTiles; ++m) {
                  Value &acc = next[(w * rowTiles + m) * blocks + n];
                  acc = mmaContract(lb, pl, aTiles[m], bTile, acc);
                }
              }
          }
          scf::YieldOp::create(lb, pl, next);
        });
    if (stage.warpgroup) {
      // arith, not affine.apply: canonicalize would fold t0's map into an
      // affine.apply here and into the copies' rows, leaving the warps loop
      // alone in the workgroup loop, which it would then merge into it.
      Value token = arith::AddIOp::create(
          wb, pl, t0, arith::MulIOp::create(wb, pl, warp, index(wb, kMmaTokens)));
      for (int64_t c = 0; c < columnTiles; ++c) {
        Value column = apply(
            wb, d0 * (hybrid::kBlockWarps * panel) + c * kMmaOutputs,
            {group, group});
        // The last group's blocks past `out`, the token tiles past `rows`.
        Value inside =
            arith::CmpIOp::create(wb, pl, arith::CmpIPredicate::ult, token, rows);
        if (out % (panel * hybrid::kBlockWarps) != 0)
          inside = arith::AndIOp::create(
              wb, pl, inside,
              arith::CmpIOp::create(wb, pl, arith::CmpIPredicate::ult, column,
                                    index(wb, out)));
        scf::IfOp::create(wb, pl, inside, [&](OpBuilder &tb, Location tl) {
          for (auto [w, y] : llvm::enumerate(ys))
            vector::TransferWriteOp::create(
                tb, pl, loop.getResult(w * columnTiles + c), y,
                ValueRange{token, column}, ArrayRef<bool>{true, true});
          scf::YieldOp::create(tb, tl);
        });
      }
      return;
    }
    for (int64_t m = 0; m < rowTiles; ++m)
      for (int64_t n = 0; n < blocks; ++n) {
        Value column = apply(
            wb, (d0 * hybrid::kBlockWarps + d1) * panel + n * kMmaOutputs,
            {group, warp});
        Value token = apply(wb, d0 + m * kMmaTokens, {t0, t0});
        auto store = [&](OpBuilder &sb) {
          for (auto [w, y] : llvm::enumerate(ys))
            vector::TransferWriteOp::create(
                sb, pl, loop.getResult((w * rowTiles + m) * blocks + n), y,
                ValueRange{token, column}, ArrayRef<bool>{true, true});
        };
        // The last group's blocks past `out` (a multiple of kMmaOutputs),
        // the last workgroup's token tiles past `rows`.
        Value inside;
        if (out % (panel * hybrid::kBlockWarps) != 0)
          inside = arith::CmpIOp::create(wb, pl, arith::CmpIPredicate::ult,
                                         column, index(wb, out));
        if (rowTiles > 1) {
          Value tokenInside = arith::CmpIOp::create(
              wb, pl, arith::CmpIPredicate::ult, token, rows);
          inside = inside ? arith::AndIOp::create(wb, pl, inside, tokenInside)
                                .getResult()
                          : tokenInside;
        }
        if (!inside) {
          store(wb);
          continue;
        }
        scf::IfOp::create(wb, pl, inside, [&](OpBuilder &tb, Location tl) {
          store(tb);
          scf::YieldOp::create(tb, tl);
        });
      }
  });
  warps->setAttr(hybrid::kWarpsAttr, pb.getUnitAttr());
}

Value mmaInput(OpBuilder &b, Location loc, Value x, Value rows, Type stageType,
               StringRef stage) {
  auto type = cast<RankedTensorType>(x.getType());
  if (type.getElementType() == stageType)
    return x;
  Location named = NameLoc::get(b.getStringAttr(stage + "_mma_input"), loc);
  int64_t in = type.getDimSize(1);
  Value tileRows = tensor::ExtractSliceOp::create(
      b, named, x, ArrayRef<OpFoldResult>{b.getIndexAttr(0), b.getIndexAttr(0)},
      ArrayRef<OpFoldResult>{rows, b.getIndexAttr(in)},
      ArrayRef<OpFoldResult>{b.getIndexAttr(1), b.getIndexAttr(1)});
  Value empty = tensor::EmptyOp::create(b, named, type.getShape(), stageType,
                                        ValueRange{rows});
  AffineMap identity = b.getMultiDimIdentityMap(2);
  return linalg::GenericOp::create(
             b, named, empty.getType(), ValueRange{tileRows}, ValueRange{empty},
             ArrayRef<AffineMap>{identity, identity},
             ArrayRef<utils::IteratorType>{kParallel, kParallel},
             [&](OpBuilder &gb, Location gl, ValueRange args) {
               linalg::YieldOp::create(
                   gb, gl,
                   ValueRange{arith::TruncFOp::create(gb, gl, stageType,
                                                      args[0])});
             })
      .getResult(0);
}

/// The first token of the linear layers' mma workgroup `tile` (of
/// `rowTiles` token tiles).
Value mmaTileStart(OpBuilder &pb, Location pl, Value tile, int64_t rowTiles) {
  return affine::AffineApplyOp::create(
             pb, pl,
             AffineMap::get(1, 0,
                            getAffineDimExpr(0, pb.getContext()) *
                                (kMmaTokens * rowTiles)),
             ValueRange{tile})
      .getResult();
}

bool mmaFits(const Codegen &codegen, int64_t out, int64_t in, Type element,
             int64_t weights, int64_t rowTiles) {
  return codegen.mma && codegen.columns && codegen.panel % kMmaOutputs == 0 &&
         out % kMmaOutputs == 0 &&
         mmaStageDepth(element, in, codegen.panel, weights, rowTiles)
             .has_value();
}

/// [tokens, out] f32 buffer for a linear layer's output, and its tensor.
Value linearOutput(OpBuilder &b, Location loc, Value tokens, int64_t out) {
  return memref::AllocOp::create(
      b, loc, MemRefType::get({ShapedType::kDynamic, out}, b.getF32Type()),
      ValueRange{tokens});
}
Value asTensor(OpBuilder &b, Location loc, Value buffer) {
  auto type = cast<MemRefType>(buffer.getType());
  return bufferization::ToTensorOp::create(
             b, loc, RankedTensorType::get(type.getShape(), type.getElementType()),
             buffer, /*restrict=*/true, /*writable=*/true)
      .getResult();
}

/// y = epilogue(x w_0^T, x w_1^T, ...) (x w_0^T for a null epilogue) for
/// weights of one shape packed at compile time into panels of `panel`
/// output rows, so that one input column of a panel is one contiguous
/// vector. Workgroups are (panel, tile of kPackedTokens tokens),
/// panel outermost: consecutive workgroups of a thread reuse the panels
/// from cache (packedWorkgroup). The GPU forms: see Codegen. `consume`
/// (when not null): see linearConsuming, which `consumed` then gets.
Value packedLinears(OpBuilder &b, Location loc, const Codegen &codegen,
                    Value x, ArrayRef<PackableWeight> weights, PanelEpilogue given,
                    StringRef stage, GemvConsumer consume = nullptr,
                    Value *consumed = nullptr) {
  auto plain = weights.front().type();
  int64_t out = plain.getDimSize(0), in = plain.getDimSize(1);
  Type element = weights.front().element;
  int64_t panel = codegen.panel, panels = llvm::divideCeil(out, panel);
  int64_t tileTokens = kPackedTokens;
  auto identity = [](OpBuilder &, Location, ValueRange acc) { return acc.front(); };
  PanelEpilogue epilogue = given ? given : PanelEpilogue(identity);
  bool pairs = bf16PairsFit(codegen, weights);
  SmallVector<PackedWeight> packed;
  for (const PackableWeight &weight : weights)
    packed.push_back(packedCopy(b, weight, panel, pairs));
  Value tokens = tensor::DimOp::create(b, loc, x, 0);
  Value y = linearOutput(b, loc, tokens, out);
  Value zero = arith::ConstantIndexOp::create(b, loc, 0);
  Value one = arith::ConstantIndexOp::create(b, loc, 1);
  Location named = NameLoc::get(b.getStringAttr(stage), loc);
  if (codegen.columns) {
    // Full tiles of kMmaTokens tokens on tensor cores, the rest by columns.
    // Every row reads x as the tiles stage it (see mmaInput), whichever
    // form computes it.
    Value start;
    Type roundTo;
    int64_t count = static_cast<int64_t>(weights.size());
    bool warpgroup = warpgroupFits(codegen, element);
    int64_t rowTiles =
        warpgroup ? hybrid::kBlockWarps : mmaLinearRowTiles(count);
    if (mmaFits(codegen, out, in, element, count, rowTiles)) {
      MmaStage staged =
          mmaStage(b, loc, element, in, panel, count, rowTiles, warpgroup);
      Value mmaTokens = arith::ConstantIndexOp::create(b, loc, kMmaTokens);
      Value fullTiles = arith::DivUIOp::create(b, loc, tokens, mmaTokens);
      start = arith::MulIOp::create(b, loc, fullTiles, mmaTokens);
      Value tileX = mmaInput(b, loc, x, start, staged.type, stage);
      roundTo = staged.type;
      Value workgroupTiles = arith::CeilDivUIOp::create(
          b, loc, fullTiles,
          arith::ConstantIndexOp::create(b, loc, rowTiles));
      // An epilogue's math does not run on tensor-core fragments: each
      // weight's products go to a buffer of their own, which one
      // elementwise kernel combines.
      SmallVector<Value> products = {y};
      if (given) {
        products.clear();
        for (size_t w = 0; w < weights.size(); ++w)
          products.push_back(memref::AllocOp::create(
              b, loc, MemRefType::get({ShapedType::kDynamic, out}, b.getF32Type()),
              ValueRange{start}));
      }
      rowFormLoop(
          b, NameLoc::get(b.getStringAttr(stage + "_mma"), loc),
          ValueRange{workgroupTiles,
                     arith::ConstantIndexOp::create(
                         b, loc, llvm::divideCeil(panels, hybrid::kBlockWarps))},
          [&](OpBuilder &pb, Location pl, ValueRange ivs) {
            mmaWorkgroup(pb, pl, staged, panel, tileX, packed, out, in,
                         products, ivs[1],
                         mmaTileStart(pb, pl, ivs[0], rowTiles), start);
          });
      if (given)
        rowFormLoop(
            b, NameLoc::get(b.getStringAttr(stage + "_mma_epilogue"), loc),
            ValueRange{start, arith::ConstantIndexOp::create(b, loc, out)},
            [&](OpBuilder &pb, Location pl, ValueRange ivs) {
              auto v1 = VectorType::get({1}, pb.getF32Type());
              SmallVector<Value> values;
              for (Value product : products)
                values.push_back(vector::BroadcastOp::create(
                    pb, pl, v1, memref::LoadOp::create(pb, pl, product, ivs)));
              Value result = epilogue(pb, pl, values);
              memref::StoreOp::create(
                  pb, pl,
                  vector::ExtractOp::create(pb, pl, result, ArrayRef<int64_t>{0}),
                  y, ivs);
            });
    }
    // (token tile, column), columns fastest: neighbouring threads read
    // neighbouring columns. A layer of fewer outputs than a warp (Qwen3-Next's
    // shared_expert_gate has one) a token per workgroup: tiles of tokens
    // would leave a prompt's thousand rows to a hundred threads.
    int64_t columnTokens =
        out < hybrid::kWarpLanes
            ? 1
            : std::max<int64_t>(1, kColumnTokens / static_cast<int64_t>(weights.size()));
    Value columnRows =
        start ? arith::SubIOp::create(b, loc, tokens, start).getResult() : tokens;
    Value tokenTiles = arith::CeilDivUIOp::create(
        b, loc, columnRows,
        arith::ConstantIndexOp::create(b, loc, columnTokens));
    if (std::optional<GemvShape> shape =
            gemvShape(codegen, packed.front().stored(), panels, in)) {
      // Few rows take the GEMV form, more the column form.
      ImplicitLocOpBuilder ib(loc, b);
      Value few = gemvTakes(ib, columnRows);
      gemvLinears(ib, *shape, panel, x, roundTo,
                  {GemvOutput{packed, out, y, epilogue, consume}}, in,
                  start ? start : zero, columnRows, few, stage);
      // A call of no full tile runs whole in the GEMV form.
      if (consume)
        *consumed = gemvTakes(ib, tokens);
      tokenTiles = arith::SelectOp::create(b, loc, few, zero, tokenTiles);
    }
    rowFormLoop(
        b, named,
        ValueRange{tokenTiles, arith::ConstantIndexOp::create(b, loc, out)},
        [&](OpBuilder &pb, Location pl, ValueRange ivs) {
          columnWorkgroup(pb, pl, panel, x, roundTo, packed, in, columnTokens, tokens,
                          y, epilogue, ivs[1], ivs[0], start);
        });
    return asTensor(b, loc, y);
  }
  if (decodedAsRead(packed)) {
    // fp8: workgroups of kStagedTiles token tiles share each decoded chunk.
    ImplicitLocOpBuilder ib(loc, b);
    LoopNest loops{ib};
    auto scratch = stagedPanelScratch(loops, packed.front(),
                                      static_cast<int64_t>(packed.size()), tileTokens);
    Value groups = arith::CeilDivUIOp::create(
        ib, tokens, loops.index(kStagedTiles * tileTokens));
    loops.parallel(stage, {loops.index(panels), groups}, [&](ValueRange ivs) {
      stagedWorkgroup(ib, loops, x, packed, out, in, tileTokens, tokens, y,
                      epilogue, ivs[0], ivs[1], scratch);
    });
  } else {
    Value tokenTiles = arith::CeilDivUIOp::create(
        b, loc, tokens, arith::ConstantIndexOp::create(b, loc, tileTokens));
    Value rounded = pairs ? bf16Input(b, loc, x, stage) : Value();
    scf::ParallelOp::create(
        b, named, ValueRange{zero, zero},
        ValueRange{arith::ConstantIndexOp::create(b, loc, panels), tokenTiles},
        ValueRange{one, one}, [&](OpBuilder &pb, Location pl, ValueRange ivs) {
          packedWorkgroup(pb, pl, panel, x, packed, out, in, tileTokens, tokens,
                          y, epilogue, ivs[0], ivs[1], rounded);
        });
  }
  return asTensor(b, loc, y);
}

/// Linear layers of one input whose weights differ in shape, in one kernel:
/// workgroups are (panel of any of the weights, tile of kPackedTokens
/// tokens), each running packedWorkgroup for the weight its panel belongs
/// to. One dispatch (one barrier) instead of one per weight. The GPU forms
/// (see Codegen) choose the weight the same way, by column, or by group of
/// kBlockWarps panels for the mma form's full token tiles.
SmallVector<Value> packedLinearGroup(OpBuilder &b, Location loc,
                                     const Codegen &codegen, Value x,
                                     ArrayRef<PackableWeight> weights,
                                     StringRef stage) {
  int64_t panel = codegen.panel;
  Value tokens = tensor::DimOp::create(b, loc, x, 0);
  // A unit is a panel, or in the column form a column.
  struct Member {
    PackedWeight packed;
    Value y;
    int64_t out, in;
  };
  SmallVector<Member> members;
  // The mma form's workgroups take kBlockWarps panels of one member.
  SmallVector<int64_t> firstUnit, units, firstGroup, groups;
  bool mma = true;
  // One stage (mma) or shape (GEMV) serves every member: one input and
  // element type.
  auto alike = [&](const Member &m) {
    return m.in == members.front().in &&
           m.packed.element == members.front().packed.element &&
           m.packed.stored() == members.front().packed.stored();
  };
  bool pairs = bf16PairsFit(codegen, weights);
  for (const PackableWeight &weight : weights) {
    auto plain = weight.type();
    int64_t out = plain.getDimSize(0), in = plain.getDimSize(1);
    members.push_back({packedCopy(b, weight, panel, pairs),
                       linearOutput(b, loc, tokens, out), out, in});
    firstUnit.push_back(units.empty() ? 0 : firstUnit.back() + units.back());
    units.push_back(codegen.columns ? out : llvm::divideCeil(out, panel));
    firstGroup.push_back(groups.empty() ? 0 : firstGroup.back() + groups.back());
    groups.push_back(llvm::divideCeil(out, panel * hybrid::kBlockWarps));
    mma = mma &&
          mmaFits(codegen, out, in, weight.element, 1, mmaLinearRowTiles(1)) &&
          alike(members.back());
  }
  Value zero = arith::ConstantIndexOp::create(b, loc, 0);
  Value one = arith::ConstantIndexOp::create(b, loc, 1);
  auto constant = [&](int64_t v) -> Value {
    return arith::ConstantIndexOp::create(b, loc, v);
  };
  // Full tiles of kMmaTokens tokens on tensor cores, the rest by columns,
  // every row reading x as the tiles stage it (see mmaInput).
  Value start;
  Type roundTo;
  if (mma) {
    static_assert(mmaLinearRowTiles(1) == hybrid::kBlockWarps,
                  "one weight's workgroups have a token tile per warp");
    MmaStage staged = mmaStage(b, loc, members.front().packed.element,
                               members.front().in, panel, 1,
                               mmaLinearRowTiles(1),
                               warpgroupFits(codegen, members.front().packed.element));
    Value fullTiles = arith::DivUIOp::create(b, loc, tokens, constant(kMmaTokens));
    start = arith::MulIOp::create(b, loc, fullTiles, constant(kMmaTokens));
    Value tileX = mmaInput(b, loc, x, start, staged.type, stage);
    roundTo = staged.type;
    Value workgroupTiles = arith::CeilDivUIOp::create(
        b, loc, fullTiles, constant(mmaLinearRowTiles(1)));
    rowFormLoop(
        b, NameLoc::get(b.getStringAttr(stage + "_mma"), loc),
        ValueRange{workgroupTiles, constant(firstGroup.back() + groups.back())},
        [&](OpBuilder &pb, Location pl, ValueRange ivs) {
          Value t0 = mmaTileStart(pb, pl, ivs[0], mmaLinearRowTiles(1));
          forUnitOwner(pb, pl, ivs[1], firstGroup, groups,
                       [&](OpBuilder &rb, size_t i, Value local) {
                         const Member &m = members[i];
                         mmaWorkgroup(rb, pl, staged, panel, tileX,
                                      {m.packed}, m.out, m.in, {m.y}, local,
                                      t0, start);
                       });
        });
  }
  int64_t tileTokens = codegen.columns ? kColumnTokens : kPackedTokens;
  Value columnRows =
      start ? arith::SubIOp::create(b, loc, tokens, start).getResult() : tokens;
  Value tokenTiles = arith::CeilDivUIOp::create(b, loc, columnRows, constant(tileTokens));
  auto identity = [](OpBuilder &, Location, ValueRange acc) { return acc.front(); };
  // Few rows take the GEMV form (one input and element type: x is shared),
  // more the column form.
  bool oneInput = llvm::all_of(members, alike);
  int64_t allPanels = 0;
  for (const Member &m : members)
    allPanels += llvm::divideCeil(m.out, panel);
  std::optional<GemvShape> shape =
      oneInput && codegen.columns
          ? gemvShape(codegen, members.front().packed.stored(), allPanels,
                      members.front().in)
          : std::nullopt;
  if (shape) {
    ImplicitLocOpBuilder ib(loc, b);
    Value few = gemvTakes(ib, columnRows);
    SmallVector<GemvOutput> outputs;
    for (const Member &m : members)
      outputs.push_back({{m.packed}, m.out, m.y, identity});
    gemvLinears(ib, *shape, panel, x, roundTo, outputs, members.front().in,
                start ? start : zero, columnRows, few, stage);
    tokenTiles = arith::SelectOp::create(b, loc, few, zero, tokenTiles);
  }
  // Panels outermost (a CPU thread's consecutive workgroups reuse a panel);
  // columns innermost (neighbouring GPU threads read neighbouring columns).
  Value allUnits = constant(firstUnit.back() + units.back());
  if (!codegen.columns && oneInput && decodedAsRead({members.front().packed})) {
    // fp8 (every member alike): workgroups of kStagedTiles token tiles share
    // each decoded chunk.
    ImplicitLocOpBuilder ib(loc, b);
    LoopNest loops{ib};
    auto scratch = stagedPanelScratch(loops, members.front().packed, 1, tileTokens);
    Value groups = arith::CeilDivUIOp::create(
        ib, tokens, loops.index(kStagedTiles * tileTokens));
    loops.parallel(stage, {allUnits, groups}, [&](ValueRange ivs) {
      forUnitOwner(ib, ib.getLoc(), ivs[0], firstUnit, units,
                   [&](OpBuilder &rb, size_t i, Value local) {
                     OpBuilder::InsertionGuard guard(ib);
                     ib.setInsertionPoint(rb.getInsertionBlock(),
                                          rb.getInsertionPoint());
                     const Member &m = members[i];
                     stagedWorkgroup(ib, loops, x, {m.packed}, m.out, m.in,
                                     tileTokens, tokens, m.y, identity, local,
                                     ivs[1], scratch);
                   });
    });
  } else {
    Value rounded = pairs ? bf16Input(b, loc, x, stage) : Value();
    auto workgroup = [&](OpBuilder &pb, Location pl, ValueRange ivs) {
      Value unit = codegen.columns ? ivs[1] : ivs[0];
      Value tile = codegen.columns ? ivs[0] : ivs[1];
      forUnitOwner(pb, pl, unit, firstUnit, units,
                   [&](OpBuilder &rb, size_t i, Value local) {
                     const Member &m = members[i];
                     if (codegen.columns)
                       columnWorkgroup(rb, pl, panel, x, roundTo, {m.packed}, m.in,
                                       tileTokens, tokens, m.y, identity, local,
                                       tile, start);
                     else
                       packedWorkgroup(rb, pl, panel, x, {m.packed}, m.out,
                                       m.in, tileTokens, tokens, m.y, identity,
                                       local, tile, rounded);
                   });
    };
    Location named = NameLoc::get(b.getStringAttr(stage), loc);
    if (codegen.columns)
      rowFormLoop(b, named, ValueRange{tokenTiles, allUnits}, workgroup);
    else
      scf::ParallelOp::create(b, named, ValueRange{zero, zero},
                              ValueRange{allUnits, tokenTiles}, ValueRange{one, one},
                              workgroup);
  }
  SmallVector<Value> results;
  for (const Member &m : members)
    results.push_back(asTensor(b, loc, m.y));
  return results;
}

/// Whether `w` is a checkpoint weight that linear layers read packed.
std::optional<PackableWeight> packable(const Codegen &codegen, Value w) {
  return packableSource(codegen, w, /*experts=*/false);
}

bool packAlike(const PackableWeight &a, const PackableWeight &b) {
  return a.element == b.element &&
         a.type().getElementType() == b.type().getElementType() &&
         a.blockRows == b.blockRows && a.blockCols == b.blockCols;
}

/// y[t, o] = sum_i x[t, i] * w[o, i]: a linear layer on the checkpoint's
/// [out, in] layout (each row read contiguously, as stored). Workgroups are
/// tiles of kTileTokens x kTileOutputs: a full tile keeps its 16 partial sums
/// in vector registers, each step loading 4 rows of x and 4 rows of w
/// (kLanes wide) for 16 FMAs, then reduces them and adds the last in %
/// kLanes columns. Edge tiles (and decode's single token) compute their
/// dot products one by one, vectorised by LLVM (the sums are reassociable).
/// An fp8 weight is read as its bytes (RowMajorWeight), as the packed forms
/// read theirs: no kernel writes its dequantized copy.
Value linear(OpBuilder &b, Location loc, const Codegen &codegen, Value x,
             Value w) {
  if (std::optional<PackableWeight> weight = packable(codegen, w))
    return packedLinears(b, loc, codegen, x, {*weight}, /*given=*/nullptr,
                         weightStage(w));
  RowMajorWeight weight = RowMajorWeight::of(w, kLanes);
  auto wType = cast<RankedTensorType>(w.getType());
  int64_t out = wType.getDimSize(0), in = wType.getDimSize(1);
  int64_t inMain = in - in % kLanes;
  Type f32 = b.getF32Type();
  Value tokens = tensor::DimOp::create(b, loc, x, 0);
  Value y = memref::AllocOp::create(
      b, loc, MemRefType::get({ShapedType::kDynamic, out}, f32),
      ValueRange{tokens});
  auto index = [&](OpBuilder &ib, int64_t v) -> Value {
    return arith::ConstantIndexOp::create(ib, loc, v);
  };
  Value zero = index(b, 0), one = index(b, 1);
  Value tileT = index(b, kTileTokens), tileO = index(b, kTileOutputs);
  Value tokenTiles = arith::CeilDivUIOp::create(b, loc, tokens, tileT);
  Value outTiles = index(b, llvm::divideCeil(out, kTileOutputs));
  Value outs = index(b, out), ins = index(b, in);
  scf::ParallelOp::create(
      b, NameLoc::get(b.getStringAttr(weightStage(w)), loc),
      ValueRange{zero, zero}, ValueRange{tokenTiles, outTiles},
      ValueRange{one, one}, [&](OpBuilder &pb, Location pl, ValueRange ivs) {
        Value t0 = arith::MulIOp::create(pb, pl, ivs[0], tileT);
        Value o0 = arith::MulIOp::create(pb, pl, ivs[1], tileO);
        Value tEnd = arith::MinUIOp::create(
            pb, pl, arith::AddIOp::create(pb, pl, t0, tileT), tokens);
        Value oEnd = arith::MinUIOp::create(
            pb, pl, arith::AddIOp::create(pb, pl, o0, tileO), outs);
        Value full = arith::AndIOp::create(
            pb, pl,
            arith::CmpIOp::create(pb, pl, arith::CmpIPredicate::eq,
                                  arith::SubIOp::create(pb, pl, tEnd, t0), tileT),
            arith::CmpIOp::create(pb, pl, arith::CmpIPredicate::eq,
                                  arith::SubIOp::create(pb, pl, oEnd, o0), tileO));
        scf::IfOp::create(
            pb, pl, full,
            [&](OpBuilder &fb, Location fl) {
              // Full tile: 16 vector accumulators over the first inMain
              // columns.
              SmallVector<Value> rows, cols;
              for (int64_t k = 0; k < kTileTokens; ++k)
                rows.push_back(arith::AddIOp::create(fb, fl, t0, index(fb, k)));
              for (int64_t m = 0; m < kTileOutputs; ++m)
                cols.push_back(arith::AddIOp::create(fb, fl, o0, index(fb, m)));
              auto vf32 = VectorType::get({kLanes}, f32);
              Value vzero = arith::ConstantOp::create(
                  fb, fl, vf32, DenseElementsAttr::get(vf32, fb.getF32FloatAttr(0.0)));
              SmallVector<Value> init(kTileTokens * kTileOutputs, vzero);
              Value padX = f32Constant(fb, fl, 0.0);
              auto main = scf::ForOp::create(
                  fb, fl, index(fb, 0), index(fb, inMain), index(fb, kLanes), init,
                  [&](OpBuilder &lb, Location ll, Value i, ValueRange accs) {
                    SmallVector<Value> xs, ws;
                    for (Value t : rows)
                      xs.push_back(vector::TransferReadOp::create(
                          lb, ll, vf32, x, ValueRange{t, i}, padX,
                          ArrayRef<bool>{true}));
                    for (Value o : cols)
                      ws.push_back(weight.read(lb, ll, {o, i}, kLanes));
                    SmallVector<Value> next;
                    for (int64_t k = 0; k < kTileTokens; ++k)
                      for (int64_t m = 0; m < kTileOutputs; ++m)
                        next.push_back(vector::FMAOp::create(
                            lb, ll, vf32, xs[k], ws[m],
                            accs[k * kTileOutputs + m]));
                    scf::YieldOp::create(lb, ll, next);
                  });
              for (int64_t k = 0; k < kTileTokens; ++k)
                for (int64_t m = 0; m < kTileOutputs; ++m) {
                  Value sum = vector::ReductionOp::create(
                      fb, fl, vector::CombiningKind::ADD,
                      main.getResult(k * kTileOutputs + m), kDotMath);
                  sum = scalarDot(fb, fl, x, weight, rows[k], cols[m],
                                  index(fb, inMain), ins, sum);
                  memref::StoreOp::create(fb, fl, sum, y,
                                          ValueRange{rows[k], cols[m]});
                }
              scf::YieldOp::create(fb, fl);
            },
            [&](OpBuilder &eb, Location el) {
              // Edge tile: one dot product per (token, output).
              scf::ForOp::create(
                  eb, el, t0, tEnd, one, ValueRange{},
                  [&](OpBuilder &tb, Location tl, Value t, ValueRange) {
                    scf::ForOp::create(
                        tb, tl, o0, oEnd, one, ValueRange{},
                        [&](OpBuilder &ob, Location ol, Value o, ValueRange) {
                          Value sum = scalarDot(ob, ol, x, weight, t, o, zero, ins,
                                                f32Constant(ob, ol, 0.0));
                          memref::StoreOp::create(ob, ol, sum, y, ValueRange{t, o});
                          scf::YieldOp::create(ob, ol);
                        });
                    scf::YieldOp::create(tb, tl);
                  });
              scf::YieldOp::create(eb, el);
            });
      });
  return bufferization::ToTensorOp::create(
             b, loc, RankedTensorType::get({ShapedType::kDynamic, out}, f32), y,
             /*restrict=*/true, /*writable=*/true)
      .getResult();
}

ConsumedLinear linearConsuming(OpBuilder &b, Location loc, const Codegen &codegen,
                               Value x, Value w, GemvConsumer consume) {
  ConsumedLinear result;
  if (std::optional<PackableWeight> weight = packable(codegen, w))
    result.y = packedLinears(b, loc, codegen, x, {*weight}, /*given=*/nullptr,
                             weightStage(w), consume, &result.consumed);
  else
    result.y = linear(b, loc, codegen, x, w);
  return result;
}

/// x w^T for several weights of one input: one kernel when all are packed
/// checkpoint weights (packedLinearGroup), one linear layer each otherwise.
SmallVector<Value> linears(OpBuilder &b, Location loc, const Codegen &codegen,
                           Value x, ArrayRef<Value> ws, StringRef stage) {
  SmallVector<PackableWeight> packedWeights;
  for (Value w : ws)
    if (std::optional<PackableWeight> weight = packable(codegen, w))
      packedWeights.push_back(*weight);
  if (packedWeights.size() == ws.size() && ws.size() > 1)
    return packedLinearGroup(b, loc, codegen, x, packedWeights, stage);
  SmallVector<Value> results;
  for (Value w : ws)
    results.push_back(linear(b, loc, codegen, x, w));
  return results;
}

Value swiglu(OpBuilder &b, Location loc, Value like, Value gate, Value up) {
  int64_t inter = cast<RankedTensorType>(gate.getType()).getDimSize(1);
  MLIRContext *ctx = b.getContext();
  AffineMap identity = AffineMap::getMultiDimIdentityMap(2, ctx);
  Value init = emptyLike(b, loc, like, {inter});
  return linalg::GenericOp::create(
             b, loc, init.getType(), ValueRange{gate, up}, ValueRange{init},
             ArrayRef<AffineMap>{identity, identity, identity},
             {kParallel, kParallel},
             [](OpBuilder &nb, Location nl, ValueRange args) {
               Value product = arith::MulFOp::create(
                   nb, nl, silu(nb, nl, args[0]), args[1]);
               linalg::YieldOp::create(nb, nl, product);
             })
      .getResult(0);
}

Value swigluProjections(OpBuilder &b, Location loc, const Codegen &codegen,
                        Value x, Value gate, Value up) {
  std::optional<PackableWeight> packedGate = packable(codegen, gate),
                                packedUp = packable(codegen, up);
  if (packedGate && packedUp && packAlike(*packedGate, *packedUp))
    return packedLinears(
        b, loc, codegen, x, {*packedGate, *packedUp},
        [](OpBuilder &eb, Location el, ValueRange acc) -> Value {
          return arith::MulFOp::create(eb, el, silu(eb, el, acc[0]), acc[1]);
        },
        weightStage(gate) + "_up");
  Value gateOut = linear(b, loc, codegen, x, gate);
  Value upOut = linear(b, loc, codegen, x, up);
  return swiglu(b, loc, x, gateOut, upOut);
}


} // namespace hybrid::lowering
