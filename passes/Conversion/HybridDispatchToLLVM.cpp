//===- HybridDispatchToLLVM.cpp - hybrid.dispatch -> executor calls -------===//
//
// convert-hybrid-dispatch-to-llvm, after the kernels are LLVM functions:
//
//   * each kernel `@k(begin, end, scalars...)` gets a packed entry
//     `@k_packed(ptr slots, i64 begin, i64 end)` that reads its scalars (a
//     memref operand is its expanded descriptor) from 8-byte slots;
//   * a dispatch stores its operands' scalars into slots on the stack and
//     calls `@hybrid_run_dispatch(@k_packed, slots, workgroups, name)`
//     (a string constant for profiles: the dispatch's `hybrid.label`, the
//     kernel it was formed for before hybrid-deduplicate-kernels, else
//     the kernel's name);
//   * `@hybrid_run_dispatch` calls the executor the runtime installed in the
//     exported global `hybrid_executor` (with `hybrid_executor_context`), or
//     runs all workgroups itself when there is none (e.g. under mlir-runner);
//   * a CPU module's buffers: the generic allocation functions that
//     finalize-memref-to-llvm{use-generic-functions} calls go to the
//     allocator the runtime installed in `hybrid_host_alloc` and
//     `hybrid_host_free` (with `hybrid_host_context`), which keeps freed
//     buffers for reuse, or to the C library's when there is none.
//
// Host allocator ABI: void *(*)(void *context, int64_t alignment, int64_t
// bytes) and void (*)(void *context, void *block).
//
// Executor ABI: void (*)(void *context, void (*kernel)(void *, int64_t,
// int64_t), void *slots, int64_t workgroups, const char *name); it returns
// when every workgroup ran.
//
// A dispatch of a GPU kernel (`@hybrid_kernels::@k`, after
// hybrid-kernels-to-gpu and gpu-module-to-binary) stores the workgroup
// count and then its operands' scalars, each zero-extended to 8 bytes, and
// calls `@hybrid_run_gpu_dispatch`, which calls the launcher the runtime
// installed in `hybrid_gpu_launcher`:
//   void (*)(void *context, const char *kernel, const char *label,
//            uint64_t *slots, int64_t slot_count, int64_t workgroups,
//            int64_t block_size, int64_t workgroup_threads,
//            int64_t shared_bytes)
// The kernel's name finds it in the module, the label (as above) names the
// launch in profiles; the slots are the kernel's parameters in order;
// workgroup_threads is 32 for a kernel that runs a workgroup per warp, the
// block size for one that runs a workgroup per block, else 1; shared_bytes is
// the dynamic shared memory each block needs (`hybrid.shared_bytes`). The
// plan's buffers are device memory then: the generic allocation functions that
// finalize-memref-to-llvm{use-generic-functions} calls are defined here to call
// `hybrid_gpu_alloc` (void *(*)(void *context, int64_t bytes)) and
// `hybrid_gpu_free` (void (*)(void *context, void *pointer)).
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"

#include "dialects/Hybrid/IR/HybridOps.h"

#include "mlir/Conversion/LLVMCommon/MemRefBuilder.h"
#include "mlir/Conversion/LLVMCommon/Pattern.h"
#include "mlir/Conversion/LLVMCommon/TypeConverter.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Transforms/DialectConversion.h"
#include "llvm/ADT/StringSet.h"

namespace hybrid {
#define GEN_PASS_DEF_CONVERTHYBRIDDISPATCHTOLLVMPASS
#include "passes/Passes.h.inc"
} // namespace hybrid

using namespace mlir;

