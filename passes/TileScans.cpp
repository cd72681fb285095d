//===- TileScans.cpp - Chunked forms of the recurrent mixers --------------===//
//
// hybrid-tile-scans: Gated DeltaNet and Mamba layers that may see several
// tokens of a sequence in one call get a `chunk_size`, which makes their
// lowering run the chunked (blocked) form for such calls.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"

#include "dialects/Hybrid/IR/HybridOps.h"

namespace hybrid {
#define GEN_PASS_DEF_TILESCANSPASS
#include "passes/Passes.h.inc"
} // namespace hybrid

using namespace mlir;
using namespace hybrid;

namespace {
/// A call with a static token count of 1 is decode only: the one-step
/// recurrence is its best form, so it is left alone.
bool decodeOnly(Value input) {
  return cast<ShapedType>(input.getType()).getDimSize(0) == 1;
}

struct TileScansPass : hybrid::impl::TileScansPassBase<TileScansPass> {
  using TileScansPassBase::TileScansPassBase;

  LogicalResult initialize(MLIRContext *context) override {
    if (chunkSize < 1 || chunkSize > kMaxChunkSize)
      return emitError(UnknownLoc::get(context))
             << "hybrid-tile-scans: chunk-size must be from 1 to "
             << kMaxChunkSize << ", got " << chunkSize.getValue();
    return success();
  }

  void runOnOperation() override {
    auto chunk = IntegerAttr::get(IntegerType::get(&getContext(), 64),
                                  chunkSize.getValue());
    // An op that already has a chunk size (set by hand or an earlier run)
    // keeps it.
    getOperation().walk([&](Operation *op) {
      if (auto gdn = dyn_cast<GatedDeltaNetOp>(op)) {
        if (!gdn.getChunkSizeAttr() && !decodeOnly(gdn.getInput()))
          gdn.setChunkSizeAttr(chunk);
      } else if (auto mamba = dyn_cast<MambaOp>(op)) {
        if (!mamba.getChunkSizeAttr() && !decodeOnly(mamba.getInput()))
          mamba.setChunkSizeAttr(chunk);
      }
    });
  }
};
} // namespace
