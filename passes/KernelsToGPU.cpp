//===- KernelsToGPU.cpp - dispatch kernels as GPU kernels -----------------===//
//
// hybrid-kernels-to-gpu: after hybrid-form-dispatches, every kernel
// `@k(begin, end, operands...)` moves into `gpu.module @hybrid_kernels` as
// `gpu.func @k(workgroups, operands...) kernel`, in which GPU thread
// `block_id.x * block_dim + thread_id.x` runs that workgroup (threads past
// the count run none). Each dispatch then names `@hybrid_kernels::@k`; the
// runtime launches ceil(workgroups / block size) blocks. A kernel with
// vector.contract tiles runs a workgroup per warp instead (its lanes share
// the tiles: hybrid-mma-tiles-to-nvgpu). Constant globals a kernel reads
// are copied into the GPU module; static buffers it allocates go on its
// stack.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"

#include "dialects/Hybrid/IR/HybridOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/SymbolTable.h"

namespace hybrid {
#define GEN_PASS_DEF_KERNELSTOGPUPASS
#include "passes/Passes.h.inc"
} // namespace hybrid

using namespace mlir;

namespace {
constexpr StringLiteral kGPUModule = "hybrid_kernels";
constexpr int64_t kWarpLanes = 32;

/// Threads that run one workgroup of `kernel`: a warp for contract tiles.
int64_t workgroupThreads(func::FuncOp kernel) {
  bool tiles = false;
  kernel.walk([&](vector::ContractionOp) { tiles = true; });
  return tiles ? kWarpLanes : 1;
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

    llvm::StringMap<int64_t> threadsOf;
    for (func::FuncOp kernel : kernels) {
      if (!kernel.getBody().hasOneBlock()) {
        kernel.emitOpError("hybrid-kernels-to-gpu: a kernel must be one block");
        return signalPassFailure();
      }
      int64_t threads = workgroupThreads(kernel);
      if (blockSize % threads != 0) {
        kernel.emitOpError("hybrid-kernels-to-gpu: runs a workgroup per warp, "
                           "so block-size must be a multiple of ")
            << threads << ", got " << blockSize.getValue();
        return signalPassFailure();
      }
      threadsOf[kernel.getName()] = threads;
      if (failed(moveKernel(kernel, threads, gpuModule, gpuSymbols, symbols)))
        return signalPassFailure();
    }

    // Dispatches name the kernel inside the GPU module and say how many
    // threads a block and a workgroup have.
    module.walk([&](hybrid::DispatchOp dispatch) {
      if (dispatch.getCallee().getNestedReferences().empty() &&
          gpuSymbols.lookup(dispatch.getCallee().getRootReference())) {
        int64_t threads =
            threadsOf.lookup(dispatch.getCallee().getRootReference());
        if (threads > 1)
          dispatch->setAttr(
              "hybrid.workgroup_threads",
              IntegerAttr::get(IntegerType::get(context, 64), threads));
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
  }

  /// Moves `kernel` into the GPU module; `threads` (1 or a warp) run each
  /// workgroup together.
  LogicalResult moveKernel(func::FuncOp kernel, int64_t threads,
                           gpu::GPUModuleOp gpuModule,
                           SymbolTable &gpuSymbols, SymbolTable &symbols) {
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
    Value block = gpu::BlockIdOp::create(kb, loc, gpu::Dimension::x);
    Value thread = gpu::ThreadIdOp::create(kb, loc, gpu::Dimension::x);
    Value size = arith::ConstantIndexOp::create(kb, loc, blockSize);
    Value one = arith::ConstantIndexOp::create(kb, loc, 1);
    Value workgroup = arith::AddIOp::create(
        kb, loc, arith::MulIOp::create(kb, loc, block, size), thread);
    if (threads > 1)
      workgroup = arith::DivUIOp::create(
          kb, loc, workgroup, arith::ConstantIndexOp::create(kb, loc, threads));
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

    // Constant globals the kernel reads live in the GPU module too.
    WalkResult walked = func.walk([&](memref::GetGlobalOp get) {
      if (gpuSymbols.lookup(get.getName()))
        return WalkResult::advance();
      auto global = symbols.lookup<memref::GlobalOp>(get.getName());
      if (!global || !global.getConstant()) {
        get.emitOpError("reads a global that is not constant: a GPU kernel "
                        "cannot share it with the host");
        return WalkResult::interrupt();
      }
      OpBuilder gb = OpBuilder::atBlockBegin(gpuModule.getBody());
      gpuSymbols.insert(gb.clone(*global));
      return WalkResult::advance();
    });
    return failure(walked.wasInterrupted());
  }
};
} // namespace
