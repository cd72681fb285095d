//===- DeduplicateKernels.cpp - one kernel for identical layers' kernels --===//
//
// hybrid-deduplicate-kernels: the layers of a model repeat, and so do their
// kernels: weights, caches and states are operands, so layer 3's router is
// layer 0's to the op. Identical kernels become one, every dispatch of the
// others calling it, labelled with the name of the kernel it called for
// profiles. The later passes, LLVM's backends and ptxas then see each
// kernel once instead of once per layer.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"

#include "dialects/Hybrid/IR/HybridOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/SymbolTable.h"

#include "llvm/ADT/MapVector.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringMap.h"

#include <map>

namespace hybrid {
#define GEN_PASS_DEF_DEDUPLICATEKERNELSPASS
#include "passes/Passes.h.inc"
} // namespace hybrid

using namespace mlir;

namespace {
/// Every symbol's users in the module, from one walk (a walk per symbol
/// would be quadratic: a 48-layer model has thousands of kernels).
using SymbolUsers = llvm::DenseMap<StringAttr, SmallVector<Operation *>>;

SymbolUsers symbolUsers(ModuleOp module) {
  SymbolUsers users;
  if (std::optional<SymbolTable::UseRange> uses =
          SymbolTable::getSymbolUses(&module.getBodyRegion()))
    for (const SymbolTable::SymbolUse &use : *uses)
      users[use.getSymbolRef().getRootReference()].push_back(use.getUser());
  return users;
}

/// The globals only `kernel` reads or writes that start each call as they
/// were (a GEMV's arrival counts, set back to 0 by the last arrival):
/// private, not constant, no user outside the kernel. Two kernels may
/// differ in these and still be one: their calls never overlap.
SmallVector<memref::GlobalOp> ownGlobals(func::FuncOp kernel,
                                         SymbolTable &symbols,
                                         const SymbolUsers &users) {
  SmallVector<memref::GlobalOp> own;
  kernel.walk([&](memref::GetGlobalOp get) {
    auto global = symbols.lookup<memref::GlobalOp>(get.getName());
    if (!global || global.getConstant() || !global.isPrivate() ||
        llvm::is_contained(own, global))
      return;
    if (llvm::all_of(users.lookup(global.getSymNameAttr()),
                     [&](Operation *user) {
                       return kernel->isProperAncestor(user);
                     }))
      own.push_back(global);
  });
  return own;
}

/// What makes two kernels one: the kernel printed, its own name and its
/// own globals' names replaced by their roles (each global by its place
/// among them), then those globals' types and initial values.
std::string identity(func::FuncOp kernel, ArrayRef<memref::GlobalOp> own) {
  std::string printed;
  llvm::raw_string_ostream os(printed);
  kernel->print(os, OpPrintingFlags().useLocalScope());
  llvm::StringMap<std::string> roles;
  roles[kernel.getSymName()] = "kernel";
  std::string globals;
  llvm::raw_string_ostream describe(globals);
  for (auto [index, ownGlobal] : llvm::enumerate(own)) {
    memref::GlobalOp global = ownGlobal;
    roles[global.getSymName()] = ("own" + Twine(index)).str();
    describe << "\n" << global.getTypeAttr();
    if (std::optional<Attribute> value = global.getInitialValue())
      describe << " = " << *value;
  }
  // Symbol references in the text: '@' and a bare identifier.
  std::string text;
  StringRef rest = printed;
  while (!rest.empty()) {
    size_t at = rest.find('@');
    text += rest.take_front(at);
    if (at == StringRef::npos)
      break;
    rest = rest.drop_front(at + 1);
    StringRef symbol = rest.take_while(
        [](char c) { return llvm::isAlnum(c) || c == '_' || c == '$' || c == '.'; });
    rest = rest.drop_front(symbol.size());
    auto role = roles.find(symbol);
    text += '@';
    text += role == roles.end() ? symbol : StringRef(role->second);
  }
  return text + globals;
}

struct DeduplicateKernelsPass
    : hybrid::impl::DeduplicateKernelsPassBase<DeduplicateKernelsPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SymbolTable symbols(module);
    // Kernels only dispatches call, by what they compute, in module order.
    llvm::MapVector<std::string, SmallVector<func::FuncOp>,
                    std::map<std::string, unsigned>>
        kernelsBy;
    llvm::DenseMap<Operation *, SmallVector<memref::GlobalOp>> globalsOf;
    SymbolUsers users = symbolUsers(module);
    for (auto kernel : module.getOps<func::FuncOp>()) {
      if (!kernel->hasAttr("hybrid.kernel") ||
          !llvm::all_of(users.lookup(kernel.getSymNameAttr()),
                        llvm::IsaPred<hybrid::DispatchOp>))
        continue;
      SmallVector<memref::GlobalOp> own = ownGlobals(kernel, symbols, users);
      kernelsBy[identity(kernel, own)].push_back(kernel);
      globalsOf[kernel] = std::move(own);
    }

    llvm::DenseMap<StringAttr, func::FuncOp> keptFor;
    SmallVector<func::FuncOp> dropped;
    for (auto &[text, kernels] : kernelsBy)
      for (func::FuncOp duplicate : llvm::drop_begin(kernels)) {
        keptFor[duplicate.getSymNameAttr()] = kernels.front();
        dropped.push_back(duplicate);
      }
    if (dropped.empty())
      return;
    MLIRContext *context = module.getContext();
    module.walk([&](hybrid::DispatchOp dispatch) {
      StringAttr callee = dispatch.getCallee().getRootReference();
      func::FuncOp kept = keptFor.lookup(callee);
      if (!kept)
        return;
      if (!dispatch->hasAttr("hybrid.label"))
        dispatch->setAttr("hybrid.label", callee);
      dispatch.setCalleeAttr(FlatSymbolRefAttr::get(context, kept.getSymName()));
    });
    for (func::FuncOp duplicate : dropped) {
      SmallVector<memref::GlobalOp> own = std::move(globalsOf[duplicate]);
      duplicate.erase();
      for (memref::GlobalOp global : own)
        global.erase();
    }
  }
};
} // namespace
