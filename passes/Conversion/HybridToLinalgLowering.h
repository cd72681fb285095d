//===- HybridToLinalgLowering.h - Shared by the lowerings -------*- C++ -*-===//
//
// Internal to convert-hybrid-to-linalg: what the op lowerings in its files
// share (the target's code-generation choices, the pattern base, the loop
// nests of the stateful ops' kernels and their tensor-core tiles, the
// helpers those use). Not a public API (hybrid-expand-warpgroup-mma takes
// its contract tiles from here, the same as the mma form's).
//
//===----------------------------------------------------------------------===//

#ifndef HYBRIDC_PASSES_CONVERSION_HYBRIDTOLINALGLOWERING_H
#define HYBRIDC_PASSES_CONVERSION_HYBRIDTOLINALGLOWERING_H

#include "passes/Passes.h"

#include "dialects/Hybrid/IR/HybridOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"
#include "mlir/Transforms/DialectConversion.h"

#include <functional>

namespace hybrid::lowering {
using namespace mlir;
using utils::IteratorType;
constexpr IteratorType kParallel = IteratorType::parallel;
constexpr IteratorType kReduction = IteratorType::reduction;

/// What the lowerings know of the target.
struct Codegen {
  /// Output rows per panel of a packed linear weight (0: weights are read
  /// in the checkpoint's [out, in] layout).
  int64_t panel = 0;
  /// Packed linear layers (and the grouped experts' kernels) run one
  /// workgroup per output column (and tile of kColumnTokens tokens, or per
  /// expert) instead of one per panel: the GPU form, where
  /// consecutive workgroups are consecutive threads, which then read
  /// consecutive columns of a panel (coalesced loads), and a decode GEMV
  /// has as many threads as outputs.
  bool columns = false;
  /// With columns: linear layers whose inputs and outputs are multiples of
  /// the tile (mmaFits; alone, grouped, or gate/up with an epilogue)
  /// compute their full tiles of kMmaTokens tokens as vector.contract
  /// tiles, a workgroup per (up to mmaLinearRowTiles token tiles,
  /// mmaExpertRowTiles for grouped experts; kBlockWarps panels) that the CUDA
  /// target runs as a block of warps on tensor cores, the tiles of x and
  /// the weights staged in shared memory (mmaWorkgroup,
  /// hybrid-mma-tiles-to-nvgpu), an epilogue in a kernel after; the tokens
  /// past the last full tile take the column form. The chunked delta rule
  /// too, where deltaRuleOnTensorCores, and prefill attention and MLA
  /// (flashAttentionTiles).
  bool mma = false;
  /// Shared memory one workgroup of a block form may hold (the chunked
  /// delta rule's, Mamba's chunked scan, the attention tiles): the GPU's
  /// limit for a block (the CUDA target's dynamic shared memory,
  /// hybrid-kernels-to-gpu).
  int64_t blockSharedBytes = hybrid::kBlockSharedBytes;
  /// With mma: bf16 linear layers' and grouped experts' full tiles as
  /// warpgroup products (hybrid.warpgroup_mma, sm_90a's wgmma): a
  /// workgroup of 4 token tiles (the experts' tile table then groups up to
  /// 4 of an expert's), each warp one of them across the 4 panels, x and
  /// the weights staged as 8x8 core matrices (warpgroupFits).
  bool warpgroup = false;
  /// With panel and without columns: bf16 linear layers' weights in pairs
  /// of inputs, multiplied by AVX512-BF16's dot product (bf16PairsFit).
  bool bf16Dot = false;
};

/// The mma form's tile: kMmaTokens x kMmaOutputs outputs (the tensor cores'
/// m16n8; its depth is mmaDepth).
constexpr int64_t kMmaTokens = 16, kMmaOutputs = 8;

/// Tokens per register tile of a packed linear layer: with `panel` outputs
/// per vector row, 6 accumulator rows fill 24 of AVX-512's 32 registers at
/// a panel of 64, 12 of AVX2's 16 at 16 (cpu-codegen.md 4.2).
constexpr int64_t kPackedTokens = 6;

/// Flags of the multiply-adds of a dot product: the sum may be reassociated
/// (and contracted to FMAs), which lets LLVM vectorise it.
constexpr arith::FastMathFlags kDotMath =
    arith::FastMathFlags::reassoc | arith::FastMathFlags::contract;

/// Padding of the rows of a block form's tile buffers, in f32 elements:
/// 16-byte rows for the tiles' ldmatrix loads, which also fall on distinct
/// banks.
constexpr int64_t kTileRowPad = 4;

/// Padding of the rows of a tile buffer that a block fills transposed (K^T
/// from key rows: neighbouring threads take neighbouring elements of a
/// source row, so they write neighbouring rows of the buffer): an odd row
/// length puts a warp's 32 stores in 32 banks, where rows of a multiple of
/// 32 floats put them all in one (32 shared-memory cycles a store).
constexpr int64_t kTransposedRowPad = 1;

/// The base of the layer-op lowerings: the op's pattern plus what the
/// target asks of the generated code.
template <typename Op>
struct HybridLowering : OpConversionPattern<Op> {
  HybridLowering(const TypeConverter &types, MLIRContext *context,
                 const Codegen &codegen)
      : OpConversionPattern<Op>(types, context), codegen(codegen) {}
  Codegen codegen;
};

/// `value` (a scalar or a vector) as f32 inside a loop body (weights may be
/// bf16, f16 or f32).
Value toF32(OpBuilder &b, Location loc, Value value);

/// A weight [lead..., out, in] as a kernel reads it in the checkpoint's
/// layout: the tensor itself, or for an fp8 block-quantized weight (the
/// dequantize kernel, see DequantizeLowering) its e4m3fn bytes and block
/// scales, decoded, scaled and rounded to the dequantized type as they are
/// read, so that no kernel writes the dequantized copy.
struct RowMajorWeight {
  Value data, scale;
  int64_t blockRows = 0, blockCols = 0;
  Type element;

