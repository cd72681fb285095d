//===- MoE.cpp - hybrid.moe, moe_route and moe_experts to loops -*- C++ -*-===//
//
// convert-hybrid-to-linalg's Mixture-of-Experts lowerings: the routing
// (scores, groups, top-k), the grouping of (token, slot) pairs by expert
// (a counting sort), the grouped experts' SwiGLU in the linear layers'
// forms, and the weighted combine with the shared expert.
//
//===----------------------------------------------------------------------===//

#include "passes/Conversion/LinearForms.h"

#include "dialects/Hybrid/IR/HybridOps.h"

#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/AffineMap.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"
#include "mlir/Transforms/DialectConversion.h"

#include <limits>

using namespace mlir;
using namespace hybrid;

namespace hybrid::lowering {

/// The GPU forms' MoE grouping (its block): at most this many runs of the
/// tokens, a thread each, their per-expert counts (i32) within this many
/// bytes of the block's shared memory.
constexpr int64_t kSortSpans = 32, kSortSpanBytes = 8 * 1024;


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
  /// broadcast FMA per row. Gate and up share the tile of 6 rows (a loop
  /// over the inputs each: panelProducts), SiLU(gate) * up is stored to
  /// activations[t, j, panel]; the down projection (6 rows) reads those
  /// rows and stores
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
    // with no full tile launches none of these kernels. An expert takes a
    // token at most once, so a call of fewer tokens than a tile's rows (a
    // decode step, a batch of several sequences' steps, a short prompt) has
    // none, however many entries its tokens route.
    int64_t groupRows = kMmaTokens * mmaExpertRowTiles(codegen);
    Value tokens = tensor::DimOp::create(b, x, 0);
    Value maxTiles = arith::SelectOp::create(
        b, arith::CmpIOp::create(b, arith::CmpIPredicate::ult, tokens, tileRows), zero,
        arith::DivUIOp::create(b, entries, tileRows));
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
                      const PackableWeight &down, bool pairs, Value x,
                      const ExpertGroups &groups, Value activations,
                      Value expertOut) {
    Value offsets = groups.offsets, entryToken = groups.entryToken,
          entrySlot = groups.entrySlot;
    int64_t panel = codegen.panel;
    auto gateType = gate.type();
    int64_t experts = gateType.getDimSize(0), inter = gateType.getDimSize(1),
            hidden = gateType.getDimSize(2);
    PackedWeight gatePacked = packedCopy(b, gate, panel, pairs),
                 upPacked = packedCopy(b, up, panel, pairs),
                 downPacked = packedCopy(b, down, panel, pairs);
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
    // `scratch` from stagedPanelScratch then. parkAt(m, entry): where
    // panelProducts may keep the sums of the first of two weights of the
    // tile's row m, entry `entry`. Weights in pairs take inputs in pairs
    // (inputsOf: pairSplat's, i in [0, in / 2)). oneRowInputsOf, where
    // given, reads the inputs of entries taken one at a time.
    auto panelEntries = [&](ArrayRef<PackedWeight> weights, Value e, Value p,
                            int64_t in, int64_t rows,
                            std::pair<Value, Value> scratch, RowInputs inputsOf,
                            function_ref<ParkedSums(int64_t, Value)> parkAt,
                            function_ref<void(Value, ValueRange)> finish,
                            RowInputs oneRowInputsOf = nullptr) {
      size_t n = weights.size();
      PanelOrder order = PanelOrder::of(weights);
      auto direct = [&](Value first, Value last) {
        loops.rowTiles(first, last, rows, [&](ArrayRef<Value> at) {
          SmallVector<Value> init(at.size() * n, vzero);
          SmallVector<std::function<Value(Value)>> inputs;
          for (Value entry : at)
            inputs.push_back(at.size() == 1 && oneRowInputsOf ? oneRowInputsOf(entry)
                                                              : inputsOf(entry));
          auto sums = panelProducts(
              b, order, at.size(), n, init, zero, index(pairs ? in / 2 : in),
              [&](Value k, int64_t w) {
                ValueRange row{e, p, k, zero};
                if (pairs)
                  return weights[w].readPairs(b, b.getLoc(), row);
                return order.read(b, b.getLoc(), weights[w], row);
              },
              [&](int64_t m, Value k) { return inputs[m](k); },
              [&](int64_t m) { return parkAt(m, at[m]); });
          for (auto [m, entry] : llvm::enumerate(at))
            finish(entry, ArrayRef(sums).slice(m * n, n));
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
    int64_t gateUpRows = kPackedTokens, downRows = kPackedTokens;
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
    // In pairs: the full tiles' x rounded to bf16 once (bf16Input); the
    // gate's sums of a tile wait in a scratch tile (the activations are
    // bf16).
    Value rounded = pairs ? bf16Input(b, b.getLoc(), x, "expert_gate_up") : Value();
    Value parked = pairs ? loops.scratch({gateUpRows, panel}, f32) : Value();
    // An entry taken alone (decode's, an expert's last few) reads x as is,
    // rounded as read: a call of fewer tokens than a tile has no `rounded`.
    auto oneRowX = [&](Value entry) -> std::function<Value(Value)> {
      return [this, x, token = tokenOf(entry)](Value k) -> Value {
        return pairSplat(b, b.getLoc(), x, {token}, k);
      };
    };
    loops.parallel("expert_gate_up",
                   {index(llvm::divideCeil(inter, panel)), index(experts)},
                   [&](ValueRange ivs) {
      Value p = ivs[0], e = ivs[1];
      Value o0 = arith::MulIOp::create(b, p, index(panel));
      panelEntries(
          {gatePacked, upPacked}, e, p, hidden, gateUpRows, gateUpScratch,
          [&](Value entry) -> std::function<Value(Value)> {
            return [this, x, rounded, pairs, token = tokenOf(entry)](Value k) -> Value {
              if (pairs)
                return pairSplat(b, b.getLoc(), rounded, {token}, k);
              return tensor::ExtractOp::create(b, x, ValueRange{token, k});
            };
          },
          [&](int64_t m, Value entry) -> ParkedSums {
            if (pairs)
              return {parked, {index(m), zero}, true};
            // The entry's activations, where SiLU(gate) * up goes.
            return {activations, {tokenOf(entry), slotOf(entry), o0},
                    inter % panel == 0};
          },
          [&](Value entry, ValueRange sums) {
            Value act = arith::MulFOp::create(b, silu(b, b.getLoc(), sums[0]), sums[1]);
            if (pairs)
              act = arith::TruncFOp::create(
                  b, VectorType::get({panel}, b.getBF16Type()), act);
            vector::TransferWriteOp::create(
                b, act, activations, ValueRange{tokenOf(entry), slotOf(entry), o0},
                ArrayRef<bool>{inter % panel == 0});
          },
          pairs ? RowInputs(oneRowX) : RowInputs());
    });
    loops.parallel("expert_down",
                   {index(llvm::divideCeil(hidden, panel)), index(experts)},
                   [&](ValueRange ivs) {
      Value p = ivs[0], e = ivs[1];
      Value o0 = arith::MulIOp::create(b, p, index(panel));
      panelEntries(
          {downPacked}, e, p, inter, downRows, downScratch,
          [&](Value entry) -> std::function<Value(Value)> {
            return [this, activations, pairs, token = tokenOf(entry),
                    slot = slotOf(entry)](Value k) -> Value {
              if (pairs)
                return pairSplat(b, b.getLoc(), activations, {token, slot}, k);
              return memref::LoadOp::create(b, activations,
                                            ValueRange{token, slot, k});
            };
          },
          /*parkAt=*/nullptr,
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
    auto gateWeight = packableSource(codegen, gate, /*experts=*/true);
    auto upWeight = packableSource(codegen, up, /*experts=*/true);
    auto downWeight = packableSource(codegen, down, /*experts=*/true);
    bool packed = gateWeight && upWeight && downWeight;
    // Weights in pairs (AVX512-BF16's dot product) read the activations
    // in bf16, rounded as they are stored.
    bool inPairs =
        packed && bf16PairsFit(codegen, {*gateWeight, *upWeight, *downWeight});
    Value activations = memref::AllocOp::create(
        b,
        MemRefType::get({ShapedType::kDynamic, topK, inter},
                        inPairs ? b.getBF16Type() : f32),
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
    if (packed) {
      groupedExperts(*gateWeight, *upWeight, *downWeight, inPairs, x,
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
    // On a GPU the one thread per token would run all of the router's dot
    // products (Qwen3-Next: 512 x 2048 per token) serially: the router runs
    // first as a linear layer (a thread per expert), the routing kernel
    // reads its logits.
    Value logits = codegen.columns ? linear(b, op.getLoc(), codegen, x, router) : Value();
    auto [chosen, weights] = kernels.route(
        x, routingSpec(op, experts, adaptor.getSelectionBias()),
        [&](Value t, Value e) -> Value {
          if (logits)
            return tensor::ExtractOp::create(b, logits, ValueRange{t, e});
          return kernels.dot(router, {e}, x, {t}, hidden);
        });
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

void populateMoELowerings(RewritePatternSet &patterns, const TypeConverter &types,
                          const Codegen &codegen) {
  patterns.add<MoELowering, MoERouteLowering, MoEExpertsLowering>(types, patterns.getContext(),
                                                                  codegen);
}

} // namespace hybrid::lowering
