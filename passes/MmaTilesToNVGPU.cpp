//===- MmaTilesToNVGPU.cpp - contract tiles to tensor-core mma.sync -------===//
//
// hybrid-mma-tiles-to-nvgpu: in the warp kernels of the GPU module (those
// with vector.contract tiles, convert-hybrid-to-linalg's mma form), the
// 16x8x8 contract tiles go through MLIR's vector-to-nvgpu
// conversion: every lane loads its fragment elements and each contract
// becomes an nvgpu.mma.sync on tf32. Two things around the upstream
// conversion:
//  - it takes f32 operands only from f32 memory, so a bf16 or f16 weight
//    tile (transfer_read + extf) is read through an f32 view of its buffer,
//    and the loads the conversion makes from that view are turned back into
//    loads of the real elements and an extf;
//  - it starts a slice at every arith op that could be matrix arithmetic,
//    index arithmetic included (and then fails on it), so the kernel's
//    index adds, multiplies and divisions are index-dialect ops while it
//    runs.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"

#include "mlir/Conversion/VectorToGPU/VectorToGPU.h"
#include "mlir/Dialect/Index/IR/IndexDialect.h"
#include "mlir/Dialect/Index/IR/IndexOps.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/IR/Iterators.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace hybrid {
#define GEN_PASS_DEF_MMATILESTONVGPUPASS
#include "passes/Passes.h.inc"
} // namespace hybrid

using namespace mlir;

