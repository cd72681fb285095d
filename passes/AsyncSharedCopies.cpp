//===- AsyncSharedCopies.cpp - block copies into shared memory as cp.async ===//
//
// hybrid-async-shared-copies: in a block kernel, a thread that copies from
// global into shared memory with a load and a store waits for each load
// before its store, so its copies of a cooperative loop go one after
// another. As cp.async (nvgpu.device_async_copy) the data goes to shared
// memory without the thread waiting: all its copies of the loop are in
// flight at once, and it goes on to the next phase. The copies of a loop
// are committed as one group after it; each barrier first waits for every
// group. That keeps the block forms' meaning: a cooperative loop's stores
// are read (by other threads in general) only after the next barrier
// (kBlockStridedAttr), and there they are complete. A prefetch's copies
// (kPrefetchAttr) are read only after the barrier that opens the next
// step's prefetch: the step's other barriers leave them in flight.
//
//===----------------------------------------------------------------------===//

#include "passes/LoopUtils.h"
#include "passes/Passes.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/Matchers.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include <cstdint>
#include <numeric>

namespace hybrid {
#define GEN_PASS_DEF_ASYNCSHAREDCOPIESPASS
#include "passes/Passes.h.inc"
} // namespace hybrid

using namespace mlir;

namespace {
bool isShared(MemRefType type) {
  auto space =
      dyn_cast_or_null<gpu::AddressSpaceAttr>(type.getMemorySpace());
  return space && space.getValue() == gpu::AddressSpace::Workgroup;
}

/// The byte alignment the address `buffer[indices]` is known to have (1
/// when unknown): a kernel argument is the base of a device allocation
/// (aligned to 256 bytes by the runtime), a shared buffer a view of the
/// dynamic shared memory (aligned to 16) at a constant shift; rows of
/// identity layout.
int64_t knownAlignment(Value buffer, ValueRange indices) {
  auto type = cast<MemRefType>(buffer.getType());
  if (!type.getLayout().isIdentity() || !type.getElementType().isIntOrFloat())
    return 1;
  int64_t alignment = 16; // all any copy needs
  if (auto view = buffer.getDefiningOp<memref::ViewOp>()) {
    std::optional<int64_t> shift = getConstantIntValue(view.getByteShift());
    if (!shift)
      return 1;
    alignment = std::gcd(alignment, *shift);
  } else if (auto argument = dyn_cast<BlockArgument>(buffer);
             !argument || !isa<gpu::GPUFuncOp>(argument.getOwner()->getParentOp())) {
    return 1;
  }
  // The offset in elements: each index times the row lengths inside it (a
  // dynamic one a multiple of 1).
  int64_t offset = 0, stride = 1;
  for (int64_t d = type.getRank() - 1; d >= 0; --d) {
    offset = std::gcd(offset, hybrid::knownDivisor(indices[d]) * stride);
    if (!ShapedType::isDynamic(type.getDimSize(d)))
      stride *= type.getDimSize(d);
  }
  int64_t element = type.getElementType().getIntOrFloatBitWidth() / 8;
  return offset == 0 ? alignment : std::gcd(alignment, offset * element);
}

/// The bytes [first, last) of the dynamic shared memory that `buffer` (a
/// view of it, or a value made from one) covers; all of them when unknown.
std::pair<int64_t, int64_t> sharedSpan(Value buffer) {
  constexpr std::pair<int64_t, int64_t> kAll{0, INT64_MAX};
  while (auto subview = buffer.getDefiningOp<memref::SubViewOp>())
    buffer = subview.getSource();
  auto view = buffer.getDefiningOp<memref::ViewOp>();
  if (!view || !view.getType().hasStaticShape() ||
      !view.getType().getElementType().isIntOrFloat())
    return kAll;
  std::optional<int64_t> shift = getConstantIntValue(view.getByteShift());
  if (!shift)
    return kAll;
  MemRefType type = view.getType();
  return {*shift, *shift + type.getNumElements() *
                               type.getElementType().getIntOrFloatBitWidth() /
                               8};
}

/// A copy of one value from global memory into a shared buffer: `load`'s
/// only use is `store`'s value, and their element types are equal.
struct Copy {
  Operation *load, *store;
  Value source, target;
  ValueRange sourceIndices, targetIndices;
  int64_t elements, elementBytes;
};

std::optional<Copy> asCopy(Operation *store) {
  Value value, target;
  ValueRange targetIndices;
  if (auto vectorStore = dyn_cast<vector::StoreOp>(store)) {
    value = vectorStore.getValueToStore();
    target = vectorStore.getBase();
    targetIndices = vectorStore.getIndices();
  } else if (auto scalarStore = dyn_cast<memref::StoreOp>(store)) {
    value = scalarStore.getValueToStore();
    target = scalarStore.getMemRef();
    targetIndices = scalarStore.getIndices();
  } else {
    return std::nullopt;
  }
  if (!isShared(cast<MemRefType>(target.getType())) || !value.hasOneUse())
    return std::nullopt;
  Operation *load = value.getDefiningOp();
  Value source;
  ValueRange sourceIndices;
  if (auto vectorLoad = dyn_cast_or_null<vector::LoadOp>(load)) {
    if (vectorLoad.getVectorType().getRank() != 1)
      return std::nullopt;
    source = vectorLoad.getBase();
    sourceIndices = vectorLoad.getIndices();
  } else if (auto scalarLoad = dyn_cast_or_null<memref::LoadOp>(load)) {
    source = scalarLoad.getMemRef();
    sourceIndices = scalarLoad.getIndices();
  } else {
    return std::nullopt;
  }
  auto sourceType = cast<MemRefType>(source.getType());
  auto targetType = cast<MemRefType>(target.getType());
  Type element = sourceType.getElementType();
  if (isShared(sourceType) || element != targetType.getElementType() ||
      !element.isIntOrFloat() || element.getIntOrFloatBitWidth() % 8 != 0)
    return std::nullopt;
  auto vector = dyn_cast<VectorType>(value.getType());
  return Copy{load,
              store,
              source,
              target,
              sourceIndices,
              targetIndices,
              vector ? vector.getNumElements() : 1,
              element.getIntOrFloatBitWidth() / 8};
}

/// The branch of a zero-filling copy: `scf.if %inside {index arithmetic;
/// copy} else {zeros stored where the copy stores}` (rows past a call's
/// tokens staged as zeros). cp.async does both: it reads the piece where
/// `inside` and nothing elsewhere, filling the rest with zeros (src-size).
scf::IfOp zeroFillBranch(const Copy &copy) {
  auto branch = dyn_cast<scf::IfOp>(copy.store->getParentOp());
  if (!branch || branch->getNumResults() != 0 || branch.getElseRegion().empty() ||
      copy.store->getBlock() != branch.thenBlock() ||
      copy.load->getBlock() != branch.thenBlock())
    return {};
  // The rest moves out of the branch: only what runs alike unguarded (no
  // memory effects, and speculatable: a division by a value the branch
  // guards against zero would not be).
  for (Operation &op : branch.thenBlock()->without_terminator())
    if (&op != copy.load && &op != copy.store && !isPure(&op))
      return {};
  Block *otherwise = branch.elseBlock();
  if (!llvm::hasSingleElement(otherwise->without_terminator()))
    return {};
  Operation *zeros = &otherwise->front();
  if (zeros->getName() != copy.store->getName())
    return {};
  Value value;
  if (auto vectorStore = dyn_cast<vector::StoreOp>(zeros)) {
    value = vectorStore.getValueToStore();
    if (vectorStore.getBase() != copy.target ||
        vectorStore.getIndices() != copy.targetIndices)
      return {};
  } else {
    auto scalarStore = cast<memref::StoreOp>(zeros);
    value = scalarStore.getValueToStore();
    if (scalarStore.getMemRef() != copy.target ||
        scalarStore.getIndices() != copy.targetIndices)
      return {};
  }
  // Zero bytes, what cp.async fills with: +0.0 (not -0.0) or integer 0.
  bool zeroBytes =
      matchPattern(value, m_PosZeroFloat()) || matchPattern(value, m_Zero());
  return zeroBytes ? branch : scf::IfOp();
}

/// The pieces `copy` goes as: cp.async moves 4, 8 or 16 bytes, aligned to
/// its size at both ends; longer copies go as 16-byte pieces. 0 when it
/// cannot.
int64_t pieceBytes(const Copy &copy) {
  int64_t bytes = copy.elements * copy.elementBytes;
  int64_t piece = std::min<int64_t>(bytes, 16);
  if ((piece != 4 && piece != 8 && piece != 16) || bytes % piece != 0)
    return 0;
  int64_t source = knownAlignment(copy.source, copy.sourceIndices);
  if (auto load = dyn_cast<vector::LoadOp>(copy.load))
    source = std::max<int64_t>(source, load.getAlignment().value_or(1));
  if (source % piece != 0 ||
      knownAlignment(copy.target, copy.targetIndices) % piece != 0)
    return 0;
  return piece;
}

/// Converts the copies of the strided loop `loop` whose shared buffer
/// nothing else in the loop uses; returns whether there was one.
bool convertCopies(scf::ForOp loop) {
  struct Convertible {
    Copy copy;
    int64_t piece;
    scf::IfOp zeroFill; // null: an unconditional copy
  };
  SmallVector<Convertible> copies;
  llvm::SmallPtrSet<Value, 4> targets;
  loop.walk([&](Operation *op) {
    if (std::optional<Copy> copy = asCopy(op))
      if (int64_t piece = pieceBytes(*copy)) {
        copies.push_back({*copy, piece, zeroFillBranch(*copy)});
        targets.insert(copy->target);
      }
  });
  // A buffer the loop also touches otherwise (through any view of its
  // bytes) keeps its copies: a thread may read its own store back before
  // the barrier.
  llvm::SmallPtrSet<Operation *, 8> converted;
  for (Convertible &c : copies) {
    converted.insert(c.copy.store);
    if (c.zeroFill)
      converted.insert(&c.zeroFill.elseBlock()->front());
  }
  loop.walk([&](Operation *op) {
    if (converted.contains(op))
      return;
    for (Value operand : op->getOperands()) {
      auto type = dyn_cast<MemRefType>(operand.getType());
      if (!type || !isShared(type))
        continue;
      auto [first, last] = sharedSpan(operand);
      for (Value target : llvm::to_vector(targets)) {
        auto [begin, end] = sharedSpan(target);
        if (first < end && begin < last)
          targets.erase(target);
      }
    }
  });
  bool any = false;
  for (auto &[copy, piece, zeroFill] : copies) {
    if (!targets.contains(copy.target))
      continue;
    Location loc = copy.store->getLoc();
    int64_t pieceElements = piece / copy.elementBytes;
    // A zero fill's copy goes where its branch was, reading pieceElements
    // where the branch copied and none (from the buffer's start: an address
    // that exists) where it stored zeros.
    Value srcElements;
    SmallVector<Value> sourceIndices(copy.sourceIndices);
    if (zeroFill) {
      for (Operation &op : llvm::make_early_inc_range(
               zeroFill.thenBlock()->without_terminator()))
        if (&op != copy.load && &op != copy.store)
          op.moveBefore(zeroFill);
      OpBuilder b(zeroFill);
      Value inside = zeroFill.getCondition();
      Value none = arith::ConstantIndexOp::create(b, loc, 0);
      srcElements = arith::SelectOp::create(
          b, loc, inside, arith::ConstantIndexOp::create(b, loc, pieceElements), none);
      for (Value &at : sourceIndices)
        at = arith::SelectOp::create(b, loc, inside, at, none);
    }
    OpBuilder b(zeroFill ? zeroFill.getOperation() : copy.store);
    for (int64_t first = 0; first < copy.elements; first += pieceElements) {
      Value offset =
          first ? arith::ConstantIndexOp::create(b, loc, first) : Value();
      auto shifted = [&](ValueRange indices) {
        SmallVector<Value> at(indices);
        if (offset)
          at.back() = arith::AddIOp::create(b, loc, at.back(), offset);
        return at;
      };
      nvgpu::DeviceAsyncCopyOp::create(
          b, loc, copy.target, shifted(copy.targetIndices), copy.source,
          shifted(sourceIndices), b.getIndexAttr(pieceElements), srcElements,
          // 16-byte pieces skip L1 (cp.async.cg): staged data is read
          // from shared memory, not again from global.
          piece == 16 ? b.getUnitAttr() : UnitAttr());
    }
    if (zeroFill) {
      zeroFill.erase();
    } else {
      copy.store->erase();
      copy.load->erase();
    }
    any = true;
  }
  return any;
}

/// Commits of the copies of prefetch loops (kPrefetchAttr).
constexpr StringLiteral kPrefetchGroup = "hybrid.prefetch_group";

/// Whether `op` is, or holds, a cp.async commit.
bool commits(Operation *op) {
  return op->walk([](NVVM::CpAsyncCommitGroupOp) {
               return WalkResult::interrupt();
             }).wasInterrupted();
}

/// Whether `barrier` opens a step's prefetch: only index arithmetic
/// between it and a prefetch loop.
bool opensPrefetch(gpu::BarrierOp barrier) {
  for (Operation *op = barrier->getNextNode(); op; op = op->getNextNode()) {
    if (op->hasAttr(hybrid::kPrefetchAttr))
      return true;
    if (op->getNumRegions() != 0 || !isMemoryEffectFree(op))
      return false;
  }
  return false;
}

/// The groups `barrier` may leave in flight: none where it opens a step's
/// prefetch (the step reads them after it); elsewhere the prefetch groups
/// committed since the last barrier that waited for all, as long as no
/// other group came after them (cp.async.wait_group N leaves the N most
/// recent). Anything it cannot see through (a region that commits, the
/// start of the block) makes it wait for all.
int32_t groupsLeftInFlight(gpu::BarrierOp barrier) {
  if (opensPrefetch(barrier))
    return 0;
  int32_t prefetches = 0;
  for (Operation *op = barrier->getPrevNode(); op; op = op->getPrevNode()) {
    if (auto wait = dyn_cast<NVVM::CpAsyncWaitGroupOp>(op)) {
      if (wait.getN() == 0)
        return prefetches;
      continue;
    }
    if (isa<NVVM::CpAsyncCommitGroupOp>(op)) {
      if (!op->hasAttr(kPrefetchGroup))
        return prefetches;
      ++prefetches;
      continue;
    }
    if (op->getNumRegions() != 0 && commits(op))
      return 0;
  }
  return 0;
}

struct AsyncSharedCopiesPass
    : hybrid::impl::AsyncSharedCopiesPassBase<AsyncSharedCopiesPass> {
  void runOnOperation() override {
    for (auto func : getOperation().getOps<gpu::GPUFuncOp>()) {
      SmallVector<scf::ForOp> loops;
      func.walk([&](scf::ForOp loop) {
        if (loop->hasAttr(hybrid::kBlockStridedAttr))
          loops.push_back(loop);
      });
      bool any = false;
      for (scf::ForOp loop : loops) {
        if (!convertCopies(loop))
          continue;
        any = true;
        OpBuilder b(loop->getContext());
        b.setInsertionPointAfter(loop);
        auto commit = NVVM::CpAsyncCommitGroupOp::create(b, loop.getLoc());
        if (loop->hasAttr(hybrid::kPrefetchAttr))
          commit->setAttr(kPrefetchGroup, b.getUnitAttr());
      }
      if (!any)
        continue;
      // In program order, so that each barrier sees the waits before it.
      func.walk([&](gpu::BarrierOp barrier) {
        OpBuilder b(barrier);
        NVVM::CpAsyncWaitGroupOp::create(
            b, barrier.getLoc(), b.getI32IntegerAttr(groupsLeftInFlight(barrier)));
      });
      func.walk([](NVVM::CpAsyncCommitGroupOp commit) {
        commit->removeAttr(kPrefetchGroup);
      });
    }
  }
};
} // namespace
