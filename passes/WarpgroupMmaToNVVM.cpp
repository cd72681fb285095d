//===- WarpgroupMmaToNVVM.cpp - warpgroup products to sm_90a's wgmma -------===//
//
// hybrid-warpgroup-mma-to-nvvm: in the GPU module, each
// hybrid.warpgroup_mma becomes one wgmma.mma_async of the block's
// warpgroup (bf16 x bf16 + f32, m64nNk16), its operands read by the
// tensor cores from shared memory through matrix descriptors: A K-major and
// B N-major, no swizzle, the descriptors' byte offsets the core matrices'
// strides (the op's layout is the canonical one of the PTX ISA for these
// modes). Consecutive products are issued together and waited for once
// (see ProductRuns). The warp-level [16, 8] accumulator tiles become each
// lane's 4 values of wgmma's accumulator fragment, in the loops that carry
// them, the constants that start them and the stores that end them: a
// dialect conversion of the kernels that hold such ops.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"

#include "dialects/Hybrid/IR/HybridOps.h"

#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/SCF/Transforms/Patterns.h"
#include "mlir/Transforms/DialectConversion.h"

namespace hybrid {
#define GEN_PASS_DEF_WARPGROUPMMATONVVMPASS
#include "passes/Passes.h.inc"
} // namespace hybrid

using namespace mlir;

namespace {
/// A lane's values of a warp's [16, 8] f32 tile: (lane / 4, 2 (lane % 4)),
/// the next column, then the same 8 rows down (mma.sync's accumulator
/// layout, which wgmma's repeats for every 8 columns).
constexpr int64_t kLaneValues = 4;

bool isWarpTile(Type type) {
  auto vector = dyn_cast<VectorType>(type);
  return vector && vector.getRank() == 2 && vector.getDimSize(0) == 16 &&
         vector.getDimSize(1) == 8 && vector.getElementType().isF32();
}

struct LaneFragments : TypeConverter {
  LaneFragments() {
    addConversion([](Type type) { return type; });
    addConversion([](VectorType type) -> Type {
      if (!isWarpTile(type))
        return type;
      return VectorType::get({kLaneValues}, type.getElementType());
    });
  }
};

/// A splat constant tile: the same splat of the lane's values.
struct SplatTile : OpConversionPattern<arith::ConstantOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(arith::ConstantOp op, OpAdaptor,
                  ConversionPatternRewriter &rewriter) const override {
    auto splat = dyn_cast<SplatElementsAttr>(op.getValue());
    if (!isWarpTile(op.getType()) || !splat)
      return rewriter.notifyMatchFailure(op, "not a splat warp tile");
    auto type = cast<VectorType>(getTypeConverter()->convertType(op.getType()));
    rewriter.replaceOpWithNewOp<arith::ConstantOp>(
        op, type, SplatElementsAttr::get(type, splat.getSplatValue<Attribute>()));
    return success();
  }
};

/// Whether the lanes can store their values of the tile `op` stores: whole,
/// unmasked, in bounds, in the last two dimensions of a memref.
bool isLaneStorable(vector::TransferWriteOp op) {
  return isa<MemRefType>(op.getBase().getType()) && !op.getMask() &&
         op.getPermutationMap().isMinorIdentity() &&
         llvm::all_of(op.getInBoundsValues(), [](bool b) { return b; });
}

/// A tile stored in bounds at (row, column) of the last two dimensions: the
/// lane's 4 values at their rows and columns.
struct StoreTile : OpConversionPattern<vector::TransferWriteOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(vector::TransferWriteOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    if (!isWarpTile(op.getVectorType()) || !isLaneStorable(op))
      return rewriter.notifyMatchFailure(op, "not a warp tile stored whole");
    Location loc = op.getLoc();
    auto index = [&](int64_t v) -> Value {
      return arith::ConstantIndexOp::create(rewriter, loc, v);
    };
    Value lane = gpu::LaneIdOp::create(rewriter, loc, /*upper_bound=*/nullptr);
    Value row = arith::DivUIOp::create(rewriter, loc, lane, index(4));
    Value pair = arith::MulIOp::create(
        rewriter, loc, arith::RemUIOp::create(rewriter, loc, lane, index(4)),
        index(2));
    SmallVector<Value> at(adaptor.getIndices());
    size_t rank = at.size();
    Value firstRow = arith::AddIOp::create(rewriter, loc, at[rank - 2], row);
    Value firstColumn = arith::AddIOp::create(rewriter, loc, at[rank - 1], pair);
    for (int64_t value = 0; value < kLaneValues; ++value) {
      at[rank - 2] = value < 2 ? firstRow
                               : arith::AddIOp::create(rewriter, loc, firstRow,
                                                       index(8))
                                     .getResult();
      at[rank - 1] = value % 2 == 0
                         ? firstColumn
                         : arith::AddIOp::create(rewriter, loc, firstColumn,
                                                 index(1))
                               .getResult();
      Value element = vector::ExtractOp::create(rewriter, loc,
                                                adaptor.getValueToStore(), value);
      memref::StoreOp::create(rewriter, loc, element, adaptor.getBase(), at);
    }
    rewriter.eraseOp(op);
    return success();
  }
};

