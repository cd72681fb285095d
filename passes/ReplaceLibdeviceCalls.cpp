//===- ReplaceLibdeviceCalls.cpp - libdevice calls to NVPTX intrinsics ----===//
//
// hybrid-replace-libdevice-calls: convert-gpu-to-nvvm lowers math.fma,
// math.floor and math.rsqrt to calls of libdevice's __nv_fmaf, __nv_floorf
// and __nv_rsqrtf. HybridC links no libdevice (it comes with the CUDA
// toolkit, which the compiler must not need), and these three are single
// PTX instructions, so the calls become LLVM intrinsics NVPTX selects
// itself. Every other math op was approximated with arith before
// (hybrid-approximate-math{every-op}); a call of any other __nv_ function
// is an error naming it.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"

namespace hybrid {
#define GEN_PASS_DEF_REPLACELIBDEVICECALLSPASS
#include "passes/Passes.h.inc"
} // namespace hybrid

using namespace mlir;

namespace {
/// The intrinsic form of libdevice function `name` applied to `args`, or
/// null when there is none.
Value replacement(OpBuilder &b, Location loc, StringRef name,
                  ValueRange args) {
  Type type = args.empty() ? Type() : args[0].getType();
  if ((name == "__nv_fmaf" || name == "__nv_fma") && args.size() == 3)
    return LLVM::FMAOp::create(b, loc, args[0], args[1], args[2]);
  if ((name == "__nv_floorf" || name == "__nv_floor") && args.size() == 1)
    return LLVM::FFloorOp::create(b, loc, args[0]);
  if ((name == "__nv_rsqrtf" || name == "__nv_rsqrt") && args.size() == 1) {
    // sqrt.rn and div.rn: correctly rounded, as libdevice's rsqrt is not.
    Value one = LLVM::ConstantOp::create(b, loc, type, b.getFloatAttr(type, 1.0));
    return LLVM::FDivOp::create(b, loc, one,
                                LLVM::SqrtOp::create(b, loc, args[0]));
  }
  return {};
}

struct ReplaceLibdeviceCallsPass
    : hybrid::impl::ReplaceLibdeviceCallsPassBase<ReplaceLibdeviceCallsPass> {
  void runOnOperation() override {
    Operation *root = getOperation();
    WalkResult walked = root->walk([&](LLVM::CallOp call) {
      std::optional<StringRef> callee = call.getCallee();
      if (!callee || !callee->starts_with("__nv_"))
        return WalkResult::advance();
      OpBuilder b(call);
      Value value = replacement(b, call.getLoc(), *callee, call.getArgOperands());
      if (!value) {
        call.emitOpError("calls libdevice's ")
            << *callee
            << ", which HybridC does not link: approximate the math op it "
               "came from before convert-gpu-to-nvvm";
        return WalkResult::interrupt();
      }
      call.getResult().replaceAllUsesWith(value);
      call.erase();
      return WalkResult::advance();
    });
    if (walked.wasInterrupted())
      return signalPassFailure();
    // The declarations nothing calls any more.
    SymbolTable symbols(root);
    for (auto func : llvm::to_vector(
             root->getRegion(0).front().getOps<LLVM::LLVMFuncOp>()))
      if (func.isExternal() && func.getName().starts_with("__nv_") &&
          SymbolTable::symbolKnownUseEmpty(func, root))
        func.erase();
  }
};
} // namespace
