//===- DeallocAfterLastUse.cpp - free each buffer after its last use ------===//
//
// hybrid-dealloc-after-last-use: the ownership-based buffer deallocation
// frees a block's buffers at the block's end, so a call's plan held every
// buffer of every layer until it returned (495 MB at a 1k-token prompt of
// the Qwen3-Next-shaped benchmark model, all of it faulted in anew). This
// pass moves each `memref.dealloc` up to just after the last op of its
// block that uses the buffer or a value that may hold its address (a
// view, a cast, a pointer), so that a later layer's buffers reuse
// an earlier layer's memory. A buffer one of whose values leaves through a
// terminator, or is used outside the dealloc's block, stays as it is.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "llvm/ADT/SetVector.h"

namespace hybrid {
#define GEN_PASS_DEF_DEALLOCAFTERLASTUSEPASS
#include "passes/Passes.h.inc"
} // namespace hybrid

using namespace mlir;

namespace {
/// Whether `result` of `op`, which uses a buffer, may hold the buffer's
/// address: a view or cast of it (a memref), a tensor on it, a pointer. Its
/// dimensions and the values read from it do not.
bool mayHoldAddress(Operation *op, Value result) {
  return isa<BaseMemRefType, TensorType, LLVM::LLVMPointerType>(result.getType()) ||
         isa<memref::ExtractAlignedPointerAsIndexOp>(op);
}

/// The last op of `block` that uses `buffer` or a value derived from it
/// (itself or through ops nested in it), other than `dealloc`; null when
/// the buffer escapes or is used outside the block.
FailureOr<Operation *> lastUseInBlock(Value buffer, Operation *dealloc,
                                      Block *block) {
  llvm::SetVector<Value> derived;
  derived.insert(buffer);
  Operation *last = nullptr;
  for (size_t i = 0; i < derived.size(); ++i) {
    for (Operation *user : derived[i].getUsers()) {
      if (user == dealloc)
        continue;
      if (user->hasTrait<OpTrait::IsTerminator>())
        return failure();
      Operation *inBlock = block->findAncestorOpInBlock(*user);
      if (!inBlock || dealloc->isBeforeInBlock(inBlock))
        return failure();
      if (!last || last->isBeforeInBlock(inBlock))
        last = inBlock;
      for (Value result : user->getResults())
        if (mayHoldAddress(user, result))
          derived.insert(result);
    }
  }
  return last;
}

struct DeallocAfterLastUsePass
    : hybrid::impl::DeallocAfterLastUsePassBase<DeallocAfterLastUsePass> {
  void runOnOperation() override {
    SmallVector<memref::DeallocOp> deallocs;
    getOperation()->walk([&](memref::DeallocOp op) { deallocs.push_back(op); });
    for (memref::DeallocOp dealloc : deallocs) {
      FailureOr<Operation *> last =
          lastUseInBlock(dealloc.getMemref(), dealloc, dealloc->getBlock());
      if (failed(last))
        continue;
      // A buffer no op uses: freed where it is defined (or at the block's
      // start, for an argument).
      Operation *after = *last;
      if (!after)
        after = dealloc.getMemref().getDefiningOp();
      if (!after || after->getBlock() != dealloc->getBlock()) {
        dealloc->moveBefore(&dealloc->getBlock()->front());
        continue;
      }
      dealloc->moveAfter(after);
    }
  }
};
} // namespace
