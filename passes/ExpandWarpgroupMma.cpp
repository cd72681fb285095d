//===- ExpandWarpgroupMma.cpp - warpgroup products as contract tiles -------===//
//
// hybrid-expand-warpgroup-mma: for the CPU pipeline's GPU forms, each
// hybrid.warpgroup_mma becomes its warp's share of the block's product as
// plain vector ops: the warp's rows of A and each column tile of B read
// from their core matrices, and one vector.contract per accumulator tile.
// This is where the op's layout (WarpgroupMmaOp's description) is spelled
// out for the CPU; hybrid-warpgroup-mma-to-nvvm spells out the same layout
// as wgmma's matrix descriptors.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"

#include "passes/Conversion/HybridToLinalgLowering.h"

namespace hybrid {
#define GEN_PASS_DEF_EXPANDWARPGROUPMMAPASS
#include "passes/Passes.h.inc"
} // namespace hybrid

using namespace mlir;

namespace {
/// The [8 * rows, 8 * columns] f32 matrix of the core matrices of `buffer`
/// at (row + i, column + j) for i < rows, j < columns. Each is widened as
/// it is read: the CPU's code generator would round shuffled bf16 vectors
/// through f32 with a compiler-rt call the artifact does not link.
Value coreMatrices(OpBuilder &b, Location loc, Value buffer, Value row,
                   Value column, int64_t rows, int64_t columns) {
  Type element = cast<MemRefType>(buffer.getType()).getElementType();
  Type f32 = b.getF32Type();
  auto core = VectorType::get({8, 8}, element);
  auto wideCore = VectorType::get({8, 8}, f32);
  auto whole = VectorType::get({8 * rows, 8 * columns}, f32);
  Value matrix = arith::ConstantOp::create(
      b, loc, whole, DenseElementsAttr::get(whole, b.getZeroAttr(f32)));
  Value zero = arith::ConstantIndexOp::create(b, loc, 0);
  Value padding = arith::ConstantOp::create(b, loc, element, b.getZeroAttr(element));
  auto plus = [&](Value v, int64_t c) -> Value {
    if (c == 0)
      return v;
    return arith::AddIOp::create(b, loc, v,
                                 arith::ConstantIndexOp::create(b, loc, c));
  };
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < columns; ++j) {
      Value read = vector::TransferReadOp::create(
          b, loc, core, buffer, ValueRange{plus(row, i), plus(column, j), zero, zero},
          padding, ArrayRef<bool>{true, true});
      matrix = vector::InsertStridedSliceOp::create(
          b, loc, arith::ExtFOp::create(b, loc, wideCore, read), matrix,
          ArrayRef<int64_t>{8 * i, 8 * j}, ArrayRef<int64_t>{1, 1});
    }
  return matrix;
}

struct ExpandWarpgroupMmaPass
    : hybrid::impl::ExpandWarpgroupMmaPassBase<ExpandWarpgroupMmaPass> {
  void runOnOperation() override {
    SmallVector<hybrid::WarpgroupMmaOp> products;
    getOperation()->walk(
        [&](hybrid::WarpgroupMmaOp op) { products.push_back(op); });
    for (hybrid::WarpgroupMmaOp op : products) {
      OpBuilder b(op);
      Location loc = op.getLoc();
      // The warp's 16 rows: A's core matrix rows 2 warp and 2 warp + 1.
      Value warpRow = arith::AddIOp::create(
          b, loc, op.getARow(),
          arith::MulIOp::create(b, loc, op.getWarp(),
                                arith::ConstantIndexOp::create(b, loc, 2)));
      Value a = coreMatrices(b, loc, op.getA(), warpRow, op.getAColumn(), 2, 2);
      SmallVector<Value> results;
      for (auto [c, acc] : llvm::enumerate(op.getAccumulators())) {
        Value column = arith::AddIOp::create(
            b, loc, op.getBColumn(),
            arith::ConstantIndexOp::create(b, loc, static_cast<int64_t>(c)));
        Value bTile = coreMatrices(b, loc, op.getB(), op.getBRow(), column, 2, 1);
        // The same tile as the mma form's (mma.sync on sm_80 and sm_90).
        results.push_back(hybrid::lowering::mmaContract(b, loc, a, bTile, acc));
      }
      op->replaceAllUsesWith(results);
      op.erase();
    }
  }
};
} // namespace
