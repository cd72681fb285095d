//===- OffloadHostWork.cpp - the plan's own buffer work into loops --------===//
//
// hybrid-offload-host-work: on a GPU the plan runs on the host while every
// buffer lives in device memory, so the plan may allocate, free and
// dispatch, but not read or write a buffer. Before hybrid-form-dispatches
// this pass turns what the plan does to buffers itself into parallel loops,
// which then become kernels like every other loop:
//
//   * a `memref.copy` becomes a parallel loop over the copied elements, a
//     `bufferization.clone` an allocation and such a loop;
//   * a run of other ops that read or write buffers (the MoE grouping's
//     counting sort, for one) becomes the body of a one-iteration
//     `scf.parallel`: one GPU thread runs it in order;
//   * a `memref.alloca` of the plan used outside one parallel loop becomes
//     a `memref.alloc` (freed before each return): the host stack is not
//     device memory. Scratch of one loop stays: each kernel call gets its
//     own copy.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"

#include "dialects/Hybrid/IR/HybridOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

namespace hybrid {
#define GEN_PASS_DEF_OFFLOADHOSTWORKPASS
#include "passes/Passes.h.inc"
} // namespace hybrid

using namespace mlir;

namespace {
/// Whether `op` (or an op nested in it) reads or writes memory. An op
/// that says nothing about its effects counts as touching memory.
bool touchesBuffers(Operation *op) {
  bool touches = false;
  op->walk([&](Operation *nested) {
    if (isa<hybrid::DispatchOp>(nested))
      return WalkResult::advance();
    auto effects = dyn_cast<MemoryEffectOpInterface>(nested);
    if (!effects) {
      if (nested->hasTrait<OpTrait::HasRecursiveMemoryEffects>() ||
          nested->hasTrait<OpTrait::IsTerminator>())
        return WalkResult::advance();
      touches = true;
      return WalkResult::interrupt();
    }
    if (effects.hasEffect<MemoryEffects::Read>() ||
        effects.hasEffect<MemoryEffects::Write>()) {
      touches = true;
      return WalkResult::interrupt();
    }
    return WalkResult::advance();
  });
  return touches;
}

/// A parallel loop before `at` that copies `source` into `target`.
void copyAsLoop(Operation *at, Value source, Value target) {
  OpBuilder b(at);
  // Named, so that the kernel's name says what it does.
  Location loc = NameLoc::get(b.getStringAttr("copy"), at->getLoc());
  auto type = cast<MemRefType>(target.getType());
  Value zero = arith::ConstantIndexOp::create(b, loc, 0);
  Value one = arith::ConstantIndexOp::create(b, loc, 1);
  SmallVector<Value> lower(type.getRank(), zero), steps(type.getRank(), one);
  SmallVector<Value> upper;
  for (int64_t d = 0; d < type.getRank(); ++d)
    upper.push_back(memref::DimOp::create(b, loc, target, d));
  if (type.getRank() == 0) {
    // A scalar: one iteration.
    lower = {zero};
    upper = {one};
    steps = {one};
  }
  scf::ParallelOp::create(
      b, loc, lower, upper, steps,
      [&](OpBuilder &nb, Location nloc, ValueRange ivs) {
        ValueRange indices = type.getRank() == 0 ? ValueRange() : ivs;
        Value v = memref::LoadOp::create(nb, nloc, source, indices);
        memref::StoreOp::create(nb, nloc, v, target, indices);
      });
}

/// `bufferization.clone` (a copy the deallocation pipeline adds where a
/// buffer is returned) as an allocation and a copy loop.
void cloneAsLoop(bufferization::CloneOp clone) {
  OpBuilder b(clone);
  auto type = cast<MemRefType>(clone.getType());
  SmallVector<Value> sizes;
  for (int64_t d = 0; d < type.getRank(); ++d)
    if (type.isDynamicDim(d))
      sizes.push_back(memref::DimOp::create(b, clone.getLoc(), clone.getInput(), d));
  Value alloc = memref::AllocOp::create(b, clone.getLoc(), type, sizes);
  copyAsLoop(clone, clone.getInput(), alloc);
  clone.replaceAllUsesWith(alloc);
  clone.erase();
}

/// Moves `ops` (in order, their results unused) into a one-iteration
/// `scf.parallel` placed where the last of them was.
void runOnOneThread(ArrayRef<Operation *> ops) {
  Operation *last = ops.back();
  OpBuilder b(last);
  Location loc = NameLoc::get(b.getStringAttr("sequential"),
                              ops.front()->getLoc());
  Value zero = arith::ConstantIndexOp::create(b, loc, 0);
  Value one = arith::ConstantIndexOp::create(b, loc, 1);
  auto loop = scf::ParallelOp::create(b, loc, zero, one, one);
  Operation *terminator = loop.getBody()->getTerminator();
  for (Operation *op : ops)
    op->moveBefore(terminator);
}

/// Whether every use of `alloca` is inside one parallel loop of its block.
bool scratchOfOneLoop(memref::AllocaOp alloca) {
  Operation *loop = nullptr;
  for (Operation *user : alloca->getUsers()) {
    Operation *top = alloca->getBlock()->findAncestorOpInBlock(*user);
    if (!top || !isa<scf::ParallelOp>(top) || (loop && loop != top))
      return false;
    loop = top;
  }
  return true;
}

struct OffloadHostWorkPass
    : hybrid::impl::OffloadHostWorkPassBase<OffloadHostWorkPass> {
  void runOnOperation() override {
    for (auto host : getOperation().getOps<func::FuncOp>()) {
      if (host.isExternal() || host->hasAttr("hybrid.kernel"))
        continue;
      if (failed(offload(host)))
        return signalPassFailure();
    }
  }

  LogicalResult offload(func::FuncOp host) {
    for (Block &block : host.getBody()) {
      for (auto copy : llvm::to_vector(block.getOps<memref::CopyOp>())) {
        copyAsLoop(copy, copy.getSource(), copy.getTarget());
        copy.erase();
      }
      for (auto clone : llvm::to_vector(block.getOps<bufferization::CloneOp>()))
        cloneAsLoop(clone);

      // Runs of buffer work, separated by nothing but pure ops.
      SmallVector<SmallVector<Operation *>> runs(1);
      for (Operation &op : block) {
        if (isa<scf::ParallelOp>(op) || op.hasTrait<OpTrait::IsTerminator>() ||
            !touchesBuffers(&op)) {
          if (!isPure(&op) && !runs.back().empty())
            runs.emplace_back();
          continue;
        }
        for (Value result : op.getResults())
          if (!result.use_empty())
            return op.emitOpError()
                   << "reads or writes a buffer in the plan and its result "
                      "is used there: on a GPU the plan cannot read device "
                      "memory";
        runs.back().push_back(&op);
      }
      for (ArrayRef<Operation *> run : runs)
        if (!run.empty())
          runOnOneThread(run);

      // Stack buffers the plan shares between loops become device buffers;
      // scratch of one loop stays (hybrid-form-dispatches gives each kernel
      // call its own).
      for (auto alloca : llvm::to_vector(block.getOps<memref::AllocaOp>())) {
        if (scratchOfOneLoop(alloca))
          continue;
        OpBuilder b(alloca);
        auto alloc = memref::AllocOp::create(
            b, alloca.getLoc(), alloca.getType(), alloca.getDynamicSizes(),
            alloca.getSymbolOperands(), alloca.getAlignmentAttr());
        alloca.replaceAllUsesWith(alloc.getResult());
        alloca.erase();
        host.walk([&](func::ReturnOp ret) {
          OpBuilder rb(ret);
          memref::DeallocOp::create(rb, ret.getLoc(), alloc);
        });
      }
    }
    return success();
  }
};
} // namespace