/// The descriptor of the core matrix at (row, column) of `buffer` (see
/// the PTX ISA's matrix descriptor format): its shared-memory address,
/// the leading and stride byte offsets (each 16-byte aligned, under 256
/// KiB), no swizzle.
FailureOr<Value> matrixDescriptor(OpBuilder &b, Location loc, Operation *op,
                                  Value buffer, Value row, Value column,
                                  int64_t leadingBytes, int64_t strideBytes) {
  for (int64_t bytes : {leadingBytes, strideBytes})
    if (bytes % 16 != 0 || bytes <= 0 || bytes >= (1 << 18))
      return op->emitOpError("hybrid-warpgroup-mma-to-nvvm: a matrix "
                             "descriptor's byte offset must be a positive "
                             "multiple of 16 under 256 KiB, got ")
             << bytes;
  auto type = cast<MemRefType>(buffer.getType());
  SmallVector<int64_t> strides;
  int64_t offset;
  if (failed(type.getStridesAndOffset(strides, offset)) ||
      ShapedType::isDynamic(offset))
    return op->emitOpError("hybrid-warpgroup-mma-to-nvvm: core matrices "
                           "with a dynamic offset: ")
           << type;
  auto index = [&](int64_t v) -> Value {
    return arith::ConstantIndexOp::create(b, loc, v);
  };
  Value element = arith::AddIOp::create(
      b, loc,
      arith::AddIOp::create(b, loc,
                            arith::MulIOp::create(b, loc, row, index(strides[0])),
                            arith::MulIOp::create(b, loc, column, index(strides[1]))),
      index(offset));
  int64_t elementBytes = type.getElementTypeBitWidth() / 8;
  Value address = arith::AddIOp::create(
      b, loc, memref::ExtractAlignedPointerAsIndexOp::create(b, loc, buffer),
      arith::MulIOp::create(b, loc, element, index(elementBytes)));
  Type i64 = b.getI64Type();
  auto constant = [&](int64_t v) -> Value {
    return arith::ConstantIntOp::create(b, loc, i64, v);
  };
  Value encoded = arith::ShRUIOp::create(
      b, loc,
      arith::AndIOp::create(b, loc,
                            arith::IndexCastUIOp::create(b, loc, i64, address),
                            constant(0x3FFFF)),
      constant(4));
  int64_t offsets = (leadingBytes >> 4) << 16 | (strideBytes >> 4) << 32;
  return arith::OrIOp::create(b, loc, encoded, constant(offsets)).getResult();
}

/// The products issued together: a run is warpgroup products of one block
/// with the same number of accumulator tiles, between them only ops without
/// memory effects (and no regions) that read none of the run's tiles. The
/// tensor cores order the accumulators of same-shaped products themselves
/// (the PTX ISA's wgmma.fence), so a run needs the fences before its first
/// product only, and one commit and wait after its last, before anything
/// reads its tiles or touches memory (such as the next step's staging,
/// which may overwrite what the products still read).
struct ProductRuns {
  llvm::DenseSet<Operation *> first, last;

  explicit ProductRuns(Operation *kernel) {
    kernel->walk([&](Block *block) {
      SmallVector<hybrid::WarpgroupMmaOp> run;
      llvm::DenseSet<Value> tiles;
      auto close = [&] {
        if (!run.empty()) {
          first.insert(run.front());
          last.insert(run.back());
        }
        run.clear();
        tiles.clear();
      };
      for (Operation &op : *block) {
        if (auto product = dyn_cast<hybrid::WarpgroupMmaOp>(op)) {
          if (!run.empty() && run.back().getAccumulators().size() !=
                                  product.getAccumulators().size())
            close();
          run.push_back(product);
          tiles.insert(product->result_begin(), product->result_end());
          continue;
        }
        bool readsTiles = llvm::any_of(
            op.getOperands(), [&](Value v) { return tiles.contains(v); });
        if (op.getNumRegions() != 0 || !isMemoryEffectFree(&op) || readsTiles)
          close();
      }
      close();
    });
  }
};

struct WarpgroupMmaLowering : OpConversionPattern<hybrid::WarpgroupMmaOp> {
  WarpgroupMmaLowering(const TypeConverter &types, MLIRContext *ctx,
                       const ProductRuns &runs)
      : OpConversionPattern(types, ctx), runs(runs) {}
  const ProductRuns &runs;

