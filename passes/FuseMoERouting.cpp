//===- FuseMoERouting.cpp - One routing op and grouped experts per MoE ----===//
//
// hybrid-fuse-moe-routing: every hybrid.moe becomes hybrid.moe_route (the
// router product through the routing weights, one kernel per token) and
// hybrid.moe_experts (tokens grouped by expert, one grouped matmul per
// expert, combined with the routing weights and the shared expert).
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"

#include "dialects/Hybrid/IR/HybridOps.h"

namespace hybrid {
#define GEN_PASS_DEF_FUSEMOEROUTINGPASS
#include "passes/Passes.h.inc"
} // namespace hybrid

using namespace mlir;
using namespace hybrid;

namespace {
struct FuseMoERoutingPass
    : hybrid::impl::FuseMoERoutingPassBase<FuseMoERoutingPass> {
  void runOnOperation() override {
    SmallVector<MoEOp> blocks;
    getOperation().walk([&](MoEOp op) { blocks.push_back(op); });
    for (MoEOp moe : blocks) {
      OpBuilder b(moe);
      Location loc = moe.getLoc();
      Value x = moe.getInput();
      auto xType = cast<RankedTensorType>(x.getType());
      int64_t tokens = xType.getDimSize(0), topK = moe.getTopK();
      auto routingType = [&](Type element) {
        return RankedTensorType::get({tokens, topK}, element);
      };
      auto route = MoERouteOp::create(
          b, loc, routingType(b.getI64Type()), routingType(b.getF32Type()), x,
          moe.getRouter(), moe.getSelectionBias(), moe.getTopKAttr(),
          moe.getScoringAttr(), moe.getNormTopkProbAttr(),
          moe.getRoutedScalingFactorAttr(), moe.getNGroupAttr(),
          moe.getTopkGroupAttr());
      // The shared expert is a plain SwiGLU block of its own.
      Value shared;
      if (moe.getSharedGate())
        shared = MLPOp::create(b, loc, xType, x, moe.getSharedGate(),
                               moe.getSharedUp(), moe.getSharedDown());
      auto experts = MoEExpertsOp::create(
          b, loc, xType, x, route.getExperts(), route.getWeights(),
          moe.getExpertsGate(), moe.getExpertsUp(), moe.getExpertsDown(),
          shared, moe.getSharedExpertGate());
      moe.replaceAllUsesWith(experts.getResult());
      moe.erase();
    }
  }
};
} // namespace
