//===- KernelsToGPU.cpp - dispatch kernels as GPU kernels -----------------===//
//
// hybrid-kernels-to-gpu: after hybrid-form-dispatches, every kernel
// `@k(begin, end, operands...)` moves into `gpu.module @hybrid_kernels` as
// `gpu.func @k(workgroups, operands...) kernel`, in which GPU thread
// `block_id.x * block_dim + thread_id.x` runs that workgroup (threads past
// the count run none). Each dispatch then names `@hybrid_kernels::@k`; the
// runtime launches ceil(workgroups / block size) blocks. A kernel with
// cooperative or warps loops runs a workgroup per block instead:
// cooperative loops strided over its threads between barriers, their
// shared scratch in the GPU module's dynamic shared memory (the dispatch
// carries its bytes); a warps loop's iterations one per warp,
// whose lanes share its vector.contract tiles (hybrid-mma-tiles-to-nvgpu).
// Constant globals a kernel reads
// are copied into the GPU module; static buffers it allocates go on its
// stack.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"
#include "passes/LoopUtils.h"

#include "dialects/Hybrid/IR/HybridOps.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include <numeric>

namespace hybrid {
#define GEN_PASS_DEF_KERNELSTOGPUPASS
#include "passes/Passes.h.inc"
} // namespace hybrid

using namespace mlir;

