//===- CooperativeRows.cpp - row kernels as block kernels -----------------===//
//
// hybrid-cooperative-rows: a kernel whose workgroup is a row (a token) and
// whose work is loops over the row's columns -- the fused residual add and
// norm chains of hybrid-fuse-elementwise -- runs those loops as cooperative
// loops, which a GPU block's threads share (hybrid-kernels-to-gpu), instead
// of one thread walking the whole row: neighbouring threads then read
// neighbouring columns, and a decode step's norm has a block of threads
// instead of one. The norm's sum of squares (a loop over the columns into
// a one-element accumulator) becomes a cooperative reduction.
//
//===----------------------------------------------------------------------===//

#include "passes/LoopUtils.h"
#include "passes/Passes.h"

#include "mlir/IR/IRMapping.h"
#include "mlir/IR/Matchers.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

namespace hybrid {
#define GEN_PASS_DEF_COOPERATIVEROWSPASS
#include "passes/Passes.h.inc"
} // namespace hybrid

using namespace mlir;

namespace {
/// The loop over a kernel's workgroups: its one top-level scf.for from the
/// `begin` to the `end` argument.
scf::ForOp workgroupLoop(func::FuncOp kernel) {
  Block &body = kernel.getBody().front();
  scf::ForOp found;
  for (auto loop : body.getOps<scf::ForOp>()) {
    if (loop.getLowerBound() != body.getArgument(0) ||
        loop.getUpperBound() != body.getArgument(1) || found)
      return {};
    found = loop;
  }
  return found;
}

/// Whether every dimension of `loop` has constant bounds and runs exactly
/// one iteration (linalg's unit dimension of a row).
bool hasConstantTripCountOne(scf::ParallelOp loop) {
  for (auto [lb, ub, step] : llvm::zip(loop.getLowerBound(),
                                       loop.getUpperBound(), loop.getStep())) {
    APInt l, u, s;
    if (!matchPattern(lb, m_ConstantInt(&l)) ||
        !matchPattern(ub, m_ConstantInt(&u)) ||
        !matchPattern(step, m_ConstantInt(&s)) || s.getSExtValue() <= 0 ||
        (u.getSExtValue() - l.getSExtValue() + s.getSExtValue() - 1) /
                s.getSExtValue() !=
            1)
      return false;
  }
  return true;
}

/// Whether `op` at most reads memory (every thread of a block may run it).
bool readsOnly(Operation *op) {
  if (op->getNumRegions() != 0)
    return false;
  if (isMemoryEffectFree(op))
    return true;
  auto effects = dyn_cast<MemoryEffectOpInterface>(op);
  return effects && effects.onlyHasEffect<MemoryEffects::Read>();
}

/// Bytes of a static buffer, or nullopt.
std::optional<int64_t> staticBytes(MemRefType type) {
  if (!type.hasStaticShape() || !type.getElementType().isIntOrFloat())
    return std::nullopt;
  return type.getNumElements() *
         ((type.getElementType().getIntOrFloatBitWidth() + 7) / 8);
}

/// Whether `op` copies a buffer of static shape (a row: the residual kept
/// for the next layer at the rows that get logits), which copyAsLoop makes
/// a loop over its columns.
bool isRowCopy(Operation *op) {
  auto copy = dyn_cast<memref::CopyOp>(op);
  auto shaped = [](Value v) { return cast<MemRefType>(v.getType()).hasStaticShape(); };
  return copy && shaped(copy.getSource()) && shaped(copy.getTarget());
}

/// A row copy as the loop over its elements that a block's threads share.
void copyAsLoop(memref::CopyOp copy) {
  OpBuilder b(copy);
  Location loc = copy.getLoc();
  auto type = cast<MemRefType>(copy.getSource().getType());
  SmallVector<Value> lbs, ubs, steps;
  for (int64_t size : type.getShape()) {
    lbs.push_back(arith::ConstantIndexOp::create(b, loc, 0));
    ubs.push_back(arith::ConstantIndexOp::create(b, loc, size));
    steps.push_back(arith::ConstantIndexOp::create(b, loc, 1));
  }
  scf::ParallelOp::create(b, loc, lbs, ubs, steps,
                          [&](OpBuilder &nb, Location nloc, ValueRange ivs) {
    Value v = memref::LoadOp::create(nb, nloc, copy.getSource(), ivs);
    memref::StoreOp::create(nb, nloc, v, copy.getTarget(), ivs);
  });
  copy.erase();
}

/// Whether the workgroup body is a row kernel's: loops over columns
/// (nested scf.parallel without results), copies of rows, static buffers,
/// and ops that at most read memory between them; at least one loop with more than one
/// iteration; buffers (the kernel's entry scratch included) within
/// `budget` bytes of shared memory.
bool isRowKernel(func::FuncOp kernel, scf::ForOp workgroups, int64_t budget) {
  bool wide = false;
  int64_t bytes = 0;
  // Scratch at the kernel's entry may become the block's too.
  for (auto alloca : kernel.getBody().front().getOps<memref::AllocaOp>()) {
    std::optional<int64_t> size = staticBytes(alloca.getType());
    if (!size)
      return false;
    bytes += *size;
  }
  for (Operation &op : workgroups.getBody()->without_terminator()) {
    if (auto loop = dyn_cast<scf::ParallelOp>(&op)) {
      if (loop.getNumResults() != 0)
        return false;
      bool nested = loop.getBody()
                        ->walk([](Operation *inner) {
                          return isa<scf::ParallelOp, vector::ContractionOp>(
                                     inner)
                                     ? WalkResult::interrupt()
                                     : WalkResult::advance();
                        })
                        .wasInterrupted();
      if (nested)
        return false;
      wide |= !hasConstantTripCountOne(loop);
      continue;
    }
    if (auto alloc = dyn_cast<memref::AllocOp>(&op)) {
      std::optional<int64_t> size = staticBytes(alloc.getType());
      if (!size)
        return false;
      bytes += *size;
      continue;
    }
    if (isa<memref::DeallocOp>(&op) || isRowCopy(&op) || readsOnly(&op))
      continue;
    return false;
  }
  return wide && bytes <= budget;
}

/// `scf.parallel` of one iteration around `scf.for %k { %a = load %acc[I];
/// ...; store (addf %a, %t), %acc[I] }`, where only that load and store
/// touch %acc and %t does not depend on %a, becomes a cooperative
/// reduction over k of %t and a one-iteration loop adding it to %acc[I]:
/// the sum's terms are spread over the threads. Anything else is left.
void spreadSum(scf::ParallelOp loop) {
  Block *body = loop.getBody();
  if (body->getOperations().size() != 2)
    return;
  auto over = dyn_cast<scf::ForOp>(body->front());
  if (!over || over.getNumResults() != 0)
    return;
  // The accumulate: the store of (addf load, term) to what was loaded.
  auto store = dyn_cast<memref::StoreOp>(
      over.getBody()->getTerminator()->getPrevNode());
  if (!store)
    return;
  auto add = store.getValueToStore().getDefiningOp<arith::AddFOp>();
  if (!add || !add.getType().isF32())
    return;
  memref::LoadOp load;
  Value term;
  for (auto [mine, other] : {std::pair(add.getLhs(), add.getRhs()),
                             std::pair(add.getRhs(), add.getLhs())}) {
    auto candidate = mine.getDefiningOp<memref::LoadOp>();
    if (candidate && candidate.getMemRef() == store.getMemRef() &&
        candidate.getIndices() == store.getIndices() && !load) {
      load = candidate;
      term = other;
    }
  }
  if (!load || !load->hasOneUse() || !add->hasOneUse())
    return;
  Value acc = store.getMemRef();
  for (Value index : store.getIndices())
    if (over.getBodyRegion().isAncestor(index.getParentRegion()))
      return;
  // The rest of the body computes the term from loads of other buffers.
  for (Operation &op : over.getBody()->without_terminator()) {
    if (&op == load || &op == add || &op == store)
      continue;
    auto read = dyn_cast<memref::LoadOp>(op);
    if (op.getNumRegions() != 0 ||
        !(isMemoryEffectFree(&op) || (read && read.getMemRef() != acc)))
      return;
  }

  OpBuilder b(loop);
  Location loc = loop.getLoc();
  // The outer loop has one iteration: its variables are its lower bounds.
  IRMapping map;
  map.map(loop.getInductionVars(), loop.getLowerBound());
  Value zero = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0.0));
  auto sum = scf::ParallelOp::create(
      b, loc, ValueRange{over.getLowerBound()}, ValueRange{over.getUpperBound()},
      ValueRange{over.getStep()}, ValueRange{zero},
      [&](OpBuilder &nb, Location nloc, ValueRange ivs, ValueRange) {
        map.map(over.getInductionVar(), ivs[0]);
        for (Operation &op : over.getBody()->without_terminator())
          if (&op != load && &op != add && &op != store)
            nb.clone(op, map);
        auto reduce = scf::ReduceOp::create(nb, nloc, map.lookup(term));
        OpBuilder rb = OpBuilder::atBlockBegin(&reduce.getReductions()[0].front());
        Block &combiner = reduce.getReductions()[0].front();
        scf::ReduceReturnOp::create(
            rb, nloc,
            arith::AddFOp::create(rb, nloc, combiner.getArgument(0),
                                  combiner.getArgument(1))
                .getResult());
      });
  sum->setAttr(hybrid::kCooperativeAttr, b.getUnitAttr());
  // The one write: acc[I] += the sum, in a loop of one iteration.
  auto update = scf::ParallelOp::create(
      b, loc, loop.getLowerBound(), loop.getUpperBound(), loop.getStep(),
      [&](OpBuilder &nb, Location nloc, ValueRange ivs) {
        IRMapping at;
        at.map(loop.getInductionVars(), ivs);
        SmallVector<Value> indices;
        for (Value index : store.getIndices())
          indices.push_back(at.lookupOrDefault(index));
        Value old = memref::LoadOp::create(nb, nloc, acc, indices);
        memref::StoreOp::create(
            nb, nloc, arith::AddFOp::create(nb, nloc, old, sum.getResult(0)),
            acc, indices);
      });
  update->setAttr(hybrid::kCooperativeAttr, b.getUnitAttr());
  loop.erase();
}

