//===- FormDispatches.cpp - parallel loops -> kernels + dispatches --------===//
//
// hybrid-form-dispatches: every top-level `scf.parallel` of a function
// becomes a kernel function over a range of workgroups (one workgroup per
// iteration of the loop's whole iteration space) and a `hybrid.dispatch` of
// it. The function that remains is the plan: straight-line host code that
// allocates buffers and dispatches kernels in order.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"
#include "passes/LoopUtils.h"

#include "dialects/Hybrid/IR/HybridOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Transforms/RegionUtils.h"

#include <cctype>

namespace hybrid {
#define GEN_PASS_DEF_FORMDISPATCHESPASS
#include "passes/Passes.h.inc"
} // namespace hybrid

using namespace mlir;

namespace {
/// Values a kernel recreates instead of receiving: constants (scalars and
/// globals: a GPU kernel refers to the global itself, a copy of a constant
/// or the kernels' own), and static scratch buffers used only inside the
/// loop (each call, and so each thread, then has its own).
bool cloneIntoKernel(Value value, scf::ParallelOp loop) {
  Operation *def = value.getDefiningOp();
  if (!def)
    return false;
  if (def->getNumOperands() == 0 && matchPattern(value, m_Constant()))
    return true;
  if (isa<memref::GetGlobalOp>(def))
    return true;
  auto alloca = dyn_cast<memref::AllocaOp>(def);
  if (!alloca || !alloca.getType().hasStaticShape())
    return false;
  return llvm::all_of(alloca->getUsers(), [&](Operation *user) {
    return loop->isProperAncestor(user);
  });
}

/// The kernel's name: the host function's, then the checkpoint module the
/// loop computes (its location, e.g. model.layers.3.mlp) when known, then
/// the stage of that module's lowering when the loop is named (e.g. conv),
/// so that profiles and IR dumps say what each kernel is.
std::string kernelName(func::FuncOp host, Location loc) {
  // NameLocs from the outside in: a stage wraps the op's module name.
  SmallVector<StringRef> names;
  loc->walk([&](Location inner) {
    if (auto named = dyn_cast<NameLoc>(inner))
      names.push_back(named.getName().strref());
    return WalkResult::advance();
  });
  std::string name = host.getName().str();
  if (names.empty())
    return name + "_dispatch";
  for (StringRef part : llvm::reverse(names)) {
    name += "__";
    for (char c : part)
      name += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  }
  return name;
}

void outline(scf::ParallelOp loop, func::FuncOp host, SymbolTable &symbols) {
  Location loc = loop.getLoc();
  OpBuilder b(loop);

  // Everything the kernel reads from the host: the bounds and what the body
  // uses from above.
  llvm::SetVector<Value> used;
  getUsedValuesDefinedAbove(loop.getRegion(), used);
  used.insert_range(loop.getLowerBound());
  used.insert_range(loop.getUpperBound());
  used.insert_range(loop.getStep());
  SmallVector<Value> cloned, passed;
  for (Value v : used)
    (cloneIntoKernel(v, loop) ? cloned : passed).push_back(v);

  // The kernel: (begin, end, passed...) runs workgroups [begin, end).
  SmallVector<Type> inputs(2, b.getIndexType());
  for (Value v : passed)
    inputs.push_back(v.getType());
  auto kernel = func::FuncOp::create(
      loc, kernelName(host, loc),
      FunctionType::get(b.getContext(), inputs, {}));
  kernel.setPrivate();
  kernel->setAttr("hybrid.kernel", b.getUnitAttr());
  symbols.insert(kernel);
  Block *entry = kernel.addEntryBlock();
  OpBuilder kb = OpBuilder::atBlockBegin(entry);
  IRMapping map;
  for (auto [value, arg] : llvm::zip(passed, entry->getArguments().drop_front(2)))
    map.map(value, arg);
  for (Value v : cloned)
    kb.clone(*v.getDefiningOp(), map);

  SmallVector<Value> trips;
  for (auto [lb, ub, step] : llvm::zip(loop.getLowerBound(),
                                       loop.getUpperBound(), loop.getStep()))
    trips.push_back(hybrid::tripCount(kb, loc, map.lookup(lb), map.lookup(ub),
                              map.lookup(step)));
  Value one = arith::ConstantIndexOp::create(kb, loc, 1);
  auto workgroups = scf::ForOp::create(kb, loc, entry->getArgument(0),
                                       entry->getArgument(1), one);
  {
    // Workgroup w -> the loop's induction variables, last dimension fastest.
    OpBuilder::InsertionGuard guard(kb);
    kb.setInsertionPointToStart(workgroups.getBody());
    SmallVector<Value> lbs, steps;
    for (auto [lb, step] : llvm::zip(loop.getLowerBound(), loop.getStep())) {
      lbs.push_back(map.lookup(lb));
      steps.push_back(map.lookup(step));
    }
    SmallVector<Value> ivs = hybrid::delinearize(
        kb, loc, workgroups.getInductionVar(), trips, lbs, steps);
    for (auto [iv, value] : llvm::zip(loop.getInductionVars(), ivs))
      map.map(iv, value);
    for (Operation &op : loop.getBody()->without_terminator())
      kb.clone(op, map);
  }
  func::ReturnOp::create(kb, loc);

  // The host computes the workgroup count and dispatches.
  Value count = arith::ConstantIndexOp::create(b, loc, 1);
  for (auto [lb, ub, step] : llvm::zip(loop.getLowerBound(),
                                       loop.getUpperBound(), loop.getStep()))
    count = arith::MulIOp::create(b, loc, count, hybrid::tripCount(b, loc, lb, ub, step));
  auto dispatch = hybrid::DispatchOp::create(
      b, loc, FlatSymbolRefAttr::get(kernel.getSymNameAttr()), count, passed);
  if (loop->hasAttr(hybrid::kRowFormAttr))
    dispatch->setAttr(hybrid::kRowFormAttr, b.getUnitAttr());
  loop.erase();
  // Scratch that moved into the kernel (and constants nothing else uses).
  for (Value v : cloned)
    if (v.use_empty())
      v.getDefiningOp()->erase();
}

struct FormDispatchesPass
    : hybrid::impl::FormDispatchesPassBase<FormDispatchesPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SymbolTable symbols(module);
    for (auto host : llvm::to_vector(module.getOps<func::FuncOp>())) {
      if (host.isExternal() || host->hasAttr("hybrid.kernel"))
        continue;
      SmallVector<scf::ParallelOp> loops;
      for (Block &block : host.getBody())
        for (auto loop : block.getOps<scf::ParallelOp>())
          if (loop.getNumResults() == 0)
            loops.push_back(loop);
      for (scf::ParallelOp loop : loops)
        outline(loop, host, symbols);
    }
  }
};
} // namespace
