//===- ChainDispatches.cpp - small dispatches in a kernel's tail ---------===//
//
// hybrid-chain-dispatches: a decode step's norms and routers are block
// kernels of one workgroup (a block per token), each launched after the
// GEMV before it only to wait for it. The last workgroup of the GEMV to
// finish can run them instead, as the GEMVs' last split already sums the
// others (an atomic count of arrivals): one launch fewer each, when the
// run-time count is small; a prompt's many rows still get their own launch.
//
//===----------------------------------------------------------------------===//

#include "passes/DispatchUtils.h"
#include "passes/Passes.h"

#include "dialects/Hybrid/IR/HybridOps.h"

#include "mlir/IR/SymbolTable.h"
#include "llvm/ADT/SetVector.h"

namespace hybrid {
#define GEN_PASS_DEF_CHAINDISPATCHESPASS
#include "passes/Passes.h.inc"
} // namespace hybrid

using namespace mlir;

namespace {
/// The most dispatches a chained kernel may pass on its way up (each
/// independent of it: a prompt's forms of the same output, which a decode
/// step launches with no workgroups).
constexpr size_t kPassedDispatches = 2;

/// The most dispatches a small kernel may move above to go at the end of
/// a tail (each independent of it: a layer's forms of one projection, the
/// prompt's with no workgroups at decode).
constexpr size_t kDispatchesBeforeTail = 8;

/// What a chained kernel's arrival count takes of its block's shared
/// memory (the count each call read, with its alignment).
constexpr int64_t kArrivalBytes = 16;

/// Marks, while the pass runs, the branch of a joined kernel that its last
/// call takes (the tail): a kernel chained after the tail's goes there.
constexpr llvm::StringLiteral kTailAttr = "hybrid.tail";

/// The dispatch before `dispatch` in its block, past the plan's
/// allocations, frees and index arithmetic; none if another op (one that
/// touches memory) or nothing comes first.
hybrid::DispatchOp dispatchBefore(hybrid::DispatchOp dispatch) {
  for (Operation *op = dispatch->getPrevNode(); op; op = op->getPrevNode()) {
    if (auto before = dyn_cast<hybrid::DispatchOp>(op))
      return before;
    if (!hybrid::planOnly(op))
      return {};
  }
  return {};
}

/// Whether `firstKernel` can run `secondKernel`'s workgroups in a tail: a
/// block kernel whose shared scratch, with the second's and the arrival
/// count, fits a block's.
bool takesTail(func::FuncOp firstKernel, func::FuncOp secondKernel) {
  return hybrid::kindOf(firstKernel) == hybrid::KernelKind::Block &&
         hybrid::scratchBytes(firstKernel) + hybrid::scratchBytes(secondKernel) +
                 kArrivalBytes <=
             hybrid::kBlockSharedBytes;
}

/// A zero-initialised i32 global of one entry named after `kernel`: the
/// chained kernel's count of finished workgroups.
memref::GlobalOp arrivalCount(ModuleOp module, SymbolTable &symbols,
                              StringRef kernel, Location loc) {
  OpBuilder b = OpBuilder::atBlockBegin(module.getBody());
  auto type = MemRefType::get({1}, b.getI32Type());
  auto global = memref::GlobalOp::create(
      b, loc, (kernel + "_arrivals").str(), b.getStringAttr("private"), type,
      DenseElementsAttr::get(RankedTensorType::get({1}, b.getI32Type()),
                             b.getI32IntegerAttr(0).getValue()),
      /*constant=*/false, /*alignment=*/nullptr);
  symbols.insert(global); // renamed if the name is taken
  return global;
}

/// A block kernel's phase that one thread runs, as convert-hybrid-to-linalg
/// makes it: a cooperative loop of two iterations, the second empty (a
/// loop of one would fold into the body every thread runs).
void single(OpBuilder &b, Location loc, function_ref<void(OpBuilder &)> body) {
  Value zero = arith::ConstantIndexOp::create(b, loc, 0);
  Value two = arith::ConstantIndexOp::create(b, loc, 2);
  Value one = arith::ConstantIndexOp::create(b, loc, 1);
  auto loop = scf::ParallelOp::create(
      b, loc, ValueRange{zero}, ValueRange{two}, ValueRange{one},
      [&](OpBuilder &lb, Location ll, ValueRange ivs) {
        Value first =
            arith::CmpIOp::create(lb, ll, arith::CmpIPredicate::eq, ivs[0], zero);
        auto only = scf::IfOp::create(lb, ll, first, /*withElseRegion=*/false);
        OpBuilder ib = OpBuilder::atBlockTerminator(only.thenBlock());
        body(ib);
      });
  loop->setAttr(hybrid::kCooperativeAttr, b.getUnitAttr());
}

struct ChainDispatchesPass
    : hybrid::impl::ChainDispatchesPassBase<ChainDispatchesPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SymbolTable symbols(module);
    SmallVector<func::FuncOp> hosts;
    for (auto func : module.getOps<func::FuncOp>())
      if (!func.isExternal() && !func->hasAttr("hybrid.kernel"))
        hosts.push_back(func);
    for (func::FuncOp host : hosts)
      for (Block &block : host.getBody())
        for (auto dispatch : llvm::to_vector(block.getOps<hybrid::DispatchOp>()))
          if (!appendToTail(dispatch, symbols))
            chainOntoPrevious(dispatch, module, symbols);
    // Once every tail has taken what it can (appendToTail stops at a
    // remainder that runs a tail itself). Each dispatch may replace only
    // dispatches before it.
    for (func::FuncOp host : hosts)
      for (Block &block : host.getBody())
        for (auto dispatch : llvm::to_vector(block.getOps<hybrid::DispatchOp>()))
          if (dispatch->hasAttr(hybrid::kRemainderAttr))
            chainOntoRemainder(dispatch, module, symbols);
    module.walk([](scf::IfOp tail) { tail->removeAttr(kTailAttr); });
    // Kernels no dispatch runs any more (each chained one ran once).
    for (auto kernel : llvm::to_vector(module.getOps<func::FuncOp>()))
      if (kernel->hasAttr("hybrid.kernel") && kernel.isPrivate() &&
          kernel.symbolKnownUseEmpty(module))
        kernel.erase();
  }

  /// Runs `second`'s workgroups, when they are few, in the tail of a
  /// dispatch before it: the nearest block kernel without tensor-core tiles
  /// whose shared scratch fits a block's with the second's, past at most
  /// kPassedDispatches others that may run before it instead (independent
  /// of it: the prompt's forms of a layer, which a decode step launches
  /// with no workgroups), and only the plan's allocations, frees and index
  /// arithmetic.
  void chainOntoPrevious(hybrid::DispatchOp second, ModuleOp module,
                         SymbolTable &symbols) {
    func::FuncOp secondKernel = hybrid::dispatchedKernel(second, symbols);
    if (!secondKernel || hybrid::kindOf(secondKernel) != hybrid::KernelKind::Block ||
        !hybrid::maybeSmall(second.getWorkgroups()))
      return;
    SmallVector<hybrid::DispatchOp> passed; // nearest first
    for (hybrid::DispatchOp first = dispatchBefore(second); first;
         first = dispatchBefore(first)) {
      func::FuncOp firstKernel = hybrid::dispatchedKernel(first, symbols);
      if (!firstKernel)
        return;
      if (!first->hasAttr(hybrid::kRemainderAttr) &&
          takesTail(firstKernel, secondKernel) &&
          movableAbove(first, firstKernel, passed, second, symbols)) {
        chain(first, second, firstKernel, secondKernel, module, symbols);
        return;
      }
      if (passed.size() == kPassedDispatches)
        return;
      passed.push_back(first);
    }
  }

  /// Runs the workgroups of `second`, the remainder of a kernel of a fixed
  /// few workgroups (the MoE grouping's one) that appendToTail put at the
  /// end of a tail, in the tail of the nearest remainder before it that it
  /// depends on (the routing's), when the tail did not run them: where a
  /// call's rows are more than a tail runs (a prompt, a batch of several
  /// sequences' decode steps) that remainder launches, and its last
  /// workgroup to finish runs second's too. One launch fewer per MoE layer
  /// and batched decode step. Up to kPassedDispatches dispatches between
  /// them that second does not depend on (they may run side by side with
  /// it) move above that remainder, if they may run before it.
  void chainOntoRemainder(hybrid::DispatchOp second, ModuleOp module,
                          SymbolTable &symbols) {
    std::optional<int64_t> most = hybrid::countBound(second.getWorkgroups());
    func::FuncOp secondKernel = hybrid::dispatchedKernel(second, symbols);
    if (!most || *most > hybrid::kTailWorkgroups || !secondKernel ||
        hybrid::kindOf(secondKernel) != hybrid::KernelKind::Block)
      return;
    hybrid::Accesses secondAccesses = hybrid::accessesOf(second, secondKernel);
    SmallVector<hybrid::DispatchOp> passed; // nearest first
    for (hybrid::DispatchOp first = dispatchBefore(second); first;
         first = dispatchBefore(first)) {
      func::FuncOp firstKernel = hybrid::dispatchedKernel(first, symbols);
      if (!firstKernel)
        return;
      if (!hybrid::accessesOf(first, firstKernel).conflictsWith(secondAccesses, false)) {
        if (passed.size() == kPassedDispatches)
          return;
        passed.push_back(first);
        continue;
      }
      if (first->hasAttr(hybrid::kRemainderAttr) &&
          takesTail(firstKernel, secondKernel) &&
          movableAbove(first, firstKernel, passed, second, symbols))
        chain(first, second, firstKernel, secondKernel, module, symbols);
      return;
    }
  }

  /// Runs `second`'s workgroups, when they are few, at the end of the tail
  /// of the chained kernel before it, when only the remainders of that
  /// tail's kernels (and plan ops) run between them, and after those at
  /// most kDispatchesBeforeTail dispatches that neither orders with second
  /// (second's dispatch moves above them): as second would run after the
  /// remainders, its workgroups go in the tail only when the tail ran all
  /// of the last kernel's (its remainder has none); otherwise second's own
  /// dispatch runs them all, after the remainders, as before. (A decode
  /// step's MoE grouping after the routing in its GEMV's tail, past the
  /// shared expert's down GEMV.)
  bool appendToTail(hybrid::DispatchOp second, SymbolTable &symbols) {
    func::FuncOp secondKernel = hybrid::dispatchedKernel(second, symbols);
    if (!secondKernel || hybrid::kindOf(secondKernel) != hybrid::KernelKind::Block ||
        !hybrid::maybeSmall(second.getWorkgroups()))
      return false;
    SmallVector<hybrid::DispatchOp> remainders, passed; // nearest first
    hybrid::DispatchOp first;
    hybrid::Accesses secondAccesses = hybrid::accessesOf(second, secondKernel);
    for (Operation *op = second->getPrevNode(); op && !first; op = op->getPrevNode()) {
      auto dispatch = dyn_cast<hybrid::DispatchOp>(op);
      if (!dispatch) {
        if (!hybrid::planOnly(op))
          return false;
      } else if (dispatch->hasAttr(hybrid::kRemainderAttr)) {
        remainders.push_back(dispatch);
      } else if (!remainders.empty()) {
        first = dispatch;
      } else {
        func::FuncOp kernel = hybrid::dispatchedKernel(dispatch, symbols);
        if (!kernel || passed.size() == kDispatchesBeforeTail ||
            hybrid::accessesOf(dispatch, kernel).conflictsWith(secondAccesses, false))
          return false;
        passed.push_back(dispatch);
      }
    }
    func::FuncOp firstKernel =
        first ? hybrid::dispatchedKernel(first, symbols) : func::FuncOp();
    if (remainders.empty() || !firstKernel ||
        hybrid::scratchBytes(firstKernel) + hybrid::scratchBytes(secondKernel) >
            hybrid::kBlockSharedBytes)
      return false;
    scf::IfOp tailBranch;
    firstKernel.walk([&](scf::IfOp branch) {
      if (branch->hasAttr(kTailAttr))
        tailBranch = branch;
    });
    // The chained kernel's operands lead with its count and the count of
    // its tail's last kernel that the tail runs; each remainder's count is
    // (its kernel's count) - (the tail's part of it).
    ValueRange leading = first.getKernelOperands();
    auto remainderOf = [&](hybrid::DispatchOp remainder) {
      return remainder.getWorkgroups().getDefiningOp<arith::SubIOp>();
    };
    if (!tailBranch || leading.size() < 2 ||
        llvm::any_of(remainders, [&](hybrid::DispatchOp remainder) {
          arith::SubIOp rest = remainderOf(remainder);
          return !rest || !llvm::is_contained(leading, rest.getRhs());
        }))
      return false;
    arith::SubIOp lastRest = remainderOf(remainders.front());
    Value lastCount = lastRest.getLhs(), lastTail = leading[1];
    if (lastRest.getRhs() != lastTail ||
        (lastCount.getDefiningOp() &&
         !lastCount.getDefiningOp()->isBeforeInBlock(first)))
      return false;
    SmallVector<Operation *> needed;
    if (!hybrid::hoistableAbove(second, first, needed))
      return false;
    for (Operation *op : needed)
      op->moveBefore(first);
    if (!passed.empty())
      second->moveBefore(passed.back());

    Location loc = first.getLoc();
    OpBuilder b(first);
    auto index = [&](OpBuilder &ib, int64_t v) -> Value {
      return arith::ConstantIndexOp::create(ib, loc, v);
    };
    Value count = first.getWorkgroups(), secondCount = second.getWorkgroups();
    Value tailRan =
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ne, lastTail, index(b, 0));
    Value lastWhole = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq,
                                            lastCount, lastTail);
    Value few = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ule, secondCount,
                                      index(b, hybrid::kTailWorkgroups));
    Value inTail = arith::AndIOp::create(
        b, loc, arith::AndIOp::create(b, loc, tailRan, lastWhole), few);
    Value tail = arith::SelectOp::create(b, loc, inTail, secondCount, index(b, 0));

    hybrid::JoinedKernel joined = hybrid::joinKernels(
        symbols, first, firstKernel, second, secondKernel, {count, tail}, "__then__");
    func::FuncOp kernel = joined.func;
    Block *entry = &kernel.getBody().front();
    OpBuilder kb = OpBuilder::atBlockBegin(entry);
    joined.inlineBody(kb, first, firstKernel, joined.begin(), joined.end());
    func::ReturnOp::create(kb, loc);
    scf::IfOp joinedTail;
    kernel.walk([&](scf::IfOp branch) {
      if (branch->hasAttr(kTailAttr))
        joinedTail = branch;
    });
    completeTail(joined, joinedTail.thenBlock(), first, second, secondKernel, tail);
    return true;
  }

  /// Runs `second`'s workgroups [0, tail) at the end of `tailBlock`, the
  /// joined kernel's tail (their scratch moved to its entry, ahead of its
  /// code: a block kernel's shared buffers are the allocas there,
  /// hybrid-kernels-to-gpu), dispatches the joined kernel in place of
  /// `first`, and leaves second's own dispatch the workgroups the tail does
  /// not run.
  static void completeTail(hybrid::JoinedKernel &joined, Block *tailBlock,
                           hybrid::DispatchOp first, hybrid::DispatchOp second,
                           func::FuncOp secondKernel, Value tail) {
    Location loc = first.getLoc();
    OpBuilder lb = OpBuilder::atBlockTerminator(tailBlock);
    joined.inlineBody(lb, second, secondKernel,
                      arith::ConstantIndexOp::create(lb, loc, 0), joined.argument(tail));
    Block *entry = &joined.func.getBody().front();
    for (auto alloca : llvm::to_vector(tailBlock->getOps<memref::AllocaOp>()))
      alloca->moveBefore(entry, entry->begin());

    OpBuilder b(first);
    auto dispatch = hybrid::DispatchOp::create(
        b, loc, FlatSymbolRefAttr::get(joined.func.getSymNameAttr()),
        first.getWorkgroups(), joined.operands);
    // A remainder that now runs a tail is still one (chainOntoRemainder):
    // no later kernel goes at the end of its tail by appendToTail.
    if (first->hasAttr(hybrid::kRemainderAttr))
      dispatch->setAttr(hybrid::kRemainderAttr, b.getUnitAttr());
    first.erase();
    OpBuilder rb(second);
    Value secondCount = second.getWorkgroups();
    second.getWorkgroupsMutable().assign(
        arith::SubIOp::create(rb, loc, secondCount, tail));
    second->setAttr(hybrid::kRemainderAttr, rb.getUnitAttr());
  }

  /// Whether the `passed` dispatches may run before `first` (neither
  /// orders the other) and they and `second` need only plan ops that may
  /// move above it; if so, moves those ops and then the passed dispatches
  /// above `first`, in order.
  static bool movableAbove(hybrid::DispatchOp first, func::FuncOp firstKernel,
                           ArrayRef<hybrid::DispatchOp> passed,
                           hybrid::DispatchOp second, SymbolTable &symbols) {
    hybrid::Accesses firstAccesses = hybrid::accessesOf(first, firstKernel);
    llvm::SetVector<Operation *> hoisted;
    for (hybrid::DispatchOp dispatch : passed) {
      bool rowForms = first->hasAttr(hybrid::kRowFormAttr) &&
                      dispatch->hasAttr(hybrid::kRowFormAttr);
      if (hybrid::accessesOf(dispatch, hybrid::dispatchedKernel(dispatch, symbols))
              .conflictsWith(firstAccesses, rowForms))
        return false;
    }
    SmallVector<hybrid::DispatchOp> moving(passed);
    moving.push_back(second);
    for (hybrid::DispatchOp dispatch : moving) {
      SmallVector<Operation *> needed;
      if (!hybrid::hoistableAbove(dispatch, first, needed))
        return false;
      hoisted.insert_range(needed);
    }
    SmallVector<Operation *> ops = hoisted.takeVector();
    llvm::sort(ops, [](Operation *l, Operation *r) { return l->isBeforeInBlock(r); });
    for (Operation *op : ops)
      op->moveBefore(first);
    for (hybrid::DispatchOp dispatch : llvm::reverse(passed))
      dispatch->moveBefore(first);
    return true;
  }

  /// One kernel that runs `first`'s workgroups and then, in the one call
  /// whose workgroups complete the count of the first's (an atomic count,
  /// as a GEMV's last split), `second`'s workgroups [0, tail): the plan
  /// sets tail to the second's count where that is 1 to hybrid::kTailWorkgroups
  /// and the first has workgroups, else 0; the second's own dispatch runs
  /// the rest (none, or all of them).
  void chain(hybrid::DispatchOp first, hybrid::DispatchOp second,
             func::FuncOp firstKernel, func::FuncOp secondKernel,
             ModuleOp module, SymbolTable &symbols) {
    Location loc = first.getLoc();
    OpBuilder b(first);
    Value count = first.getWorkgroups(), secondCount = second.getWorkgroups();
    auto index = [&](OpBuilder &ib, int64_t v) -> Value {
      return arith::ConstantIndexOp::create(ib, loc, v);
    };
    Value firstRuns =
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ugt, count, index(b, 0));
    Value few = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ule, secondCount,
                                      index(b, hybrid::kTailWorkgroups));
    Value inTail = arith::AndIOp::create(b, loc, firstRuns, few);
    Value tail = arith::SelectOp::create(b, loc, inTail, secondCount, index(b, 0));

    hybrid::JoinedKernel joined = hybrid::joinKernels(
        symbols, first, firstKernel, second, secondKernel, {count, tail}, "__then__");
    func::FuncOp kernel = joined.func;
    memref::GlobalOp arrivals = arrivalCount(module, symbols, kernel.getName(), loc);
    Block *entry = &kernel.getBody().front();
    Value begin = joined.begin(), end = joined.end();
    OpBuilder kb = OpBuilder::atBlockBegin(entry);
    Type i32 = kb.getI32Type();
    Value arrivedBefore = memref::AllocaOp::create(kb, loc, MemRefType::get({1}, i32));
    joined.inlineBody(kb, first, firstKernel, begin, end);

    // The tail: this call's workgroups arrive (all its threads done with
    // them: the barrier before a cooperative loop), and the call that
    // completes the count runs the second's workgroups and sets the count
    // back to 0 for the next launch. Its threads read the count from the
    // block's buffer, so they agree on the branch.
    // A call with no workgroups of the first (one for the other part of a
    // kernel that hybrid-merge-dispatches makes of this one and another)
    // does not arrive: adding 0 as the last call adds its own, before that
    // one resets the count, would make it a second last call.
    Value tailCount = joined.argument(tail);
    Value hasTail =
        arith::CmpIOp::create(kb, loc, arith::CmpIPredicate::ne, tailCount, index(kb, 0));
    Value hasWorkgroups =
        arith::CmpIOp::create(kb, loc, arith::CmpIPredicate::ugt, end, begin);
    auto runs = scf::IfOp::create(
        kb, loc, arith::AndIOp::create(kb, loc, hasTail, hasWorkgroups),
        /*withElseRegion=*/false);
    OpBuilder tb = OpBuilder::atBlockTerminator(runs.thenBlock());
    Value arriving = arith::IndexCastOp::create(
        tb, loc, i32, arith::SubIOp::create(tb, loc, end, begin));
    auto counter = [&](OpBuilder &ob) -> Value {
      return memref::GetGlobalOp::create(ob, loc, arrivals.getType(), arrivals.getName());
    };
    single(tb, loc, [&](OpBuilder &sb) {
      Value at = index(sb, 0);
      Value before = memref::AtomicRMWOp::create(
          sb, loc, arith::AtomicRMWKind::addi, arriving, counter(sb), ValueRange{at});
      memref::StoreOp::create(sb, loc, before, arrivedBefore, ValueRange{at});
    });
    Value arrived = arith::AddIOp::create(
        tb, loc, memref::LoadOp::create(tb, loc, arrivedBefore, ValueRange{index(tb, 0)}),
        arriving);
    Value all = arith::IndexCastOp::create(tb, loc, i32, joined.argument(count));
    Value isLast = arith::CmpIOp::create(tb, loc, arith::CmpIPredicate::eq, arrived, all);
    auto last = scf::IfOp::create(tb, loc, isLast, /*withElseRegion=*/false);
    last->setAttr(kTailAttr, tb.getUnitAttr());
    OpBuilder lb = OpBuilder::atBlockTerminator(last.thenBlock());
    single(lb, loc, [&](OpBuilder &sb) {
      Value at = index(sb, 0);
      Value zero = arith::ConstantIntOp::create(sb, loc, i32, 0);
      memref::AtomicRMWOp::create(sb, loc, arith::AtomicRMWKind::assign, zero,
                                  counter(sb), ValueRange{at});
    });
    func::ReturnOp::create(kb, loc);
    completeTail(joined, last.thenBlock(), first, second, secondKernel, tail);
  }
};
} // namespace
