//===- MergeDispatches.cpp - independent dispatches as one launch ---------===//
//
// hybrid-merge-dispatches: a dispatch that neither reads nor writes what
// the dispatches before it (back to an earlier one of the same kind) write,
// and writes nothing they read, joins that earlier one: one kernel runs
// the first's workgroups, then the second's. A decode step's small kernels
// (the router's GEMV beside the shared expert's gate and up GEMV; the
// shared expert's down GEMV beside the routed experts' gate and up GEMV)
// then share a launch: at batch 1 each launch costs a GPU microseconds
// however little its kernel does.
//
//===----------------------------------------------------------------------===//

#include "passes/DispatchUtils.h"
#include "passes/Passes.h"

#include "dialects/Hybrid/IR/HybridOps.h"

#include "mlir/IR/SymbolTable.h"

namespace hybrid {
#define GEN_PASS_DEF_MERGEDISPATCHESPASS
#include "passes/Passes.h.inc"
} // namespace hybrid

using namespace mlir;

namespace {
/// Per-thread scratch that merging may add to the larger frame of two
/// thread kernels: a GPU thread's scratch is local memory, which the driver
/// reserves for the largest frame of any kernel, so a large frame (the MoE
/// counting sort's arrays) may take in a kernel with little scratch, not
/// another large one.
constexpr int64_t kThreadScratchBytes = 256;

struct MergeDispatchesPass
    : hybrid::impl::MergeDispatchesPassBase<MergeDispatchesPass> {
  using MergeDispatchesPassBase::MergeDispatchesPassBase;
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SymbolTable symbols(module);
    // Every symbol's uses, counted once: a walk of the module per merge
    // would be quadratic in the layers.
    uses.clear();
    if (std::optional<SymbolTable::UseRange> all =
            SymbolTable::getSymbolUses(&module.getBodyRegion()))
      for (const SymbolTable::SymbolUse &use : *all)
        ++uses[use.getSymbolRef().getRootReference()];
    // The plan functions first: merging erases kernels.
    SmallVector<func::FuncOp> hosts;
    for (auto func : module.getOps<func::FuncOp>())
      if (!func.isExternal() && !func->hasAttr("hybrid.kernel"))
        hosts.push_back(func);
    for (func::FuncOp host : hosts) {
      for (Block &block : host.getBody())
        for (auto dispatch :
             llvm::to_vector(block.getOps<hybrid::DispatchOp>()))
          mergeIntoEarlier(dispatch, symbols);
    }
  }

  /// How many ops refer to each symbol (kept up to date by merge).
  llvm::DenseMap<StringAttr, int64_t> uses;

  /// Merges `second` into the earliest dispatch before it that it may join:
  /// one of the same kind, within the scratch budget, with nothing between
  /// them (that one included) that `second` depends on or that depends on
  /// `second`, and the plan's ops it needs movable above that one.
  void mergeIntoEarlier(hybrid::DispatchOp second, SymbolTable &symbols) {
    func::FuncOp secondKernel = hybrid::dispatchedKernel(second, symbols);
    if (!secondKernel)
      return;
    hybrid::Accesses secondAccesses = hybrid::accessesOf(second, secondKernel);
    // Only thread kernels, or only block kernels, share a launch.
    // Tensor-core kernels stay apart: their blocks' registers and large
    // shared tiles would hold back the kernel they join (and a prompt's
    // tiles are long enough that a launch costs little).
    hybrid::KernelKind kind = hybrid::kindOf(secondKernel);
    if (kind == hybrid::KernelKind::Warps ||
        (!smallBlocks && kind == hybrid::KernelKind::Block &&
         hybrid::maybeSmall(second.getWorkgroups())))
      return;
    int64_t secondBytes = hybrid::scratchBytes(secondKernel);
    // Block kernels' scratch is shared memory, which merged kernels add up.
    auto fits = [&](int64_t firstBytes) {
      return kind == hybrid::KernelKind::Thread
                 ? std::min(firstBytes, secondBytes) <= kThreadScratchBytes
                 : firstBytes + secondBytes <= hybrid::kBlockSharedBytes;
    };

    SmallVector<hybrid::DispatchOp> candidates; // nearest first
    for (Operation *op = second->getPrevNode(); op; op = op->getPrevNode()) {
      if (auto dispatch = dyn_cast<hybrid::DispatchOp>(op)) {
        func::FuncOp kernel = hybrid::dispatchedKernel(dispatch, symbols);
        bool rowForms = dispatch->hasAttr(hybrid::kRowFormAttr) &&
                        second->hasAttr(hybrid::kRowFormAttr);
        if (!kernel ||
            hybrid::accessesOf(dispatch, kernel).conflictsWith(secondAccesses, rowForms))
          break;
        if (hybrid::kindOf(kernel) == kind && fits(hybrid::scratchBytes(kernel)))
          candidates.push_back(dispatch);
        continue;
      }
      // The plan's buffer allocation and frees, and its index arithmetic,
      // may be passed; anything else that touches memory stops the search.
      if (!hybrid::planOnly(op))
        break;
      if (auto free = dyn_cast<memref::DeallocOp>(op))
        if (secondAccesses.reads.contains(hybrid::rootBuffer(free.getMemref())) ||
            secondAccesses.writes.contains(hybrid::rootBuffer(free.getMemref())))
          break;
    }
    for (hybrid::DispatchOp first : llvm::reverse(candidates)) {
      SmallVector<Operation *> hoisted;
      if (!hybrid::hoistableAbove(second, first, hoisted))
        continue;
      for (Operation *op : hoisted)
        op->moveBefore(first);
      merge(first, second, symbols);
      return;
    }
  }