  /// `w` as kernels that read it in vectors of up to `width` inputs see it:
  /// fp8 when each such vector stays inside a block of inputs.
  static RowMajorWeight of(Value w, int64_t width = 1);
  /// The weights at [lead..., o, k .. k + width) as vector<width x f32> (an
  /// f32 for width 0).
  Value read(OpBuilder &b, Location loc, ValueRange at, int64_t width) const;
  /// The stored values at `at` (any layout) as read returns them, an fp8
  /// weight scaled by scale[at's first `lead` indices..., row / blockRows,
  /// k / blockCols] (`row`, `k` the weight's output row and input).
  Value readScaled(OpBuilder &b, Location loc, ValueRange at, int64_t width,
                   size_t lead, Value row, Value k) const;
  /// An fp8 weight's block scale for output row `row`, input `k`:
  /// scale[at's first `lead` indices..., row / blockRows, k / blockCols].
  Value blockScale(OpBuilder &b, Location loc, ValueRange at, size_t lead, Value row,
                   Value k) const;
};
/// An f32 constant.
Value f32Constant(OpBuilder &b, Location loc, double value);
/// 1 / (1 + exp(-x)) of an f32.
Value sigmoid(OpBuilder &b, Location loc, Value x);
/// silu(x) = x * sigmoid(x), of an f32 or a vector of f32.
Value silu(OpBuilder &b, Location loc, Value x);
/// softplus(x) = log(1 + e^x), x above 20 (PyTorch's threshold), of an
/// f32 or a vector of f32.
Value softplus(OpBuilder &b, Location loc, Value x);
/// The f32 vector of `of(c0 + i)` for i < width: per-channel values for
/// the CPU's forms that take a block of channels at a time.
Value channelLanes(ImplicitLocOpBuilder &b, Value c0, int64_t width,
                   function_ref<Value(Value)> of);
/// acc + x * y as one step of a dot product: reassociable (kDotMath), so
/// that LLVM vectorises the loop it is in.
Value dotStep(OpBuilder &b, Location loc, Value acc, Value x, Value y);
/// An f32 tensor whose leading dimension is `rows`' leading dimension (the
/// token count) and whose other dimensions are `trailing`.
Value emptyLike(OpBuilder &b, Location loc, Value rows, ArrayRef<int64_t> trailing);
/// emptyLike filled with zeros.
Value zerosLike(OpBuilder &b, Location loc, Value rows, ArrayRef<int64_t> trailing);
/// RMSNorm of every row of x [tokens, dim] (models.md 0.1), in f32.
Value normalizeRows(OpBuilder &b, Location loc, Value x, Value weight,
                    Value gate, NormKind kind, double epsilon);
/// The entry block of the function `b` inserts into: where static scratch
/// goes (an alloca inside a loop would grow the stack every iteration).
Block *functionEntry(OpBuilder &b);
/// acc + a bTile for a [m, k] and bTile [k, n]: one tensor-core tile.
Value mmaContract(OpBuilder &b, Location loc, Value a, Value bTile, Value acc);
/// y[t, o] = sum_i x[t, i] * w[o, i]: a linear layer in the form the target
/// takes (see Codegen).
Value linear(OpBuilder &b, Location loc, const Codegen &codegen, Value x, Value w);
/// Work on a linear layer's outputs that its GEMV form does as it
/// finishes them: `consume(at, row, column, value)`, built at `at`'s
/// insertion point.
using GemvConsumer = llvm::function_ref<void(OpBuilder &, Value, Value, Value)>;
/// A linear layer's output and, where it has a GEMV form (GPU forms),
/// `consumed`: an i1 of the plan that holds for the calls that form runs
/// whole (1 to kGemvRows rows, no tensor-core tile: decode steps, batches
/// of them, short prompts).
struct ConsumedLinear {
  Value y, consumed;
};
/// linear(), whose GEMV form also gives each output of the calls it runs
/// whole to `consume`: in the last workgroup of the output's panel, a
/// thread per column, which takes the rows in order. Work on a column that
/// needs only its own state (a channel's conv or scan step) needs no
/// kernel of its own then; the caller's kernels run the other calls.
ConsumedLinear linearConsuming(OpBuilder &b, Location loc, const Codegen &codegen,
                               Value x, Value w, GemvConsumer consume);
/// x w^T for several weights of one input, as one kernel where it can;
/// `stage` names it.
SmallVector<Value> linears(OpBuilder &b, Location loc, const Codegen &codegen,
                           Value x, ArrayRef<Value> ws, StringRef stage);
/// The `hybrid.slots` argument of the function around `op`: present when
/// the pass batches the state buffers (max-batch > 1), else null.
Value slotsArgument(Operation *op);
/// The number of sequences among a call's tokens (the size of the
/// `hybrid.sequences` argument beside `slots`), computed at the function's
/// entry.
Value sequenceCount(OpBuilder &b, Value slots);
/// The position of the call's first token (the size of the function's
/// `hybrid.call_start` argument), computed at the function's entry; null
/// without that argument.
Value callStart(OpBuilder &b, Operation *op);
/// Indices into a state buffer for token `t`: behind the token's batch slot
/// (`slots[t]`) when the buffers are batched.
SmallVector<Value> stateAt(ImplicitLocOpBuilder &b, Value slots, Value t,
                           ValueRange indices);

/// Scalar loop nests on memrefs, shared by the reference lowerings of the
/// ops that carry state (attention, MLA, Gated DeltaNet, Mamba, MoE routing).
struct LoopNest {
  using Body = function_ref<SmallVector<Value>(Value, ValueRange)>;
  ImplicitLocOpBuilder &b;
  /// The entry block of the function being lowered, where scratch goes.
  Block *entry;

