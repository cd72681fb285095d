//===- ReverseParallelOrder.cpp - kernels' iterations last first ---------===//
//
// hybrid-reverse-parallel-order: a check of the kernel forms, not a speed
// pass. A GPU runs a kernel's workgroups, and a block's threads in each of
// its phases, at the same time in no set order; the CPU runs them one
// after another, first to last. A form that depends on that order (an
// iteration reading what an earlier one of the same phase wrote, a "last
// workgroup to finish" that only the highest workgroup can be) is right on
// the CPU and wrong on a GPU. Run last first, it is wrong here too.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

namespace hybrid {
#define GEN_PASS_DEF_REVERSEPARALLELORDERPASS
#include "passes/Passes.h.inc"
} // namespace hybrid

using namespace mlir;

namespace {
/// Makes `body`'s uses of `iv`, which runs lb, lb + step, ... below ub,
/// take those values last first: lb + last - iv, last = lb + (ub - lb - 1)
/// / step * step. Computed inside the body, which runs only where ub > lb.
void mirror(Value iv, Value lb, Value ub, Value step, Block *body) {
  OpBuilder b = OpBuilder::atBlockBegin(body);
  Location loc = iv.getLoc();
  Value one = arith::ConstantIndexOp::create(b, loc, 1);
  Value span = arith::SubIOp::create(
      b, loc, arith::SubIOp::create(b, loc, ub, lb), one);
  Value lastOffset = arith::MulIOp::create(
      b, loc, arith::DivUIOp::create(b, loc, span, step), step);
  auto offset = arith::SubIOp::create(b, loc, iv, lb);
  Value mirrored = arith::SubIOp::create(
      b, loc, arith::AddIOp::create(b, loc, lb, lastOffset), offset);
  // Every use but the one that computes `mirrored` from it.
  iv.replaceUsesWithIf(mirrored, [&](OpOperand &use) { return use.getOwner() != offset; });
}

struct ReverseParallelOrderPass
    : hybrid::impl::ReverseParallelOrderPassBase<ReverseParallelOrderPass> {
  void runOnOperation() override {
    for (auto kernel : getOperation().getOps<func::FuncOp>()) {
      if (!kernel->hasAttr("hybrid.kernel") || kernel.isExternal())
        continue;
      // The workgroup loops: the kernel's top-level scf.for ops. One over
      // its range [begin, end) (hybrid-form-dispatches), or one per kernel
      // of a merged dispatch, over its share of the range
      // (hybrid-merge-dispatches). A chained kernel's tail (under an
      // scf.if) runs its workgroups one after another on a GPU too, and
      // keeps its order.
      for (auto workgroups : kernel.getBody().front().getOps<scf::ForOp>())
        mirror(workgroups.getInductionVar(), workgroups.getLowerBound(),
               workgroups.getUpperBound(), workgroups.getStep(),
               workgroups.getBody());
      // Every parallel loop inside: a block's phases, its warps, its
      // cooperative sums.
      kernel.walk([](scf::ParallelOp loop) {
        for (auto [iv, lb, ub, step] :
             llvm::zip(loop.getInductionVars(), loop.getLowerBound(),
                       loop.getUpperBound(), loop.getStep()))
          mirror(iv, lb, ub, step, loop.getBody());
      });
    }
  }
};
} // namespace
