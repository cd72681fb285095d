//===- HybridToLinalg.cpp - hybrid ops to linalg and loops ------*- C++ -*-===//
//
// convert-hybrid-to-linalg: the pass, the linear layers in the forms the
// target takes, embed, rms_norm, lm_head, mlp, the MoE ops, mtp and
// dequantize, and the pieces the stateful ops share (state buffers, the
// causal conv). Attention and MLA, Gated DeltaNet and Mamba lower in files
// of their own (HybridToLinalgLowering.h).
//
//===----------------------------------------------------------------------===//

#include "passes/Conversion/HybridToLinalgLowering.h"

#include "dialects/Hybrid/IR/HybridOps.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Func/Transforms/FuncConversions.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/AffineMap.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"
#include "mlir/Transforms/DialectConversion.h"
#include "llvm/ADT/MapVector.h"

#include <cmath>

namespace hybrid {
#define GEN_PASS_DEF_CONVERTHYBRIDTOLINALGPASS
#include "passes/Passes.h.inc"
} // namespace hybrid

using namespace mlir;
using namespace hybrid;

namespace hybrid::lowering {
/// `value` as f32 inside a loop body (weights may be bf16, f16 or f32).
Value toF32(OpBuilder &b, Location loc, Value value) {
  Type element = getElementTypeOrSelf(value.getType());
  if (element.isF32())
    return value;
  Type f32 = b.getF32Type();
  if (auto vector = dyn_cast<VectorType>(value.getType()))
    f32 = VectorType::get(vector.getShape(), f32);
  if (element.getIntOrFloatBitWidth() < 32)
    return arith::ExtFOp::create(b, loc, f32, value);
  return arith::TruncFOp::create(b, loc, f32, value);
}

/// x[at] as f32, rounded to `roundTo` first when that is given and
/// narrower than x's elements: a linear layer's row past the tensor cores'
/// tiles reads x as the tiles take it (see mmaInput).
static Value readRounded(OpBuilder &b, Location loc, Value x, ValueRange at,
                         Type roundTo) {
  Value value = tensor::ExtractOp::create(b, loc, x, at);
  if (roundTo && roundTo.getIntOrFloatBitWidth() <
                     value.getType().getIntOrFloatBitWidth())
    value = arith::TruncFOp::create(b, loc, roundTo, value);
  return toF32(b, loc, value);
}

Value f32Constant(OpBuilder &b, Location loc, double value) {
  return arith::ConstantOp::create(b, loc, b.getF32FloatAttr(value));
}

Value sigmoid(OpBuilder &b, Location loc, Value x) {
  Value one = f32Constant(b, loc, 1.0);
  Value e = math::ExpOp::create(b, loc, arith::NegFOp::create(b, loc, x));
  return arith::DivFOp::create(b, loc, one, arith::AddFOp::create(b, loc, one, e));
}

/// silu(x) = x * sigmoid(x) = x / (1 + exp(-x)), of an f32 or a vector of
/// f32.
Value silu(OpBuilder &b, Location loc, Value x) {
  Value one = f32Constant(b, loc, 1.0);
  if (auto vector = dyn_cast<VectorType>(x.getType()))
    one = arith::ConstantOp::create(
        b, loc, vector, DenseElementsAttr::get(vector, b.getF32FloatAttr(1.0)));
  Value e = math::ExpOp::create(b, loc, arith::NegFOp::create(b, loc, x));
  return arith::DivFOp::create(b, loc, x, arith::AddFOp::create(b, loc, one, e));
}

/// An f32 tensor whose leading dimension is `rows`' leading dimension
/// (the token count) and whose other dimensions are `trailing`.
Value emptyLike(OpBuilder &b, Location loc, Value rows,
                ArrayRef<int64_t> trailing) {
  SmallVector<int64_t> shape = {ShapedType::kDynamic};
  llvm::append_range(shape, trailing);
  Value tokens = tensor::DimOp::create(b, loc, rows, 0);
  return tensor::EmptyOp::create(b, loc, shape, b.getF32Type(),
                                 ValueRange{tokens});
}

/// emptyLike filled with zeros.
Value zerosLike(OpBuilder &b, Location loc, Value rows,
                ArrayRef<int64_t> trailing) {
  Value empty = emptyLike(b, loc, rows, trailing);
  return linalg::FillOp::create(b, loc, f32Constant(b, loc, 0.0), empty)
      .getResult(0);
}

/// acc + x * y as one step of a dot product: reassociable (kDotMath), so
/// that LLVM vectorises the loop it is in.
Value dotStep(OpBuilder &b, Location loc, Value acc, Value x, Value y) {
  return arith::AddFOp::create(b, loc, acc,
                               arith::MulFOp::create(b, loc, x, y, kDotMath),
                               kDotMath);
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

/// DequantizeLowering's kernel carries the block of its scales under this
/// name, so that the kernels that read the weight (packed: packableSource;
/// in the checkpoint's layout: RowMajorWeight::of) find the fp8 tensors
/// behind it and decode them as they load them; the kernel, then unused,
/// is dropped by canonicalize.
constexpr StringLiteral kDequantizedBlockAttr = "hybrid.dequantized_block";

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

/// Tokens per workgroup of the column form: scalar accumulators, one per
/// (token, weight); each weight element loaded serves them all.
constexpr int64_t kColumnTokens = 8;

/// The GPU forms' MoE grouping (its block): at most this many runs of the
/// tokens, a thread each, their per-expert counts (i32) within this many
/// bytes of the block's shared memory.
constexpr int64_t kSortSpans = 32, kSortSpanBytes = 8 * 1024;

/// Token tiles of the mma form's workgroups for linear layers of `weights`
/// weights sharing x: the block reuses each staged weight row for 64
/// tokens, 32 for a pair (gate and up), which keeps a warp's accumulators
/// to 16 tiles (64 registers).
constexpr int64_t mmaLinearRowTiles(int64_t weights) {
  return std::max<int64_t>(1, 4 / weights);
}

/// Token tiles of the grouped experts' mma workgroups: one tile table
/// (groups of an expert's full tiles) serves both projections, so both
/// take the gate/up pair's; with warpgroup products (Codegen::warpgroup)
/// the warpgroup's 64 rows, a token tile per warp.
int64_t mmaExpertRowTiles(const Codegen &codegen) {
  return codegen.warpgroup ? hybrid::kBlockWarps : mmaLinearRowTiles(2);
}

/// fp8 e4m3fn bits (`raw`: f8E4M3FN, or a vector of them) as f32, exactly
/// (LLVM has no f8 type to extend from): the 7 bits below the sign put at
/// f32's bits 20..26 are the value times 2^-120 (an fp8 subnormal an f32
/// subnormal, which IEEE arithmetic keeps), the sign goes to bit 31, and
/// S.1111.111 is NaN (e4m3fn has no infinities). Sign-extending the byte
/// first puts both in place with one shift and one mask (its copies of the
/// sign fill bits 27..31).
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
  auto index = [&](int64_t c) -> Value {
    return arith::ConstantIndexOp::create(b, loc, c);
  };
  SmallVector<Value> scaleAt(at.take_front(lead));
  scaleAt.push_back(arith::DivUIOp::create(b, loc, row, index(blockRows)));
  scaleAt.push_back(arith::DivUIOp::create(b, loc, k, index(blockCols)));
  return dequantizeFP8(b, loc, raw,
                       tensor::ExtractOp::create(b, loc, scale, scaleAt), element);
}

/// A checkpoint weight that the packed forms can read (packable): the
/// tensor, and for an fp8 block-quantized weight its block scales, whose
/// blocks of blockRows x blockCols hold whole panels. `element` is the
/// weight's type as the layer sees it (hybrid.dequantize's result, to
/// which the dequantized weights round).
struct PackableWeight {
  WeightOp weight, scale;
  int64_t blockRows = 0, blockCols = 0;
  Type element;

  /// The checkpoint tensor's type, [lead..., out, in].
  RankedTensorType type() const { return WeightOp(weight).getType(); }
};

/// A packable weight in panels: `data` [lead..., panels, in, panel] of the
/// checkpoint's element (hybrid.weight packed(panel); the artifact writer
/// packs the bytes) and, for fp8, the block scales [lead..., out blocks, in
/// blocks] as stored.
struct PackedWeight : RowMajorWeight {
  Type stored() const {
    return cast<ShapedType>(data.getType()).getElementType();
  }
  int64_t panel() const {
    return cast<ShapedType>(data.getType()).getShape().back();
  }
  /// The weights at [lead..., p, k, j .. j + width) as vector<width x f32>
  /// (an f32 for width 0), fp8 decoded, scaled and rounded to `element`.
  Value read(OpBuilder &b, Location loc, ValueRange at, int64_t width) const {
    size_t n = at.size();
    if (!scale)
      return readScaled(b, loc, at, width, n - 3, {}, {});
    // The panel's rows share a block row: that of row p * panel.
    Value row = arith::MulIOp::create(
        b, loc, at[n - 3], arith::ConstantIndexOp::create(b, loc, panel()));
    return readScaled(b, loc, at, width, n - 3, row, at[n - 2]);
  }
};

/// The packed copy of a packable weight `[lead..., out, in]`: panels of
/// `panel` output rows (see PackedWeight).
PackedWeight packedCopy(OpBuilder &b, const PackableWeight &source, int64_t panel) {
  WeightOp weight = source.weight, scale = source.scale;
  RankedTensorType plain = source.type();
  ArrayRef<int64_t> shape = plain.getShape();
  SmallVector<int64_t> packed(shape.drop_back(2));
  int64_t out = shape[shape.size() - 2], in = shape.back();
  packed.append({static_cast<int64_t>(llvm::divideCeil(out, panel)), in, panel});
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointAfter(weight);
  Value data = WeightOp::create(
      b, weight.getLoc(), RankedTensorType::get(packed, plain.getElementType()),
      weight.getNameAttr(), weight.getExpertsAttr(), b.getI64IntegerAttr(panel));
  return {{data, scale ? scale.getResult() : Value(), source.blockRows,
           source.blockCols, source.element}};
}

/// The checkpoint tensors behind a linear layer's weight `w` (a stack of
/// experts' when `experts`) if the packed forms can read them: a
/// hybrid.weight not yet packed, or the fp8 tensors of a dequantize kernel
/// (kDequantizedBlockAttr) whose block rows hold whole panels.
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

/// Combines a row's accumulators, one vector<panel> per weight, into what
/// is stored for that row.
using PanelEpilogue =
    llvm::function_ref<Value(OpBuilder &, Location, ValueRange)>;

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

/// The CPU panel form's outer products: from the accumulators `init`
/// (rowCount rows, row-major over the weights), per input k in [kBegin,
/// kEnd) the weights' panels at k (panelsAt: one vector<panel x f32> per
/// weight) and one broadcast FMA per (row, weight), xAt(m, k) row m's input
/// k as f32. The loop's results are the sums.
scf::ForOp panelProducts(ImplicitLocOpBuilder &b, int64_t rowCount, ValueRange init,
                         Value kBegin, Value kEnd,
                         function_ref<SmallVector<Value>(Value)> panelsAt,
                         function_ref<Value(int64_t, Value)> xAt) {
  return scf::ForOp::create(
      b, kBegin, kEnd, arith::ConstantIndexOp::create(b, 1), init,
      [&](OpBuilder &lb, Location, Value k, ValueRange accs) {
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPoint(lb.getInsertionBlock(), lb.getInsertionPoint());
        SmallVector<Value> panels = panelsAt(k);
        auto vf32 = cast<VectorType>(panels.front().getType());
        SmallVector<Value> next;
        for (int64_t m = 0; m < rowCount; ++m) {
          Value splat = vector::BroadcastOp::create(b, vf32, xAt(m, k));
          for (auto [w, panel] : llvm::enumerate(panels))
            next.push_back(vector::FMAOp::create(b, splat, panel,
                                                 accs[m * panels.size() + w]));
        }
        scf::YieldOp::create(b, next);
      });
}

/// One workgroup of a packed linear kernel: panel `p` of the weights
/// `packed` (all [panels, in, panel]) applied to the tokens of
/// tile `tileIndex` (tiles of `tileTokens`), epilogue(accumulators) stored
/// into y[token, p * panel ..] (masked past `out`). A full tile keeps
/// tileTokens x weights vector<panel> accumulators: per input column, one
/// vector load of each weight's panel and one broadcast FMA per (token,
/// weight) (outer products). Other tiles (decode's single token) run the
/// same loop one token at a time. Each output is a sum over the inputs in
/// order, the same in every tile shape.
void packedWorkgroup(OpBuilder &pb, Location pl, int64_t panel, Value x,
                     ArrayRef<PackedWeight> packed, int64_t out, int64_t in,
                     int64_t tileTokens, Value tokens, Value y,
                     PanelEpilogue epilogue, Value p, Value tileIndex) {
  Type f32 = pb.getF32Type();
  auto vf32 = VectorType::get({panel}, f32);
  auto index = [&](OpBuilder &ib, int64_t v) -> Value {
    return arith::ConstantIndexOp::create(ib, pl, v);
  };
  Value o0 = arith::MulIOp::create(pb, pl, p, index(pb, panel));
  Value vzero = arith::ConstantOp::create(
      pb, pl, vf32, DenseElementsAttr::get(vf32, pb.getF32FloatAttr(0.0)));
  // Accumulators of rows `rows` (row-major over weights) over all inputs,
  // combined and stored to y.
  auto tileOf = [&](OpBuilder &tb, Location tl, ArrayRef<Value> rows) {
    size_t perRow = packed.size();
    SmallVector<Value> init(rows.size() * perRow, vzero);
    ImplicitLocOpBuilder ib(tl, tb);
    auto loop = panelProducts(
        ib, rows.size(), init, index(tb, 0), index(tb, in),
        [&](Value k) {
          SmallVector<Value> panels;
          for (const PackedWeight &w : packed)
            panels.push_back(w.read(ib, tl, ValueRange{p, k, index(ib, 0)}, panel));
          return panels;
        },
        [&](int64_t m, Value k) -> Value {
          return tensor::ExtractOp::create(ib, x, ValueRange{rows[m], k});
        });
    for (auto [r, row] : llvm::enumerate(rows)) {
      Value result =
          epilogue(tb, tl, loop.getResults().slice(r * perRow, perRow));
      vector::TransferWriteOp::create(tb, tl, result, y, ValueRange{row, o0},
                                      ArrayRef<bool>{out % panel == 0});
    }
  };
  forTileRows(pb, pl, tileTokens, tileIndex, tokens, tileOf);
}

/// The inputs of a row of the CPU panel form: inputsOf(row), called once
/// per row of a tile before the loop over the inputs (where the row's
/// inputs are is loaded there), gives the function that reads its input k
/// as f32.
using RowInputs = function_ref<std::function<Value(Value)>(Value)>;

/// Inputs per chunk of a staged panel (stagedPanelRows): a chunk of a
/// panel of 64 bf16 weights is 16 KiB, read from L1 by every tile.
constexpr int64_t kStageDepth = 128;
/// Token tiles that share each staged chunk: its decoding is then an eighth
/// of what each tile decoding its own weights costs.
constexpr int64_t kStagedTiles = 8;

/// The CPU panel form's rows [first, end) (at most kStagedTiles tiles of
/// `tileTokens`; full tiles, then one row at a time) for weights that are
/// decoded as read (fp8, PackedWeight::read): each chunk of kStageDepth
/// inputs of panel p (of the weights at `lead`, e.g. an expert) is decoded
/// once into `stage` ([weights, kStageDepth, panel] of the dequantized
/// type), which every tile then multiplies as plain packed weights; the
/// sums wait in `sums` ([kStagedTiles * tileTokens, weights, panel] f32)
/// between chunks. Each output is the same sum over the inputs in order as
/// packedWorkgroup's. finish(row, sums) stores a row's results.
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
      auto loop = panelProducts(
          b, rows.size(), init, k0, k1,
          [&](Value k) {
            Value local = arith::SubIOp::create(b, k, k0);
            SmallVector<Value> panels;
            for (size_t w = 0; w < packed.size(); ++w)
              panels.push_back(toF32(
                  b, b.getLoc(),
                  vector::TransferReadOp::create(
                      b, stored, stage, ValueRange{loops.index(w), local, zero},
                      arith::ConstantOp::create(b, element, b.getFloatAttr(element, 0.0)),
                      ArrayRef<bool>{true})));
            return panels;
          },
          [&](int64_t m, Value k) { return inputs[m](k); });
      for (auto [m, row] : llvm::enumerate(rows))
        writeSums(row, loop.getResults().slice(m * packed.size(), packed.size()));
    });
    return SmallVector<Value>{};
  });
  loops.forLoop(first, end, {}, [&](Value row, ValueRange) {
    finish(row, readSums(row));
    return SmallVector<Value>{};
  });
}

