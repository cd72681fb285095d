//===- GatedDeltaNet.cpp - hybrid.gated_delta_net to loops ----------------===//
//
// convert-hybrid-to-linalg's lowering of Gated DeltaNet (models.md 1.5):
// its projections, the causal conv, and the gated delta rule in the forms
// the target takes: the recurrence per head (CPU) or per (head, state
// column) (GPU forms), the chunked rule per head (CPU), as a block per
// (head, panel) walking the chunks, or on tensor cores as a preparing
// kernel per (head, chunk), a walk of the state and an output kernel per
// (head, chunk).
//
//===----------------------------------------------------------------------===//

#include "passes/Conversion/HybridToLinalgLowering.h"

#include "mlir/Dialect/Math/IR/Math.h"

#include <cmath>
#include <functional>
#include <numeric>

namespace hybrid::lowering {

/// Value columns of a state that one workgroup of the GPU chunked delta
/// rule advances: a panel of the packed weights when it divides dv (the
/// columns evolve apart once W and U are known, so a head's panels are
/// workgroups of their own: 4 per head on Qwen3-Next, with 32 heads 128
/// blocks for a GPU's 132 SMs), else all of them.
int64_t deltaRuleColumns(int64_t panel, int64_t dv) {
  return panel > 0 && dv % panel == 0 ? panel : dv;
}

/// Bytes of the chunk buffers that workgroup shares: q, k [C, dk + 1],
/// U|W [C, columns + dk + 1], scores and L [C, C], four [C] (rows padded
/// by one element against bank conflicts).
int64_t deltaRuleBlockBytes(int64_t chunk, int64_t dk, int64_t columns) {
  return 4 * (2 * chunk * (dk + 1) + chunk * (columns + dk + 1) +
              2 * chunk * chunk + 4 * chunk);
}

/// Bytes of the buffers that a workgroup of the tensor-core form's
/// preparing kernel shares (one per value head and chunk): q, then beta v
/// [C, max(dk, dv)]; k, then -beta e^G k [C, dk]; the scores, then (I +
/// L)^{-1}, and -L [C, C] (rows padded); K^T [dk, C] (filled transposed);
/// five [C].
static int64_t deltaRulePrepareBytes(int64_t chunk, int64_t dk, int64_t dv) {
  int64_t pad = kTileRowPad;
  return 4 * (chunk * (std::max(dk, dv) + pad) + chunk * (dk + pad) +
              2 * chunk * (chunk + pad) + dk * (chunk + kTransposedRowPad) +
              5 * chunk);
}

/// Bytes of the buffers that a workgroup of the tensor-core form's walk
/// shares (one per value head and block of state columns): a chunk's
/// prepared rows in each of `slots` -- U [C, columns], -W [C, dk] (rows
/// padded), K^T [dk, C] -- and the state's columns [dk, columns].
static int64_t deltaRuleWalkBytes(int64_t chunk, int64_t dk, int64_t columns,
                                  int64_t slots = 1) {
  int64_t pad = kTileRowPad;
  return 4 * (slots * (chunk * (columns + dk + 2 * pad) + dk * chunk) +
              dk * columns);
}

/// Bytes of the buffers that a workgroup of the tensor-core form's output
/// kernel shares (one per value head, chunk and block of state columns): q
/// e^G [C, dk], the scores [C, C], V' [C, columns] and the state's columns
/// before the chunk [dk, columns] (rows padded).
static int64_t deltaRuleOutputBytes(int64_t chunk, int64_t dk,
                                    int64_t columns) {
  int64_t pad = kTileRowPad;
  return 4 * (chunk * (dk + pad) + chunk * (chunk + pad) +
              (chunk + dk) * (columns + pad));
}

/// Slots of the walk's prepared rows: two (the next chunk's copied while
/// the block works on this one's) where they fit the block's shared memory
/// (Qwen3-Next's heads: 54,272 bytes for chunks of 16, 92,160 for 32,
/// 167,936 for 64: two on sm_90, one on sm_80), else one.
static int64_t deltaRuleWalkSlots(const Codegen &codegen, int64_t chunk,
                                  int64_t dk, int64_t columns) {
  return deltaRuleWalkBytes(chunk, dk, columns, 2) <= codegen.blockSharedBytes
             ? 2
             : 1;
}

/// Whether the GPU form's chunked delta rule runs its products on tensor
/// cores (tf32 tiles of kMmaTokens x kMmaOutputs x 8): with the mma form
/// on, chunks and key heads of whole token tiles and state columns of
/// whole output tiles, the three kernels' buffers within a block's shared
/// memory (with Qwen3-Next's 128 x 128 heads and blocks of 32 state
/// columns, the walk of chunks of 16 takes 35,328 bytes with one slot of
/// prepared rows, of 32 54,272, of 64 92,160; the output kernel 30,464
/// for chunks of 16, 78,848 for 64).
bool deltaRuleOnTensorCores(const Codegen &codegen, int64_t chunk, int64_t dk,
                            int64_t dv, int64_t columns) {
  return codegen.mma && chunk % kMmaTokens == 0 && dk % kMmaTokens == 0 &&
         columns % kMmaOutputs == 0 &&
         deltaRulePrepareBytes(chunk, dk, dv) <= codegen.blockSharedBytes &&
         deltaRuleWalkBytes(chunk, dk, columns) <= codegen.blockSharedBytes &&
         deltaRuleOutputBytes(chunk, dk, columns) <= codegen.blockSharedBytes;
}

namespace {

/// Lowers hybrid.gated_delta_net to its two projections (linalg), a
/// per-token loop nest for the causal conv (continuing the conv window
/// state) and the gated delta rule in its recurrent form (continuing the
/// recurrent state), then the output projection (models.md 1.5). The chunked
/// form of hybrid-tile-scans is the fast path; this one is the reference and
/// the decode form.
struct GatedDeltaNetLowering : HybridLowering<GatedDeltaNetOp> {
  using HybridLowering::HybridLowering;
  LogicalResult
  matchAndRewrite(GatedDeltaNetOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Value convState = adaptor.getConvState();
    Value state = adaptor.getRecurrentState();
    if (!isa<MemRefType>(convState.getType()) || !isa<MemRefType>(state.getType()))
      return rewriter.notifyMatchFailure(op, "state is not a memref yet");
    ImplicitLocOpBuilder b(op.getLoc(), rewriter);
    Location loc = op.getLoc();
    Type f32 = b.getF32Type();
    int64_t hk = op.getNumKHeads(), hv = op.getNumVHeads(),
            dk = op.getKHeadDim(), dv = op.getVHeadDim(),
            kernel = op.getConvKernel();
    int64_t ratio = hv / hk;
    int64_t groupWidth = 2 * dk + 2 * ratio * dv; // one k-head's qkvz columns
    int64_t channels = 2 * hk * dk + hv * dv;
    float eps = static_cast<float>(op.getNormEpsilon().convertToDouble());

    LoopNest loops{b};
    Value slots = slotsArgument(op); // batched state buffers
    auto index = [&](int64_t v) { return loops.index(v); };
    auto f32c = [&](double v) { return loops.f32(v); };
    Value zero = index(0), one = index(1);
    auto forLoop = [&](Value lb, Value ub, ValueRange init,
                       LoopNest::Body body) {
      return loops.forLoop(lb, ub, init, body);
    };
    auto add = [&](Value l, Value r) -> Value { return arith::AddIOp::create(b, l, r); };
    auto mul = [&](Value l, int64_t r) -> Value {
      return arith::MulIOp::create(b, l, index(r));
    };
    auto fadd = [&](Value l, Value r) -> Value { return arith::AddFOp::create(b, l, r); };
    auto fmul = [&](Value l, Value r) -> Value { return arith::MulFOp::create(b, l, r); };
    auto fsub = [&](Value l, Value r) -> Value { return arith::SubFOp::create(b, l, r); };
    auto load = [&](Value m, ValueRange i) -> Value {
      return memref::LoadOp::create(b, m, i);
    };
    auto store = [&](Value v, Value m, ValueRange i) {
      memref::StoreOp::create(b, v, m, i);
    };
    auto weightAt = [&](Value w, ValueRange i) {
      return toF32(b, loc, tensor::ExtractOp::create(b, w, i));
    };

    Value x = adaptor.getInput();
    SmallVector<Value> projections = linears(
        b, loc, codegen, x, {adaptor.getInProjQkvz(), adaptor.getInProjBa()},
        "in_proj");
    Value qkvz = projections[0], ba = projections[1];
    Value tokens = tensor::DimOp::create(b, x, 0);
    Value out = memref::AllocOp::create(
        b, MemRefType::get({ShapedType::kDynamic, hv * dv}, f32),
        ValueRange{tokens});
    // The conv's output for every token: [T, channels].
    Value mixed = memref::AllocOp::create(
        b, MemRefType::get({ShapedType::kDynamic, channels}, f32),
        ValueRange{tokens});

    // Column of in_proj_qkvz feeding conv channel c: the conv runs over
    // [all q | all k | all v] while the projection is grouped per k-head.
    auto columnOf = [&](Value c) -> Value {
      Value qEnd = index(hk * dk), kEnd = index(2 * hk * dk);
      Value isQ = arith::CmpIOp::create(b, arith::CmpIPredicate::ult, c, qEnd);
      Value isK = arith::CmpIOp::create(b, arith::CmpIPredicate::ult, c, kEnd);
      Value qk = arith::SelectOp::create(b, isQ, c, arith::SubIOp::create(b, c, qEnd));
      Value qkCol = add(mul(arith::DivUIOp::create(b, qk, index(dk)), groupWidth),
                        add(arith::RemUIOp::create(b, qk, index(dk)),
                            arith::SelectOp::create(b, isQ, zero, index(dk))));
      Value vc = arith::SubIOp::create(b, c, kEnd);
      Value head = arith::DivUIOp::create(b, vc, index(dv));
      Value vCol = add(add(mul(arith::DivUIOp::create(b, head, index(ratio)),
                               groupWidth),
                           index(2 * dk)),
                       add(mul(arith::RemUIOp::create(b, head, index(ratio)), dv),
                           arith::RemUIOp::create(b, vc, index(dv))));
      return arith::SelectOp::create(b, isK, qkCol, vCol);
    };

    // 1. The causal depthwise conv over the window [state (K-1 inputs) |
    // x_t], then SiLU. On the CPU cpuConv's kernels; in the GPU forms the
    // calls that decode's delta rule block runs (every call without a
    // chunk size; else a decode step or a batch of them) it convolves
    // itself, for its head's channels: no conv kernel of their own. The
    // others, a prompt's chunked calls, take the window form.
    ConvWindow window{b, loops, tokens, adaptor.getConv1d(), Value(), convState,
                      kernel, [&](Value t, Value c) -> Value {
      return tensor::ExtractOp::create(b, qkvz, ValueRange{t, columnOf(c)});
    }, slots};
    if (!codegen.columns) {
      // Runs of consecutive columns: a head's q, k or v.
      cpuConv(b, loops, codegen, channels, std::gcd(dk, dv), tokens, adaptor.getConv1d(),
              Value(), convState, slots, kernel, qkvz, columnOf, mixed);
    } else if (op.getChunkSize()) {
      window.run(channels, mixed,
                 /*elsewhere=*/loops.eachAloneInSequence(tokens, slots));
    }

    std::optional<int64_t> chunk = op.getChunkSize();
    // The chunked forms run calls of one sequence: state entry (h, i, j)
    // of its slot.
    auto oneSequenceState = [&]() {
      Value slot = loops.oneSequenceSlot(slots);
      return [slot](Value h, Value i, Value j) -> SmallVector<Value> {
        if (slot)
          return {slot, h, i, j};
        return {h, i, j};
      };
    };

    // Value head h's pieces, which every form shares: its k-head, the gates
    // and normalised q and k of a token, and the gated norm of a token's
    // head output. The last argument of loadNormalized and gatedNorm:
    // whether a workgroup's threads share the work (cooperative loops and a
    // block reduction: the GPU decode form's phases) or one thread runs it.
    struct Head {
      Value kh;
      std::function<std::pair<Value, Value>(Value)> gates;
      std::function<void(Value, Value, Value, int64_t, Value, bool)> loadNormalized;
      std::function<void(Value, Value, Value, bool)> gatedNorm;
    };
    // 1 / |v| of a q or k row whose sum of squares is `sum` (eps inside
    // the sqrt, as fla's l2norm).
    auto l2Inverse = [&](Value sum) -> Value {
      return math::RsqrtOp::create(b, fadd(sum, f32c(1e-6)));
    };
    // `convOut`, when given: the head's conv outputs of the token at hand,
    // [q of its k-head | k of its k-head | v of h] (the decode block's),
    // read in place of `mixed`.
    auto headOf = [&](Value h, Value convOut = Value()) -> Head {
      Value kh = arith::DivUIOp::create(b, h, index(ratio));
      Value group = kh;
      Value within = arith::RemUIOp::create(b, h, index(ratio));
      Head head;
      head.kh = kh;
      // beta = sigmoid(b) and the log decay g = -exp(A_log) * softplus(a +
      // dt_bias) of token t.
      head.gates = [&, h, group, within](Value t) -> std::pair<Value, Value> {
        Value bCol = add(mul(group, 2 * ratio), within);
        Value aCol = add(bCol, index(ratio));
        Value bv = tensor::ExtractOp::create(b, ba, ValueRange{t, bCol});
        Value av = fadd(tensor::ExtractOp::create(b, ba, ValueRange{t, aCol}),
                        weightAt(adaptor.getDtBias(), ValueRange{h}));
        Value beta = sigmoid(b, b.getLoc(), bv);
        Value g = fmul(arith::NegFOp::create(
                           b, math::ExpOp::create(
                                  b, weightAt(adaptor.getALog(), ValueRange{h}))),
                       softplus(b, b.getLoc(), av));
        return {beta, g};
      };
      // q or k of token t for k-head kh into buf[base ..], L2-normalised
      // (eps inside the sqrt) and scaled by `extra`.
      head.loadNormalized = [&, kh, convOut](Value buf, Value base, Value t,
                                             int64_t offset, Value extra,
                                             bool shared) {
        auto element = [&](Value i) -> Value {
          if (convOut)
            return load(convOut, ValueRange{add(i, index(offset ? dk : 0))});
          return load(mixed, ValueRange{t, add(add(mul(kh, dk), i), index(offset))});
        };
        Value sum = loops.sumOver(dk, shared, [&](Value i) -> Value {
          Value v = element(i);
          return fmul(v, v);
        });
        Value inv = fmul(l2Inverse(sum), extra);
        loops.eachOf(dk, shared, [&](Value i) {
          store(fmul(element(i), inv), buf, ValueRange{add(base, i)});
        });
      };
      // Gated RMSNorm of token t's head output oBuf[base ..]: w * r(o) * silu(z).
      head.gatedNorm = [&, h, group, within](Value oBuf, Value base, Value t,
                                              bool shared) {
        Value sum = loops.sumOver(dv, shared, [&](Value j) -> Value {
          Value o = load(oBuf, ValueRange{add(base, j)});
          return fmul(o, o);
        });
        Value inv = math::RsqrtOp::create(
            b, fadd(arith::DivFOp::create(b, sum, f32c(dv)), f32c(eps)));
        Value zBase = add(add(mul(group, groupWidth), index(2 * dk + ratio * dv)),
                          mul(within, dv));
        loops.eachOf(dv, shared, [&](Value j) {
          Value z = tensor::ExtractOp::create(b, qkvz, ValueRange{t, add(zBase, j)});
          Value y = fmul(fmul(fmul(load(oBuf, ValueRange{add(base, j)}), inv),
                              weightAt(adaptor.getNorm(), ValueRange{j})),
                         silu(b, loc, z));
          store(y, out, ValueRange{t, add(mul(h, dv), j)});
        });
      };
      return head;
    };
    Value qScale = f32c(1.0 / std::sqrt(static_cast<double>(dk)));
    // G_r = sum_{s <= r} g_s of a chunk's log decays (the block forms'
    // cumulative decays, a row per thread).
    auto decaySum = [&](Value logDecays, Value r) -> Value {
      return forLoop(zero, add(r, one), {f32c(0.0)}, [&](Value s, ValueRange a) {
        return SmallVector<Value>{fadd(a[0], load(logDecays, ValueRange{s}))};
      }).getResult(0);
    };

    // The GPU form of the chunked rule, for calls of several tokens of one
    // sequence: a workgroup (a GPU block) per value head walks the chunks,
    // each step of the per-head chunked form below a cooperative phase of
    // the workgroup's threads, the chunk's buffers the workgroup's (shared
    // memory, deltaRuleBlockBytes); the state stays in its buffer. Head
    // outputs go to `heads`, before the gated norm.
    // `count` workgroups for the kernel of the chunked (or else the
    // step-by-step) form (LoopNest::workgroupsFor).
    auto workgroupsIf = [&](bool chunked, int64_t count) -> Value {
      if (!chunk)
        return index(count);
      return loops.workgroupsFor(chunked, count, tokens, slots);
    };
    auto chunkedBlocks = [&](Value heads) {
      int64_t c = *chunk;
      int64_t columns = deltaRuleColumns(codegen.panel, dv);
      int64_t width = columns + dk; // a row of uw: U's columns, then W's
      // Rows one element longer than their data: the threads of a warp
      // reading a column of rows (k_s for s = 0..) then hit distinct
      // shared-memory banks.
      int64_t qkRow = dk + 1, uwRow = width + 1;
      Value columnsIndex = index(columns), dkIndex = index(dk);
      loops.parallel("delta_rule_chunks",
                     {workgroupsIf(true, hv), index(dv / columns)},
                     [&](ValueRange ivs) {
        // Value head h's state columns [j0, j0 + columns).
        Value h = ivs[0], j0 = mul(ivs[1], columns);
        Value qc = loops.scratch(c * qkRow, f32), kc = loops.scratch(c * qkRow, f32);
        Value uw = loops.scratch(c * uwRow, f32);
        Value scores = loops.scratch(c * c, f32); // (q_r . k_s) Gamma[r, s]
        Value lower = loops.scratch(c * c, f32); // beta_r (k_r . k_s) Gamma[r, s]
        Value logDecays = loops.scratch(c, f32), cumulative = loops.scratch(c, f32);
        Value betas = loops.scratch(c, f32);
        Value tail = loops.scratch(c, f32); // exp(G_last - G_r)
        auto blocks = [&]() {
          Head head = headOf(h);
          Value vOffset = add(add(index(2 * hk * dk), mul(h, dv)), j0);
          auto stateIndex = [&, entry = oneSequenceState()](Value i, Value j) {
            return entry(h, i, j);
          };
          // Element (r, column) of a row-major buffer of rows `w` wide.
          auto at = [&](Value r, int64_t w, Value column) -> Value {
            return add(mul(r, w), column);
          };
          Value chunks = arith::CeilDivUIOp::create(b, tokens, index(c));
          forLoop(zero, chunks, {}, [&](Value chunkIndex, ValueRange) {
            Value first = mul(chunkIndex, c);
            Value rows = arith::MinUIOp::create(
                b, index(c), arith::SubIOp::create(b, tokens, first));
            // Per row: the gates, normalised q and k, and U's start beta v
            // (the workgroup's columns of v).
            loops.cooperative({rows}, [&](ValueRange rv) {
              Value r = rv[0], t = add(first, r);
              auto [beta, g] = head.gates(t);
              store(g, logDecays, ValueRange{r});
              store(beta, betas, ValueRange{r});
              head.loadNormalized(qc, mul(r, qkRow), t, 0, qScale, false);
              head.loadNormalized(kc, mul(r, qkRow), t, hk * dk, f32c(1.0), false);
              forLoop(zero, columnsIndex, {}, [&](Value j, ValueRange) {
                store(fmul(beta, load(mixed, ValueRange{t, add(vOffset, j)})), uw,
                      ValueRange{at(r, uwRow, j)});
                return SmallVector<Value>{};
              });
            });
            // G_r = sum_{s <= r} g_s, and W's start beta e^{G_r} k.
            loops.cooperative({rows}, [&](ValueRange rv) {
              Value r = rv[0];
              Value sum = decaySum(logDecays, r);
              store(sum, cumulative, ValueRange{r});
              Value bg = fmul(load(betas, ValueRange{r}), math::ExpOp::create(b, sum));
              forLoop(zero, dkIndex, {}, [&](Value i, ValueRange) {
                store(fmul(bg, load(kc, ValueRange{at(r, qkRow, i)})), uw,
                      ValueRange{at(r, uwRow, add(columnsIndex, i))});
                return SmallVector<Value>{};
              });
            });
            // scores and lower for s <= r (nothing reads the rest).
            loops.cooperative({rows, rows}, [&](ValueRange rs) {
              Value r = rs[0], s = rs[1];
              Value causal = arith::CmpIOp::create(b, arith::CmpIPredicate::ule, s, r);
              loops.ifElse(causal, [&] {
                Value gamma = math::ExpOp::create(
                    b, fsub(load(cumulative, ValueRange{r}),
                            load(cumulative, ValueRange{s})));
                store(fmul(loops.dot(qc, mul(r, qkRow), kc, mul(s, qkRow), dk), gamma),
                      scores, ValueRange{at(r, c, s)});
                store(fmul(fmul(load(betas, ValueRange{r}),
                                loops.dot(kc, mul(r, qkRow), kc, mul(s, qkRow), dk)),
                           gamma),
                      lower, ValueRange{at(r, c, s)});
              }, [] {});
            });
            // UT transform by forward substitution, (I + L) U = beta V and
            // (I + L) W = beta e^G K: each column of U and W on its own.
            loops.cooperative({index(width)}, [&](ValueRange cv) {
              Value column = cv[0];
              forLoop(one, rows, {}, [&](Value r, ValueRange) {
                Value x = forLoop(zero, r, {load(uw, ValueRange{at(r, uwRow, column)})},
                                  [&](Value s, ValueRange a) {
                  return SmallVector<Value>{
                      fsub(a[0], fmul(load(lower, ValueRange{at(r, c, s)}),
                                      load(uw, ValueRange{at(s, uwRow, column)})))};
                }).getResult(0);
                store(x, uw, ValueRange{at(r, uwRow, column)});
                return SmallVector<Value>{};
              });
            });
            Value last = load(cumulative, ValueRange{arith::SubIOp::create(b, rows, one)});
            loops.cooperative({rows}, [&](ValueRange rv) {
              Value r = rv[0];
              store(math::ExpOp::create(b, fsub(last, load(cumulative, ValueRange{r}))),
                    tail, ValueRange{r});
            });
            // V' = U - W S, in place of U.
            loops.cooperative({rows, columnsIndex}, [&](ValueRange rj) {
              Value r = rj[0], j = rj[1];
              Value v = forLoop(zero, dkIndex, {load(uw, ValueRange{at(r, uwRow, j)})},
                                [&](Value i, ValueRange a) {
                return SmallVector<Value>{fsub(
                    a[0], fmul(load(uw, ValueRange{at(r, uwRow, add(columnsIndex, i))}),
                               load(state, stateIndex(i, add(j0, j)))))};
              }).getResult(0);
              store(v, uw, ValueRange{at(r, uwRow, j)});
            });
            // O = (Q e^G) S + scores V' (s <= r).
            loops.cooperative({rows, columnsIndex}, [&](ValueRange rj) {
              Value r = rj[0], j = rj[1];
              Value eg = math::ExpOp::create(b, load(cumulative, ValueRange{r}));
              Value o = forLoop(zero, dkIndex, {f32c(0.0)}, [&](Value i, ValueRange a) {
                Value qe = fmul(load(qc, ValueRange{at(r, qkRow, i)}), eg);
                return SmallVector<Value>{
                    fadd(a[0], fmul(qe, load(state, stateIndex(i, add(j0, j)))))};
              }).getResult(0);
              o = forLoop(zero, add(r, one), {o}, [&](Value s, ValueRange a) {
                return SmallVector<Value>{
                    fadd(a[0], fmul(load(scores, ValueRange{at(r, c, s)}),
                                    load(uw, ValueRange{at(s, uwRow, j)})))};
              }).getResult(0);
              store(o, heads,
                    ValueRange{add(mul(add(first, r), hv * dv),
                                   add(add(mul(h, dv), j0), j))});
            });
            // S = e^{G_last} S + sum_r (k_r e^{G_last - G_r}) V'_r.
            Value decay = math::ExpOp::create(b, last);
            loops.cooperative({dkIndex, columnsIndex}, [&](ValueRange ij) {
              Value i = ij[0], j = ij[1];
              SmallVector<Value> si = stateIndex(i, add(j0, j));
              Value s = forLoop(zero, rows, {fmul(load(state, si), decay)},
                                [&](Value r, ValueRange a) {
                Value coef = fmul(load(kc, ValueRange{at(r, qkRow, i)}),
                                  load(tail, ValueRange{r}));
                return SmallVector<Value>{
                    fadd(a[0], fmul(coef, load(uw, ValueRange{at(r, uwRow, j)})))};
              }).getResult(0);
              store(s, state, si);
            });
            return SmallVector<Value>{};
          });
        };
        loops.ifElse(loops.severalOfOneSequence(tokens, slots), blocks, [] {});
      });
    };

    // The chunked rule on tensor cores (deltaRuleOnTensorCores), as three
    // kernels. First a workgroup per (value head, chunk), all in parallel,
    // prepares what the walk needs of a chunk (a chunk whole tiles of
    // kMmaTokens rows, its rows past the call's tokens zeros: no decay,
    // beta 0, adding nothing): U = T beta V and -W = -T beta e^G K through
    // T = (I + L)^{-1}, q e^G, the masked scores and the tail-scaled K^T,
    // in global buffers. Then a workgroup per (value head, block of state
    // columns) walks the chunks in order with the state's columns in shared
    // memory: V' = U + (-W) S, S = e^{G_last} S + K^T (tail V'), storing
    // V' and the state before each chunk, copying the next chunk's
    // prepared rows into a second slot meanwhile (deltaRuleWalkSlots).
    // Only the state's recurrence is sequential: a workgroup per (value
    // head, chunk, block of state columns), all in parallel again, computes
    // the chunk's outputs O = (q e^G) S + scores V' from what the walk
    // stored (as flash-linear-attention splits its chunked rule). The
    // products are tf32 contract tiles of the block's warps read from 2-D
    // buffers in shared memory.
    auto chunkedTensorCoreBlocks = [&](Value heads) {
      int64_t c = *chunk, pad = kTileRowPad;
      int64_t columns = deltaRuleColumns(codegen.panel, dv);
      Value cIndex = index(c), dkIndex = index(dk), dvIndex = index(dv),
            columnsIndex = index(columns);
      Value chunks = arith::CeilDivUIOp::create(b, tokens, cIndex);
      // A row per (chunk, value head, row of the chunk): U [dv] (V' once
      // walked), -W [dk], q e^G [dk], the scores [C].
      int64_t wColumn = dv, qColumn = dv + dk, scoresColumn = dv + 2 * dk;
      Value prepared = memref::AllocOp::create(
          b, MemRefType::get({ShapedType::kDynamic, dv + 2 * dk + c}, f32),
          ValueRange{mul(chunks, hv * c)});
      // (k_r e^{G_last - G_r})^T: dk rows per (chunk, value head).
      Value keysT = memref::AllocOp::create(
          b, MemRefType::get({ShapedType::kDynamic, c}, f32),
          ValueRange{mul(chunks, hv * dk)});
      // e^{G_last} per (chunk, value head).
      Value decays = memref::AllocOp::create(
          b, MemRefType::get({ShapedType::kDynamic}, f32),
          ValueRange{mul(chunks, hv)});
      // The state before each chunk: dk rows per (chunk, value head).
      Value states = memref::AllocOp::create(
          b, MemRefType::get({ShapedType::kDynamic, dv}, f32),
          ValueRange{mul(chunks, hv * dk)});
      // `heads` (padded to whole chunks) as rows of tokens: the output
      // kernel stores O's tiles there.
      Value headRows = memref::ExpandShapeOp::create(
          b, MemRefType::get({ShapedType::kDynamic, hv * dv}, f32), heads,
          ArrayRef<ReassociationIndices>{{0, 1}},
          ArrayRef<OpFoldResult>{mul(chunks, c), b.getIndexAttr(hv * dv)});
      // The first row of (chunk, value head) in a buffer of `rows` rows
      // per pair.
      auto pairRow = [&](Value chunkIndex, Value h, int64_t rows) {
        return mul(add(mul(chunkIndex, hv), h), rows);
      };

      WarpTiles tiles{b, loops};
      int64_t rowTiles = c / kMmaTokens;
      // dst[dstRow + r, dstColumn + j] = src[srcRow + r, srcColumn + j]
      // for r < rows, j < width (zeros from row `valid` on, when given): a
      // cooperative copy of 16 bytes per thread and step (columns and
      // widths are multiples of 4: whole aligned vectors, which
      // hybrid-kernels-to-gpu makes 128-bit loads); a prefetch when
      // `prefetchIf` is given (LoopNest::prefetch).
      constexpr int64_t kLanes = 4;
      auto copyRows = [&](Value src, Value srcRow, Value srcColumn, int64_t rows,
                          int64_t width, Value dst, Value dstRow, Value dstColumn,
                          Value valid = Value(), Value prefetchIf = Value()) {
        int64_t vectors = width / kLanes;
        auto vectorType = VectorType::get({kLanes}, f32);
        auto body = [&](ValueRange iv) {
          Value r = arith::DivUIOp::create(b, iv[0], index(vectors));
          Value j = mul(arith::RemUIOp::create(b, iv[0], index(vectors)), kLanes);
          SmallVector<Value> to{add(dstRow, r), add(dstColumn, j)};
          auto copy = [&] {
            Value v = vector::TransferReadOp::create(
                b, vectorType, src, ValueRange{add(srcRow, r), add(srcColumn, j)},
                f32c(0.0), ArrayRef<bool>{true});
            vector::StoreOp::create(b, v, dst, to);
          };
          if (!valid)
            return copy();
          loops.ifElse(arith::CmpIOp::create(b, arith::CmpIPredicate::ult, r, valid),
                       copy, [&] {
            Value zeros = arith::ConstantOp::create(
                b, vectorType, DenseElementsAttr::get(vectorType, b.getF32FloatAttr(0.0)));
            vector::StoreOp::create(b, zeros, dst, to);
          });
        };
        if (prefetchIf)
          loops.prefetch({index(rows * vectors)}, prefetchIf, body);
        else
          loops.cooperative({index(rows * vectors)}, body);
      };
      loops.parallel("delta_rule_prepare", {workgroupsIf(true, hv), chunks},
                     [&](ValueRange ivs) {
        Value h = ivs[0], chunkIndex = ivs[1];
        // q, then beta v (zeros past the call's tokens).
        Value qv = loops.scratch({c, std::max(dk, dv) + pad}, f32);
        Value ks = loops.scratch({c, dk + pad}, f32); // k, then -beta e^G k
        Value kT = loops.scratch({dk, c + kTransposedRowPad}, f32); // K^T
        // Q K^T, then T = (I + L)^{-1}.
        Value scoresT = loops.scratch({c, c + pad}, f32);
        // K K^T, then -L = -beta_r (k_r . k_s) Gamma (negated: the blocked
        // inverse then needs no negation of a tile, which vector-to-nvgpu
        // lacks).
        Value lower = loops.scratch({c, c + pad}, f32);
        Value logDecays = loops.scratch(c, f32), cumulative = loops.scratch(c, f32);
        Value betas = loops.scratch(c, f32);
        Value qInverse = loops.scratch(c, f32), kInverse = loops.scratch(c, f32);
        auto prepare = [&]() {
          Head head = headOf(h);
          Value first = mul(chunkIndex, c);
          Value rows = arith::MinUIOp::create(
              b, cIndex, arith::SubIOp::create(b, tokens, first));
          Value row0 = pairRow(chunkIndex, h, c);
          auto inside = [&](Value r) {
            return arith::CmpIOp::create(b, arith::CmpIPredicate::ult, r, rows);
          };
          // The chunk's q and k rows as they are.
          copyRows(mixed, first, mul(head.kh, dk), c, dk, qv, zero, zero, rows);
          copyRows(mixed, first, add(index(hk * dk), mul(head.kh, dk)), c, dk, ks,
                   zero, zero, rows);
          // Per row: the gates, and the inverse norms of q (times the
          // scale) and k.
          loops.cooperative({cIndex}, [&](ValueRange rv) {
            Value r = rv[0];
            loops.ifElse(inside(r), [&] {
              auto [beta, g] = head.gates(add(first, r));
              store(g, logDecays, rv);
              store(beta, betas, rv);
              auto squares = [&](Value buf) {
                return forLoop(zero, dkIndex, {f32c(0.0)}, [&](Value i, ValueRange a) {
                  Value v = load(buf, ValueRange{r, i});
                  return SmallVector<Value>{fadd(a[0], fmul(v, v))};
                }).getResult(0);
              };
              store(fmul(l2Inverse(squares(qv)), qScale), qInverse, rv);
              store(l2Inverse(squares(ks)), kInverse, rv);
            }, [&] {
              for (Value buf : {logDecays, betas, qInverse, kInverse})
                store(f32c(0.0), buf, rv);
            });
          });
          // Per (row, key column): q and k normalised, k also as K^T.
          loops.cooperative({cIndex, dkIndex}, [&](ValueRange ri) {
            Value r = ri[0], i = ri[1];
            store(fmul(load(qv, ri), load(qInverse, ValueRange{r})), qv, ri);
            Value k = fmul(load(ks, ri), load(kInverse, ValueRange{r}));
            store(k, ks, ri);
            store(k, kT, ValueRange{i, r});
          });
          // G_r = sum_{s <= r} g_s.
          loops.cooperative({cIndex}, [&](ValueRange rv) {
            store(decaySum(logDecays, rv[0]), cumulative, rv);
          });
          // Q K^T and K K^T, a tile of them per warp.
          loops.warps([&](Value warp) {
            tiles.forTiles(warp, rowTiles * (c / kMmaOutputs), [&](Value tile, Value owned) {
              auto [m, n] = tiles.at(tile, c / kMmaOutputs);
              Value qk = tiles.product(tiles.zero(), qv, m, zero, kT, zero, n, dk);
              Value kk = tiles.product(tiles.zero(), ks, m, zero, kT, zero, n, dk);
              tiles.store(qk, scoresT, m, n, owned);
              tiles.store(kk, lower, m, n, owned);
            });
          });
          Value last = load(cumulative, ValueRange{index(c - 1)});
          // Gamma[r, s] = e^{G_r - G_s} for s <= r, zero above: the
          // scores (q_r . k_s) Gamma to `prepared`, and -L in K K^T's
          // place (strictly below the diagonal, which the UT transform
          // reads).
          loops.cooperative({cIndex, cIndex}, [&](ValueRange rs) {
            Value r = rs[0], sIdx = rs[1];
            Value gamma = math::ExpOp::create(
                b, fsub(load(cumulative, ValueRange{r}),
                        load(cumulative, ValueRange{sIdx})));
            auto masked = [&](arith::CmpIPredicate kept, Value v) -> Value {
              return arith::SelectOp::create(
                  b, arith::CmpIOp::create(b, kept, sIdx, r), v, f32c(0.0));
            };
            store(masked(arith::CmpIPredicate::ule, fmul(load(scoresT, rs), gamma)),
                  prepared, ValueRange{add(row0, r), add(index(scoresColumn), sIdx)});
            store(masked(arith::CmpIPredicate::ult,
                         fmul(fmul(load(lower, rs), gamma),
                              arith::NegFOp::create(b, load(betas, ValueRange{r})))),
                  lower, rs);
          });
          // Per (row, key column): -beta e^{G_r} k in place of k (-W's
          // start); q e^{G_r} and the tail-scaled K^T to the global
          // buffers; the chunk's decay.
          Value keyRow0 = pairRow(chunkIndex, h, dk);
          loops.cooperative({cIndex, dkIndex}, [&](ValueRange ri) {
            Value r = ri[0], i = ri[1];
            Value gr = load(cumulative, ValueRange{r});
            Value eg = math::ExpOp::create(b, gr);
            store(fmul(load(ks, ri),
                       arith::NegFOp::create(b, fmul(load(betas, ValueRange{r}), eg))),
                  ks, ri);
            store(fmul(load(qv, ri), eg), prepared,
                  ValueRange{add(row0, r), add(index(qColumn), i)});
            store(fmul(load(kT, ValueRange{i, r}),
                       math::ExpOp::create(b, fsub(last, gr))),
                  keysT, ValueRange{add(keyRow0, i), r});
          });
          loops.cooperative({cIndex}, [&](ValueRange rv) {
            loops.ifElse(arith::CmpIOp::create(b, arith::CmpIPredicate::eq, rv[0], zero),
                         [&] {
              store(math::ExpOp::create(b, last), decays,
                    ValueRange{add(mul(chunkIndex, hv), h)});
            }, [] {});
          });
          // beta v in place of q (which the previous phase read last).
          Value vOffset = add(index(2 * hk * dk), mul(h, dv));
          loops.cooperative({cIndex, dvIndex}, [&](ValueRange rj) {
            Value r = rj[0], j = rj[1];
            loops.ifElse(inside(r), [&] {
              Value v = load(mixed, ValueRange{add(first, r), add(vOffset, j)});
              store(fmul(load(betas, ValueRange{r}), v), qv, rj);
            }, [&] { store(f32c(0.0), qv, rj); });
          });
          // UT transform: T = (I + L)^{-1} in place of the scores, in
          // blocks of kMmaTokens rows and columns (the rows past the call's
          // tokens, where L is zero, are the identity's). First each
          // diagonal block T_ii = (I + L_ii)^{-1} by forward substitution,
          // a column per thread, with zeros above it. (One dimension: a
          // unit one would be folded away with the loop's cooperative
          // mark.)
          Value inverse = scoresT;
          int64_t blocks = c / kMmaTokens;
          loops.cooperative({cIndex}, [&](ValueRange jv) {
            Value j = jv[0];
            Value blockEnd = mul(
                add(arith::DivUIOp::create(b, j, index(kMmaTokens)), one),
                kMmaTokens);
            forLoop(zero, blockEnd, {}, [&](Value r, ValueRange) {
              Value diagonal = arith::SelectOp::create(
                  b, arith::CmpIOp::create(b, arith::CmpIPredicate::eq, r, j),
                  f32c(1.0), f32c(0.0));
              Value x = forLoop(j, r, {diagonal}, [&](Value t, ValueRange a) {
                return SmallVector<Value>{
                    fadd(a[0], fmul(load(lower, ValueRange{r, t}),
                                    load(inverse, ValueRange{t, j})))};
              }).getResult(0);
              store(x, inverse, ValueRange{r, j});
              return SmallVector<Value>{};
            });
          });
          // Then block row by block row, T_ij = T_ii sum_{k<i} (-L_ik) T_kj
          // for j < i (T_kj is zero for k < j) as tiles of the warps: the
          // sums in T_ij's place, then each replaced by T_ii times it (a
          // warp's tile spans the block's rows: it reads its sum whole
          // before writing over it).
          int64_t tilesPerBlock = kMmaTokens / kMmaOutputs;
          for (int64_t i = 1; i < blocks; ++i) {
            Value rowsAt = index(i * kMmaTokens);
            loops.warps([&](Value warp) {
              tiles.forTiles(warp, i * tilesPerBlock, [&](Value tile, Value owned) {
                Value n = mul(tile, kMmaOutputs);
                tiles.store(tiles.product(tiles.zero(), lower, rowsAt, zero, inverse, zero, n,
                                  i * kMmaTokens),
                          inverse, rowsAt, n, owned);
              });
            });
            loops.warps([&](Value warp) {
              tiles.forTiles(warp, i * tilesPerBlock, [&](Value tile, Value owned) {
                Value n = mul(tile, kMmaOutputs);
                tiles.store(tiles.product(tiles.zero(), inverse, rowsAt, rowsAt, inverse,
                                  rowsAt, n, kMmaTokens),
                          inverse, rowsAt, n, owned);
              });
            });
          }
          // U = T (beta V) and -W = T (-beta e^G K), tiles to `prepared`.
          auto zeroTile = [&](Value) { return tiles.zero(); };
          loops.warps([&](Value warp) {
            tiles.forTileProducts(warp, rowTiles * (dv / kMmaOutputs), zeroTile,
                                  [&](Value tile) {
              auto [m, n] = tiles.at(tile, dv / kMmaOutputs);
              return SmallVector<WarpTiles::Operands>{{inverse, m, zero, qv, zero, n, c}};
            }, [&](Value tile, Value owned, Value u) {
              auto [m, n] = tiles.at(tile, dv / kMmaOutputs);
              tiles.store(u, prepared, add(row0, m), n, owned);
            });
            tiles.forTileProducts(warp, rowTiles * (dk / kMmaOutputs), zeroTile,
                                  [&](Value tile) {
              auto [m, n] = tiles.at(tile, dk / kMmaOutputs);
              return SmallVector<WarpTiles::Operands>{{inverse, m, zero, ks, zero, n, c}};
            }, [&](Value tile, Value owned, Value w) {
              auto [m, n] = tiles.at(tile, dk / kMmaOutputs);
              tiles.store(w, prepared, add(row0, m), add(index(wColumn), n), owned);
            });
          });
        };
        loops.ifElse(loops.severalOfOneSequence(tokens, slots), prepare, [] {});
      });

      loops.parallel("delta_rule_chunks",
                     {workgroupsIf(true, hv), index(dv / columns)},
                     [&](ValueRange ivs) {
        Value h = ivs[0], j0 = mul(ivs[1], columns);
        // A chunk's prepared rows, in each of `stageSlots` (rows slot * C on;
        // K^T's slot * dk on): U's columns (U becomes V'); -W; the
        // tail-scaled K^T. (Buffers apart: copies into one buffer would
        // need a barrier between them.)
        int64_t stageSlots = deltaRuleWalkSlots(codegen, c, dk, columns);
        Value us = loops.scratch({stageSlots * c, columns + pad}, f32);
        Value ws = loops.scratch({stageSlots * c, dk + pad}, f32);
        Value kT = loops.scratch({stageSlots * dk, c}, f32);
        Value s = loops.scratch({dk, columns}, f32); // the state's columns
        int64_t columnTiles = columns / kMmaOutputs;
        // Chunk `chunkIndex`'s prepared rows into slot `slot` (independent
        // copies: the threads meet once after them), as a prefetch when
        // `prefetchIf` is given.
        auto copyChunk = [&](Value chunkIndex, Value slot, Value prefetchIf) {
          Value row0 = pairRow(chunkIndex, h, c);
          Value keyRow0 = pairRow(chunkIndex, h, dk);
          Value r = mul(slot, c);
          copyRows(prepared, row0, index(wColumn), c, dk, ws, r, zero, {}, prefetchIf);
          copyRows(prepared, row0, j0, c, columns, us, r, zero, {}, prefetchIf);
          copyRows(keysT, keyRow0, zero, dk, c, kT, mul(slot, dk), zero, {},
                   prefetchIf);
        };
        auto walk = [&]() {
          auto stateIndex = [&, entry = oneSequenceState()](Value i, Value j) {
            return entry(h, i, j);
          };
          loops.cooperative({dkIndex, columnsIndex}, [&](ValueRange ij) {
            store(load(state, stateIndex(ij[0], add(j0, ij[1]))), s, ij);
          });
          if (stageSlots == 2)
            copyChunk(zero, zero, Value());
          forLoop(zero, chunks, {}, [&](Value chunkIndex, ValueRange) {
            Value slot = zero;
            if (stageSlots == 2) {
              // The next chunk's rows into the other slot first.
              slot = arith::RemUIOp::create(b, chunkIndex, index(2));
              Value next = add(chunkIndex, one);
              copyChunk(next, arith::SubIOp::create(b, one, slot),
                        arith::CmpIOp::create(b, arith::CmpIPredicate::ult, next,
                                              chunks));
            } else {
              copyChunk(chunkIndex, zero, Value());
            }
            // This chunk's rows: from row r of each buffer, K^T's from kr.
            Value r = mul(slot, c), kr = mul(slot, dk);
            // The chunk's decay e^{G_last}, loaded now: its latency (device
            // memory) passes under the products before the state update.
            Value decay = load(decays, ValueRange{add(mul(chunkIndex, hv), h)});
            // V' = U + (-W) S, in place of U in shared memory and in
            // `prepared` (this block's columns, which only it reads).
            Value row0 = pairRow(chunkIndex, h, c);
            loops.warps([&](Value warp) {
              tiles.forTileProducts(warp, rowTiles * columnTiles, [&](Value tile) {
                auto [m, n] = tiles.at(tile, columnTiles);
                return tiles.read(us, add(r, m), n, kMmaTokens);
              }, [&](Value tile) {
                auto [m, n] = tiles.at(tile, columnTiles);
                return SmallVector<WarpTiles::Operands>{
                    {ws, add(r, m), zero, s, zero, n, dk}};
              }, [&](Value tile, Value owned, Value v) {
                auto [m, n] = tiles.at(tile, columnTiles);
                tiles.store(v, us, add(r, m), n, owned);
                tiles.store(v, prepared, add(row0, m), add(j0, n), owned);
              });
            });
            // S = e^{G_last} S + (tail-scaled K^T) V', a tile of state rows
            // x columns per warp; S as it was before, for the outputs.
            Value stateRow0 = pairRow(chunkIndex, h, dk);
            loops.cooperative({dkIndex, columnsIndex}, [&](ValueRange ij) {
              Value before = load(s, ij);
              store(before, states, ValueRange{add(stateRow0, ij[0]), add(j0, ij[1])});
              store(fmul(before, decay), s, ij);
            });
            loops.warps([&](Value warp) {
              tiles.forTileProducts(warp, dk / kMmaTokens * columnTiles,
                                    [&](Value tile) {
                auto [i, n] = tiles.at(tile, columnTiles);
                return tiles.read(s, i, n, kMmaTokens);
              }, [&](Value tile) {
                auto [i, n] = tiles.at(tile, columnTiles);
                return SmallVector<WarpTiles::Operands>{{kT, add(kr, i), zero, us, r, n, c}};
              }, [&](Value tile, Value owned, Value updated) {
                auto [i, n] = tiles.at(tile, columnTiles);
                tiles.store(updated, s, i, n, owned);
              });
            });
            return SmallVector<Value>{};
          });
          loops.cooperative({dkIndex, columnsIndex}, [&](ValueRange ij) {
            store(load(s, ij), state, stateIndex(ij[0], add(j0, ij[1])));
          });
        };
        loops.ifElse(loops.severalOfOneSequence(tokens, slots), walk, [] {});
      });

      loops.parallel("delta_rule_outputs",
                     {workgroupsIf(true, hv), chunks, index(dv / columns)},
                     [&](ValueRange ivs) {
        Value h = ivs[0], chunkIndex = ivs[1], j0 = mul(ivs[2], columns);
        Value qs = loops.scratch({c, dk + pad}, f32);      // q e^G
        Value scores = loops.scratch({c, c + pad}, f32);
        Value vs = loops.scratch({c, columns + pad}, f32); // V'
        Value s = loops.scratch({dk, columns + pad}, f32); // S before the chunk
        auto outputs = [&]() {
          Value row0 = pairRow(chunkIndex, h, c);
          copyRows(prepared, row0, index(qColumn), c, dk, qs, zero, zero);
          copyRows(prepared, row0, index(scoresColumn), c, c, scores, zero, zero);
          copyRows(prepared, row0, j0, c, columns, vs, zero, zero);
          copyRows(states, pairRow(chunkIndex, h, dk), j0, dk, columns, s, zero, zero);
          // O = (q e^G) S + scores V', tiles to the head outputs.
          Value first = mul(chunkIndex, c), headColumn = add(mul(h, dv), j0);
          int64_t columnTiles = columns / kMmaOutputs;
          loops.warps([&](Value warp) {
            tiles.forTileProducts(warp, rowTiles * columnTiles,
                                  [&](Value) { return tiles.zero(); },
                                  [&](Value tile) {
              auto [m, n] = tiles.at(tile, columnTiles);
              return SmallVector<WarpTiles::Operands>{
                  {qs, m, zero, s, zero, n, dk}, {scores, m, zero, vs, zero, n, c}};
            }, [&](Value tile, Value owned, Value o) {
              auto [m, n] = tiles.at(tile, columnTiles);
              tiles.store(o, headRows, add(first, m), add(headColumn, n), owned);
            });
          });
        };
        loops.ifElse(loops.severalOfOneSequence(tokens, slots), outputs, [] {});
      });
    };

    if (codegen.columns) {
      // The chunked GPU forms write each token's head outputs to `heads`;
      // the gated norm, which needs a head's whole output, runs after, per
      // (token, head). The tensor-core form writes whole chunks' rows: its
      // rows are the tokens rounded up to chunks.
      bool onTensorCores =
          chunk && deltaRuleOnTensorCores(codegen, *chunk, dk, dv,
                                          deltaRuleColumns(codegen.panel, dv));
      // Decode, and every call without a chunk size: a workgroup (a GPU
      // block) per value head runs the recurrence over the call's tokens,
      // each step in phases its threads share: q and k normalised into the
      // block's buffers; then per value column j (column j of the state
      // evolves on its own: its entries of S^T k and S^T q read only it)
      // the per-head form's sums over the state, in the same order; then
      // the gated norm of the head's outputs, in the same kernel (no
      // gated_norm launch in a decode step). Each step starts with the conv
      // of the head's channels (no conv launch either). The conv state
      // moves after the walk (each sequence's, in a batch): v's channels
      // are the block's alone, q's and k's its k-head's `ratio` blocks',
      // moved by the last of them to finish reading it (an arrival count
      // per k-head and batch slot). With batch slots, a batch of decode
      // steps (one token of each of several sequences: independent
      // recurrences) takes a workgroup per (token, value head); a call of
      // one sequence, a workgroup per head walking its tokens.
      int64_t batch = slots ? cast<MemRefType>(convState.getType()).getDimSize(0) : 1;
      memref::GlobalOp convArrivals;
      if (ratio > 1)
        convArrivals = arrivalCounts(b, loc, "conv_state", batch * hk);
      SmallVector<Value> grid;
      if (slots)
        grid.push_back(loops.sequenceWorkgroups(tokens, slots));
      grid.push_back(workgroupsIf(false, hv));
      loops.parallel("delta_rule", grid, [&](ValueRange ivs) {
        Value h = ivs.back();
        // The workgroup's tokens [first, end): its sequence's in the call
        // (first null without slots: the call's from 0).
        Value first, end = tokens;
        if (slots) {
          first = ivs[0];
          end = loops.sequenceEnd(first, tokens, slots);
        }
        Value qBuf = loops.scratch(dk, f32), kBuf = loops.scratch(dk, f32);
        Value oBuf = loops.scratch(dv, f32);
        Value convOut = loops.scratch(2 * dk + dv, f32);
        auto recurrence = [&]() {
          Head head = headOf(h, convOut);
          // The conv channel of entry e of convOut. (One op per statement:
          // the IR's order is not left to C++'s order of arguments.)
          auto channelOf = [&](Value e) -> Value {
            Value isQ = arith::CmpIOp::create(b, arith::CmpIPredicate::ult, e, index(dk));
            Value isQK =
                arith::CmpIOp::create(b, arith::CmpIPredicate::ult, e, index(2 * dk));
            Value kAt = arith::SubIOp::create(b, e, index(dk));
            Value kEntry = add(kAt, index(hk * dk));
            Value qkEntry = arith::SelectOp::create(b, isQ, e, kEntry);
            Value headFirst = mul(head.kh, dk);
            Value qk = add(headFirst, qkEntry);
            Value vAt = arith::SubIOp::create(b, e, index(2 * dk));
            Value vFirst = add(index(2 * hk * dk), mul(h, dv));
            Value v = add(vFirst, vAt);
            return arith::SelectOp::create(b, isQK, qk, v);
          };
          forLoop(first ? first : zero, end, {}, [&](Value t, ValueRange) {
            loops.cooperative({index(2 * dk + dv)}, [&](ValueRange es) {
              store(window.output(t, channelOf(es[0])), convOut, ValueRange{es[0]});
            });
            auto [beta, g] = head.gates(t);
            Value decay = math::ExpOp::create(b, g);
            head.loadNormalized(qBuf, zero, t, 0, qScale, true);
            head.loadNormalized(kBuf, zero, t, hk * dk, f32c(1.0), true);
            loops.cooperative({index(dv)}, [&](ValueRange js) {
              Value j = js[0];
              // (S^T k)_j of the decayed state, then u_j = beta (v_j - it).
              Value kv = forLoop(zero, index(dk), {f32c(0.0)}, [&](Value i, ValueRange a) {
                SmallVector<Value> at = stateAt(b, slots, t, {h, i, j});
                Value decayed = fmul(load(state, at), decay);
                store(decayed, state, at);
                return SmallVector<Value>{
                    fadd(a[0], fmul(decayed, load(kBuf, ValueRange{i})))};
              }).getResult(0);
              Value v = load(convOut, ValueRange{add(index(2 * dk), j)});
              Value u = fmul(beta, fsub(v, kv));
              // S[:, j] += k u_j; o_j = (S^T q)_j.
              Value o = forLoop(zero, index(dk), {f32c(0.0)}, [&](Value i, ValueRange a) {
                SmallVector<Value> at = stateAt(b, slots, t, {h, i, j});
                Value updated =
                    fadd(load(state, at), fmul(load(kBuf, ValueRange{i}), u));
                store(updated, state, at);
                return SmallVector<Value>{
                    fadd(a[0], fmul(updated, load(qBuf, ValueRange{i})))};
              }).getResult(0);
              store(o, oBuf, ValueRange{j});
            });
            head.gatedNorm(oBuf, zero, t, true);
            return SmallVector<Value>{};
          });
          loops.cooperative({index(dv)}, [&](ValueRange js) {
            window.moveState(channelOf(add(index(2 * dk), js[0])), first);
          });
          Value arrivalUnit = head.kh;
          if (slots)
            arrivalUnit = add(mul(arith::IndexCastOp::create(
                                      b, b.getIndexType(),
                                      tensor::ExtractOp::create(b, slots, first)),
                                  hk),
                              head.kh);
          lastOfSplits(b, loops, convArrivals, arrivalUnit, ratio, [&] {
            loops.cooperative({index(2 * dk)}, [&](ValueRange es) {
              window.moveState(channelOf(es[0]), first);
            });
          });
        };
        if (!chunk)
          return recurrence();
        loops.ifElse(loops.severalOfOneSequence(tokens, slots), [] {},
                     recurrence);
      });
      if (chunk) {
        Value headRowCount =
            onTensorCores
                ? mul(arith::CeilDivUIOp::create(b, tokens, index(*chunk)), *chunk)
                : tokens;
        Value heads = memref::AllocOp::create(
            b, MemRefType::get({ShapedType::kDynamic}, f32),
            ValueRange{mul(headRowCount, hv * dv)});
        if (onTensorCores)
          chunkedTensorCoreBlocks(heads);
        else
          chunkedBlocks(heads);
        // With batch slots every call launches it; the kernel tells.
        loops.parallel("gated_norm",
                       {loops.workgroupsFor(true, tokens, tokens, slots), index(hv)},
                       [&](ValueRange ivs) {
          Value t = ivs[0], h = ivs[1];
          auto norm = [&]() {
            headOf(h).gatedNorm(heads, add(mul(t, hv * dv), mul(h, dv)), t, false);
          };
          if (!slots)
            return norm();
          loops.ifElse(loops.severalOfOneSequence(tokens, slots), norm, [] {});
        });
      }
    } else {
      // 2. Per value head (in parallel): the gated delta rule from the
      // recurrent state, then the gated norm.
      loops.parallel("delta_rule", {index(hv)}, [&](ValueRange ivs) {
        Value h = ivs[0];
        // Calls of several tokens of one sequence run the chunked form when
        // hybrid-tile-scans asked for it; decode (and batched decode, which
        // mixes sequences) the step-by-step recurrence.
        Value chunked =
            chunk ? loops.severalOfOneSequence(tokens, slots) : Value();
        Head head = headOf(h);
        auto &gates = head.gates;
        auto &loadNormalized = head.loadNormalized;
        auto &gatedNorm = head.gatedNorm;
        Value vOffset = add(index(2 * hk * dk), mul(h, dv));

        // Token by token: S = exp(g) S; u = beta (v - S^T k); S += k u^T;
        // o = S^T q. Both passes over S walk its rows (i) outside and the
        // contiguous columns (j) inside, accumulating S^T k and S^T q per
        // column in scratch: the inner loops are plain vector multiply-adds.
        Value qBuf = loops.scratch(dk, f32);
        Value kBuf = loops.scratch(dk, f32);
        Value oBuf = loops.scratch(dv, f32);
        Value uBuf = loops.scratch(dv, f32); // S^T k, then u
        auto recurrent = [&]() {
          forLoop(zero, tokens, {}, [&](Value t, ValueRange) {
            auto [beta, g] = gates(t);
            Value decay = math::ExpOp::create(b, g);
            loadNormalized(qBuf, zero, t, 0, qScale, false);
            loadNormalized(kBuf, zero, t, hk * dk, f32c(1.0), false);
            auto clear = [&](Value buf) {
              forLoop(zero, index(dv), {}, [&](Value j, ValueRange) {
                store(f32c(0.0), buf, ValueRange{j});
                return SmallVector<Value>{};
              });
            };
            clear(uBuf);
            forLoop(zero, index(dk), {}, [&](Value i, ValueRange) {
              Value ki = load(kBuf, ValueRange{i});
              forLoop(zero, index(dv), {}, [&](Value j, ValueRange) {
                SmallVector<Value> at = stateAt(b, slots, t, {h, i, j});
                Value decayed = fmul(load(state, at), decay);
                store(decayed, state, at);
                store(fadd(load(uBuf, ValueRange{j}), fmul(decayed, ki)), uBuf,
                      ValueRange{j});
                return SmallVector<Value>{};
              });
              return SmallVector<Value>{};
            });
            forLoop(zero, index(dv), {}, [&](Value j, ValueRange) {
              Value v = load(mixed, ValueRange{t, add(vOffset, j)});
              store(fmul(beta, fsub(v, load(uBuf, ValueRange{j}))), uBuf,
                    ValueRange{j});
              return SmallVector<Value>{};
            });
            clear(oBuf);
            forLoop(zero, index(dk), {}, [&](Value i, ValueRange) {
              Value ki = load(kBuf, ValueRange{i});
              Value qi = load(qBuf, ValueRange{i});
              forLoop(zero, index(dv), {}, [&](Value j, ValueRange) {
                SmallVector<Value> at = stateAt(b, slots, t, {h, i, j});
                Value updated =
                    fadd(load(state, at), fmul(ki, load(uBuf, ValueRange{j})));
                store(updated, state, at);
                store(fadd(load(oBuf, ValueRange{j}), fmul(updated, qi)), oBuf,
                      ValueRange{j});
                return SmallVector<Value>{};
              });
              return SmallVector<Value>{};
            });
            gatedNorm(oBuf, zero, t, false);
            return SmallVector<Value>{};
          });
        };
        if (!chunk) {
          recurrent();
          return;
        }

        // Chunked form (models.md 1.5.2), chunks of C tokens in sequence; rows
        // r, s index tokens inside a chunk. Buffers are row-major [C, d].
        int64_t c = *chunk;
        Value qc = loops.scratch(c * dk, f32), kc = loops.scratch(c * dk, f32);
        Value vc = loops.scratch(c * dv, f32), uc = loops.scratch(c * dv, f32);
        Value wc = loops.scratch(c * dk, f32), oc = loops.scratch(c * dv, f32);
        Value lower = loops.scratch(c * c, f32); // beta_r (k_r . k_s) Gamma[r, s]
        Value scores = loops.scratch(c * c, f32); // (q_r . k_s) Gamma[r, s]
        Value cumulative = loops.scratch(c, f32), betas = loops.scratch(c, f32);
        Value tail = loops.scratch(c, f32); // exp(G_last - G_r)
        // The C x C parts run as register tiles too when the vector panel
        // divides the chunk and the key head: K is then kept transposed.
        bool tiledSquare = codegen.panel > 0 && dv % codegen.panel == 0 &&
                           dk % codegen.panel == 0 && c % codegen.panel == 0;
        Value kTc = tiledSquare ? loops.scratch(dk * c, f32) : Value();
        auto chunkedRule = [&]() {
          auto stateIndex = [&, entry = oneSequenceState()](Value i, Value j) {
            return entry(h, i, j);
          };
          auto row = [&](Value r, int64_t width) { return mul(r, width); };
          // dst[dBase + j] op= coef * src[sBase + j] for j < n: the axpy every
          // O(C d^2) step is made of, contiguous in j.
          auto axpy = [&](Value dst, Value dBase, Value coef, Value src,
                          Value sBase, int64_t n, bool fromState) {
            forLoop(zero, index(n), {}, [&](Value j, ValueRange) {
              Value x = fromState ? load(state, stateIndex(sBase, j))
                                  : load(src, ValueRange{add(sBase, j)});
              Value at = add(dBase, j);
              store(fadd(load(dst, ValueRange{at}), fmul(coef, x)), dst,
                    ValueRange{at});
              return SmallVector<Value>{};
            });
          };
          // With packed weights (a target vector width known), the three
          // O(C dk dv) products run as register tiles of up to 6 rows x one
          // vector<panel> of columns, the packed linear layers' outer
          // products: V' = U - W S and O = (Q e^G) S + scores V' per tile of
          // chunk rows, the state update per tile of state rows.
          int64_t panel = codegen.panel;
          bool tiled = panel > 0 && dv % panel == 0;
          VectorType vf32; // used by the lambdas below only when tiled
          if (tiled)
            vf32 = VectorType::get({panel}, f32);
          auto readRow = [&](Value m, ValueRange at) -> Value {
            return vector::TransferReadOp::create(b, vf32, m, at, f32c(0.0),
                                                  ArrayRef<bool>{true});
          };
          auto writeRow = [&](Value v, Value m, ValueRange at) {
            vector::TransferWriteOp::create(b, v, m, at, ArrayRef<bool>{true});
          };
          auto splatFma = [&](Value scalar, Value v, Value acc) -> Value {
            return vector::FMAOp::create(b, vector::BroadcastOp::create(b, vf32, scalar),
                                         v, acc);
          };
          // Tiles of kPackedTokens rows of [0, count), then the rest one by one.
          auto rowTiles = [&](Value count, function_ref<void(ArrayRef<Value>)> tile) {
            loops.rowTiles(zero, count, kPackedTokens, tile);
          };
          auto panels = [&](function_ref<void(Value)> body) {
            for (int64_t j0 = 0; j0 < dv; j0 += panel)
              body(index(j0));
          };
          auto tiledProducts = [&](Value rows, Value first, Value decay) {
            // V' = U - W S.
            rowTiles(rows, [&](ArrayRef<Value> rs) {
              panels([&](Value j0) {
                SmallVector<Value> init;
                for (Value r : rs)
                  init.push_back(readRow(uc, {add(row(r, dv), j0)}));
                auto sums = forLoop(zero, index(dk), init, [&](Value i, ValueRange accs) {
                  Value srow = readRow(state, stateIndex(i, j0));
                  SmallVector<Value> next;
                  for (auto [r, acc] : llvm::zip(rs, accs))
                    next.push_back(splatFma(
                        arith::NegFOp::create(b, load(wc, ValueRange{add(row(r, dk), i)})),
                        srow, acc));
                  return next;
                });
                for (auto [r, v] : llvm::zip(rs, sums.getResults()))
                  writeRow(v, uc, {add(row(r, dv), j0)});
              });
            });
            // O = (Q e^G) S + scores V' (scores[r, s] for s <= r only).
            rowTiles(rows, [&](ArrayRef<Value> rs) {
              SmallVector<Value> eg;
              for (Value r : rs)
                eg.push_back(math::ExpOp::create(b, load(cumulative, ValueRange{r})));
              Value lastRow = add(rs.back(), one);
              panels([&](Value j0) {
                Value vzero = arith::ConstantOp::create(
                    b, vf32, DenseElementsAttr::get(vf32, b.getF32FloatAttr(0.0)));
                SmallVector<Value> init(rs.size(), vzero);
                auto fromState = forLoop(zero, index(dk), init, [&](Value i, ValueRange accs) {
                  Value srow = readRow(state, stateIndex(i, j0));
                  SmallVector<Value> next;
                  for (size_t m = 0; m < rs.size(); ++m)
                    next.push_back(splatFma(
                        fmul(load(qc, ValueRange{add(row(rs[m], dk), i)}), eg[m]), srow,
                        accs[m]));
                  return next;
                });
                auto sums = forLoop(zero, lastRow, fromState.getResults(),
                                    [&](Value sIdx, ValueRange accs) {
                  Value vrow = readRow(uc, {add(row(sIdx, dv), j0)});
                  SmallVector<Value> next;
                  for (size_t m = 0; m < rs.size(); ++m) {
                    Value causal = arith::CmpIOp::create(b, arith::CmpIPredicate::ule,
                                                         sIdx, rs[m]);
                    Value p = arith::SelectOp::create(
                        b, causal, load(scores, ValueRange{add(row(rs[m], c), sIdx)}),
                        f32c(0.0));
                    next.push_back(splatFma(p, vrow, accs[m]));
                  }
                  return next;
                });
                for (auto [r, v] : llvm::zip(rs, sums.getResults()))
                  writeRow(v, oc, {add(row(r, dv), j0)});
              });
              for (Value r : rs)
                gatedNorm(oc, row(r, dv), add(first, r), false);
            });
            // S = e^{G_last} S + sum_r (k_r e^{G_last - G_r}) V'_r, by state rows.
            rowTiles(index(dk), [&](ArrayRef<Value> is) {
              panels([&](Value j0) {
                SmallVector<Value> init;
                for (Value i : is)
                  init.push_back(arith::MulFOp::create(
                      b, readRow(state, stateIndex(i, j0)),
                      vector::BroadcastOp::create(b, vf32, decay)));
                auto sums = forLoop(zero, rows, init, [&](Value r, ValueRange accs) {
                  Value vrow = readRow(uc, {add(row(r, dv), j0)});
                  Value t = load(tail, ValueRange{r});
                  SmallVector<Value> next;
                  for (auto [i, acc] : llvm::zip(is, accs))
                    next.push_back(splatFma(
                        fmul(load(kc, ValueRange{add(row(r, dk), i)}), t), vrow, acc));
                  return next;
                });
                for (auto [i, v] : llvm::zip(is, sums.getResults()))
                  writeRow(v, state, stateIndex(i, j0));
              });
            });
          };
          // scores[r, s] = (q_r . k_s) Gamma[r, s] and lower[r, s] = beta_r
          // (k_r . k_s) Gamma[r, s] for s <= r (0 above the diagonal), as
          // outer products: tiles of 3 rows (2 x 3 accumulators) x one vector
          // of columns s, per key column one vector of K^T.
          auto tiledGammas = [&](Value rows) {
            forLoop(zero, rows, {}, [&](Value sIdx, ValueRange) {
              forLoop(zero, index(dk), {}, [&](Value i, ValueRange) {
                store(load(kc, ValueRange{add(row(sIdx, dk), i)}), kTc,
                      ValueRange{add(row(i, c), sIdx)});
                return SmallVector<Value>{};
              });
              return SmallVector<Value>{};
            });
            auto vindex = VectorType::get({panel}, b.getIndexType());
            Value lanes = vector::StepOp::create(b, vindex);
            Value vzero = arith::ConstantOp::create(
                b, vf32, DenseElementsAttr::get(vf32, b.getF32FloatAttr(0.0)));
            loops.rowTiles(zero, rows, kPackedTokens / 2, [&](ArrayRef<Value> rs) {
              for (int64_t s0 = 0; s0 < c; s0 += panel) {
                SmallVector<Value> init(2 * rs.size(), vzero);
                auto sums = forLoop(zero, index(dk), init, [&](Value i, ValueRange accs) {
                  Value column = readRow(kTc, {add(row(i, c), index(s0))});
                  SmallVector<Value> next;
                  for (size_t m = 0; m < rs.size(); ++m) {
                    Value at = add(row(rs[m], dk), i);
                    next.push_back(splatFma(load(qc, ValueRange{at}), column, accs[2 * m]));
                    next.push_back(splatFma(load(kc, ValueRange{at}), column, accs[2 * m + 1]));
                  }
                  return next;
                });
                Value columns = arith::AddIOp::create(
                    b, lanes, vector::BroadcastOp::create(b, vindex, index(s0)));
                Value gs = readRow(cumulative, {index(s0)});
                for (size_t m = 0; m < rs.size(); ++m) {
                  Value r = rs[m];
                  // Masked lanes (s > r, or past the chunk's rows, whose
                  // scratch is stale) may hold inf or NaN: select, not multiply.
                  Value causal = arith::CmpIOp::create(
                      b, arith::CmpIPredicate::ule, columns,
                      vector::BroadcastOp::create(b, vindex, r));
                  Value gamma = math::ExpOp::create(
                      b, arith::SubFOp::create(
                             b, vector::BroadcastOp::create(
                                    b, vf32, load(cumulative, ValueRange{r})),
                             gs));
                  Value beta = vector::BroadcastOp::create(
                      b, vf32, load(betas, ValueRange{r}));
                  Value at = add(row(r, c), index(s0));
                  writeRow(arith::SelectOp::create(
                               b, causal, fmul(sums.getResult(2 * m), gamma), vzero),
                           scores, {at});
                  writeRow(arith::SelectOp::create(
                               b, causal,
                               fmul(fmul(sums.getResult(2 * m + 1), gamma), beta),
                               vzero),
                           lower, {at});
                }
              }
            });
          };
          // UT transform by forward substitution, a row at a time: U_r =
          // beta_r V_r - sum_{s<r} lower[r, s] U_s and W_r = beta_r e^{G_r}
          // K_r - sum_{s<r} lower[r, s] W_s, the row's panels held in vector
          // registers (at most 6 at a time) while the earlier rows stream by.
          auto tiledSubstitution = [&](Value rows) {
            struct RowPanel {
              Value dst, src;
              int64_t width, column;
              bool isU;
            };
            SmallVector<RowPanel> targets;
            for (int64_t j0 = 0; j0 < dv; j0 += panel)
              targets.push_back({uc, vc, dv, j0, true});
            for (int64_t j0 = 0; j0 < dk; j0 += panel)
              targets.push_back({wc, kc, dk, j0, false});
            forLoop(zero, rows, {}, [&](Value r, ValueRange) {
              Value br = load(betas, ValueRange{r});
              Value bg = fmul(br, math::ExpOp::create(b, load(cumulative, ValueRange{r})));
              for (size_t t0 = 0; t0 < targets.size(); t0 += kPackedTokens) {
                ArrayRef<RowPanel> group =
                    ArrayRef(targets).slice(t0, std::min<size_t>(kPackedTokens,
                                                                 targets.size() - t0));
                SmallVector<Value> init;
                for (const RowPanel &t : group)
                  init.push_back(fmul(
                      readRow(t.src, {add(row(r, t.width), index(t.column))}),
                      vector::BroadcastOp::create(b, vf32, t.isU ? br : bg)));
                auto sums = forLoop(zero, r, init, [&](Value sIdx, ValueRange accs) {
                  Value minus = arith::NegFOp::create(
                      b, load(lower, ValueRange{add(row(r, c), sIdx)}));
                  SmallVector<Value> next;
                  for (auto [t, acc] : llvm::zip(group, accs))
                    next.push_back(splatFma(
                        minus, readRow(t.dst, {add(row(sIdx, t.width), index(t.column))}),
                        acc));
                  return next;
                });
                for (auto [t, v] : llvm::zip(group, sums.getResults()))
                  writeRow(v, t.dst, {add(row(r, t.width), index(t.column))});
              }
              return SmallVector<Value>{};
            });
          };
          Value chunks = arith::CeilDivUIOp::create(b, tokens, index(c));
          forLoop(zero, chunks, {}, [&](Value chunkIndex, ValueRange) {
            Value first = mul(chunkIndex, c);
            Value rows = arith::MinUIOp::create(
                b, index(c), arith::SubIOp::create(b, tokens, first));
            // Gates, normalised q and k, v and G_r = sum_{s <= r} g_s.
            forLoop(zero, rows, {f32c(0.0)}, [&](Value r, ValueRange acc) {
              Value t = add(first, r);
              auto [beta, g] = gates(t);
              Value cum = fadd(acc[0], g);
              store(cum, cumulative, ValueRange{r});
              store(beta, betas, ValueRange{r});
              loadNormalized(qc, row(r, dk), t, 0, qScale, false);
              loadNormalized(kc, row(r, dk), t, hk * dk, f32c(1.0), false);
              forLoop(zero, index(dv), {}, [&](Value j, ValueRange) {
                store(load(mixed, ValueRange{t, add(vOffset, j)}), vc,
                      ValueRange{add(row(r, dv), j)});
                return SmallVector<Value>{};
              });
              return SmallVector<Value>{cum};
            });
            if (tiledSquare) {
              tiledGammas(rows);
              tiledSubstitution(rows);
            } else {
              // Gamma[r, s] = exp(G_r - G_s) for s <= r.
              forLoop(zero, rows, {}, [&](Value r, ValueRange) {
                Value gr = load(cumulative, ValueRange{r});
                Value br = load(betas, ValueRange{r});
                forLoop(zero, add(r, one), {}, [&](Value s, ValueRange) {
                  Value gamma = math::ExpOp::create(
                      b, fsub(gr, load(cumulative, ValueRange{s})));
                  Value at = add(row(r, c), s);
                  store(fmul(loops.dot(qc, row(r, dk), kc, row(s, dk), dk), gamma),
                        scores, ValueRange{at});
                  store(fmul(fmul(br, loops.dot(kc, row(r, dk), kc, row(s, dk), dk)),
                             gamma),
                        lower, ValueRange{at});
                  return SmallVector<Value>{};
                });
                return SmallVector<Value>{};
              });
              // UT transform by forward substitution: (I + L) U = beta V and
              // (I + L) W = beta exp(G) K, row by row.
              forLoop(zero, rows, {}, [&](Value r, ValueRange) {
                Value br = load(betas, ValueRange{r});
                Value bg = fmul(br, math::ExpOp::create(b, load(cumulative, ValueRange{r})));
                forLoop(zero, index(dv), {}, [&](Value j, ValueRange) {
                  Value at = add(row(r, dv), j);
                  store(fmul(br, load(vc, ValueRange{at})), uc, ValueRange{at});
                  return SmallVector<Value>{};
                });
                forLoop(zero, index(dk), {}, [&](Value i, ValueRange) {
                  Value at = add(row(r, dk), i);
                  store(fmul(bg, load(kc, ValueRange{at})), wc, ValueRange{at});
                  return SmallVector<Value>{};
                });
                forLoop(zero, r, {}, [&](Value s, ValueRange) {
                  Value minus = arith::NegFOp::create(
                      b, load(lower, ValueRange{add(row(r, c), s)}));
                  axpy(uc, row(r, dv), minus, uc, row(s, dv), dv, false);
                  axpy(wc, row(r, dk), minus, wc, row(s, dk), dk, false);
                  return SmallVector<Value>{};
                });
                return SmallVector<Value>{};
              });
            }
            Value last = load(cumulative, ValueRange{arith::SubIOp::create(b, rows, one)});
            Value decay = math::ExpOp::create(b, last);
            forLoop(zero, rows, {}, [&](Value r, ValueRange) {
              store(math::ExpOp::create(b, fsub(last, load(cumulative, ValueRange{r}))),
                    tail, ValueRange{r});
              return SmallVector<Value>{};
            });
            if (tiled) {
              tiledProducts(rows, first, decay);
              return SmallVector<Value>{};
            }
            // V' = U - W S (in place of U); O = (Q exp(G)) S + scores V'.
            forLoop(zero, rows, {}, [&](Value r, ValueRange) {
              forLoop(zero, index(dk), {}, [&](Value i, ValueRange) {
                Value minus = arith::NegFOp::create(
                    b, load(wc, ValueRange{add(row(r, dk), i)}));
                axpy(uc, row(r, dv), minus, Value(), i, dv, true);
                return SmallVector<Value>{};
              });
              return SmallVector<Value>{};
            });
            forLoop(zero, rows, {}, [&](Value r, ValueRange) {
              Value eg = math::ExpOp::create(b, load(cumulative, ValueRange{r}));
              forLoop(zero, index(dv), {}, [&](Value j, ValueRange) {
                store(f32c(0.0), oc, ValueRange{add(row(r, dv), j)});
                return SmallVector<Value>{};
              });
              forLoop(zero, index(dk), {}, [&](Value i, ValueRange) {
                Value qe = fmul(load(qc, ValueRange{add(row(r, dk), i)}), eg);
                axpy(oc, row(r, dv), qe, Value(), i, dv, true);
                return SmallVector<Value>{};
              });
              forLoop(zero, add(r, one), {}, [&](Value s, ValueRange) {
                axpy(oc, row(r, dv), load(scores, ValueRange{add(row(r, c), s)}),
                     uc, row(s, dv), dv, false);
                return SmallVector<Value>{};
              });
              gatedNorm(oc, row(r, dv), add(first, r), false);
              return SmallVector<Value>{};
            });
            // S = exp(G_last) S + sum_r exp(G_last - G_r) k_r V'_r^T.
            forLoop(zero, index(dk), {}, [&](Value i, ValueRange) {
              forLoop(zero, index(dv), {}, [&](Value j, ValueRange) {
                SmallVector<Value> at = stateIndex(i, j);
                store(fmul(load(state, at), decay), state, at);
                return SmallVector<Value>{};
              });
              forLoop(zero, rows, {}, [&](Value r, ValueRange) {
                Value coef = fmul(load(kc, ValueRange{add(row(r, dk), i)}),
                                  load(tail, ValueRange{r}));
                forLoop(zero, index(dv), {}, [&](Value j, ValueRange) {
                  SmallVector<Value> at = stateIndex(i, j);
                  store(fadd(load(state, at),
                             fmul(coef, load(uc, ValueRange{add(row(r, dv), j)}))),
                        state, at);
                  return SmallVector<Value>{};
                });
                return SmallVector<Value>{};
              });
              return SmallVector<Value>{};
            });
            return SmallVector<Value>{};
          });
        };
        loops.ifElse(chunked, chunkedRule, recurrent);
      });
    }
    Value mixedOut = bufferization::ToTensorOp::create(
        b, RankedTensorType::get({ShapedType::kDynamic, hv * dv}, f32), out,
        /*restrict=*/true, /*writable=*/true);
    rewriter.replaceOp(op, linear(b, loc, codegen, mixedOut, adaptor.getOutProj()));
    return success();
  }
};

} // namespace

void populateGatedDeltaNetLowering(RewritePatternSet &patterns,
                                   const TypeConverter &types,
                                   const Codegen &codegen) {
  patterns.add<GatedDeltaNetLowering>(types, patterns.getContext(), codegen);
}

} // namespace hybrid::lowering
