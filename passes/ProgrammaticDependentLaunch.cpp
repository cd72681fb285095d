//===- ProgrammaticDependentLaunch.cpp - kernels that may launch early ----===//
//
// hybrid-programmatic-dependent-launch: a decode step is tens of small
// kernels, and between two of them a GPU drains the first grid, then
// launches and schedules the second. On sm_90 a kernel launched with
// programmatic stream serialization may start while the kernel before it
// in the stream still runs, once every block of that one has signalled
// (griddepcontrol.launch_dependents); it must then wait
// (griddepcontrol.wait) before it touches memory: the wait returns when the
// grids it depends on have completed and their writes are visible. Every
// kernel here signals and waits first thing, so its meaning is the same
// whether the runtime launches it that way or not (the wait is then a
// no-op), and only the launch and scheduling overlap the grid before.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"

namespace hybrid {
#define GEN_PASS_DEF_PROGRAMMATICDEPENDENTLAUNCHPASS
#include "passes/Passes.h.inc"
} // namespace hybrid

using namespace mlir;

namespace {
/// The compute capability of an NVVM target's chip ("sm_90a": 90), 0 if it
/// names none.
int computeCapability(NVVM::NVVMTargetAttr target) {
  StringRef chip = target.getChip();
  int capability = 0;
  if (!chip.consume_front("sm_") || chip.consumeInteger(10, capability))
    return 0;
  return capability;
}

struct ProgrammaticDependentLaunchPass
    : hybrid::impl::ProgrammaticDependentLaunchPassBase<
          ProgrammaticDependentLaunchPass> {
  void runOnOperation() override {
    gpu::GPUModuleOp module = getOperation();
    ArrayAttr targets = module.getTargetsAttr();
    auto nvvm = targets && targets.size() == 1
                    ? dyn_cast<NVVM::NVVMTargetAttr>(targets[0])
                    : NVVM::NVVMTargetAttr();
    if (!nvvm || computeCapability(nvvm) < 90) {
      InFlightDiagnostic error = module.emitOpError(
          "hybrid-programmatic-dependent-launch: griddepcontrol needs one "
          "NVVM target of sm_90 or later, got ");
      if (targets)
        error << targets;
      else
        error << "none";
      return signalPassFailure();
    }
    module.walk([](gpu::GPUFuncOp func) {
      if (!func.isKernel() || func.getBody().empty())
        return;
      OpBuilder b = OpBuilder::atBlockBegin(&func.getBody().front());
      Location loc = func.getLoc();
      // Signal first: the next kernel's blocks then wait in its own first
      // instruction, resident, while this grid runs. It launches only once
      // every block of this grid has signalled, so a grid never waits for
      // room that the grids after it hold.
      NVVM::GriddepcontrolOp::create(
          b, loc, NVVM::GridDepActionKind::launch_dependents);
      NVVM::GriddepcontrolOp::create(b, loc, NVVM::GridDepActionKind::wait);
    });
  }
};
} // namespace
