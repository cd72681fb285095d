//===- WeightsToArguments.cpp - hybrid.weight -> function arguments -------===//
//
// hybrid-weights-to-arguments: the weights a function reads become its
// trailing arguments, named by argument attributes, for the runtime to bind.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"

#include "dialects/Hybrid/IR/HybridOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

namespace hybrid {
#define GEN_PASS_DEF_WEIGHTSTOARGUMENTSPASS
#include "passes/Passes.h.inc"
} // namespace hybrid

using namespace mlir;
using namespace hybrid;

namespace {
struct WeightsToArgumentsPass
    : hybrid::impl::WeightsToArgumentsPassBase<WeightsToArgumentsPass> {
  void runOnOperation() override {
    for (auto func : getOperation().getOps<func::FuncOp>()) {
      if (func.isExternal())
        continue;
      // One argument per (name, experts, type): a tensor read twice (a tied
      // embedding and head) is bound once; packed, it is another argument.
      llvm::MapVector<std::tuple<StringRef, int64_t, Type>, BlockArgument> args;
      SmallVector<WeightOp> weights;
      func.walk([&](WeightOp op) { weights.push_back(op); });
      for (WeightOp op : weights) {
        auto key = std::make_tuple(op.getName(), op.getExperts().value_or(0),
                                   op.getType());
        auto it = args.find(key);
        if (it == args.end()) {
          Builder b(op.getContext());
          SmallVector<NamedAttribute> attrs = {
              b.getNamedAttr("hybrid.weight", op.getNameAttr())};
          if (op.getExperts())
            attrs.push_back(b.getNamedAttr(
                "hybrid.experts", b.getI64IntegerAttr(*op.getExperts())));
          if (op.getPacked())
            attrs.push_back(b.getNamedAttr(
                "hybrid.packed", b.getI64IntegerAttr(*op.getPacked())));
          if (op.getPairs())
            attrs.push_back(b.getNamedAttr("hybrid.packed_pairs", b.getUnitAttr()));
          unsigned index = func.getNumArguments();
          if (failed(func.insertArgument(index, op.getType(),
                                         b.getDictionaryAttr(attrs),
                                         op.getLoc())))
            return signalPassFailure();
          it = args.insert({key, func.getArgument(index)}).first;
        }
        op.getResult().replaceAllUsesWith(it->second);
        op.erase();
      }
    }
  }
};
} // namespace