  /// One kernel running `first`'s workgroups [0, n) then `second`'s: a call
  /// for [begin, end) runs the first's in [min(begin, n), min(end, n)) and
  /// the second's in [max(begin, n) - n, max(end, n) - n), so any split of
  /// the range still runs each workgroup once.
  void merge(hybrid::DispatchOp first, hybrid::DispatchOp second,
             SymbolTable &symbols) {
    func::FuncOp firstKernel = hybrid::dispatchedKernel(first, symbols);
    func::FuncOp secondKernel = hybrid::dispatchedKernel(second, symbols);
    Location loc = first.getLoc();
    OpBuilder b(first);
    Value count = first.getWorkgroups();

    hybrid::JoinedKernel joined = hybrid::joinKernels(
        symbols, first, firstKernel, second, secondKernel, {count}, "__and__");
    func::FuncOp kernel = joined.func;
    Block *entry = &kernel.getBody().front();
    Value begin = joined.begin(), end = joined.end();
    OpBuilder kb = OpBuilder::atBlockBegin(entry);
    Value n = joined.argument(count);
    Value firstBegin = arith::MinUIOp::create(kb, loc, begin, n);
    Value firstEnd = arith::MinUIOp::create(kb, loc, end, n);
    // Each part's body with its own range of workgroups.
    joined.inlineBody(kb, first, firstKernel, firstBegin, firstEnd);
    Value secondBegin = arith::SubIOp::create(
        kb, loc, arith::MaxUIOp::create(kb, loc, begin, n), n);
    Value secondEnd = arith::SubIOp::create(
        kb, loc, arith::MaxUIOp::create(kb, loc, end, n), n);
    joined.inlineBody(kb, second, secondKernel, secondBegin, secondEnd);
    func::ReturnOp::create(kb, loc);
    // Both parts' scratch at the entry, ahead of their code (the second's
    // allocas were cloned after the first's loop): a block kernel's shared
    // buffers are the allocas there (hybrid-kernels-to-gpu).
    auto allocas = llvm::to_vector(entry->getOps<memref::AllocaOp>());
    for (memref::AllocaOp alloca : llvm::reverse(allocas))
      alloca->moveBefore(entry, entry->begin());

    Value total = arith::AddIOp::create(b, loc, count, second.getWorkgroups());
    auto merged = hybrid::DispatchOp::create(
        b, loc, FlatSymbolRefAttr::get(kernel.getSymNameAttr()), total,
        joined.operands);
    // Rows of a layer's output that no other form writes, still, when both
    // parts are forms.
    if (first->hasAttr(hybrid::kRowFormAttr) && second->hasAttr(hybrid::kRowFormAttr))
      merged->setAttr(hybrid::kRowFormAttr, b.getUnitAttr());
    ++uses[kernel.getSymNameAttr()];
    first.erase();
    second.erase();
    for (func::FuncOp old : {firstKernel, secondKernel})
      if (--uses[old.getSymNameAttr()] == 0)
        symbols.erase(old);
  }
};
} // namespace
