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

#include "passes/Passes.h"

#include "dialects/Hybrid/IR/HybridOps.h"

#include "mlir/IR/IRMapping.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Interfaces/ViewLikeInterface.h"

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
/// Shared memory a block reduction may take beside its kernel's buffers (a
/// value per warp: see hybrid-kernels-to-gpu).
constexpr int64_t kReductionBytes = 8 * hybrid::kWarpLanes;

/// The buffer `value` is a view of (through subviews, casts, reshapes),
/// or itself.
Value rootBuffer(Value value) {
  while (auto view = value.getDefiningOp<ViewLikeOpInterface>())
    value = view.getViewSource();
  return value;
}

/// What a kernel does with one of its buffer arguments.
struct ArgumentUse {
  bool reads = false, writes = false;
};

/// Whether the kernel reads and writes `buffer` (through its views): an
/// op that says nothing of its effects on it counts as both.
void useOf(Value buffer, ArgumentUse &use) {
  for (OpOperand &operand : buffer.getUses()) {
    Operation *user = operand.getOwner();
    if (auto view = dyn_cast<ViewLikeOpInterface>(user);
        view && view.getViewSource() == buffer) {
      for (Value result : user->getResults())
        useOf(result, use);
      continue;
    }
    auto effects = dyn_cast<MemoryEffectOpInterface>(user);
    if (!effects) {
      use.reads = use.writes = true;
      continue;
    }
    SmallVector<MemoryEffects::EffectInstance> found;
    effects.getEffectsOnValue(buffer, found);
    for (const MemoryEffects::EffectInstance &effect : found) {
      use.reads |= isa<MemoryEffects::Read>(effect.getEffect());
      use.writes |= isa<MemoryEffects::Write, MemoryEffects::Free>(effect.getEffect());
    }
  }
}

/// The buffers a dispatch reads and writes, as the plan's root buffers,
/// and the globals its kernel writes (a GEMV's arrival counts).
struct Accesses {
  llvm::SmallPtrSet<Value, 8> reads, writes;
  llvm::SmallDenseSet<StringRef, 2> globals;

  /// Whether the two dispatches must run one after the other. Two forms
  /// of linear layers (kRowFormAttr) that both write a buffer neither
  /// reads write different rows of it: that alone does not order them.
  bool conflictsWith(const Accesses &other, bool rowForms) const {
    auto meets = [&](const llvm::SmallPtrSet<Value, 8> &written,
                     const Accesses &by) {
      return llvm::any_of(written, [&](Value buffer) {
        if (by.reads.contains(buffer))
          return true;
        bool ownRows = rowForms && !reads.contains(buffer) &&
                       !other.reads.contains(buffer);
        return by.writes.contains(buffer) && !ownRows;
      });
    };
    return meets(writes, other) || meets(other.writes, *this) ||
           llvm::any_of(globals, [&](StringRef name) {
             return other.globals.contains(name);
           });
  }
};

Accesses accessesOf(hybrid::DispatchOp dispatch, func::FuncOp kernel) {
  Accesses accesses;
  Block &body = kernel.getBody().front();
  for (auto [operand, argument] :
       llvm::zip(dispatch.getKernelOperands(), body.getArguments().drop_front(2))) {
    if (!isa<BaseMemRefType>(operand.getType()))
      continue;
    ArgumentUse use;
    useOf(argument, use);
    Value root = rootBuffer(operand);
    if (use.reads)
      accesses.reads.insert(root);
    if (use.writes)
      accesses.writes.insert(root);
  }
  // Globals that are not constants: the kernel's own counters, which no
  // other kernel may share while both run.
  auto module = kernel->getParentOfType<ModuleOp>();
  kernel.walk([&](memref::GetGlobalOp get) {
    auto global = module.lookupSymbol<memref::GlobalOp>(get.getNameAttr());
    if (!global || !global.getConstant())
      accesses.globals.insert(get.getName());
  });
  return accesses;
}

/// How hybrid-kernels-to-gpu runs a kernel's workgroups: a thread each, or
/// a block each (cooperative loops), or a block each whose warps run
/// tensor-core tiles (warps loops). Only thread kernels, or only block
/// kernels, share a launch. Tensor-core kernels stay apart: their blocks'
/// registers and large shared tiles would hold back the kernel they join
/// (and a prompt's tiles are long enough that a launch costs little).
enum class KernelKind { Thread, Block, Warps };

