//===- HybridToLinalg.cpp - Stateless hybrid ops to linalg ------*- C++ -*-===//
//
// convert-hybrid-to-linalg: embed, rms_norm, lm_head and mlp become
// linalg.generic ops on tensors, computing in f32 (models.md 0.1, 0.2).
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"

#include "dialects/Hybrid/IR/HybridOps.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/IR/AffineMap.h"
#include "mlir/Transforms/DialectConversion.h"

namespace hybrid {
#define GEN_PASS_DEF_CONVERTHYBRIDTOLINALGPASS
#include "passes/Passes.h.inc"
} // namespace hybrid

using namespace mlir;
using namespace hybrid;

namespace {
using utils::IteratorType;
constexpr IteratorType kParallel = IteratorType::parallel;
constexpr IteratorType kReduction = IteratorType::reduction;

/// `value` as f32 inside a loop body (weights may be bf16, f16 or f32).
Value toF32(OpBuilder &b, Location loc, Value value) {
  Type f32 = b.getF32Type();
  if (value.getType() == f32)
    return value;
  if (value.getType().getIntOrFloatBitWidth() < 32)
    return arith::ExtFOp::create(b, loc, f32, value);
  return arith::TruncFOp::create(b, loc, f32, value);
}

Value f32Constant(OpBuilder &b, Location loc, double value) {
  return arith::ConstantOp::create(b, loc, b.getF32FloatAttr(value));
}

/// silu(x) = x * sigmoid(x) = x / (1 + exp(-x)).
Value silu(OpBuilder &b, Location loc, Value x) {
  Value one = f32Constant(b, loc, 1.0);
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

Value zerosLike(OpBuilder &b, Location loc, Value rows,
                ArrayRef<int64_t> trailing) {
  Value empty = emptyLike(b, loc, rows, trailing);
  return linalg::FillOp::create(b, loc, f32Constant(b, loc, 0.0), empty)
      .getResult(0);
}

/// y[t, o] = sum_i x[t, i] * w[o, i]: a linear layer on the checkpoint's
/// [out, in] layout.
Value linear(OpBuilder &b, Location loc, Value x, Value w) {
  int64_t out = cast<RankedTensorType>(w.getType()).getDimSize(0);
  MLIRContext *ctx = b.getContext();
  AffineExpr t, o, i;
  bindDims(ctx, t, o, i);
  SmallVector<AffineMap> maps = {AffineMap::get(3, 0, {t, i}, ctx),
                                 AffineMap::get(3, 0, {o, i}, ctx),
                                 AffineMap::get(3, 0, {t, o}, ctx)};
  Value init = zerosLike(b, loc, x, {out});
  auto op = linalg::GenericOp::create(
      b, loc, init.getType(), ValueRange{x, w}, ValueRange{init}, maps,
      {kParallel, kParallel, kReduction},
      [](OpBuilder &nb, Location nl, ValueRange args) {
        Value product =
            arith::MulFOp::create(nb, nl, args[0], toF32(nb, nl, args[1]));
        Value sum = arith::AddFOp::create(nb, nl, args[2], product);
        linalg::YieldOp::create(nb, nl, sum);
      });
  return op.getResult(0);
}

struct EmbedLowering : OpConversionPattern<EmbedOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(EmbedOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value table = adaptor.getTable();
    int64_t hidden = cast<RankedTensorType>(table.getType()).getDimSize(1);
    Value init = emptyLike(rewriter, loc, adaptor.getTokens(), {hidden});
    MLIRContext *ctx = rewriter.getContext();
    AffineExpr t, h;
    bindDims(ctx, t, h);
    SmallVector<AffineMap> maps = {AffineMap::get(2, 0, {t}, ctx),
                                   AffineMap::get(2, 0, {t, h}, ctx)};
    auto generic = linalg::GenericOp::create(
        rewriter, loc, init.getType(), ValueRange{adaptor.getTokens()},
        ValueRange{init}, maps, {kParallel, kParallel},
        [&](OpBuilder &nb, Location nl, ValueRange args) {
          Value row = arith::IndexCastOp::create(nb, nl, nb.getIndexType(),
                                                 args[0]);
          Value column = linalg::IndexOp::create(nb, nl, 1);
          Value element = tensor::ExtractOp::create(nb, nl, table,
                                                    ValueRange{row, column});
          linalg::YieldOp::create(nb, nl, toF32(nb, nl, element));
        });
    rewriter.replaceOp(op, generic.getResult(0));
    return success();
  }
};

struct RMSNormLowering : OpConversionPattern<RMSNormOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(RMSNormOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value x = adaptor.getInput();
    auto type = cast<RankedTensorType>(x.getType());
    if (type.getRank() != 2 || !type.getElementType().isF32())
      return rewriter.notifyMatchFailure(op, "expects a [tokens, dim] f32 input");
    int64_t dim = type.getDimSize(1);
    MLIRContext *ctx = rewriter.getContext();
    AffineExpr t, j;
    bindDims(ctx, t, j);
    AffineMap rowMap = AffineMap::get(2, 0, {t}, ctx);
    AffineMap fullMap = AffineMap::get(2, 0, {t, j}, ctx);
    AffineMap columnMap = AffineMap::get(2, 0, {j}, ctx);

    // Sum of squares per row.
    Value sums = zerosLike(rewriter, loc, x, {});
    Value sumSquares =
        linalg::GenericOp::create(
            rewriter, loc, sums.getType(), ValueRange{x}, ValueRange{sums},
            ArrayRef<AffineMap>{fullMap, rowMap}, {kParallel, kReduction},
            [](OpBuilder &nb, Location nl, ValueRange args) {
              Value square = arith::MulFOp::create(nb, nl, args[0], args[0]);
              Value sum = arith::AddFOp::create(nb, nl, args[1], square);
              linalg::YieldOp::create(nb, nl, sum);
            })
            .getResult(0);

    NormKind kind = op.getKind();
    double epsilon = op.getEpsilon().convertToDouble();
    SmallVector<Value> inputs = {x, sumSquares, adaptor.getWeight()};
    SmallVector<AffineMap> maps = {fullMap, rowMap, columnMap};
    if (adaptor.getGate()) {
      inputs.push_back(adaptor.getGate());
      maps.push_back(fullMap);
    }
    maps.push_back(fullMap);
    Value init = emptyLike(rewriter, loc, x, {dim});
    auto normalized = linalg::GenericOp::create(
        rewriter, loc, init.getType(), inputs, ValueRange{init}, maps,
        {kParallel, kParallel},
        [&](OpBuilder &nb, Location nl, ValueRange args) {
          Value mean = arith::DivFOp::create(nb, nl, args[1],
                                             f32Constant(nb, nl, dim));
          Value inv = math::RsqrtOp::create(
              nb, nl,
              arith::AddFOp::create(nb, nl, mean, f32Constant(nb, nl, epsilon)));
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
        });
    rewriter.replaceOp(op, normalized.getResult(0));
    return success();
  }
};

