//===- HybridToLinalg.cpp - hybrid ops to linalg and loops ------*- C++ -*-===//
//
// convert-hybrid-to-linalg: the pass, embed, rms_norm, lm_head, mlp, mtp
// and dequantize, and the pieces the other lowerings share (f32 helpers,
// state buffers, the causal conv). The linear layers (Linear.cpp), the MoE
// ops (MoE.cpp), attention and MLA, Gated DeltaNet and Mamba lower in
// files of their own (HybridToLinalgLowering.h).
//
//===----------------------------------------------------------------------===//

#include "passes/Conversion/LinearForms.h"

#include "dialects/Hybrid/IR/HybridOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Func/Transforms/FuncConversions.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/AffineMap.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"
#include "mlir/Transforms/DialectConversion.h"
#include "llvm/ADT/MapVector.h"

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

Value softplus(OpBuilder &b, Location loc, Value x) {
  Value threshold = f32Constant(b, loc, 20.0);
  if (auto vector = dyn_cast<VectorType>(x.getType()))
    threshold = arith::ConstantOp::create(
        b, loc, vector, DenseElementsAttr::get(vector, b.getF32FloatAttr(20.0)));
  return arith::SelectOp::create(
      b, loc, arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGT, x, threshold), x,
      math::Log1pOp::create(b, loc, math::ExpOp::create(b, loc, x)));
}