  /// `b` must point into the function, outside any loop under construction.
  explicit LoopNest(ImplicitLocOpBuilder &b) : b(b), entry(functionEntry(b)) {}

  Value index(int64_t v) { return arith::ConstantIndexOp::create(b, v); }
  /// A static scratch buffer allocated at the top of the enclosing function:
  /// an alloca inside a loop would grow the stack on every iteration.
  Value scratch(ArrayRef<int64_t> shape, Type element) {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(entry);
    return memref::AllocaOp::create(b, MemRefType::get(shape, element));
  }
  Value f32(double v) { return f32Constant(b, b.getLoc(), v); }
  /// for (iv_0, iv_1, ...) in [0, ubs[0]) x [0, ubs[1]) x ... with
  /// independent iterations: each writes only its own part of the outputs
  /// (and uses scratch only within the iteration), so hybrid-form-dispatches
  /// may spread them over threads.
  /// `stage` names the loop (a NameLoc around the op's location), so that
  /// its kernel is called e.g. forward__model_layers_0_linear_attn__conv.
  scf::ParallelOp parallel(StringRef stage, ValueRange ubs,
                           function_ref<void(ValueRange)> body) {
    SmallVector<Value> lbs(ubs.size(), index(0)), steps(ubs.size(), index(1));
    Location named = NameLoc::get(b.getStringAttr(stage), b.getLoc());
    return scf::ParallelOp::create(
        b, named, lbs, ubs, steps,
        [&](OpBuilder &nb, Location, ValueRange ivs) {
          OpBuilder::InsertionGuard guard(b);
          b.setInsertionPoint(nb.getInsertionBlock(), nb.getInsertionPoint());
          body(ivs);
        });
  }
  /// for (iv_0, ...) in [0, ubs[0]) x ... with independent iterations,
  /// inside a workgroup, shared by the workgroup's threads: a block form's
  /// phase (kCooperativeAttr). The threads meet after it, so the next phase
  /// may read what any iteration wrote. The workgroup writes memory only in
  /// such loops, and reaches each of them on every thread alike (its
  /// conditions and bounds the same on all threads); scratch used only
  /// inside one of them is private to an iteration, other scratch is the
  /// workgroup's (GPU shared memory).
  /// A dimension of one iteration runs as two, the second empty:
  /// canonicalize folds unit dimensions away (a loop of one with its
  /// cooperative mark) into the workgroup's body, which every thread runs.
  scf::ParallelOp cooperative(ValueRange ubs,
                              function_ref<void(ValueRange)> body) {
    SmallVector<Value> lbs(ubs.size(), index(0)), steps(ubs.size(), index(1));
    SmallVector<Value> bounds(ubs.begin(), ubs.end());
    SmallVector<size_t> units;
    for (size_t i = 0; i < bounds.size(); ++i)
      if (getConstantIntValue(bounds[i]) == 1) {
        bounds[i] = index(2);
        units.push_back(i);
      }
    auto loop = scf::ParallelOp::create(
        b, b.getLoc(), lbs, bounds, steps,
        [&](OpBuilder &nb, Location, ValueRange ivs) {
          OpBuilder::InsertionGuard guard(b);
          b.setInsertionPoint(nb.getInsertionBlock(), nb.getInsertionPoint());
          if (units.empty())
            return body(ivs);
          Value first;
          for (size_t i : units) {
            Value isFirst =
                arith::CmpIOp::create(b, arith::CmpIPredicate::eq, ivs[i], index(0));
            first = first ? arith::AndIOp::create(b, first, isFirst).getResult() : isFirst;
          }
          auto guarded = scf::IfOp::create(b, first, /*withElseRegion=*/false);
          b.setInsertionPoint(guarded.thenBlock()->getTerminator());
          body(ivs);
        });
    loop->setAttr(hybrid::kCooperativeAttr, b.getUnitAttr());
    return loop;
  }
  /// body(r, i) for r < rows, i < n as one phase of the block's threads
  /// (row r of a buffer of several, element i of it); a single row is a
  /// phase over i alone, r = 0, without a dimension of one (see
  /// cooperative).
  void rowsTogether(int64_t rows, Value n, function_ref<void(Value, Value)> body) {
    if (rows == 1) {
      Value r = index(0);
      cooperative({n}, [&](ValueRange i) { body(r, i[0]); });
      return;
    }
    cooperative({index(rows), n}, [&](ValueRange ri) { body(ri[0], ri[1]); });
  }
  /// A block form's phase that one thread runs (a serial step: a head's
  /// norm and rotation, a workgroup's last stores).
  void single(function_ref<void()> body) {
    cooperative({index(1)}, [&](ValueRange) { body(); });
  }
  /// A cooperative loop that copies what only a later step reads (the
  /// next step's slot of a double-buffered stage: kPrefetchAttr), its body
  /// run only if `live` (its bounds stay constant). On a GPU the threads do
  /// not meet after it, so its copies are in flight while the block works
  /// on the step before; they are complete at the barrier before the next
  /// step's prefetch.
  void prefetch(ValueRange ubs, Value live,
                function_ref<void(ValueRange)> body) {
    scf::ParallelOp loop = cooperative(ubs, [&](ValueRange ivs) {
      auto guard = scf::IfOp::create(b, live, /*withElseRegion=*/false);
      OpBuilder::InsertionGuard inside(b);
      b.setInsertionPoint(guard.thenBlock()->getTerminator());
      body(ivs);
    });
    loop->setAttr(hybrid::kPrefetchAttr, b.getUnitAttr());
  }
  /// for warp in [0, kBlockWarps): a block form's phase whose iterations
  /// are the block's warps (kWarpsAttr), each running its own
  /// vector.contract tiles. Like a cooperative loop, it writes only what
  /// no other warp reads in it; the threads meet after it.
  void warps(function_ref<void(Value)> body) {
    auto loop = scf::ParallelOp::create(
        b, b.getLoc(), ValueRange{index(0)}, ValueRange{index(hybrid::kBlockWarps)},
        ValueRange{index(1)}, [&](OpBuilder &nb, Location, ValueRange ivs) {
          OpBuilder::InsertionGuard guard(b);
          b.setInsertionPoint(nb.getInsertionBlock(), nb.getInsertionPoint());
          body(ivs[0]);
        });
    loop->setAttr(hybrid::kWarpsAttr, b.getUnitAttr());
  }
  /// A cooperative loop over [0, ub) whose iteration i gives `term(i)`,
  /// combined by `combine` from `identity` (which each GPU thread starts
  /// from: see hybrid-kernels-to-gpu for the combinations it takes): the
  /// block-wide sum, maximum or minimum, the same on every thread.
  Value cooperativeReduce(
      Value ub, Value identity, function_ref<Value(Value)> term,
      function_ref<Value(OpBuilder &, Location, Value, Value)> combine) {
    auto loop = scf::ParallelOp::create(
        b, b.getLoc(), ValueRange{index(0)}, ValueRange{ub},
        ValueRange{index(1)}, ValueRange{identity},
        [&](OpBuilder &nb, Location loc, ValueRange ivs, ValueRange) {
          OpBuilder::InsertionGuard guard(b);
          b.setInsertionPoint(nb.getInsertionBlock(), nb.getInsertionPoint());
          auto reduce = scf::ReduceOp::create(b, loc, ValueRange{term(ivs[0])});
          Block &combiner = reduce.getReductions()[0].front();
          OpBuilder rb = OpBuilder::atBlockBegin(&combiner);
          scf::ReduceReturnOp::create(
              rb, loc,
              combine(rb, loc, combiner.getArgument(0), combiner.getArgument(1)));
        });
    loop->setAttr(hybrid::kCooperativeAttr, b.getUnitAttr());
    return loop.getResult(0);
  }
  /// sum_{i < n} term(i) in f32: a block reduction shared by the
  /// workgroup's threads when `shared` (a block form's phase), else one
  /// thread's loop, over kSumLanes partial sums when they divide n, added
  /// pairwise at the end: one chain of dependent adds waits on each add's
  /// latency (Gated DeltaNet's sums of squares of q, k and the output
  /// rows: its CPU prompt kernel 1.19x faster).
  static constexpr int64_t kSumLanes = 8;
  Value sumOver(int64_t n, bool shared, function_ref<Value(Value)> term) {
    if (shared)
      return cooperativeReduce(
          index(n), f32(0.0), term,
          [](OpBuilder &rb, Location rl, Value l, Value r) -> Value {
            return arith::AddFOp::create(rb, rl, l, r);
          });
    auto add = [&](Value l, Value r) -> Value { return arith::AddFOp::create(b, l, r); };
    int64_t lanes = n % kSumLanes == 0 ? kSumLanes : 1;
    auto loop = forLoop(index(0), index(n), SmallVector<Value>(lanes, f32(0.0)),
                        [&](Value i, ValueRange partial) {
      SmallVector<Value> next;
      for (int64_t k = 0; k < lanes; ++k)
        next.push_back(add(partial[k], term(arith::AddIOp::create(b, i, index(k)))));
      return next;
    }, lanes);
    SmallVector<Value> sums(loop.getResults());
    for (int64_t width = lanes / 2; width > 0; width /= 2)
      for (int64_t k = 0; k < width; ++k)
        sums[k] = add(sums[k], sums[k + width]);
    return sums[0];
  }
  /// body(i) for each i < n: a cooperative loop when `shared`, else one
  /// thread's loop.
  void eachOf(int64_t n, bool shared, function_ref<void(Value)> body) {
    if (shared) {
      cooperative({index(n)}, [&](ValueRange i) { body(i[0]); });
      return;
    }
    forLoop(index(0), index(n), {}, [&](Value i, ValueRange) {
      body(i);
      return SmallVector<Value>{};
    });
  }
  /// `tile` on the rows [begin, end) in groups of `size` (the row indices
  /// of one group each call), then on the rows left over one at a time:
  /// register tiles of a fixed height plus their remainder.
  void rowTiles(Value begin, Value end, int64_t size,
                function_ref<void(ArrayRef<Value>)> tile) {
    Value count = arith::SubIOp::create(b, end, begin);
    Value full = arith::AddIOp::create(
        b, begin,
        arith::MulIOp::create(b, arith::DivUIOp::create(b, count, index(size)),
                              index(size)));
    auto each = [&](Value lb, Value ub, int64_t step,
                    function_ref<void(Value)> body) {
      scf::ForOp::create(b, b.getLoc(), lb, ub, index(step), ValueRange{},
                         [&](OpBuilder &nb, Location, Value first, ValueRange) {
                           OpBuilder::InsertionGuard guard(b);
                           b.setInsertionPoint(nb.getInsertionBlock(),
                                               nb.getInsertionPoint());
                           body(first);
                           scf::YieldOp::create(b);
                         });
    };
    each(begin, full, size, [&](Value first) {
      SmallVector<Value> rows;
      for (int64_t m = 0; m < size; ++m)
        rows.push_back(arith::AddIOp::create(b, first, index(m)));
      tile(rows);
    });
    each(full, end, 1, [&](Value row) { tile({row}); });
  }
  /// if (condition) then() else otherwise(), without results.
  void ifElse(Value condition, function_ref<void()> then,
              function_ref<void()> otherwise) {
    auto op = scf::IfOp::create(b, condition, /*withElseRegion=*/true);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPoint(op.thenBlock()->getTerminator());
    then();
    b.setInsertionPoint(op.elseBlock()->getTerminator());
    otherwise();
  }
  /// Whether a call's `tokens` are several tokens of one sequence (with
  /// `slots`: the call holds one sequence, sequenceCount): the calls the
  /// chunked forms of the scans run for.
  Value severalOfOneSequence(Value tokens, Value slots) {
    Value several =
        arith::CmpIOp::create(b, arith::CmpIPredicate::ugt, tokens, index(1));
    if (!slots)
      return several;
    return arith::AndIOp::create(b, several, oneSequence(slots, true));
  }
  /// Whether each of a call's `tokens` is its sequence's only one: a
  /// decode step or (with `slots`) a batch of them, one token of each of
  /// several sequences. The calls that the decode forms run: not
  /// severalOfOneSequence.
  Value eachAloneInSequence(Value tokens, Value slots) {
    Value one = arith::CmpIOp::create(b, arith::CmpIPredicate::eq, tokens, index(1));
    if (!slots)
      return one;
    return arith::OrIOp::create(b, one, oneSequence(slots, false));
  }
  /// Whether a call with batch `slots` holds one sequence's tokens (or,
  /// `!one`, several sequences'), from sequenceCount.
  Value oneSequence(Value slots, bool one) {
    return arith::CmpIOp::create(
        b, one ? arith::CmpIPredicate::eq : arith::CmpIPredicate::ne,
        sequenceCount(b, slots), index(1));
  }
  /// With batch `slots`, a decode form's workgroups along the call's
  /// sequences: one per token of a batch of decode steps (one token of
  /// each of several sequences, whose recurrences are independent), one
  /// for a call of one sequence, which walks its tokens in order.
  Value sequenceWorkgroups(Value tokens, Value slots) {
    return arith::SelectOp::create(b, oneSequence(slots, true), index(1), tokens);
  }
  /// The end of the tokens [first, end) that sequenceWorkgroups' workgroup
  /// `first` walks.
  Value sequenceEnd(Value first, Value tokens, Value slots) {
    return arith::SelectOp::create(b, oneSequence(slots, true), tokens,
                                   arith::AddIOp::create(b, first, index(1)));
  }
  /// `count` workgroups for a kernel of a form that runs calls of several
  /// tokens of one sequence (`several`: a scan's chunked form, prefill
  /// attention's tiles) or one that runs the other calls (decode, batches
  /// of decode steps), in the GPU forms, which have both; none for the
  /// calls of the other (severalOfOneSequence, which the plan knows).
  Value workgroupsFor(bool several, Value count, Value tokens, Value slots) {
    Value isSeveral = severalOfOneSequence(tokens, slots);
    Value none = index(0);
    return arith::SelectOp::create(b, isSeveral, several ? count : none,
                                   several ? none : count);
  }
  Value workgroupsFor(bool several, int64_t count, Value tokens, Value slots) {
    return workgroupsFor(several, index(count), tokens, slots);
  }
  /// The batch slot of a call of one sequence's tokens (its first token's),
  /// where its state is in batched buffers; null without slots.
  Value oneSequenceSlot(Value slots) {
    if (!slots)
      return Value();
    return arith::IndexCastOp::create(b, b.getIndexType(),
                                      tensor::ExtractOp::create(b, slots, index(0)));
  }
  /// sum_{i < n} a[aBase + i] * b[bBase + i] over 1-D buffers, reassociable
  /// so that LLVM vectorises it.
  Value dot(Value a, Value aBase, Value bm, Value bBase, int64_t n) {
    auto fastmath = arith::FastMathFlagsAttr::get(b.getContext(), kDotMath);
    return forLoop(index(0), index(n), {f32(0.0)}, [&](Value i, ValueRange acc) {
      Value x = memref::LoadOp::create(b, a, ValueRange{arith::AddIOp::create(b, aBase, i)});
      Value y = memref::LoadOp::create(b, bm, ValueRange{arith::AddIOp::create(b, bBase, i)});
      return SmallVector<Value>{arith::AddFOp::create(
          b, acc[0], arith::MulFOp::create(b, x, y, fastmath), fastmath)};
    }).getResult(0);
  }
  /// for iv in [lb, ub) by `step` carrying `init`; `body` returns the next
  /// values.
  scf::ForOp forLoop(Value lb, Value ub, ValueRange init, Body body,
                     int64_t step = 1) {
    return scf::ForOp::create(
        b, b.getLoc(), lb, ub, index(step), init,
        [&](OpBuilder &nb, Location, Value iv, ValueRange args) {
          OpBuilder::InsertionGuard guard(b);
          b.setInsertionPoint(nb.getInsertionBlock(), nb.getInsertionPoint());
          scf::YieldOp::create(b, body(iv, args));
        });
  }
  /// RoPE in place on buf[0, rotary) at `position` (index): pairs (j, j +
  /// rotary/2), or (2j, 2j + 1) when interleaved, turn by position *
  /// freqTable[j]; cos and sin are scaled by `factor` (YaRN).
  void rope(Value buf, int64_t rotary, Value position, Value freqTable,
            float factor, bool interleaved) {
    forLoop(index(0), index(rotary / 2), {}, [&](Value j, ValueRange) {
      ropePair(buf, {}, index(0), j, rotary, position, freqTable, factor, interleaved);
      return SmallVector<Value>{};
    });
  }
  /// Pair j of rope() on buf[row.., base + 0 .. rotary) (`row` empty for a
  /// 1-D buf): the block forms turn a row's pairs a thread each.
  void ropePair(Value buf, ValueRange row, Value base, Value j, int64_t rotary,
                Value position, Value freqTable, float factor, bool interleaved) {
    Value pos = arith::SIToFPOp::create(
        b, b.getF32Type(), arith::IndexCastOp::create(b, b.getI64Type(), position));
    Value angle = arith::MulFOp::create(
        b, pos, tensor::ExtractOp::create(b, freqTable, j));
    Value c = arith::MulFOp::create(b, math::CosOp::create(b, angle), f32(factor));
    Value s = arith::MulFOp::create(b, math::SinOp::create(b, angle), f32(factor));
    Value first = interleaved ? arith::MulIOp::create(b, j, index(2)).getResult() : j;
    Value second = interleaved
                       ? arith::AddIOp::create(b, first, index(1)).getResult()
                       : arith::AddIOp::create(b, j, index(rotary / 2)).getResult();
    auto at = [&](Value i) {
      SmallVector<Value> indices(row.begin(), row.end());
      indices.push_back(arith::AddIOp::create(b, base, i));
      return indices;
    };
    Value x1 = memref::LoadOp::create(b, buf, at(first));
    Value x2 = memref::LoadOp::create(b, buf, at(second));
    memref::StoreOp::create(b,
                            arith::SubFOp::create(b, arith::MulFOp::create(b, x1, c),
                                                  arith::MulFOp::create(b, x2, s)),
                            buf, at(first));
    memref::StoreOp::create(b,
                            arith::AddFOp::create(b, arith::MulFOp::create(b, x2, c),
                                                  arith::MulFOp::create(b, x1, s)),
                            buf, at(second));
  }
};

/// The tensor-core tiles of a block form (Codegen::mma): f32 tiles of
/// kMmaTokens rows x kMmaOutputs columns read from and written to 2-D
/// buffers (the block's shared memory on a GPU), their products over a
/// depth, and the tiles of a grid spread over the block's warps
/// (hybrid-mma-tiles-to-nvgpu makes the contracts mma.sync).
struct WarpTiles {
  ImplicitLocOpBuilder &b;
  LoopNest &loops;

