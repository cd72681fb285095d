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
// Prefetches into L2 of memory no grid writes (the GEMVs' weights:
// memref.prefetch, a hint) need not wait: the wait goes after the
// kernel's leading computation and prefetches, into the workgroup loops
// and branches that hold them (and after them, for the threads that skip
// them), so that a block launched early fetches its weights while the grid
// before it runs. The prefetches before the wait become PTX's prefetch.L2;
// those after it would only repeat the loads behind them and go.
//
//===----------------------------------------------------------------------===//

#include "passes/LoopUtils.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

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

void waitAt(OpBuilder &b, Location loc) {
  NVVM::GriddepcontrolOp::create(b, loc, NVVM::GridDepActionKind::wait);
}

bool holdsPrefetch(Operation *op) {
  return op->walk([](memref::PrefetchOp) { return WalkResult::interrupt(); })
      .wasInterrupted();
}

/// Puts a wait before the first op of `block` that touches memory, past the
/// ops that only compute and prefetch (collected into `early`) and past the
/// scf.for and scf.if ops that hold prefetches, each of whose blocks gets
/// its own wait this way: the workgroup loops of a merged kernel's members,
/// which a block runs one of, each prefetch before they wait. A thread
/// that ran such a region meets the next wait after it too, which then
/// returns at once. A block that
/// touches no memory waits at its end: every thread waits, so that a grid
/// completes only after the grids before it.
void placeWait(Block &block, SmallVectorImpl<memref::PrefetchOp> &early) {
  for (Operation &op : block) {
    OpBuilder b(&op);
    if (op.hasTrait<OpTrait::IsTerminator>())
      return waitAt(b, op.getLoc());
    if (isa<NVVM::GriddepcontrolOp>(op)) // the signal to launch the next
      continue;
    if (hybrid::onlyComputesAndPrefetches(&op)) {
      op.walk([&](memref::PrefetchOp prefetch) { early.push_back(prefetch); });
      continue;
    }
    if (isa<scf::ForOp, scf::IfOp>(op) && holdsPrefetch(&op)) {
      for (Region &region : op.getRegions())
        for (Block &inner : region)
          placeWait(inner, early);
      continue;
    }
    return waitAt(b, op.getLoc());
  }
}

/// Adds PTX's prefetch.L2 of `prefetch`'s element (its generic address)
/// before it, as inline PTX: LLVM selects its prefetch intrinsics only from
/// PTX ISA 8.0, and sm_90's is 7.8. Nothing where the buffer's layout is not
/// static.
void lowerPrefetch(memref::PrefetchOp prefetch) {
  MemRefType type = prefetch.getMemRefType();
  SmallVector<int64_t> strides;
  int64_t offset;
  if (failed(type.getStridesAndOffset(strides, offset)) ||
      ShapedType::isDynamic(offset) ||
      llvm::any_of(strides, ShapedType::isDynamic) ||
      !type.getElementType().isIntOrFloat())
    return;
  OpBuilder b(prefetch);
  Location loc = prefetch.getLoc();
  auto index = [&](int64_t v) -> Value {
    return arith::ConstantIndexOp::create(b, loc, v);
  };
  Value element = index(offset);
  for (auto [at, stride] : llvm::zip(prefetch.getIndices(), strides))
    element = arith::AddIOp::create(
        b, loc, element, arith::MulIOp::create(b, loc, at, index(stride)));
  int64_t bytes = (type.getElementType().getIntOrFloatBitWidth() + 7) / 8;
  Value address = arith::AddIOp::create(
      b, loc,
      memref::ExtractAlignedPointerAsIndexOp::create(b, loc, prefetch.getMemref()),
      arith::MulIOp::create(b, loc, element, index(bytes)));
  LLVM::InlineAsmOp::create(
      b, loc, TypeRange{},
      ValueRange{arith::IndexCastOp::create(b, loc, b.getI64Type(), address)},
      "prefetch.L2 [$0];", "l", /*has_side_effects=*/true,
      /*is_align_stack=*/false, LLVM::tailcallkind::TailCallKind::None,
      /*asm_dialect=*/LLVM::AsmDialectAttr(), /*operand_attrs=*/ArrayAttr());
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
      Block &entry = func.getBody().front();
      OpBuilder b = OpBuilder::atBlockBegin(&entry);
      Location loc = func.getLoc();
      // Signal first: the next kernel's blocks then wait in its own first
      // instruction, resident, while this grid runs. It launches only once
      // every block of this grid has signalled, so a grid never waits for
      // room that the grids after it hold.
      NVVM::GriddepcontrolOp::create(
          b, loc, NVVM::GridDepActionKind::launch_dependents);
      if (!holdsPrefetch(func))
        return waitAt(b, loc);
      SmallVector<memref::PrefetchOp> early;
      placeWait(entry, early);
      for (memref::PrefetchOp prefetch : early)
        lowerPrefetch(prefetch);
      func.walk([](memref::PrefetchOp prefetch) { prefetch.erase(); });
    });
  }
};
} // namespace