namespace {
constexpr StringLiteral kExecutor = "hybrid_executor";
constexpr StringLiteral kExecutorContext = "hybrid_executor_context";
constexpr StringLiteral kRunDispatch = "hybrid_run_dispatch";
constexpr StringLiteral kGPULauncher = "hybrid_gpu_launcher";
constexpr StringLiteral kGPUContext = "hybrid_gpu_context";
constexpr StringLiteral kGPUAlloc = "hybrid_gpu_alloc";
constexpr StringLiteral kGPUFree = "hybrid_gpu_free";
constexpr StringLiteral kRunGPUDispatch = "hybrid_run_gpu_dispatch";
constexpr StringLiteral kHostAlloc = "hybrid_host_alloc";
constexpr StringLiteral kHostFree = "hybrid_host_free";
constexpr StringLiteral kHostContext = "hybrid_host_context";

bool onGPU(hybrid::DispatchOp op) {
  return !op.getCallee().getNestedReferences().empty();
}

/// `void (ptr slots, i64 begin, i64 end)`, the packed kernel type.
LLVM::LLVMFunctionType packedKernelType(MLIRContext *context) {
  auto ptr = LLVM::LLVMPointerType::get(context);
  auto i64 = IntegerType::get(context, 64);
  return LLVM::LLVMFunctionType::get(LLVM::LLVMVoidType::get(context),
                                     {ptr, i64, i64});
}

/// A pointer-sized global the runtime sets through dlsym; null by default.
void declareHookGlobal(OpBuilder &b, Location loc, StringRef name) {
  auto ptr = LLVM::LLVMPointerType::get(b.getContext());
  auto global = LLVM::GlobalOp::create(b, loc, ptr, /*isConstant=*/false,
                                       LLVM::Linkage::External, name,
                                       Attribute());
  OpBuilder ib(b.getContext());
  ib.createBlock(&global.getInitializerRegion());
  LLVM::ReturnOp::create(ib, loc,
                         LLVM::ZeroOp::create(ib, loc, ptr).getResult());
}

/// @hybrid_run_dispatch(kernel, slots, count, name): the installed executor,
/// or every workgroup in this thread.
void defineRunDispatch(OpBuilder &b, Location loc) {
  MLIRContext *context = b.getContext();
  auto ptr = LLVM::LLVMPointerType::get(context);
  auto i64 = IntegerType::get(context, 64);
  auto voidType = LLVM::LLVMVoidType::get(context);
  auto func = LLVM::LLVMFuncOp::create(
      b, loc, kRunDispatch,
      LLVM::LLVMFunctionType::get(voidType, {ptr, ptr, i64, ptr}),
      LLVM::Linkage::Internal);
  Block *entry;
  {
    OpBuilder::InsertionGuard guard(b);
    entry = func.addEntryBlock(b);
  }
  Block *serial = new Block(), *pool = new Block();
  func.getBody().push_back(serial);
  func.getBody().push_back(pool);
  OpBuilder eb = OpBuilder::atBlockBegin(entry);
  Value executor = LLVM::LoadOp::create(
      eb, loc, ptr, LLVM::AddressOfOp::create(eb, loc, ptr, kExecutor));
  Value none = LLVM::ICmpOp::create(eb, loc, LLVM::ICmpPredicate::eq, executor,
                                    LLVM::ZeroOp::create(eb, loc, ptr));
  LLVM::CondBrOp::create(eb, loc, none, serial, pool);

  Value kernel = entry->getArgument(0), slots = entry->getArgument(1),
        count = entry->getArgument(2), name = entry->getArgument(3);
  OpBuilder sb = OpBuilder::atBlockBegin(serial);
  Value zero = LLVM::ConstantOp::create(sb, loc, i64, 0);
  LLVM::CallOp::create(sb, loc, packedKernelType(context),
                       ValueRange{kernel, slots, zero, count});
  LLVM::ReturnOp::create(sb, loc, ValueRange());

  OpBuilder pb = OpBuilder::atBlockBegin(pool);
  Value executorContext = LLVM::LoadOp::create(
      pb, loc, ptr, LLVM::AddressOfOp::create(pb, loc, ptr, kExecutorContext));
  auto executorType =
      LLVM::LLVMFunctionType::get(voidType, {ptr, ptr, ptr, i64, ptr});
  LLVM::CallOp::create(
      pb, loc, executorType,
      ValueRange{executor, executorContext, kernel, slots, count, name});
  LLVM::ReturnOp::create(pb, loc, ValueRange());
}

/// @<kernel>_packed(slots, begin, end): loads the kernel's scalars from the
/// slots and calls it.
LLVM::LLVMFuncOp definePackedKernel(OpBuilder &b, LLVM::LLVMFuncOp kernel) {
  Location loc = kernel.getLoc();
  MLIRContext *context = b.getContext();
  auto ptr = LLVM::LLVMPointerType::get(context);
  auto i64 = IntegerType::get(context, 64);
  auto packed = LLVM::LLVMFuncOp::create(
      b, loc, (kernel.getName() + "_packed").str(), packedKernelType(context),
      LLVM::Linkage::Internal);
  Block *entry;
  {
    OpBuilder::InsertionGuard guard(b);
    entry = packed.addEntryBlock(b);
  }
  OpBuilder eb = OpBuilder::atBlockBegin(entry);
  SmallVector<Value> args = {entry->getArgument(1), entry->getArgument(2)};
  ArrayRef<Type> params = kernel.getFunctionType().getParams();
  for (auto [slot, type] : llvm::enumerate(params.drop_front(2))) {
    Value at = LLVM::GEPOp::create(eb, loc, ptr, i64, entry->getArgument(0),
                                   ArrayRef<LLVM::GEPArg>{int32_t(slot)});
    args.push_back(LLVM::LoadOp::create(eb, loc, type, at));
  }
  LLVM::CallOp::create(eb, loc, kernel, args);
  LLVM::ReturnOp::create(eb, loc, ValueRange());
  return packed;
}


/// Loads the pointer in global `name`.
Value loadGlobalPointer(OpBuilder &b, Location loc, StringRef name) {
  auto ptr = LLVM::LLVMPointerType::get(b.getContext());
  return LLVM::LoadOp::create(b, loc, ptr,
                              LLVM::AddressOfOp::create(b, loc, ptr, name));
}

/// The start of `func`'s body: the entry block loads the runtime's function
/// from global `hook` (`target`) and branches to `installed`, or to
/// `missing` when the runtime installed none; both blocks are empty.
struct HookBranch {
  Value target;
  Block *installed, *missing;
};
HookBranch branchOnHook(OpBuilder &b, Location loc, LLVM::LLVMFuncOp func,
                        StringRef hook) {
  auto ptr = LLVM::LLVMPointerType::get(b.getContext());
  OpBuilder::InsertionGuard guard(b);
  Block *entry = func.addEntryBlock(b);
  Block *missing = b.createBlock(&func.getBody());
  Block *installed = b.createBlock(&func.getBody());
  b.setInsertionPointToEnd(entry);
  Value target = loadGlobalPointer(b, loc, hook);
  Value none = LLVM::ICmpOp::create(b, loc, LLVM::ICmpPredicate::eq, target,
                                    LLVM::ZeroOp::create(b, loc, ptr));
  LLVM::CondBrOp::create(b, loc, none, missing, installed);
  return {target, installed, missing};
}

/// Returns `call`'s result from the function being built (nothing from a
/// void one).
void returnCallResult(OpBuilder &b, Location loc, LLVM::CallOp call) {
  if (call.getNumResults() == 0)
    LLVM::ReturnOp::create(b, loc, ValueRange());
  else
    LLVM::ReturnOp::create(b, loc, call.getResult());
}

/// Gives `func` a body that calls the runtime's function in global `hook`
/// with the context in `hybrid_gpu_context` and the function's own arguments
/// (after the first `skip`), and traps when the runtime installed none.
void defineGPUHook(OpBuilder &b, Location loc, LLVM::LLVMFuncOp func,
                   StringRef hook, unsigned skip = 0) {
  auto ptr = LLVM::LLVMPointerType::get(b.getContext());
  LLVM::LLVMFunctionType type = func.getFunctionType();
  OpBuilder::InsertionGuard guard(b);
  HookBranch branch = branchOnHook(b, loc, func, hook);
  b.setInsertionPointToEnd(branch.missing);
  LLVM::Trap::create(b, loc);
  LLVM::UnreachableOp::create(b, loc);
  b.setInsertionPointToEnd(branch.installed);
  // An indirect call: the callee pointer, then the context and arguments.
  SmallVector<Value> operands = {branch.target,
                                 loadGlobalPointer(b, loc, kGPUContext)};
  llvm::append_range(operands, func.getArguments().drop_front(skip));
  SmallVector<Type> params = {ptr};
  llvm::append_range(params, type.getParams().drop_front(skip));
  auto hookType = LLVM::LLVMFunctionType::get(type.getReturnType(), params);
  returnCallResult(b, loc, LLVM::CallOp::create(b, loc, hookType, operands));
}

/// finalize-memref-to-llvm{use-generic-functions}' declaration of the
/// allocation function `name` (of type `type`), made internal for the body
/// the caller gives it; null when the module declares none; an error when
/// the module defines it itself or with another type.
FailureOr<LLVM::LLVMFuncOp> genericAllocation(ModuleOp module, StringRef name,
                                              LLVM::LLVMFunctionType type) {
  auto func = module.lookupSymbol<LLVM::LLVMFuncOp>(name);
  if (!func)
    return LLVM::LLVMFuncOp();
  if (!func.isExternal() || func.getFunctionType() != type)
    return func.emitOpError("is not the generic allocation function the "
                            "memref lowering declares");
  func.setLinkage(LLVM::Linkage::Internal);
  return func;
}

/// The GPU side's globals and functions: the launcher hook and the
/// plan's allocation functions (bodies for finalize-memref-to-llvm's
/// generic declarations). Fails when the plan allocates with malloc.
LogicalResult defineGPUSupport(ModuleOp module, OpBuilder &b, Location loc) {
  for (StringRef hostOnly : {"malloc", "aligned_alloc", "free"})
    if (module.lookupSymbol(hostOnly)) {
      module.emitError() << "the plan of GPU dispatches calls '" << hostOnly
                         << "': its buffers must be device memory (lower "
                            "memrefs with finalize-memref-to-llvm{use-generic-"
                            "functions=1})";
      return failure();
    }
  MLIRContext *context = b.getContext();
  auto ptr = LLVM::LLVMPointerType::get(context);
  auto i64 = IntegerType::get(context, 64);
  auto voidType = LLVM::LLVMVoidType::get(context);
  for (StringRef name : {kGPULauncher, kGPUContext, kGPUAlloc, kGPUFree})
    declareHookGlobal(b, loc, name);
  auto launch = LLVM::LLVMFuncOp::create(
      b, loc, kRunGPUDispatch,
      LLVM::LLVMFunctionType::get(voidType,
                                  {ptr, ptr, ptr, i64, i64, i64, i64, i64}),
      LLVM::Linkage::Internal);
  defineGPUHook(b, loc, launch, kGPULauncher);

  // Allocation: the generic functions the memref lowering declared.
  auto define = [&](StringRef name, LLVM::LLVMFunctionType type,
                    StringRef hook, unsigned skip) -> LogicalResult {
    FailureOr<LLVM::LLVMFuncOp> func = genericAllocation(module, name, type);
    if (failed(func))
      return failure();
    if (*func)
      defineGPUHook(b, loc, *func, hook, skip);
    return success();
  };
  if (failed(define("_mlir_memref_to_llvm_alloc",
                    LLVM::LLVMFunctionType::get(ptr, {i64}), kGPUAlloc, 0)))
    return failure();
  // (alignment, size): device allocations are aligned to 256 bytes, more
  // than any alignment the plan asks for, so only the size is passed on.
  if (failed(define("_mlir_memref_to_llvm_aligned_alloc",
                    LLVM::LLVMFunctionType::get(ptr, {i64, i64}), kGPUAlloc,
                    1)))
    return failure();
  return define("_mlir_memref_to_llvm_free",
                LLVM::LLVMFunctionType::get(voidType, {ptr}), kGPUFree, 0);
}

/// A CPU module's allocation functions (bodies for finalize-memref-to-llvm's
/// generic declarations): the runtime's host allocator when it installed
/// one, else the C library's (mlir-runner).
LogicalResult defineHostAllocation(ModuleOp module, OpBuilder &b, Location loc) {
  MLIRContext *context = b.getContext();
  auto ptr = LLVM::LLVMPointerType::get(context);
  auto i64 = IntegerType::get(context, 64);
  auto voidType = LLVM::LLVMVoidType::get(context);
  auto libc = [&](StringRef name, LLVM::LLVMFunctionType type) {
    if (auto existing = module.lookupSymbol<LLVM::LLVMFuncOp>(name))
      return existing;
    return LLVM::LLVMFuncOp::create(b, loc, name, type);
  };
  // func's body: hook(context, hookArgs(func's arguments)...) when
  // installed, else fallback(func's arguments...).
  auto define = [&](LLVM::LLVMFuncOp func, StringRef hook,
                    LLVM::LLVMFunctionType hookType,
                    function_ref<SmallVector<Value>(OpBuilder &, ValueRange)> hookArgs,
                    LLVM::LLVMFuncOp fallback) {
    OpBuilder::InsertionGuard guard(b);
    HookBranch branch = branchOnHook(b, loc, func, hook);
    b.setInsertionPointToEnd(branch.missing);
    returnCallResult(b, loc, LLVM::CallOp::create(b, loc, fallback, func.getArguments()));
    b.setInsertionPointToEnd(branch.installed);
    SmallVector<Value> operands = {branch.target,
                                   loadGlobalPointer(b, loc, kHostContext)};
    llvm::append_range(operands, hookArgs(b, func.getArguments()));
    returnCallResult(b, loc, LLVM::CallOp::create(b, loc, hookType, operands));
  };
  auto allocType = LLVM::LLVMFunctionType::get(ptr, {ptr, i64, i64});
  auto freeType = LLVM::LLVMFunctionType::get(voidType, {ptr, ptr});
  auto i64Constant = [&](OpBuilder &cb, int64_t v) -> Value {
    return LLVM::ConstantOp::create(cb, loc, i64, cb.getI64IntegerAttr(v));
  };
  FailureOr<LLVM::LLVMFuncOp> alloc = genericAllocation(
      module, "_mlir_memref_to_llvm_alloc", LLVM::LLVMFunctionType::get(ptr, {i64}));
  FailureOr<LLVM::LLVMFuncOp> alignedAlloc =
      genericAllocation(module, "_mlir_memref_to_llvm_aligned_alloc",
                        LLVM::LLVMFunctionType::get(ptr, {i64, i64}));
  FailureOr<LLVM::LLVMFuncOp> release = genericAllocation(
      module, "_mlir_memref_to_llvm_free", LLVM::LLVMFunctionType::get(voidType, {ptr}));
  if (failed(alloc) || failed(alignedAlloc) || failed(release))
    return failure();
  if (!*alloc && !*alignedAlloc && !*release)
    return success();
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToEnd(module.getBody());
  for (StringRef name : {kHostAlloc, kHostFree, kHostContext})
    declareHookGlobal(b, loc, name);
  if (*alloc)
    // malloc's alignment: 16 bytes.
    define(*alloc, kHostAlloc, allocType,
           [&](OpBuilder &cb, ValueRange args) -> SmallVector<Value> {
             return {i64Constant(cb, 16), args[0]};
           },
           libc("malloc", LLVM::LLVMFunctionType::get(ptr, {i64})));
  if (*alignedAlloc)
    define(*alignedAlloc, kHostAlloc, allocType,
           [](OpBuilder &, ValueRange args) -> SmallVector<Value> {
             return {args[0], args[1]};
           },
           libc("aligned_alloc", LLVM::LLVMFunctionType::get(ptr, {i64, i64})));
  if (*release)
    define(*release, kHostFree, freeType,
           [](OpBuilder &, ValueRange args) -> SmallVector<Value> {
             return {args[0]};
           },
           libc("free", LLVM::LLVMFunctionType::get(voidType, {ptr})));
  return success();
}

/// What profiles call a dispatch: the kernel it was formed for.
StringRef labelOf(hybrid::DispatchOp op) {
  if (auto label = op->getAttrOfType<StringAttr>("hybrid.label"))
    return label.getValue();
  return op.getCallee().getLeafReference().getValue();
}

/// The string constant `defineName` made for `name`.
Value nameConstant(OpBuilder &b, Location loc, StringRef name) {
  return LLVM::AddressOfOp::create(b, loc,
                                   LLVM::LLVMPointerType::get(b.getContext()),
                                   (name + "_name").str());
}

/// The scalars of `operands` (memrefs as expanded descriptors).
SmallVector<Value> expandOperands(OpBuilder &b, Location loc,
                                  hybrid::DispatchOp op, ValueRange converted) {
  SmallVector<Value> scalars;
  for (auto [original, value] : llvm::zip(op.getKernelOperands(), converted)) {
    if (auto type = dyn_cast<MemRefType>(original.getType()))
      MemRefDescriptor::unpack(b, loc, value, type, scalars);
    else
      scalars.push_back(value);
  }
  return scalars;
}

/// One alloca of `count` 8-byte slots in the entry block of the host.
Value allocateSlots(OpBuilder &b, Location loc, Operation *op, int64_t count) {
  auto host = op->getParentOfType<LLVM::LLVMFuncOp>();
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(&host.getBody().front());
  auto i64 = b.getI64Type();
  Value size = LLVM::ConstantOp::create(b, loc, i64, std::max<int64_t>(count, 1));
  return LLVM::AllocaOp::create(b, loc, LLVM::LLVMPointerType::get(b.getContext()),
                                i64, size);
}

Value slotAddress(OpBuilder &b, Location loc, Value slots, int64_t slot) {
  return LLVM::GEPOp::create(b, loc, LLVM::LLVMPointerType::get(b.getContext()),
                             b.getI64Type(), slots,
                             ArrayRef<LLVM::GEPArg>{int32_t(slot)});
}

/// `value` as the 8 bytes of a GPU kernel parameter: pointers and 64-bit
/// values as they are, narrower integers and floats zero-extended from
/// their bits (a parameter narrower than 8 bytes reads the low bytes).
Value asSlot(OpBuilder &b, Location loc, Value value) {
  Type type = value.getType();
  auto i64 = b.getI64Type();
  if (isa<LLVM::LLVMPointerType>(type) || type == i64)
    return value;
  if (auto f = dyn_cast<FloatType>(type))
    value = LLVM::BitcastOp::create(
        b, loc, b.getIntegerType(f.getWidth()), value);
  return LLVM::ZExtOp::create(b, loc, i64, value);
}

struct GPUDispatchLowering : ConvertOpToLLVMPattern<hybrid::DispatchOp> {
  using ConvertOpToLLVMPattern::ConvertOpToLLVMPattern;