  LogicalResult
  matchAndRewrite(hybrid::WarpgroupMmaOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = op.getContext();
    auto strideBytes = [](Value buffer, unsigned dim) {
      auto type = cast<MemRefType>(buffer.getType());
      SmallVector<int64_t> strides;
      int64_t offset;
      (void)type.getStridesAndOffset(strides, offset); // checked by the verifier
      return strides[dim] * type.getElementTypeBitWidth() / 8;
    };
    // A K-major: the leading offset goes along the inputs (A's core matrix
    // columns), the stride offset down 8 rows. B N-major: the leading offset
    // goes along the inputs (B's core matrix rows), the stride offset across
    // 8 columns.
    FailureOr<Value> a = matrixDescriptor(
        rewriter, loc, op, adaptor.getA(), adaptor.getARow(),
        adaptor.getAColumn(), strideBytes(op.getA(), 1), strideBytes(op.getA(), 0));
    FailureOr<Value> b = matrixDescriptor(
        rewriter, loc, op, adaptor.getB(), adaptor.getBRow(),
        adaptor.getBColumn(), strideBytes(op.getB(), 0), strideBytes(op.getB(), 1));
    if (failed(a) || failed(b))
      return failure();

    // The stores that staged A and B are the generic proxy's; wgmma reads
    // through the async proxy. wgmma.fence orders the accumulators'
    // registers before the run.
    if (runs.first.contains(op)) {
      NVVM::FenceProxyOp::create(
          rewriter, loc, NVVM::ProxyKind::async_shared,
          NVVM::SharedSpaceAttr::get(ctx, NVVM::SharedSpace::shared_cta));
      NVVM::WgmmaFenceAlignedOp::create(rewriter, loc);
    }
    ValueRange tiles = adaptor.getAccumulators();
    int64_t columns = 8 * static_cast<int64_t>(tiles.size());
    Type f32 = rewriter.getF32Type();
    auto registers = LLVM::LLVMStructType::getLiteral(
        ctx, SmallVector<Type>(kLaneValues * tiles.size(), f32));
    Value in = LLVM::PoisonOp::create(rewriter, loc, registers);
    for (auto [c, tile] : llvm::enumerate(tiles))
      for (int64_t v = 0; v < kLaneValues; ++v)
        in = LLVM::InsertValueOp::create(
            rewriter, loc, in, vector::ExtractOp::create(rewriter, loc, tile, v),
            static_cast<int64_t>(c) * kLaneValues + v);
    Value out = NVVM::WgmmaMmaAsyncOp::create(
        rewriter, loc, registers, in, *a, *b,
        NVVM::MMAShapeAttr::get(ctx, 64, columns, 16), NVVM::WGMMATypes::bf16,
        NVVM::WGMMATypes::bf16, NVVM::WGMMATypes::f32,
        NVVM::WGMMAScaleOut::one, NVVM::WGMMAScaleIn::one,
        NVVM::WGMMAScaleIn::one,
        // row: A not transposed (K-major); row for B: transposed (N-major).
        NVVM::MMALayout::row, NVVM::MMALayout::row,
        /*satfinite=*/NVVM::MMAIntOverflowAttr());
    if (runs.last.contains(op)) {
      NVVM::WgmmaGroupSyncAlignedOp::create(rewriter, loc);
      NVVM::WgmmaWaitGroupSyncOp::create(rewriter, loc, 0);
    }
    SmallVector<Value> results;
    auto lane = VectorType::get({kLaneValues}, f32);
    for (size_t c = 0; c < tiles.size(); ++c) {
      SmallVector<Value> values;
      for (int64_t v = 0; v < kLaneValues; ++v)
        values.push_back(LLVM::ExtractValueOp::create(
            rewriter, loc, out, static_cast<int64_t>(c) * kLaneValues + v));
      results.push_back(vector::FromElementsOp::create(rewriter, loc, lane, values));
    }
    rewriter.replaceOp(op, results);
    return success();
  }
};

struct WarpgroupMmaToNVVMPass
    : hybrid::impl::WarpgroupMmaToNVVMPassBase<WarpgroupMmaToNVVMPass> {
  void runOnOperation() override {
    MLIRContext *ctx = &getContext();
    SmallVector<Operation *> kernels;
    getOperation()->walk([&](gpu::GPUFuncOp func) {
      if (func->walk([](hybrid::WarpgroupMmaOp) {
                return WalkResult::interrupt();
              }).wasInterrupted())
        kernels.push_back(func);
    });
    LaneFragments types;
    ConversionTarget target(*ctx);
    target.addIllegalOp<hybrid::WarpgroupMmaOp>();
    target.markUnknownOpDynamicallyLegal([&](Operation *op) {
      return types.isLegal(op);
    });
    for (Operation *kernel : kernels) {
      ProductRuns runs(kernel);
      RewritePatternSet patterns(ctx);
      patterns.add<SplatTile, StoreTile>(types, ctx);
      patterns.add<WarpgroupMmaLowering>(types, ctx, runs);
      scf::populateSCFStructuralTypeConversionsAndLegality(types, patterns,
                                                           target);
      FrozenRewritePatternSet frozen(std::move(patterns));
      WalkResult stores = kernel->walk([](vector::TransferWriteOp op) {
        if (!isWarpTile(op.getVectorType()) || isLaneStorable(op))
          return WalkResult::advance();
        op.emitOpError("hybrid-warpgroup-mma-to-nvvm: a warpgroup product's "
                       "tile must be stored whole, unmasked and in bounds, "
                       "its rows and columns the memref's last two "
                       "dimensions");
        return WalkResult::interrupt();
      });
      if (stores.wasInterrupted() ||
          failed(applyPartialConversion(kernel, target, frozen)))
        return signalPassFailure();
    }
  }
};
} // namespace