Value channelLanes(ImplicitLocOpBuilder &b, Value c0, int64_t width,
                   function_ref<Value(Value)> of) {
  SmallVector<Value> lanes;
  for (int64_t i = 0; i < width; ++i)
    lanes.push_back(of(arith::AddIOp::create(b, c0, arith::ConstantIndexOp::create(b, i))));
  return vector::FromElementsOp::create(b, VectorType::get({width}, b.getF32Type()), lanes);
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

/// acc + x * y as one step of a dot product: reassociable (kDotMath), so
/// that LLVM vectorises the loop it is in.
Value dotStep(OpBuilder &b, Location loc, Value acc, Value x, Value y) {
  return arith::AddFOp::create(b, loc, acc,
                               arith::MulFOp::create(b, loc, x, y, kDotMath),
                               kDotMath);
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

Value callStart(OpBuilder &b, Operation *op) {
  auto func = op->getParentOfType<func::FuncOp>();
  for (unsigned i = 0, e = func.getNumArguments(); i < e; ++i) {
    if (!func.getArgAttr(i, "hybrid.call_start"))
      continue;
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(&func.getBody().front());
    Value zero = arith::ConstantIndexOp::create(b, func.getLoc(), 0);
    return tensor::DimOp::create(b, func.getLoc(), func.getArgument(i), zero);
  }
  return {};
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

/// The CPU's conv kernels (Gated DeltaNet's and Mamba's). A prompt (several
/// tokens of one sequence) whose channels come in runs of `run` consecutive
/// input columns, a multiple of half a panel: a workgroup per block of
/// half a panel of channels walks the tokens with the block's window (its
/// K-1 latest inputs, rounded as the state keeps them) in vector registers,
/// a vector of the block's channels per step, the state read once before
/// and written once after. Every other call, and the prompts of other
/// widths: a workgroup per channel, token by token (convStep), which read
/// each token's input a row of the input apart: at Qwen3-Next's widths the
/// conv of a 1020-token prompt took 9.5 ms a layer that way, a column a
/// workgroup. `input` [T, columns] holds channel c's inputs at column
/// columnOf(c).
void cpuConv(ImplicitLocOpBuilder &b, LoopNest &loops, const Codegen &codegen,
             int64_t channels, int64_t run, Value tokens, Value weight, Value bias,
             Value convState, Value slots, int64_t kernel, Value input,
             function_ref<Value(Value)> columnOf, Value out) {
  Location loc = b.getLoc();
  Value zero = loops.index(0);
  int64_t width = codegen.panel / 2;
  Value blocked = arith::ConstantIntOp::create(b, b.getI1Type(), 0);
  if (width >= 2 && run % width == 0 && channels % width == 0) {
    blocked = loops.severalOfOneSequence(tokens, slots);
    Type f32 = b.getF32Type();
    Type element = cast<MemRefType>(convState.getType()).getElementType();
    auto vf32 = VectorType::get({width}, f32);
    // Rounded as the state keeps a past input.
    auto kept = [&](Value v) -> Value {
      if (element.isF32())
        return v;
      return arith::ExtFOp::create(
          b, vf32,
          arith::TruncFOp::create(b, VectorType::get({width}, element), v).getResult());
    };
    loops.parallel("conv_prompt",
                   {arith::SelectOp::create(b, blocked, loops.index(channels / width), zero)},
                   [&](ValueRange ivs) {
      Value c0 = arith::MulIOp::create(b, ivs[0], loops.index(width));
      auto channel = [&](int64_t i) { return arith::AddIOp::create(b, c0, loops.index(i)); };
      // The block's entries of [c, j] (the state, the weights) as a vector.
      auto gather = [&](function_ref<Value(Value)> at) {
        return channelLanes(b, c0, width, at);
      };
      auto weightAt = [&](int64_t j) {
        return gather([&](Value c) {
          return toF32(b, loc, tensor::ExtractOp::create(
                                   b, weight, ValueRange{c, zero, loops.index(j)}));
        });
      };
      SmallVector<Value> weights;
      for (int64_t j = 0; j < kernel; ++j)
        weights.push_back(weightAt(j));
      Value biases;
      if (bias)
        biases = gather([&](Value c) {
          return toF32(b, loc, tensor::ExtractOp::create(b, bias, ValueRange{c}));
        });
      SmallVector<Value> window;
      for (int64_t j = 0; j + 1 < kernel; ++j)
        window.push_back(gather([&](Value c) {
          return toF32(b, loc, memref::LoadOp::create(
                                   b, convState, stateAt(b, slots, zero, {c, loops.index(j)})));
        }));
      Value column = columnOf(c0);
      auto last = loops.forLoop(zero, tokens, window, [&](Value t, ValueRange older) {
        Value in = vector::TransferReadOp::create(b, vf32, input, ValueRange{t, column},
                                                  loops.f32(0.0), ArrayRef<bool>{true});
        // As convStep sums: the newest input's term first, then the past.
        Value acc = arith::MulFOp::create(b, weights[kernel - 1], in);
        if (biases)
          acc = arith::AddFOp::create(b, acc, biases);
        for (int64_t j = 0; j + 1 < kernel; ++j)
          acc = arith::AddFOp::create(b, acc, arith::MulFOp::create(b, weights[j], older[j]));
        vector::TransferWriteOp::create(b, silu(b, loc, acc), out, ValueRange{t, c0},
                                        ArrayRef<bool>{true});
        SmallVector<Value> next(older.drop_front());
        next.push_back(kept(in));
        return next;
      });
      for (int64_t j = 0; j + 1 < kernel; ++j)
        for (int64_t i = 0; i < width; ++i) {
          Value v = vector::ExtractOp::create(b, last.getResult(j), ArrayRef<int64_t>{i});
          memref::StoreOp::create(
              b, element.isF32() ? v : arith::TruncFOp::create(b, element, v).getResult(),
              convState, stateAt(b, slots, zero, {channel(i), loops.index(j)}));
        }
    });
  }
  loops.parallel("conv",
                 {arith::SelectOp::create(b, blocked, zero, loops.index(channels))},
                 [&](ValueRange ivs) {
    Value c = ivs[0];
    tokenByTokenConv(b, loops, c, tokens, weight, bias, convState, slots, kernel,
                     [&](Value t) -> Value {
      return tensor::ExtractOp::create(b, input, ValueRange{t, columnOf(c)});
    }, out);
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
    if (bf16Dot && (packWeights == 0 || packWeights % 16 != 0 || columnWorkgroups))
      return emitError(UnknownLoc::get(context))
             << "convert-hybrid-to-linalg: bf16-dot applies to the CPU panel "
                "form: give pack-weights a multiple of 16 (the dot product's "
                "lanes), without column-workgroups";
    return success();
  }

  void runOnOperation() override {
    MLIRContext *ctx = &getContext();
    // Batched state buffers have a leading [max-batch] dimension, indexed by
    // each token's slot: functions with state get a `slots` argument.
    if (maxBatch > 1 && failed(addSlotsArguments()))
      return signalPassFailure();
    if (packWeights > 0 && !columnWorkgroups && failed(addCallStartArguments()))
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
                    warpgroupTiles, bf16Dot};
    if (columnWorkgroups && failed(checkBlockChunks(codegen)))
      return signalPassFailure();
    RewritePatternSet patterns(ctx);
    patterns.add<EmbedLowering, SelectRowsLowering, RMSNormLowering, LMHeadLowering, MLPLowering,
                 DequantizeLowering, MTPLowering>(types, ctx, codegen);
    populateMoELowerings(patterns, types, codegen);
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

  /// Appends `call_start: tensor<?xi64>` (`hybrid.call_start`) to every
  /// function with MLA in the CPU's vector forms: its size is the position
  /// of the call's first token, its elements nothing reads. The plan sizes
  /// MLA's expansion of a prompt's cached latents by it (a prompt
  /// continuing a sequence expands the rows before it too). Such functions
  /// are entry points, as with slots.
  LogicalResult addCallStartArguments() {
    ModuleOp module = getOperation();
    for (auto func : module.getOps<func::FuncOp>()) {
      if (func.isExternal() || !func->walk([](MLAOp) { return WalkResult::interrupt(); })
                                    .wasInterrupted())
        continue;
      if (!SymbolTable::symbolKnownUseEmpty(func, module))
        return func.emitError("MLA on the CPU adds a call_start argument, but this "
                              "function is called in the module");
      Builder b(func.getContext());
      if (failed(func.insertArgument(
              func.getNumArguments(),
              RankedTensorType::get({ShapedType::kDynamic}, b.getI64Type()),
              b.getDictionaryAttr(b.getNamedAttr("hybrid.call_start", b.getUnitAttr())),
              func.getLoc())))
        return failure();
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