  LogicalResult
  matchAndRewrite(hybrid::DispatchOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    if (!onGPU(op))
      return failure();
    Location loc = op.getLoc();
    auto i64 = rewriter.getI64Type();
    SmallVector<Value> params = {adaptor.getWorkgroups()};
    llvm::append_range(params, expandOperands(rewriter, loc, op,
                                              adaptor.getKernelOperands()));
    Value slots = allocateSlots(rewriter, loc, op, params.size());
    for (auto [slot, value] : llvm::enumerate(params))
      LLVM::StoreOp::create(rewriter, loc, asSlot(rewriter, loc, value),
                            slotAddress(rewriter, loc, slots, slot));
    auto blockSize = op->getAttrOfType<IntegerAttr>("hybrid.block_size");
    if (!blockSize)
      return rewriter.notifyMatchFailure(op, "no hybrid.block_size");
    auto threads = op->getAttrOfType<IntegerAttr>("hybrid.workgroup_threads");
    auto sharedBytes = op->getAttrOfType<IntegerAttr>("hybrid.shared_bytes");
    Value name = nameConstant(rewriter, loc,
                              op.getCallee().getLeafReference().getValue());
    LLVM::CallOp::create(
        rewriter, loc, TypeRange(), kRunGPUDispatch,
        ValueRange{name, nameConstant(rewriter, loc, labelOf(op)), slots,
                   LLVM::ConstantOp::create(rewriter, loc, i64, params.size()),
                   adaptor.getWorkgroups(),
                   LLVM::ConstantOp::create(rewriter, loc, i64,
                                            blockSize.getInt()),
                   LLVM::ConstantOp::create(rewriter, loc, i64,
                                            threads ? threads.getInt() : 1),
                   LLVM::ConstantOp::create(
                       rewriter, loc, i64,
                       sharedBytes ? sharedBytes.getInt() : 0)});
    rewriter.eraseOp(op);
    return success();
  }
};

struct DispatchLowering : ConvertOpToLLVMPattern<hybrid::DispatchOp> {
  using ConvertOpToLLVMPattern::ConvertOpToLLVMPattern;