KernelKind kindOf(func::FuncOp kernel) {
  KernelKind kind = KernelKind::Thread;
  kernel.walk([&](scf::ParallelOp loop) {
    if (loop->hasAttr(hybrid::kWarpsAttr))
      kind = KernelKind::Warps;
    else if (loop->hasAttr(hybrid::kCooperativeAttr) && kind == KernelKind::Thread)
      kind = KernelKind::Block;
  });
  return kind;
}

/// Bytes of the static scratch at the kernel's entry (a block kernel's
/// shared buffers are among them, each 16-byte aligned) and of its block
/// reductions: an upper bound of what hybrid-kernels-to-gpu gives it.
int64_t scratchBytes(func::FuncOp kernel) {
  int64_t bytes = 0;
  for (auto alloca : kernel.getBody().front().getOps<memref::AllocaOp>()) {
    MemRefType type = alloca.getType();
    Type element = type.getElementType();
    int64_t elementBytes =
        element.isIntOrFloat() ? llvm::divideCeil(element.getIntOrFloatBitWidth(), 8)
                               : 8; // index: 64-bit on the GPU
    bytes = llvm::alignTo(bytes, 16) + type.getNumElements() * elementBytes;
  }
  kernel.walk([&](scf::ReduceOp reduce) {
    bytes += kReductionBytes * reduce.getNumOperands();
  });
  return bytes;
}

/// The name of the kernel that runs `first`'s workgroups then `second`'s:
/// the first's, then what the second's adds to the part of the names they
/// share (e.g. forward__model_layers_0_mlp__gate_gemv__and__gate_proj_up_gemv).
std::string mergedName(StringRef first, StringRef second) {
  size_t shared = 0;
  for (size_t at = second.find("__"); at != StringRef::npos;
       at = second.find("__", at + 2)) {
    if (!first.starts_with(second.take_front(at + 2)))
      break;
    shared = at + 2;
  }
  return (first + "__and__" + second.drop_front(shared)).str();
}