namespace {
constexpr StringLiteral kGPUModule = "hybrid_kernels";
/// The GPU module's dynamic shared memory: an array of unknown size
/// (`.extern .shared` in PTX) whose bytes each launch gives, so a block may
/// hold more than the 48 KiB static shared memory is limited to.
constexpr StringLiteral kDynamicShared = "hybrid_dynamic_shared";
/// Alignment of each block's buffer in it, in bytes.
constexpr int64_t kSharedAlignment = 16;

bool isCooperative(Operation *op) {
  return isa<scf::ParallelOp>(op) && op->hasAttr(hybrid::kCooperativeAttr);
}

bool isWarps(Operation *op) {
  return isa<scf::ParallelOp>(op) && op->hasAttr(hybrid::kWarpsAttr);
}

/// Threads that run one workgroup of `kernel`: the whole block for
/// cooperative or warps loops, else one. Contract tiles are a warp's, so
/// they must be inside a warps loop.
FailureOr<int64_t> workgroupThreads(func::FuncOp kernel, int64_t blockSize) {
  bool block = false, warps = false;
  WalkResult walked = kernel.walk([&](Operation *op) {
    block |= isCooperative(op) || isWarps(op);
    warps |= isWarps(op);
    if (isa<vector::ContractionOp>(op) && !hybrid::inWarpsLoop(op)) {
      op->emitOpError("hybrid-kernels-to-gpu: a contract tile (a warp's "
                      "work) outside a warps loop");
      return WalkResult::interrupt();
    }
    return WalkResult::advance();
  });
  if (walked.wasInterrupted())
    return failure();
  if (warps && blockSize != hybrid::kBlockWarps * hybrid::kWarpLanes)
    return kernel.emitOpError("hybrid-kernels-to-gpu: has a warps loop, a "
                              "warp per iteration of ")
           << hybrid::kBlockWarps << ", so block-size must be "
           << hybrid::kBlockWarps * hybrid::kWarpLanes << ", got " << blockSize;
  return block ? blockSize : 1;
}

/// Each warp of the block runs its iteration of each warps loop: the loop
/// (of exactly kBlockWarps iterations) gives way to its body at iteration
/// thread_id.x / 32, and a barrier after it.
LogicalResult runWarpsLoops(gpu::GPUFuncOp func) {
  SmallVector<scf::ParallelOp> loops;
  func.walk([&](scf::ParallelOp loop) {
    if (isWarps(loop))
      loops.push_back(loop);
  });
  for (scf::ParallelOp loop : loops) {
    std::optional<int64_t> lb = getConstantIntValue(loop.getLowerBound()[0]),
                           ub = getConstantIntValue(loop.getUpperBound()[0]),
                           step = getConstantIntValue(loop.getStep()[0]);
    if (loop.getNumLoops() != 1 || loop.getNumResults() != 0 || !lb || !ub ||
        !step || *step <= 0 ||
        llvm::divideCeil(*ub - *lb, *step) != hybrid::kBlockWarps)
      return loop.emitOpError("hybrid-kernels-to-gpu: a warps loop must have "
                              "one dimension of ")
             << hybrid::kBlockWarps << " iterations and no results";
    bool nested = false;
    for (Operation *parent = loop->getParentOp(); parent;
         parent = parent->getParentOp())
      nested |= isWarps(parent) || isCooperative(parent);
    if (nested)
      return loop.emitOpError("hybrid-kernels-to-gpu: a warps loop inside a "
                              "warps or cooperative loop");
    OpBuilder b(loop);
    Location loc = loop.getLoc();
    Value warp = arith::DivUIOp::create(
        b, loc, gpu::ThreadIdOp::create(b, loc, gpu::Dimension::x),
        arith::ConstantIndexOp::create(b, loc, hybrid::kWarpLanes));
    Value iteration = arith::AddIOp::create(
        b, loc, loop.getLowerBound()[0],
        arith::MulIOp::create(b, loc, warp, loop.getStep()[0]));
    Block *body = loop.getBody();
    loop.getInductionVars()[0].replaceAllUsesWith(iteration);
    body->getTerminator()->erase();
    loop->getBlock()->getOperations().splice(Block::iterator(loop),
                                             body->getOperations());
    // The warps meet after it: the next phase may read any warp's tiles.
    gpu::BarrierOp::create(b, loc);
    loop.erase();
  }
  return success();
}

/// How the block combines the threads' results of a cooperative loop's
/// reduction: its combiner one op on the two arguments whose identity is
/// the init (each thread starts from it): f32 addf from 0, f32 maximumf
/// from -inf, i32 minui from all ones. Else none.
std::optional<gpu::AllReduceOperation> blockReduction(Value init,
                                                      Region &combiner) {
  Block &block = combiner.front();
  Operation *op = &block.front();
  if (op->getNumOperands() != 2 || op->getNumResults() != 1 ||
      !isa<scf::ReduceReturnOp>(op->getNextNode()) ||
      op->getOperand(0) == op->getOperand(1) ||
      !llvm::all_of(op->getOperands(), [&](Value v) {
        return llvm::is_contained(block.getArguments(), v);
      }))
    return std::nullopt;
  Type type = init.getType();
  APInt bits;
  if (isa<arith::AddFOp>(op) && type.isF32() &&
      matchPattern(init, m_AnyZeroFloat()))
    return gpu::AllReduceOperation::ADD;
  if (isa<arith::MaximumFOp>(op) && type.isF32() &&
      matchPattern(init, m_NegInfFloat()))
    return gpu::AllReduceOperation::MAXIMUMF;
  if (isa<arith::MinUIOp>(op) && type.isInteger(32) &&
      matchPattern(init, m_ConstantInt(&bits)) && bits.isAllOnes())
    return gpu::AllReduceOperation::MINUI;
  return std::nullopt;
}

/// The buffers a cooperative loop reads and writes (nullopt if some effect
/// names none).
struct Accesses {
  llvm::SmallPtrSet<Value, 4> reads, writes;
};
std::optional<Accesses> accessesOf(Operation *loop) {
  Accesses accesses;
  WalkResult walked = loop->walk([&](Operation *op) {
    if (op == loop || op->hasTrait<OpTrait::HasRecursiveMemoryEffects>() ||
        isMemoryEffectFree(op))
      return WalkResult::advance();
    auto effects = dyn_cast<MemoryEffectOpInterface>(op);
    if (!effects)
      return WalkResult::interrupt();
    SmallVector<MemoryEffects::EffectInstance> instances;
    effects.getEffects(instances);
    for (const MemoryEffects::EffectInstance &instance : instances) {
      Value buffer = instance.getValue();
      if (!buffer)
        return WalkResult::interrupt();
      if (isa<MemoryEffects::Write>(instance.getEffect()))
        accesses.writes.insert(buffer);
      else if (isa<MemoryEffects::Read>(instance.getEffect()))
        accesses.reads.insert(buffer);
    }
    return WalkResult::advance();
  });
  if (walked.wasInterrupted())
    return std::nullopt;
  return accesses;
}

/// Whether cooperative loop `second` may start on some threads while
/// `first` still runs on others: each writes only the block's shared
/// buffers (distinct buffers never alias) or its threads' own scratch, and
/// touches none of the buffers the other writes.
bool independent(Operation *first, Operation *second) {
  std::optional<Accesses> a = accessesOf(first), b = accessesOf(second);
  if (!a || !b)
    return false;
  // A thread's scratch, or a block's buffer: its own part of the dynamic
  // shared memory (placeInDynamicSharedMemory).
  auto ownedByBlockOrThread = [&](Value buffer) {
    if (buffer.getDefiningOp<memref::AllocaOp>())
      return true;
    auto view = buffer.getDefiningOp<memref::ViewOp>();
    auto global =
        view ? view.getSource().getDefiningOp<memref::GetGlobalOp>() : nullptr;
    return global && global.getName() == kDynamicShared;
  };
  auto clear = [&](const Accesses &writer, const Accesses &other) {
    return llvm::all_of(writer.writes, [&](Value buffer) {
      return ownedByBlockOrThread(buffer) && !other.reads.contains(buffer) &&
             !other.writes.contains(buffer);
    });
  };
  return clear(*a, *b) && clear(*b, *a);
}

/// `module`'s dynamic shared memory (kDynamicShared), declared the first
/// time a kernel needs it.
memref::GlobalOp dynamicSharedMemory(gpu::GPUModuleOp module) {
  if (auto global = module.lookupSymbol<memref::GlobalOp>(kDynamicShared))
    return global;
  MLIRContext *context = module.getContext();
  OpBuilder b = OpBuilder::atBlockBegin(module.getBody());
  // Public and uninitialised: an external declaration, which NVPTX emits
  // as `.extern .shared .align 16 .b8 hybrid_dynamic_shared[]`.
  return memref::GlobalOp::create(
      b, module.getLoc(), kDynamicShared, b.getStringAttr("public"),
      MemRefType::get({0}, b.getI8Type(), MemRefLayoutAttrInterface(),
                      gpu::AddressSpaceAttr::get(
                          context, gpu::AddressSpace::Workgroup)),
      /*initial_value=*/Attribute(), /*constant=*/false,
      b.getI64IntegerAttr(kSharedAlignment));
}

/// Places the block's `buffers` one after another (each at a multiple of
/// 16 bytes: 16-byte vector accesses and ldmatrix rows) in the dynamic
/// shared memory; returns the bytes they take.
FailureOr<int64_t> placeInDynamicSharedMemory(gpu::GPUFuncOp func,
                                              ArrayRef<memref::AllocaOp> buffers) {
  if (buffers.empty())
    return 0;
  MLIRContext *context = func.getContext();
  memref::GlobalOp global =
      dynamicSharedMemory(func->getParentOfType<gpu::GPUModuleOp>());
  OpBuilder b = OpBuilder::atBlockBegin(&func.getBody().front());
  Value base = memref::GetGlobalOp::create(b, func.getLoc(), global.getType(),
                                           global.getSymName());
  auto workgroupSpace =
      gpu::AddressSpaceAttr::get(context, gpu::AddressSpace::Workgroup);
  int64_t bytes = 0;
  for (memref::AllocaOp alloca : buffers) {
    MemRefType type = alloca.getType();
    Type element = type.getElementType();
    // index is 64-bit in the NVVM lowering (convert-gpu-to-nvvm's default).
    int64_t elementBytes =
        element.isIndex() ? 8
        : element.isIntOrFloat() && element.getIntOrFloatBitWidth() % 8 == 0
            ? element.getIntOrFloatBitWidth() / 8
            : 0;
    if (!type.getLayout().isIdentity() || !elementBytes)
      return alloca.emitOpError("hybrid-kernels-to-gpu: a block's shared "
                                "buffer must have an identity layout and "
                                "whole-byte elements")
             << ", got " << type;
    bytes = llvm::alignTo(bytes, kSharedAlignment);
    // In the alloca's place (an insertion point before it would dangle
    // once it is erased).
    b.setInsertionPoint(alloca);
    Value offset = arith::ConstantIndexOp::create(b, alloca.getLoc(), bytes);
    auto view = memref::ViewOp::create(
        b, alloca.getLoc(),
        MemRefType::get(type.getShape(), element, MemRefLayoutAttrInterface(),
                        workgroupSpace),
        base, offset, ValueRange());
    alloca.replaceAllUsesWith(view.getResult());
    alloca.erase();
    bytes += type.getNumElements() * elementBytes;
  }
  return bytes;
}

/// The iterations of `loop` when its bounds are constants.
std::optional<int64_t> constantIterations(scf::ParallelOp loop) {
  int64_t iterations = 1;
  for (auto [lb, ub, step] : llvm::zip(loop.getLowerBound(),
                                       loop.getUpperBound(), loop.getStep())) {
    std::optional<int64_t> l = getConstantIntValue(lb),
                           u = getConstantIntValue(ub),
                           s = getConstantIntValue(step);
    if (!l || !u || !s || *s <= 0)
      return std::nullopt;
    iterations *= llvm::divideCeil(std::max<int64_t>(*u - *l, 0), *s);
  }
  return iterations;
}

/// A block kernel (a workgroup per block): each warp runs its iteration of
/// the warps loops (runWarpsLoops); every cooperative loop runs its
/// iterations strided over the block's threads, with a barrier before it
/// (the block's reads before it are done) and after it (its writes are
/// seen); scratch that more than one loop uses, or that a warp reads
/// outside them, is the block's, in shared memory; scratch used inside one
/// loop only stays each thread's. Code outside the loops runs on every
/// thread alike, so a write there would be a race: an error. Returns the
/// bytes of dynamic shared memory a block needs.
FailureOr<int64_t> spreadCooperativeLoops(gpu::GPUFuncOp func,
                                          int64_t blockSize) {
  WalkResult walked = func.walk<WalkOrder::PreOrder>([&](Operation *op) {
    if (isCooperative(op)) {
      WalkResult nested = op->walk([&](Operation *inner) {
        return inner != op && isCooperative(inner) ? WalkResult::interrupt()
                                                   : WalkResult::advance();
      });
      if (nested.wasInterrupted()) {
        op->emitOpError("hybrid-kernels-to-gpu: a cooperative loop inside "
                        "another");
        return WalkResult::interrupt();
      }
      return WalkResult::skip();
    }
    // A warp's own writes (its contract tiles' results) are its lanes'.
    if (hasEffect<MemoryEffects::Write>(op) && !hybrid::inWarpsLoop(op)) {
      op->emitOpError("hybrid-kernels-to-gpu: writes memory outside the "
                      "cooperative and warps loops of a block kernel, where "
                      "every thread of the block runs it");
      return WalkResult::interrupt();
    }
    return WalkResult::advance();
  });
  if (walked.wasInterrupted() || failed(runWarpsLoops(func)))
    return failure();
  SmallVector<scf::ParallelOp> loops;
  func.walk([&](scf::ParallelOp loop) {
    if (isCooperative(loop))
      loops.push_back(loop);
  });

  SmallVector<memref::AllocaOp> shared;
  for (auto alloca : func.getBody().front().getOps<memref::AllocaOp>()) {
    llvm::SmallPtrSet<Operation *, 2> owners;
    for (Operation *user : alloca->getUsers()) {
      Operation *loop = user;
      while (loop && !isCooperative(loop))
        loop = loop->getParentOp();
      owners.insert(loop);
    }
    if (owners.size() == 1 && !owners.contains(nullptr))
      continue; // each thread's
    // (A warpgroup product reads its core matrices through their address.)
    for (Operation *user : alloca->getUsers())
      if (!isa<memref::LoadOp, memref::StoreOp, vector::LoadOp,
               vector::StoreOp, vector::TransferReadOp,
               vector::TransferWriteOp, hybrid::WarpgroupMmaOp>(user))
        return user->emitOpError("hybrid-kernels-to-gpu: uses a block's "
                                 "shared buffer other than by load or store");
    shared.push_back(alloca);
  }
  FailureOr<int64_t> sharedBytes = placeInDynamicSharedMemory(func, shared);
  if (failed(sharedBytes))
    return failure();

  // No barrier between a cooperative loop and the next when only index
  // arithmetic separates them and it is independent of every loop since
  // the last barrier, which may all still run on other threads (the mma
  // form's copies of x's tile and of each weight's panels).
  llvm::SmallPtrSet<Operation *, 4> unfenced;
  SmallVector<Operation *> sinceBarrier;
  // A loop of prefetches (no reduction: those meet in gpu.all_reduce)
  // touches nothing another thread reads or writes: no barrier around it.
  auto onlyPrefetches = [](scf::ParallelOp loop) {
    return loop.getNumResults() == 0 && hybrid::onlyComputesAndPrefetches(loop);
  };
  for (scf::ParallelOp loop : loops) {
    if (onlyPrefetches(loop))
      continue;
    Operation *previous = loop->getPrevNode();
    while (previous && !isCooperative(previous) &&
           previous->getNumRegions() == 0 && isMemoryEffectFree(previous))
      previous = previous->getPrevNode();
    bool follows = previous && isCooperative(previous) &&
                   previous->getNumResults() == 0 &&
                   !sinceBarrier.empty() && sinceBarrier.back() == previous;
    if (follows && llvm::all_of(sinceBarrier, [&](Operation *earlier) {
          return independent(earlier, loop);
        })) {
      unfenced.insert(loop);
    } else {
      sinceBarrier.clear();
    }
    sinceBarrier.push_back(loop);
  }

  for (scf::ParallelOp loop : loops) {
    Location loc = loop.getLoc();
    OpBuilder b(loop);
    bool hint = onlyPrefetches(loop);
    if (!unfenced.contains(loop) && !hint)
      gpu::BarrierOp::create(b, loc);
    SmallVector<Value> trips;
    Value total = arith::ConstantIndexOp::create(b, loc, 1);
    for (auto [lb, ub, step] : llvm::zip(loop.getLowerBound(),
                                         loop.getUpperBound(), loop.getStep())) {
      trips.push_back(hybrid::tripCount(b, loc, lb, ub, step));
      total = arith::MulIOp::create(b, loc, total, trips.back());
    }
    Value thread = gpu::ThreadIdOp::create(b, loc, gpu::Dimension::x);
    // A reduction: each thread combines its iterations' terms from the
    // identity, then the block combines the threads' results (every thread
    // gets the whole).
    auto reduce = cast<scf::ReduceOp>(loop.getBody()->getTerminator());
    SmallVector<gpu::AllReduceOperation> kinds;
    for (auto [init, region] :
         llvm::zip(loop.getInitVals(), reduce.getReductions())) {
      std::optional<gpu::AllReduceOperation> kind = blockReduction(init, region);
      if (!kind)
        return loop.emitOpError(
            "hybrid-kernels-to-gpu: a cooperative reduction must be f32 "
            "addf from 0, f32 maximumf from -inf or i32 minui from all ones");
      kinds.push_back(*kind);
    }
    // With a known count that the block divides, each thread's iterations
    // are a loop of constant trip count, which LLVM unrolls: its loads
    // then all go out before the first store waits for one.
    std::optional<int64_t> staticTotal = constantIterations(loop);
    bool evenly = staticTotal && *staticTotal > 0 && *staticTotal % blockSize == 0;
    Value first = evenly ? arith::ConstantIndexOp::create(b, loc, 0) : thread;
    Value last = evenly ? arith::ConstantIndexOp::create(b, loc, *staticTotal / blockSize)
                        : total;
    Value stride = arith::ConstantIndexOp::create(b, loc, evenly ? 1 : blockSize);
    auto strided = scf::ForOp::create(
        b, loc, first, last, stride, loop.getInitVals(),
        [&](OpBuilder &body, Location, Value counter, ValueRange sums) {
          Value iteration =
              evenly ? arith::AddIOp::create(
                           body, loc,
                           arith::MulIOp::create(
                               body, loc, counter,
                               arith::ConstantIndexOp::create(body, loc, blockSize)),
                           thread)
                     : counter;
          // Neighbouring threads take neighbouring columns (coalesced).
          IRMapping map;
          map.map(loop.getInductionVars(),
                  hybrid::delinearize(body, loc, iteration, trips,
                                      loop.getLowerBound(), loop.getStep()));
          for (Operation &op : loop.getBody()->without_terminator())
            body.clone(op, map);
          SmallVector<Value> next;
          for (auto [sum, term, region] :
               llvm::zip(sums, reduce.getOperands(), reduce.getReductions())) {
            Block &combiner = region.front();
            IRMapping operands;
            operands.map(combiner.getArgument(0), sum);
            operands.map(combiner.getArgument(1), map.lookup(term));
            next.push_back(
                body.clone(combiner.front(), operands)->getResult(0));
          }
          scf::YieldOp::create(body, loc, next);
        });
    strided->setAttr(hybrid::kBlockStridedAttr, b.getUnitAttr());
    if (loop->hasAttr(hybrid::kPrefetchAttr))
      strided->setAttr(hybrid::kPrefetchAttr, b.getUnitAttr());
    for (auto [result, partial, kind] :
         llvm::zip(loop.getResults(), strided.getResults(), kinds))
      result.replaceAllUsesWith(gpu::AllReduceOp::create(
          b, loc, partial, gpu::AllReduceOperationAttr::get(func.getContext(), kind),
          /*uniform=*/b.getUnitAttr()));
    b.setInsertionPointAfter(loop);
    Operation *next = loop->getNextNode();
    while (next && !isCooperative(next) && next->getNumRegions() == 0 &&
           isMemoryEffectFree(next))
      next = next->getNextNode();
    // A prefetch's stores are read only after a later barrier.
    if ((!next || !unfenced.contains(next)) &&
        !loop->hasAttr(hybrid::kPrefetchAttr) && !hint)
      gpu::BarrierOp::create(b, loc);
    loop.erase();
  }
  // One barrier where a loop's closing and the next one's opening meet
  // (with only index arithmetic between them).
  func.walk([](gpu::BarrierOp barrier) {
    Operation *previous = barrier->getPrevNode();
    while (previous && !isa<gpu::BarrierOp>(previous) &&
           previous->getNumRegions() == 0 && isMemoryEffectFree(previous))
      previous = previous->getPrevNode();
    if (isa_and_nonnull<gpu::BarrierOp>(previous))
      barrier.erase();
  });
  return *sharedBytes;
}

/// A 1-D in-bounds vector read from a kernel argument's buffer (identity
/// layout: its base is the allocation's, which the runtime's device
/// allocator aligns to 256 bytes) whose elements provably start at a
/// multiple of its length, in rows of a multiple of it, becomes a
/// vector.load aligned to its size (up to 16 bytes): one 128-bit load per
/// thread instead of one per element (the mma form's staging copies).
void alignVectorReads(gpu::GPUFuncOp func) {
  SmallVector<vector::TransferReadOp> reads;
  func.walk([&](vector::TransferReadOp read) { reads.push_back(read); });
  for (vector::TransferReadOp read : reads) {
    auto type = dyn_cast<MemRefType>(read.getBase().getType());
    auto base = dyn_cast<BlockArgument>(read.getBase());
    VectorType vector = read.getVectorType();
    if (!type || !base || base.getOwner() != &func.getBody().front() ||
        base.getArgNumber() >= func.getNumArguments() ||
        !type.getLayout().isIdentity() || vector.getRank() != 1 ||
        read.getMask() || read.hasOutOfBoundsDim() ||
        !read.getPermutationMap().isMinorIdentity() ||
        !type.getElementType().isIntOrFloat())
      continue;
    int64_t length = vector.getNumElements();
    int64_t bytes =
        length * type.getElementType().getIntOrFloatBitWidth() / 8;
    int64_t row = type.getShape().back();
    int64_t first = hybrid::knownDivisor(read.getIndices().back());
    if (!llvm::isPowerOf2_64(bytes) || ShapedType::isDynamic(row) ||
        row % length != 0 || (first != 0 && first % length != 0))
      continue;
    OpBuilder b(read);
    auto load = vector::LoadOp::create(b, read.getLoc(), vector, read.getBase(),
                                       read.getIndices());
    load.setAlignment(std::min<int64_t>(bytes, 16));
    read.replaceAllUsesWith(load.getResult());
    read.erase();
  }
}

/// Static buffers a kernel allocates and frees in one block (the fused row
/// loops' temporaries) become one stack buffer at the kernel's entry,
/// reused by every iteration: device malloc is slow and its heap small.
LogicalResult allocateOnStack(gpu::GPUFuncOp func) {
  SmallVector<memref::AllocOp> allocs;
  func.walk([&](memref::AllocOp alloc) { allocs.push_back(alloc); });
  OpBuilder b = OpBuilder::atBlockBegin(&func.getBody().front());
  for (memref::AllocOp alloc : allocs) {
    if (!alloc.getType().hasStaticShape())
      return alloc.emitOpError(
          "allocates a dynamically sized buffer in a GPU kernel");
    SmallVector<Operation *> frees;
    for (Operation *user : alloc->getUsers())
      if (isa<memref::DeallocOp>(user))
        frees.push_back(user);
    if (frees.empty() || llvm::any_of(frees, [&](Operation *free) {
          return free->getBlock() != alloc->getBlock();
        }))
      return alloc.emitOpError("is not freed in the block that allocates "
                               "it: a GPU kernel cannot keep it on its stack");
    auto alloca = memref::AllocaOp::create(b, alloc.getLoc(), alloc.getType(),
                                           ValueRange(), ValueRange(),
                                           alloc.getAlignmentAttr());
    for (Operation *free : frees)
      free->erase();
    alloc.replaceAllUsesWith(alloca.getResult());
    alloc.erase();
  }
  return success();
}

struct KernelsToGPUPass
    : hybrid::impl::KernelsToGPUPassBase<KernelsToGPUPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    MLIRContext *context = &getContext();
    if (blockSize < 1 || blockSize > 1024) {
      module.emitError() << "hybrid-kernels-to-gpu: block-size must be from 1 "
                            "to 1024, got "
                         << blockSize.getValue();
      return signalPassFailure();
    }
    SmallVector<func::FuncOp> kernels;
    for (auto func : module.getOps<func::FuncOp>())
      if (func->hasAttr("hybrid.kernel"))
        kernels.push_back(func);
    if (kernels.empty())
      return;