/// Whether the packed weights `packed` are all decoded as read (fp8) into
/// one dequantized type: the CPU panel form then stages them
/// (stagedPanelRows).
bool decodedAsRead(ArrayRef<PackedWeight> packed) {
  return llvm::all_of(packed, [&](const PackedWeight &w) {
    return w.scale && w.element == packed.front().element;
  });
}

/// The scratch of stagedPanelRows for `weights` weights like `like`, rows
/// in tiles of `tileTokens`: {stage, sums}.
std::pair<Value, Value> stagedPanelScratch(LoopNest &loops, const PackedWeight &like,
                                           int64_t weights, int64_t tileTokens) {
  int64_t panel = like.panel();
  return {loops.scratch({weights, kStageDepth, panel}, like.element),
          loops.scratch({kStagedTiles * tileTokens, weights, panel},
                        loops.b.getF32Type())};
}

/// The staged group of rows from `first`: its end (kStagedTiles tiles of
/// `tileTokens` rows, at most `limit`) and whether it holds more than one
/// tile (stagedPanelRows then; a tile alone reads its weights directly).
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

/// The GEMV form's shape for weights [out, in] of `element` packed in
/// panels of `panel`: elements per 16-byte load, loads per panel row,
/// slices of a split's inputs, splits. Empty where it does not apply (a
/// panel row not whole loads that divide a block; inputs not whole
/// slices).
struct GemvShape {
  int64_t width, loads, slices, splits;
};
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

/// An scf.parallel over [0, ubs[0]) x [0, ubs[1]) x ... that is one of the
/// forms of a linear layer, which writes rows of its output that the
/// layer's other forms do not (marked kRowFormAttr). Dimensions of one
/// iteration are left out (`body` gets 0 for them): canonicalize would
/// drop them by rebuilding the loop, without the mark.
static scf::ParallelOp
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

/// Whether a call's `rows` (past the tensor cores' tiles) take the GEMV
/// form: 1 to kGemvRows of them. None (a prompt of whole tiles) launches
/// neither form.
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

/// One GEMV workgroup's part for panel `p` of the weights `packed` (read
/// at [lead..., p, k, j]) and the inputs of split `split`: for each row of
/// [rowBegin, rowEnd), whose inputs xAt(row, k) gives, a thread per
/// (slice of the split's inputs, 16-byte load of the panel's row) sums its
/// slice into `sliceSums` [weights * slices, panel], then a thread per
/// (weight, column) sums the slices into sums[sumsRow(row), weight, split,
/// p * panel + column]. The last of the panel's workgroups (unit `unit` of
/// `counts`, null for one split: lastOfSplits) then gives finish(row, p *
/// panel + column, the sums over the splits as vector<1>, one per weight)
/// for each row and each column of the panel below `out` (the last panel's
/// columns past it are padding).
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
      gemvPanelSums(b, loops, shape, panel, output.out, in, output.packed, {}, p, ivs[1],
                    first, add(first, rows), xAt, sliceSums, sums[o], sumsRow,
                    counts, ivs[0], finish);
    }); });
  });
}

/// The tensor cores' operand type for weights of `element`: bf16 weights
/// multiply bf16 activations (bf16 m16n8k16); others run on f32 tiles
/// (tf32 m16n8k8; f16 weights are widened, as f16 activations could
/// overflow).
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

/// The mma form's staged tiles of one kernel: for each step of `depth`
/// inputs, the workgroup's `rowTiles` token tiles of x [rowTiles *
/// kMmaTokens, depth] and kBlockWarps panels of each weight [depth,
/// kBlockWarps * panel], rows padded, in the tensor cores' operand type;
/// kMmaStageSlots of each, one after another in the rows. Scratch at the
/// function's entry, shared by the workgroup's warps (GPU shared memory).
/// With `warpgroup` (warpgroupFits) the tiles are 8x8 core matrices
/// instead of padded rows, as hybrid.warpgroup_mma reads them: x's [slot
/// and row / 8, input / 8, 8, 8], each weight's [slot and input / 8,
/// output / 8, 8, 8].
struct MmaStage {
  Type type;
  int64_t depth, rowTiles;
  bool warpgroup;
  Value x;
  SmallVector<Value> weights;
};

/// Whether the mma form of weights of `element` may take the warpgroup
/// form (Codegen::warpgroup): bf16 tiles whose kBlockWarps panels make a
/// valid wgmma N (a multiple of 8, at most 256).
bool warpgroupFits(const Codegen &codegen, Type element) {
  int64_t n = hybrid::kBlockWarps * codegen.panel;
  return codegen.warpgroup && element.isBF16() && n % 8 == 0 && n <= 256;
}