struct MergeDispatchesPass
    : hybrid::impl::MergeDispatchesPassBase<MergeDispatchesPass> {
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

  func::FuncOp kernelOf(hybrid::DispatchOp dispatch, SymbolTable &symbols) {
    if (!dispatch.getCallee().getNestedReferences().empty())
      return {};
    auto kernel = symbols.lookup<func::FuncOp>(dispatch.getCallee().getRootReference());
    return kernel && kernel->hasAttr("hybrid.kernel") &&
                   kernel.getBody().hasOneBlock()
               ? kernel
               : func::FuncOp();
  }

  /// Merges `second` into the earliest dispatch before it that it may join:
  /// one of the same kind, within the scratch budget, with nothing between
  /// them (that one included) that `second` depends on or that depends on
  /// `second`, and the plan's ops it needs movable above that one.
  void mergeIntoEarlier(hybrid::DispatchOp second, SymbolTable &symbols) {
    func::FuncOp secondKernel = kernelOf(second, symbols);
    if (!secondKernel)
      return;
    Accesses secondAccesses = accessesOf(second, secondKernel);
    KernelKind kind = kindOf(secondKernel);
    if (kind == KernelKind::Warps)
      return;
    int64_t secondBytes = scratchBytes(secondKernel);
    // Block kernels' scratch is shared memory, which merged kernels add up.
    auto fits = [&](int64_t firstBytes) {
      return kind == KernelKind::Thread
                 ? std::min(firstBytes, secondBytes) <= kThreadScratchBytes
                 : firstBytes + secondBytes <= hybrid::kBlockSharedBytes;
    };

    SmallVector<hybrid::DispatchOp> candidates; // nearest first
    for (Operation *op = second->getPrevNode(); op; op = op->getPrevNode()) {
      if (auto dispatch = dyn_cast<hybrid::DispatchOp>(op)) {
        func::FuncOp kernel = kernelOf(dispatch, symbols);
        bool rowForms = dispatch->hasAttr(hybrid::kRowFormAttr) &&
                        second->hasAttr(hybrid::kRowFormAttr);
        if (!kernel ||
            accessesOf(dispatch, kernel).conflictsWith(secondAccesses, rowForms))
          break;
        if (kindOf(kernel) == kind && fits(scratchBytes(kernel)))
          candidates.push_back(dispatch);
        continue;
      }
      // The plan's buffer allocation and frees, and its index arithmetic,
      // may be passed; anything else that touches memory stops the search.
      if (!isa<memref::AllocOp, memref::AllocaOp, memref::DeallocOp>(op) &&
          !isMemoryEffectFree(op))
        break;
      if (auto free = dyn_cast<memref::DeallocOp>(op))
        if (secondAccesses.reads.contains(rootBuffer(free.getMemref())) ||
            secondAccesses.writes.contains(rootBuffer(free.getMemref())))
          break;
    }
    for (hybrid::DispatchOp first : llvm::reverse(candidates)) {
      SmallVector<Operation *> hoisted;
      if (!hoistable(second, first, hoisted))
        continue;
      for (Operation *op : hoisted)
        op->moveBefore(first);
      merge(first, second, symbols);
      return;
    }
  }

  /// Whether the plan's ops between `first` and `second` that `second`'s
  /// operands need are allocations or free of memory effects (collected
  /// into `ops`, in order), so that they can move above `first`.
  static bool hoistable(hybrid::DispatchOp second, hybrid::DispatchOp first,
                        SmallVector<Operation *> &ops) {
    llvm::SetVector<Operation *> needed;
    SmallVector<Value> worklist(second->getOperands());
    while (!worklist.empty()) {
      Value value = worklist.pop_back_val();
      Operation *def = value.getDefiningOp();
      if (!def || def->getBlock() != first->getBlock() ||
          def->isBeforeInBlock(first) || needed.contains(def))
        continue;
      if (def->getNumRegions() != 0 ||
          (!isa<memref::AllocOp, memref::AllocaOp>(def) && !isMemoryEffectFree(def)))
        return false;
      needed.insert(def);
      llvm::append_range(worklist, def->getOperands());
    }
    ops.assign(needed.begin(), needed.end());
    llvm::sort(ops, [](Operation *l, Operation *r) { return l->isBeforeInBlock(r); });
    return true;
  }

  /// One kernel running `first`'s workgroups [0, n) then `second`'s: a call
  /// for [begin, end) runs the first's in [min(begin, n), min(end, n)) and
  /// the second's in [max(begin, n) - n, max(end, n) - n), so any split of
  /// the range still runs each workgroup once.
  void merge(hybrid::DispatchOp first, hybrid::DispatchOp second,
             SymbolTable &symbols) {
    func::FuncOp firstKernel = kernelOf(first, symbols);
    func::FuncOp secondKernel = kernelOf(second, symbols);
    Location loc = first.getLoc();
    OpBuilder b(first);
    Value count = first.getWorkgroups();

    llvm::SetVector<Value> operands;
    operands.insert(count);
    operands.insert_range(first.getKernelOperands());
    operands.insert_range(second.getKernelOperands());
    SmallVector<Type> inputs(2, b.getIndexType());
    for (Value v : operands)
      inputs.push_back(v.getType());
    auto kernel = func::FuncOp::create(
        loc, mergedName(firstKernel.getName(), secondKernel.getName()),
        FunctionType::get(b.getContext(), inputs, {}));
    kernel.setPrivate();
    kernel->setAttr("hybrid.kernel", b.getUnitAttr());
    symbols.insert(kernel, Block::iterator(firstKernel));
    Block *entry = kernel.addEntryBlock();
    Value begin = entry->getArgument(0), end = entry->getArgument(1);
    DenseMap<Value, BlockArgument> argumentFor;
    for (auto [i, operand] : llvm::enumerate(operands))
      argumentFor[operand] = entry->getArgument(2 + i);
    auto argumentOf = [&](Value operand) { return argumentFor.lookup(operand); };
    OpBuilder kb = OpBuilder::atBlockBegin(entry);
    Value n = argumentOf(count);
    // Each part's body with its own range of workgroups.
    auto inlinePart = [&](func::FuncOp part, hybrid::DispatchOp dispatch,
                          Value partBegin, Value partEnd) {
      Block &body = part.getBody().front();
      IRMapping map;
      map.map(body.getArgument(0), partBegin);
      map.map(body.getArgument(1), partEnd);
      for (auto [operand, argument] :
           llvm::zip(dispatch.getKernelOperands(), body.getArguments().drop_front(2)))
        map.map(argument, argumentOf(operand));
      for (Operation &op : body.without_terminator())
        kb.clone(op, map);
    };
    Value firstBegin = arith::MinUIOp::create(kb, loc, begin, n);
    Value firstEnd = arith::MinUIOp::create(kb, loc, end, n);
    inlinePart(firstKernel, first, firstBegin, firstEnd);
    Value secondBegin = arith::SubIOp::create(
        kb, loc, arith::MaxUIOp::create(kb, loc, begin, n), n);
    Value secondEnd = arith::SubIOp::create(
        kb, loc, arith::MaxUIOp::create(kb, loc, end, n), n);
    inlinePart(secondKernel, second, secondBegin, secondEnd);
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
        operands.getArrayRef());
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