    module->setAttr(gpu::GPUDialect::getContainerModuleAttrName(),
                    UnitAttr::get(context));
    OpBuilder b = OpBuilder::atBlockEnd(module.getBody());
    auto gpuModule = gpu::GPUModuleOp::create(b, module.getLoc(), kGPUModule);
    SymbolTable gpuSymbols(gpuModule);
    SymbolTable symbols(module);

    if (sharedMemoryBytes < 0) {
      module.emitError() << "hybrid-kernels-to-gpu: shared-memory-bytes must "
                            "not be negative, got "
                         << sharedMemoryBytes.getValue();
      return signalPassFailure();
    }
    llvm::StringMap<int64_t> threadsOf, sharedBytesOf;
    for (func::FuncOp kernel : kernels) {
      if (!kernel.getBody().hasOneBlock()) {
        kernel.emitOpError("hybrid-kernels-to-gpu: a kernel must be one block");
        return signalPassFailure();
      }
      FailureOr<int64_t> shape = workgroupThreads(kernel, blockSize);
      if (failed(shape))
        return signalPassFailure();
      int64_t threads = *shape;
      threadsOf[kernel.getName()] = threads;
      if (failed(moveKernel(kernel, threads, gpuModule, gpuSymbols, symbols,
                            sharedBytesOf[kernel.getName()])))
        return signalPassFailure();
    }