MmaStage mmaStage(OpBuilder &b, Location loc, Type element, int64_t in,
                  int64_t panel, int64_t weights, int64_t rowTiles,
                  bool warpgroup = false) {
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

/// One workgroup of the mma form (Codegen::mma), a block of kBlockWarps
/// warps: ys[i][t0 .. t0 + stage.rowTiles * kMmaTokens, panel group *
/// kBlockWarps + w] = x w_i^T for the token tiles from t0 that are inside
/// the full tiles [0, rows), warp w taking one panel of the weights
/// `packed` (all [lead..., panels, in, panel] of one element type, read at
/// the indices `lead`, e.g. an expert's). For each step of inputs the
/// block copies x's tiles and its panels of every weight into a slot of
/// `stage` (cooperative loops, 16 or 32 bytes per copy), then each warp
/// runs kMmaTokens x kMmaOutputs x mmaDepth vector.contract tiles from the
/// slot, accumulators carried over the steps. The copies of step i + 1 go
/// to the other slot before the warps multiply step i's, marked
/// kPrefetchAttr: on a GPU they are in flight (cp.async) while the tensor
/// cores work, with one barrier per step. Panels past the last, and
/// token tiles past `rows` (x's rows read as row rows - 1), are computed
/// but not stored, so that every warp takes part in the copies.
void mmaWorkgroup(OpBuilder &pb, Location pl, const MmaStage &stage,
                  int64_t panel, Value x, ArrayRef<PackedWeight> packed,
                  int64_t out, int64_t in, ArrayRef<Value> ys, Value group,
                  Value t0, Value rows, ValueRange lead = {}) {
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

/// x's first `rows` rows (of [tokens, in]: the full tiles') as the mma
/// form stages them, for tiles of `stageType`: bf16 tiles take x rounded
/// to bf16 once, by a kernel before (`stage`_mma_input), so that each
/// workgroup of the mma kernel copies half the bytes and converts nothing
/// (cp.async on a GPU) instead of rounding x as it stages it; f32 tiles
/// take x as it is. The layer's rows past the full tiles (GEMV and column
/// forms) read x rounded the same way as they read it (readRounded): a
/// token's outputs do not depend on whether its call's rows filled a tile
/// (one prompt, the same prompt split, decode steps), and a decode step,
/// which fills none, launches no rounding kernel.
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

/// Whether linear layers [out, in] of `element` (`weights` of them sharing
/// each tile of x, workgroups of `rowTiles` token tiles) take the mma form.
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
/// vector. Workgroups are (panel, tile of kPackedTokens / weights tokens),
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
  int64_t tileTokens = kPackedTokens / static_cast<int64_t>(weights.size());
  auto identity = [](OpBuilder &, Location, ValueRange acc) { return acc.front(); };
  PanelEpilogue epilogue = given ? given : PanelEpilogue(identity);
  SmallVector<PackedWeight> packed;
  for (const PackableWeight &weight : weights)
    packed.push_back(packedCopy(b, weight, panel));
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
    scf::ParallelOp::create(
        b, named, ValueRange{zero, zero},
        ValueRange{arith::ConstantIndexOp::create(b, loc, panels), tokenTiles},
        ValueRange{one, one}, [&](OpBuilder &pb, Location pl, ValueRange ivs) {
          packedWorkgroup(pb, pl, panel, x, packed, out, in, tileTokens, tokens,
                          y, epilogue, ivs[0], ivs[1]);
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
  for (const PackableWeight &weight : weights) {
    auto plain = weight.type();
    int64_t out = plain.getDimSize(0), in = plain.getDimSize(1);
    members.push_back({packedCopy(b, weight, panel),
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
                       packedWorkgroup(rb, pl, panel, x, {m.packed}, m.out, m.in,
                                       tileTokens, tokens, m.y, identity, local,
                                       tile);
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

/// Whether packable weights `a` and `b` can share a packed kernel: one
/// stored and one dequantized element type, one block.
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

/// silu(gate) * up, elementwise over [tokens, intermediate].
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

/// silu(x gate^T) * (x up^T). With packed weights both projections and the
/// activation are one kernel: each token tile applies the gate and up panels
/// together (half the tokens per tile, to keep the accumulators in
/// registers) and stores only the activation.
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

/// `y[r, :] = table[indices[r], :]` in f32: the embedding lookup and the
/// selection of the rows that get logits.
Value gatherRows(OpBuilder &b, Location loc, Value table, Value indices) {
  int64_t width = cast<RankedTensorType>(table.getType()).getDimSize(1);
  Value init = emptyLike(b, loc, indices, {width});
  MLIRContext *ctx = b.getContext();
  AffineExpr r, h;
  bindDims(ctx, r, h);
  SmallVector<AffineMap> maps = {AffineMap::get(2, 0, {r}, ctx),
                                 AffineMap::get(2, 0, {r, h}, ctx)};
  return linalg::GenericOp::create(
             b, loc, init.getType(), ValueRange{indices}, ValueRange{init}, maps,
             {kParallel, kParallel},
             [&](OpBuilder &nb, Location nl, ValueRange args) {
               Value row = arith::IndexCastOp::create(nb, nl, nb.getIndexType(),
                                                      args[0]);
               Value column = linalg::IndexOp::create(nb, nl, 1);
               Value element = tensor::ExtractOp::create(
                   nb, nl, table, ValueRange{row, column});
               linalg::YieldOp::create(nb, nl, toF32(nb, nl, element));
             })
      .getResult(0);
}

struct EmbedLowering : HybridLowering<EmbedOp> {
  using HybridLowering::HybridLowering;
  LogicalResult
  matchAndRewrite(EmbedOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    rewriter.replaceOp(op, gatherRows(rewriter, op.getLoc(), adaptor.getTable(),
                                      adaptor.getTokens()));
    return success();
  }
};

struct SelectRowsLowering : HybridLowering<SelectRowsOp> {
  using HybridLowering::HybridLowering;
  LogicalResult
  matchAndRewrite(SelectRowsOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    rewriter.replaceOp(op, gatherRows(rewriter, op.getLoc(), adaptor.getInput(),
                                      adaptor.getRows()));
    return success();
  }
};

/// RMSNorm of every row of x [tokens, dim] (models.md 0.1), in f32.
Value normalizeRows(OpBuilder &b, Location loc, Value x, Value weight,
                    Value gate, NormKind kind, double epsilon) {
  int64_t dim = cast<RankedTensorType>(x.getType()).getDimSize(1);
  MLIRContext *ctx = b.getContext();
  AffineExpr t, j;
  bindDims(ctx, t, j);
  AffineMap rowMap = AffineMap::get(2, 0, {t}, ctx);
  AffineMap fullMap = AffineMap::get(2, 0, {t, j}, ctx);
  AffineMap columnMap = AffineMap::get(2, 0, {j}, ctx);

  // Sum of squares per row.
  Value sums = zerosLike(b, loc, x, {});
  Value sumSquares =
      linalg::GenericOp::create(
          b, loc, sums.getType(), ValueRange{x}, ValueRange{sums},
          ArrayRef<AffineMap>{fullMap, rowMap}, {kParallel, kReduction},
          [](OpBuilder &nb, Location nl, ValueRange args) {
            Value square = arith::MulFOp::create(nb, nl, args[0], args[0]);
            Value sum = arith::AddFOp::create(nb, nl, args[1], square);
            linalg::YieldOp::create(nb, nl, sum);
          })
          .getResult(0);

  SmallVector<Value> inputs = {x, sumSquares, weight};
  SmallVector<AffineMap> maps = {fullMap, rowMap, columnMap};
  if (gate) {
    inputs.push_back(gate);
    maps.push_back(fullMap);
  }
  maps.push_back(fullMap);
  Value init = emptyLike(b, loc, x, {dim});
  return linalg::GenericOp::create(
             b, loc, init.getType(), inputs, ValueRange{init}, maps,
             {kParallel, kParallel},
             [&](OpBuilder &nb, Location nl, ValueRange args) {
               Value mean = arith::DivFOp::create(nb, nl, args[1],
                                                  f32Constant(nb, nl, dim));
               Value inv = math::RsqrtOp::create(
                   nb, nl,
                   arith::AddFOp::create(nb, nl, mean,
                                         f32Constant(nb, nl, epsilon)));
               Value r = arith::MulFOp::create(nb, nl, args[0], inv);
               Value w = toF32(nb, nl, args[2]);
               Value factor = w;
               if (kind == NormKind::zero_centered)
                 factor = arith::AddFOp::create(nb, nl, f32Constant(nb, nl, 1.0), w);
               Value y = arith::MulFOp::create(nb, nl, r, factor);
               if (kind == NormKind::gated)
                 y = arith::MulFOp::create(nb, nl, y,
                                           silu(nb, nl, toF32(nb, nl, args[3])));
               linalg::YieldOp::create(nb, nl, y);
             })
      .getResult(0);
}

struct RMSNormLowering : HybridLowering<RMSNormOp> {
  using HybridLowering::HybridLowering;
  LogicalResult
  matchAndRewrite(RMSNormOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    auto type = cast<RankedTensorType>(adaptor.getInput().getType());
    if (type.getRank() != 2 || !type.getElementType().isF32())
      return rewriter.notifyMatchFailure(op, "expects a [tokens, dim] f32 input");
    rewriter.replaceOp(op, normalizeRows(rewriter, op.getLoc(), adaptor.getInput(),
                                         adaptor.getWeight(), adaptor.getGate(),
                                         op.getKind(),
                                         op.getEpsilon().convertToDouble()));
    return success();
  }
};

struct LMHeadLowering : HybridLowering<LMHeadOp> {
  using HybridLowering::HybridLowering;
  LogicalResult
  matchAndRewrite(LMHeadOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    rewriter.replaceOp(op, linear(rewriter, op.getLoc(), codegen, adaptor.getInput(),
                                  adaptor.getWeight()));
    return success();
  }
};

struct MLPLowering : HybridLowering<MLPOp> {
  using HybridLowering::HybridLowering;
  LogicalResult
  matchAndRewrite(MLPOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value x = adaptor.getInput();
    Value activated = swigluProjections(rewriter, loc, codegen, x,
                                        adaptor.getGateProj(),
                                        adaptor.getUpProj());
    rewriter.replaceOp(op, linear(rewriter, loc, codegen, activated,
                                  adaptor.getDownProj()));
    return success();
  }
};

//===----------------------------------------------------------------------===//
// State buffers and the scans' causal conv
//===----------------------------------------------------------------------===//

/// The `hybrid.slots` argument of the function around `op`: present when
/// the pass batches the state buffers (max-batch > 1), else null.
Value slotsArgument(Operation *op) {
  auto func = op->getParentOfType<func::FuncOp>();
  for (unsigned i = 0, e = func.getNumArguments(); i < e; ++i)
    if (func.getArgAttr(i, "hybrid.slots"))
      return func.getArgument(i);
  return {};
}

Value sequenceCount(OpBuilder &b, Value slots) {
  auto slotsArg = cast<BlockArgument>(slots);
  auto func = cast<func::FuncOp>(slotsArg.getOwner()->getParentOp());
  for (unsigned i = 0, e = func.getNumArguments(); i < e; ++i) {
    if (!func.getArgAttr(i, "hybrid.sequences"))
      continue;
    // At the function's entry: a kernel then takes the count, not the
    // argument, whose data the runtime does not pass.
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(slotsArg.getOwner());
    Value zero = arith::ConstantIndexOp::create(b, func.getLoc(), 0);
    return tensor::DimOp::create(b, func.getLoc(), func.getArgument(i), zero);
  }
  llvm_unreachable("a function with slots has a sequences argument");
}

/// Indices into a state buffer for token `t`: behind the token's batch slot
/// (`slots[t]`) when the buffers are batched.
SmallVector<Value> stateAt(ImplicitLocOpBuilder &b, Value slots, Value t,
                           ValueRange indices) {
  SmallVector<Value> result;
  if (slots)
    result.push_back(arith::IndexCastOp::create(
        b, b.getIndexType(), tensor::ExtractOp::create(b, slots, t)));
  llvm::append_range(result, indices);
  return result;
}

/// One token's step of the causal depthwise conv of channel c (Gated
/// DeltaNet's and Mamba's): out[t, c] = silu(bias[c] + sum_j weight[c, 0,
/// j] window[j]) over the window [state (K-1 inputs) | `in`, the token's
/// input (f32)], which then shifts by one (the state keeps inputs in its
/// element type; token t's at batch slot slots[t] when given). `bias` may
/// be null.
void convStep(ImplicitLocOpBuilder &b, LoopNest &loops, Value c, Value t, Value in,
              Value weight, Value bias, Value convState, Value slots,
              int64_t kernel, Value out) {
  Location loc = b.getLoc();
  Type element = cast<MemRefType>(convState.getType()).getElementType();
  Value zero = loops.index(0), one = loops.index(1);
  auto weightAt = [&](Value j) {
    return toF32(b, loc, tensor::ExtractOp::create(b, weight, ValueRange{c, zero, j}));
  };
  auto at = [&](Value j) { return stateAt(b, slots, t, {c, j}); };
  Value acc = arith::MulFOp::create(b, weightAt(loops.index(kernel - 1)), in);
  if (bias)
    acc = arith::AddFOp::create(
        b, acc, toF32(b, loc, tensor::ExtractOp::create(b, bias, ValueRange{c})));
  acc = loops.forLoop(zero, loops.index(kernel - 1), {acc}, [&](Value j, ValueRange a) {
    Value past = toF32(b, loc, memref::LoadOp::create(b, convState, at(j)));
    return SmallVector<Value>{
        arith::AddFOp::create(b, a[0], arith::MulFOp::create(b, weightAt(j), past))};
  }).getResult(0);
  loops.forLoop(zero, loops.index(kernel - 2), {}, [&](Value j, ValueRange) {
    memref::StoreOp::create(
        b, memref::LoadOp::create(b, convState, at(arith::AddIOp::create(b, j, one))),
        convState, at(j));
    return SmallVector<Value>{};
  });
  Value kept = element.isF32() ? in
                               : arith::TruncFOp::create(b, element, in).getResult();
  memref::StoreOp::create(b, kept, convState, at(loops.index(kernel - 2)));
  memref::StoreOp::create(b, silu(b, loc, acc), out, ValueRange{t, c});
}

/// The causal depthwise conv of channel c over a call's tokens, token by
/// token: convStep for each. `input(t)` is channel c's input of token t.
void tokenByTokenConv(ImplicitLocOpBuilder &b, LoopNest &loops, Value c,
                      Value tokens, Value weight, Value bias, Value convState,
                      Value slots, int64_t kernel,
                      function_ref<Value(Value)> input, Value out) {
  loops.forLoop(loops.index(0), tokens, {}, [&](Value t, ValueRange) {
    convStep(b, loops, c, t, input(t), weight, bias, convState, slots, kernel, out);
    return SmallVector<Value>{};
  });
}

/// The causal depthwise conv as the GPU forms run it (Gated DeltaNet's and
/// Mamba's): each (token, channel) output from its own window, read from
/// the call's inputs and the conv state (a past input rounded to the
/// state's type, as the token-by-token form keeps it), so any thread may
/// compute any of them; the state moves to the sequence's last K-1 inputs
/// after every read of it. With batch slots, a call of several sequences
/// holds one token of each: a token's window is then all its slot's state.
Value ConvWindow::output(Value t, Value c) {
  Location loc = b.getLoc();
  Value zero = loops.index(0), past = loops.index(kernel - 1);
  Value newest = weightAt(c, past);
  Value acc = arith::MulFOp::create(b, newest, input(t, c));
  if (bias)
    acc = arith::AddFOp::create(
        b, acc, toF32(b, loc, tensor::ExtractOp::create(b, bias, ValueRange{c})));
  Value first = firstOf(t);
  // Token t's place among its sequence's tokens of the call.
  Value place = first ? arith::SubIOp::create(b, t, first).getResult() : t;
  acc = loops.forLoop(zero, past, {acc}, [&](Value j, ValueRange a) {
    // Window position j < K-1 of token t, rounded as the state keeps it.
    Value in = toF32(b, loc, kept(inputAt(c, first, arith::AddIOp::create(b, place, j))));
    Value term = arith::MulFOp::create(b, weightAt(c, j), in);
    return SmallVector<Value>{arith::AddFOp::create(b, a[0], term)};
  }).getResult(0);
  return silu(b, loc, acc);
}

// state[j] = input n - (K-1) + j of channel c, n the sequence's tokens in
// the call: from the state's own later entries (read before they are
// overwritten: j rises) or the call's inputs.
void ConvWindow::moveState(Value c, Value first) {
  Value past = loops.index(kernel - 1);
  Value count = tokens;
  if (slots)
    count = arith::SelectOp::create(b, loops.oneSequence(slots, true), tokens,
                                    loops.index(1));
  loops.forLoop(loops.index(0), past, {}, [&](Value j, ValueRange) {
    memref::StoreOp::create(b, kept(inputAt(c, first, arith::AddIOp::create(b, count, j))),
                            convState, stateIndex(c, j, first));
    return SmallVector<Value>{};
  });
}

// The call's index of the first token of token t's sequence; null without
// slots (0: the call holds one sequence).
Value ConvWindow::firstOf(Value t) {
  if (!slots)
    return Value();
  return arith::SelectOp::create(b, loops.oneSequence(slots, true), loops.index(0), t);
}

SmallVector<Value> ConvWindow::stateIndex(Value c, Value j, Value first) {
  return stateAt(b, slots, first, {c, j});
}

Value ConvWindow::weightAt(Value c, Value j) {
  return toF32(b, b.getLoc(),
               tensor::ExtractOp::create(b, weight, ValueRange{c, loops.index(0), j}));
}

Value ConvWindow::kept(Value in) {
  Type element = cast<MemRefType>(convState.getType()).getElementType();
  return element.isF32() ? in : arith::TruncFOp::create(b, element, in).getResult();
}

// Channel c's input at `back` = its place in its sequence + K - 1 (counted
// from the state's oldest), in f32: from the state when it precedes the
// call, else the call's (the sequence's tokens start at `first`). (The
// choice is made in f32: a bf16 phi would make LLVM call compiler-rt's
// __truncsfbf2 on x86, which artifacts do not link.)
Value ConvWindow::inputAt(Value c, Value first, Value back) {
  Value past = loops.index(kernel - 1);
  Value fromState = arith::CmpIOp::create(b, arith::CmpIPredicate::ult, back, past);
  auto pick = scf::IfOp::create(b, TypeRange{b.getF32Type()}, fromState, true);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(pick.thenBlock());
  scf::YieldOp::create(
      b, ValueRange{toF32(b, b.getLoc(),
                          memref::LoadOp::create(b, convState, stateIndex(c, back, first)))});
  b.setInsertionPointToStart(pick.elseBlock());
  Value at = arith::SubIOp::create(b, back, past);
  if (first)
    at = arith::AddIOp::create(b, first, at);
  scf::YieldOp::create(b, ValueRange{input(at, c)});
  return pick.getResult(0);
}

/// The conv's kernels: a workgroup per (token, channel) writes out[t, c],
/// then a workgroup per channel moves the state. Where each token is its
/// sequence's only one in the call (a decode step, a batch of them) its
/// workgroup is the only reader of its state and moves it itself: no
/// second kernel. Neither kernel has workgroups for the calls where
/// `elsewhere`, which the caller's own kernels convolve (Gated DeltaNet's
/// decode block, Mamba's in_proj GEMV).
void ConvWindow::run(int64_t channels, Value out, Value elsewhere) {
  Value zero = loops.index(0);
  Value alone = loops.eachAloneInSequence(tokens, slots);
  Value convTokens =
      elsewhere ? arith::SelectOp::create(b, elsewhere, zero, tokens).getResult()
                : tokens;
  Value noStateKernel =
      elsewhere ? arith::OrIOp::create(b, elsewhere, alone).getResult() : alone;
  loops.parallel("conv", {convTokens, loops.index(channels)}, [&](ValueRange ivs) {
    Value t = ivs[0], c = ivs[1];
    memref::StoreOp::create(b, output(t, c), out, ValueRange{t, c});
    loops.ifElse(alone, [&] { moveState(c, firstOf(t)); }, [] {});
  });
  loops.parallel("conv_state",
                 {arith::SelectOp::create(b, noStateKernel, zero, loops.index(channels))},
                 [&](ValueRange ivs) {
    moveState(ivs[0], slots ? zero : Value()); // a call of one sequence
  });
}

//===----------------------------------------------------------------------===//
// Mixture of Experts
//===----------------------------------------------------------------------===//

/// Lowers hybrid.moe to the router projection (linalg) and a per-token loop
/// nest that scores, selects and combines exactly as transformers does
/// (models.md 1.6, 2.6, 3.7): only the selected experts are computed. The
/// shared expert goes through the dense MLP path. The grouped dispatch of
/// hybrid-fuse-moe-routing replaces this reference form for speed.
/// The routing attributes of hybrid.moe / hybrid.moe_route.
struct RoutingSpec {
  int64_t experts, topK, groups, keptGroups;
  bool sigmoidScoring, renormalise;
  float scaling;
  Value bias; // the selection bias, or null
};

template <typename Op>
RoutingSpec routingSpec(Op op, int64_t experts, Value bias) {
  return {experts,
          static_cast<int64_t>(op.getTopK()),
          static_cast<int64_t>(op.getNGroup()),
          static_cast<int64_t>(op.getTopkGroup()),
          op.getScoring() == RouterScoring::sigmoid,
          op.getNormTopkProb(),
          static_cast<float>(op.getRoutedScalingFactor().convertToDouble()),
          bias};
}

/// The (token, slot) pairs of an MoE block grouped by expert (the routing
/// kernel's counting sort): expert e's entries are offsets[e] ..
/// offsets[e + 1] - 1, entry a is (entryToken[a], entrySlot[a]).
struct ExpertGroups {
  Value offsets, entryToken, entrySlot;
  /// GPU forms only (null otherwise): the experts with entries,
  /// active[0 .. activeCount[0]); and the experts' full tiles of kMmaTokens
  /// entries in groups of up to mmaExpertRowTiles, in order: group w of
  /// expert tileExpert[w] covers entries [tileFirst[w], tileEnd[w]), w <
  /// tileCount[0].
  Value active, activeCount, tileExpert, tileFirst, tileEnd, tileCount;
};

/// The kernels of an MoE block, shared by the reference lowering of
/// hybrid.moe and the lowerings of hybrid.moe_route / hybrid.moe_experts
/// (hybrid-fuse-moe-routing). Routing results are tensors: the chosen
/// experts [T, k] (i64) and their weights [T, k] (f32).
struct MoEKernels {
  ImplicitLocOpBuilder &b;
  LoopNest &loops;
  const Codegen &codegen;
  Location loc;

  Value index(int64_t v) { return loops.index(v); }
  Value f32c(double v) { return loops.f32(v); }
  scf::ForOp forLoop(Value lb, Value ub, ValueRange init, LoopNest::Body body) {
    return loops.forLoop(lb, ub, init, body);
  }
  Value scratch(int64_t n) { return loops.scratch(n, b.getF32Type()); }
  Value idxScratch(int64_t n) { return loops.scratch(n, b.getIndexType()); }
  Value sigmoid(Value v) { return lowering::sigmoid(b, loc, v); }
  /// Index and value of the largest `values[i]` with `taken[i] == 0`
  /// (first one on ties, like torch.topk on CPU).
  std::pair<Value, Value> argmax(Value values, Value taken, int64_t n) {
    Value zero = index(0);
    Value negInf = f32c(-std::numeric_limits<double>::infinity());
    auto loop = forLoop(zero, index(n), {zero, negInf}, [&](Value i,
                                                            ValueRange best) {
      Value v = memref::LoadOp::create(b, values, i);
      Value free = arith::CmpFOp::create(
          b, arith::CmpFPredicate::OEQ, memref::LoadOp::create(b, taken, i),
          f32c(0.0));
      Value better = arith::AndIOp::create(
          b, free,
          arith::CmpFOp::create(b, arith::CmpFPredicate::OGT, v, best[1]));
      return SmallVector<Value>{
          arith::SelectOp::create(b, better, i, best[0]),
          arith::SelectOp::create(b, better, v, best[1])};
    });
    return std::make_pair(loop.getResult(0), loop.getResult(1));
  }
  /// Dot product of weight[row..., :] and vector[prefix..., :] over n,
  /// reassociable as in `linear`; an fp8 weight read as its bytes.
  Value dot(Value weight, ValueRange row, Value vector, ValueRange prefix,
            int64_t n) {
    RowMajorWeight w = RowMajorWeight::of(weight);
    return forLoop(index(0), index(n), {f32c(0.0)}, [&](Value h, ValueRange acc) {
      SmallVector<Value> at(row), vat(prefix);
      at.push_back(h);
      vat.push_back(h);
      Value xv = isa<MemRefType>(vector.getType())
                     ? memref::LoadOp::create(b, vector, vat).getResult()
                     : tensor::ExtractOp::create(b, vector, vat).getResult();
      Value wv = w.read(b, loc, at, /*width=*/0);
      return SmallVector<Value>{arith::AddFOp::create(
          b, acc[0], arith::MulFOp::create(b, xv, wv, kDotMath), kDotMath)};
    }).getResult(0);
  }
  /// Token t's j-th chosen expert, as an index.
  Value expertAt(Value chosen, Value t, Value j) {
    return arith::IndexCastOp::create(
        b, b.getIndexType(), tensor::ExtractOp::create(b, chosen, ValueRange{t, j}));
  }

  /// body(e, c) for every expert e with entries (active[g] for g <
  /// activeCount[0], the routing kernel's list) and column c < columns: a
  /// workgroup per (g, c), min(experts, entries) of g, so that a decode
  /// step's few routed experts do not come with a workgroup per expert and
  /// column that finds nothing to do.
  void overActiveExperts(StringRef stage, const ExpertGroups &groups,
                         int64_t experts, int64_t columns,
                         function_ref<void(Value, Value)> body) {
    Value entries = memref::DimOp::create(b, groups.entryToken, 0);
    Value bound = arith::MinUIOp::create(b, entries, loops.index(experts));
    loops.parallel(stage, {bound, loops.index(columns)}, [&](ValueRange ivs) {
      Value live = arith::CmpIOp::create(
          b, arith::CmpIPredicate::ult, ivs[0],
          memref::LoadOp::create(b, groups.activeCount, ValueRange{loops.index(0)}));
      auto guard = scf::IfOp::create(b, live, /*withElseRegion=*/false);
      OpBuilder::InsertionGuard insertion(b);
      b.setInsertionPoint(guard.thenBlock()->getTerminator());
      body(memref::LoadOp::create(b, groups.active, ivs[0]), ivs[1]);
    });
  }

  /// sum_k row(m, k) * w[e, p, k, j] for output `column` (panel p, lane j)
  /// of each packed expert weight w, for rows m < rows: one scalar
  /// accumulator per (row, weight), results row-major over the weights.
  /// The column forms' inner loop.
  scf::ForOp expertColumnSums(ArrayRef<PackedWeight> weights, Value e, Value column,
                              int64_t in, int64_t rows,
                              function_ref<Value(int64_t, Value)> row) {
    Value p = arith::DivUIOp::create(b, column, index(codegen.panel));
    Value j = arith::RemUIOp::create(b, column, index(codegen.panel));
    SmallVector<Value> init(rows * weights.size(), f32c(0.0));
    return forLoop(index(0), index(in), init, [&](Value k, ValueRange accs) {
      SmallVector<Value> values, next;
      for (const PackedWeight &w : weights)
        values.push_back(w.read(b, loc, ValueRange{e, p, k, j}, 0));
      for (int64_t m = 0; m < rows; ++m) {
        Value a = row(m, k);
        for (size_t w = 0; w < weights.size(); ++w)
          next.push_back(
              math::FmaOp::create(b, a, values[w], accs[m * weights.size() + w]));
      }
      return next;
    });
  }

  /// The GEMV form (see kGemvRows) of an expert projection onto `out`
  /// outputs from `in` inputs for the entry positions entriesOf(e) = [first,
  /// end) of each routed expert e whose `few(first, end)`: a workgroup per
  /// (routed expert, panel, split of the inputs), the last of a panel's
  /// summing the splits and storing store(entry, output, sums as
  /// vector<1>, one per weight). rowAt(entry, k) is an input; a
  /// null `few` takes every expert. Returns false, building nothing, where
  /// the form does not apply.
  bool expertGemv(StringRef stage, ArrayRef<PackedWeight> weights, int64_t experts,
                  int64_t out, int64_t in, const ExpertGroups &groups,
                  function_ref<std::pair<Value, Value>(Value)> entriesOf,
                  function_ref<Value(Value, Value)> few,
                  function_ref<Value(Value, Value)> rowAt,
                  function_ref<void(Value, Value, ArrayRef<Value>)> store) {
    int64_t panel = codegen.panel, panels = llvm::divideCeil(out, panel);
    int64_t count = static_cast<int64_t>(weights.size());
    std::optional<GemvShape> shape =
        gemvShape(codegen, weights.front().stored(), panels, in);
    if (!shape)
      return false;
    Type f32 = b.getF32Type();
    Value entries = memref::DimOp::create(b, groups.entryToken, 0);
    Value zero = index(0);
    auto whenFew = [&](Value first, Value end, function_ref<void()> body) {
      if (few)
        loops.ifElse(few(first, end), body, [] {});
      else
        body();
    };
    Value sums = memref::AllocOp::create(
        b, MemRefType::get({ShapedType::kDynamic, count, shape->splits, panels * panel},
                           f32),
        ValueRange{entries});
    // A unit per (routed expert's place in `active`, panel).
    memref::GlobalOp counts;
    if (shape->splits > 1)
      counts = arrivalCounts(b, loc, stage, experts * panels);
    // Its entries' rows of the outputs are its own: the tiles' and the
    // columns' forms take the other entries (a row form).
    rowFormLoop(b, NameLoc::get(b.getStringAttr(stage + "_gemv"), loc),
                {arith::MinUIOp::create(b, entries, index(experts)), index(panels),
                 index(shape->splits)},
                [&](OpBuilder &nb, Location, ValueRange ivs) {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPoint(nb.getInsertionBlock(), nb.getInsertionPoint());
      Value sliceSums = loops.scratch({count * shape->slices, panel}, f32);
      Value live = arith::CmpIOp::create(
          b, arith::CmpIPredicate::ult, ivs[0],
          memref::LoadOp::create(b, groups.activeCount, ValueRange{zero}));
      loops.ifElse(live, [&] {
        Value e = memref::LoadOp::create(b, groups.active, ivs[0]);
        auto [first, end] = entriesOf(e);
        whenFew(first, end, [&] {
          gemvPanelSums(b, loops, *shape, panel, out, in, weights, ValueRange{e},
                        ivs[1], ivs[2], first, end, rowAt, sliceSums, sums,
                        [](Value row) { return row; }, counts,
                        arith::AddIOp::create(b, arith::MulIOp::create(
                                                     b, ivs[0], index(panels)),
                                              ivs[1]),
                        store);
        });
      }, [] {});
    });
    return true;
  }

  /// Grouped expert matmuls on packed expert weights: per (panel, expert),
  /// the expert's entries (the (token, slot) pairs routed to it, grouped by
  /// the counting sort) in register tiles of rows gathered by token, as
  /// packedWorkgroup's outer products: per input, one panel vector and one
  /// broadcast FMA per row. Gate and up share the tile (3 rows: 2 x 3
  /// accumulators), SiLU(gate) * up is stored to activations[t, j, panel];
  /// the down projection (6 rows) reads those rows and stores
  /// expertOut[t, j, panel]. Only the routed experts' panels are read.
  /// The column form of groupedExperts (Codegen::columns, the GPU's): one
  /// workgroup per (routed expert, output column: overActiveExperts),
  /// output columns fastest, so
  /// that neighbouring threads read neighbouring columns of a panel; each
  /// runs its column over the expert's entries in tiles, with one scalar
  /// accumulator per (entry, weight). The sums are those of the panel form,
  /// in the same order. Experts with at most kGemvRows entries (decode's
  /// every routed expert) take the GEMV form instead where it applies.
  void groupedExpertColumns(
      const PackedWeight &gatePacked, const PackedWeight &upPacked,
      const PackedWeight &downPacked, Value x,
      int64_t experts, int64_t inter, int64_t hidden,
      function_ref<void(Value, int64_t, function_ref<void(ArrayRef<Value>)>)>
          tiles,
      const ExpertGroups &groups, Value activations, Value expertOut) {
    Value entryToken = groups.entryToken, entrySlot = groups.entrySlot;
    // The tile's (token, slot) of each entry position.
    auto entryAt = [&](Value a) {
      return std::make_pair(memref::LoadOp::create(b, entryToken, a).getResult(),
                            memref::LoadOp::create(b, entrySlot, a).getResult());
    };
    auto entriesOf = [&](ArrayRef<Value> at, SmallVector<Value> &tokens,
                         SmallVector<Value> &slots) {
      for (Value a : at) {
        auto [t, j] = entryAt(a);
        tokens.push_back(t);
        slots.push_back(j);
      }
    };
    // Expert e's entry positions.
    auto expertEntries = [&](Value e) -> std::pair<Value, Value> {
      Value next = arith::AddIOp::create(b, e, index(1));
      return {memref::LoadOp::create(b, groups.offsets, e),
              memref::LoadOp::create(b, groups.offsets, next)};
    };
    auto few = [&](Value first, Value end) {
      return gemvTakes(b, arith::SubIOp::create(b, end, first));
    };
    // The column kernels then take the other experts.
    auto unlessGemv = [&](bool gemv, Value e, function_ref<void()> body) {
      if (!gemv)
        return body();
      auto [first, end] = expertEntries(e);
      loops.ifElse(few(first, end), [] {}, body);
    };
    bool gateUpGemv = expertGemv(
        "expert_gate_up", {gatePacked, upPacked}, experts, inter, hidden, groups,
        expertEntries, few,
        [&](Value a, Value k) -> Value {
          return tensor::ExtractOp::create(
              b, x, ValueRange{memref::LoadOp::create(b, entryToken, a), k});
        },
        [&](Value a, Value i, ArrayRef<Value> sums) {
          auto [t, j] = entryAt(a);
          Value g = vector::ExtractOp::create(b, sums[0], ArrayRef<int64_t>{0});
          Value u = vector::ExtractOp::create(b, sums[1], ArrayRef<int64_t>{0});
          memref::StoreOp::create(b, arith::MulFOp::create(b, silu(b, b.getLoc(), g), u),
                                  activations, ValueRange{t, j, i});
        });
    overActiveExperts("expert_gate_up", groups, experts, inter,
                      [&](Value e, Value i) { unlessGemv(gateUpGemv, e, [&] {
      tiles(e, kColumnTokens / 2, [&](ArrayRef<Value> at) {
        SmallVector<Value> tokens, slots;
        entriesOf(at, tokens, slots);
        auto sums = expertColumnSums({gatePacked, upPacked}, e, i, hidden, at.size(),
                               [&](int64_t m, Value k) -> Value {
                                 return tensor::ExtractOp::create(
                                     b, x, ValueRange{tokens[m], k});
                               });
        for (size_t m = 0; m < at.size(); ++m) {
          Value g = sums.getResult(2 * m), u = sums.getResult(2 * m + 1);
          memref::StoreOp::create(b, arith::MulFOp::create(b, silu(b, b.getLoc(), g), u),
                                  activations, ValueRange{tokens[m], slots[m], i});
        }
      });
    }); });
    bool downGemv = expertGemv(
        "expert_down", {downPacked}, experts, hidden, inter, groups, expertEntries, few,
        [&](Value a, Value k) -> Value {
          auto [t, j] = entryAt(a);
          return memref::LoadOp::create(b, activations, ValueRange{t, j, k});
        },
        [&](Value a, Value h, ArrayRef<Value> sums) {
          auto [t, j] = entryAt(a);
          memref::StoreOp::create(
              b, vector::ExtractOp::create(b, sums[0], ArrayRef<int64_t>{0}), expertOut,
              ValueRange{t, j, h});
        });
    overActiveExperts("expert_down", groups, experts, hidden,
                      [&](Value e, Value h) { unlessGemv(downGemv, e, [&] {
      tiles(e, kColumnTokens, [&](ArrayRef<Value> at) {
        SmallVector<Value> tokens, slots;
        entriesOf(at, tokens, slots);
        auto sums = expertColumnSums({downPacked}, e, h, inter, at.size(),
                               [&](int64_t m, Value k) -> Value {
                                 return memref::LoadOp::create(
                                     b, activations, ValueRange{tokens[m], slots[m], k});
                               });
        for (size_t m = 0; m < at.size(); ++m)
          memref::StoreOp::create(b, sums.getResult(m), expertOut,
                                  ValueRange{tokens[m], slots[m], h});
      });
    }); });
  }

  /// The mma form of the grouped experts (Codegen::mma, when both
  /// projections fit the tiles): the rows of x of the experts' full tiles
  /// of kMmaTokens entries are gathered in entry order, expert by expert,
  /// so that each full tile is contiguous rows; those run as contract
  /// tiles, a workgroup per (group of up to mmaExpertRowTiles of an
  /// expert's full tiles, kBlockWarps panels) reading its expert and
  /// entries from the routing kernel's tile table. Their gate and up
  /// products land in entry order, SwiGLU runs on them in one elementwise
  /// kernel (exp does not run on tensor-core fragments), the down
  /// projection reads those rows the same way, and its products are
  /// scattered to expertOut[t, j, :]. The entries past an expert's last
  /// full tile (GEMV or columns) read x by token and store SwiGLU's
  /// activations and expertOut themselves: a decode step, with no full
  /// tile, runs no gather, SwiGLU or scatter kernel.
  void groupedExpertTiles(const PackedWeight &gatePacked,
                          const PackedWeight &upPacked,
                          const PackedWeight &downPacked, Value x,
                          int64_t experts, int64_t inter,
                          int64_t hidden, const ExpertGroups &groups,
                          Value expertOut) {
    Value offsets = groups.offsets, entryToken = groups.entryToken,
          entrySlot = groups.entrySlot;
    int64_t panel = codegen.panel;
    Type f32 = b.getF32Type();
    auto index = [&](int64_t v) { return loops.index(v); };
    Value zero = index(0), one = index(1), tileRows = index(kMmaTokens);
    auto add = [&](Value l, Value r) -> Value { return arith::AddIOp::create(b, l, r); };
    auto sub = [&](Value l, Value r) -> Value { return arith::SubIOp::create(b, l, r); };
    Value entries = memref::DimOp::create(b, entryToken, 0);
    auto entryRows = [&](int64_t width, Type type) -> Value {
      return memref::AllocOp::create(
          b, MemRefType::get({ShapedType::kDynamic, width}, type),
          ValueRange{entries});
    };
    // The projections' inputs in the tiles' operand type: bf16 tiles take
    // x and the activations rounded once, as they are gathered and made
    // (cp.async staging, half the bytes); the entries past the full tiles
    // round x the same way as they read it (as the dense layers' rows past
    // theirs do: readRounded).
    Type gateUpInput = mmaOperandType(gatePacked.element),
         downInput = mmaOperandType(downPacked.element);
    Value xs = entryRows(hidden, gateUpInput), gates = entryRows(inter, f32),
          ups = entryRows(inter, f32), acts = entryRows(inter, downInput),
          downs = entryRows(hidden, f32);
    auto rounded = [&](Value v, Type type) -> Value {
      return type == f32 ? v : arith::TruncFOp::create(b, type, v).getResult();
    };
    // body(entry, column) for the entries of the experts' full tiles (the
    // tile table's groups of up to mmaExpertRowTiles tiles) and `columns`
    // columns: the rows only the tiles read or write. The entries past them
    // read x and write the activations and expertOut themselves, so a call
    // with no full tile (a decode step) launches none of these kernels.
    int64_t groupRows = kMmaTokens * mmaExpertRowTiles(codegen);
    Value maxTiles = arith::DivUIOp::create(b, entries, tileRows);
    auto overTileEntries = [&](StringRef stage, int64_t columns,
                               function_ref<void(Value, Value)> body) {
      return loops.parallel(stage, {maxTiles, index(groupRows), index(columns)},
                     [&](ValueRange ivs) {
        Value w = ivs[0];
        Value listed = arith::CmpIOp::create(
            b, arith::CmpIPredicate::ult, w,
            memref::LoadOp::create(b, groups.tileCount, ValueRange{zero}));
        loops.ifElse(listed, [&] {
          Value entry = add(memref::LoadOp::create(b, groups.tileFirst, w), ivs[1]);
          Value inside = arith::CmpIOp::create(
              b, arith::CmpIPredicate::ult, entry,
              memref::LoadOp::create(b, groups.tileEnd, w));
          loops.ifElse(inside, [&] { body(entry, ivs[2]); }, [] {});
        }, [] {});
      });
    };
    overTileEntries("expert_gather", hidden, [&](Value entry, Value k) {
      Value t = memref::LoadOp::create(b, entryToken, entry);
      memref::StoreOp::create(
          b,
          rounded(tensor::ExtractOp::create(b, x, ValueRange{t, k}), gateUpInput),
          xs, ValueRange{entry, k});
    });
    // Expert e's entries [begin, end), its full tiles' count.
    auto range = [&](Value e) {
      Value begin = memref::LoadOp::create(b, offsets, e);
      Value end = memref::LoadOp::create(b, offsets, ValueRange{add(e, one)});
      Value tiles = arith::DivUIOp::create(b, sub(end, begin), tileRows);
      return std::make_tuple(begin, end, tiles);
    };
    // outs[i][entry, :] = input[entry, :] weights[i][e]^T for the entries
    // of full tiles; for the others restStore(entry, column, the sums
    // (vector<1>, one per weight)) of the inputs restRow(entry, k).
    auto project = [&](StringRef stage, ArrayRef<PackedWeight> weights,
                       Value input, int64_t out, int64_t in,
                       ArrayRef<Value> outs,
                       function_ref<Value(Value, Value)> restRow,
                       function_ref<void(Value, Value, ArrayRef<Value>)> restStore) {
      Type element = weights.front().element;
      MmaStage staged = mmaStage(b, b.getLoc(), element, in, panel,
                                 static_cast<int64_t>(weights.size()),
                                 mmaExpertRowTiles(codegen),
                                 warpgroupFits(codegen, element));
      loops.parallel((stage + "_mma").str(),
                     {maxTiles, index(llvm::divideCeil(
                                    out, panel * hybrid::kBlockWarps))},
                     [&](ValueRange ivs) {
        Value w = ivs[0];
        Value owned = arith::CmpIOp::create(
            b, arith::CmpIPredicate::ult, w,
            memref::LoadOp::create(b, groups.tileCount, ValueRange{zero}));
        scf::IfOp::create(b, owned, [&](OpBuilder &tb, Location tl) {
          Value e = memref::LoadOp::create(tb, tl, groups.tileExpert, w);
          Value first = memref::LoadOp::create(tb, tl, groups.tileFirst, w);
          Value end = memref::LoadOp::create(tb, tl, groups.tileEnd, w);
          mmaWorkgroup(tb, tl, staged, panel, input, weights, out, in, outs,
                       ivs[1], first, end, ValueRange{e});
          scf::YieldOp::create(tb, tl);
        });
      });
      // The entries past each expert's full tiles (at most 15: decode's one
      // per routed expert) in the GEMV form where it applies.
      auto rest = [&](Value e) {
        auto [begin, end, tiles] = range(e);
        return std::make_pair(add(begin, arith::MulIOp::create(b, tiles, tileRows)),
                              end);
      };
      if (expertGemv(stage, weights, experts, out, in, groups, rest, /*few=*/nullptr,
                     restRow, restStore))
        return;
      // Else a workgroup per (routed expert, output column) as in
      // groupedExpertColumns.
      overActiveExperts(stage, groups, experts, out, [&](Value e, Value c) {
        auto [begin, end, tiles] = range(e);
        Value rest = add(begin, arith::MulIOp::create(b, tiles, tileRows));
        int64_t rowsPerTile = std::max<int64_t>(
            1, kColumnTokens / static_cast<int64_t>(weights.size()));
        loops.rowTiles(rest, end, rowsPerTile, [&](ArrayRef<Value> at) {
          auto sums = expertColumnSums(
              weights, e, c, in, at.size(),
              [&](int64_t m, Value k) -> Value { return restRow(at[m], k); });
          auto v1 = VectorType::get({1}, f32);
          for (auto [m, row] : llvm::enumerate(at)) {
            SmallVector<Value> totals;
            for (size_t wi = 0; wi < weights.size(); ++wi)
              totals.push_back(vector::BroadcastOp::create(
                  b, v1, sums.getResult(m * weights.size() + wi)));
            restStore(row, c, totals);
          }
        });
      });
    };
    // expertOut[token, slot, h] of entry `entry`.
    auto storeExpertOut = [&](Value value, Value entry, Value h) {
      memref::StoreOp::create(
          b, value, expertOut,
          ValueRange{memref::LoadOp::create(b, entryToken, entry),
                     memref::LoadOp::create(b, entrySlot, entry), h});
    };
    auto scalar = [&](Value v1) -> Value {
      return vector::ExtractOp::create(b, v1, ArrayRef<int64_t>{0});
    };
    // SwiGLU of the gate and up sums, rounded as the down tiles take it.
    auto swiglu = [&](Value g, Value u) {
      return rounded(arith::MulFOp::create(b, silu(b, loc, g), u), downInput);
    };
    project("expert_gate_up", {gatePacked, upPacked}, xs, inter, hidden,
            {gates, ups},
            [&](Value entry, Value k) {
              return readRounded(b, loc, x,
                                 ValueRange{memref::LoadOp::create(b, entryToken, entry), k},
                                 gateUpInput);
            },
            [&](Value entry, Value i, ArrayRef<Value> sums) {
              memref::StoreOp::create(b, swiglu(scalar(sums[0]), scalar(sums[1])),
                                      acts, ValueRange{entry, i});
            });
    overTileEntries("expert_swiglu", inter, [&](Value entry, Value i) {
      SmallVector<Value, 2> at{entry, i};
      memref::StoreOp::create(b,
                              swiglu(memref::LoadOp::create(b, gates, at),
                                     memref::LoadOp::create(b, ups, at)),
                              acts, at);
    });
    project("expert_down", {downPacked}, acts, hidden, inter, {downs},
            [&](Value entry, Value k) {
              return toF32(b, loc, memref::LoadOp::create(b, acts, ValueRange{entry, k}));
            },
            [&](Value entry, Value h, ArrayRef<Value> sums) {
              storeExpertOut(scalar(sums[0]), entry, h);
            });
    // The full tiles' entries of expertOut, which the GEMV and column
    // forms leave alone (kRowFormAttr).
    overTileEntries("expert_scatter", hidden, [&](Value entry, Value h) {
      storeExpertOut(memref::LoadOp::create(b, downs, ValueRange{entry, h}), entry, h);
    })->setAttr(hybrid::kRowFormAttr, b.getUnitAttr());
  }

  void groupedExperts(const PackableWeight &gate, const PackableWeight &up,
                      const PackableWeight &down, Value x,
                      const ExpertGroups &groups, Value activations,
                      Value expertOut) {
    Value offsets = groups.offsets, entryToken = groups.entryToken,
          entrySlot = groups.entrySlot;
    int64_t panel = codegen.panel;
    auto gateType = gate.type();
    int64_t experts = gateType.getDimSize(0), inter = gateType.getDimSize(1),
            hidden = gateType.getDimSize(2);
    PackedWeight gatePacked = packedCopy(b, gate, panel),
                 upPacked = packedCopy(b, up, panel),
                 downPacked = packedCopy(b, down, panel);
    Type f32 = b.getF32Type();
    auto vf32 = VectorType::get({panel}, f32);
    auto index = [&](int64_t v) { return loops.index(v); };
    Value zero = index(0), one = index(1);
    Value vzero = arith::ConstantOp::create(
        b, vf32, DenseElementsAttr::get(vf32, b.getF32FloatAttr(0.0)));

    // Expert e's entries, in tiles of `rows` (then the rest one by one):
    // `tile` gets the entry positions of the tile.
    auto tiles = [&](Value e, int64_t rows,
                     function_ref<void(ArrayRef<Value>)> tile) {
      Value begin = memref::LoadOp::create(b, offsets, e);
      Value end = memref::LoadOp::create(b, offsets,
                                         ValueRange{arith::AddIOp::create(b, e, one)});
      loops.rowTiles(begin, end, rows, tile);
    };
    // The CPU panel form of expert e's entries for panel p of `weights`
    // (inputs [0, in)): tiles of `rows` entries, inputsOf(entry) their
    // inputs, finish(entry, sums) storing an entry's sums. Weights decoded as read
    // (fp8) go by groups of kStagedTiles tiles that share each decoded
    // chunk (stagedPanelRows) where a group has more than one tile;
    // `scratch` from stagedPanelScratch then.
    auto panelEntries = [&](ArrayRef<PackedWeight> weights, Value e, Value p,
                            int64_t in, int64_t rows,
                            std::pair<Value, Value> scratch, RowInputs inputsOf,
                            function_ref<void(Value, ValueRange)> finish) {
      size_t n = weights.size();
      auto direct = [&](Value first, Value last) {
        loops.rowTiles(first, last, rows, [&](ArrayRef<Value> at) {
          SmallVector<Value> init(at.size() * n, vzero);
          SmallVector<std::function<Value(Value)>> inputs;
          for (Value entry : at)
            inputs.push_back(inputsOf(entry));
          auto sums = panelProducts(
              b, at.size(), init, zero, index(in),
              [&](Value k) {
                SmallVector<Value> panels;
                for (const PackedWeight &w : weights)
                  panels.push_back(
                      w.read(b, b.getLoc(), ValueRange{e, p, k, zero}, panel));
                return panels;
              },
              [&](int64_t m, Value k) { return inputs[m](k); });
          for (auto [m, entry] : llvm::enumerate(at))
            finish(entry, sums.getResults().slice(m * n, n));
        });
      };
      Value begin = memref::LoadOp::create(b, offsets, e);
      Value end = memref::LoadOp::create(b, offsets,
                                         ValueRange{arith::AddIOp::create(b, e, one)});
      if (!scratch.first)
        return direct(begin, end);
      loops.forLoop(begin, end, {}, [&](Value first, ValueRange) {
        auto [last, several] = stagedGroup(b, loops, first, end, rows);
        loops.ifElse(
            several,
            [&] {
              stagedPanelRows(b, loops, weights, {e}, p, in, rows, scratch.first,
                              scratch.second, first, last, inputsOf, finish);
            },
            [&] { direct(first, last); });
        return SmallVector<Value>{};
      }, kStagedTiles * rows);
    };

    Type element = gatePacked.element;
    if (codegen.columns && packAlike(gate, up) && packAlike(gate, down) &&
        mmaFits(codegen, inter, hidden, element, 2, mmaExpertRowTiles(codegen)) &&
        mmaFits(codegen, hidden, inter, element, 1, mmaExpertRowTiles(codegen))) {
      groupedExpertTiles(gatePacked, upPacked, downPacked, x, experts, inter,
                         hidden, groups, expertOut);
      return;
    }
    if (codegen.columns) {
      groupedExpertColumns(gatePacked, upPacked, downPacked, x, experts, inter,
                           hidden, tiles, groups, activations, expertOut);
      return;
    }
    // fp8 experts stage their decoded chunks (see panelEntries).
    int64_t gateUpRows = kPackedTokens / 2, downRows = kPackedTokens;
    std::pair<Value, Value> gateUpScratch, downScratch;
    if (decodedAsRead({gatePacked, upPacked}))
      gateUpScratch = stagedPanelScratch(loops, gatePacked, 2, gateUpRows);
    if (decodedAsRead({downPacked}))
      downScratch = stagedPanelScratch(loops, downPacked, 1, downRows);
    auto tokenOf = [&](Value entry) -> Value {
      return memref::LoadOp::create(b, entryToken, entry);
    };
    auto slotOf = [&](Value entry) -> Value {
      return memref::LoadOp::create(b, entrySlot, entry);
    };
    loops.parallel("expert_gate_up",
                   {index(llvm::divideCeil(inter, panel)), index(experts)},
                   [&](ValueRange ivs) {
      Value p = ivs[0], e = ivs[1];
      Value o0 = arith::MulIOp::create(b, p, index(panel));
      panelEntries(
          {gatePacked, upPacked}, e, p, hidden, gateUpRows, gateUpScratch,
          [&](Value entry) -> std::function<Value(Value)> {
            return [this, x, token = tokenOf(entry)](Value k) -> Value {
              return tensor::ExtractOp::create(b, x, ValueRange{token, k});
            };
          },
          [&](Value entry, ValueRange sums) {
            Value act = arith::MulFOp::create(b, silu(b, b.getLoc(), sums[0]), sums[1]);
            vector::TransferWriteOp::create(
                b, act, activations, ValueRange{tokenOf(entry), slotOf(entry), o0},
                ArrayRef<bool>{inter % panel == 0});
          });
    });
    loops.parallel("expert_down",
                   {index(llvm::divideCeil(hidden, panel)), index(experts)},
                   [&](ValueRange ivs) {
      Value p = ivs[0], e = ivs[1];
      Value o0 = arith::MulIOp::create(b, p, index(panel));
      panelEntries(
          {downPacked}, e, p, inter, downRows, downScratch,
          [&](Value entry) -> std::function<Value(Value)> {
            return [this, activations, token = tokenOf(entry),
                    slot = slotOf(entry)](Value k) -> Value {
              return memref::LoadOp::create(b, activations,
                                            ValueRange{token, slot, k});
            };
          },
          [&](Value entry, ValueRange sums) {
            vector::TransferWriteOp::create(
                b, sums[0], expertOut, ValueRange{tokenOf(entry), slotOf(entry), o0},
                ArrayRef<bool>{hidden % panel == 0});
          });
    });
  }

  /// The routing kernel, one workgroup per token: `logitAt(t, e)` is token
  /// t's router logit for expert e (read or computed); then scoring,
  /// selection bias, group limit, top-k, renormalisation and scaling exactly
  /// as transformers does. Returns (chosen experts, routing weights).
  std::pair<Value, Value> route(Value x, const RoutingSpec &spec,
                                function_ref<Value(Value, Value)> logitAt) {
    Type f32 = b.getF32Type();
    int64_t experts = spec.experts, topK = spec.topK;
    int64_t groups = spec.groups, keptGroups = spec.keptGroups;
    int64_t perGroup = experts / groups;
    bool sigmoidScoring = spec.sigmoidScoring, renormalise = spec.renormalise;
    float scaling = spec.scaling;
    Value bias = spec.bias;
    Value zero = index(0);
    Value tokens = tensor::DimOp::create(b, x, 0);
    auto choiceType = [&](Type element) {
      return MemRefType::get({ShapedType::kDynamic, topK}, element);
    };
    Value chosenAll = memref::AllocOp::create(b, choiceType(b.getI64Type()),
                                              ValueRange{tokens});
    Value weightsAll =
        memref::AllocOp::create(b, choiceType(f32), ValueRange{tokens});
    Value negInf = f32c(-std::numeric_limits<double>::infinity());
    // What both forms compute alike: an expert's score from its logit (the
    // softmax's numerator, or the sigmoid), its selection score, a group's
    // score (the sum of its two best selection scores), and the selection
    // score an expert keeps under the group limit: -inf outside the kept
    // groups, as in transformers (never chosen, even when every kept score
    // is negative, as a sigmoid plus a negative bias can be).
    auto scoreOf = [&](Value logit, Value maxLogit) -> Value {
      if (sigmoidScoring)
        return sigmoid(logit);
      return math::ExpOp::create(b, arith::SubFOp::create(b, logit, maxLogit));
    };
    auto selectionOf = [&](Value score, Value e) -> Value {
      if (!bias)
        return score;
      return arith::AddFOp::create(
          b, score, toF32(b, loc, tensor::ExtractOp::create(b, bias, e)));
    };
    auto groupScore = [&](Value select, Value g) -> Value {
      Value base = arith::MulIOp::create(b, g, index(perGroup));
      auto best2 = forLoop(zero, index(perGroup), {negInf, negInf},
                           [&](Value i, ValueRange top) {
        Value expert = arith::AddIOp::create(b, base, i);
        Value v = memref::LoadOp::create(b, select, expert);
        Value above1 =
            arith::CmpFOp::create(b, arith::CmpFPredicate::OGT, v, top[0]);
        Value above2 =
            arith::CmpFOp::create(b, arith::CmpFPredicate::OGT, v, top[1]);
        Value first = arith::SelectOp::create(b, above1, v, top[0]);
        Value second = arith::SelectOp::create(
            b, above1, top[0], arith::SelectOp::create(b, above2, v, top[1]));
        return SmallVector<Value>{first, second};
      });
      return arith::AddFOp::create(b, best2.getResult(0), best2.getResult(1));
    };
    auto limitToGroups = [&](Value select, Value groupTaken, Value e) {
      Value g = arith::DivUIOp::create(b, e, index(perGroup));
      Value kept = arith::CmpFOp::create(
          b, arith::CmpFPredicate::OEQ,
          memref::LoadOp::create(b, groupTaken, g), f32c(1.0));
      Value v = memref::LoadOp::create(b, select, e);
      memref::StoreOp::create(b, arith::SelectOp::create(b, kept, v, negInf),
                              select, e);
    };
    // The routing weight of choice j with weight w: renormalised over the
    // chosen experts (their weights summing to `sum`), scaled; stored with
    // the choice's expert for token t.
    auto storeChoice = [&](Value t, Value j, Value expert, Value w, Value sum) {
      if (renormalise)
        w = arith::DivFOp::create(b, w, sum);
      w = arith::MulFOp::create(b, w, f32c(scaling));
      memref::StoreOp::create(b, w, weightsAll, ValueRange{t, j});
      memref::StoreOp::create(
          b, arith::IndexCastOp::create(b, b.getI64Type(), expert), chosenAll,
          ValueRange{t, j});
    };

    // The GPU form: a block per token, each step a cooperative loop over
    // the experts (or groups, or choices), the softmax's maximum and sum
    // block reductions, and each top-k choice an argmax in two reductions:
    // the largest free selection score, then the lowest expert holding it,
    // the choice the sequential form makes. (A single choice stays
    // sequential: a loop over it alone would fold away.)
    if (codegen.columns && topK > 1) {
      loops.parallel("router", {tokens}, [&](ValueRange ivs) {
        Value t = ivs[0];
        Value logits = scratch(experts), scores = scratch(experts);
        Value select = scratch(experts), taken = scratch(experts);
        Value chosen = idxScratch(topK), weights = scratch(topK);
        auto each = [&](int64_t n, function_ref<void(Value)> body) {
          loops.cooperative({index(n)}, [&](ValueRange iv) { body(iv[0]); });
        };
        // The block-wide combination of term(i) over [0, n) from `identity`.
        using Combine = function_ref<Value(OpBuilder &, Location, Value, Value)>;
        auto reduce = [&](int64_t n, Value identity,
                          function_ref<Value(Value)> term, Combine combine) {
          return loops.cooperativeReduce(index(n), identity, term, combine);
        };
        auto maximum = [](OpBuilder &rb, Location rl, Value l, Value r) -> Value {
          return arith::MaximumFOp::create(rb, rl, l, r);
        };
        auto plus = [](OpBuilder &rb, Location rl, Value l, Value r) -> Value {
          return arith::AddFOp::create(rb, rl, l, r);
        };
        auto lowest = [](OpBuilder &rb, Location rl, Value l, Value r) -> Value {
          return arith::MinUIOp::create(rb, rl, l, r);
        };
        // Index of the largest value[i] > -inf with taken[i] == 0, the
        // lowest such index on ties, 0 if none: as `argmax` picks.
        auto blockArgmax = [&](Value values, Value takenBuf, int64_t n) -> Value {
          auto freeAt = [&](Value i) -> Value {
            return arith::CmpFOp::create(
                b, arith::CmpFPredicate::OEQ,
                memref::LoadOp::create(b, takenBuf, i), f32c(0.0));
          };
          Value best = reduce(n, negInf, [&](Value i) -> Value {
            Value v = memref::LoadOp::create(b, values, i);
            Value counts = arith::AndIOp::create(
                b, freeAt(i),
                arith::CmpFOp::create(b, arith::CmpFPredicate::OGT, v, negInf));
            return arith::SelectOp::create(b, counts, v, negInf);
          }, maximum);
          Value none = arith::ConstantOp::create(b, b.getI32IntegerAttr(-1));
          Value first = reduce(n, none, [&](Value i) -> Value {
            Value v = memref::LoadOp::create(b, values, i);
            Value hit = arith::AndIOp::create(
                b, arith::AndIOp::create(
                       b, freeAt(i),
                       arith::CmpFOp::create(b, arith::CmpFPredicate::OEQ, v, best)),
                arith::CmpFOp::create(b, arith::CmpFPredicate::OGT, best, negInf));
            return arith::SelectOp::create(
                b, hit, arith::IndexCastUIOp::create(b, b.getI32Type(), i), none);
          }, lowest);
          Value found = arith::CmpIOp::create(b, arith::CmpIPredicate::ne, first, none);
          return arith::SelectOp::create(
              b, found, arith::IndexCastUIOp::create(b, b.getIndexType(), first),
              zero);
        };

        each(experts, [&](Value e) {
          memref::StoreOp::create(b, logitAt(t, e), logits, e);
          memref::StoreOp::create(b, f32c(0.0), taken, e);
        });
        Value maxLogit =
            sigmoidScoring
                ? Value()
                : reduce(experts, negInf, [&](Value e) -> Value {
                    return memref::LoadOp::create(b, logits, e);
                  }, maximum);
        Value total = reduce(experts, f32c(0.0), [&](Value e) -> Value {
          Value score = scoreOf(memref::LoadOp::create(b, logits, e), maxLogit);
          memref::StoreOp::create(b, score, scores, e);
          return score;
        }, plus);
        each(experts, [&](Value e) {
          Value score = memref::LoadOp::create(b, scores, e);
          if (!sigmoidScoring) {
            score = arith::DivFOp::create(b, score, total);
            memref::StoreOp::create(b, score, scores, e);
          }
          memref::StoreOp::create(b, selectionOf(score, e), select, e);
        });
        if (groups > 1) {
          Value groupScores = scratch(groups), groupTaken = scratch(groups);
          each(groups, [&](Value g) {
            memref::StoreOp::create(b, groupScore(select, g), groupScores, g);
            memref::StoreOp::create(b, f32c(0.0), groupTaken, g);
          });
          forLoop(zero, index(keptGroups), {}, [&](Value, ValueRange) {
            Value kept = blockArgmax(groupScores, groupTaken, groups);
            each(groups, [&](Value g) {
              loops.ifElse(
                  arith::CmpIOp::create(b, arith::CmpIPredicate::eq, g, kept),
                  [&] { memref::StoreOp::create(b, f32c(1.0), groupTaken, g); },
                  [] {});
            });
            return SmallVector<Value>{};
          });
          each(experts, [&](Value e) { limitToGroups(select, groupTaken, e); });
        }
        forLoop(zero, index(topK), {}, [&](Value j, ValueRange) {
          Value pick = blockArgmax(select, taken, experts);
          each(experts, [&](Value e) {
            loops.ifElse(
                arith::CmpIOp::create(b, arith::CmpIPredicate::eq, e, pick),
                [&] {
                  memref::StoreOp::create(b, f32c(1.0), taken, e);
                  memref::StoreOp::create(b, e, chosen, j);
                  memref::StoreOp::create(
                      b, memref::LoadOp::create(b, scores, e), weights, j);
                },
                [] {});
          });
          return SmallVector<Value>{};
        });
        Value sum = reduce(topK, f32c(0.0), [&](Value j) -> Value {
          return memref::LoadOp::create(b, weights, j);
        }, plus);
        each(topK, [&](Value j) {
          storeChoice(t, j, memref::LoadOp::create(b, chosen, j),
                      memref::LoadOp::create(b, weights, j), sum);
        });
      });
    } else {
      loops.parallel("router", {tokens}, [&](ValueRange ivs) {
        Value t = ivs[0];
        // Scores in f32: softmax over all experts, or sigmoid.
        Value scores = scratch(experts), select = scratch(experts);
        Value taken = scratch(experts);
        linalg::FillOp::create(b, f32c(0.0), taken);
        Value logits = scratch(experts);
        forLoop(zero, index(experts), {}, [&](Value e, ValueRange) {
          memref::StoreOp::create(b, logitAt(t, e), logits, e);
          return SmallVector<Value>{};
        });
        Value maxLogit = forLoop(zero, index(experts), {negInf},
                                 [&](Value e, ValueRange m) {
                                   Value l = memref::LoadOp::create(b, logits, e);
                                   return SmallVector<Value>{
                                       arith::MaximumFOp::create(b, m[0], l)};
                                 }).getResult(0);
        Value total = forLoop(zero, index(experts), {f32c(0.0)}, [&](Value e,
                                                                   ValueRange acc) {
          Value score = scoreOf(memref::LoadOp::create(b, logits, e), maxLogit);
          memref::StoreOp::create(b, score, scores, e);
          return SmallVector<Value>{arith::AddFOp::create(b, acc[0], score)};
        }).getResult(0);
        forLoop(zero, index(experts), {}, [&](Value e, ValueRange) {
          Value score = memref::LoadOp::create(b, scores, e);
          if (!sigmoidScoring) {
            score = arith::DivFOp::create(b, score, total);
            memref::StoreOp::create(b, score, scores, e);
          }
          memref::StoreOp::create(b, selectionOf(score, e), select, e);
          return SmallVector<Value>{};
        });

        // Group limit: the best topk_group groups keep their experts.
        if (groups > 1) {
          Value groupScores = scratch(groups), groupTaken = scratch(groups);
          linalg::FillOp::create(b, f32c(0.0), groupTaken);
          forLoop(zero, index(groups), {}, [&](Value g, ValueRange) {
            memref::StoreOp::create(b, groupScore(select, g), groupScores, g);
            return SmallVector<Value>{};
          });
          forLoop(zero, index(keptGroups), {}, [&](Value, ValueRange) {
            auto [g, v] = argmax(groupScores, groupTaken, groups);
            (void)v;
            memref::StoreOp::create(b, f32c(1.0), groupTaken, g);
            return SmallVector<Value>{};
          });
          forLoop(zero, index(experts), {}, [&](Value e, ValueRange) {
            limitToGroups(select, groupTaken, e);
            return SmallVector<Value>{};
          });
        }

        // Top-k by selection score; weights are the unbiased scores.
        Value chosen = idxScratch(topK), weights = scratch(topK);
        Value sum = forLoop(zero, index(topK), {f32c(0.0)}, [&](Value j,
                                                              ValueRange acc) {
          auto [e, v] = argmax(select, taken, experts);
          (void)v;
          memref::StoreOp::create(b, f32c(1.0), taken, e);
          memref::StoreOp::create(b, e, chosen, j);
          Value w = memref::LoadOp::create(b, scores, e);
          memref::StoreOp::create(b, w, weights, j);
          return SmallVector<Value>{arith::AddFOp::create(b, acc[0], w)};
        }).getResult(0);
        forLoop(zero, index(topK), {}, [&](Value j, ValueRange) {
          storeChoice(t, j, memref::LoadOp::create(b, chosen, j),
                      memref::LoadOp::create(b, weights, j), sum);
          return SmallVector<Value>{};
        });
      });
    }

    auto asTensor = [&](Value buffer, Type element) -> Value {
      return bufferization::ToTensorOp::create(
          b, RankedTensorType::get({ShapedType::kDynamic, topK}, element),
          buffer, /*restrict=*/true, /*writable=*/true);
    };
    return {asTensor(chosenAll, b.getI64Type()), asTensor(weightsAll, f32)};
  }

  /// expertOut[t, j, :] = SwiGLU_{chosen[t, j]}(x[t]), the (token, slot)
  /// pairs grouped by expert so that each expert runs over only its tokens
  /// (grouped matmuls on packed weights when the weights are checkpoint
  /// tensors and packing is on, dot products per (row, expert) otherwise).
  Value groupedExpertOutputs(Value x, Value chosen, Value gate, Value up,
                             Value down) {
    Type f32 = b.getF32Type();
    auto gateType = cast<RankedTensorType>(gate.getType());
    int64_t experts = gateType.getDimSize(0), inter = gateType.getDimSize(1),
            hidden = gateType.getDimSize(2);
    int64_t topK = cast<RankedTensorType>(chosen.getType()).getDimSize(1);
    Value zero = index(0);
    Value tokens = tensor::DimOp::create(b, x, 0);
    Value activations = memref::AllocOp::create(
        b, MemRefType::get({ShapedType::kDynamic, topK, inter}, f32),
        ValueRange{tokens});
    // Group the (token, slot) pairs by expert (a counting sort, one
    // workgroup): entries offsets[e] .. offsets[e + 1] - 1 are expert e's, so
    // the kernels below read each expert row once per workgroup and apply it
    // to all of that expert's tokens while it is in cache.
    Type indexType = b.getIndexType();
    Value offsets = memref::AllocOp::create(
        b, MemRefType::get({experts + 1}, indexType));
    Value pairs = arith::MulIOp::create(b, tokens, index(topK));
    auto entryType = MemRefType::get({ShapedType::kDynamic}, indexType);
    Value entryToken = memref::AllocOp::create(b, entryType, ValueRange{pairs});
    Value entrySlot = memref::AllocOp::create(b, entryType, ValueRange{pairs});
    // The GPU forms also list the experts with entries (active[0 ..
    // activeCount[0])), so that their kernels need no workgroup per expert.
    Value active, activeCount, tileExpert, tileFirst, tileEnd, tileCount;
    if (codegen.columns) {
      active = memref::AllocOp::create(b, MemRefType::get({experts}, indexType));
      activeCount = memref::AllocOp::create(b, MemRefType::get({1}, indexType));
    }
    if (codegen.mma) {
      Value maxTiles = arith::DivUIOp::create(b, pairs, index(kMmaTokens));
      tileExpert = memref::AllocOp::create(b, entryType, ValueRange{maxTiles});
      tileFirst = memref::AllocOp::create(b, entryType, ValueRange{maxTiles});
      tileEnd = memref::AllocOp::create(b, entryType, ValueRange{maxTiles});
      tileCount = memref::AllocOp::create(b, MemRefType::get({1}, indexType));
    }
    // One workgroup. (The GPU forms' bound is not a constant: a loop of
    // one iteration is folded into the plan, its phases each a kernel.)
    Value sortWorkgroups =
        codegen.columns ? arith::MinUIOp::create(b, tokens, index(1)).getResult() : index(1);
    loops.parallel("group_by_expert", {sortWorkgroups}, [&](ValueRange) {
      // The sort's own arrays are scratch of this loop alone (zeroed in it,
      // not by a fill loop of their own), so that on a GPU they stay the
      // block's (shared memory) instead of becoming device buffers whose
      // every read waits for the write before it.
      Value cursor = loops.scratch(experts, indexType);
      // body(t, j, e) for each choice (token t, slot j, expert e) of the
      // tokens [first, last), in order.
      auto eachChoice = [&](Value first, Value last,
                            function_ref<void(Value, Value, Value)> body) {
        forLoop(first, last, {}, [&](Value t, ValueRange) {
          forLoop(zero, index(topK), {}, [&](Value j, ValueRange) {
            body(t, j, expertAt(chosen, t, j));
            return SmallVector<Value>{};
          });
          return SmallVector<Value>{};
        });
      };
      Value one = index(1);
      // Each expert's full tiles in groups of up to mmaExpertRowTiles, in
      // order: the groups of an expert with `count` entries, and the
      // groups' records from group `first` on for its entries [begin, end).
      int64_t groupRows = kMmaTokens * mmaExpertRowTiles(codegen);
      auto groupsOf = [&](Value count) -> Value {
        Value full = arith::MulIOp::create(
            b, arith::DivUIOp::create(b, count, index(kMmaTokens)), index(kMmaTokens));
        return arith::CeilDivUIOp::create(b, full, index(groupRows));
      };
      auto listGroups = [&](Value e, Value begin, Value end, Value first) {
        Value count = arith::SubIOp::create(b, end, begin);
        Value fullEnd = arith::AddIOp::create(
            b, begin,
            arith::MulIOp::create(
                b, arith::DivUIOp::create(b, count, index(kMmaTokens)),
                index(kMmaTokens)));
        forLoop(zero, groupsOf(count), {}, [&](Value i, ValueRange) {
          Value w = arith::AddIOp::create(b, first, i);
          Value row =
              arith::AddIOp::create(b, begin, arith::MulIOp::create(b, i, index(groupRows)));
          memref::StoreOp::create(b, e, tileExpert, w);
          memref::StoreOp::create(b, row, tileFirst, w);
          memref::StoreOp::create(
              b,
              arith::MinUIOp::create(
                  b, arith::AddIOp::create(b, row, index(groupRows)), fullEnd),
              tileEnd, w);
          return SmallVector<Value>{};
        });
      };
      if (codegen.columns) {
        // The GPU forms: a block. The tokens go in `spans` runs, a thread
        // each counting its run's entries per expert (a row of its own in
        // `spanCounts`); a thread per expert then sums its row's counts
        // over the runs, leaving each run's first place among the expert's
        // entries; the per-expert work -- offsets, the list of experts with
        // entries, the tile groups, hundreds of experts on the real models
        // -- goes a thread per expert, from inclusive sums over the experts
        // by doubling (each step adds the sums d experts before:
        // log2(experts) steps); last each run's thread places its entries.
        // The entries keep the order of one thread's walk, (token, slot).
        int64_t spans = 1;
        while (spans < kSortSpans && 2 * spans * experts * 4 <= kSortSpanBytes)
          spans *= 2;
        Type i32 = b.getI32Type();
        Value spanCounts = loops.scratch({spans, experts}, i32);
        Value perSpan = arith::CeilDivUIOp::create(b, tokens, index(spans));
        // eachChoice over the run's tokens.
        auto eachChoiceOf = [&](Value span, function_ref<void(Value, Value, Value)> body) {
          Value first = arith::MinUIOp::create(
              b, arith::MulIOp::create(b, span, perSpan), tokens);
          Value last = arith::MinUIOp::create(b, arith::AddIOp::create(b, first, perSpan),
                                              tokens);
          eachChoice(first, last, body);
        };
        Value zero32 = arith::ConstantOp::create(b, b.getI32IntegerAttr(0));
        Value one32 = arith::ConstantOp::create(b, b.getI32IntegerAttr(1));
        loops.cooperative({index(spans), index(experts)}, [&](ValueRange se) {
          memref::StoreOp::create(b, zero32, spanCounts, se);
        });
        loops.cooperative({index(spans)}, [&](ValueRange span) {
          eachChoiceOf(span[0], [&](Value, Value, Value e) {
            SmallVector<Value> at{span[0], e};
            memref::StoreOp::create(
                b, arith::AddIOp::create(b, memref::LoadOp::create(b, spanCounts, at), one32),
                spanCounts, at);
          });
        });
        loops.cooperative({index(experts)}, [&](ValueRange e) {
          Value total = forLoop(zero, index(spans), {zero32}, [&](Value span, ValueRange sum) {
            SmallVector<Value> at{span, e[0]};
            Value count = memref::LoadOp::create(b, spanCounts, at);
            memref::StoreOp::create(b, sum[0], spanCounts, at);
            return SmallVector<Value>{arith::AddIOp::create(b, sum[0], count)};
          }).getResult(0);
          memref::StoreOp::create(b, arith::IndexCastUIOp::create(b, indexType, total),
                                  cursor, e);
        });
        // Sums of: entries, experts with entries, tile groups.
        int64_t kinds = tileExpert ? 3 : 2;
        SmallVector<Value> sums, next;
        for (int64_t k = 0; k < kinds; ++k) {
          sums.push_back(loops.scratch(experts, i32));
          next.push_back(loops.scratch(experts, i32));
        }
        // (i32 in the block's shared memory, index around them.)
        auto putSum = [&](Value v, int64_t k, Value e) {
          memref::StoreOp::create(b, arith::IndexCastUIOp::create(b, i32, v), sums[k], e);
        };
        auto sumAt = [&](int64_t k, Value e) -> Value {
          return arith::IndexCastUIOp::create(b, indexType,
                                              memref::LoadOp::create(b, sums[k], e));
        };
        auto used = [&](Value count) {
          return arith::CmpIOp::create(b, arith::CmpIPredicate::ugt, count, zero);
        };
        loops.cooperative({index(experts)}, [&](ValueRange e) {
          Value count = memref::LoadOp::create(b, cursor, e);
          putSum(count, 0, e[0]);
          putSum(arith::SelectOp::create(b, used(count), one, zero), 1, e[0]);
          if (tileExpert)
            putSum(groupsOf(count), 2, e[0]);
        });
        for (int64_t d = 1; d < experts; d *= 2) {
          loops.cooperative({index(experts)}, [&](ValueRange e) {
            Value has = arith::CmpIOp::create(b, arith::CmpIPredicate::uge, e[0], index(d));
            Value before = arith::SelectOp::create(
                b, has, arith::SubIOp::create(b, e[0], index(d)), zero);
            for (int64_t k = 0; k < kinds; ++k) {
              Value earlier = arith::SelectOp::create(
                  b, has, memref::LoadOp::create(b, sums[k], before), zero32);
              memref::StoreOp::create(
                  b, arith::AddIOp::create(b, memref::LoadOp::create(b, sums[k], e), earlier),
                  next[k], e);
            }
          });
          std::swap(sums, next);
        }
        loops.cooperative({index(experts)}, [&](ValueRange ev) {
          Value e = ev[0];
          Value count = memref::LoadOp::create(b, cursor, e);
          Value end = sumAt(0, e);
          Value begin = arith::SubIOp::create(b, end, count);
          memref::StoreOp::create(b, begin, cursor, e);
          memref::StoreOp::create(b, end, offsets, ValueRange{arith::AddIOp::create(b, e, one)});
          auto when = [&](Value condition, function_ref<void()> then) {
            loops.ifElse(condition, then, [] {});
          };
          auto is = [&](int64_t expert) {
            return arith::CmpIOp::create(b, arith::CmpIPredicate::eq, e, index(expert));
          };
          when(is(0), [&] { memref::StoreOp::create(b, zero, offsets, ValueRange{zero}); });
          Value listed = sumAt(1, e);
          when(used(count), [&] {
            memref::StoreOp::create(b, e, active,
                                    ValueRange{arith::SubIOp::create(b, listed, one)});
          });
          when(is(experts - 1), [&] {
            memref::StoreOp::create(b, listed, activeCount, ValueRange{zero});
            if (tileExpert)
              memref::StoreOp::create(b, sumAt(2, e), tileCount, ValueRange{zero});
          });
          if (tileExpert)
            listGroups(e, begin, end,
                       arith::SubIOp::create(b, sumAt(2, e), groupsOf(count)));
        });
        loops.cooperative({index(spans)}, [&](ValueRange span) {
          eachChoiceOf(span[0], [&](Value t, Value j, Value e) {
            SmallVector<Value> place{span[0], e};
            Value before = memref::LoadOp::create(b, spanCounts, place);
            Value at = arith::AddIOp::create(
                b, memref::LoadOp::create(b, cursor, e),
                arith::IndexCastUIOp::create(b, indexType, before));
            memref::StoreOp::create(b, t, entryToken, at);
            memref::StoreOp::create(b, j, entrySlot, at);
            memref::StoreOp::create(b, arith::AddIOp::create(b, before, one32), spanCounts,
                                    place);
          });
        });
        return;
      }
      // The CPU: one loop in order (offsets, then the entries).
      forLoop(zero, index(experts), {}, [&](Value e, ValueRange) {
        memref::StoreOp::create(b, zero, cursor, e);
        return SmallVector<Value>{};
      });
      eachChoice(zero, tokens, [&](Value, Value, Value e) {
        memref::StoreOp::create(
            b, arith::AddIOp::create(b, memref::LoadOp::create(b, cursor, e), one),
            cursor, e);
      });
      // offsets = exclusive prefix sums; cursor = where each expert's next
      // entry goes.
      memref::StoreOp::create(b, zero, offsets, zero);
      forLoop(zero, index(experts), {zero}, [&](Value e, ValueRange acc) {
        Value count = memref::LoadOp::create(b, cursor, e);
        memref::StoreOp::create(b, acc[0], cursor, e);
        Value next = arith::AddIOp::create(b, acc[0], count);
        memref::StoreOp::create(b, next, offsets, ValueRange{arith::AddIOp::create(b, e, one)});
        return SmallVector<Value>{next};
      });
      eachChoice(zero, tokens, [&](Value t, Value j, Value e) {
        Value at = memref::LoadOp::create(b, cursor, e);
        memref::StoreOp::create(b, t, entryToken, at);
        memref::StoreOp::create(b, j, entrySlot, at);
        memref::StoreOp::create(b, arith::AddIOp::create(b, at, one), cursor, e);
      });
    });
    // For each entry of expert e: body(token, slot).
    auto eachEntry = [&](Value e, function_ref<void(Value, Value)> body) {
      Value begin = memref::LoadOp::create(b, offsets, e);
      Value end = memref::LoadOp::create(
          b, offsets, ValueRange{arith::AddIOp::create(b, e, index(1))});
      forLoop(begin, end, {}, [&](Value p, ValueRange) {
        body(memref::LoadOp::create(b, entryToken, p),
             memref::LoadOp::create(b, entrySlot, p));
        return SmallVector<Value>{};
      });
    };
    Value expertOut = memref::AllocOp::create(
        b, MemRefType::get({ShapedType::kDynamic, topK, hidden}, f32),
        ValueRange{tokens});
    auto gateWeight = packableSource(codegen, gate, /*experts=*/true);
    auto upWeight = packableSource(codegen, up, /*experts=*/true);
    auto downWeight = packableSource(codegen, down, /*experts=*/true);
    if (gateWeight && upWeight && downWeight) {
      groupedExperts(*gateWeight, *upWeight, *downWeight, x,
                     {offsets, entryToken, entrySlot, active, activeCount,
                      tileExpert, tileFirst, tileEnd, tileCount},
                     activations, expertOut);
    } else {
      // act[t, j, i] = silu(gate_e[i] . x[t]) * (up_e[i] . x[t]) for the
      // entries (t, j) of expert e, per (i, e).
      // Rows outermost: the executor's contiguous ranges then split every
      // expert's rows between threads, however unevenly tokens are routed.
      loops.parallel("expert_gate_up", {index(inter), index(experts)}, [&](ValueRange ivs) {
        Value i = ivs[0], e = ivs[1];
        eachEntry(e, [&](Value t, Value j) {
          Value g = dot(gate, {e, i}, x, {t}, hidden);
          Value u = dot(up, {e, i}, x, {t}, hidden);
          memref::StoreOp::create(b, arith::MulFOp::create(b, silu(b, loc, g), u),
                                  activations, ValueRange{t, j, i});
        });
      });

      // expertOut[t, j, h] = down_e[h] . act[t, j], per (h, e).
      loops.parallel("expert_down", {index(hidden), index(experts)}, [&](ValueRange ivs) {
        Value h = ivs[0], e = ivs[1];
        eachEntry(e, [&](Value t, Value j) {
          Value y = dot(down, {e, h}, activations, {t, j}, inter);
          memref::StoreOp::create(b, y, expertOut, ValueRange{t, j, h});
        });
      });
    }

    return expertOut;
  }

  /// The reference form: expertOut[t, j, :] = SwiGLU_{chosen[t, j]}(x[t])
  /// per (token, slot), each chosen expert's rows read once per token.
  Value perTokenExpertOutputs(Value x, Value chosen, Value gate, Value up,
                              Value down) {
    Type f32 = b.getF32Type();
    auto gateType = cast<RankedTensorType>(gate.getType());
    int64_t inter = gateType.getDimSize(1), hidden = gateType.getDimSize(2);
    int64_t topK = cast<RankedTensorType>(chosen.getType()).getDimSize(1);
    Value tokens = tensor::DimOp::create(b, x, 0);
    Value activations = memref::AllocOp::create(
        b, MemRefType::get({ShapedType::kDynamic, topK, inter}, f32),
        ValueRange{tokens});
    Value expertOut = memref::AllocOp::create(
        b, MemRefType::get({ShapedType::kDynamic, topK, hidden}, f32),
        ValueRange{tokens});
    loops.parallel("expert_gate_up", {tokens, index(topK), index(inter)},
                   [&](ValueRange ivs) {
      Value t = ivs[0], j = ivs[1], i = ivs[2];
      Value e = expertAt(chosen, t, j);
      Value g = dot(gate, {e, i}, x, {t}, hidden);
      Value u = dot(up, {e, i}, x, {t}, hidden);
      memref::StoreOp::create(b, arith::MulFOp::create(b, silu(b, loc, g), u),
                              activations, ValueRange{t, j, i});
    });
    loops.parallel("expert_down", {tokens, index(topK), index(hidden)},
                   [&](ValueRange ivs) {
      Value t = ivs[0], j = ivs[1], h = ivs[2];
      Value e = expertAt(chosen, t, j);
      memref::StoreOp::create(b, dot(down, {e, h}, activations, {t, j}, inter),
                              expertOut, ValueRange{t, j, h});
    });
    return expertOut;
  }

  /// y[t] = sum_j weights[t, j] expertOut[t, j] + shared[t], the shared
  /// expert scaled by sigmoid(x[t] . sharedGateWeight[0]) when it has a gate
  /// ([1, hidden]), as transformers adds them (routed experts first).
  /// Row-wise linalg on tensors, the gate's dot product included (a
  /// reduction over the row, like a norm's sum of squares), not kernels of
  /// their own: hybrid-fuse-elementwise joins them to the residual add and
  /// the next norm, so that a decode step spends no launch on them.
  Value combine(Value x, Value weights, Value expertOut, Value shared,
                Value sharedGateWeight) {
    auto xType = cast<RankedTensorType>(x.getType());
    int64_t hidden = xType.getDimSize(1);
    int64_t topK = cast<RankedTensorType>(weights.getType()).getDimSize(1);
    MLIRContext *ctx = b.getContext();
    AffineExpr t, h, j;
    bindDims(ctx, t, h, j);
    Value routedOut = bufferization::ToTensorOp::create(
        b,
        RankedTensorType::get({ShapedType::kDynamic, topK, hidden}, b.getF32Type()),
        expertOut, /*restrict=*/true, /*writable=*/true);
    Value routed =
        linalg::GenericOp::create(
            b, xType, ValueRange{weights, routedOut},
            ValueRange{zerosLike(b, loc, x, {hidden})},
            ArrayRef<AffineMap>{AffineMap::get(3, 0, {t, j}, ctx),
                                AffineMap::get(3, 0, {t, j, h}, ctx),
                                AffineMap::get(3, 0, {t, h}, ctx)},
            {kParallel, kParallel, kReduction},
            [](OpBuilder &nb, Location nl, ValueRange args) {
              Value term = arith::MulFOp::create(nb, nl, args[0], args[1]);
              linalg::YieldOp::create(nb, nl,
                                      arith::AddFOp::create(nb, nl, args[2], term)
                                          .getResult());
            })
            .getResult(0);
    if (!shared)
      return routed;
    AffineMap rows = AffineMap::get(2, 0, {t, h}, ctx);
    AffineMap perRow = AffineMap::get(2, 0, {t}, ctx);
    SmallVector<Value> inputs = {routed, shared};
    SmallVector<AffineMap> maps = {rows, rows};
    if (sharedGateWeight) {
      AffineMap gateRow =
          AffineMap::get(2, 0, {getAffineConstantExpr(0, ctx), h}, ctx);
      Value zeros = zerosLike(b, loc, x, {});
      Value logit =
          linalg::GenericOp::create(
              b, zeros.getType(), ValueRange{x, sharedGateWeight}, ValueRange{zeros},
              ArrayRef<AffineMap>{rows, gateRow, perRow}, {kParallel, kReduction},
              [](OpBuilder &nb, Location nl, ValueRange args) {
                Value term = arith::MulFOp::create(nb, nl, args[0],
                                                   toF32(nb, nl, args[1]));
                linalg::YieldOp::create(
                    nb, nl, arith::AddFOp::create(nb, nl, args[2], term).getResult());
              })
              .getResult(0);
      inputs.push_back(logit);
      maps.push_back(perRow);
    }
    maps.push_back(rows);
    return linalg::GenericOp::create(
               b, xType, inputs, ValueRange{emptyLike(b, loc, x, {hidden})}, maps,
               {kParallel, kParallel},
               [&](OpBuilder &nb, Location nl, ValueRange args) {
                 Value term = args[1];
                 if (sharedGateWeight)
                   term = arith::MulFOp::create(nb, nl, term,
                                                lowering::sigmoid(nb, nl, args[2]));
                 linalg::YieldOp::create(
                     nb, nl, arith::AddFOp::create(nb, nl, args[0], term).getResult());
               })
        .getResult(0);
  }
};

/// hybrid.moe in its reference form: the router product, the routing
/// kernel, each chosen expert per token, the combine. hybrid-fuse-moe-routing
/// turns it into the fused and grouped form below.
struct MoELowering : HybridLowering<MoEOp> {
  using HybridLowering::HybridLowering;
  LogicalResult
  matchAndRewrite(MoEOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    ImplicitLocOpBuilder b(op.getLoc(), rewriter);
    Location loc = op.getLoc();
    Value x = adaptor.getInput();
    LoopNest loops{b};
    MoEKernels kernels{b, loops, codegen, loc};
    Value logits = linear(b, loc, codegen, x, adaptor.getRouter());
    Value shared, sharedGateWeight;
    if (adaptor.getSharedGate()) {
      Value act = swigluProjections(b, loc, codegen, x, adaptor.getSharedGate(),
                                    adaptor.getSharedUp());
      shared = linear(b, loc, codegen, act, adaptor.getSharedDown());
      sharedGateWeight = adaptor.getSharedExpertGate();
    }
    auto [chosen, weights] = kernels.route(
        x, routingSpec(op, op.getNumExperts(), adaptor.getSelectionBias()),
        [&](Value t, Value e) -> Value {
          return tensor::ExtractOp::create(b, logits, ValueRange{t, e});
        });
    Value expertOut = kernels.perTokenExpertOutputs(
        x, chosen, adaptor.getExpertsGate(), adaptor.getExpertsUp(),
        adaptor.getExpertsDown());
    rewriter.replaceOp(op, kernels.combine(x, weights, expertOut, shared,
                                           sharedGateWeight));
    return success();
  }
};

/// hybrid.moe_route: one kernel per token, the router product included
/// (a dot product per expert over the token's row).
struct MoERouteLowering : HybridLowering<MoERouteOp> {
  using HybridLowering::HybridLowering;
  LogicalResult
  matchAndRewrite(MoERouteOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    ImplicitLocOpBuilder b(op.getLoc(), rewriter);
    Value x = adaptor.getInput(), router = adaptor.getRouter();
    auto routerType = cast<RankedTensorType>(router.getType());
    int64_t experts = routerType.getDimSize(0), hidden = routerType.getDimSize(1);
    LoopNest loops{b};
    MoEKernels kernels{b, loops, codegen, op.getLoc()};
    RoutingSpec spec = routingSpec(op, experts, adaptor.getSelectionBias());
    if (codegen.columns) {
      // On a GPU the one thread per token would run all of the router's
      // dot products (Qwen3-Next: 512 x 2048 per token) serially: the router
      // runs first as a linear layer (a thread per expert), the routing
      // kernel reads its logits.
      Value logits = linear(b, op.getLoc(), codegen, x, router);
      auto [chosen, weights] = kernels.route(x, spec, [&](Value t, Value e) -> Value {
        return tensor::ExtractOp::create(b, logits, ValueRange{t, e});
      });
      rewriter.replaceOp(op, {chosen, weights});
      return success();
    }
    auto [chosen, weights] = kernels.route(
        x, spec,
        [&](Value t, Value e) { return kernels.dot(router, {e}, x, {t}, hidden); });
    rewriter.replaceOp(op, {chosen, weights});
    return success();
  }
};

/// hybrid.moe_experts: the grouped expert matmuls and the combine.
struct MoEExpertsLowering : HybridLowering<MoEExpertsOp> {
  using HybridLowering::HybridLowering;
  LogicalResult
  matchAndRewrite(MoEExpertsOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    ImplicitLocOpBuilder b(op.getLoc(), rewriter);
    Location loc = op.getLoc();
    Value x = adaptor.getInput();
    LoopNest loops{b};
    MoEKernels kernels{b, loops, codegen, loc};
    Value expertOut = kernels.groupedExpertOutputs(
        x, adaptor.getExperts(), adaptor.getExpertsGate(),
        adaptor.getExpertsUp(), adaptor.getExpertsDown());
    rewriter.replaceOp(op, kernels.combine(x, adaptor.getWeights(), expertOut,
                                           adaptor.getShared(),
                                           adaptor.getSharedExpertGate()));
    return success();
  }
};

/// hybrid.mtp: y = [RMSNorm(e; enorm) | RMSNorm(h; hnorm)] eh_proj^T, with
/// the concatenation folded into the contraction: W's first H columns meet
/// the embedding half, the last H the hidden half.
struct MTPLowering : HybridLowering<MTPOp> {
  using HybridLowering::HybridLowering;
  LogicalResult
  matchAndRewrite(MTPOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    double eps = op.getEpsilon().convertToDouble();
    Value e = normalizeRows(rewriter, loc, adaptor.getEmbedded(),
                            adaptor.getEnorm(), Value(), op.getKind(), eps);
    Value h = normalizeRows(rewriter, loc, adaptor.getHidden(),
                            adaptor.getHnorm(), Value(), op.getKind(), eps);
    int64_t hidden = cast<RankedTensorType>(h.getType()).getDimSize(1);
    MLIRContext *ctx = rewriter.getContext();
    AffineExpr t, o, i;
    bindDims(ctx, t, o, i);
    SmallVector<AffineMap> maps = {AffineMap::get(3, 0, {t, i}, ctx),
                                   AffineMap::get(3, 0, {t, i}, ctx),
                                   AffineMap::get(3, 0, {o, i}, ctx),
                                   AffineMap::get(3, 0, {o, i + hidden}, ctx),
                                   AffineMap::get(3, 0, {t, o}, ctx)};
    Value w = adaptor.getEhProj();
    Value init = zerosLike(rewriter, loc, h, {hidden});
    auto generic = linalg::GenericOp::create(
        rewriter, loc, init.getType(), ValueRange{e, h, w, w}, ValueRange{init},
        maps, {kParallel, kParallel, kReduction},
        [](OpBuilder &nb, Location nl, ValueRange args) {
          Value first = arith::MulFOp::create(nb, nl, args[0], toF32(nb, nl, args[2]));
          Value second = arith::MulFOp::create(nb, nl, args[1], toF32(nb, nl, args[3]));
          Value sum = arith::AddFOp::create(
              nb, nl, args[4], arith::AddFOp::create(nb, nl, first, second));
          linalg::YieldOp::create(nb, nl, sum);
        });
    rewriter.replaceOp(op, generic.getResult(0));
    return success();
  }
};

/// W = Q * scale_inv[block]: fp8 e4m3fn decoded (decodeFP8E4M3FN), times
/// the block's scale. The kernel carries its block (kDequantizedBlockAttr):
/// the linear layers, experts and MLA decode the fp8 tensors instead, and
/// the kernel stays only where a reader cannot (blocks whose rows split a
/// panel, or that a reader's vectors would cross).
struct DequantizeLowering : HybridLowering<DequantizeOp> {
  using HybridLowering::HybridLowering;
  LogicalResult
  matchAndRewrite(DequantizeOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto resultType = cast<RankedTensorType>(op.getType());
    int64_t rank = resultType.getRank();
    MLIRContext *ctx = rewriter.getContext();

    SmallVector<AffineExpr> full, blocks;
    for (int64_t d = 0; d < rank; ++d)
      full.push_back(getAffineDimExpr(d, ctx));
    blocks = full;
    ArrayRef<int64_t> block = op.getBlock();
    blocks[rank - 2] = full[rank - 2].floorDiv(block[0]);
    blocks[rank - 1] = full[rank - 1].floorDiv(block[1]);
    SmallVector<AffineMap> maps = {AffineMap::get(rank, 0, full, ctx),
                                   AffineMap::get(rank, 0, blocks, ctx),
                                   AffineMap::get(rank, 0, full, ctx)};
    Value init = tensor::EmptyOp::create(rewriter, loc, resultType.getShape(),
                                         resultType.getElementType());
    Type element = resultType.getElementType();
    auto generic = linalg::GenericOp::create(
        rewriter, loc, resultType,
        ValueRange{adaptor.getQuantized(), adaptor.getScaleInv()},
        ValueRange{init}, maps,
        SmallVector<IteratorType>(rank, kParallel),
        [&](OpBuilder &nb, Location nl, ValueRange args) {
          Value scaled = arith::MulFOp::create(
              nb, nl, decodeFP8E4M3FN(nb, nl, args[0]), args[1]);
          if (element != nb.getF32Type())
            scaled = arith::TruncFOp::create(nb, nl, element, scaled);
          linalg::YieldOp::create(nb, nl, scaled);
        });
    generic->setAttr(kDequantizedBlockAttr, op.getBlockAttr());
    rewriter.replaceOp(op, generic.getResult(0));
    return success();
  }
};

struct ConvertHybridToLinalgPass
    : hybrid::impl::ConvertHybridToLinalgPassBase<ConvertHybridToLinalgPass> {
  using Base::Base;
  LogicalResult initialize(MLIRContext *context) override {
    if (packWeights < 0 || packWeights > kMaxPanel)
      return emitError(UnknownLoc::get(context))
             << "convert-hybrid-to-linalg: pack-weights must be from 0 to "
             << kMaxPanel << ", got " << packWeights.getValue();
    if (maxBatch < 1)
      return emitError(UnknownLoc::get(context))
             << "convert-hybrid-to-linalg: max-batch must be positive, got "
             << maxBatch.getValue();
    if (blockSharedBytes < 1)
      return emitError(UnknownLoc::get(context))
             << "convert-hybrid-to-linalg: block-shared-bytes must be "
                "positive, got "
             << blockSharedBytes.getValue();
    if (mmaTiles && !columnWorkgroups)
      return emitError(UnknownLoc::get(context))
             << "convert-hybrid-to-linalg: mma-tiles refines the column "
                "form; give column-workgroups too";
    if (warpgroupTiles && !mmaTiles)
      return emitError(UnknownLoc::get(context))
             << "convert-hybrid-to-linalg: warpgroup-tiles refines the mma "
                "form; give mma-tiles too";
    if (columnWorkgroups && packWeights == 0)
      return emitError(UnknownLoc::get(context))
             << "convert-hybrid-to-linalg: column-workgroups applies to packed "
                "linear weights; give pack-weights too";
    return success();
  }

  void runOnOperation() override {
    MLIRContext *ctx = &getContext();
    // Batched state buffers have a leading [max-batch] dimension, indexed by
    // each token's slot: functions with state get a `slots` argument.
    if (maxBatch > 1 && failed(addSlotsArguments()))
      return signalPassFailure();
    TypeConverter types;
    types.addConversion([](Type type) { return type; });
    int64_t capacity = maxSeqLen;
    auto buffer = [batch = int64_t(maxBatch)](ArrayRef<int64_t> shape,
                                              Type element) -> Type {
      SmallVector<int64_t> dims;
      if (batch > 1)
        dims.push_back(batch);
      llvm::append_range(dims, shape);
      return MemRefType::get(dims, element);
    };
    // A KV cache handle becomes the sequence's cache buffer:
    // [2 (K, V), max_seq_len, kv_heads, head_dim].
    types.addConversion([=](KVCacheType cache) -> Type {
      return buffer({2, capacity, cache.getShape()[0], cache.getShape()[1]},
                    cache.getElementType());
    });
    // A latent cache: [max_seq_len, kv_lora_rank + qk_rope_head_dim].
    types.addConversion([=](LatentCacheType cache) -> Type {
      return buffer({capacity, cache.getShape()[0] + cache.getShape()[1]},
                    cache.getElementType());
    });
    // A conv window [channels, kernel - 1] and a recurrent state keep their
    // shapes as buffers.
    types.addConversion([=](ConvStateType conv) -> Type {
      return buffer(conv.getShape(), conv.getElementType());
    });
    types.addConversion([=](RecurrentStateType rec) -> Type {
      return buffer(rec.getShape(), rec.getElementType());
    });
    auto cast = [](OpBuilder &builder, Type type, ValueRange inputs,
                   Location loc) -> Value {
      return UnrealizedConversionCastOp::create(builder, loc, type, inputs)
          .getResult(0);
    };
    types.addSourceMaterialization(cast);
    types.addTargetMaterialization(cast);

    ConversionTarget target(*ctx);
    target.markUnknownOpDynamicallyLegal([](Operation *) { return true; });
    target.addDynamicallyLegalOp<func::FuncOp>([&](func::FuncOp f) {
      return types.isSignatureLegal(f.getFunctionType());
    });
    target.addDynamicallyLegalOp<func::ReturnOp, func::CallOp>(
        [&](Operation *op) { return types.isLegal(op); });
    target.addIllegalOp<EmbedOp, SelectRowsOp, RMSNormOp, LMHeadOp, MLPOp, DequantizeOp,
                        MoERouteOp, MoEExpertsOp,
                        AttentionOp, MoEOp, GatedDeltaNetOp, MambaOp, MLAOp,
                        MTPOp>();
    Codegen codegen{packWeights, columnWorkgroups, mmaTiles, blockSharedBytes,
                    warpgroupTiles};
    if (columnWorkgroups && failed(checkBlockChunks(codegen)))
      return signalPassFailure();
    RewritePatternSet patterns(ctx);
    patterns.add<EmbedLowering, SelectRowsLowering, RMSNormLowering, LMHeadLowering, MLPLowering,
                 DequantizeLowering, MoELowering, MoERouteLowering,
                 MoEExpertsLowering, MTPLowering>(types, ctx, codegen);
    populateAttentionLowerings(patterns, types, codegen);
    populateGatedDeltaNetLowering(patterns, types, codegen);
    populateMambaLowering(patterns, types, codegen);
    populateFunctionOpInterfaceTypeConversionPattern<func::FuncOp>(patterns,
                                                                   types);
    populateReturnOpTypeConversionPattern(patterns, types);
    populateCallOpTypeConversionPattern(patterns, types);
    if (failed(applyPartialConversion(getOperation(), target,
                                      std::move(patterns))))
      signalPassFailure();
  }

  /// The GPU form's chunked delta rule keeps a chunk's buffers in one
  /// block's shared memory: a chunk size whose buffers do not fit is an
  /// error saying which size would.
  LogicalResult checkBlockChunks(const Codegen &codegen) {
    // Per head shape (key size, state columns per block) whose layers run
    // without tensor cores: the first such layer, the largest chunk the
    // tensor cores take, how many layers.
    llvm::MapVector<std::pair<int64_t, int64_t>,
                    std::tuple<GatedDeltaNetOp, int64_t, int64_t>>
        slowLayers;
    WalkResult walked = getOperation().walk([&](GatedDeltaNetOp op) {
      std::optional<int64_t> chunk = op.getChunkSize();
      int64_t dk = op.getKHeadDim(), dv = op.getVHeadDim(),
              columns = deltaRuleColumns(packWeights, dv);
      if (!chunk || deltaRuleOnTensorCores(codegen, *chunk, dk, dv, columns))
        return WalkResult::advance();
      // The largest chunk the tensor-core form takes (whole token tiles).
      int64_t onTensorCores = 0;
      for (int64_t c = kMmaTokens; c <= hybrid::kMaxChunkSize; c += kMmaTokens)
        if (deltaRuleOnTensorCores(codegen, c, dk, dv, columns))
          onTensorCores = c;
      if (deltaRuleBlockBytes(*chunk, dk, columns) <= codegen.blockSharedBytes) {
        // Heads the tensor cores take, a chunk they do not: say so rather
        // than run the slower form silently.
        if (onTensorCores) {
          auto [first, _] = slowLayers.try_emplace(
              std::make_pair(dk, columns), op, onTensorCores, 0);
          ++std::get<2>(first->second);
        }
        return WalkResult::advance();
      }
      int64_t fits = *chunk;
      while (fits > 0 &&
             deltaRuleBlockBytes(fits, dk, columns) > codegen.blockSharedBytes)
        --fits;
      InFlightDiagnostic error = op.emitOpError();
      error << "chunk_size " << *chunk << " needs "
            << deltaRuleBlockBytes(*chunk, dk, columns)
            << " bytes of a GPU block's shared memory (key heads "
            << "of " << dk << ", " << columns
            << " state columns per block); the block form holds "
            << codegen.blockSharedBytes << ": chunks of at most " << fits
            << " tokens fit (--scan-chunk-size)";
      if (onTensorCores)
        error << ", " << onTensorCores << " on tensor cores";
      return WalkResult::interrupt();
    });
    if (walked.wasInterrupted())
      return failure();
    // One warning per head shape: the slower form should not go unnoticed.
    for (auto &[shape, layers] : slowLayers) {
      auto [op, onTensorCores, count] = layers;
      op.emitWarning() << "chunk_size " << *op.getChunkSize()
                       << " runs without tensor cores (in " << count
                       << " layer" << (count > 1 ? "s" : "")
                       << " of this head shape): they take chunks of whole "
                       << kMmaTokens << "-token tiles of at most "
                       << onTensorCores << " tokens here (--scan-chunk-size)";
    }
    return success();
  }

  /// Appends `slots: tensor<?xi64>` (`hybrid.slots`) to every function
  /// with state arguments: token i reads and advances the state at batch
  /// slot slots[i]; and `sequences: tensor<?xi64>` (`hybrid.sequences`),
  /// whose size is the number of sequences among the call's tokens and
  /// whose elements nothing reads: the host plan, which cannot read the
  /// slots on a GPU, learns from it whether a call of several tokens is
  /// one sequence's (a prefill) or a batch of decode steps. Such functions
  /// are entry points: a call in the module would miss the new arguments.
  LogicalResult addSlotsArguments() {
    ModuleOp module = getOperation();
    for (auto func : module.getOps<func::FuncOp>()) {
      if (func.isExternal() ||
          !llvm::any_of(func.getArgumentTypes(), [](Type type) {
            return isa<KVCacheType, LatentCacheType, ConvStateType,
                       RecurrentStateType>(type);
          }))
        continue;
      if (!SymbolTable::symbolKnownUseEmpty(func, module))
        return func.emitError("max-batch > 1 adds slots and sequences arguments, but this "
                              "function with state is called in the module");
      Builder b(func.getContext());
      auto list = RankedTensorType::get({ShapedType::kDynamic}, b.getI64Type());
      for (StringRef attr : {"hybrid.slots", "hybrid.sequences"})
        if (failed(func.insertArgument(
                func.getNumArguments(), list,
                b.getDictionaryAttr(b.getNamedAttr(attr, b.getUnitAttr())),
                func.getLoc())))
          return failure();
    }
    return success();
  }
};
} // namespace hybrid::lowering
