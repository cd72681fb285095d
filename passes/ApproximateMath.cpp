//===- ApproximateMath.cpp - exp and log as polynomials -------------------===//
//
// hybrid-approximate-math: f32 math.exp, log1p and log become polynomial
// approximations built from arith and math.fma, which LLVM vectorises; left
// as calls, every exp of a scan, softmax or SiLU is a scalar libm call.
// With every-op (GPU kernels, which have no libm and would otherwise call
// libdevice), also sin, cos and the rest upstream approximates.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"

#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Math/Transforms/Passes.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace hybrid {
#define GEN_PASS_DEF_APPROXIMATEMATHPASS
#include "passes/Passes.h.inc"
} // namespace hybrid

using namespace mlir;

namespace {
/// The math ops rewritten, by name ("math.exp" or "exp": the walk below and
/// the patterns' predicate both ask). With `everyOp`, all but rsqrt (whose
/// approximation is x86-only; GPUs have their own).
bool approximated(StringRef name, bool everyOp) {
  name.consume_front("math.");
  if (everyOp)
    return name != "rsqrt";
  return name == "exp" || name == "log1p" || name == "log";
}

struct ApproximateMathPass
    : hybrid::impl::ApproximateMathPassBase<ApproximateMathPass> {
  using Base::Base;

  void runOnOperation() override {
    auto selected = [every = bool(everyOp)](StringRef name) {
      return approximated(name, every);
    };
    // Only the selected ops and what their rewrites create: no folding or
    // simplification of the rest of the module.
    SmallVector<Operation *> ops;
    getOperation().walk([&](Operation *op) {
      if (isa_and_present<math::MathDialect>(op->getDialect()) &&
          selected(op->getName().getStringRef()) &&
          getElementTypeOrSelf(op->getResult(0).getType()).isF32())
        ops.push_back(op);
    });
    if (ops.empty())
      return;
    RewritePatternSet patterns(&getContext());
    populateMathPolynomialApproximationPatterns(patterns, selected);
    GreedyRewriteConfig config;
    config.setStrictness(GreedyRewriteStrictness::ExistingAndNewOps);
    config.enableFolding(false);
    if (failed(applyOpPatternsGreedily(ops, std::move(patterns), config)))
      return signalPassFailure();
  }
};
} // namespace