  VectorType type(int64_t rows) {
    return VectorType::get({rows, kMmaOutputs}, b.getF32Type());
  }
  /// The rows x kMmaOutputs tile of `buf` at (row, column).
  Value read(Value buf, Value row, Value column, int64_t rows) {
    return vector::TransferReadOp::create(b, type(rows), buf,
                                          ValueRange{row, column}, loops.f32(0.0),
                                          ArrayRef<bool>{true, true});
  }
  Value zero() {
    return arith::ConstantOp::create(
        b, type(kMmaTokens),
        DenseElementsAttr::get(type(kMmaTokens), b.getF32FloatAttr(0.0)));
  }
  /// acc + A[aRow.., aColumn + k] B[bRow + k, bColumn..] over k in [0,
  /// depth): a warp's tile, kMmaOutputs deep a step.
  Value product(Value acc, Value a, Value aRow, Value aColumn, Value bm,
                Value bRow, Value bColumn, int64_t depth) {
    auto add = [&](Value l, Value r) -> Value { return arith::AddIOp::create(b, l, r); };
    return loops.forLoop(loops.index(0), loops.index(depth), {acc},
                         [&](Value k, ValueRange sum) {
      Value aTile = read(a, aRow, add(aColumn, k), kMmaTokens);
      Value bTile = read(bm, add(bRow, k), bColumn, kMmaOutputs);
      return SmallVector<Value>{mmaContract(b, b.getLoc(), aTile, bTile, sum[0])};
    }, kMmaOutputs).getResult(0);
  }
  /// Tiles [0, count) over the block's warps (warp w takes w, w +
  /// kBlockWarps, ...). When warps outnumber a round's tiles, the extra
  /// ones repeat the last tile without storing it (`owned` false), so that
  /// no warp branches around tensor-core work.
  void forTiles(Value warp, int64_t count, function_ref<void(Value, Value)> body) {
    int64_t rounds = llvm::divideCeil(count, hybrid::kBlockWarps);
    loops.forLoop(loops.index(0), loops.index(rounds), {}, [&](Value round, ValueRange) {
      auto [tile, owned] = roundTile(warp, round, count);
      body(tile, owned);
      return SmallVector<Value>{};
    });
  }

