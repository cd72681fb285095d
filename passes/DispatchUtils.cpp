//===- DispatchUtils.cpp - what the plan passes know of kernels ----------===//

#include "passes/DispatchUtils.h"

#include "passes/Passes.h"

#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Interfaces/ViewLikeInterface.h"
#include "llvm/ADT/SetVector.h"

using namespace mlir;

Value hybrid::rootBuffer(Value value) {
  while (auto view = value.getDefiningOp<ViewLikeOpInterface>())
    value = view.getViewSource();
  return value;
}

namespace {
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
    if (isa<memref::PrefetchOp>(user)) { // a hint (says nothing itself)
      use.reads = true;
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
} // namespace

bool hybrid::Accesses::conflictsWith(const Accesses &other, bool rowForms) const {
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

hybrid::Accesses hybrid::accessesOf(DispatchOp dispatch, func::FuncOp kernel) {
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

func::FuncOp hybrid::dispatchedKernel(DispatchOp dispatch, SymbolTable &symbols) {
  if (!dispatch.getCallee().getNestedReferences().empty())
    return {};
  auto kernel =
      symbols.lookup<func::FuncOp>(dispatch.getCallee().getRootReference());
  return kernel && kernel->hasAttr("hybrid.kernel") &&
                 kernel.getBody().hasOneBlock()
             ? kernel
             : func::FuncOp();
}

hybrid::KernelKind hybrid::kindOf(func::FuncOp kernel) {
  KernelKind kind = KernelKind::Thread;
  kernel.walk([&](scf::ParallelOp loop) {
    if (loop->hasAttr(kWarpsAttr))
      kind = KernelKind::Warps;
    else if (loop->hasAttr(kCooperativeAttr) && kind == KernelKind::Thread)
      kind = KernelKind::Block;
  });
  return kind;
}

int64_t hybrid::scratchBytes(func::FuncOp kernel) {
  // Shared memory a block reduction may take beside its kernel's buffers (a
  // value per warp: see hybrid-kernels-to-gpu).
  constexpr int64_t kReductionBytes = 8 * kWarpLanes;
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

std::string hybrid::joinedName(StringRef first, StringRef second,
                               StringRef joiner) {
  size_t shared = 0;
  for (size_t at = second.find("__"); at != StringRef::npos;
       at = second.find("__", at + 2)) {
    if (!first.starts_with(second.take_front(at + 2)))
      break;
    shared = at + 2;
  }
  return (first + joiner + second.drop_front(shared)).str();
}

namespace {
bool maybeSmallAt(Value count, int depth) {
  auto small = [](int64_t v) { return v >= 1 && v <= hybrid::kTailWorkgroups; };
  if (std::optional<int64_t> constant = getConstantIntValue(count))
    return small(*constant);
  Operation *def = count.getDefiningOp();
  if (!def || depth > 16)
    return true;
  auto constant = [](Value v) { return getConstantIntValue(v); };
  if (auto select = dyn_cast<arith::SelectOp>(def))
    return maybeSmallAt(select.getTrueValue(), depth + 1) ||
           maybeSmallAt(select.getFalseValue(), depth + 1);
  // A product of counts is small only where both factors are.
  if (auto mul = dyn_cast<arith::MulIOp>(def))
    return maybeSmallAt(mul.getLhs(), depth + 1) &&
           maybeSmallAt(mul.getRhs(), depth + 1);
  // The trip counts of hybrid-form-dispatches: ceil(max(n - 0, 0) / 1).
  if (auto div = dyn_cast<arith::CeilDivUIOp>(def); div && constant(div.getRhs()) == 1)
    return maybeSmallAt(div.getLhs(), depth + 1);
  if (auto max = dyn_cast<arith::MaxSIOp>(def); max && constant(max.getRhs()) == 0)
    return maybeSmallAt(max.getLhs(), depth + 1);
  if (auto sub = dyn_cast<arith::SubIOp>(def); sub && constant(sub.getRhs()) == 0)
    return maybeSmallAt(sub.getLhs(), depth + 1);
  return true;
}

std::optional<int64_t> countBoundAt(Value count, int depth) {
  if (std::optional<int64_t> constant = getConstantIntValue(count))
    return constant;
  Operation *def = count.getDefiningOp();
  if (!def || depth > 16)
    return std::nullopt;
  auto bound = [&](Value v) { return countBoundAt(v, depth + 1); };
  auto isZero = [](Value v) { return getConstantIntValue(v) == 0; };
  if (auto min = dyn_cast<arith::MinUIOp>(def)) {
    std::optional<int64_t> lhs = bound(min.getLhs()), rhs = bound(min.getRhs());
    if (lhs && rhs)
      return std::min(*lhs, *rhs);
    return lhs ? lhs : rhs;
  }
  if (auto mul = dyn_cast<arith::MulIOp>(def)) {
    std::optional<int64_t> lhs = bound(mul.getLhs()), rhs = bound(mul.getRhs());
    if (lhs && rhs)
      return *lhs * *rhs;
    return std::nullopt;
  }
  // The trip counts of hybrid-form-dispatches: ceil(max(n - 0, 0) / 1).
  if (auto div = dyn_cast<arith::CeilDivUIOp>(def);
      div && getConstantIntValue(div.getRhs()) == 1)
    return bound(div.getLhs());
  if (auto max = dyn_cast<arith::MaxSIOp>(def); max && isZero(max.getRhs()))
    return bound(max.getLhs());
  // A count less what a tail took of it (a remainder's: the tail's part is
  // select(runs, count, 0), all of the count or none), or less 0.
  if (auto sub = dyn_cast<arith::SubIOp>(def)) {
    auto tail = sub.getRhs().getDefiningOp<arith::SelectOp>();
    if (isZero(sub.getRhs()) ||
        (tail && tail.getTrueValue() == sub.getLhs() && isZero(tail.getFalseValue())))
      return bound(sub.getLhs());
  }
  return std::nullopt;
}
} // namespace

bool hybrid::maybeSmall(Value count) { return maybeSmallAt(count, 0); }

std::optional<int64_t> hybrid::countBound(Value count) {
  return countBoundAt(count, 0);
}

bool hybrid::planOnly(Operation *op) {
  return isa<memref::AllocOp, memref::AllocaOp, memref::DeallocOp>(op) ||
         isMemoryEffectFree(op);
}

bool hybrid::hoistableAbove(DispatchOp second, DispatchOp first,
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

void hybrid::JoinedKernel::inlineBody(OpBuilder &at, DispatchOp dispatch,
                                      func::FuncOp kernel, Value begin,
                                      Value end) const {
  Block &body = kernel.getBody().front();
  IRMapping map;
  map.map(body.getArgument(0), begin);
  map.map(body.getArgument(1), end);
  for (auto [operand, bodyArgument] :
       llvm::zip(dispatch.getKernelOperands(), body.getArguments().drop_front(2)))
    map.map(bodyArgument, argument(operand));
  for (Operation &op : body.without_terminator())
    at.clone(op, map);
}

hybrid::JoinedKernel hybrid::joinKernels(SymbolTable &symbols, DispatchOp first,
                                         func::FuncOp firstKernel,
                                         DispatchOp second,
                                         func::FuncOp secondKernel,
                                         ArrayRef<Value> leading,
                                         StringRef joiner) {
  MLIRContext *context = first.getContext();
  llvm::SetVector<Value> operands;
  operands.insert_range(leading);
  operands.insert_range(first.getKernelOperands());
  operands.insert_range(second.getKernelOperands());
  SmallVector<Type> inputs(2, IndexType::get(context));
  for (Value v : operands)
    inputs.push_back(v.getType());
  auto func = func::FuncOp::create(
      first.getLoc(), joinedName(firstKernel.getName(), secondKernel.getName(), joiner),
      FunctionType::get(context, inputs, {}));
  func.setPrivate();
  func->setAttr("hybrid.kernel", UnitAttr::get(context));
  symbols.insert(func, Block::iterator(firstKernel)); // renamed if taken
  Block *entry = func.addEntryBlock();
  JoinedKernel joined;
  joined.func = func;
  joined.operands = operands.takeVector();
  for (auto [i, operand] : llvm::enumerate(joined.operands))
    joined.argumentFor[operand] = entry->getArgument(2 + i);
  return joined;
}