struct LMHeadLowering : OpConversionPattern<LMHeadOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(LMHeadOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    rewriter.replaceOp(op, linear(rewriter, op.getLoc(), adaptor.getInput(),
                                  adaptor.getWeight()));
    return success();
  }
};

struct MLPLowering : OpConversionPattern<MLPOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(MLPOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value x = adaptor.getInput();
    Value gate = linear(rewriter, loc, x, adaptor.getGateProj());
    Value up = linear(rewriter, loc, x, adaptor.getUpProj());
    int64_t inter = cast<RankedTensorType>(gate.getType()).getDimSize(1);
    MLIRContext *ctx = rewriter.getContext();
    AffineMap identity = AffineMap::getMultiDimIdentityMap(2, ctx);
    Value init = emptyLike(rewriter, loc, x, {inter});
    Value activated =
        linalg::GenericOp::create(
            rewriter, loc, init.getType(), ValueRange{gate, up},
            ValueRange{init},
            ArrayRef<AffineMap>{identity, identity, identity},
            {kParallel, kParallel},
            [](OpBuilder &nb, Location nl, ValueRange args) {
              Value product =
                  arith::MulFOp::create(nb, nl, silu(nb, nl, args[0]), args[1]);
              linalg::YieldOp::create(nb, nl, product);
            })
            .getResult(0);
    rewriter.replaceOp(op, linear(rewriter, loc, activated,
                                  adaptor.getDownProj()));
    return success();
  }
};

/// W = Q * scale_inv[block]: fp8 e4m3fn decoded through a 256-entry table
/// (LLVM has no f8 type to extend from), times the block's scale.
struct DequantizeLowering : OpConversionPattern<DequantizeOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(DequantizeOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto resultType = cast<RankedTensorType>(op.getType());
    int64_t rank = resultType.getRank();
    MLIRContext *ctx = rewriter.getContext();

    SmallVector<float> table;
    for (unsigned bits = 0; bits < 256; ++bits)
      table.push_back(llvm::APFloat(llvm::APFloat::Float8E4M3FN(),
                                    llvm::APInt(8, bits))
                          .convertToFloat());
    auto tableType = RankedTensorType::get({256}, rewriter.getF32Type());
    Value lut = arith::ConstantOp::create(
        rewriter, loc, DenseElementsAttr::get(tableType, ArrayRef<float>(table)));

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
          Value bits = arith::BitcastOp::create(nb, nl, nb.getI8Type(), args[0]);
          Value index = arith::IndexCastUIOp::create(nb, nl, nb.getIndexType(),
                                                     bits);
          Value decoded = tensor::ExtractOp::create(nb, nl, lut, index);
          Value scaled = arith::MulFOp::create(nb, nl, decoded, args[1]);
          if (element != nb.getF32Type())
            scaled = arith::TruncFOp::create(nb, nl, element, scaled);
          linalg::YieldOp::create(nb, nl, scaled);
        });
    rewriter.replaceOp(op, generic.getResult(0));
    return success();
  }
};

struct ConvertHybridToLinalgPass
    : hybrid::impl::ConvertHybridToLinalgPassBase<ConvertHybridToLinalgPass> {
  void runOnOperation() override {
    MLIRContext *ctx = &getContext();
    ConversionTarget target(*ctx);
    target.addLegalDialect<arith::ArithDialect, linalg::LinalgDialect,
                           math::MathDialect, tensor::TensorDialect,
                           HybridDialect>();
    target.addLegalOp<ModuleOp>();
    target.markUnknownOpDynamicallyLegal([](Operation *) { return true; });
    target.addIllegalOp<EmbedOp, RMSNormOp, LMHeadOp, MLPOp, DequantizeOp>();
    RewritePatternSet patterns(ctx);
    patterns.add<EmbedLowering, RMSNormLowering, LMHeadLowering, MLPLowering,
                 DequantizeLowering>(ctx);
    if (failed(applyPartialConversion(getOperation(), target,
                                      std::move(patterns))))
      signalPassFailure();
  }
};
} // namespace
