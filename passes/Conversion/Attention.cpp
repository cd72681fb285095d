//===- Attention.cpp - attention and MLA to loops -------------------------===//
//
// convert-hybrid-to-linalg's lowerings of attention with a KV cache
// (models.md 1.4) and of Multi-head Latent Attention over a latent cache
// (models.md 3.4, 3.5): on the CPU an online softmax per (token, head)
// for decode and flash attention's blocks for prompts (blockedAttention;
// MLA's long prompts over keys and values expanded by kv_b); in the GPU
// forms split KV for decode and flash-attention tiles for prefill.
//
//===----------------------------------------------------------------------===//

#include "passes/Conversion/HybridToLinalgLowering.h"
#include "passes/Conversion/LinearForms.h"

#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Math/IR/Math.h"

#include <cmath>
#include <limits>

namespace hybrid::lowering {
namespace {

/// Cached positions per workgroup of the GPU form of decode attention (split
/// KV): one per thread of the CUDA pipeline's block.
constexpr int64_t kSplitPositions = hybrid::kBlockWarps * hybrid::kWarpLanes;
/// Calls of at most this many tokens (decode steps, one sequence's or a
/// batch's) combine the splits in the split kernel; the arrival counts
/// hold one entry per (token, head) of such a call.
constexpr int64_t kCombineInSplitTokens = 16;
/// Threads of the CUDA pipeline's block, which the prefill tiles' softmax
/// spreads over each block of rows: rows x runs of positions.
constexpr int64_t kSoftmaxThreads = hybrid::kBlockWarps * hybrid::kWarpLanes;

/// vector<width x f32> at `indices` of a memref or tensor of any float type
/// (the last index advances along the vector; the read must be in bounds).
Value readF32Vector(ImplicitLocOpBuilder &b, Value source, ValueRange indices,
                    int64_t width) {
  Type element = cast<ShapedType>(source.getType()).getElementType();
  Value pad = arith::ConstantOp::create(b, element, b.getFloatAttr(element, 0.0));
  Value raw = vector::TransferReadOp::create(
      b, VectorType::get({width}, element), source, indices, pad,
      ArrayRef<bool>{true});
  auto vf32 = VectorType::get({width}, b.getF32Type());
  return element.isF32() ? raw : arith::ExtFOp::create(b, vf32, raw).getResult();
}

/// The `count` vectors of `width` floats along the last dimension of
/// `buffer`[lead..., 0 .. count * width), as f32.
SmallVector<Value> readRowVectors(ImplicitLocOpBuilder &b, Value buffer, ValueRange lead,
                                  int64_t count, int64_t width) {
  SmallVector<Value> vectors;
  for (int64_t i = 0; i < count; ++i) {
    SmallVector<Value> at(lead);
    at.push_back(arith::ConstantIndexOp::create(b, i * width));
    vectors.push_back(readF32Vector(b, buffer, at, width));
  }
  return vectors;
}

/// `vectors` (of one width) one after another into `buffer`[lead..., 0 ..).
void writeRowVectors(ImplicitLocOpBuilder &b, ArrayRef<Value> vectors, Value buffer,
                     ValueRange lead) {
  int64_t width = cast<VectorType>(vectors.front().getType()).getDimSize(0);
  for (auto [i, vector] : llvm::enumerate(vectors)) {
    SmallVector<Value> at(lead);
    at.push_back(arith::ConstantIndexOp::create(b, static_cast<int64_t>(i) * width));
    vector::TransferWriteOp::create(b, vector, buffer, at, ArrayRef<bool>{true});
  }
}

/// Independent FMA chains of each of onlineSoftmaxSteps' dot products: one
/// chain of head_dim / width FMAs (4 cycles each) makes each score wait for
/// all of them in turn. With kSoftmaxBlock positions a step, 2 chains each
/// keep 16 in flight and leave registers to the query and sums (4 chains
/// measured the same).
constexpr int64_t kDotChains = 2;

/// Positions onlineSoftmaxSteps takes in one step: one correction of the
/// running sum per block, and the block's weights as one vector exp (two
/// scalar exps per position were the larger part of a position's
/// instructions at head_dim 128 and below). A step's maximum, exp and
/// correction are one chain of dependent instructions; 8 positions instead
/// of 4 took GQA's prefill attention from 340-394 ms to 296-310 ms
/// (Qwen3-Next-shaped benchmark model, 2000 tokens, 2 threads).
constexpr int64_t kSoftmaxBlock = 8;

/// Heads the CPU attention forms take together over the rows they share
/// (at most; a power of two dividing the heads that share them).
constexpr int64_t kHeadsTogether = 8;

/// Tokens the GQA CPU group kernel takes together: a prompt's tokens share
/// each block of cached rows, read from L2 or L3 once for all of them
/// instead of once per token (at 4000 tokens each token's pass over the
/// cache read it from L3).
constexpr int64_t kQueryTokens = 8;

/// Tokens MLA's CPU group kernel takes together: each head's kv_b slices
/// are read (fp8 decoded) once for them, half a weight panel at a time, so
/// that their sums take 8 x 2 vector registers (of AVX-512's 32).
constexpr int64_t kLatentTokens = 8;

/// Independent FMA chains of MLA's per-head CPU kernel (one token) in its
/// products with kv_b: at most 8, a power of two dividing `n`, the vectors
/// (or rows) there are. Its value rows as scalar loops (which LLVM
/// vectorised 4 floats wide) were a third of DeepSeek-V3's decode
/// attention.
int64_t headChains(int64_t n) {
  int64_t chains = 1;
  while (chains < 8 && n % (2 * chains) == 0)
    chains *= 2;
  return chains;
}

/// The largest power of two, up to `cap`, that divides `n`: how many of
/// n heads a CPU attention workgroup takes together.
int64_t headsDividing(int64_t n, int64_t cap) {
  int64_t together = 1;
  while (together < cap && n % (2 * together) == 0)
    together *= 2;
  return together;
}

/// The narrowest vectors MLA's CPU attention reads its rows in to take the
/// rope part with the latent (an SSE register of f32).
constexpr int64_t kMinRopeVector = 4;

/// An online softmax's running state: the maximum score, the sum of the
/// weights, and the weighted sum of value rows in vectors.
struct SoftmaxState {
  Value max, total;
  SmallVector<Value> acc;
};

/// The attention loop of one query over positions begin .. end - 1 of an
/// online softmax in `state`, vectorised: score_j = (q . key_j + extra(j))
/// * scale, and the running sum of softmax_j value_j in state.acc's vector
/// registers (q's first acc.size() vectors are the value row's width; the
/// rest only score, as MLA's rope part). `keyAt(j, i)` / `valueAt(j, i,
/// key_i)` give vector i of position j's key and value rows (MLA's latent
/// row is both: valueAt returns key_i). Returns the state after them.
SoftmaxState onlineSoftmaxSteps(
    ImplicitLocOpBuilder &b, LoopNest &loops, ArrayRef<Value> q, Value begin,
    Value end, float scale, const SoftmaxState &state,
    function_ref<Value(Value, int64_t)> keyAt,
    function_ref<Value(Value, int64_t, Value)> valueAt,
    function_ref<Value(Value)> extra) {
  auto vf32 = cast<VectorType>(q.front().getType());
  int64_t n = q.size(), values = state.acc.size();
  assert(values <= n && "more value vectors than key vectors");
  Value vzero = arith::ConstantOp::create(
      b, vf32, DenseElementsAttr::get(vf32, b.getF32FloatAttr(0.0)));
  SmallVector<Value> init{state.max, state.total};
  llvm::append_range(init, state.acc);
  // Positions js[0..P) in one step: their scores, one running maximum and
  // correction for all of them, their weights' exps as one vector.
  auto step = [&](ArrayRef<Value> js, ValueRange st) {
    SmallVector<SmallVector<Value>> keys;
    SmallVector<Value> scores;
    for (Value j : js) {
      keys.emplace_back();
      SmallVector<Value> chains(std::min(kDotChains, n), vzero);
      for (int64_t i = 0; i < n; ++i) {
        keys.back().push_back(keyAt(j, i));
        Value &chain = chains[i % kDotChains];
        chain = vector::FMAOp::create(b, q[i], keys.back().back(), chain);
      }
      while (chains.size() > 1) { // pairwise: a tree, not another chain
        SmallVector<Value> sums;
        for (size_t c = 0; c + 1 < chains.size(); c += 2)
          sums.push_back(arith::AddFOp::create(b, chains[c], chains[c + 1]));
        if (chains.size() % 2)
          sums.push_back(chains.back());
        chains = std::move(sums);
      }
      Value dot = vector::ReductionOp::create(b, vector::CombiningKind::ADD,
                                              chains.front(), Value(), kDotMath);
      if (extra)
        dot = arith::AddFOp::create(b, dot, extra(j));
      scores.push_back(arith::MulFOp::create(b, dot, loops.f32(scale)));
    }
    Value m = st[0];
    for (Value score : scores)
      m = arith::MaximumFOp::create(b, m, score);
    Value correction = math::ExpOp::create(b, arith::SubFOp::create(b, st[0], m));
    SmallVector<Value> weights;
    if (scores.size() == 1) {
      weights.push_back(math::ExpOp::create(b, arith::SubFOp::create(b, scores[0], m)));
    } else {
      auto blockType = VectorType::get({static_cast<int64_t>(scores.size())},
                                       b.getF32Type());
      Value exps = math::ExpOp::create(
          b, arith::SubFOp::create(b, vector::FromElementsOp::create(b, blockType, scores),
                                   vector::BroadcastOp::create(b, blockType, m)));
      for (int64_t k = 0; k < blockType.getDimSize(0); ++k)
        weights.push_back(vector::ExtractOp::create(b, exps, ArrayRef<int64_t>{k}));
    }
    Value total = arith::MulFOp::create(b, st[1], correction);
    for (Value weight : weights)
      total = arith::AddFOp::create(b, total, weight);
    SmallVector<Value> next{m, total};
    Value vc = vector::BroadcastOp::create(b, vf32, correction);
    for (int64_t i = 0; i < values; ++i) {
      Value acc = arith::MulFOp::create(b, st[2 + i], vc);
      for (auto [k, j] : llvm::enumerate(js))
        acc = vector::FMAOp::create(
            b, vector::BroadcastOp::create(b, vf32, weights[k]),
            valueAt(j, i, keys[k][i]), acc);
      next.push_back(acc);
    }
    return next;
  };
  // Blocks of kSoftmaxBlock positions, then the rest one by one.
  Value blocked = arith::AddIOp::create(
      b, begin,
      arith::MulIOp::create(
          b,
          arith::DivUIOp::create(b, arith::SubIOp::create(b, end, begin),
                                 loops.index(kSoftmaxBlock)),
          loops.index(kSoftmaxBlock)));
  auto blocks = loops.forLoop(begin, blocked, init, [&](Value j, ValueRange st) {
    SmallVector<Value> js;
    for (int64_t k = 0; k < kSoftmaxBlock; ++k)
      js.push_back(arith::AddIOp::create(b, j, loops.index(k)));
    return step(js, st);
  }, kSoftmaxBlock);
  auto stats = loops.forLoop(blocked, end, blocks.getResults(),
                             [&](Value j, ValueRange st) { return step({j}, st); });
  SoftmaxState after{stats.getResult(0), stats.getResult(1), {}};
  llvm::append_range(after.acc, stats.getResults().drop_front(2));
  return after;
}

/// onlineSoftmaxSteps over positions 0 .. end - 1 from the empty state,
/// with `values` value vectors, stored to `accOut` (a [values * width] f32
/// buffer) at the end. Returns the softmax denominator.
Value vectorOnlineSoftmax(
    ImplicitLocOpBuilder &b, LoopNest &loops, ArrayRef<Value> q, int64_t values,
    Value end, float scale, Value accOut, function_ref<Value(Value, int64_t)> keyAt,
    function_ref<Value(Value, int64_t, Value)> valueAt,
    function_ref<Value(Value)> extra) {
  auto vf32 = cast<VectorType>(q.front().getType());
  Value vzero = arith::ConstantOp::create(
      b, vf32, DenseElementsAttr::get(vf32, b.getF32FloatAttr(0.0)));
  SoftmaxState empty{loops.f32(-std::numeric_limits<double>::infinity()),
                     loops.f32(0.0), SmallVector<Value>(values, vzero)};
  SoftmaxState after = onlineSoftmaxSteps(b, loops, q, loops.index(0), end, scale,
                                          empty, keyAt, valueAt, extra);
  writeRowVectors(b, after.acc, accOut, {});
  return after.total;
}

/// Rows of the cache that queries sharing them (heads of one KV head, or
/// MLA's heads over its latent rows) take together while they are in L1:
/// 16 of DeepSeek-V3's [512 | 64] latent rows are 36 KiB as f32. Blocks of
/// 32 rows were slower than a head at a time while the cache fit in L2; 16
/// and 8 measured alike.
constexpr int64_t kSharedRows = 16;

/// onlineSoftmaxSteps for queries [first, last) over the same key and value
/// rows, query g over positions 0 .. endOf(g) - 1 (the last query's end the
/// furthest: heads of one token, or of a prompt's consecutive tokens):
/// blocks of kSharedRows positions, each taken in turn by every query that
/// reaches into it, so that the rows are read from L2 or memory once for
/// all of them. Query g's vectors are queryAt(g) (a vector per `width` of
/// the key); its state lies in accs [g, values * width] and stats [g, 2]
/// (maximum, sum) between blocks, which this initialises; the caller reads
/// the results there.
void sharedRowsSoftmax(ImplicitLocOpBuilder &b, LoopNest &loops, Value first,
                       Value last, function_ref<Value(Value)> endOf, int64_t values,
                       int64_t width, float scale,
                       function_ref<SmallVector<Value>(Value)> queryAt, Value accs,
                       Value stats, function_ref<Value(Value, int64_t)> keyAt,
                       function_ref<Value(Value, int64_t, Value)> valueAt) {
  Value zero = loops.index(0), one = loops.index(1);
  auto vf32 = VectorType::get({width}, b.getF32Type());
  Value vzero = arith::ConstantOp::create(
      b, vf32, DenseElementsAttr::get(vf32, b.getF32FloatAttr(0.0)));
  Value end = endOf(arith::SubIOp::create(b, last, one));
  loops.forLoop(first, last, {}, [&](Value g, ValueRange) {
    writeRowVectors(b, SmallVector<Value>(values, vzero), accs, {g});
    memref::StoreOp::create(b, loops.f32(-std::numeric_limits<double>::infinity()),
                            stats, ValueRange{g, zero});
    memref::StoreOp::create(b, loops.f32(0.0), stats, ValueRange{g, one});
    return SmallVector<Value>{};
  });
  loops.forLoop(zero, end, {}, [&](Value begin, ValueRange) {
    Value blockEnd = arith::AddIOp::create(b, begin, loops.index(kSharedRows));
    loops.forLoop(first, last, {}, [&](Value g, ValueRange) {
      Value queryEnd = endOf(g);
      auto reaches = arith::CmpIOp::create(b, arith::CmpIPredicate::ult, begin, queryEnd);
      loops.ifElse(reaches, [&] {
        SoftmaxState state{memref::LoadOp::create(b, stats, ValueRange{g, zero}),
                           memref::LoadOp::create(b, stats, ValueRange{g, one}),
                           readRowVectors(b, accs, {g}, values, width)};
        state = onlineSoftmaxSteps(b, loops, queryAt(g), begin,
                                   arith::MinUIOp::create(b, blockEnd, queryEnd), scale,
                                   state, keyAt, valueAt, {});
        memref::StoreOp::create(b, state.max, stats, ValueRange{g, zero});
        memref::StoreOp::create(b, state.total, stats, ValueRange{g, one});
        writeRowVectors(b, state.acc, accs, {g});
      }, [] {});
      return SmallVector<Value>{};
    });
    return SmallVector<Value>{};
  }, kSharedRows);
}

/// Positions whose scores stagedRowsSoftmax takes in one pass over a
/// query: independent FMA chains, each query vector loaded once for them.
constexpr int64_t kScoreRows = 8;

/// The online softmax of sets [setBegin, setEnd) of `count` queries over
/// the same key and value rows, set s over positions 0 .. endOf(s) - 1
/// (the sets' ends in order: a prompt's tokens), a block of kSharedRows
/// positions at a time, as flash attention takes a block: the block's rows
/// staged once as f32 for every set; each set reaching into the block, per
/// query, its scores against them (kScoreRows at a time) and its softmax
/// update, one vector exp per query and block; then each staged value
/// vector loaded once and added, weighted, into every query's sums. MLA's
/// form, whose query and sums do not fit in registers: at DeepSeek-V3's
/// widths sharedRowsSoftmax spilled 32 sums every step and converted each
/// row to f32 once per head, and this took the attention kernel from 1.8 s
/// to 1.1 s (600 tokens, 2 threads); GQA heads of 128 and 256 measured
/// 20-30 % slower this way than with sharedRowsSoftmax. Sharing the blocks
/// among 8 sets (tokens) took it from 1.2-1.6 s to 1.0-1.1 s at 4000
/// tokens (the benchmark shape), where the cache is read from L3. Query g
/// of set s is queries[s, g, 0 .. keyDim) (f32); its state lies in accs
/// [s, g, 0 .. valueDim) and stats [s, g, 0 .. 2) (maximum, sum), which
/// this initialises; the caller reads the results there. keyAt(j, c) /
/// valueAt(j, c) give the `width` floats at column c of position j's key /
/// value row; without valueAt the value row is the key row's first
/// valueDim columns (MLA's latent). Both dims are multiples of `width`.
void stagedRowsSoftmax(ImplicitLocOpBuilder &b, LoopNest &loops, int64_t count,
                       int64_t keyDim, int64_t valueDim, int64_t width, Value setBegin,
                       Value setEnd, function_ref<Value(Value)> endOf, float scale,
                       Value queries, Value accs, Value stats,
                       function_ref<Value(Value, int64_t)> keyAt,
                       function_ref<Value(Value, int64_t)> valueAt) {
  Value zero = loops.index(0), one = loops.index(1);
  Type f32 = b.getF32Type();
  auto vf32 = VectorType::get({width}, f32);
  auto constantVector = [&](VectorType type, double v) -> Value {
    return arith::ConstantOp::create(b, type,
                                     DenseElementsAttr::get(type, b.getF32FloatAttr(v)));
  };
  Value vzero = constantVector(vf32, 0.0);
  Value set; // the set of queries at hand
  auto at = [&](ValueRange trailing) {
    SmallVector<Value> indices{set};
    llvm::append_range(indices, trailing);
    return indices;
  };
  auto write = [&](Value vector, Value buffer, ValueRange indices) {
    vector::TransferWriteOp::create(b, vector, buffer, indices, ArrayRef<bool>{true});
  };
  Value keys = loops.scratch({kSharedRows, keyDim}, f32);
  Value values = valueAt ? loops.scratch({kSharedRows, valueDim}, f32) : keys;
  Value weights = loops.scratch({count, kSharedRows}, f32);
  Value corrections = loops.scratch({count}, f32);
  double negInf = -std::numeric_limits<double>::infinity();
  auto blockType = VectorType::get({kSharedRows}, f32);
  auto forEachSet = [&](function_ref<void()> body) {
    loops.forLoop(setBegin, setEnd, {}, [&](Value s, ValueRange) {
      set = s;
      body();
      return SmallVector<Value>{};
    });
  };
  forEachSet([&] {
    loops.forLoop(zero, loops.index(count), {}, [&](Value g, ValueRange) {
      writeRowVectors(b, SmallVector<Value>(valueDim / width, vzero), accs, at(g));
      memref::StoreOp::create(b, loops.f32(negInf), stats, at({g, zero}));
      memref::StoreOp::create(b, loops.f32(0.0), stats, at({g, one}));
      return SmallVector<Value>{};
    });
  });
  // The set's queries over the staged block's first `rows` rows.
  auto takeRows = [&](Value rows) {
    // Per query: the block's scores, its softmax update, its weights.
    loops.forLoop(zero, loops.index(count), {}, [&](Value g, ValueRange) {
      SmallVector<Value> scores;
      for (int64_t first = 0; first < kSharedRows; first += kScoreRows) {
        auto dots = loops.forLoop(
            zero, loops.index(keyDim), SmallVector<Value>(kScoreRows, vzero),
            [&](Value c, ValueRange chains) {
              Value qv = vector::TransferReadOp::create(
                  b, vf32, queries, at({g, c}), loops.f32(0.0), ArrayRef<bool>{true});
              SmallVector<Value> next;
              for (int64_t k = 0; k < kScoreRows; ++k) {
                Value key = vector::TransferReadOp::create(
                    b, vf32, keys, ValueRange{loops.index(first + k), c}, loops.f32(0.0),
                    ArrayRef<bool>{true});
                next.push_back(vector::FMAOp::create(b, qv, key, chains[k]));
              }
              return next;
            },
            width);
        for (Value dot : dots.getResults())
          scores.push_back(vector::ReductionOp::create(b, vector::CombiningKind::ADD, dot,
                                                       Value(), kDotMath));
      }
      Value scaled = arith::MulFOp::create(
          b, vector::FromElementsOp::create(b, blockType, scores),
          constantVector(blockType, scale));
      Value inBlock = arith::CmpIOp::create(
          b, arith::CmpIPredicate::ult, vector::StepOp::create(b, VectorType::get(
                                                                   {kSharedRows},
                                                                   b.getIndexType())),
          vector::BroadcastOp::create(
              b, VectorType::get({kSharedRows}, b.getIndexType()), rows));
      scaled = arith::SelectOp::create(b, inBlock, scaled, constantVector(blockType, negInf));
      Value oldMax = memref::LoadOp::create(b, stats, at({g, zero}));
      Value m = arith::MaximumFOp::create(
          b, oldMax,
          vector::ReductionOp::create(b, vector::CombiningKind::MAXIMUMF, scaled));
      Value correction = math::ExpOp::create(b, arith::SubFOp::create(b, oldMax, m));
      Value w = math::ExpOp::create(
          b, arith::SubFOp::create(b, scaled, vector::BroadcastOp::create(b, blockType, m)));
      Value total = arith::AddFOp::create(
          b,
          arith::MulFOp::create(b, memref::LoadOp::create(b, stats, at({g, one})),
                                correction),
          vector::ReductionOp::create(b, vector::CombiningKind::ADD, w));
      memref::StoreOp::create(b, m, stats, at({g, zero}));
      memref::StoreOp::create(b, total, stats, at({g, one}));
      write(w, weights, {g, zero});
      memref::StoreOp::create(b, correction, corrections, ValueRange{g});
      return SmallVector<Value>{};
    });
    // Every query's sums, a vector of the value row at a time.
    loops.forLoop(zero, loops.index(valueDim), {}, [&](Value c, ValueRange) {
      SmallVector<Value> sums;
      for (int64_t g = 0; g < count; ++g) {
        Value gi = loops.index(g);
        Value acc = vector::TransferReadOp::create(b, vf32, accs, at({gi, c}),
                                                   loops.f32(0.0), ArrayRef<bool>{true});
        sums.push_back(arith::MulFOp::create(
            b, acc,
            vector::BroadcastOp::create(
                b, vf32, memref::LoadOp::create(b, corrections, ValueRange{gi}))));
      }
      auto added = loops.forLoop(zero, rows, sums, [&](Value r, ValueRange running) {
        Value v = vector::TransferReadOp::create(b, vf32, values, ValueRange{r, c},
                                                 loops.f32(0.0), ArrayRef<bool>{true});
        SmallVector<Value> next;
        for (int64_t g = 0; g < count; ++g)
          next.push_back(vector::FMAOp::create(
              b,
              vector::BroadcastOp::create(
                  b, vf32, memref::LoadOp::create(b, weights, ValueRange{loops.index(g), r})),
              v, running[g]));
        return next;
      });
      for (int64_t g = 0; g < count; ++g)
        write(added.getResult(g), accs, at({loops.index(g), c}));
      return SmallVector<Value>{};
    }, width);
  };
  // The last set's positions reach furthest.
  Value end = endOf(arith::SubIOp::create(b, setEnd, one));
  loops.forLoop(zero, end, {}, [&](Value begin, ValueRange) {
    Value rows = arith::MinUIOp::create(b, loops.index(kSharedRows),
                                        arith::SubIOp::create(b, end, begin));
    // The block's rows as f32; rows past the end zero (never read from
    // the cache: they may lie past it).
    loops.forLoop(zero, loops.index(kSharedRows), {}, [&](Value r, ValueRange) {
      Value j = arith::AddIOp::create(b, begin, r);
      loops.ifElse(
          arith::CmpIOp::create(b, arith::CmpIPredicate::ult, r, rows),
          [&] {
            for (int64_t c = 0; c < keyDim; c += width)
              write(keyAt(j, c), keys, {r, loops.index(c)});
            if (valueAt)
              for (int64_t c = 0; c < valueDim; c += width)
                write(valueAt(j, c), values, {r, loops.index(c)});
          },
          [&] {
            for (int64_t c = 0; c < keyDim; c += width)
              write(vzero, keys, {r, loops.index(c)});
            if (valueAt)
              for (int64_t c = 0; c < valueDim; c += width)
                write(vzero, values, {r, loops.index(c)});
          });
      return SmallVector<Value>{};
    });
    // Each set whose positions reach into the block takes its rows.
    forEachSet([&] {
      Value endOfSet = endOf(set);
      loops.ifElse(
          arith::CmpIOp::create(b, arith::CmpIPredicate::ugt, endOfSet, begin),
          [&] {
            takeRows(arith::MinUIOp::create(b, loops.index(kSharedRows),
                                            arith::SubIOp::create(b, endOfSet, begin)));
          },
          [] {});
    });
    return SmallVector<Value>{};
  }, kSharedRows);
}

/// Positions the CPU prompt attention (blockedAttention) stages and
/// weighs at a time: its online softmax rescales the running sums once
/// per block.
constexpr int64_t kBlockedPositions = 32;
/// Positions whose scores blockedAttention keeps in registers together,
/// each a vector of its queries' (two AVX-512 registers, one AVX2).
constexpr int64_t kScoreTileRows = 8;
/// Queries whose weighted value sums blockedAttention keeps in registers
/// together, each a vector of half a panel of the value row.
constexpr int64_t kValueTileQueries = 8;
static_assert(kBlockedPositions % kScoreTileRows == 0, "whole score tiles per block");

/// Queries a workgroup of the CPU prompt attention takes: half a weight
/// panel (32 with AVX-512, 8 with AVX2), so that a position's scores for
/// all of them fill two registers (one).
int64_t blockedQueries(const Codegen &codegen) { return codegen.panel / 2; }

/// Whether blockedAttention takes value rows of `valueDim` floats: whole
/// vectors of half a panel.
bool blockedFits(const Codegen &codegen, int64_t valueDim) {
  return codegen.panel >= 2 && valueDim % blockedQueries(codegen) == 0;
}

/// Groups of blockedQueries queries a workgroup of the CPU prompt
/// attention takes over each staged block of positions: the block is
/// staged (and its keys and values read from the cache) once for all of
/// them, and read from L1 by each. Against one group a workgroup: 8.6-9.9
/// -> 8.0 ms a layer (DeepSeek-V3-shaped benchmark model, 1020 tokens),
/// 190 -> 173 ms (Qwen3-Next-shaped, 4000 tokens).
constexpr int64_t kQueryGroups = 4;

/// Splits of the cached positions that the CPU decode form (flashDecoding)
/// takes apart: the heads that read the same rows go together, so a
/// token's parallel work is along its positions. Up to this many, of at
/// least kBlockedPositions positions each (see decodeSplitOf).
constexpr int64_t kDecodeSplits = 16;

/// The split that workgroup `w` of kDecodeSplits takes when `active` of
/// them are: split s at workgroup floor(s kDecodeSplits / active), so
/// that the few splits of a short context spread over the executor's
/// contiguous ranges of workgroups (2 at workgroups 0 and 8, 3 at 0, 5
/// and 10) instead of falling to its first thread, and a thread's range
/// takes consecutive splits, whose rows follow each other in the cache
/// (BlockedSpan::prefetchRow runs on into the next). {split, whether w
/// takes one}.
std::pair<Value, Value> decodeSplitOf(ImplicitLocOpBuilder &b, LoopNest &loops, Value w,
                                      Value active) {
  Value all = loops.index(kDecodeSplits);
  Value split = arith::CeilDivUIOp::create(b, arith::MulIOp::create(b, w, active), all);
  Value at = arith::DivUIOp::create(b, arith::MulIOp::create(b, split, all), active);
  Value takes = arith::AndIOp::create(
      b, arith::CmpIOp::create(b, arith::CmpIPredicate::ult, split, active),
      arith::CmpIOp::create(b, arith::CmpIPredicate::eq, at, w));
  return {split, takes};
}

/// blockedAttention's buffers for a workgroup's `groups` groups of
/// `queries` queries: q^T [groups, keyDim, queries], a column per query
/// (scaled), and their ends [groups, queries] (i32: position + 1), which
/// the caller writes; the unnormalised sums [groups, queries, valueDim],
/// the softmax denominators [groups, queries] and the running maxima they
/// are relative to [groups, queries] it reads.
struct BlockedQueries {
  int64_t groups, queries;
  Value queriesT, ends, accs, totals, maxima;
  /// Query g of the workgroup's groups x queries: {its group, its lane}.
  SmallVector<Value> slot(ImplicitLocOpBuilder &b, Value g) const {
    Value width = arith::ConstantIndexOp::create(b, queries);
    return {arith::DivUIOp::create(b, g, width), arith::RemUIOp::create(b, g, width)};
  }
  BlockedQueries(LoopNest &loops, int64_t groups, int64_t queries, int64_t keyDim,
                 int64_t valueDim)
      : groups(groups), queries(queries) {
    Type f32 = loops.b.getF32Type();
    queriesT = loops.scratch({groups, keyDim, queries}, f32);
    ends = loops.scratch({groups, queries}, loops.b.getI32Type());
    accs = loops.scratch({groups, queries, valueDim}, f32);
    totals = loops.scratch({groups, queries}, f32);
    maxima = loops.scratch({groups, queries}, f32);
  }
};

/// What blockedAttention takes besides every position before its queries'
/// ends.
struct BlockedSpan {
  /// Positions [begin, end) only (a split of the cached rows, which the
  /// ends still mask); unset: from 0 to the furthest end.
  Value begin, end;
  /// The value row is the key row's first valueDim floats (MLA's latent
  /// row): stageRow writes the keys alone, and the values are read there.
  bool valuesInKeys = false;
  /// When set, prefetchRow(j) asks for position j's rows in L2, issued
  /// kPrefetchedPositions positions ahead of the row being staged, past
  /// the span's end too (the caller bounds j).
  function_ref<void(Value)> prefetchRow = {};
  /// A bf16 model (its cache bf16) on a CPU with AVX512-BF16's dot product
  /// (Codegen::bf16Dot): the scores S^T = K Q^T take two key elements at a
  /// time by it and P V two positions, the staged keys and values
  /// converted to bf16 (exactly where they are the cache's rows; MLA's
  /// expanded ones rounded, as transformers' bf16 kv_b_proj gives them),
  /// the queries and the softmax's weights rounded to bf16, as
  /// transformers' bf16 forward rounds q and the probabilities.
  bool bf16Dot = false;
};

/// How far ahead of the staging of the decode form's rows blockedAttention
/// prefetches them (BlockedSpan::prefetchRow): a split streams its rows
/// from memory, and staging a block waited on each row's lines. Two
/// blocks: a copy of 32-row blocks of a KV head's rows from the cache's
/// layout ([position, KV head, head_dim], 2 KV heads of 256 f32, 2
/// threads) read 13.8 GB/s without, 18.7 one block ahead, 22.5 two
/// blocks ahead into L2 (prefetcht1), 14.6 into L1 (prefetcht0).
constexpr int64_t kPrefetchedPositions = 2 * kBlockedPositions;

/// Prefetches into L2 the `count` elements of `buffer` from `at`, whose
/// last index walks them (a row of a cache): one prefetch per cache line.
void prefetchRow(ImplicitLocOpBuilder &b, Value buffer, SmallVector<Value> at,
                 int64_t count) {
  constexpr int64_t kLineBytes = 64;
  auto type = cast<MemRefType>(buffer.getType());
  int64_t perLine = kLineBytes * 8 / type.getElementTypeBitWidth();
  Value first = at.back();
  for (int64_t c = 0; c < count; c += perLine) {
    at.back() = arith::AddIOp::create(b, first, arith::ConstantIndexOp::create(b, c));
    memref::PrefetchOp::create(b, buffer, at, /*isWrite=*/false, /*localityHint=*/2,
                               /*isDataCache=*/true);
  }
}

/// The CPU attention of a prompt: the query rows of one sequence in `io`
/// (groups of `queries`) over its cached positions, as flash attention
/// takes blocks of them. Per block of kBlockedPositions positions: the keys
/// and values staged as f32 (stageRow(j, r, keys, values) writes position
/// j's rows into row r of keys [B, keyDim] and values [B, valueDim]); then
/// each group that reaches into the block takes it: the scores S^T = K
/// Q^T, each position's scores for the group's queries one vector,
/// kScoreTileRows positions at a time, so that no score sums across a
/// vector's lanes; the online softmax lane by lane, query g over the
/// positions before its end; O += P V, kValueTileQueries queries x half a
/// panel of the value row at a time. Every multiply-add of both products
/// takes one loaded or broadcast operand for several accumulators: the
/// per-query forms (sharedRowsSoftmax, stagedRowsSoftmax) loaded a key
/// vector per FMA and summed each score across a vector.
void blockedAttention(ImplicitLocOpBuilder &b, LoopNest &loops, int64_t keyDim,
                      int64_t valueDim, const BlockedQueries &io,
                      function_ref<void(Value, Value, Value, Value)> stageRow,
                      const BlockedSpan &span = {}) {
  constexpr int64_t B = kBlockedPositions, R = kScoreTileRows;
  int64_t queries = io.queries;
  int64_t valueWidth = queries, tileQueries = std::min(kValueTileQueries, queries);
  assert(valueDim % valueWidth == 0 && queries % tileQueries == 0);
  Type f32 = b.getF32Type(), i32 = b.getI32Type();
  Value zero = loops.index(0);
  auto rowType = VectorType::get({queries}, f32);
  auto valueType = VectorType::get({valueWidth}, f32);
  auto endType = VectorType::get({queries}, i32);
  auto splat = [&](VectorType type, double v) -> Value {
    return arith::ConstantOp::create(b, type,
                                     DenseElementsAttr::get(type, b.getF32FloatAttr(v)));
  };
  auto read = [&](VectorType type, Value buffer, ValueRange at) -> Value {
    return vector::TransferReadOp::create(b, type, buffer, at, loops.f32(0.0),
                                          ArrayRef<bool>{true});
  };
  auto write = [&](Value vector, Value buffer, ValueRange at) {
    vector::TransferWriteOp::create(b, vector, buffer, at, ArrayRef<bool>{true});
  };
  auto broadcast = [&](VectorType type, Value buffer, ValueRange at) -> Value {
    return vector::BroadcastOp::create(b, type, memref::LoadOp::create(b, buffer, at));
  };
  auto add = [&](Value l, Value r) -> Value { return arith::AddIOp::create(b, l, r); };
  double negInf = -std::numeric_limits<double>::infinity();
  Value keys = loops.scratch({B, keyDim}, f32);
  Value values = span.valuesInKeys ? keys : loops.scratch({B, valueDim}, f32);
  // bf16 scores: q^T in pairs of key elements [groups, keyDim / 2, 2
  // queries] and the block's keys in bf16 [B, keyDim].
  bool pairScores = span.bf16Dot && keyDim % 2 == 0 && queries % 16 == 0;
  Type bf16 = b.getBF16Type();
  Value queryPairs = pairScores ? loops.scratch({io.groups, keyDim / 2, 2 * queries}, bf16)
                                : Value();
  Value keyPairs = pairScores ? loops.scratch({B, keyDim}, bf16) : Value();
  // bf16 P V likewise, two positions at a time: the block's values in pairs
  // of positions [B / 2, 2 valueDim] (element [i, 2c + s]: position 2i + s,
  // column c; exact, the cache is bf16) and the softmax's weights rounded
  // to bf16 in pairs of positions [B / 2, 2 queries], as transformers'
  // bf16 forward rounds the probabilities before multiplying them by V.
  bool pairValues = pairScores && !span.valuesInKeys;
  Value valuePairs = pairValues ? loops.scratch({B / 2, 2 * valueDim}, bf16) : Value();
  Value weightPairs = pairValues ? loops.scratch({B / 2, 2 * queries}, bf16) : Value();
  // Two vectors' lanes alternating: lane k of the first at 2k, of the
  // second at 2k + 1.
  auto interleaved = [&](Value first, Value second) -> Value {
    int64_t n = cast<VectorType>(first.getType()).getNumElements();
    SmallVector<int64_t> lanes;
    for (int64_t k = 0; k < n; ++k)
      lanes.append({k, n + k});
    return vector::ShuffleOp::create(b, first, second, lanes);
  };
  Value bf16Zero =
      pairScores ? arith::ConstantOp::create(b, bf16, b.getFloatAttr(bf16, 0.0)) : Value();
  Value weights = loops.scratch({B, queries}, f32); // scores, then weights
  Value corrections = loops.scratch({queries}, f32);
  Value maxima = io.maxima;
  // Group g's ends, and the furthest of them.
  auto endsOf = [&](Value g) -> Value {
    return vector::TransferReadOp::create(
        b, endType, io.ends, ValueRange{g, zero},
        arith::ConstantOp::create(b, i32, b.getI32IntegerAttr(0)), ArrayRef<bool>{true});
  };
  auto furthest = [&](Value ends) -> Value {
    return arith::IndexCastUIOp::create(
        b, b.getIndexType(),
        vector::ReductionOp::create(b, vector::CombiningKind::MAXUI, ends));
  };
  auto forEachGroup = [&](function_ref<void(Value)> body) {
    loops.forLoop(zero, loops.index(io.groups), {}, [&](Value g, ValueRange) {
      body(g);
      return SmallVector<Value>{};
    });
  };
  forEachGroup([&](Value g) {
    loops.forLoop(zero, loops.index(queries), {}, [&](Value q, ValueRange) {
      for (int64_t c = 0; c < valueDim; c += valueWidth)
        write(splat(valueType, 0.0), io.accs, {g, q, loops.index(c)});
      return SmallVector<Value>{};
    });
    write(splat(rowType, negInf), maxima, {g, zero});
    write(splat(rowType, 0.0), io.totals, {g, zero});
    if (!pairScores)
      return;
    // Columns 2i and 2i + 1 of q^T rounded and interleaved: query q's pair
    // at lanes 2q, 2q + 1.
    auto bf16Row = VectorType::get({queries}, bf16);
    loops.forLoop(zero, loops.index(keyDim / 2), {}, [&](Value i, ValueRange) {
      Value c = arith::MulIOp::create(b, i, loops.index(2));
      Value even = arith::TruncFOp::create(b, bf16Row, read(rowType, io.queriesT, {g, c, zero}));
      Value odd = arith::TruncFOp::create(
          b, bf16Row, read(rowType, io.queriesT, {g, add(c, loops.index(1)), zero}));
      vector::TransferWriteOp::create(b, interleaved(even, odd), queryPairs,
                                      ValueRange{g, i, zero}, ArrayRef<bool>{true});
      return SmallVector<Value>{};
    });
  });
  Value end = span.end;
  if (!end)
    end = loops.forLoop(zero, loops.index(io.groups), {zero}, [&](Value g, ValueRange e) {
      return SmallVector<Value>{arith::MaxUIOp::create(b, e[0], furthest(endsOf(g)))};
    }).getResult(0);
  loops.forLoop(span.begin ? span.begin : zero, end, {}, [&](Value begin, ValueRange) {
    Value rows = arith::MinUIOp::create(b, loops.index(B),
                                        arith::SubIOp::create(b, end, begin));
    // Rows past the end up to the end of the last score tile zero: the
    // tile reads them (no other loop reads past the rows).
    Value tiled = arith::MulIOp::create(
        b, arith::CeilDivUIOp::create(b, rows, loops.index(R)), loops.index(R));
    loops.forLoop(zero, tiled, {}, [&](Value r, ValueRange) {
      loops.ifElse(
          arith::CmpIOp::create(b, arith::CmpIPredicate::ult, r, rows),
          [&] { stageRow(add(begin, r), r, keys, values); },
          [&] {
            for (int64_t c = 0; c < keyDim; ++c)
              memref::StoreOp::create(b, loops.f32(0.0), keys, ValueRange{r, loops.index(c)});
            if (!span.valuesInKeys)
              for (int64_t c = 0; c < valueDim; c += valueWidth)
                write(splat(valueType, 0.0), values, {r, loops.index(c)});
          });
      if (span.prefetchRow)
        span.prefetchRow(add(add(begin, r), loops.index(kPrefetchedPositions)));
      if (pairScores) {
        // The staged row back in bf16, 16 elements a conversion.
        constexpr int64_t lanes = 16;
        auto f32s = VectorType::get({lanes}, f32);
        for (int64_t c = 0; c < keyDim; c += lanes) {
          bool whole = c + lanes <= keyDim;
          Value v = vector::TransferReadOp::create(b, f32s, keys, ValueRange{r, loops.index(c)},
                                                   loops.f32(0.0), ArrayRef<bool>{whole});
          vector::TransferWriteOp::create(
              b, arith::TruncFOp::create(b, VectorType::get({lanes}, bf16), v), keyPairs,
              ValueRange{r, loops.index(c)}, ArrayRef<bool>{whole});
        }
      }
      return SmallVector<Value>{};
    });
    if (pairValues) {
      // The staged rows (those up to the last score tile, zero past the
      // block's) in pairs of positions, 16 columns a conversion.
      constexpr int64_t lanes = 16;
      auto f32s = VectorType::get({lanes}, f32);
      auto bf16s = VectorType::get({lanes}, bf16);
      loops.forLoop(zero, arith::DivUIOp::create(b, tiled, loops.index(2)), {},
                    [&](Value i, ValueRange) {
        Value even = arith::MulIOp::create(b, i, loops.index(2));
        Value odd = add(even, loops.index(1));
        for (int64_t c = 0; c < valueDim; c += lanes) {
          Value first = arith::TruncFOp::create(b, bf16s, read(f32s, values, {even, loops.index(c)}));
          Value second = arith::TruncFOp::create(b, bf16s, read(f32s, values, {odd, loops.index(c)}));
          vector::TransferWriteOp::create(b, interleaved(first, second), valuePairs,
                                          ValueRange{i, loops.index(2 * c)},
                                          ArrayRef<bool>{true});
        }
        return SmallVector<Value>{};
      });
    }
    forEachGroup([&](Value g) {
      Value ends = endsOf(g);
      Value groupEnd = furthest(ends);
      loops.ifElse(arith::CmpIOp::create(b, arith::CmpIPredicate::ult, begin, groupEnd), [&] {
        // The block's rows before the group's furthest end.
        Value taken = arith::MinUIOp::create(b, rows, arith::SubIOp::create(b, groupEnd, begin));
        // S^T: R positions' score vectors at a time.
        loops.forLoop(zero, taken, {}, [&](Value r0, ValueRange) {
          auto sums = loops.forLoop(
              zero, loops.index(pairScores ? keyDim / 2 : keyDim),
              SmallVector<Value>(R, splat(rowType, 0.0)),
              [&](Value c, ValueRange running) {
                SmallVector<Value> next;
                if (pairScores) {
                  // c: a pair of key elements.
                  Value q = vector::TransferReadOp::create(
                      b, VectorType::get({2 * queries}, bf16), queryPairs,
                      ValueRange{g, c, zero}, bf16Zero, ArrayRef<bool>{true});
                  for (int64_t k = 0; k < R; ++k)
                    next.push_back(dotPairs(
                        b, b.getLoc(), pairSplat(b, b.getLoc(), keyPairs,
                                                 {add(r0, loops.index(k))}, c),
                        q, running[k]));
                  return next;
                }
                Value q = read(rowType, io.queriesT, {g, c, zero});
                for (int64_t k = 0; k < R; ++k)
                  next.push_back(vector::FMAOp::create(
                      b, broadcast(rowType, keys, {add(r0, loops.index(k)), c}), q,
                      running[k]));
                return next;
              });
          for (int64_t k = 0; k < R; ++k)
            write(sums.getResult(k), weights, {add(r0, loops.index(k)), zero});
          return SmallVector<Value>{};
        }, R);
        // The softmax, a lane per query: positions at or past a query's
        // end weigh nothing.
        Value blockMax = loops.forLoop(zero, taken, {splat(rowType, negInf)},
                                       [&](Value r, ValueRange m) {
          Value position = arith::IndexCastUIOp::create(b, i32, add(begin, r));
          Value inside = arith::CmpIOp::create(b, arith::CmpIPredicate::ugt, ends,
                                               vector::BroadcastOp::create(b, endType, position));
          Value s = arith::SelectOp::create(b, inside, read(rowType, weights, {r, zero}),
                                            splat(rowType, negInf));
          write(s, weights, {r, zero});
          return SmallVector<Value>{arith::MaximumFOp::create(b, m[0], s)};
        }).getResult(0);
        Value oldMax = read(rowType, maxima, {g, zero});
        Value max = arith::MaximumFOp::create(b, oldMax, blockMax);
        Value correction = math::ExpOp::create(b, arith::SubFOp::create(b, oldMax, max));
        write(correction, corrections, {zero});
        write(max, maxima, {g, zero});
        Value blockSum = loops.forLoop(zero, taken, {splat(rowType, 0.0)},
                                       [&](Value r, ValueRange sum) {
          Value w = math::ExpOp::create(
              b, arith::SubFOp::create(b, read(rowType, weights, {r, zero}), max));
          write(w, weights, {r, zero});
          return SmallVector<Value>{arith::AddFOp::create(b, sum[0], w)};
        }).getResult(0);
        write(arith::AddFOp::create(
                  b, arith::MulFOp::create(b, read(rowType, io.totals, {g, zero}), correction),
                  blockSum),
              io.totals, {g, zero});
        // The weights in pairs of positions; an odd count's last pair with
        // a weight of zero (its value row is staged: finite).
        Value pairsTaken =
            pairValues ? arith::CeilDivUIOp::create(b, taken, loops.index(2)) : Value();
        if (pairValues)
          loops.forLoop(zero, pairsTaken, {}, [&](Value i, ValueRange) {
            Value even = arith::MulIOp::create(b, i, loops.index(2));
            Value odd = add(even, loops.index(1));
            Value second = arith::SelectOp::create(
                b, arith::CmpIOp::create(b, arith::CmpIPredicate::ult, odd, taken),
                read(rowType, weights, {odd, zero}), splat(rowType, 0.0));
            auto bf16Row = VectorType::get({queries}, bf16);
            write(interleaved(arith::TruncFOp::create(b, bf16Row, read(rowType, weights, {even, zero})),
                              arith::TruncFOp::create(b, bf16Row, second)),
                  weightPairs, {i, zero});
            return SmallVector<Value>{};
          });
        // O = O correction + P V, tileQueries queries x a value vector at
        // a time.
        loops.forLoop(zero, loops.index(queries), {}, [&](Value q0, ValueRange) {
          loops.forLoop(zero, loops.index(valueDim), {}, [&](Value c, ValueRange) {
            auto queryOf = [&](int64_t k) { return add(q0, loops.index(k)); };
            SmallVector<Value> init;
            for (int64_t k = 0; k < tileQueries; ++k)
              init.push_back(arith::MulFOp::create(
                  b, read(valueType, io.accs, {g, queryOf(k), c}),
                  broadcast(valueType, corrections, {queryOf(k)})));
            if (pairValues) {
              // Two positions a step: query k's pair of weights in every
              // lane, the value columns' pairs.
              auto pairSums = loops.forLoop(zero, pairsTaken, init, [&](Value i, ValueRange running) {
                Value v = vector::TransferReadOp::create(
                    b, VectorType::get({2 * valueWidth}, bf16), valuePairs,
                    ValueRange{i, arith::MulIOp::create(b, c, loops.index(2))}, bf16Zero,
                    ArrayRef<bool>{true});
                SmallVector<Value> next;
                for (int64_t k = 0; k < tileQueries; ++k)
                  next.push_back(dotPairs(b, b.getLoc(),
                                          pairSplat(b, b.getLoc(), weightPairs, {i}, queryOf(k)),
                                          v, running[k]));
                return next;
              });
              for (int64_t k = 0; k < tileQueries; ++k)
                write(pairSums.getResult(k), io.accs, {g, queryOf(k), c});
              return SmallVector<Value>{};
            }
            auto sums = loops.forLoop(zero, taken, init, [&](Value r, ValueRange running) {
              Value v = read(valueType, values, {r, c});
              SmallVector<Value> next;
              for (int64_t k = 0; k < tileQueries; ++k)
                next.push_back(vector::FMAOp::create(
                    b, broadcast(valueType, weights, {r, queryOf(k)}), v, running[k]));
              return next;
            });
            for (int64_t k = 0; k < tileQueries; ++k)
              write(sums.getResult(k), io.accs, {g, queryOf(k), c});
            return SmallVector<Value>{};
          }, valueWidth);
          return SmallVector<Value>{};
        }, tileQueries);
      }, [] {});
    });
    return SmallVector<Value>{};
  }, B);
}

/// The CPU decode form of attention (flash decoding) for `count` tokens,
/// each its sequence's only one (a decode step or a batch of them):
/// heads that read the same rows (`sharing` consecutive heads: a GQA
/// group, or all of MLA's over its latent rows) go together as the lanes
/// of blockedAttention's queries, so that each row is staged once for
/// them (a workgroup per head read every row once per head), and each
/// token's cached positions are split among workgroups, up to
/// kDecodeSplits of them, into partial sums that a workgroup per (token,
/// head) combines. Three kernels: attention_query, query(t, h, store)
/// calling store(column, value) for each of token t's head h's key
/// columns (scaled as the scores want them); attention_split,
/// stageRow(t, h, j, r, keys, values) staging position j's rows for head
/// h (the workgroup's first) into row r of keys and values (values being
/// keys with `valuesInKeys`), prefetchRow(t, h, j) asking for them ahead
/// (BlockedSpan::prefetchRow); attention_combine, finish(t, h, acc, total)
/// with the head's unnormalised value sums (an f32 buffer of valueDim)
/// and their softmax denominator.
struct FlashDecoding {
  int64_t heads, sharing, keyDim, valueDim;
  bool valuesInKeys = false;
  /// Heads a workgroup's query groups take as lanes: the largest power
  /// of two up to half a panel dividing `sharing`.
  int64_t lanes(const Codegen &codegen) const {
    return headsDividing(sharing, blockedQueries(codegen));
  }
  /// Whether the form runs these shapes: lanes of two or more heads, and
  /// value rows of whole vectors of them.
  bool fits(const Codegen &codegen) const {
    int64_t n = lanes(codegen);
    return n > 1 && valueDim % n == 0;
  }
};

void flashDecoding(
    ImplicitLocOpBuilder &b, LoopNest &loops, const Codegen &codegen,
    const FlashDecoding &form, Value count, function_ref<Value(Value)> positionOf,
    function_ref<void(Value, Value, function_ref<void(Value, Value)>)> query,
    function_ref<void(Value, Value, Value, Value, Value, Value)> stageRow,
    function_ref<void(Value, Value, Value)> prefetchRow,
    function_ref<void(Value, Value, Value, Value)> finish) {
  assert(form.fits(codegen));
  Type f32 = b.getF32Type();
  auto index = [&](int64_t v) { return loops.index(v); };
  auto add = [&](Value l, Value r) -> Value { return arith::AddIOp::create(b, l, r); };
  auto forEach = [&](Value ub, function_ref<void(Value)> body, int64_t step = 1) {
    loops.forLoop(index(0), ub, {}, [&](Value i, ValueRange) {
      body(i);
      return SmallVector<Value>{};
    }, step);
  };
  Value zero = index(0), one = index(1);
  int64_t lanes = form.lanes(codegen);
  int64_t groups = headsDividing(form.sharing / lanes, kQueryGroups);
  int64_t workgroupHeads = lanes * groups;
  int64_t keyDim = form.keyDim, valueDim = form.valueDim;
  // Value rows in vectors of the widest power of two up to a panel
  // dividing them (at least `lanes`, which divides them).
  int64_t width = std::max<int64_t>(codegen.panel, lanes);
  while (valueDim % width)
    width /= 2;
  auto vt = VectorType::get({width}, f32);
  auto read = [&](Value buffer, ValueRange at) -> Value {
    return readF32Vector(b, buffer, at, width);
  };
  auto write = [&](Value v, Value buffer, ValueRange at) {
    vector::TransferWriteOp::create(b, v, buffer, at, ArrayRef<bool>{true});
  };

  // q^T [token, head / lanes, keyDim, head % lanes]: a column per head.
  Value queriesT = memref::AllocOp::create(
      b, MemRefType::get({ShapedType::kDynamic, form.heads / lanes, keyDim, lanes}, f32),
      ValueRange{count});
  loops.parallel("attention_query", {count, index(form.heads)}, [&](ValueRange ivs) {
    Value t = ivs[0], h = ivs[1];
    SmallVector<Value> at{t, arith::DivUIOp::create(b, h, index(lanes)), Value(),
                          arith::RemUIOp::create(b, h, index(lanes))};
    query(t, h, [&](Value column, Value v) {
      at[2] = column;
      memref::StoreOp::create(b, v, queriesT, at);
    });
  });

  // Token t's splits: `active` of them, up to kDecodeSplits, of whole
  // blocks of kBlockedPositions positions, split s over positions
  // [s size, (s + 1) size) before `end`.
  struct Splits {
    Value end, active, size;
  };
  auto splitsOf = [&](Value t) {
    Splits splits;
    splits.end = add(positionOf(t), one);
    // Whole blocks per split (a split's ragged last block stages and
    // computes a whole score tile), as evenly as they go.
    Value blocks = arith::CeilDivUIOp::create(b, splits.end, index(kBlockedPositions));
    Value perSplit = arith::CeilDivUIOp::create(
        b, blocks, arith::MinUIOp::create(b, index(kDecodeSplits), blocks));
    splits.size = arith::MulIOp::create(b, perSplit, index(kBlockedPositions));
    splits.active = arith::CeilDivUIOp::create(b, splits.end, splits.size);
    return splits;
  };
  // Each split's sums per (token, head), unnormalised, and their maxima
  // and denominators.
  auto partialType = [&](int64_t last) {
    return MemRefType::get({ShapedType::kDynamic, kDecodeSplits, form.heads, last}, f32);
  };
  Value partialAccs = memref::AllocOp::create(b, partialType(valueDim), ValueRange{count});
  Value partialStats = memref::AllocOp::create(b, partialType(2), ValueRange{count});
  loops.parallel("attention_split",
                 {count, index(form.heads / workgroupHeads), index(kDecodeSplits)},
                 [&](ValueRange ivs) {
    Value t = ivs[0];
    Value firstGroup = arith::MulIOp::create(b, ivs[1], index(groups));
    Value firstHead = arith::MulIOp::create(b, firstGroup, index(lanes));
    Splits splits = splitsOf(t);
    auto [s, takes] = decodeSplitOf(b, loops, ivs[2], splits.active);
    loops.ifElse(takes, [&] {
      Value begin = arith::MulIOp::create(b, s, splits.size);
      Value end = arith::MinUIOp::create(b, splits.end, add(begin, splits.size));
      BlockedQueries io(loops, groups, lanes, keyDim, valueDim);
      auto laneType = VectorType::get({lanes}, f32);
      Value ends = vector::BroadcastOp::create(
          b, VectorType::get({lanes}, b.getI32Type()),
          arith::IndexCastUIOp::create(b, b.getI32Type(), splits.end));
      forEach(index(groups), [&](Value g) {
        vector::TransferWriteOp::create(b, ends, io.ends, ValueRange{g, zero},
                                        ArrayRef<bool>{true});
        forEach(index(keyDim), [&](Value c) {
          Value column = vector::TransferReadOp::create(
              b, laneType, queriesT, ValueRange{t, add(firstGroup, g), c, zero},
              loops.f32(0.0), ArrayRef<bool>{true});
          vector::TransferWriteOp::create(b, column, io.queriesT, ValueRange{g, c, zero},
                                          ArrayRef<bool>{true});
        });
      });
      blockedAttention(
          b, loops, keyDim, valueDim, io,
          [&](Value j, Value r, Value keys, Value values) {
            stageRow(t, firstHead, j, r, keys, values);
          },
          BlockedSpan{begin, end, form.valuesInKeys, [&](Value j) {
                         // Into the next split too: the thread's next
                         // workgroup's, most often (decodeSplitOf).
                         loops.ifElse(arith::CmpIOp::create(b, arith::CmpIPredicate::ult, j,
                                                            splits.end),
                                      [&] { prefetchRow(t, firstHead, j); }, [] {});
                       }});
      forEach(index(workgroupHeads), [&](Value g) {
        SmallVector<Value> slot = io.slot(b, g);
        Value h = add(firstHead, g);
        forEach(index(valueDim), [&](Value c) {
          write(read(io.accs, {slot[0], slot[1], c}), partialAccs, {t, s, h, c});
        }, width);
        memref::StoreOp::create(b, memref::LoadOp::create(b, io.maxima, slot), partialStats,
                                ValueRange{t, s, h, zero});
        memref::StoreOp::create(b, memref::LoadOp::create(b, io.totals, slot), partialStats,
                                ValueRange{t, s, h, one});
      });
    }, [] {});
  });

  // The splits' sums rescaled to their common maximum.
  loops.parallel("attention_combine", {count, index(form.heads)}, [&](ValueRange ivs) {
    Value t = ivs[0], h = ivs[1];
    Value active = splitsOf(t).active;
    auto stat = [&](Value s, Value which) {
      return memref::LoadOp::create(b, partialStats, ValueRange{t, s, h, which});
    };
    Value max = loops.forLoop(zero, active, {loops.f32(-std::numeric_limits<double>::infinity())},
                              [&](Value s, ValueRange m) {
      return SmallVector<Value>{arith::MaximumFOp::create(b, m[0], stat(s, zero))};
    }).getResult(0);
    Value acc = loops.scratch(valueDim, f32);
    Value vzero = arith::ConstantOp::create(
        b, vt, DenseElementsAttr::get(vt, b.getF32FloatAttr(0.0)));
    forEach(index(valueDim), [&](Value c) { write(vzero, acc, {c}); }, width);
    Value total = loops.forLoop(zero, active, {loops.f32(0.0)}, [&](Value s, ValueRange sum) {
      Value weight = math::ExpOp::create(b, arith::SubFOp::create(b, stat(s, zero), max));
      Value weights = vector::BroadcastOp::create(b, vt, weight);
      forEach(index(valueDim), [&](Value c) {
        write(vector::FMAOp::create(b, read(partialAccs, {t, s, h, c}), weights, read(acc, {c})),
              acc, {c});
      }, width);
      return SmallVector<Value>{arith::AddFOp::create(
          b, sum[0], arith::MulFOp::create(b, stat(s, one), weight))};
    }).getResult(0);
    finish(t, h, acc, total);
  });
}

/// The vector width of stagedRowsSoftmax: `width` (a power of two that
/// divides the rows), halved down to one register's floats (a quarter of
/// the target's weight panel), so that a group's sums fit in registers.
int64_t stagedRowsWidth(const Codegen &codegen, int64_t width) {
  while (width > kMinRopeVector && width > codegen.panel / 4)
    width /= 2;
  return width;
}

/// Workgroup `w`'s token (or block of tokens) of `count`, in the order
/// 0, count - 1, 1, count - 2, ...: the executor gives each CPU thread a
/// contiguous range of workgroups, and a prompt's later tokens attend over
/// more positions; in this order every range holds as many late tokens as
/// early ones. In token order the second of two threads had three quarters
/// of a long prompt's attention.
Value balancedToken(ImplicitLocOpBuilder &b, LoopNest &loops, Value w, Value count) {
  Value half = arith::DivUIOp::create(b, w, loops.index(2));
  Value odd = arith::CmpIOp::create(b, arith::CmpIPredicate::ne,
                                    arith::RemUIOp::create(b, w, loops.index(2)),
                                    loops.index(0));
  Value fromEnd = arith::SubIOp::create(
      b, arith::SubIOp::create(b, count, loops.index(1)), half);
  return arith::SelectOp::create(b, odd, fromEnd, half);
}

/// A group workgroup's `count` tokens from `first`, `perToken` queries
/// each (query s * perToken + i is token s's), over the cached rows:
/// tokens of one sequence (a prompt) share each block of its rows,
/// attend(0, count * perToken, first); several sequences' tokens (batched
/// decode) read their own, attend(s * perToken, (s + 1) * perToken,
/// first + s) for each token s. attend(begin, end, reader) runs queries
/// [begin, end) over the rows of token `reader`'s sequence.
void attendTokens(ImplicitLocOpBuilder &b, LoopNest &loops, Value tokens, Value slots,
                  Value first, Value count, int64_t perToken,
                  function_ref<void(Value, Value, Value)> attend) {
  Value width = loops.index(perToken);
  loops.ifElse(
      loops.severalOfOneSequence(tokens, slots),
      [&] { attend(loops.index(0), arith::MulIOp::create(b, count, width), first); },
      [&] {
        loops.forLoop(loops.index(0), count, {}, [&](Value s, ValueRange) {
          Value begin = arith::MulIOp::create(b, s, width);
          attend(begin, arith::AddIOp::create(b, begin, width),
                 arith::AddIOp::create(b, first, s));
          return SmallVector<Value>{};
        });
      });
}

/// The prompt kernel of the CPU attention forms: a workgroup per (block
/// of `tokens` tokens, group of `heads` heads) runs `body` (blockedAttention
/// for their tokens x heads queries) for calls of several tokens of one
/// sequence, which the other kernels then leave to it.
struct PromptKernel {
  int64_t tokens, heads;
  function_ref<void(ValueRange)> body;
  /// When set, the calls it takes (some of those of several tokens of one
  /// sequence; the group kernel takes the others).
  Value calls = {};
};

/// The CPU attention kernels of `heads` heads: the prompt kernel, if
/// any, for its calls; with `decodeKernels`, that emits the kernels of a
/// decode step or a batch of them (eachAloneInSequence) given their token
/// count (0 for the other calls), those calls; a workgroup per (block of
/// `tokensTogether` tokens, group of `together` heads, a divisor) runs
/// groupBody for the other calls of several tokens (prompts without a
/// prompt kernel; several sequences' decode steps without decode kernels);
/// a workgroup per (token, head) runs headBody for a single token, whose
/// heads are its only parallel work; with `together` = 1, headBody for
/// every call no other kernel takes (no per-head kernel when the others
/// take every call). Blocks and tokens go to the
/// workgroups in balancedToken's order.
void attentionKernels(ImplicitLocOpBuilder &b, LoopNest &loops, Value tokens,
                      Value slots, int64_t heads, int64_t together,
                      int64_t tokensTogether, function_ref<void(ValueRange)> groupBody,
                      function_ref<void(ValueRange)> headBody,
                      std::optional<PromptKernel> prompt = std::nullopt,
                      function_ref<void(Value)> decodeKernels = {}) {
  Value zero = loops.index(0);
  Value none = arith::ConstantIntOp::create(b, b.getI1Type(), 0);
  auto workgroups = [&](Value calls, Value count) -> Value {
    return arith::SelectOp::create(b, calls, count, zero);
  };
  // The calls the prompt kernel takes from the others.
  Value byPrompt = !prompt        ? none
                   : prompt->calls ? prompt->calls
                                   : loops.severalOfOneSequence(tokens, slots);
  if (prompt) {
    Value blocks = arith::CeilDivUIOp::create(b, tokens, loops.index(prompt->tokens));
    loops.parallel("attention_prompt",
                   {workgroups(byPrompt, blocks), loops.index(heads / prompt->heads)},
                   [&](ValueRange ivs) {
                     prompt->body({balancedToken(b, loops, ivs[0], blocks), ivs[1]});
                   });
  }
  Value byDecode = decodeKernels ? loops.eachAloneInSequence(tokens, slots) : none;
  // A prompt kernel that takes every call of several tokens of one
  // sequence leaves only batches of decode steps, with batch slots, which
  // decode kernels take.
  Value byGroup = none;
  bool groupKernel = together > 1 && (!prompt || prompt->calls || (slots && !decodeKernels));
  if (groupKernel) {
    byGroup = arith::AndIOp::create(
        b, arith::CmpIOp::create(b, arith::CmpIPredicate::ugt, tokens, loops.index(1)),
        arith::CmpIOp::create(b, arith::CmpIPredicate::eq,
                              arith::OrIOp::create(b, byPrompt, byDecode), none));
    Value blocks = arith::CeilDivUIOp::create(b, tokens, loops.index(tokensTogether));
    loops.parallel("attention_head_groups",
                   {workgroups(byGroup, blocks), loops.index(heads / together)},
                   [&](ValueRange ivs) {
                     groupBody({balancedToken(b, loops, ivs[0], blocks), ivs[1]});
                   });
  }
  if (decodeKernels)
    decodeKernels(workgroups(byDecode, tokens));
  // With decode kernels the calls of several tokens are left to the group
  // kernel or the prompt kernel, when it takes every prompt: none to the
  // per-head kernel.
  if (decodeKernels && (groupKernel || (prompt && !prompt->calls)))
    return;
  Value alone = arith::CmpIOp::create(
      b, arith::CmpIPredicate::eq,
      arith::OrIOp::create(b, arith::OrIOp::create(b, byPrompt, byGroup), byDecode), none);
  loops.parallel("attention", {workgroups(alone, tokens), loops.index(heads)},
                 [&](ValueRange ivs) {
    headBody({balancedToken(b, loops, ivs[0], tokens), ivs[1]});
  });
}

/// RoPE inverse frequencies of a rotary slice of `dim` elements, YaRN-scaled
/// when `yarn` is set (models.md 0.2, 3.6), and the cos/sin multiplier.
std::pair<SmallVector<float>, float> ropeFrequencies(int64_t dim, double theta,
                                                     YarnAttr yarn) {
  SmallVector<float> inv;
  for (int64_t j = 0; j < dim / 2; ++j)
    inv.push_back(static_cast<float>(std::pow(theta, -2.0 * j / dim)));
  if (!yarn)
    return {inv, 1.0f};
  double factor = yarn.getFactor().convertToDouble();
  double original = static_cast<double>(yarn.getOriginal());
  auto correction = [&](double rotations) {
    return dim * std::log(original / (rotations * 2 * M_PI)) /
           (2 * std::log(theta));
  };
  double low = correction(yarn.getBetaFast().convertToDouble());
  double high = correction(yarn.getBetaSlow().convertToDouble());
  if (yarn.getTruncate()) {
    low = std::floor(low);
    high = std::ceil(high);
  }
  low = std::max(low, 0.0);
  high = std::min(high, static_cast<double>(dim - 1));
  if (low == high)
    high += 0.001; // as transformers: avoid a division by zero
  for (int64_t j = 0; j < dim / 2; ++j) {
    double ramp = std::clamp((j - low) / (high - low), 0.0, 1.0);
    // transformers blends with an extrapolation weight of 1 - ramp.
    double extrapolated = inv[j], interpolated = inv[j] / factor;
    inv[j] = static_cast<float>(interpolated * ramp + extrapolated * (1 - ramp));
  }
  return {inv, static_cast<float>(yarn.getAttentionFactor().convertToDouble())};
}

/// `n` rounded up to whole tiles' columns (kMmaOutputs).
int64_t wholeTileColumns(int64_t n) {
  return llvm::alignTo(n, kMmaOutputs);
}

/// Bytes of the buffers that a workgroup of the GPU forms' prefill
/// attention on tensor cores (flashAttentionTiles) shares, for blocks of
/// `rows` query rows and cached positions, q and key rows of `scoreDim`
/// and value rows of `valueDim` (each padded with zeros to whole tiles):
/// q, V and the output accumulator (rows padded), K^T [scoreDim, rows],
/// the scores [rows, rows + pad], three f32 and one index per row, and the
/// softmax's maximum and sum per run of a row's positions.
int64_t attentionTileBytes(int64_t rows, int64_t scoreDim, int64_t valueDim) {
  int64_t pad = kTileRowPad;
  scoreDim = wholeTileColumns(scoreDim);
  valueDim = wholeTileColumns(valueDim);
  return 4 * (rows * (scoreDim + pad) + 2 * rows * (valueDim + pad) +
              scoreDim * (rows + kTransposedRowPad) + rows * (rows + pad) +
              3 * rows + 2 * kSoftmaxThreads) +
         8 * rows;
}

/// Query rows (and cached positions) per workgroup of the GPU forms'
/// prefill attention on tensor cores: 32, or 16 where its buffers would not
/// fit a block's `sharedBytes`; 0 (the split-KV form for every call) for
/// buffers that fit neither.
int64_t attentionTileRows(int64_t scoreDim, int64_t valueDim, int64_t sharedBytes) {
  for (int64_t rows : {32, 16})
    if (attentionTileBytes(rows, scoreDim, valueDim) <= sharedBytes)
      return rows;
  return 0;
}

/// What flashAttentionTiles and splitAttentionBlocks read and write, per
/// head h: queryRows(tokenOf, h, qs, rows) writes the query rows of tokens
/// tokenOf(r), r < rows, times the softmax scale, into qs[r, 0 .. scoreDim)
/// as phases of the block's threads (a thread per element, pair or row's
/// sum: no thread loads a row alone); keyAt /
/// valueAt(t, h, position, d) give element d of a cached key (d <
/// scoreDim) or value (d < valueDim) row of token t's sequence as f32;
/// storeOutput(t, h, d, o) takes element d of token t's output.
/// splitAttentionBlocks' combine then runs headDone(t, h), when given, as
/// phases of the block's threads (MLA's value rows of the head's output).
struct FlashAttentionIO {
  function_ref<void(function_ref<Value(Value)>, Value, Value, int64_t)> queryRows;
  function_ref<Value(Value, Value, Value, Value)> keyAt, valueAt;
  function_ref<void(Value, Value, Value, Value)> storeOutput;
  function_ref<void(Value, Value)> headDone = nullptr;
};

/// Prefill attention on tensor cores (the GPU forms with Codegen::mma),
/// shared by attention and MLA: for a call of several tokens of one
/// sequence, a workgroup per (block of `rows` query rows, head), a block
/// of warps walking the cached positions `rows` at a time with an online
/// softmax, as flash attention does: S = q K^T as contract tiles, each
/// row's running maximum and sum and P = exp(S - max) by a thread per (row,
/// run of positions), combined per row (positions past the row's own
/// masked), the accumulator rescaled, then O += P V as tiles; O / sum at
/// the end. Rows past the call's tokens repeat its last one (finite, never
/// stored); q, key and value rows are padded with zeros to whole tiles.
/// `positionOf(t)` is token t's position; the cache holds positions up to
/// the call's last.
void flashAttentionTiles(ImplicitLocOpBuilder &b, LoopNest &loops, int64_t rows,
                         int64_t scoreDim, int64_t valueDim, int64_t heads,
                         Value tokens, Value slots,
                         function_ref<Value(Value)> positionOf,
                         const FlashAttentionIO &io) {
  Type f32 = b.getF32Type();
  int64_t pad = kTileRowPad, rowTiles = rows / kMmaTokens;
  // The buffers' q/key and value widths, whole tiles.
  int64_t scoreWidth = wholeTileColumns(scoreDim), valueWidth = wholeTileColumns(valueDim);
  WarpTiles tiles{b, loops};
  auto index = [&](int64_t v) { return loops.index(v); };
  auto add = [&](Value l, Value r) -> Value { return arith::AddIOp::create(b, l, r); };
  auto sub = [&](Value l, Value r) -> Value { return arith::SubIOp::create(b, l, r); };
  auto load = [&](Value m, ValueRange i) -> Value { return memref::LoadOp::create(b, m, i); };
  auto store = [&](Value v, Value m, ValueRange i) { memref::StoreOp::create(b, v, m, i); };
  Value zero = index(0), one = index(1), blockRows = index(rows);
  Value negInf = loops.f32(-std::numeric_limits<double>::infinity());
  Value queryBlocks = loops.workgroupsFor(
      true, arith::CeilDivUIOp::create(b, tokens, blockRows), tokens, slots);
  loops.parallel("attention_tiles", {queryBlocks, index(heads)}, [&](ValueRange ivs) {
    Value h = ivs[1];
    Value qs = loops.scratch({rows, scoreWidth + pad}, f32);
    Value os = loops.scratch({rows, valueWidth + pad}, f32); // sum_j p_j v_j
    Value kT = loops.scratch({scoreWidth, rows + kTransposedRowPad}, f32);
    Value vs = loops.scratch({rows, valueWidth + pad}, f32);
    // The rows' scores of a block of positions, then their exp(s - max).
    Value scores = loops.scratch({rows, rows + pad}, f32);
    Value rowMax = loops.scratch(rows, f32), rowSum = loops.scratch(rows, f32);
    Value rescale = loops.scratch(rows, f32);
    Value rowPosition = loops.scratch(rows, b.getIndexType());
    // The softmax takes a block's positions in `runs` runs of `span` per
    // row, a thread per (row, run): every thread of the block, not one per
    // row. Each run's maximum, then its sum of exp(s - max).
    int64_t runs = std::max<int64_t>(1, kSoftmaxThreads / rows), span = rows / runs;
    Value runMax = loops.scratch({rows, runs}, f32);
    Value runSum = loops.scratch({rows, runs}, f32);
    auto attend = [&] {
      Value first = arith::MulIOp::create(b, ivs[0], blockRows);
      Value valid = arith::MinUIOp::create(b, blockRows, sub(tokens, first));
      // Cached positions [0, end): up to the block's last token's.
      Value end = add(positionOf(sub(add(first, valid), one)), one);
      auto tokenOfRow = [&](Value r) -> Value {
        return arith::MinUIOp::create(b, add(first, r), sub(tokens, one));
      };
      io.queryRows(tokenOfRow, h, qs, rows);
      loops.cooperative({blockRows}, [&](ValueRange rv) {
        Value r = rv[0];
        Value t = tokenOfRow(r);
        for (int64_t d = scoreDim; d < scoreWidth; ++d)
          store(loops.f32(0.0), qs, ValueRange{r, index(d)});
        store(positionOf(t), rowPosition, r);
        store(negInf, rowMax, r);
        store(loops.f32(0.0), rowSum, r);
      });
      loops.cooperative({blockRows, index(valueWidth)}, [&](ValueRange rd) {
        store(loops.f32(0.0), os, rd);
      });
      Value positionBlocks = arith::CeilDivUIOp::create(b, end, blockRows);
      loops.forLoop(zero, positionBlocks, {}, [&](Value block, ValueRange) {
        Value j0 = arith::MulIOp::create(b, block, blockRows);
        // The block's keys (as K^T) and values, zeros past `end` and past
        // the rows' lengths (read at a position and column in range).
        auto stage = [&](int64_t length, int64_t width,
                         function_ref<Value(Value, Value)> elementAt,
                         function_ref<void(Value, Value, Value)> put) {
          loops.cooperative({blockRows, index(width)}, [&](ValueRange jd) {
            Value position = add(j0, jd[0]);
            Value inside = arith::AndIOp::create(
                b, arith::CmpIOp::create(b, arith::CmpIPredicate::ult, position, end),
                arith::CmpIOp::create(b, arith::CmpIPredicate::ult, jd[1],
                                      index(length)));
            Value v = elementAt(arith::SelectOp::create(b, inside, position, zero),
                                arith::SelectOp::create(b, inside, jd[1], zero));
            put(jd[0], jd[1], arith::SelectOp::create(b, inside, v, loops.f32(0.0)));
          });
        };
        stage(scoreDim, scoreWidth,
              [&](Value at, Value d) { return io.keyAt(first, h, at, d); },
              [&](Value j, Value d, Value v) { store(v, kT, ValueRange{d, j}); });
        stage(valueDim, valueWidth,
              [&](Value at, Value d) { return io.valueAt(first, h, at, d); },
              [&](Value j, Value d, Value v) { store(v, vs, ValueRange{j, d}); });
        loops.warps([&](Value warp) {
          tiles.forTileProducts(warp, rowTiles * (rows / kMmaOutputs),
                                [&](Value) { return tiles.zero(); }, [&](Value tile) {
            auto [m, n] = tiles.at(tile, rows / kMmaOutputs);
            return SmallVector<WarpTiles::Operands>{{qs, m, zero, kT, zero, n, scoreWidth}};
          }, [&](Value tile, Value owned, Value product) {
            auto [m, n] = tiles.at(tile, rows / kMmaOutputs);
            tiles.store(product, scores, m, n, owned);
          });
        });
        // Per (row, run): positions past the row's own masked, the run's
        // maximum; then the row's new maximum (from the runs' and the
        // running one) and exp(s - max) in place of the scores, the run's
        // sum; then per row the runs' sums, the running sum rescaled.
        auto masked = [&](Value r, Value j) -> Value {
          Value seen = arith::CmpIOp::create(b, arith::CmpIPredicate::ule,
                                             add(j0, j), load(rowPosition, r));
          return arith::SelectOp::create(b, seen, load(scores, ValueRange{r, j}),
                                         negInf);
        };
        auto overRun = [&](Value run, Value init,
                           function_ref<Value(Value, Value)> step) {
          Value first = arith::MulIOp::create(b, run, index(span));
          return loops.forLoop(first, add(first, index(span)), {init},
                               [&](Value j, ValueRange a) {
            return SmallVector<Value>{step(j, a[0])};
          }).getResult(0);
        };
        auto rowTop = [&](Value r) {
          return loops.forLoop(zero, index(runs), {load(rowMax, r)},
                               [&](Value q, ValueRange m) {
            return SmallVector<Value>{
                arith::MaximumFOp::create(b, m[0], load(runMax, ValueRange{r, q}))};
          }).getResult(0);
        };
        loops.cooperative({blockRows, index(runs)}, [&](ValueRange rq) {
          store(overRun(rq[1], negInf, [&](Value j, Value m) -> Value {
                  return arith::MaximumFOp::create(b, m, masked(rq[0], j));
                }),
                runMax, rq);
        });
        loops.cooperative({blockRows, index(runs)}, [&](ValueRange rq) {
          Value r = rq[0], top = rowTop(r);
          store(overRun(rq[1], loops.f32(0.0), [&](Value j, Value l) -> Value {
                  Value p = math::ExpOp::create(
                      b, arith::SubFOp::create(b, masked(r, j), top));
                  store(p, scores, ValueRange{r, j});
                  return arith::AddFOp::create(b, l, p);
                }),
                runSum, rq);
        });
        loops.cooperative({blockRows}, [&](ValueRange rv) {
          Value r = rv[0];
          Value before = load(rowMax, r), top = rowTop(r);
          Value sum = loops.forLoop(zero, index(runs), {loops.f32(0.0)},
                                    [&](Value q, ValueRange l) {
            return SmallVector<Value>{
                arith::AddFOp::create(b, l[0], load(runSum, ValueRange{r, q}))};
          }).getResult(0);
          Value factor = math::ExpOp::create(b, arith::SubFOp::create(b, before, top));
          store(factor, rescale, r);
          store(top, rowMax, r);
          store(arith::AddFOp::create(b, arith::MulFOp::create(b, load(rowSum, r), factor),
                                      sum),
                rowSum, r);
        });
        loops.cooperative({blockRows, index(valueWidth)}, [&](ValueRange rd) {
          store(arith::MulFOp::create(b, load(os, rd), load(rescale, rd[0])), os, rd);
        });
        loops.warps([&](Value warp) {
          tiles.forTileProducts(warp, rowTiles * (valueWidth / kMmaOutputs),
                                [&](Value tile) {
            auto [m, n] = tiles.at(tile, valueWidth / kMmaOutputs);
            return tiles.read(os, m, n, kMmaTokens);
          }, [&](Value tile) {
            auto [m, n] = tiles.at(tile, valueWidth / kMmaOutputs);
            return SmallVector<WarpTiles::Operands>{{scores, m, zero, vs, zero, n, rows}};
          }, [&](Value tile, Value owned, Value product) {
            auto [m, n] = tiles.at(tile, valueWidth / kMmaOutputs);
            tiles.store(product, os, m, n, owned);
          });
        });
        return SmallVector<Value>{};
      });
      loops.cooperative({blockRows, index(valueDim)}, [&](ValueRange rd) {
        Value r = rd[0];
        loops.ifElse(arith::CmpIOp::create(b, arith::CmpIPredicate::ult, r, valid), [&] {
          io.storeOutput(add(first, r), h, rd[1],
                         arith::DivFOp::create(b, load(os, rd), load(rowSum, r)));
        }, [] {});
      });
    };
    loops.ifElse(loops.severalOfOneSequence(tokens, slots), attend, [] {});
  });
}

/// The split-KV kernels beside flashAttentionTiles (when `tiles`): they
/// run only the calls the tiles do not take (one token, or with batch
/// slots tokens of several sequences). Without slots the plan gives them
/// no workgroups for the others (tokenWorkgroups: their token dimension);
/// with slots their kernels decide (operator()).
struct DecodeOnly {
  LoopNest &loops;
  bool tiles;
  Value tokens, slots;
  Value tokenWorkgroups() {
    return tiles ? loops.workgroupsFor(false, tokens, tokens, slots) : tokens;
  }
  void operator()(function_ref<void()> body) {
    if (!tiles)
      return body();
    loops.ifElse(loops.severalOfOneSequence(tokens, slots), [] {}, body);
  }
};

/// Decode attention split over the cache (as flash-decoding), as block
/// forms shared by attention and MLA, for the calls `unlessTiles` leaves. A
/// workgroup per (token, head, split of `span` cached positions): the
/// query into the workgroup's buffer (io.queryRows), a thread per
/// position scoring it (q . key), the split's maximum, exp(s - max) and their sum
/// across the block, then a thread per value column summing it over the
/// split's positions; each split's record (acc[valueDim], max, sum) goes to
/// a buffer. Then the splits are combined: weighed by exp(max_s - max),
/// io.storeOutput acc / sum per column. In calls of at most
/// kCombineInSplitTokens tokens (decode, batched or not) by the last of a
/// (token, head)'s split workgroups to finish (lastOfSplits: no launch of
/// its own); in longer ones by a workgroup per (token, head) of a kernel
/// after, `combineStage`. Empty splits (past the token's position) hold
/// max -inf and sum 0.
void splitAttentionBlocks(ImplicitLocOpBuilder &b, LoopNest &loops,
                          DecodeOnly &unlessTiles, int64_t scoreDim,
                          int64_t valueDim, int64_t heads, int64_t maxSeq,
                          Value tokens, function_ref<Value(Value)> positionOf,
                          const FlashAttentionIO &io, StringRef combineStage) {
  Type f32 = b.getF32Type();
  auto index = [&](int64_t v) { return loops.index(v); };
  auto add = [&](Value l, Value r) -> Value { return arith::AddIOp::create(b, l, r); };
  auto mul = [&](Value l, int64_t r) -> Value { return arith::MulIOp::create(b, l, index(r)); };
  auto fadd = [&](Value l, Value r) -> Value { return arith::AddFOp::create(b, l, r); };
  auto fmul = [&](Value l, Value r) -> Value { return arith::MulFOp::create(b, l, r); };
  auto load = [&](Value m, ValueRange i) -> Value { return memref::LoadOp::create(b, m, i); };
  auto store = [&](Value v, Value m, ValueRange i) { memref::StoreOp::create(b, v, m, i); };
  auto maximum = [](OpBuilder &rb, Location loc, Value l, Value r) -> Value {
    return arith::MaximumFOp::create(rb, loc, l, r);
  };
  auto sum = [](OpBuilder &rb, Location loc, Value l, Value r) -> Value {
    return arith::AddFOp::create(rb, loc, l, r);
  };
  Value zero = index(0), one = index(1);
  Value negInf = loops.f32(-std::numeric_limits<double>::infinity());
  Value fzero = loops.f32(0.0);
  // At least 4 splits, so that short caches get parallel work too.
  int64_t span = std::max<int64_t>(1, std::min(kSplitPositions, maxSeq / 4));
  int64_t splits = llvm::divideCeil(maxSeq, span);
  int64_t record = valueDim + 2; // acc, max, sum
  Value splitTokens = unlessTiles.tokenWorkgroups();
  Value combineInSplits = arith::CmpIOp::create(
      b, arith::CmpIPredicate::ule, tokens, index(kCombineInSplitTokens));
  memref::GlobalOp arrivals; // one split is its own last: nothing to count
  if (splits > 1)
    arrivals =
        arrivalCounts(b, b.getLoc(), combineStage, kCombineInSplitTokens * heads);
  Value partial = memref::AllocOp::create(
      b, MemRefType::get({ShapedType::kDynamic}, f32),
      ValueRange{mul(tokens, heads * splits * record)});
  auto recordAt = [&](Value t, Value h, Value split) {
    return add(mul(add(mul(t, heads), h), splits * record), mul(split, record));
  };
  // Token t's head h from its splits' records; `factors` (splits) the
  // workgroup's buffer for exp(max_s - max).
  auto combine = [&](Value t, Value h, Value factors) {
    auto at = [&](Value split, Value offset) {
      return load(partial, ValueRange{add(recordAt(t, h, split), offset)});
    };
    Value top = loops.cooperativeReduce(
        index(splits), negInf, [&](Value s) { return at(s, index(valueDim)); }, maximum);
    loops.cooperative({index(splits)}, [&](ValueRange s) {
      store(math::ExpOp::create(b, arith::SubFOp::create(b, at(s[0], index(valueDim)), top)),
            factors, s);
    });
    Value total = loops.cooperativeReduce(index(splits), fzero, [&](Value s) {
      return fmul(at(s, index(valueDim + 1)), load(factors, s));
    }, sum);
    loops.cooperative({index(valueDim)}, [&](ValueRange d) {
      Value acc = loops.forLoop(zero, index(splits), {fzero}, [&](Value s, ValueRange a) {
        return SmallVector<Value>{fadd(a[0], fmul(at(s, d[0]), load(factors, s)))};
      }).getResult(0);
      io.storeOutput(t, h, d[0], arith::DivFOp::create(b, acc, total));
    });
    if (io.headDone)
      io.headDone(t, h);
  };
  loops.parallel("attention_split", {splitTokens, index(heads), index(splits)},
                 [&](ValueRange ivs) {
    Value t = ivs[0], h = ivs[1], split = ivs[2];
    Value qs = loops.scratch({1, scoreDim}, f32);
    Value factors = loops.scratch(splits, f32);
    Value weights = loops.scratch(span, f32); // scores, then exp(s - max)
    unlessTiles([&] {
      Value end = add(positionOf(t), one);
      Value lo = arith::MinUIOp::create(b, mul(split, span), end);
      Value count = arith::SubIOp::create(
          b, arith::MinUIOp::create(b, add(lo, index(span)), end), lo);
      // The query only where the split has positions (uniform per block).
      loops.ifElse(arith::CmpIOp::create(b, arith::CmpIPredicate::ugt, count, zero), [&] {
        io.queryRows([&](Value) { return t; }, h, qs, 1);
      }, [] {});
      loops.cooperative({index(span)}, [&](ValueRange p) {
        auto inside = scf::IfOp::create(
            b, TypeRange{f32},
            arith::CmpIOp::create(b, arith::CmpIPredicate::ult, p[0], count),
            /*withElseRegion=*/true);
        {
          OpBuilder::InsertionGuard guard(b);
          b.setInsertionPointToStart(inside.thenBlock());
          Value position = add(lo, p[0]);
          Value dot = loops.forLoop(zero, index(scoreDim), {fzero}, [&](Value d, ValueRange a) {
            return SmallVector<Value>{dotStep(b, b.getLoc(), a[0],
                                              load(qs, ValueRange{zero, d}),
                                              io.keyAt(t, h, position, d))};
          }).getResult(0);
          scf::YieldOp::create(b, dot);
          b.setInsertionPointToStart(inside.elseBlock());
          scf::YieldOp::create(b, negInf);
        }
        store(inside.getResult(0), weights, p);
      });
      Value top = loops.cooperativeReduce(
          index(span), negInf, [&](Value p) { return load(weights, p); }, maximum);
      loops.cooperative({index(span)}, [&](ValueRange p) {
        Value score = load(weights, p);
        // Positions past the split weigh 0 (in an empty split top is -inf).
        Value past = arith::CmpFOp::create(b, arith::CmpFPredicate::OEQ, score, negInf);
        Value w = math::ExpOp::create(b, arith::SubFOp::create(b, score, top));
        store(arith::SelectOp::create(b, past, fzero, w), weights, p);
      });
      Value total = loops.cooperativeReduce(
          index(span), fzero, [&](Value p) { return load(weights, p); }, sum);
      Value base = recordAt(t, h, split);
      loops.cooperative({index(valueDim)}, [&](ValueRange d) {
        Value acc = loops.forLoop(zero, count, {fzero}, [&](Value p, ValueRange a) {
          return SmallVector<Value>{fadd(
              a[0], fmul(load(weights, p), io.valueAt(t, h, add(lo, p), d[0])))};
        }).getResult(0);
        store(acc, partial, ValueRange{add(base, d[0])});
      });
      loops.single([&] {
        store(top, partial, ValueRange{add(base, index(valueDim))});
        store(total, partial, ValueRange{add(base, index(valueDim + 1))});
      });
      loops.ifElse(combineInSplits, [&] {
        lastOfSplits(b, loops, arrivals, add(mul(t, heads), h), splits,
                     [&] { combine(t, h, factors); });
      }, [] {});
    });
  });
  loops.parallel(combineStage,
                 {arith::SelectOp::create(b, combineInSplits, zero, splitTokens),
                  index(heads)},
                 [&](ValueRange ivs) {
    Value t = ivs[0], h = ivs[1];
    Value factors = loops.scratch(splits, f32);
    unlessTiles([&] { combine(t, h, factors); });
  });
}

/// Lowers hybrid.attention to projections (linalg) around a loop nest on
/// memrefs: each token's k and v are normalised, rotated and stored in the
/// cache at its position, then each query head runs an online softmax over
/// the cached positions 0..position. A correctness-first form: the tiled
/// kernels of later passes replace the loop nest.
struct AttentionLowering : HybridLowering<AttentionOp> {
  using HybridLowering::HybridLowering;
  LogicalResult
  matchAndRewrite(AttentionOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Value cache = adaptor.getCache();
    auto cacheType = dyn_cast<MemRefType>(cache.getType());
    if (!cacheType)
      return rewriter.notifyMatchFailure(op, "cache is not a memref yet");
    ImplicitLocOpBuilder b(op.getLoc(), rewriter);
    Location loc = op.getLoc();
    int64_t heads = op.getNumHeads(), kvHeads = op.getNumKvHeads(),
            dim = op.getHeadDim(), rotary = op.getRotaryDim();
    int64_t group = heads / kvHeads;
    bool gated = op.getOutputGate();
    bool interleaved = op.getRopeStyle() == RopeStyle::interleaved;
    float scale = static_cast<float>(op.getScale().convertToDouble());
    std::optional<NormKind> normKind = op.getQkNorm();
    float normEps =
        static_cast<float>(op.getNormEpsilon().value_or(llvm::APFloat(1e-6))
                               .convertToDouble());
    Type f32 = b.getF32Type();
    Type cacheElement = cacheType.getElementType();

    Value x = adaptor.getInput();
    SmallVector<Value> qkv =
        linears(b, loc, codegen, x,
                {adaptor.getQProj(), adaptor.getKProj(), adaptor.getVProj()},
                "qkv_proj");
    Value q = qkv[0], k = qkv[1], v = qkv[2];

    auto [invFreq, ropeFactor] = ropeFrequencies(
        rotary, op.getRopeTheta().convertToDouble(), op.getYarnAttr());
    Value freqTable;
    if (rotary > 0)
      freqTable = arith::ConstantOp::create(
          b, DenseElementsAttr::get(
                 RankedTensorType::get({rotary / 2}, f32),
                 ArrayRef<float>(invFreq)));

    LoopNest loops{b};
    Value slots = slotsArgument(op); // batched state buffers
    auto index = [&](int64_t v) { return loops.index(v); };
    auto f32c = [&](double v) { return loops.f32(v); };
    Value zero = index(0), one = index(1), dimV = index(dim);
    auto forLoop = [&](Value lb, Value ub, ValueRange init,
                       LoopNest::Body body) {
      return loops.forLoop(lb, ub, init, body);
    };

    // Loads head `h` of `source` [T, C] at token `t` (starting at column
    // `base`) into a [head_dim] scratch buffer, applies the q/k norm and RoPE.
    Value qNorm = adaptor.getQNorm(), kNorm = adaptor.getKNorm();
    auto loadHead = [&](Value source, Value t, Value base, Value normWeight,
                        Value position) -> Value {
      Value buf = loops.scratch(dim, f32);
      forLoop(zero, dimV, {}, [&](Value d, ValueRange) {
        Value col = arith::AddIOp::create(b, base, d);
        memref::StoreOp::create(
            b, tensor::ExtractOp::create(b, source, ValueRange{t, col}), buf, d);
        return SmallVector<Value>{};
      });
      if (normWeight) {
        Value sum = forLoop(zero, dimV, {f32c(0)}, [&](Value d, ValueRange acc) {
          Value e = memref::LoadOp::create(b, buf, d);
          return SmallVector<Value>{arith::AddFOp::create(
              b, acc[0], arith::MulFOp::create(b, e, e))};
        }).getResult(0);
        Value inv = math::RsqrtOp::create(
            b, arith::AddFOp::create(
                   b, arith::DivFOp::create(b, sum, f32c(dim)), f32c(normEps)));
        forLoop(zero, dimV, {}, [&](Value d, ValueRange) {
          Value w = toF32(b, loc, tensor::ExtractOp::create(b, normWeight, d));
          if (normKind == NormKind::zero_centered)
            w = arith::AddFOp::create(b, f32c(1.0), w);
          Value e = memref::LoadOp::create(b, buf, d);
          memref::StoreOp::create(
              b, arith::MulFOp::create(b, arith::MulFOp::create(b, e, inv), w),
              buf, d);
          return SmallVector<Value>{};
        });
      }
      if (rotary > 0)
        loops.rope(buf, rotary, position, freqTable, ropeFactor, interleaved);
      return buf;
    };

    Value tokens = tensor::DimOp::create(b, x, 0);
    Value positions = adaptor.getPositions();
    auto positionOf = [&](Value t) {
      return arith::IndexCastOp::create(
          b, b.getIndexType(), tensor::ExtractOp::create(b, positions, t));
    };
    auto toCache = [&](Value value) -> Value {
      return cacheElement == f32 ? value
                                 : arith::TruncFOp::create(b, cacheElement, value);
    };
    auto fromCache = [&](Value value) { return toF32(b, loc, value); };

    // loadHead by the block's threads into rows r < rows of buf ([rows,
    // head_dim]; row r token tokenOf(r)'s head), a phase per step: a
    // thread per element, the norm's sums of squares (one row's reduced
    // across the threads, several rows' a thread per row), a thread per
    // element, a thread per RoPE pair. No thread walks a head alone (the
    // GPU forms' decode and the prefill tiles' query rows).
    auto headsTogether = [&](Value source, function_ref<Value(Value)> tokenOf, Value base,
                             Value normWeight, Value buf, int64_t rows) {
      loops.rowsTogether(rows, dimV, [&](Value r, Value d) {
        memref::StoreOp::create(
            b,
            tensor::ExtractOp::create(
                b, source, ValueRange{tokenOf(r), arith::AddIOp::create(b, base, d)}),
            buf, ValueRange{r, d});
      });
      if (normWeight) {
        auto square = [&](Value r, Value d) {
          Value e = memref::LoadOp::create(b, buf, ValueRange{r, d});
          return arith::MulFOp::create(b, e, e).getResult();
        };
        auto inverseRms = [&](Value sum) -> Value {
          return math::RsqrtOp::create(
              b, arith::AddFOp::create(
                     b, arith::DivFOp::create(b, sum, f32c(dim)), f32c(normEps)));
        };
        // One row's factor (the same on every thread), or each row's.
        Value inv, rowInv;
        if (rows == 1) {
          inv = inverseRms(loops.cooperativeReduce(
              dimV, f32c(0.0), [&](Value d) { return square(zero, d); },
              [](OpBuilder &rb, Location l, Value x, Value y) -> Value {
                return arith::AddFOp::create(rb, l, x, y);
              }));
        } else {
          rowInv = loops.scratch(rows, f32);
          loops.cooperative({index(rows)}, [&](ValueRange r) {
            Value sum = forLoop(zero, dimV, {f32c(0.0)}, [&](Value d, ValueRange a) {
              return SmallVector<Value>{arith::AddFOp::create(b, a[0], square(r[0], d))};
            }).getResult(0);
            memref::StoreOp::create(b, inverseRms(sum), rowInv, r[0]);
          });
        }
        loops.rowsTogether(rows, dimV, [&](Value r, Value d) {
          Value w = toF32(b, loc, tensor::ExtractOp::create(b, normWeight, d));
          if (normKind == NormKind::zero_centered)
            w = arith::AddFOp::create(b, f32c(1.0), w);
          Value e = memref::LoadOp::create(b, buf, ValueRange{r, d});
          Value factor = inv ? inv : memref::LoadOp::create(b, rowInv, r).getResult();
          memref::StoreOp::create(
              b, arith::MulFOp::create(b, arith::MulFOp::create(b, e, factor), w), buf,
              ValueRange{r, d});
        });
      }
      if (rotary > 0)
        loops.rowsTogether(rows, index(rotary / 2), [&](Value r, Value j) {
          loops.ropePair(buf, r, zero, j, rotary, positionOf(tokenOf(r)), freqTable,
                         ropeFactor, interleaved);
        });
    };

    // 1. Store every token's keys and values at its position (positions of
    // one call are distinct: tokens and KV heads are independent). The GPU
    // forms: a block per (token, KV head), its threads a key element each.
    loops.parallel("kv_store", {tokens, index(kvHeads)}, [&](ValueRange ivs) {
      Value t = ivs[0], h = ivs[1];
      Value p = positionOf(t);
      if (codegen.columns) {
        Value base = arith::MulIOp::create(b, h, dimV);
        Value kh = loops.scratch({1, dim}, f32);
        headsTogether(k, [&](Value) { return t; }, base, kNorm, kh, 1);
        loops.cooperative({dimV}, [&](ValueRange d) {
          memref::StoreOp::create(
              b, toCache(memref::LoadOp::create(b, kh, ValueRange{zero, d[0]})), cache,
              stateAt(b, slots, t, {zero, p, h, d[0]}));
          Value vd = tensor::ExtractOp::create(
              b, v, ValueRange{t, arith::AddIOp::create(b, base, d[0])});
          memref::StoreOp::create(b, toCache(vd), cache,
                                  stateAt(b, slots, t, {one, p, h, d[0]}));
        });
        return;
      }
      {
        Value base = arith::MulIOp::create(b, h, dimV);
        Value kh = loadHead(k, t, base, kNorm, p);
        forLoop(zero, dimV, {}, [&](Value d, ValueRange) {
          memref::StoreOp::create(b, toCache(memref::LoadOp::create(b, kh, d)),
                                  cache, stateAt(b, slots, t, {zero, p, h, d}));
          Value col = arith::AddIOp::create(b, base, d);
          Value vd = tensor::ExtractOp::create(b, v, ValueRange{t, col});
          memref::StoreOp::create(b, toCache(vd), cache,
                                  stateAt(b, slots, t, {one, p, h, d}));
          return SmallVector<Value>{};
        });
      }
    });

    // 2. Each query head attends to the cached positions 0..p (online
    // softmax in f32), then the optional sigmoid gate.
    auto outType = MemRefType::get({ShapedType::kDynamic, heads * dim}, f32);
    Value out = memref::AllocOp::create(b, outType, ValueRange{tokens});
    Value qStride = index(gated ? 2 * dim : dim);
    // With a target vector width (packed weights), K and V rows are read as
    // vectors of the largest power of two up to it that divides head_dim.
    int64_t width = codegen.panel;
    while (width > 1 && dim % width != 0)
      width /= 2;
    bool vectorHead = width > 1;
    // Online softmax over cached positions [0, end) of KV head kvh for the
    // query qh, scalar: acc (dim floats) gets sum_j w_j v_j; the result is
    // sum_j w_j, w_j = exp(score_j - max).
    Value negInf = f32c(-std::numeric_limits<double>::infinity());
    auto scalarSoftmax = [&](Value t, Value kvh, Value qh, Value acc, Value end) {
      linalg::FillOp::create(b, f32c(0.0), acc);
      return forLoop(zero, end, {negInf, f32c(0.0)}, [&](Value j, ValueRange ml) {
        Value dot = forLoop(zero, dimV, {f32c(0.0)}, [&](Value d, ValueRange a) {
          Value kd = fromCache(memref::LoadOp::create(
              b, cache, stateAt(b, slots, t, {zero, j, kvh, d})));
          return SmallVector<Value>{
              dotStep(b, loc, a[0], memref::LoadOp::create(b, qh, d), kd)};
        }).getResult(0);
        Value score = arith::MulFOp::create(b, dot, f32c(scale));
        Value m = arith::MaximumFOp::create(b, ml[0], score);
        Value correction =
            math::ExpOp::create(b, arith::SubFOp::create(b, ml[0], m));
        Value weight = math::ExpOp::create(b, arith::SubFOp::create(b, score, m));
        Value l = arith::AddFOp::create(
            b, arith::MulFOp::create(b, ml[1], correction), weight);
        forLoop(zero, dimV, {}, [&](Value d, ValueRange) {
          Value vd = fromCache(memref::LoadOp::create(
              b, cache, stateAt(b, slots, t, {one, j, kvh, d})));
          Value a = memref::LoadOp::create(b, acc, d);
          memref::StoreOp::create(
              b,
              arith::AddFOp::create(b, arith::MulFOp::create(b, a, correction),
                                    arith::MulFOp::create(b, weight, vd)),
              acc, d);
          return SmallVector<Value>{};
        });
        return SmallVector<Value>{m, l};
      }).getResult(1);
    };
    // Element d of head h's output o of token t, through the optional
    // sigmoid gate.
    auto storeOutput = [&](Value t, Value h, Value d, Value o) {
      if (gated) {
        Value col = arith::AddIOp::create(
            b, arith::AddIOp::create(b, arith::MulIOp::create(b, h, qStride),
                                     dimV),
            d);
        Value g = tensor::ExtractOp::create(b, q, ValueRange{t, col});
        Value sig = arith::DivFOp::create(
            b, f32c(1.0),
            arith::AddFOp::create(
                b, f32c(1.0),
                math::ExpOp::create(b, arith::NegFOp::create(b, g))));
        o = arith::MulFOp::create(b, o, sig);
      }
      Value col = arith::AddIOp::create(b, arith::MulIOp::create(b, h, dimV), d);
      memref::StoreOp::create(b, o, out, ValueRange{t, col});
    };
    // Head h's output of token t: acc / total.
    auto finish = [&](Value t, Value h, Value acc, Value total) {
      forLoop(zero, dimV, {}, [&](Value d, ValueRange) {
        storeOutput(t, h, d,
                    arith::DivFOp::create(b, memref::LoadOp::create(b, acc, d), total));
        return SmallVector<Value>{};
      });
    };

    if (codegen.columns) {
      // Prefill on tensor cores (attentionTileRows): for a call of several
      // tokens of one sequence, a workgroup per (block of B query rows,
      // head), a block of warps walking the cached positions B at a time
      // with an online softmax (as flash attention): S = (q scale) K^T as
      // tiles, each row's running maximum and sum and P = exp(S - max) by
      // a thread per (row, run of positions), the accumulator rescaled,
      // then O += P V as tiles; O / sum at the end. The split-KV block
      // forms (splitAttentionBlocks) then run only for decode.
      auto cached = [&](Value half, Value t, Value h, Value position, Value d) {
        return fromCache(memref::LoadOp::create(
            b, cache,
            stateAt(b, slots, t,
                    {half, position, arith::DivUIOp::create(b, h, index(group)), d})));
      };
      // q normed, rotated and scaled, by the block's threads.
      auto queryRows = [&](function_ref<Value(Value)> tokenOf, Value h, Value qs,
                           int64_t rows) {
        headsTogether(q, tokenOf, arith::MulIOp::create(b, h, qStride), qNorm, qs, rows);
        loops.rowsTogether(rows, dimV, [&](Value r, Value d) {
          SmallVector<Value> at{r, d};
          memref::StoreOp::create(
              b, arith::MulFOp::create(b, memref::LoadOp::create(b, qs, at), f32c(scale)),
              qs, at);
        });
      };
      auto keyAt = [&](Value t, Value h, Value position, Value d) {
        return cached(zero, t, h, position, d);
      };
      auto valueAt = [&](Value t, Value h, Value position, Value d) {
        return cached(one, t, h, position, d);
      };
      FlashAttentionIO io{queryRows, keyAt, valueAt, storeOutput};
      int64_t tileRows =
          codegen.mma ? attentionTileRows(dim, dim, codegen.blockSharedBytes) : 0;
      if (tileRows)
        flashAttentionTiles(b, loops, tileRows, dim, dim, heads, tokens, slots,
                            positionOf, io);
      DecodeOnly unlessTiles{loops, tileRows != 0, tokens, slots};
      int64_t rank = cacheType.getRank();
      splitAttentionBlocks(b, loops, unlessTiles, dim, dim, heads,
                           cacheType.getDimSize(rank - 3), tokens, positionOf, io,
                           "attention");
    } else {
      // A workgroup per (token, head), the softmax state in registers.
      auto headBody = [&](ValueRange ivs) {
        Value t = ivs[0], h = ivs[1];
        Value p = positionOf(t);
        Value end = arith::AddIOp::create(b, p, one);
        {
          Value kvh = arith::DivUIOp::create(b, h, index(group));
          Value qh = loadHead(q, t, arith::MulIOp::create(b, h, qStride), qNorm, p);
          Value acc = loops.scratch(dim, f32);
          Value total;
          if (vectorHead) {
            // K and V rows read as head_dim / width vectors; the running sum
            // stays in vector registers across positions.
            SmallVector<Value> qv = readRowVectors(b, qh, {}, dim / width, width);
            auto rowAt = [&](Value half, Value j, int64_t i) {
              return readF32Vector(b, cache,
                                   stateAt(b, slots, t, {half, j, kvh, index(i * width)}),
                                   width);
            };
            total = vectorOnlineSoftmax(
                b, loops, qv, qv.size(), end, scale, acc,
                [&](Value j, int64_t i) { return rowAt(zero, j, i); },
                [&](Value j, int64_t i, Value) { return rowAt(one, j, i); }, {});
          } else {
            total = scalarSoftmax(t, kvh, qh, acc, end);
          }
          finish(t, h, acc, total);
        }
      };
      // Heads of one KV head read the same rows: in calls of several tokens
      // that the prompt and decode kernels below do not take (prompts of a
      // head_dim they do not fit, several sequences' decode steps) a workgroup
      // takes up to kHeadsTogether of them, for kQueryTokens tokens, over
      // blocks of the rows (sharedRowsSoftmax); a single token's heads stay
      // apart, its only parallel work.
      int64_t together = vectorHead ? headsDividing(group, kHeadsTogether) : 1;
      // The tokens [first, first + count) and heads from firstHead, of KV
      // head kvh, of workgroup (block, group of heads) `ivs` of a kernel
      // taking `tokensPer` tokens x `headsPer` heads.
      struct QueryBlock {
        Value first, count, firstHead, kvh;
      };
      auto queryBlock = [&](ValueRange ivs, int64_t tokensPer, int64_t headsPer) {
        QueryBlock block;
        block.first = arith::MulIOp::create(b, ivs[0], index(tokensPer));
        block.count = arith::MinUIOp::create(b, index(tokensPer),
                                             arith::SubIOp::create(b, tokens, block.first));
        block.firstHead = arith::MulIOp::create(b, ivs[1], index(headsPer));
        block.kvh = arith::DivUIOp::create(b, block.firstHead, index(group));
        return block;
      };
      auto groupBody = [&](ValueRange ivs) {
        // Query g: token first + g / together, head firstHead + g % together.
        auto [first, count, firstHead, kvh] = queryBlock(ivs, kQueryTokens, together);
        Value queries = loops.scratch({kQueryTokens * together, dim}, f32);
        Value accs = loops.scratch({kQueryTokens * together, dim}, f32);
        Value stats = loops.scratch({kQueryTokens * together, 2}, f32);
        Value acc = loops.scratch(dim, f32);
        auto vectorsOf = [&](Value buffer, ValueRange lead) {
          return readRowVectors(b, buffer, lead, dim / width, width);
        };
        auto tokenOf = [&](Value g) -> Value {
          return arith::AddIOp::create(b, first,
                                       arith::DivUIOp::create(b, g, index(together)));
        };
        auto headOf = [&](Value g) -> Value {
          return arith::AddIOp::create(b, firstHead,
                                       arith::RemUIOp::create(b, g, index(together)));
        };
        auto endOf = [&](Value g) -> Value {
          return arith::AddIOp::create(b, positionOf(tokenOf(g)), one);
        };
        Value queryCount = arith::MulIOp::create(b, count, index(together));
        forLoop(zero, queryCount, {}, [&](Value g, ValueRange) {
          Value t = tokenOf(g);
          Value qh = loadHead(q, t, arith::MulIOp::create(b, headOf(g), qStride), qNorm,
                              positionOf(t));
          writeRowVectors(b, vectorsOf(qh, {}), queries, {g});
          return SmallVector<Value>{};
        });
        // Queries [begin, end) over the rows of token `reader`'s sequence.
        auto attend = [&](Value begin, Value end, Value reader) {
          auto rowAt = [&](Value half, Value j, int64_t i) {
            return readF32Vector(
                b, cache, stateAt(b, slots, reader, {half, j, kvh, index(i * width)}),
                width);
          };
          sharedRowsSoftmax(
              b, loops, begin, end, endOf, dim / width, width, scale,
              [&](Value g) { return vectorsOf(queries, {g}); }, accs, stats,
              [&](Value j, int64_t i) { return rowAt(zero, j, i); },
              [&](Value j, int64_t i, Value) { return rowAt(one, j, i); });
        };
        attendTokens(b, loops, tokens, slots, first, count, together, attend);
        forLoop(zero, queryCount, {}, [&](Value g, ValueRange) {
          writeRowVectors(b, vectorsOf(accs, {g}), acc, {});
          finish(tokenOf(g), headOf(g), acc,
                 memref::LoadOp::create(b, stats, ValueRange{g, one}));
          return SmallVector<Value>{};
        });
      };
      // A prompt (several tokens of one sequence): blockedAttention for
      // the queries of up to blockHeads heads of one KV head (which read
      // the same rows) x blockTokens tokens, kQueryGroups groups of them.
      int64_t blockQueries = blockedQueries(codegen);
      int64_t blockHeads = headsDividing(group, blockQueries);
      int64_t blockTokens = kQueryGroups * blockQueries / blockHeads;
      // Token t's query of head h, normed, rotated and scaled: store(d, q_d).
      auto scaledQuery = [&](Value t, Value h, function_ref<void(Value, Value)> store) {
        Value qh = loadHead(q, t, arith::MulIOp::create(b, h, qStride), qNorm, positionOf(t));
        forLoop(zero, dimV, {}, [&](Value d, ValueRange) {
          store(d, arith::MulFOp::create(b, memref::LoadOp::create(b, qh, d), f32c(scale)));
          return SmallVector<Value>{};
        });
      };
      // Position j's key and value rows of KV head kvh in the cache of
      // token `reader`'s sequence, as f32, into row r of keys and values.
      auto stageKeyValue = [&](Value reader, Value kvh, Value j, Value r, Value keys,
                               Value values) {
        for (int64_t c = 0; c < dim; c += width)
          for (auto [half, staged] : {std::pair{zero, keys}, std::pair{one, values}})
            vector::TransferWriteOp::create(
                b,
                readF32Vector(b, cache, stateAt(b, slots, reader, {half, j, kvh, index(c)}),
                              width),
                staged, ValueRange{r, index(c)}, ArrayRef<bool>{true});
      };
      auto promptBody = [&](ValueRange ivs) {
        // Query g: token first + g / blockHeads (the call's last past its
        // tokens: computed, never stored), head firstHead + g % blockHeads.
        auto [first, count, firstHead, kvh] = queryBlock(ivs, blockTokens, blockHeads);
        auto tokenOf = [&](Value g) -> Value {
          Value slot = arith::MinUIOp::create(
              b, arith::DivUIOp::create(b, g, index(blockHeads)),
              arith::SubIOp::create(b, count, one));
          return arith::AddIOp::create(b, first, slot);
        };
        auto headOf = [&](Value g) -> Value {
          return arith::AddIOp::create(b, firstHead,
                                       arith::RemUIOp::create(b, g, index(blockHeads)));
        };
        BlockedQueries io(loops, kQueryGroups, blockQueries, dim, dim);
        Value acc = loops.scratch(dim, f32);
        forLoop(zero, index(kQueryGroups * blockQueries), {}, [&](Value g, ValueRange) {
          Value t = tokenOf(g);
          SmallVector<Value> slot = io.slot(b, g);
          scaledQuery(t, headOf(g), [&](Value d, Value v) {
            memref::StoreOp::create(b, v, io.queriesT, ValueRange{slot[0], d, slot[1]});
          });
          memref::StoreOp::create(
              b,
              arith::IndexCastUIOp::create(b, b.getI32Type(),
                                           arith::AddIOp::create(b, positionOf(t), one)),
              io.ends, slot);
          return SmallVector<Value>{};
        });
        BlockedSpan span;
        span.bf16Dot =
            codegen.bf16Dot && cast<MemRefType>(cache.getType()).getElementType().isBF16();
        blockedAttention(b, loops, dim, dim, io,
                         [&](Value j, Value r, Value keys, Value values) {
                           stageKeyValue(first, kvh, j, r, keys, values);
                         },
                         span);
        forLoop(zero, arith::MulIOp::create(b, count, index(blockHeads)), {},
                [&](Value g, ValueRange) {
          SmallVector<Value> slot = io.slot(b, g);
          writeRowVectors(b, readRowVectors(b, io.accs, slot, dim / width, width), acc, {});
          finish(tokenOf(g), headOf(g), acc, memref::LoadOp::create(b, io.totals, slot));
          return SmallVector<Value>{};
        });
      };
      std::optional<PromptKernel> prompt;
      if (blockedFits(codegen, dim))
        prompt = PromptKernel{blockTokens, blockHeads, promptBody};
      // A decode step, or a batch of them (a token of each of several
      // sequences): flash decoding, the heads of a KV head reading the
      // token's rows together.
      FlashDecoding decodeForm{heads, group, dim, dim};
      auto decodeKernels = [&](Value count) {
        flashDecoding(
            b, loops, codegen, decodeForm, count, positionOf, scaledQuery,
            [&](Value t, Value h, Value j, Value r, Value keys, Value values) {
              stageKeyValue(t, arith::DivUIOp::create(b, h, index(group)), j, r, keys, values);
            },
            [&](Value t, Value h, Value j) {
              Value kvh = arith::DivUIOp::create(b, h, index(group));
              for (Value half : {zero, one})
                prefetchRow(b, cache, stateAt(b, slots, t, {half, j, kvh, zero}), dim);
            },
            finish);
      };
      function_ref<void(Value)> decode;
      if (vectorHead && decodeForm.fits(codegen))
        decode = decodeKernels;
      attentionKernels(b, loops, tokens, slots, heads, together, kQueryTokens, groupBody,
                       headBody, prompt, decode);
    }
    Value attended = bufferization::ToTensorOp::create(
        b, RankedTensorType::get({ShapedType::kDynamic, heads * dim}, f32), out,
        /*restrict=*/true, /*writable=*/true);
    rewriter.replaceOp(op, linear(b, loc, codegen, attended, adaptor.getOProj()));
    return success();
  }
};

/// Lowers hybrid.mla (models.md 3.4, 3.5): the q path (LoRA with its norm, or
/// a plain q_proj) and the latent projection with its norm are linalg; the
/// latent cache buffer [max-seq-len, kv_lora_rank + qk_rope_head_dim] holds
/// each position's normed latent and rotated rope key, written at the token's
/// position. Attention runs in the absorbed form: the query is taken into
/// latent space through kv_b_proj's key rows, the online softmax runs over the
/// cached latents, and the value rows of kv_b_proj map the result back. On
/// the CPU a prompt long enough to repay it expands each head's keys and
/// values by kv_b_proj instead, as transformers computes them.
struct MLALowering : HybridLowering<MLAOp> {
  using HybridLowering::HybridLowering;
  LogicalResult
  matchAndRewrite(MLAOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Value cache = adaptor.getCache();
    auto cacheType = dyn_cast<MemRefType>(cache.getType());
    if (!cacheType)
      return rewriter.notifyMatchFailure(op, "cache is not a memref yet");
    ImplicitLocOpBuilder b(op.getLoc(), rewriter);
    Location loc = op.getLoc();
    Type f32 = b.getF32Type();
    Type cacheElement = cacheType.getElementType();
    int64_t heads = op.getNumHeads(), kvRank = op.getKvLoraRank(),
            nope = op.getQkNopeHeadDim(), rope = op.getQkRopeHeadDim(),
            vDim = op.getVHeadDim();
    int64_t qk = nope + rope;
    double eps = op.getNormEpsilon().convertToDouble();
    float scale = static_cast<float>(op.getScale().convertToDouble());
    bool interleaved = op.getRopeStyle() == RopeStyle::interleaved;
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
    auto load = [&](Value m, ValueRange i) -> Value {
      return memref::LoadOp::create(b, m, i);
    };
    auto store = [&](Value v, Value m, ValueRange i) {
      memref::StoreOp::create(b, v, m, i);
    };

    Value x = adaptor.getInput();
    Value q;
    // The projections that read x run as one kernel.
    SmallVector<Value> fromX = linears(
        b, loc, codegen, x,
        {adaptor.getQAProj() ? adaptor.getQAProj() : adaptor.getQProj(),
         adaptor.getKvAProjWithMqa()},
        "q_kv_a_proj");
    Value kv = fromX[1];
    if (adaptor.getQAProj()) {
      // Named as the checkpoint's modules are: its kernel's name says so.
      Value qa = normalizeRows(b, NameLoc::get(b.getStringAttr("q_a_layernorm"), loc),
                               fromX[0], adaptor.getQALayernorm(), Value(),
                               NormKind::plain, eps);
      q = linear(b, loc, codegen, qa, adaptor.getQBProj());
    } else {
      q = fromX[0];
    }
    Value tokens = tensor::DimOp::create(b, x, 0);
    Value latent = tensor::ExtractSliceOp::create(
        b, RankedTensorType::get({ShapedType::kDynamic, kvRank}, f32), kv,
        ValueRange{}, ValueRange{tokens}, ValueRange{},
        b.getDenseI64ArrayAttr({0, 0}),
        b.getDenseI64ArrayAttr({ShapedType::kDynamic, kvRank}),
        b.getDenseI64ArrayAttr({1, 1}));
    latent = normalizeRows(b, NameLoc::get(b.getStringAttr("kv_a_layernorm"), loc),
                           latent, adaptor.getKvALayernorm(), Value(),
                           NormKind::plain, eps);

    auto [invFreq, ropeFactor] = ropeFrequencies(
        rope, op.getRopeTheta().convertToDouble(), op.getYarnAttr());
    Value freqTable = arith::ConstantOp::create(
        b, DenseElementsAttr::get(RankedTensorType::get({rope / 2}, f32),
                                  ArrayRef<float>(invFreq)));
    Value positions = adaptor.getPositions();
    auto positionOf = [&](Value t) {
      return arith::IndexCastOp::create(
          b, b.getIndexType(), tensor::ExtractOp::create(b, positions, t));
    };
    // 1. Each token's latent and rotated rope key go to its position. The
    // GPU forms: a block per token, its threads a latent column, then a
    // rope column, a rope pair, a rope column each (no thread walks the
    // row alone: a decode step has one token).
    auto toCache = [&](Value v) -> Value {
      return cacheElement == f32 ? v : arith::TruncFOp::create(b, cacheElement, v).getResult();
    };
    loops.parallel("latent_store", {tokens}, [&](ValueRange ivs) {
      Value t = ivs[0];
      Value p = positionOf(t);
      if (codegen.columns) {
        loops.cooperative({index(kvRank)}, [&](ValueRange l) {
          store(toCache(tensor::ExtractOp::create(b, latent, ValueRange{t, l[0]})), cache,
                stateAt(b, slots, t, {p, l[0]}));
        });
        Value ropeRow = loops.scratch({1, rope}, f32);
        loops.cooperative({index(rope)}, [&](ValueRange r) {
          store(tensor::ExtractOp::create(b, kv, ValueRange{t, add(r[0], index(kvRank))}),
                ropeRow, ValueRange{zero, r[0]});
        });
        loops.cooperative({index(rope / 2)}, [&](ValueRange j) {
          loops.ropePair(ropeRow, zero, zero, j[0], rope, p, freqTable, ropeFactor,
                         interleaved);
        });
        loops.cooperative({index(rope)}, [&](ValueRange r) {
          store(toCache(load(ropeRow, ValueRange{zero, r[0]})), cache,
                stateAt(b, slots, t, {p, add(r[0], index(kvRank))}));
        });
        return;
      }
      Value ropeBuf = loops.scratch(rope, f32);
      forLoop(zero, index(kvRank), {}, [&](Value l, ValueRange) {
        store(toCache(tensor::ExtractOp::create(b, latent, ValueRange{t, l})), cache,
              stateAt(b, slots, t, {p, l}));
        return SmallVector<Value>{};
      });
      forLoop(zero, index(rope), {}, [&](Value r, ValueRange) {
        store(tensor::ExtractOp::create(b, kv, ValueRange{t, add(r, index(kvRank))}),
              ropeBuf, ValueRange{r});
        return SmallVector<Value>{};
      });
      loops.rope(ropeBuf, rope, p, freqTable, ropeFactor, interleaved);
      forLoop(zero, index(rope), {}, [&](Value r, ValueRange) {
        store(toCache(load(ropeBuf, ValueRange{r})), cache,
              stateAt(b, slots, t, {p, add(r, index(kvRank))}));
        return SmallVector<Value>{};
      });
    });

    // 2. Absorbed attention per token and head (on the CPU long prompts
    // expand keys and values instead: below). With a
    // target vector width (packed weights), the latent part runs on vectors
    // of the largest power of two up to it that divides the latent rank.
    int64_t panel = codegen.panel;
    while (panel > 1 && kvRank % panel != 0)
      panel /= 2;
    bool vectorLatent = panel > 1;
    Value out = memref::AllocOp::create(
        b, MemRefType::get({ShapedType::kDynamic, heads * vDim}, f32),
        ValueRange{tokens});
    // Read in the checkpoint's layout (fp8 decoded as read): whole rows of
    // the latent in vectors of `panel`.
    RowMajorWeight kvb = RowMajorWeight::of(adaptor.getKvBProj(), vectorLatent ? panel : 1);
    Value negInf = f32c(-std::numeric_limits<double>::infinity());
    // Token t's rope query of head h, rotated to its position, into ropeBuf.
    auto ropeQuery = [&](Value t, Value h, Value ropeBuf) {
      Value ropeBase = add(mul(h, qk), index(nope));
      forLoop(zero, index(rope), {}, [&](Value r, ValueRange) {
        store(tensor::ExtractOp::create(b, q, ValueRange{t, add(ropeBase, r)}),
              ropeBuf, ValueRange{r});
        return SmallVector<Value>{};
      });
      loops.rope(ropeBuf, rope, positionOf(t), freqTable, ropeFactor, interleaved);
    };
    auto dotRopeAt = [&](Value t, Value ropeBuf, Value j) {
      return forLoop(zero, index(rope), {f32c(0.0)}, [&](Value r, ValueRange a) {
        Value k = toF32(b, loc, load(cache, stateAt(b, slots, t,
                                                 {j, add(r, index(kvRank))})));
        return SmallVector<Value>{dotStep(b, loc, a[0], load(ropeBuf, ValueRange{r}), k)};
      }).getResult(0);
    };
    // q~[l] = sum_i q_nope[i] * kv_b[h (nope + v) + i, l], one l.
    auto absorbedAt = [&](Value t, Value h, Value l) {
      Value qBase = mul(h, qk), rowBase = mul(h, nope + vDim);
      return forLoop(zero, index(nope), {f32c(0.0)}, [&](Value i, ValueRange a) {
        Value qi = tensor::ExtractOp::create(b, q, ValueRange{t, add(qBase, i)});
        return SmallVector<Value>{
            dotStep(b, loc, a[0], qi, kvb.read(b, loc, ValueRange{add(rowBase, i), l}, 0))};
      }).getResult(0);
    };
    // Scalar online softmax of token t over cached positions [0, end) with
    // the absorbed query queryAt(l): acc (kvRank floats) gets sum_j w_j c_j;
    // the result is sum_j w_j, w_j = exp(score_j - max).
    auto latentSoftmax = [&](Value t, function_ref<Value(Value)> queryAt,
                             Value ropeBuf, Value acc, Value end) {
      linalg::FillOp::create(b, f32c(0.0), acc);
      return forLoop(zero, end, {negInf, f32c(0.0)}, [&](Value j, ValueRange ml) {
        Value dotLatent = forLoop(zero, index(kvRank), {f32c(0.0)}, [&](Value l,
                                                                     ValueRange a) {
          Value c = toF32(b, loc, load(cache, stateAt(b, slots, t, {j, l})));
          return SmallVector<Value>{dotStep(b, loc, a[0], queryAt(l), c)};
        }).getResult(0);
        Value score = fmul(fadd(dotLatent, dotRopeAt(t, ropeBuf, j)), f32c(scale));
        Value m = arith::MaximumFOp::create(b, ml[0], score);
        Value correction = math::ExpOp::create(b, arith::SubFOp::create(b, ml[0], m));
        Value weight = math::ExpOp::create(b, arith::SubFOp::create(b, score, m));
        forLoop(zero, index(kvRank), {}, [&](Value l, ValueRange) {
          Value c = toF32(b, loc, load(cache, stateAt(b, slots, t, {j, l})));
          store(fadd(fmul(load(acc, ValueRange{l}), correction), fmul(weight, c)),
                acc, ValueRange{l});
          return SmallVector<Value>{};
        });
        return SmallVector<Value>{m, fadd(fmul(ml[1], correction), weight)};
      }).getResult(1);
    };
    // o[h, i] = sum_l accAt(l) * kv_b[h (nope + v) + nope + i, l] / total.
    auto valueOut = [&](Value t, Value h, Value i, function_ref<Value(Value)> accAt,
                        Value total) {
      Value row = add(add(mul(h, nope + vDim), index(nope)), i);
      Value o = forLoop(zero, index(kvRank), {f32c(0.0)}, [&](Value l, ValueRange a) {
        return SmallVector<Value>{
            dotStep(b, loc, a[0], accAt(l), kvb.read(b, loc, ValueRange{row, l}, 0))};
      }).getResult(0);
      store(total ? arith::DivFOp::create(b, o, total).getResult() : o, out,
            ValueRange{t, add(mul(h, vDim), i)});
    };

    if (codegen.columns) {
      // The GPU form: the absorbed query a workgroup per (token, head,
      // latent column); attention over the cached rows [latent | rope key]
      // as attention's (tiles for prefill, split KV for decode) into
      // `combined`; the value rows per (token, head, output). No thread
      // walks the cache or runs a kv_lora_rank x head_dim product alone.
      auto buffer = [&](int64_t perToken) -> Value {
        return memref::AllocOp::create(
            b, MemRefType::get({ShapedType::kDynamic}, f32),
            ValueRange{mul(tokens, perToken)});
      };
      auto headRow = [&](Value t, Value h) { return add(mul(t, heads), h); };
      Value queries = buffer(heads * kvRank);
      loops.parallel("attention_query", {tokens, index(heads), index(kvRank)},
                     [&](ValueRange ivs) {
        Value t = ivs[0], h = ivs[1], l = ivs[2];
        store(absorbedAt(t, h, l), queries,
              ValueRange{add(mul(headRow(t, h), kvRank), l)});
      });
      Value combined = buffer(heads * kvRank);
      // Prefill on tensor cores (flashAttentionTiles): q~ and the rope
      // query (scaled) against the cached rows [latent | rope key], the
      // latents as values, into `combined`. The split-KV kernels then run
      // only for decode.
      int64_t tileRows =
          codegen.mma ? attentionTileRows(kvRank + rope, kvRank, codegen.blockSharedBytes)
                      : 0;
      // q~ and the rope query, scaled, by the block's threads: a thread per
      // latent column, then per rope column, per rope pair, per rope column.
      auto queryRows = [&](function_ref<Value(Value)> tokenOf, Value h, Value qs,
                           int64_t rows) {
        loops.rowsTogether(rows, index(kvRank), [&](Value r, Value l) {
          Value base = mul(headRow(tokenOf(r), h), kvRank);
          store(fmul(load(queries, ValueRange{add(base, l)}), f32c(scale)), qs,
                ValueRange{r, l});
        });
        Value ropeBase = add(mul(h, qk), index(nope));
        loops.rowsTogether(rows, index(rope), [&](Value r, Value i) {
          store(tensor::ExtractOp::create(b, q, ValueRange{tokenOf(r), add(ropeBase, i)}),
                qs, ValueRange{r, add(index(kvRank), i)});
        });
        loops.rowsTogether(rows, index(rope / 2), [&](Value r, Value j) {
          loops.ropePair(qs, r, index(kvRank), j, rope, positionOf(tokenOf(r)), freqTable,
                         ropeFactor, interleaved);
        });
        loops.rowsTogether(rows, index(rope), [&](Value r, Value i) {
          Value column = add(index(kvRank), i);
          store(fmul(load(qs, ValueRange{r, column}), f32c(scale)), qs,
                ValueRange{r, column});
        });
      };
      // Row [latent | rope key] of the cache: keys whole, values its latent.
      auto rowAt = [&](Value t, Value, Value position, Value d) {
        return toF32(b, loc, load(cache, stateAt(b, slots, t, {position, d})));
      };
      auto storeCombined = [&](Value t, Value h, Value l, Value o) {
        store(o, combined, ValueRange{add(mul(headRow(t, h), kvRank), l)});
      };
      // Output i of token t's head h from its combined latent row.
      auto valueOfCombined = [&](Value t, Value h, Value i) {
        Value base = mul(headRow(t, h), kvRank);
        valueOut(t, h, i,
                 [&](Value l) { return load(combined, ValueRange{add(base, l)}); },
                 Value());
      };
      FlashAttentionIO io{queryRows, rowAt, rowAt, storeCombined};
      if (tileRows)
        flashAttentionTiles(b, loops, tileRows, kvRank + rope, kvRank, heads, tokens,
                            slots, positionOf, io);
      // The split-KV form's combine computes the head's value rows itself,
      // a thread per output (no value kernel at decode); the tiles' rows
      // get theirs from a kernel after them.
      auto valueRows = [&](Value t, Value h) {
        loops.cooperative({index(vDim)}, [&](ValueRange i) { valueOfCombined(t, h, i[0]); });
      };
      io.headDone = valueRows;
      DecodeOnly unlessTiles{loops, tileRows != 0, tokens, slots};
      splitAttentionBlocks(b, loops, unlessTiles, kvRank + rope, kvRank, heads,
                           cacheType.getDimSize(cacheType.getRank() - 2), tokens,
                           positionOf, io, "attention_combine");
      if (tileRows)
        loops.parallel("attention_value",
                       {loops.workgroupsFor(true, tokens, tokens, slots), index(heads),
                        index(vDim)},
                       [&](ValueRange ivs) {
          auto rows = [&] { valueOfCombined(ivs[0], ivs[1], ivs[2]); };
          if (!slots)
            return rows();
          loops.ifElse(loops.severalOfOneSequence(tokens, slots), rows, [] {});
        });
    } else {
      // The vectors a latent row is read in: `panel`'s, or narrower ones
      // that divide the rope part too, which then joins the latent's (the
      // row is [latent | rope key]: vector i is at column i * width either
      // way); else a scalar rope dot per position (a chain of FMAs that each
      // position waited for, 4 cycles each).
      int64_t width = panel;
      while (width > 1 && rope % width != 0)
        width /= 2;
      bool ropeVectors = vectorLatent && width >= kMinRopeVector;
      if (!ropeVectors)
        width = panel;
      // Heads a workgroup attends for together in calls of several tokens:
      // every head reads every cached row, so they take each block of rows
      // in turn while it is in L1 (a head at a time over the whole cache
      // read it from L2 or memory once per head: 128 times for DeepSeek-V3).
      int64_t group = ropeVectors ? headsDividing(heads, kHeadsTogether) : 1;
      // The two products with kv_b of the CPU kernels, for `slots` tokens
      // at a time (a group kernel's block, or the per-head kernel's one
      // token): each weight is read, fp8 decoded, once for all of them, and
      // chains x slots independent FMA chains on vectors of `width` keep
      // the FMA units busy (one chain waits 4 cycles a step).
      // q~[s, l] = sum_i q_nope[s, i] kv_b[h (nope + v) + i, l]: kv_b's key
      // rows in order, `chains` vectors of latent columns at a time;
      // done(s, l, v) takes the vector of q~ at column l.
      auto absorbQueries = [&](Value h, int64_t slots, int64_t chains, int64_t width,
                               function_ref<Value(int64_t)> tokenOf,
                               function_ref<void(int64_t, Value, Value)> done) {
        Value qBase = mul(h, qk), rowBase = mul(h, nope + vDim);
        auto vt = VectorType::get({width}, f32);
        Value vzero = arith::ConstantOp::create(
            b, vt, DenseElementsAttr::get(vt, b.getF32FloatAttr(0.0)));
        loops.forLoop(zero, index(kvRank), {}, [&](Value l, ValueRange) {
          auto columnOf = [&](int64_t c) { return add(l, index(c * width)); };
          auto sums = forLoop(zero, index(nope), SmallVector<Value>(slots * chains, vzero),
                              [&](Value i, ValueRange sumsOf) {
            SmallVector<Value> w;
            for (int64_t c = 0; c < chains; ++c)
              w.push_back(kvb.read(b, loc, ValueRange{add(rowBase, i), columnOf(c)}, width));
            SmallVector<Value> next;
            for (int64_t s = 0; s < slots; ++s) {
              Value qi = vector::BroadcastOp::create(
                  b, vt, tensor::ExtractOp::create(b, q, ValueRange{tokenOf(s), add(qBase, i)}));
              for (int64_t c = 0; c < chains; ++c)
                next.push_back(vector::FMAOp::create(b, qi, w[c], sumsOf[s * chains + c]));
            }
            return next;
          });
          for (int64_t s = 0; s < slots; ++s)
            for (int64_t c = 0; c < chains; ++c)
              done(s, columnOf(c), sums.getResult(s * chains + c));
          return SmallVector<Value>{};
        }, chains * width);
      };
      // o[s, i] = sum_l acc_s[l] kv_b[h (nope + v) + nope + i, l]: `chains`
      // value rows at a time, each a vector sum per slot over the latent
      // (accAt(s, l): acc_s's vector at column l); done(s, i, o).
      auto valueRows = [&](Value h, int64_t slots, int64_t chains, int64_t width,
                           function_ref<Value(int64_t, Value)> accAt,
                           function_ref<void(int64_t, Value, Value)> done) {
        Value rowBase = add(mul(h, nope + vDim), index(nope));
        auto vt = VectorType::get({width}, f32);
        Value vzero = arith::ConstantOp::create(
            b, vt, DenseElementsAttr::get(vt, b.getF32FloatAttr(0.0)));
        loops.forLoop(zero, index(vDim), {}, [&](Value i, ValueRange) {
          auto rowOf = [&](int64_t c) { return add(i, index(c)); };
          auto sums = loops.forLoop(zero, index(kvRank), SmallVector<Value>(slots * chains, vzero),
                                    [&](Value l, ValueRange sumsOf) {
            SmallVector<Value> w;
            for (int64_t c = 0; c < chains; ++c)
              w.push_back(kvb.read(b, loc, ValueRange{add(rowBase, rowOf(c)), l}, width));
            SmallVector<Value> next(sumsOf);
            for (int64_t s = 0; s < slots; ++s) {
              Value acc = accAt(s, l);
              for (int64_t c = 0; c < chains; ++c)
                next[s * chains + c] = vector::FMAOp::create(b, acc, w[c], next[s * chains + c]);
            }
            return next;
          }, width);
          for (int64_t s = 0; s < slots; ++s)
            for (int64_t c = 0; c < chains; ++c)
              done(s, rowOf(c),
                   vector::ReductionOp::create(b, vector::CombiningKind::ADD,
                                               sums.getResult(s * chains + c), Value(),
                                               kDotMath));
          return SmallVector<Value>{};
        }, chains);
      };
      auto keyAt = [&](Value t) {
        return [&, t](Value j, int64_t i) {
          return readF32Vector(b, cache, stateAt(b, slots, t, {j, index(i * width)}), width);
        };
      };
      auto latentIsValue = [](Value, int64_t, Value key) { return key; };
      // A workgroup per (block of kLatentTokens tokens, group of heads).
      // Each head's slices of kv_b (its key rows for the absorbed queries,
      // its value rows for the output) are read, and fp8 decoded, once for
      // the block's tokens: per token they were 57% of the kernel at
      // DeepSeek-V3's widths. Slots past the call's tokens repeat its last
      // token (computed, never stored twice with another value).
      auto groupBody = [&](ValueRange ivs) {
        constexpr int64_t T = kLatentTokens;
        Value first = mul(ivs[0], T);
        Value last = arith::SubIOp::create(
            b, arith::MinUIOp::create(b, index(T), arith::SubIOp::create(b, tokens, first)),
            one);
        auto slotOf = [&](int64_t s) -> Value {
          return arith::MinUIOp::create(b, index(s), last);
        };
        Value ropeBuf = loops.scratch(rope, f32);
        // Per slot and head g of the group: its query [q~ | rope query] and
        // its softmax state (accumulators, maximum and sum) between blocks.
        Value queries = loops.scratch({T, group, kvRank + rope}, f32);
        Value accs = loops.scratch({T, group, kvRank}, f32);
        Value stats = loops.scratch({T, group, 2}, f32);
        auto headOf = [&](Value g) { return add(mul(ivs[1], group), g); };
        int64_t half = panel / 2;
        forLoop(zero, index(group), {}, [&](Value g, ValueRange) {
          Value h = headOf(g);
          // q~ of every slot, half a panel of latent columns at a time.
          absorbQueries(
              h, T, 1, half, [&](int64_t s) { return add(first, slotOf(s)); },
              [&](int64_t s, Value l, Value v) {
                vector::TransferWriteOp::create(b, v, queries, ValueRange{index(s), g, l},
                                                ArrayRef<bool>{true});
              });
          forLoop(zero, add(last, one), {}, [&](Value s, ValueRange) {
            ropeQuery(add(first, s), h, ropeBuf);
            forLoop(zero, index(rope), {}, [&](Value r, ValueRange) {
              store(load(ropeBuf, ValueRange{r}), queries,
                    ValueRange{s, g, add(index(kvRank), r)});
              return SmallVector<Value>{};
            });
            return SmallVector<Value>{};
          });
          return SmallVector<Value>{};
        });
        // The slots [setBegin, setEnd) over the cache of token `reader`'s
        // sequence.
        int64_t rowWidth = stagedRowsWidth(codegen, width);
        auto attend = [&](Value setBegin, Value setEnd, Value reader) {
          stagedRowsSoftmax(
              b, loops, group, kvRank + rope, kvRank, rowWidth, setBegin, setEnd,
              [&](Value s) { return add(positionOf(add(first, s)), one); }, scale,
              queries, accs, stats,
              [&](Value j, int64_t c) {
                return readF32Vector(b, cache, stateAt(b, slots, reader, {j, index(c)}),
                                     rowWidth);
              },
              {});
        };
        attendTokens(b, loops, tokens, slots, first, add(last, one), 1, attend);
        // o[s, h, i] = sum_l acc[s, g, l] kv_b[h (nope + v) + nope + i, l]
        // / sum, every slot's from each value row's vectors.
        forLoop(zero, index(group), {}, [&](Value g, ValueRange) {
          Value h = headOf(g);
          valueRows(
              h, T, 1, half,
              [&](int64_t s, Value l) {
                return readF32Vector(b, accs, {slotOf(s), g, l}, half);
              },
              [&](int64_t s, Value i, Value o) {
                Value total = load(stats, ValueRange{slotOf(s), g, one});
                store(arith::DivFOp::create(b, o, total), out,
                      ValueRange{add(first, slotOf(s)), add(mul(h, vDim), i)});
              });
          return SmallVector<Value>{};
        });
      };
      // A workgroup per (token, head), the softmax state in registers.
      auto headBody = [&](ValueRange ivs) {
        Value t = ivs[0], h = ivs[1];
        Value end = add(positionOf(t), one);
        Value ropeBuf = loops.scratch(rope, f32);
        Value absorbed = loops.scratch(kvRank, f32);
        Value acc = loops.scratch(kvRank, f32);
        if (vectorLatent) {
          absorbQueries(h, 1, headChains(kvRank / panel), panel, [&](int64_t) { return t; },
                        [&](int64_t, Value l, Value v) {
                          vector::TransferWriteOp::create(b, v, absorbed, l,
                                                          ArrayRef<bool>{true});
                        });
        } else {
          forLoop(zero, index(kvRank), {}, [&](Value l, ValueRange) {
            store(absorbedAt(t, h, l), absorbed, ValueRange{l});
            return SmallVector<Value>{};
          });
        }
        ropeQuery(t, h, ropeBuf);
        Value total;
        if (vectorLatent) {
          // Each cached latent row is read once, as kvRank / width vectors,
          // for both its score and the running sum, which stays in vector
          // registers across positions.
          SmallVector<Value> qv = readRowVectors(b, absorbed, {}, kvRank / width, width);
          if (ropeVectors)
            llvm::append_range(qv, readRowVectors(b, ropeBuf, {}, rope / width, width));
          auto dotRope = [&](Value j) { return dotRopeAt(t, ropeBuf, j); };
          total = vectorOnlineSoftmax(
              b, loops, qv, kvRank / width, end, scale, acc, keyAt(t), latentIsValue,
              ropeVectors ? function_ref<Value(Value)>() : function_ref<Value(Value)>(dotRope));
        } else {
          total = latentSoftmax(
              t, [&](Value l) { return load(absorbed, ValueRange{l}); }, ropeBuf, acc, end);
        }
        if (!vectorLatent) {
          forLoop(zero, index(vDim), {}, [&](Value i, ValueRange) {
            valueOut(t, h, i, [&](Value l) { return load(acc, ValueRange{l}); }, total);
            return SmallVector<Value>{};
          });
          return;
        }
        valueRows(h, 1, headChains(vDim), panel,
                  [&](int64_t, Value l) { return readF32Vector(b, acc, {l}, panel); },
                  [&](int64_t, Value i, Value o) {
                    store(arith::DivFOp::create(b, o, total), out,
                          ValueRange{t, add(mul(h, vDim), i)});
                  });
      };
      // A decode step, or a batch of them: flash decoding, every head
      // reading every latent row [latent | rope key], the row being its
      // key and its latent its value; the head's value rows from kv_b
      // after the splits are combined.
      FlashDecoding decodeForm{heads, heads, kvRank + rope, kvRank, /*valuesInKeys=*/true};
      // The latent row's vectors: the widest power of two up to a panel
      // dividing both its parts.
      int64_t rowWidth = std::max<int64_t>(codegen.panel, 1);
      while (kvRank % rowWidth || rope % rowWidth)
        rowWidth /= 2;
      auto decodeKernels = [&](Value count) {
        flashDecoding(
            b, loops, codegen, decodeForm, count, positionOf,
            [&](Value t, Value h, function_ref<void(Value, Value)> storeColumn) {
              // q~ and the rope query, scaled.
              absorbQueries(h, 1, headChains(kvRank / panel), panel,
                            [&](int64_t) { return t; },
                            [&](int64_t, Value l, Value v) {
                              for (int64_t i = 0; i < panel; ++i)
                                storeColumn(add(l, index(i)),
                                            fmul(vector::ExtractOp::create(b, v, i),
                                                 f32c(scale)));
                            });
              Value ropeBuf = loops.scratch(rope, f32);
              ropeQuery(t, h, ropeBuf);
              forLoop(zero, index(rope), {}, [&](Value r, ValueRange) {
                storeColumn(add(index(kvRank), r), fmul(load(ropeBuf, ValueRange{r}), f32c(scale)));
                return SmallVector<Value>{};
              });
            },
            [&](Value t, Value, Value j, Value r, Value keys, Value) {
              for (int64_t c = 0; c < kvRank + rope; c += rowWidth)
                vector::TransferWriteOp::create(
                    b, readF32Vector(b, cache, stateAt(b, slots, t, {j, index(c)}), rowWidth),
                    keys, ValueRange{r, index(c)}, ArrayRef<bool>{true});
            },
            [&](Value t, Value, Value j) {
              prefetchRow(b, cache, stateAt(b, slots, t, {j, zero}), kvRank + rope);
            },
            [&](Value t, Value h, Value acc, Value total) {
              valueRows(h, 1, headChains(vDim), panel,
                        [&](int64_t, Value l) { return readF32Vector(b, acc, {l}, panel); },
                        [&](int64_t, Value i, Value o) {
                          store(arith::DivFOp::create(b, o, total), out,
                                ValueRange{t, add(mul(h, vDim), i)});
                        });
            });
      };
      function_ref<void(Value)> decode;
      if (vectorLatent && decodeForm.fits(codegen))
        decode = decodeKernels;
      // A long prompt (several tokens of one sequence, more than
      // expandAbove): attention as transformers computes it, each head's
      // keys [k_nope | rope key] and values expanded from the cached
      // latents by kv_b, then blockedAttention per head (MHA: a workgroup
      // per (block of tokens, head)). Per (query, position) pair and head
      // that is qk + v_head_dim multiply-adds where the absorbed form takes
      // 2 kv_lora_rank + rope; the expansion costs kv_lora_rank (nope +
      // v_head_dim) per cached position and head (and kv_b packed once
      // more, for the linear kernel), which prompts longer than expandAbove
      // tokens repay. DeepSeek-V3: 170 tokens.
      int64_t pairSaving = (2 * kvRank + rope) - (qk + vDim);
      int64_t expandAbove =
          pairSaving > 0 ? llvm::divideCeil(kvRank * (nope + vDim), pairSaving) : 0;
      if (expandAbove <= 0 || !blockedFits(codegen, vDim)) {
        attentionKernels(b, loops, tokens, slots, heads, group, kLatentTokens, groupBody,
                         headBody, std::nullopt, decode);
      } else {
        int64_t expandedWidth = nope + vDim;
        Value longPrompt = arith::AndIOp::create(
            b, loops.severalOfOneSequence(tokens, slots),
            arith::CmpIOp::create(b, arith::CmpIPredicate::ugt, tokens, index(expandAbove)));
        // The sequence's cached latents up to the call's last token (a
        // prompt continuing a sequence expands the rows before it too:
        // call_start, the position of its first token, sizes them), as
        // f32 rows [position, kvRank] for the linear kernel.
        Value start = callStart(b, op);
        assert(start && "the pass adds call_start for MLA on the CPU");
        Value expandedRows = arith::SelectOp::create(b, longPrompt, add(start, tokens), zero);
        Value rows = memref::AllocOp::create(
            b, MemRefType::get({ShapedType::kDynamic, kvRank}, f32), ValueRange{expandedRows});
        loops.parallel("latent_rows", {expandedRows}, [&](ValueRange ivs) {
          for (int64_t c = 0; c < kvRank; c += rowWidth)
            vector::TransferWriteOp::create(
                b, readF32Vector(b, cache, stateAt(b, slots, zero, {ivs[0], index(c)}), rowWidth),
                rows, ValueRange{ivs[0], index(c)}, ArrayRef<bool>{true});
        });
        Value expanded = linear(
            b, loc, codegen,
            bufferization::ToTensorOp::create(
                b, RankedTensorType::get({ShapedType::kDynamic, kvRank}, f32), rows,
                /*restrict=*/true, /*writable=*/true),
            adaptor.getKvBProj());
        int64_t blockQueries = blockedQueries(codegen);
        int64_t blockTokens = kQueryGroups * blockQueries;
        auto expandedBody = [&](ValueRange ivs) {
          Value first = mul(ivs[0], blockTokens), h = ivs[1];
          Value count = arith::MinUIOp::create(b, index(blockTokens),
                                               arith::SubIOp::create(b, tokens, first));
          // Query g: token first + g (the call's last past its tokens:
          // computed, never stored).
          auto tokenOf = [&](Value g) -> Value {
            return add(first, arith::MinUIOp::create(b, g, arith::SubIOp::create(b, count, one)));
          };
          BlockedQueries io(loops, kQueryGroups, blockQueries, qk, vDim);
          Value ropeBuf = loops.scratch(rope, f32);
          forLoop(zero, index(blockTokens), {}, [&](Value g, ValueRange) {
            Value t = tokenOf(g);
            SmallVector<Value> slot = io.slot(b, g);
            forLoop(zero, index(nope), {}, [&](Value i, ValueRange) {
              Value qi = tensor::ExtractOp::create(b, q, ValueRange{t, add(mul(h, qk), i)});
              store(fmul(qi, f32c(scale)), io.queriesT, ValueRange{slot[0], i, slot[1]});
              return SmallVector<Value>{};
            });
            ropeQuery(t, h, ropeBuf);
            forLoop(zero, index(rope), {}, [&](Value r, ValueRange) {
              store(fmul(load(ropeBuf, ValueRange{r}), f32c(scale)), io.queriesT,
                    ValueRange{slot[0], add(index(nope), r), slot[1]});
              return SmallVector<Value>{};
            });
            store(arith::IndexCastUIOp::create(b, b.getI32Type(),
                                               add(positionOf(t), one)),
                  io.ends, slot);
            return SmallVector<Value>{};
          });
          // Position j's key [k_nope | rope key] and value, head h's, in
          // vectors of the widest power of two (up to a panel) dividing
          // the three widths.
          Value base = mul(h, expandedWidth);
          int64_t stageWidth = std::max<int64_t>(codegen.panel, 1);
          while (nope % stageWidth || rope % stageWidth || vDim % stageWidth)
            stageWidth /= 2;
          // A bf16 model's (its cache bf16): scores and P V by the dot
          // product, the computed keys and values rounded to bf16 as
          // staged, as its bf16 kv_b_proj gives them to transformers.
          BlockedSpan span;
          span.bf16Dot =
              codegen.bf16Dot && cast<MemRefType>(cache.getType()).getElementType().isBF16();
          // The rows ahead asked for in L2: a head's expanded rows lie a
          // row of every head apart (4 KB in the DeepSeek-V3-shaped
          // benchmark model), a page each, which the hardware prefetcher
          // does not follow (perf put a quarter of the kernel's samples
          // at 4000 tokens on the staging loads; the prefetches took 5 %
          // off the kernel).
          Value expandedBuffer = bufferization::ToBufferOp::create(
              b, MemRefType::get(cast<RankedTensorType>(expanded.getType()).getShape(), f32),
              expanded, /*readOnly=*/true);
          Value expandedEnd = tensor::DimOp::create(b, expanded, 0);
          auto prefetchExpanded = [&](Value j) {
            loops.ifElse(arith::CmpIOp::create(b, arith::CmpIPredicate::ult, j, expandedEnd),
                         [&] {
              prefetchRow(b, expandedBuffer, {j, base}, expandedWidth);
              prefetchRow(b, cache, stateAt(b, slots, zero, {j, index(kvRank)}), rope);
            }, [] {});
          };
          span.prefetchRow = prefetchExpanded;
          blockedAttention(
              b, loops, qk, vDim, io,
              [&](Value j, Value r, Value keys, Value values) {
                auto copy = [&](int64_t n, function_ref<Value(int64_t)> from, Value to,
                                int64_t at) {
                  for (int64_t i = 0; i < n; i += stageWidth)
                    vector::TransferWriteOp::create(b, from(i), to,
                                                    ValueRange{r, index(at + i)},
                                                    ArrayRef<bool>{true});
                };
                auto expandedAt = [&](int64_t i) {
                  return readF32Vector(b, expanded, {j, add(base, index(i))}, stageWidth);
                };
                copy(nope, expandedAt, keys, 0);
                copy(rope, [&](int64_t i) {
                  return readF32Vector(b, cache,
                                       stateAt(b, slots, zero, {j, index(kvRank + i)}),
                                       stageWidth);
                }, keys, nope);
                copy(vDim, [&](int64_t i) { return expandedAt(nope + i); }, values, 0);
              },
              span);
          forLoop(zero, count, {}, [&](Value g, ValueRange) {
            SmallVector<Value> slot = io.slot(b, g);
            Value total = load(io.totals, slot);
            forLoop(zero, index(vDim), {}, [&](Value i, ValueRange) {
              store(arith::DivFOp::create(b, load(io.accs, ValueRange{slot[0], slot[1], i}),
                                          total),
                    out,
                    ValueRange{add(first, g), add(mul(h, vDim), i)});
              return SmallVector<Value>{};
            });
            return SmallVector<Value>{};
          });
        };
        attentionKernels(b, loops, tokens, slots, heads, group, kLatentTokens, groupBody,
                         headBody, PromptKernel{blockTokens, 1, expandedBody, longPrompt},
                         decode);
      }
    }
    Value attended = bufferization::ToTensorOp::create(
        b, RankedTensorType::get({ShapedType::kDynamic, heads * vDim}, f32), out,
        /*restrict=*/true, /*writable=*/true);
    rewriter.replaceOp(op, linear(b, loc, codegen, attended, adaptor.getOProj()));
    return success();
  }
};

} // namespace

void populateAttentionLowerings(RewritePatternSet &patterns,
                                const TypeConverter &types,
                                const Codegen &codegen) {
  patterns.add<AttentionLowering, MLALowering>(types, patterns.getContext(),
                                               codegen);
}

} // namespace hybrid::lowering