struct CooperativeRowsPass
    : hybrid::impl::CooperativeRowsPassBase<CooperativeRowsPass> {
  using Base::Base;

  void runOnOperation() override {
    // hybrid-kernels-to-gpu adds a static buffer per block reduction (a
    // value per warp) beside the rows: room for 8 reductions of f32.
    int64_t budget =
        sharedMemoryBytes - 8 * hybrid::kWarpLanes * int64_t(sizeof(float));
    for (auto kernel : getOperation().getOps<func::FuncOp>()) {
      if (!kernel->hasAttr("hybrid.kernel") || kernel.isExternal())
        continue;
      scf::ForOp workgroups = workgroupLoop(kernel);
      if (!workgroups || !isRowKernel(kernel, workgroups, budget))
        continue;
      for (auto copy : llvm::to_vector(workgroups.getBody()->getOps<memref::CopyOp>()))
        copyAsLoop(copy);
      for (auto loop : llvm::to_vector(
               workgroups.getBody()->getOps<scf::ParallelOp>())) {
        if (hasConstantTripCountOne(loop))
          spreadSum(loop);
      }
      for (auto loop : workgroups.getBody()->getOps<scf::ParallelOp>())
        loop->setAttr(hybrid::kCooperativeAttr, UnitAttr::get(&getContext()));
    }
  }
};
} // namespace