  /// One product of a tile's chain (see product): A's rows from aRow and
  /// columns from aColumn, B's rows from bRow and columns from bColumn,
  /// `depth` deep.
  struct Operands {
    Value a, aRow, aColumn, bm, bRow, bColumn;
    int64_t depth;
  };
  /// A warp's tiles at most this many at once in forTileProducts.
  static constexpr int64_t kTilesTogether = 4;
  /// Tiles [0, count) over the block's warps as forTiles, each tile
  /// init(tile) plus the products chain(tile) (the same depths for every
  /// tile), then done(tile, owned, result). A warp takes up to
  /// kTilesTogether of its tiles at once, their products interleaved step
  /// by step: a tensor-core product waits for the one before it on the
  /// same accumulator, so one tile after another is a single chain of
  /// depth / 8 dependent products where a warp's tiles side by side are
  /// independent ones. Each tile's sums are the same as forTiles' in the
  /// same order. Stores happen after all of a group's products, so a
  /// tile's products must not read what another tile of the grid stores
  /// (they run on other warps at the same time anyway).
  void forTileProducts(Value warp, int64_t count,
                       function_ref<Value(Value tile)> init,
                       function_ref<SmallVector<Operands>(Value tile)> chain,
                       function_ref<void(Value tile, Value owned, Value)> done) {
    int64_t rounds = llvm::divideCeil(count, hybrid::kBlockWarps);
    int64_t together = std::min(kTilesTogether, rounds);
    while (rounds % together != 0)
      --together;
    loops.forLoop(loops.index(0), loops.index(rounds / together), {},
                  [&](Value group, ValueRange) {
      SmallVector<Value> tiles, owned, sums;
      SmallVector<SmallVector<Operands>> chains;
      for (int64_t i = 0; i < together; ++i) {
        Value round = arith::AddIOp::create(
            b, arith::MulIOp::create(b, group, loops.index(together)), loops.index(i));
        auto [tile, own] = roundTile(warp, round, count);
        tiles.push_back(tile);
        owned.push_back(own);
        sums.push_back(init(tile));
        chains.push_back(chain(tile));
      }
      auto add = [&](Value l, Value r) -> Value { return arith::AddIOp::create(b, l, r); };
      for (size_t p = 0; p < chains.front().size(); ++p) {
        int64_t depth = chains.front()[p].depth;
        ValueRange next = loops.forLoop(loops.index(0), loops.index(depth), sums,
                                        [&](Value k, ValueRange acc) {
          SmallVector<Value> stepped;
          for (int64_t i = 0; i < together; ++i) {
            const Operands &o = chains[i][p];
            assert(o.depth == depth && "a group's tiles step together");
            Value aTile = read(o.a, o.aRow, add(o.aColumn, k), kMmaTokens);
            Value bTile = read(o.bm, add(o.bRow, k), o.bColumn, kMmaOutputs);
            stepped.push_back(mmaContract(b, b.getLoc(), aTile, bTile, acc[i]));
          }
          return stepped;
        }, kMmaOutputs).getResults();
        sums.assign(next.begin(), next.end());
      }
      for (int64_t i = 0; i < together; ++i)
        done(tiles[i], owned[i], sums[i]);
      return SmallVector<Value>{};
    });
  }
  /// A warp's tile of round `round` of a grid of `count` tiles, and
  /// whether the warp owns it (null when every round is whole): past the
  /// last tile it repeats the last (see forTiles).
  std::pair<Value, Value> roundTile(Value warp, Value round, int64_t count) {
    Value tile = arith::AddIOp::create(
        b, warp, arith::MulIOp::create(b, round, loops.index(hybrid::kBlockWarps)));
    if (count % hybrid::kBlockWarps == 0)
      return {tile, Value()};
    Value owned = arith::CmpIOp::create(b, arith::CmpIPredicate::ult, tile,
                                        loops.index(count));
    return {arith::MinUIOp::create(b, tile, loops.index(count - 1)), owned};
  }
  /// Tile `tile` of a grid of row tiles x `columnTiles` column tiles: its
  /// first row and column.
  std::pair<Value, Value> at(Value tile, int64_t columnTiles) {
    Value columns = loops.index(columnTiles);
    return {arith::MulIOp::create(b, arith::DivUIOp::create(b, tile, columns),
                                  loops.index(kMmaTokens)),
            arith::MulIOp::create(b, arith::RemUIOp::create(b, tile, columns),
                                  loops.index(kMmaOutputs))};
  }
  /// Stores `tile` at (row, column) of `buf`, only where `owned` (when
  /// given).
  void store(Value tile, Value buf, Value row, Value column, Value owned) {
    auto write = [&] {
      vector::TransferWriteOp::create(b, tile, buf, ValueRange{row, column},
                                      ArrayRef<bool>{true, true});
    };
    if (!owned)
      return write();
    loops.ifElse(owned, write, [] {});
  }
};

/// One token's step of the causal depthwise conv of channel c, `in` its
/// input (Gated DeltaNet's and Mamba's; see its definition).
void convStep(ImplicitLocOpBuilder &b, LoopNest &loops, Value c, Value t, Value in,
              Value weight, Value bias, Value convState, Value slots,
              int64_t kernel, Value out);
/// The causal depthwise conv of channel c over a call's tokens, token by
/// token (convStep for each).
void tokenByTokenConv(ImplicitLocOpBuilder &b, LoopNest &loops, Value c,
                      Value tokens, Value weight, Value bias, Value convState,
                      Value slots, int64_t kernel,
                      function_ref<Value(Value)> input, Value out);
/// The CPU's conv kernels: a prompt's in vectors of channels where they
/// fit, else token by token per channel (see its definition).
void cpuConv(ImplicitLocOpBuilder &b, LoopNest &loops, const Codegen &codegen,
             int64_t channels, int64_t run, Value tokens, Value weight, Value bias,
             Value convState, Value slots, int64_t kernel, Value input,
             function_ref<Value(Value)> columnOf, Value out);
/// The causal depthwise conv as the GPU forms run it (see its
/// definition). `bias` may be null; `input(t, c)` is channel c's input of
/// token t, in f32. With batch `slots` a call holds one sequence's tokens
/// or one token of each of several sequences (the runtime's prefill and
/// decode), and each sequence's state is at its slot.
struct ConvWindow {
  ImplicitLocOpBuilder &b;
  LoopNest &loops;
  Value tokens, weight, bias, convState;
  int64_t kernel;
  std::function<Value(Value, Value)> input;
  Value slots = {};

