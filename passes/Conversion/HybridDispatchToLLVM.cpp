//===- HybridDispatchToLLVM.cpp - hybrid.dispatch -> executor calls -------===//
//
// convert-hybrid-dispatch-to-llvm, after the kernels are LLVM functions:
//
//   * each kernel `@k(begin, end, scalars...)` gets a packed entry
//     `@k_packed(ptr slots, i64 begin, i64 end)` that reads its scalars (a
//     memref operand is its expanded descriptor) from 8-byte slots;
//   * a dispatch stores its operands' scalars into slots on the stack and
//     calls `@hybrid_run_dispatch(@k_packed, slots, workgroups, name)`
//     (the kernel's name, a string constant, for profiles);
//   * `@hybrid_run_dispatch` calls the executor the runtime installed in the
//     exported global `hybrid_executor` (with `hybrid_executor_context`), or
//     runs all workgroups itself when there is none (e.g. under mlir-runner).
//
// Executor ABI: void (*)(void *context, void (*kernel)(void *, int64_t,
// int64_t), void *slots, int64_t workgroups, const char *name); it returns
// when every workgroup ran.
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

/// `void (ptr slots, i64 begin, i64 end)`, the packed kernel type.
LLVM::LLVMFunctionType packedKernelType(MLIRContext *context) {
  auto ptr = LLVM::LLVMPointerType::get(context);
  auto i64 = IntegerType::get(context, 64);
  return LLVM::LLVMFunctionType::get(LLVM::LLVMVoidType::get(context),
                                     {ptr, i64, i64});
}

/// A pointer-sized global the runtime sets through dlsym; null by default.
void declareExecutorGlobal(OpBuilder &b, Location loc, StringRef name) {
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

struct DispatchLowering : ConvertOpToLLVMPattern<hybrid::DispatchOp> {
  using ConvertOpToLLVMPattern::ConvertOpToLLVMPattern;

  LogicalResult
  matchAndRewrite(hybrid::DispatchOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    MLIRContext *context = rewriter.getContext();
    auto ptr = LLVM::LLVMPointerType::get(context);
    auto i64 = IntegerType::get(context, 64);

    SmallVector<Value> scalars;
    for (auto [original, converted] :
         llvm::zip(op.getKernelOperands(), adaptor.getKernelOperands())) {
      if (auto type = dyn_cast<MemRefType>(original.getType()))
        MemRefDescriptor::unpack(rewriter, loc, converted, type, scalars);
      else
        scalars.push_back(converted);
    }

    // The slots live in the host's entry block: one alloca per dispatch,
    // never inside a loop.
    auto host = op->getParentOfType<LLVM::LLVMFuncOp>();
    Value slots;
    {
      OpBuilder::InsertionGuard guard(rewriter);
      rewriter.setInsertionPointToStart(&host.getBody().front());
      Value size = LLVM::ConstantOp::create(
          rewriter, loc, i64, std::max<int64_t>(scalars.size(), 1));
      slots = LLVM::AllocaOp::create(rewriter, loc, ptr, i64, size);
    }
    for (auto [slot, value] : llvm::enumerate(scalars)) {
      Value at = LLVM::GEPOp::create(rewriter, loc, ptr, i64, slots,
                                     ArrayRef<LLVM::GEPArg>{int32_t(slot)});
      LLVM::StoreOp::create(rewriter, loc, value, at);
    }
    Value kernel = LLVM::AddressOfOp::create(
        rewriter, loc, ptr, (op.getCallee() + "_packed").str());
    Value name = LLVM::AddressOfOp::create(
        rewriter, loc, ptr, (op.getCallee() + "_name").str());
    LLVM::CallOp::create(
        rewriter, loc, TypeRange(), kRunDispatch,
        ValueRange{kernel, slots, adaptor.getWorkgroups(), name});
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
    if (dispatches.empty())
      return;

    OpBuilder b = OpBuilder::atBlockEnd(module.getBody());
    Location loc = module.getLoc();
    llvm::StringSet<> packed;
    for (hybrid::DispatchOp op : dispatches) {
      auto kernel = module.lookupSymbol<LLVM::LLVMFuncOp>(op.getCallee());
      if (!kernel) {
        op.emitOpError("kernel '")
            << op.getCallee()
            << "' must be an llvm.func: run convert-func-to-llvm first";
        return signalPassFailure();
      }
      if (packed.insert(kernel.getName()).second) {
        definePackedKernel(b, kernel);
        std::string text = kernel.getName().str();
        text.push_back('\0');
        LLVM::GlobalOp::create(
            b, loc,
            LLVM::LLVMArrayType::get(IntegerType::get(&getContext(), 8),
                                     text.size()),
            /*isConstant=*/true, LLVM::Linkage::Internal,
            (kernel.getName() + "_name").str(), b.getStringAttr(text));
      }
    }
    declareExecutorGlobal(b, loc, kExecutor);
    declareExecutorGlobal(b, loc, kExecutorContext);
    defineRunDispatch(b, loc);

    LLVMTypeConverter converter(&getContext());
    RewritePatternSet patterns(&getContext());
    patterns.add<DispatchLowering>(converter);
    ConversionTarget target(getContext());
    target.addLegalDialect<LLVM::LLVMDialect>();
    target.addIllegalOp<hybrid::DispatchOp>();
    if (failed(applyPartialConversion(module, target, std::move(patterns))))
      signalPassFailure();
  }
};
} // namespace
