//===- Mamba.cpp - hybrid.mamba to loops ----------------------------------===//
//
// convert-hybrid-to-linalg's lowering of Jamba's Mamba-1 mixer (models.md
// 2.5): projections, the causal conv, and the selective scan token by
// token or in blocks (CPU), per channel for decode and in blocks of
// (channel, state) pairs for prefill (GPU forms).
//
//===----------------------------------------------------------------------===//

#include "passes/Conversion/HybridToLinalgLowering.h"

#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Math/IR/Math.h"

#include <cmath>
#include <limits>

namespace hybrid::lowering {
namespace {

/// y[t, j] = x[t, j] + bias[j].
Value addBias(OpBuilder &b, Location loc, Value x, Value bias) {
  int64_t n = cast<RankedTensorType>(x.getType()).getDimSize(1);
  MLIRContext *ctx = b.getContext();
  AffineExpr t, j;
  bindDims(ctx, t, j);
  AffineMap full = AffineMap::get(2, 0, {t, j}, ctx);
  Value init = emptyLike(b, loc, x, {n});
  return linalg::GenericOp::create(
             b, loc, init.getType(), ValueRange{x, bias}, ValueRange{init},
             ArrayRef<AffineMap>{full, AffineMap::get(2, 0, {j}, ctx), full},
             {kParallel, kParallel},
             [](OpBuilder &nb, Location nl, ValueRange args) {
               Value sum = arith::AddFOp::create(nb, nl, args[0],
                                                 toF32(nb, nl, args[1]));
               linalg::YieldOp::create(nb, nl, sum);
             })
      .getResult(0);
}

/// (channel, state) pairs per workgroup of the GPU forms' chunked Mamba
/// scan: a thread each in the CUDA pipeline's 128-thread blocks.
constexpr int64_t kScanBlockPairs = 128;

/// Channels per workgroup of the GPU forms' chunked Mamba scan.
int64_t scanGroupChannels(int64_t stateDim) {
  return std::max<int64_t>(1, kScanBlockPairs / stateDim);
}

/// Tokens the GPU forms' chunked Mamba scan stages at a time: the scan's
/// chunk size, or fewer where a block's buffers (the state and A [pairs],
/// per token the channels' dt and x, and the terms C h of every pair)
/// would not fit `blockSharedBytes`. The recurrence is the same for any.
int64_t scanStagedTokens(int64_t chunk, int64_t stateDim, int64_t blockSharedBytes) {
  int64_t group = scanGroupChannels(stateDim), pairs = group * stateDim;
  int64_t perToken = 4 * (2 * group + pairs);
  return std::clamp<int64_t>((blockSharedBytes - 4 * 2 * pairs) / perToken, 1, chunk);
}

/// Mamba's selective scan of a call of several tokens of one sequence as
/// the GPU forms run it: a workgroup (a GPU block) per group of channels
/// (scanGroupChannels) walks the call in steps of `staged` tokens, the
/// group's state in its shared buffers. Per step: each (token, channel)'s
/// step size and input; then each (channel, state) pair's recurrence h =
/// exp(dt A) h + dt x B over the step's tokens, one thread each, its terms
/// C h per token into shared memory; then each (token, channel) sums them
/// over the state (in the token-by-token form's order) and emits y. The
/// callbacks give channel c's step size and input at token t, A[c, n],
/// token t's B and C, and emit y + D x gated by silu(z). No workgroups for
/// the calls where `elsewhere` (an i1, or null): dt_proj's GEMV scans them.
void scanChunks(ImplicitLocOpBuilder &b, LoopNest &loops, int64_t staged,
                int64_t inner, int64_t stateDim, Value tokens, Value slots,
                Value elsewhere, Value ssm,
                function_ref<Value(Value, Value)> stepSizeAt,
                function_ref<Value(Value, Value)> inputAt,
                function_ref<Value(Value, Value)> aCoefAt,
                function_ref<Value(Value, Value)> bAt,
                function_ref<Value(Value, Value)> cAt,
                function_ref<void(Value, Value, Value, Value)> emitAt) {
  Type f32 = b.getF32Type();
  int64_t group = scanGroupChannels(stateDim), pairs = group * stateDim;
  auto index = [&](int64_t v) { return loops.index(v); };
  auto add = [&](Value l, Value r) -> Value { return arith::AddIOp::create(b, l, r); };
  auto divui = [&](Value l, int64_t r) -> Value {
    return arith::DivUIOp::create(b, l, index(r));
  };
  auto remui = [&](Value l, int64_t r) -> Value {
    return arith::RemUIOp::create(b, l, index(r));
  };
  auto ult = [&](Value l, Value r) -> Value {
    return arith::CmpIOp::create(b, arith::CmpIPredicate::ult, l, r);
  };
  auto fmul = [&](Value l, Value r) -> Value { return arith::MulFOp::create(b, l, r); };
  auto fadd = [&](Value l, Value r) -> Value { return arith::AddFOp::create(b, l, r); };
  Value zero = index(0);
  Value groups = loops.workgroupsFor(true, llvm::divideCeil(inner, group), tokens, slots);
  if (elsewhere)
    groups = arith::SelectOp::create(b, elsewhere, index(0), groups);
  loops.parallel("scan_chunks", {groups}, [&](ValueRange ivs) {
    Value c0 = arith::MulIOp::create(b, ivs[0], index(group));
    Value hs = loops.scratch(pairs, f32), as = loops.scratch(pairs, f32);
    Value steps = loops.scratch(staged * group, f32);
    Value inputs = loops.scratch(staged * group, f32);
    Value terms = loops.scratch(staged * pairs, f32); // C h per (token, pair)
    auto walk = [&] {
      Value slot = loops.oneSequenceSlot(slots);
      auto stateIndex = [&](Value c, Value n) -> SmallVector<Value> {
        if (slot)
          return {slot, c, n};
        return {c, n};
      };
      // Loops over the group's pairs and over (token, channel), flat (a
      // unit dimension would be folded away with the cooperative mark);
      // the channels past the last do nothing.
      auto forPairs = [&](function_ref<void(Value, Value, Value)> body) {
        loops.cooperative({index(pairs)}, [&](ValueRange pv) {
          Value g = divui(pv[0], stateDim), n = remui(pv[0], stateDim);
          Value c = add(c0, g);
          loops.ifElse(ult(c, index(inner)), [&] { body(pv[0], c, n); }, [] {});
        });
      };
      forPairs([&](Value p, Value c, Value n) {
        memref::StoreOp::create(b, memref::LoadOp::create(b, ssm, stateIndex(c, n)),
                                hs, p);
        memref::StoreOp::create(b, aCoefAt(c, n), as, p);
      });
      Value stepCount = arith::CeilDivUIOp::create(b, tokens, index(staged));
      loops.forLoop(zero, stepCount, {}, [&](Value step, ValueRange) {
        Value first = arith::MulIOp::create(b, step, index(staged));
        Value rows = arith::MinUIOp::create(
            b, index(staged), arith::SubIOp::create(b, tokens, first));
        auto forTokenChannels = [&](function_ref<void(Value, Value, Value)> body) {
          loops.cooperative({index(staged * group)}, [&](ValueRange rv) {
            Value r = divui(rv[0], group), c = add(c0, remui(rv[0], group));
            Value inside = arith::AndIOp::create(b, ult(r, rows), ult(c, index(inner)));
            loops.ifElse(inside, [&] { body(rv[0], r, c); }, [] {});
          });
        };
        forTokenChannels([&](Value at, Value r, Value c) {
          Value t = add(first, r);
          memref::StoreOp::create(b, stepSizeAt(t, c), steps, at);
          memref::StoreOp::create(b, inputAt(t, c), inputs, at);
        });
        forPairs([&](Value p, Value c, Value n) {
          Value g = divui(p, stateDim);
          Value a = memref::LoadOp::create(b, as, p);
          Value h = loops.forLoop(zero, rows, {memref::LoadOp::create(b, hs, p)},
                                  [&](Value r, ValueRange carried) {
            Value t = add(first, r);
            Value at = add(arith::MulIOp::create(b, r, index(group)), g);
            Value dt = memref::LoadOp::create(b, steps, at);
            Value dtx = fmul(dt, memref::LoadOp::create(b, inputs, at));
            Value next = fadd(fmul(math::ExpOp::create(b, fmul(dt, a)), carried[0]),
                              fmul(dtx, bAt(t, n)));
            memref::StoreOp::create(
                b, fmul(next, cAt(t, n)), terms,
                add(arith::MulIOp::create(b, r, index(pairs)), p));
            return SmallVector<Value>{next};
          }).getResult(0);
          memref::StoreOp::create(b, h, hs, p);
        });
        forTokenChannels([&](Value at, Value r, Value c) {
          Value g = remui(at, group);
          Value base = add(arith::MulIOp::create(b, r, index(pairs)),
                           arith::MulIOp::create(b, g, index(stateDim)));
          Value y = loops.forLoop(zero, index(stateDim), {loops.f32(0.0)},
                                  [&](Value n, ValueRange sum) {
            return SmallVector<Value>{
                fadd(sum[0], memref::LoadOp::create(b, terms, add(base, n)))};
          }).getResult(0);
          emitAt(add(first, r), c, y, memref::LoadOp::create(b, inputs, at));
        });
        return SmallVector<Value>{};
      });
      forPairs([&](Value p, Value c, Value n) {
        memref::StoreOp::create(b, memref::LoadOp::create(b, hs, p), ssm,
                                stateIndex(c, n));
      });
    };
    loops.ifElse(loops.severalOfOneSequence(tokens, slots), walk, [] {});
  });
}

/// Lowers hybrid.mamba (Jamba's Mamba-1, models.md 2.5): in_proj (linalg),
/// the causal conv per token from the conv window, x_proj (linalg), then
/// per token the dt/B/C norms, dt = softplus(dt_proj) and the selective scan
/// from the ssm state, y * silu(z), out_proj. Sequential over tokens: the
/// reference and decode form.
struct MambaLowering : HybridLowering<MambaOp> {
  using HybridLowering::HybridLowering;
  LogicalResult
  matchAndRewrite(MambaOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Value convState = adaptor.getConvState();
    Value ssm = adaptor.getSsmState();
    if (!isa<MemRefType>(convState.getType()) || !isa<MemRefType>(ssm.getType()))
      return rewriter.notifyMatchFailure(op, "state is not a memref yet");
    ImplicitLocOpBuilder b(op.getLoc(), rewriter);
    Location loc = op.getLoc();
    Type f32 = b.getF32Type();
    int64_t inner = op.getDInner(), stateDim = op.getDState(),
            kernel = op.getDConv(), rank = op.getDtRank();
    float eps = static_cast<float>(op.getNormEpsilon().convertToDouble());

    LoopNest loops{b};
    Value slots = slotsArgument(op); // batched state buffers
    auto index = [&](int64_t v) { return loops.index(v); };
    auto f32c = [&](double v) { return loops.f32(v); };
    Value zero = index(0);
    auto forLoop = [&](Value lb, Value ub, ValueRange init,
                       LoopNest::Body body) {
      return loops.forLoop(lb, ub, init, body);
    };
    auto add = [&](Value l, Value r) -> Value { return arith::AddIOp::create(b, l, r); };
    auto fadd = [&](Value l, Value r) -> Value { return arith::AddFOp::create(b, l, r); };
    auto fmul = [&](Value l, Value r) -> Value { return arith::MulFOp::create(b, l, r); };
    auto load = [&](Value m, ValueRange i) -> Value {
      return memref::LoadOp::create(b, m, i);
    };
    auto store = [&](Value v, Value m, ValueRange i) {
      memref::StoreOp::create(b, v, m, i);
    };
    auto weightAt = [&](Value w, ValueRange i) {
      return toF32(b, loc, tensor::ExtractOp::create(b, w, i));
    };
    auto toTensor = [&](Value buffer, int64_t columns) -> Value {
      return bufferization::ToTensorOp::create(
          b, RankedTensorType::get({ShapedType::kDynamic, columns}, f32), buffer,
          /*restrict=*/true, /*writable=*/true);
    };

    // Builds a GEMV's consumer (linearConsuming) with `b` at its point.
    auto inGemv = [&](OpBuilder &at, function_ref<void()> body) {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPoint(at.getInsertionBlock(), at.getInsertionPoint());
      body();
    };
    auto ult = [&](Value l, int64_t r) -> Value {
      return arith::CmpIOp::create(b, arith::CmpIPredicate::ult, l, index(r));
    };

    Value x = adaptor.getInput();
    Value tokens = tensor::DimOp::create(b, x, 0);
    auto rows = [&](int64_t columns) -> Value {
      return memref::AllocOp::create(
          b, MemRefType::get({ShapedType::kDynamic, columns}, f32),
          ValueRange{tokens});
    };

    // The causal conv (+ bias) and SiLU: in the GPU forms, in_proj's GEMV
    // convolves the calls it runs whole, a conv step per x channel as it
    // finishes it (no conv kernel at decode); the other calls take the
    // window form. On the CPU cpuConv's kernels (a prompt's in vectors of
    // channels).
    Value convolved;
    auto convStepOf = [&](Value t, Value c, Value in) {
      convStep(b, loops, c, t, in, adaptor.getConv1d(), adaptor.getConv1dBias(),
               convState, slots, kernel, convolved);
    };
    Value xz, convDone;
    if (codegen.columns) {
      convolved = rows(inner); // before in_proj's GEMV, which writes it
      ConsumedLinear inProj = linearConsuming(
          b, loc, codegen, x, adaptor.getInProj(),
          [&](OpBuilder &at, Value t, Value c, Value value) { inGemv(at, [&] {
        loops.ifElse(ult(c, inner), [&] {
          if (adaptor.getInProjBias())
            value = fadd(value, weightAt(adaptor.getInProjBias(), ValueRange{c}));
          convStepOf(t, c, value);
        }, [] {});
      }); });
      xz = inProj.y;
      convDone = inProj.consumed;
    } else {
      xz = linear(b, loc, codegen, x, adaptor.getInProj());
      convolved = rows(inner);
    }
    if (adaptor.getInProjBias())
      xz = addBias(b, loc, xz, adaptor.getInProjBias());
    // The workgroups `count` of a kernel that the GEMVs' consumers leave
    // calls to: none for the calls they did.
    auto unlessConsumed = [&](Value done, Value count) -> Value {
      return done ? arith::SelectOp::create(b, done, zero, count).getResult() : count;
    };
    if (codegen.columns) {
      ConvWindow window{b, loops, tokens, adaptor.getConv1d(),
                        adaptor.getConv1dBias(), convState, kernel,
                        [&](Value t, Value c) -> Value {
        return tensor::ExtractOp::create(b, xz, ValueRange{t, c});
      }, slots};
      window.run(inner, convolved, /*elsewhere=*/convDone);
    } else {
      cpuConv(b, loops, codegen, inner, inner, tokens, adaptor.getConv1d(),
              adaptor.getConv1dBias(), convState, slots, kernel, xz,
              [](Value c) { return c; }, convolved);
    }
    Value xs = toTensor(convolved, inner);
    Value dbc = linear(b, loc, codegen, xs, adaptor.getXProj());

    // Per token (in parallel): dt, B and C, normed. The GPU forms run a
    // block per token, its steps strided over the block's threads and its
    // sums block reductions: one thread would walk them alone, and the
    // block runs in the tail of x_proj's GEMV (hybrid-chain-dispatches).
    Value paramsAll = rows(rank + 2 * stateDim);
    Value deltas = rows(rank); // dt's low-rank input, normed
    bool block = codegen.columns;
    loops.parallel("dt_b_c", {tokens}, [&](ValueRange ivs) {
      Value t = ivs[0];
      Value params = loops.scratch(rank + 2 * stateDim, f32);
      loops.eachOf(rank + 2 * stateDim, block, [&](Value i) {
        store(tensor::ExtractOp::create(b, dbc, ValueRange{t, i}), params,
              ValueRange{i});
      });
      // Jamba RMS-normalises dt, B and C (plain weights) before using them.
      auto normalize = [&](Value weight, int64_t offset, int64_t size) {
        Value sum = loops.sumOver(size, block, [&](Value i) -> Value {
          Value v = load(params, ValueRange{add(i, index(offset))});
          return fmul(v, v);
        });
        Value inv = math::RsqrtOp::create(
            b, fadd(arith::DivFOp::create(b, sum, f32c(size)), f32c(eps)));
        loops.eachOf(size, block, [&](Value i) {
          Value at = add(i, index(offset));
          store(fmul(fmul(load(params, ValueRange{at}), inv),
                     weightAt(weight, ValueRange{i})),
                params, ValueRange{at});
        });
      };
      if (adaptor.getDtLayernorm()) {
        normalize(adaptor.getDtLayernorm(), 0, rank);
        normalize(adaptor.getBLayernorm(), rank, stateDim);
        normalize(adaptor.getCLayernorm(), rank + stateDim, stateDim);
      }
      loops.eachOf(rank + 2 * stateDim, block, [&](Value i) {
        store(load(params, ValueRange{i}), paramsAll, ValueRange{t, i});
      });
      loops.eachOf(rank, block, [&](Value i) {
        store(load(params, ValueRange{i}), deltas, ValueRange{t, i});
      });
    });

    // dt = softplus(dt_proj) and the selective scan from the ssm state, y *
    // silu(z), in the forms below: channel c's step size from its dt_proj
    // output (before the bias) or at token t, its A row, token t's B and C.
    std::optional<int64_t> chunk = op.getChunkSize();
    Value scanned;
    auto stepSizeOf = [&](Value c, Value dtProj) -> Value {
      return softplus(b, loc, fadd(dtProj, weightAt(adaptor.getDtProjBias(), ValueRange{c})));
    };
    auto aCoefAt = [&](Value c, Value n) -> Value {
      return arith::NegFOp::create(
          b, math::ExpOp::create(b, weightAt(adaptor.getALog(), ValueRange{c, n})));
    };
    auto bAt = [&](Value t, Value n) {
      return load(paramsAll, ValueRange{t, add(n, index(rank))});
    };
    auto cAt = [&](Value t, Value n) {
      return load(paramsAll, ValueRange{t, add(n, index(rank + stateDim))});
    };
    // y (the sum over the state) + D x, gated by silu(z), into scanned.
    auto emitAt = [&](Value t, Value c, Value y, Value xc) {
      y = fadd(y, fmul(weightAt(adaptor.getD(), ValueRange{c}), xc));
      Value z = tensor::ExtractOp::create(b, xz, ValueRange{t, add(c, index(inner))});
      store(fmul(y, silu(b, loc, z)), scanned, ValueRange{t, c});
    };
    // Token t's step of channel c, dt its step size: h = exp(dt A) h + dt B
    // x; y = C . h.
    auto scanStep = [&](Value t, Value c, Value dt) {
      Value xc = tensor::ExtractOp::create(b, xs, ValueRange{t, c});
      Value dtx = fmul(dt, xc);
      Value y = forLoop(zero, index(stateDim), {f32c(0.0)}, [&](Value n,
                                                              ValueRange a) {
        Value decay = math::ExpOp::create(b, fmul(dt, aCoefAt(c, n)));
        Value h = fadd(fmul(decay, load(ssm, stateAt(b, slots, t, {c, n}))),
                       fmul(dtx, bAt(t, n)));
        store(h, ssm, stateAt(b, slots, t, {c, n}));
        return SmallVector<Value>{fadd(a[0], fmul(h, cAt(t, n)))};
      }).getResult(0);
      emitAt(t, c, y, xc);
    };

    // The step sizes before their bias and softplus, delta dt_proj^T [T,
    // d_inner]: a linear layer (register tiles), not a dot per (token,
    // channel) in the scan. The scan adds the bias as it reads them (a
    // kernel of its own would be one more launch per layer and step). In
    // the GPU forms, dt_proj's GEMV scans the calls it runs whole, a step
    // per channel as it finishes it (no scan kernel at decode).
    Value deltaRows = toTensor(deltas, rank), dtPre, scanDone;
    if (codegen.columns) {
      scanned = rows(inner); // before dt_proj's GEMV, which writes it
      ConsumedLinear dtProj = linearConsuming(
          b, loc, codegen, deltaRows, adaptor.getDtProj(),
          [&](OpBuilder &at, Value t, Value c, Value value) { inGemv(at, [&] {
        scanStep(t, c, stepSizeOf(c, value));
      }); });
      dtPre = dtProj.y;
      scanDone = dtProj.consumed;
    } else {
      dtPre = linear(b, loc, codegen, deltaRows, adaptor.getDtProj());
      scanned = rows(inner);
    }
    auto stepSizeAt = [&](Value t, Value c) -> Value {
      return stepSizeOf(c, tensor::ExtractOp::create(b, dtPre, ValueRange{t, c}));
    };
    // The GPU forms: calls of several tokens of one sequence with a chunk
    // size take the chunked block form (scanChunks), the others a thread
    // per channel token by token (severalOfOneSequence, with batch slots
    // from the call's sequence count).
    bool gpuChunks = codegen.columns && chunk;
    if (gpuChunks)
      scanChunks(b, loops, scanStagedTokens(*chunk, stateDim, codegen.blockSharedBytes),
                 inner, stateDim, tokens, slots, scanDone, ssm, stepSizeAt,
                 [&](Value t, Value c) -> Value {
                   return tensor::ExtractOp::create(b, xs, ValueRange{t, c});
                 },
                 aCoefAt, bAt, cAt, emitAt);

    // The CPU's prompts (several tokens of one sequence, when
    // hybrid-tile-scans asked for a prefill form): a workgroup per block of
    // `width` channels (a register's floats) walks the tokens, each state
    // entry n of the block's channels a vector in registers: per token and
    // n, exp(dt A) for the block at once, and every read (dt, x, z) and
    // write (y) a row's consecutive floats. A workgroup per channel, as
    // below, read each token's dt and x a row of d_inner apart: Jamba's
    // scan of a 1020-token prompt took 48 ms a layer that way. The sums are
    // blockwise's, in its order.
    // Entry (c, n) of the ssm state of a call of one sequence, `slot` its
    // batch slot (oneSequenceSlot; null without slots).
    auto oneSequenceState = [&](Value slot, Value c, Value n) -> SmallVector<Value> {
      if (slot)
        return {slot, c, n};
      return {c, n};
    };
    int64_t width = std::min<int64_t>(codegen.panel / 2, 16);
    bool channelBlocks =
        !codegen.columns && chunk && width >= 2 && inner % width == 0;
    Value prompt = channelBlocks ? loops.severalOfOneSequence(tokens, slots) : Value();
    if (channelBlocks) {
      auto vf32 = VectorType::get({width}, f32);
      auto splat = [&](double v) -> Value {
        return arith::ConstantOp::create(b, vf32,
                                         DenseElementsAttr::get(vf32, b.getF32FloatAttr(v)));
      };
      auto broadcast = [&](Value scalar) -> Value {
        return vector::BroadcastOp::create(b, vf32, scalar);
      };
      auto row = [&](Value source, Value t, Value column) -> Value {
        return vector::TransferReadOp::create(b, vf32, source, ValueRange{t, column},
                                              f32c(0.0), ArrayRef<bool>{true});
      };
      loops.parallel("scan_prompt",
                     {arith::SelectOp::create(b, prompt, index(inner / width), zero)},
                     [&](ValueRange ivs) {
        Value c0 = arith::MulIOp::create(b, ivs[0], index(width));
        auto channel = [&](int64_t i) { return add(c0, index(i)); };
        auto gather = [&](function_ref<Value(Value)> of) {
          return channelLanes(b, c0, width, of);
        };
        Value slot = loops.oneSequenceSlot(slots);
        auto stateIndex = [&](Value c, int64_t n) { return oneSequenceState(slot, c, index(n)); };
        // A's rows as vectors of the block's channels, read each token.
        Value aCoefs = loops.scratch({stateDim, width}, f32);
        SmallVector<Value> state;
        for (int64_t n = 0; n < stateDim; ++n) {
          vector::TransferWriteOp::create(
              b, gather([&](Value c) { return aCoefAt(c, index(n)); }), aCoefs,
              ValueRange{index(n), zero}, ArrayRef<bool>{true});
          state.push_back(gather([&](Value c) { return load(ssm, stateIndex(c, n)); }));
        }
        Value bias = gather([&](Value c) {
          return weightAt(adaptor.getDtProjBias(), ValueRange{c});
        });
        Value d = gather([&](Value c) { return weightAt(adaptor.getD(), ValueRange{c}); });
        auto last = forLoop(zero, tokens, state, [&](Value t, ValueRange h) {
          // dt = softplus(dt_proj + bias), as stepSizeOf.
          Value dt = softplus(b, loc, fadd(row(dtPre, t, c0), bias));
          Value x = row(xs, t, c0);
          Value dtx = fmul(dt, x);
          Value y = splat(0.0);
          SmallVector<Value> next;
          for (int64_t n = 0; n < stateDim; ++n) {
            Value aCoef = vector::TransferReadOp::create(
                b, vf32, aCoefs, ValueRange{index(n), zero}, f32c(0.0), ArrayRef<bool>{true});
            Value decay = math::ExpOp::create(b, fmul(dt, aCoef));
            next.push_back(fadd(fmul(decay, h[n]), fmul(dtx, broadcast(bAt(t, index(n))))));
            y = fadd(y, fmul(next.back(), broadcast(cAt(t, index(n)))));
          }
          // y + D x, gated by silu(z), as emitAt.
          y = fadd(y, fmul(d, x));
          Value z = row(xz, t, add(c0, index(inner)));
          vector::TransferWriteOp::create(b, fmul(y, silu(b, loc, z)), scanned,
                                          ValueRange{t, c0}, ArrayRef<bool>{true});
          return next;
        });
        for (int64_t n = 0; n < stateDim; ++n)
          for (int64_t i = 0; i < width; ++i)
            store(vector::ExtractOp::create(b, last.getResult(n), ArrayRef<int64_t>{i}), ssm,
                  stateIndex(channel(i), n));
      });
    }

    // Per channel (in parallel); in the GPU forms with batch slots per
    // (sequence, channel) for a batch of decode steps (sequenceWorkgroups).
    Value channelWorkgroups = unlessConsumed(
        scanDone,
        gpuChunks ? loops.workgroupsFor(false, inner, tokens, slots) : index(inner));
    if (channelBlocks)
      channelWorkgroups = arith::SelectOp::create(b, prompt, zero, channelWorkgroups);
    bool bySequence = codegen.columns && slots;
    SmallVector<Value> grid;
    if (bySequence)
      grid.push_back(loops.sequenceWorkgroups(tokens, slots));
    grid.push_back(channelWorkgroups);
    loops.parallel("scan", grid, [&](ValueRange ivs) {
      Value c = ivs.back();
      // The tokens [first, end) that the workgroup walks token by token.
      Value first = bySequence ? ivs[0] : zero;
      Value end = bySequence ? loops.sequenceEnd(first, tokens, slots) : tokens;
      // Calls of several tokens of one sequence scan in blocks when
      // hybrid-tile-scans asked for it; decode (and batched decode, which
      // mixes sequences) token by token.
      Value blocked =
          chunk ? loops.severalOfOneSequence(tokens, slots) : Value();
      auto stepSize = [&](Value t) { return stepSizeAt(t, c); };
      auto aCoefOf = [&](Value n) { return aCoefAt(c, n); };
      auto emit = [&](Value t, Value y, Value xc) { emitAt(t, c, y, xc); };

      // Token by token.
      auto stepwise = [&]() {
        forLoop(first, end, {}, [&](Value t, ValueRange) {
          scanStep(t, c, stepSize(t));
          return SmallVector<Value>{};
        });
      };
      if (!chunk || channelBlocks) {
        stepwise();
        return;
      }
      if (gpuChunks) {
        loops.ifElse(blocked, [] {}, stepwise);
        return;
      }

      // Blocks of L tokens: every token's decays exp(dt A) and inputs
      // dt B x first (independent of each other), then the recurrence,
      // with h kept in a scratch row.
      int64_t l = *chunk;
      Value aCoef = loops.scratch(stateDim, f32);
      Value decays = loops.scratch(l * stateDim, f32);
      Value inputs = loops.scratch(l * stateDim, f32);
      Value xcs = loops.scratch(l, f32);
      Value hRow = loops.scratch(stateDim, f32);
      auto blockwise = [&]() {
        Value slot = loops.oneSequenceSlot(slots);
        auto stateIndex = [&](Value n) { return oneSequenceState(slot, c, n); };
        forLoop(zero, index(stateDim), {}, [&](Value n, ValueRange) {
          store(aCoefOf(n), aCoef, ValueRange{n});
          store(load(ssm, stateIndex(n)), hRow, ValueRange{n});
          return SmallVector<Value>{};
        });
        Value blocks = arith::CeilDivUIOp::create(b, tokens, index(l));
        forLoop(zero, blocks, {}, [&](Value block, ValueRange) {
          Value first = arith::MulIOp::create(b, block, index(l));
          Value count = arith::MinUIOp::create(
              b, index(l), arith::SubIOp::create(b, tokens, first));
          forLoop(zero, count, {}, [&](Value r, ValueRange) {
            Value t = add(first, r);
            Value dt = stepSize(t);
            Value xc = tensor::ExtractOp::create(b, xs, ValueRange{t, c});
            store(xc, xcs, ValueRange{r});
            Value dtx = fmul(dt, xc);
            Value base = arith::MulIOp::create(b, r, index(stateDim));
            forLoop(zero, index(stateDim), {}, [&](Value n, ValueRange) {
              Value at = add(base, n);
              store(math::ExpOp::create(b, fmul(dt, load(aCoef, ValueRange{n}))),
                    decays, ValueRange{at});
              store(fmul(dtx, bAt(t, n)), inputs, ValueRange{at});
              return SmallVector<Value>{};
            });
            return SmallVector<Value>{};
          });
          forLoop(zero, count, {}, [&](Value r, ValueRange) {
            Value t = add(first, r);
            Value base = arith::MulIOp::create(b, r, index(stateDim));
            Value y = forLoop(zero, index(stateDim), {f32c(0.0)}, [&](Value n,
                                                                    ValueRange a) {
              Value at = add(base, n);
              Value h = fadd(fmul(load(decays, ValueRange{at}),
                                  load(hRow, ValueRange{n})),
                             load(inputs, ValueRange{at}));
              store(h, hRow, ValueRange{n});
              return SmallVector<Value>{fadd(a[0], fmul(h, cAt(t, n)))};
            }).getResult(0);
            emit(t, y, load(xcs, ValueRange{r}));
            return SmallVector<Value>{};
          });
          return SmallVector<Value>{};
        });
        forLoop(zero, index(stateDim), {}, [&](Value n, ValueRange) {
          store(load(hRow, ValueRange{n}), ssm, stateIndex(n));
          return SmallVector<Value>{};
        });
      };
      loops.ifElse(blocked, blockwise, stepwise);
    });
    Value y = linear(b, loc, codegen, toTensor(scanned, inner), adaptor.getOutProj());
    if (adaptor.getOutProjBias())
      y = addBias(b, loc, y, adaptor.getOutProjBias());
    rewriter.replaceOp(op, y);
    return success();
  }
};

} // namespace

void populateMambaLowering(RewritePatternSet &patterns, const TypeConverter &types,
                           const Codegen &codegen) {
  patterns.add<MambaLowering>(types, patterns.getContext(), codegen);
}

} // namespace hybrid::lowering