  LogicalResult
  matchAndRewrite(hybrid::DispatchOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    if (onGPU(op))
      return failure();
    Location loc = op.getLoc();
    auto ptr = LLVM::LLVMPointerType::get(rewriter.getContext());
    SmallVector<Value> scalars =
        expandOperands(rewriter, loc, op, adaptor.getKernelOperands());
    // The slots live in the host's entry block: one alloca per dispatch,
    // never inside a loop.
    Value slots = allocateSlots(rewriter, loc, op, scalars.size());
    for (auto [slot, value] : llvm::enumerate(scalars))
      LLVM::StoreOp::create(rewriter, loc, value,
                            slotAddress(rewriter, loc, slots, slot));
    Value kernel = LLVM::AddressOfOp::create(
        rewriter, loc, ptr,
        (op.getCallee().getRootReference().getValue() + "_packed").str());
    LLVM::CallOp::create(
        rewriter, loc, TypeRange(), kRunDispatch,
        ValueRange{kernel, slots, adaptor.getWorkgroups(),
                   nameConstant(rewriter, loc, labelOf(op))});
    rewriter.eraseOp(op);
    return success();
  }
};

struct ConvertHybridDispatchToLLVMPass
    : hybrid::impl::ConvertHybridDispatchToLLVMPassBase<
          ConvertHybridDispatchToLLVMPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<hybrid::DispatchOp> dispatches;
    module.walk([&](hybrid::DispatchOp op) { dispatches.push_back(op); });
    if (dispatches.empty()) {
      OpBuilder b = OpBuilder::atBlockEnd(module.getBody());
      if (failed(defineHostAllocation(module, b, module.getLoc())))
        signalPassFailure();
      return;
    }