namespace {
/// arith ops on index the conversion would take for matrix arithmetic, and
/// their index-dialect twins (same semantics on index values).
constexpr std::pair<StringLiteral, StringLiteral> kIndexTwins[] = {
    {"arith.addi", "index.add"},   {"arith.subi", "index.sub"},
    {"arith.muli", "index.mul"},   {"arith.divsi", "index.divs"},
    {"arith.divui", "index.divu"},
};

/// Replaces every op of `func` named as a `from` of kIndexTwins (on index
/// values) by its `to` twin, or back.
void swapIndexArithmetic(gpu::GPUFuncOp func, bool toIndexDialect) {
  SmallVector<Operation *> ops;
  func.walk([&](Operation *op) {
    if (op->getNumResults() == 1 && op->getResult(0).getType().isIndex())
      ops.push_back(op);
  });
  for (Operation *op : ops)
    for (auto [arith, index] : kIndexTwins) {
      StringRef from = toIndexDialect ? arith : index;
      StringRef to = toIndexDialect ? index : arith;
      if (op->getName().getStringRef() != from)
        continue;
      OpBuilder b(op);
      OperationState state(op->getLoc(), to);
      state.addOperands(op->getOperands());
      state.addTypes(op->getResultTypes());
      Operation *twin = b.create(state);
      op->replaceAllUsesWith(twin);
      op->erase();
      break;
    }
}

/// `type` with f32 elements.
MemRefType asF32(MemRefType type) {
  return MemRefType::get(type.getShape(), Float32Type::get(type.getContext()),
                         type.getLayout(), type.getMemorySpace());
}

/// Reads of narrower float tiles widened for a contract (transfer_read of
/// bf16/f16 + extf) become transfer_reads of an f32 view of the same
/// buffer (an unrealized cast, one per buffer), which are returned.
SmallVector<UnrealizedConversionCastOp> readThroughF32Views(gpu::GPUFuncOp func) {
  SmallVector<UnrealizedConversionCastOp> views;
  DenseMap<Value, Value> viewOf;
  SmallVector<arith::ExtFOp> widened;
  func.walk([&](arith::ExtFOp extf) {
    auto read = extf.getIn().getDefiningOp<vector::TransferReadOp>();
    if (read && read->hasOneUse() && isa<MemRefType>(read.getBase().getType()) &&
        llvm::all_of(extf->getUsers(), llvm::IsaPred<vector::ContractionOp>))
      widened.push_back(extf);
  });
  for (arith::ExtFOp extf : widened) {
    auto read = extf.getIn().getDefiningOp<vector::TransferReadOp>();
    Value buffer = read.getBase();
    Value &view = viewOf[buffer];
    if (!view) {
      OpBuilder b(func.getContext());
      b.setInsertionPointAfterValue(buffer);
      auto f32View = UnrealizedConversionCastOp::create(
          b, read.getLoc(), asF32(cast<MemRefType>(buffer.getType())), buffer);
      views.push_back(f32View);
      view = f32View.getResult(0);
    }
    OpBuilder b(read);
    Value padding =
        arith::ConstantOp::create(b, read.getLoc(), b.getF32FloatAttr(0.0));
    auto f32Read = vector::TransferReadOp::create(
        b, read.getLoc(), cast<VectorType>(extf.getType()), view,
        read.getIndices(), padding, read.getPermutationMapAttr(),
        read.getInBoundsAttr());
    extf.replaceAllUsesWith(f32Read.getResult());
    extf.erase();
    read.erase();
  }
  return views;
}

/// The loads the conversion made from an f32 view become loads of the
/// buffer's own elements, widened.
LogicalResult loadThroughViews(ArrayRef<UnrealizedConversionCastOp> views) {
  for (UnrealizedConversionCastOp view : views) {
    Value buffer = view.getOperand(0);
    for (Operation *user : llvm::to_vector(view->getUsers())) {
      OpBuilder b(user);
      Location loc = user->getLoc();
      Type element = cast<MemRefType>(buffer.getType()).getElementType();
      Value widened;
      if (auto load = dyn_cast<memref::LoadOp>(user)) {
        Value raw = memref::LoadOp::create(b, loc, buffer, load.getIndices());
        widened = arith::ExtFOp::create(b, loc, load.getType(), raw);
      } else if (auto load = dyn_cast<vector::LoadOp>(user)) {
        auto type = load.getVectorType();
        Value raw = vector::LoadOp::create(
            b, loc, VectorType::get(type.getShape(), element), buffer,
            load.getIndices());
        widened = arith::ExtFOp::create(b, loc, type, raw);
      } else {
        return user->emitOpError(
            "reads a narrow float tile in a way hybrid-mma-tiles-to-nvgpu "
            "cannot widen (expected memref.load or vector.load)");
      }
      user->getResult(0).replaceAllUsesWith(widened);
      user->erase();
    }
    view.erase();
  }
  return success();
}

struct MmaTilesToNVGPUPass
    : hybrid::impl::MmaTilesToNVGPUPassBase<MmaTilesToNVGPUPass> {
  void runOnOperation() override {
    for (auto func : getOperation().getOps<gpu::GPUFuncOp>()) {
      bool hasTiles = false;
      func.walk([&](vector::ContractionOp) { hasTiles = true; });
      if (hasTiles && failed(convert(func)))
        return signalPassFailure();
    }
  }

  LogicalResult convert(gpu::GPUFuncOp func) {
    MLIRContext *context = func.getContext();
    // Contracts in (m, k) x (k, n) form, transposes folded into the reads.
    RewritePatternSet prepare(context);
    populatePrepareVectorToMMAPatterns(prepare, /*useNvGpu=*/true);
    if (failed(applyPatternsGreedily(func, std::move(prepare))))
      return func.emitOpError("hybrid-mma-tiles-to-nvgpu: preparing the "
                              "contract tiles did not converge");
    SmallVector<UnrealizedConversionCastOp> views = readThroughF32Views(func);
    swapIndexArithmetic(func, /*toIndexDialect=*/true);
    IRRewriter rewriter(context);
    LogicalResult converted = convertVectorToNVVMCompatibleMMASync(rewriter, func);
    swapIndexArithmetic(func, /*toIndexDialect=*/false);
    if (failed(converted))
      return func.emitOpError("hybrid-mma-tiles-to-nvgpu: the tensor-core "
                              "lowering failed");
    // The conversion leaves the tiles it replaced, now unused.
    func.walk<WalkOrder::PostOrder, ReverseIterator>([&](Operation *op) {
      if (isa<vector::ContractionOp, vector::TransferReadOp, arith::ConstantOp>(op) &&
          op->use_empty())
        op->erase();
    });
    if (failed(loadThroughViews(views)))
      return failure();
    // The conversion leaves f32 tiles as mma.sync on f32, which NVVM
    // lowers only as tf32.
    func.walk([&](nvgpu::MmaSyncOp mma) {
      if (cast<VectorType>(mma.getMatrixA().getType()).getElementType().isF32())
        mma.setTf32EnabledAttr(UnitAttr::get(context));
    });
    WalkResult left = func.walk([&](vector::ContractionOp contract) {
      contract.emitOpError("in GPU kernel @")
          << func.getName()
          << ": a tile the tensor-core lowering did not take (it needs "
             "16x8x8 tiles with f32 accumulators, read in bounds from "
             "memory)";
      return WalkResult::interrupt();
    });
    return failure(left.wasInterrupted());
  }
};
} // namespace