    // Dispatches name the kernel inside the GPU module and say how many
    // threads a block and a workgroup have.
    module.walk([&](hybrid::DispatchOp dispatch) {
      if (dispatch.getCallee().getNestedReferences().empty() &&
          gpuSymbols.lookup(dispatch.getCallee().getRootReference())) {
        StringRef name = dispatch.getCallee().getRootReference();
        auto i64 = IntegerType::get(context, 64);
        if (int64_t threads = threadsOf.lookup(name); threads > 1)
          dispatch->setAttr("hybrid.workgroup_threads",
                            IntegerAttr::get(i64, threads));
        if (int64_t bytes = sharedBytesOf.lookup(name))
          dispatch->setAttr("hybrid.shared_bytes", IntegerAttr::get(i64, bytes));
        dispatch.setCalleeAttr(SymbolRefAttr::get(
            context, kGPUModule,
            {FlatSymbolRefAttr::get(dispatch.getCallee().getRootReference())}));
        dispatch->setAttr("hybrid.block_size",
                          IntegerAttr::get(IntegerType::get(context, 64),
                                           blockSize));
      }
    });
    for (func::FuncOp kernel : kernels)
      kernel.erase();
    // The kernels' own globals now live in the GPU module only.
    for (auto global : llvm::make_early_inc_range(module.getOps<memref::GlobalOp>()))
      if (!global.getConstant() && gpuSymbols.lookup(global.getSymName()) &&
          global.symbolKnownUseEmpty(module))
        global.erase();
  }

  /// Moves `kernel` into the GPU module; `threads` (1 or the block) run
  /// each workgroup together; `sharedBytes` is set to the dynamic shared
  /// memory its blocks need.
  LogicalResult moveKernel(func::FuncOp kernel, int64_t threads,
                           gpu::GPUModuleOp gpuModule,
                           SymbolTable &gpuSymbols, SymbolTable &symbols,
                           int64_t &sharedBytes) {
    Location loc = kernel.getLoc();
    MLIRContext *context = kernel.getContext();
    // (begin, end, operands...) -> (workgroups, operands...)
    ArrayRef<Type> inputs = kernel.getFunctionType().getInputs();
    SmallVector<Type> gpuInputs = {IndexType::get(context)};
    llvm::append_range(gpuInputs, inputs.drop_front(2));
    OpBuilder b = OpBuilder::atBlockEnd(gpuModule.getBody());
    auto func = gpu::GPUFuncOp::create(
        b, loc, kernel.getName(), FunctionType::get(context, gpuInputs, {}));
    func->setAttr(gpu::GPUDialect::getKernelFuncAttrName(),
                  UnitAttr::get(context));
    func.setKnownBlockSizeAttr(
        DenseI32ArrayAttr::get(context, {int32_t(blockSize), 1, 1}));
    gpuSymbols.insert(func);

    Block *entry = &func.getBody().front();
    OpBuilder kb = OpBuilder::atBlockBegin(entry);
    // A block's workgroup is the block's index; else the thread's.
    Value workgroup = gpu::BlockIdOp::create(kb, loc, gpu::Dimension::x);
    if (threads == 1)
      workgroup = arith::AddIOp::create(
          kb, loc,
          arith::MulIOp::create(
              kb, loc, workgroup,
              arith::ConstantIndexOp::create(kb, loc, blockSize)),
          gpu::ThreadIdOp::create(kb, loc, gpu::Dimension::x));
    Value one = arith::ConstantIndexOp::create(kb, loc, 1);
    // One workgroup, none past the count: end = min(workgroup + 1, count).
    Value end = arith::MinUIOp::create(
        kb, loc, arith::AddIOp::create(kb, loc, workgroup, one),
        entry->getArgument(0));

    IRMapping map;
    Block &body = kernel.getBody().front();
    map.map(body.getArgument(0), workgroup);
    map.map(body.getArgument(1), end);
    for (auto [from, to] :
         llvm::zip(body.getArguments().drop_front(2),
                   entry->getArguments().drop_front(1)))
      map.map(from, to);
    for (Operation &op : body.without_terminator())
      kb.clone(op, map);
    gpu::ReturnOp::create(kb, loc);

    if (failed(allocateOnStack(func)))
      return failure();
    bool blockKernel = func.walk([](Operation *op) {
                             return isCooperative(op) || isWarps(op)
                                        ? WalkResult::interrupt()
                                        : WalkResult::advance();
                           }).wasInterrupted();
    if (blockKernel) {
      FailureOr<int64_t> bytes = spreadCooperativeLoops(func, blockSize);
      if (failed(bytes))
        return failure();
      // Each gpu.all_reduce lowers with a static shared buffer of a value
      // per warp (up to 32), beside the dynamic shared memory.
      int64_t reductionBytes = 0;
      func.walk([&](gpu::AllReduceOp reduce) {
        reductionBytes +=
            hybrid::kWarpLanes * reduce.getType().getIntOrFloatBitWidth() / 8;
      });
      if (*bytes + reductionBytes > sharedMemoryBytes)
        return kernel.emitOpError("hybrid-kernels-to-gpu: a block needs ")
               << *bytes + reductionBytes
               << " bytes of shared memory, more than the "
               << sharedMemoryBytes.getValue()
               << " the target's blocks may have (shared-memory-bytes)";
      sharedBytes = *bytes;
    }
    alignVectorReads(func);
    // LLVM's NVPTX backend emits an atomic as relaxed whatever its
    // ordering: fences at GPU scope make it the acquire-release that
    // lastOfSplits counts on.
    func.walk([&](memref::AtomicRMWOp atomic) {
      OpBuilder fb(atomic);
      LLVM::FenceOp::create(fb, atomic.getLoc(), LLVM::AtomicOrdering::acq_rel,
                            "device");
      fb.setInsertionPointAfter(atomic);
      LLVM::FenceOp::create(fb, atomic.getLoc(), LLVM::AtomicOrdering::acq_rel,
                            "device");
    });

    // The globals the kernel uses live in the GPU module: constants (a
    // copy each side) and the kernels' own (lastOfSplits' arrival counts),
    // which device memory holds and the host plan must not touch.
    WalkResult walked = func.walk([&](memref::GetGlobalOp get) {
      if (gpuModule.lookupSymbol(get.getNameAttr())) // copied, or its own
        return WalkResult::advance();
      auto global = symbols.lookup<memref::GlobalOp>(get.getName());
      if (!global) {
        get.emitOpError("uses a global that the module does not define");
        return WalkResult::interrupt();
      }
      if (!global.getConstant() && usedByHost(global)) {
        get.emitOpError("uses a global that is not constant and that the "
                        "host also uses: a GPU kernel cannot share it with "
                        "the host");
        return WalkResult::interrupt();
      }
      OpBuilder gb = OpBuilder::atBlockBegin(gpuModule.getBody());
      gpuSymbols.insert(gb.clone(*global));
      return WalkResult::advance();
    });
    return failure(walked.wasInterrupted());
  }

  /// Whether code outside the kernels refers to `global`.
  static bool usedByHost(memref::GlobalOp global) {
    auto module = global->getParentOfType<ModuleOp>();
    std::optional<SymbolTable::UseRange> uses = global.getSymbolUses(module);
    return !uses || llvm::any_of(*uses, [](const SymbolTable::SymbolUse &use) {
      auto func = use.getUser()->getParentOfType<func::FuncOp>();
      return !func || !func->hasAttr("hybrid.kernel");
    });
  }
};
} // namespace