    OpBuilder b = OpBuilder::atBlockEnd(module.getBody());
    Location loc = module.getLoc();
    // A string constant with each kernel's name and each label, for
    // profiles and launches.
    llvm::StringSet<> named;
    auto defineName = [&](StringRef kernel) {
      if (!named.insert(kernel).second)
        return;
      std::string text = kernel.str();
      text.push_back('\0');
      LLVM::GlobalOp::create(
          b, loc,
          LLVM::LLVMArrayType::get(IntegerType::get(&getContext(), 8),
                                   text.size()),
          /*isConstant=*/true, LLVM::Linkage::Internal,
          (kernel + "_name").str(), b.getStringAttr(text));
    };
    llvm::StringSet<> packed;
    bool cpu = false, gpu = false;
    for (hybrid::DispatchOp op : dispatches) {
      if (onGPU(op)) {
        gpu = true;
        defineName(op.getCallee().getLeafReference().getValue());
        defineName(labelOf(op));
        continue;
      }
      cpu = true;
      StringRef callee = op.getCallee().getRootReference().getValue();
      auto kernel = module.lookupSymbol<LLVM::LLVMFuncOp>(callee);
      if (!kernel) {
        op.emitOpError("kernel '")
            << callee << "' must be an llvm.func: run convert-func-to-llvm first";
        return signalPassFailure();
      }
      if (packed.insert(callee).second)
        definePackedKernel(b, kernel);
      defineName(labelOf(op));
    }
    if (cpu) {
      declareHookGlobal(b, loc, kExecutor);
      declareHookGlobal(b, loc, kExecutorContext);
      defineRunDispatch(b, loc);
    }
    if (gpu && failed(defineGPUSupport(module, b, loc)))
      return signalPassFailure();
    if (!gpu && failed(defineHostAllocation(module, b, loc)))
      return signalPassFailure();

    LLVMTypeConverter converter(&getContext());
    RewritePatternSet patterns(&getContext());
    patterns.add<DispatchLowering, GPUDispatchLowering>(converter);
    ConversionTarget target(getContext());
    target.addLegalDialect<LLVM::LLVMDialect>();
    target.addIllegalOp<hybrid::DispatchOp>();
    if (failed(applyPartialConversion(module, target, std::move(patterns))))
      signalPassFailure();
  }
};
} // namespace