  /// silu(bias[c] + sum_j weight[c, 0, j] window[j]): channel c's output
  /// of token t.
  Value output(Value t, Value c);
  /// Moves channel c's state of the sequence whose first token in the call
  /// is `first` (null without slots: the call's one sequence) to its last
  /// K-1 inputs: after every read of it.
  void moveState(Value c, Value first);
  /// The kernels that write out [T, channels] and move the state, none
  /// for the calls where `elsewhere` (an i1, or null).
  void run(int64_t channels, Value out, Value elsewhere);

private:
  Value firstOf(Value t);
  SmallVector<Value> stateIndex(Value c, Value j, Value first);
  Value weightAt(Value c, Value j);
  Value kept(Value in);
  Value inputAt(Value c, Value first, Value back);
};

// Work that the last of several workgroups finishes (HybridToLinalg.cpp).

/// A zero-initialised i32 global of `count` entries, for lastOfSplits'
/// arrival counts (named after `stage`).
memref::GlobalOp arrivalCounts(OpBuilder &b, Location loc, StringRef stage,
                               int64_t count);
/// Runs `last` in the last of the `splits` workgroups of unit `unit` of
/// `counts` to get here, which then sets the count back to 0 (one split
/// is its own last). A block form's phase: every thread of the workgroup
/// reaches it alike.
void lastOfSplits(ImplicitLocOpBuilder &b, LoopNest &loops,
                  memref::GlobalOp counts, Value unit, int64_t splits,
                  function_ref<void()> last);

// Gated DeltaNet (GatedDeltaNet.cpp).

/// Value columns of a state that one workgroup of the GPU chunked delta
/// rule advances.
int64_t deltaRuleColumns(int64_t panel, int64_t dv);
/// Bytes of the chunk buffers that a workgroup of the per-thread block
/// form shares.
int64_t deltaRuleBlockBytes(int64_t chunk, int64_t dk, int64_t columns);
/// Whether the GPU form's chunked delta rule runs its products on tensor
/// cores.
bool deltaRuleOnTensorCores(const Codegen &codegen, int64_t chunk, int64_t dk,
                            int64_t dv, int64_t columns);
/// Adds the lowering of hybrid.gated_delta_net.
void populateGatedDeltaNetLowering(RewritePatternSet &patterns,
                                   const TypeConverter &types,
                                   const Codegen &codegen);

// Attention and MLA (Attention.cpp), Mamba (Mamba.cpp), the MoE ops
// (MoE.cpp).

/// Adds the lowerings of hybrid.attention and hybrid.mla.
void populateAttentionLowerings(RewritePatternSet &patterns,
                                const TypeConverter &types,
                                const Codegen &codegen);
/// Adds the lowering of hybrid.mamba.
void populateMambaLowering(RewritePatternSet &patterns, const TypeConverter &types,
                           const Codegen &codegen);
/// Adds the lowerings of hybrid.moe, hybrid.moe_route and hybrid.moe_experts.
void populateMoELowerings(RewritePatternSet &patterns, const TypeConverter &types,
                          const Codegen &codegen);

} // namespace hybrid::lowering

#endif // HYBRIDC_PASSES_CONVERSION_HYBRIDTOLINALGLOWERING_H
