//===- FuseElementwise.cpp - Row-wise fusion of linalg chains -------------===//
//
// hybrid-fuse-elementwise: a chain of linalg ops on tensors that share the
// leading (token) dimension -- an MoE layer's combine (its experts'
// weighted sum and gated shared expert), a residual add, the norm's sum of
// squares and the normalisation -- becomes one loop over rows, so that it
// is one dispatch instead of one per op and each row stays in cache
// between them. A gather of whole rows (the rows that get logits, after
// the last mixer's residual add) joins the chain too: its producers are
// computed only at the gathered rows.
// Generics that never read their output get a fresh (tensor.empty) one
// first, so that no input is copied to serve as an output.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"

#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/IR/Dominance.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Interfaces/TilingInterface.h"

namespace hybrid {
#define GEN_PASS_DEF_FUSEELEMENTWISEPASS
#include "passes/Passes.h.inc"
} // namespace hybrid

using namespace mlir;

namespace {
/// A linalg op on tensors whose outermost loop runs over the rows of its one
/// result: parallel, and the result's first index. (Inputs may be read
/// whole, like a norm's weight; readsRowByRow checks the ones that matter.)
bool isRowWise(linalg::LinalgOp op) {
  if (!op.hasPureTensorSemantics() || op.getNumLoops() < 1 ||
      op.getNumDpsInits() != 1 || op->getNumResults() != 1 ||
      op.getIteratorTypesArray().front() != utils::IteratorType::parallel)
    return false;
  // The result is indexed by d0 first, so a slice of rows of the result is
  // a slice of rows of the loop.
  AffineMap result = op.getIndexingMapMatchingResult(op->getResult(0));
  return result.getNumResults() >= 1 && result.getResult(0).isFunctionOfDim(0) &&
         result.getDimPosition(0) == 0;
}

/// Whether `user` reads `value` one row per row of its loop: every operand
/// holding `value` is indexed by d0 first.
bool readsRowByRow(linalg::LinalgOp user, Value value) {
  for (OpOperand &operand : user->getOpOperands()) {
    if (operand.get() != value)
      continue;
    AffineMap map = user.getMatchingIndexingMap(&operand);
    if (map.getNumResults() == 0 || !map.getResult(0).isFunctionOfDim(0) ||
        map.getDimPosition(0) != 0)
      return false;
  }
  return true;
}

/// The tensor whose whole rows `op` gathers, `y[r, :] = x[rows[r], :]`, as
/// select_rows lowers it: a generic whose one input is the row indices and
/// whose payload extracts x[index_cast(rows[r]), j]. Null for other ops.
Value gatheredTensor(linalg::LinalgOp op) {
  auto generic = dyn_cast<linalg::GenericOp>(op.getOperation());
  if (!generic || generic.getNumDpsInputs() != 1 || generic.getNumLoops() != 2 ||
      !generic.getIndexingMapsArray()[0].isFunctionOfDim(0))
    return {};
  Block &body = generic.getRegion().front();
  auto yield = cast<linalg::YieldOp>(body.getTerminator());
  auto extract = yield.getValues()[0].getDefiningOp<tensor::ExtractOp>();
  if (!extract || extract.getIndices().size() != 2 ||
      extract.getTensor().getType() != generic->getResult(0).getType())
    return {};
  auto row = extract.getIndices()[0].getDefiningOp<arith::IndexCastOp>();
  auto column = extract.getIndices()[1].getDefiningOp<linalg::IndexOp>();
  if (!row || row.getIn() != body.getArgument(0) || !column ||
      column.getDim() != 1)
    return {};
  return extract.getTensor();
}

/// The ops of the chain ending at `root` that fusion pulls into its loop.
struct Chain {
  DenseSet<Operation *> members;
  /// Members computed at the rows a member gather reads (rows[r] for loop
  /// row r) instead of at row r: the gather's source and its producers.
  DenseSet<Operation *> gathered;
  linalg::LinalgOp gather; // null when there is none
};

/// Row-wise producers in the same block (transitively) that one row of the
/// loop reads one row of, whose every other user is in the chain too, a
/// size query (answered from the producer's operands), or after the root
/// (the loop then yields the producer's rows to it). A gather's source
/// joins through the gather; it and its producers are computed only at the
/// gathered rows, so no user outside the chain may read them.
Chain chainOf(linalg::LinalgOp root, DominanceInfo &dominance) {
  Chain chain;
  chain.members.insert(root.getOperation());
  bool grew = true;
  while (grew) {
    grew = false;
    for (Operation &candidate : *root->getBlock()) {
      auto producer = dyn_cast<linalg::LinalgOp>(&candidate);
      if (!producer || chain.members.contains(producer) ||
          !isRowWise(producer) || !candidate.isBeforeInBlock(root))
        continue;
      Value result = producer->getResult(0);
      bool feedsChain = false, allowed = true, gatheredRows = false,
           plainRows = false;
      for (Operation *use : result.getUsers()) {
        // A gather reads its source in its payload.
        Operation *user = root->getBlock()->findAncestorOpInBlock(*use);
        if (chain.members.contains(user)) {
          auto linalgUser = cast<linalg::LinalgOp>(user);
          feedsChain = true;
          if (user == chain.gather && gatheredTensor(linalgUser) == result) {
            gatheredRows = true;
            continue;
          }
          (chain.gathered.contains(user) ? gatheredRows : plainRows) = true;
          allowed &= llvm::is_contained(linalgUser.getDpsInputs(), result) &&
                     readsRowByRow(linalgUser, result);
        } else {
          allowed &= isa<tensor::DimOp>(user) ||
                     dominance.properlyDominates(root.getOperation(), user);
        }
      }
      // Gathered rows are not the rows of the result: nothing else may
      // read them, and a producer is either gathered or not.
      allowed &= !(gatheredRows && plainRows);
      if (gatheredRows)
        allowed &= llvm::all_of(result.getUsers(), [&](Operation *use) {
          return chain.members.contains(
                     root->getBlock()->findAncestorOpInBlock(*use)) ||
                 isa<tensor::DimOp>(use);
        });
      if (!feedsChain || !allowed)
        continue;
      // One gather per chain: its rows are the loop's.
      if (!chain.gather && gatheredTensor(producer))
        chain.gather = producer;
      chain.members.insert(producer);
      if (gatheredRows)
        chain.gathered.insert(producer);
      grew = true;
    }
  }
  return chain;
}

/// Sizes of the chain's results queried ahead of the loop (tensor.dim) are
/// answered from the producers' operands, which the loop does not replace.
void resolveSizesBefore(IRRewriter &rewriter, Operation *producer,
                        Operation *loop) {
  SmallVector<tensor::DimOp> dims;
  for (Operation *user : producer->getUsers())
    if (auto dim = dyn_cast<tensor::DimOp>(user))
      if (dim->getBlock() == loop->getBlock() && dim->isBeforeInBlock(loop))
        dims.push_back(dim);
  for (tensor::DimOp dim : dims) {
    std::optional<int64_t> index = dim.getConstantIndex();
    ReifiedRankedShapedTypeDims shapes;
    rewriter.setInsertionPoint(dim);
    if (!index || failed(reifyResultShapes(rewriter, producer, shapes)))
      continue;
    auto result = cast<OpResult>(dim.getSource());
    rewriter.replaceOp(dim, getValueOrCreateConstantIndexOp(
                                rewriter, dim.getLoc(),
                                shapes[result.getResultNumber()][*index]));
  }
}

/// One row of `op`: iteration `row` of its outermost loop, the rest whole.
struct RowTile {
  SmallVector<OpFoldResult> offsets, sizes;
};
RowTile rowTile(OpBuilder &b, ArrayRef<Range> domain, Value row) {
  RowTile tile;
  for (auto [i, range] : llvm::enumerate(domain)) {
    tile.offsets.push_back(i == 0 ? OpFoldResult(row) : range.offset);
    tile.sizes.push_back(i == 0 ? OpFoldResult(b.getIndexAttr(1)) : range.size);
  }
  return tile;
}

struct FuseElementwisePass
    : hybrid::impl::FuseElementwisePassBase<FuseElementwisePass> {
  void runOnOperation() override {
    func::FuncOp func = getOperation();
    IRRewriter rewriter(&getContext());
    freshOutputs(rewriter, func);
    // Roots from the last op up: a producer shared with a later chain is
    // pulled into that one first, so what remains of it lies after the
    // earlier roots.
    SmallVector<linalg::LinalgOp> roots;
    func.walk([&](linalg::LinalgOp op) {
      if (op->getParentOp() == func.getOperation() && isRowWise(op))
        roots.push_back(op);
    });
    DenseSet<Operation *> erased;
    for (linalg::LinalgOp root : llvm::reverse(roots)) {
      if (erased.contains(root))
        continue;
      DominanceInfo dominance(func);
      Chain found = chainOf(root, dominance);
      // A lone op gains nothing from being moved into a loop.
      if (found.members.size() < 2)
        continue;
      SmallVector<Operation *> chain;
      for (Operation &op : *root->getBlock())
        if (found.members.contains(&op))
          chain.push_back(&op);
      fuseIntoRows(rewriter, chain, found, erased);
    }
  }

  /// A generic whose payload never reads its output (a residual add from
  /// convert-elementwise-to-linalg, which reuses an input as the output)
  /// writes into a fresh tensor instead: the fused loop then reads the
  /// input's row and writes another buffer, and bufferization need not
  /// copy the whole input first.
  static void freshOutputs(IRRewriter &rewriter, func::FuncOp func) {
    func.walk([&](linalg::GenericOp op) {
      if (!op.hasPureTensorSemantics())
        return;
      for (OpOperand &init : op.getDpsInitsMutable()) {
        if (op.payloadUsesValueFromOperand(&init) ||
            init.get().getDefiningOp<tensor::EmptyOp>())
          continue;
        rewriter.setInsertionPoint(op);
        SmallVector<OpFoldResult> sizes =
            tensor::getMixedSizes(rewriter, op.getLoc(), init.get());
        auto type = cast<RankedTensorType>(init.get().getType());
        Value empty = tensor::EmptyOp::create(rewriter, op.getLoc(), sizes,
                                              type.getElementType());
        rewriter.modifyOpInPlace(op, [&] { init.set(empty); });
      }
    });
  }

  /// One row of chain member `op` at `tile`, its inputs computed in the loop
  /// read from there (`rowOf`), written into the loop's result `out` when
  /// the loop yields it, else into a per-row copy of a filled accumulator.
  static FailureOr<Value> rowOfMember(IRRewriter &rewriter, Operation *op,
                                      const RowTile &tile,
                                      const IRMapping &rowOf,
                                      BlockArgument out) {
    FailureOr<TilingResult> tiled =
        cast<TilingInterface>(op).getTiledImplementation(rewriter, tile.offsets,
                                                         tile.sizes);
    if (failed(tiled) || tiled->tiledOps.size() != 1)
      return failure();
    Operation *rowOp = tiled->tiledOps.front();
    auto rowDps = cast<DestinationStyleOpInterface>(rowOp);
    for (OpOperand *input : rowDps.getDpsInputOperands()) {
      auto slice = input->get().getDefiningOp<tensor::ExtractSliceOp>();
      if (!slice)
        continue;
      if (Value inLoop = rowOf.lookupOrNull(slice.getSource());
          inLoop && inLoop.getType() == input->get().getType())
        input->set(inLoop);
    }
    OpOperand &init = *rowDps.getDpsInitOperand(0);
    auto initSlice = init.get().getDefiningOp<tensor::ExtractSliceOp>();
    if (out && initSlice) {
      rewriter.modifyOpInPlace(initSlice,
                               [&] { initSlice.getSourceMutable().set(out); });
    } else if (initSlice) {
      if (auto fill = initSlice.getSource().getDefiningOp<linalg::FillOp>()) {
        // A buffer of its own (cse merges equal tensor.empty ops, not
        // allocations): two accumulators filled alike in one row, such
        // as an MoE gate's dot product and the norm's sum of squares,
        // would otherwise share one tensor, which bufferization copies.
        OpBuilder::InsertionGuard guard(rewriter);
        rewriter.setInsertionPoint(rowOp);
        auto rowType = cast<RankedTensorType>(initSlice.getType());
        SmallVector<Value> dynamicSizes;
        for (OpFoldResult size : initSlice.getMixedSizes())
          if (auto value = dyn_cast<Value>(size))
            dynamicSizes.push_back(value);
        Value buffer = bufferization::AllocTensorOp::create(
            rewriter, initSlice.getLoc(), rowType, dynamicSizes);
        auto rowFill = linalg::FillOp::create(rewriter, fill.getLoc(),
                                              fill.getInputs(), ValueRange{buffer});
        init.set(rowFill.getResult(0));
      }
    }
    return tiled->tiledValues.front();
  }

  /// Replaces `chain` (in block order, ending at its root) by one scf.forall
  /// over the root's rows computing every member's row; members used after
  /// the root are yielded.
  static void fuseIntoRows(IRRewriter &rewriter, ArrayRef<Operation *> chain,
                           const Chain &of, DenseSet<Operation *> &erased) {
    const DenseSet<Operation *> &members = of.members;
    Operation *root = chain.back();
    auto usedOutside = [&](Operation *op) {
      return op == root || llvm::any_of(op->getUsers(), [&](Operation *use) {
               // (A gather reads its source in its payload.)
               Operation *user = root->getBlock()->findAncestorOpInBlock(*use);
               return !members.contains(user) && !isa<tensor::DimOp>(use);
             });
    };
    SmallVector<Operation *> yielded;
    SmallVector<Value> destinations;
    for (Operation *op : chain)
      if (usedOutside(op)) {
        yielded.push_back(op);
        destinations.push_back(
            cast<DestinationStyleOpInterface>(op).getDpsInits().front());
      }

    // Loop ranges ahead of the loop (sizes of members are resolved later).
    rewriter.setInsertionPoint(root);
    Location loc = root->getLoc();
    DenseMap<Operation *, SmallVector<Range>> domains;
    for (Operation *op : chain)
      domains[op] = cast<TilingInterface>(op).getIterationDomain(rewriter);
    OpFoldResult rows = domains[root].front().size;
    auto loop = scf::ForallOp::create(rewriter, loc, ArrayRef{rows},
                                      destinations, std::nullopt);
    Value row = loop.getInductionVar(0);
    rewriter.setInsertionPointToStart(loop.getBody());
    // The row the gather reads for this one: where its source's producers
    // compute theirs.
    linalg::LinalgOp gather = of.gather;
    Value gatheredRow;
    if (!of.gathered.empty()) {
      Value index = tensor::ExtractOp::create(
          rewriter, loc, gather.getDpsInputs()[0], ValueRange{row});
      gatheredRow = arith::IndexCastOp::create(rewriter, loc,
                                               rewriter.getIndexType(), index);
    }

    IRMapping rowOf; // a member's result -> its row inside the loop
    for (Operation *op : chain) {
      RowTile tile = rowTile(rewriter, domains[op],
                             of.gathered.contains(op) ? gatheredRow : row);
      auto position = llvm::find(yielded, op);
      Value rowValue;
      if (op == gather &&
          of.gathered.contains(gatheredTensor(gather).getDefiningOp())) {
        // The gather of a gathered source is that source's row.
        rowValue = rowOf.lookup(gatheredTensor(gather));
      } else {
        BlockArgument out;
        if (position != yielded.end())
          out = loop.getRegionIterArgs()[position - yielded.begin()];
        FailureOr<Value> tiled = rowOfMember(rewriter, op, tile, rowOf, out);
        if (failed(tiled)) {
          // Not fusing is always correct: drop the loop, keep the ops.
          rewriter.eraseOp(loop);
          return;
        }
        rowValue = *tiled;
      }
      rowOf.map(op->getResult(0), rowValue);
      if (position == yielded.end())
        continue;
      SmallVector<OpFoldResult> offsets, sizes;
      if (failed(cast<TilingInterface>(op).getResultTilePosition(
              rewriter, 0, tile.offsets, tile.sizes, offsets, sizes))) {
        rewriter.eraseOp(loop);
        return;
      }
      OpBuilder::InsertionGuard guard(rewriter);
      rewriter.setInsertionPointToEnd(loop.getTerminator().getBody());
      BlockArgument out = loop.getRegionIterArgs()[position - yielded.begin()];
      SmallVector<OpFoldResult> strides(offsets.size(), rewriter.getIndexAttr(1));
      tensor::ParallelInsertSliceOp::create(rewriter, loc, rowValue, out,
                                            offsets, sizes, strides);
    }

    // From the root up: resolving a member's sizes may query its operands'.
    for (Operation *op : llvm::reverse(chain))
      resolveSizesBefore(rewriter, op, loop);
    for (auto [op, result] : llvm::zip(yielded, loop.getResults()))
      rewriter.replaceUsesWithIf(op->getResult(0), result, [&](OpOperand &use) {
        return !members.contains(use.getOwner()) &&
               !loop->isAncestor(use.getOwner());
      });
    // Slices of the originals that the rows made unnecessary.
    SmallVector<Operation *> leftovers;
    loop->walk([&](Operation *op) {
      if (isOpTriviallyDead(op))
        leftovers.push_back(op);
    });
    for (Operation *op : llvm::reverse(leftovers))
      rewriter.eraseOp(op);
    for (Operation *op : llvm::reverse(chain))
      if (op->use_empty()) {
        erased.insert(op);
        rewriter.eraseOp(op);
      }
  }
};
} // namespace
