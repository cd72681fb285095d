//===- CheckBounds.cpp - every buffer access checked as it runs ------------===//
//
// hybrid-check-bounds: a check of the kernels, not a speed pass. A kernel
// that reads past a buffer's end computes from whatever lies there: on the
// CPU usually a neighbour's bytes, which padding or a zero weight may hide;
// on a GPU another buffer, shared memory beyond the block's bytes, or an
// illegal-address fault. Each access of a memref -- scalar, vector and
// transfer loads and stores, and the subviews that offset them -- gets a
// check that its elements lie inside the buffer's shape, so the first
// access out of it stops the program (when its function returns) and
// names the op and where it is.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

namespace hybrid {
#define GEN_PASS_DEF_CHECKBOUNDSPASS
#include "passes/Passes.h.inc"
} // namespace hybrid

using namespace mlir;

namespace {
/// What one access touches along one dimension of its buffer: `extent`
/// elements from `start` (1 for an index alone).
struct Span {
  unsigned dim;
  Value start;
  int64_t extent;
};

/// The spans of an access of `rank` dimensions at `indices`, a vector of
/// `shape` along the last dimensions (vector.load/store).
SmallVector<Span> trailingSpans(ValueRange indices, ArrayRef<int64_t> shape) {
  SmallVector<Span> spans;
  int64_t rank = static_cast<int64_t>(indices.size());
  int64_t lead = rank - static_cast<int64_t>(shape.size());
  for (int64_t d = 0; d < rank; ++d)
    spans.push_back(
        {static_cast<unsigned>(d), indices[d], d < lead ? 1 : shape[d - lead]});
  return spans;
}

/// The spans of a transfer: a memref dimension that a vector dimension
/// maps to in bounds holds all of it; one it maps to out of bounds is
/// masked by the transfer itself (nothing to check); an unmapped one is
/// read at its index alone.
SmallVector<Span> transferSpans(VectorTransferOpInterface op) {
  AffineMap map = op.getPermutationMap();
  SmallVector<Span> spans;
  ValueRange indices = op.getIndices();
  ArrayRef<int64_t> shape = op.getVectorType().getShape();
  llvm::SmallDenseMap<unsigned, unsigned> vectorDimOf;
  for (auto [v, result] : llvm::enumerate(map.getResults())) {
    auto dim = dyn_cast<AffineDimExpr>(result);
    if (!dim)
      continue; // a broadcast dimension reads nothing more
    vectorDimOf[dim.getPosition()] = v;
  }
  for (auto [d, index] : llvm::enumerate(indices)) {
    auto it = vectorDimOf.find(d);
    if (it == vectorDimOf.end()) {
      spans.push_back({static_cast<unsigned>(d), index, 1});
      continue;
    }
    if (op.isDimInBounds(it->second))
      spans.push_back({static_cast<unsigned>(d), index, shape[it->second]});
  }
  return spans;
}

/// 0 <= start and start + extent <= size for every span, as one i1.
Value inside(OpBuilder &b, Location loc, Value buffer, ArrayRef<Span> spans) {
  Value ok = arith::ConstantIntOp::create(b, loc, b.getI1Type(), 1);
  Value zero = arith::ConstantIndexOp::create(b, loc, 0);
  for (const Span &span : spans) {
    Value size = memref::DimOp::create(b, loc, buffer, span.dim);
    Value end = arith::AddIOp::create(
        b, loc, span.start,
        arith::ConstantIndexOp::create(b, loc, span.extent));
    Value fits = arith::AndIOp::create(
        b, loc,
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sge, span.start,
                              zero),
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sle, end, size));
    ok = arith::AndIOp::create(b, loc, ok, fits);
  }
  return ok;
}

/// "<op> out of bounds of its buffer in @<function> at <location>".
std::string message(Operation *op) {
  std::string text;
  llvm::raw_string_ostream os(text);
  os << "hybrid-check-bounds: " << op->getName() << " out of bounds of its "
     << "buffer";
  if (auto func = op->getParentOfType<FunctionOpInterface>())
    os << " in @" << func.getName();
  os << " at " << op->getLoc();
  return text;
}

/// The spans `op` touches in its memref, and the memref; none for an op
/// that accesses no memref or one whose reach it does not know.
std::optional<std::pair<Value, SmallVector<Span>>> accessOf(Operation *op) {
  // A memref of scalars: a vector's extent then counts its elements.
  auto onScalars = [](Value v) {
    auto type = dyn_cast<MemRefType>(v.getType());
    return type && !isa<VectorType>(type.getElementType());
  };
  if (auto load = dyn_cast<memref::LoadOp>(op))
    return std::make_pair(load.getMemRef(),
                          trailingSpans(load.getIndices(), {}));
  if (auto store = dyn_cast<memref::StoreOp>(op))
    return std::make_pair(store.getMemRef(),
                          trailingSpans(store.getIndices(), {}));
  if (auto atomic = dyn_cast<memref::AtomicRMWOp>(op))
    return std::make_pair(atomic.getMemref(),
                          trailingSpans(atomic.getIndices(), {}));
  // A GEMV's prefetch of its weights: on a GPU, PTX's prefetch.L2 of that
  // element's address.
  if (auto prefetch = dyn_cast<memref::PrefetchOp>(op))
    return std::make_pair(prefetch.getMemref(),
                          trailingSpans(prefetch.getIndices(), {}));
  if (auto load = dyn_cast<vector::LoadOp>(op);
      load && onScalars(load.getBase()))
    return std::make_pair(
        load.getBase(),
        trailingSpans(load.getIndices(), load.getVectorType().getShape()));
  if (auto store = dyn_cast<vector::StoreOp>(op);
      store && onScalars(store.getBase()))
    return std::make_pair(
        store.getBase(),
        trailingSpans(store.getIndices(), store.getVectorType().getShape()));
  if (auto transfer = dyn_cast<VectorTransferOpInterface>(op)) {
    if (!onScalars(transfer.getBase()) || transfer.getMask())
      return std::nullopt;
    return std::make_pair(transfer.getBase(), transferSpans(transfer));
  }
  return std::nullopt;
}

/// The checks of a subview: along each dimension its last element,
/// offset + (size - 1) * stride, inside the source (a view of no elements
/// reads none).
Value subviewInside(OpBuilder &b, Location loc, memref::SubViewOp view) {
  Value ok = arith::ConstantIntOp::create(b, loc, b.getI1Type(), 1);
  Value zero = arith::ConstantIndexOp::create(b, loc, 0);
  Value one = arith::ConstantIndexOp::create(b, loc, 1);
  SmallVector<OpFoldResult> offsets = view.getMixedOffsets(),
                            sizes = view.getMixedSizes(),
                            strides = view.getMixedStrides();
  for (unsigned d = 0; d < offsets.size(); ++d) {
    Value offset = getValueOrCreateConstantIndexOp(b, loc, offsets[d]);
    Value size = getValueOrCreateConstantIndexOp(b, loc, sizes[d]);
    Value stride = getValueOrCreateConstantIndexOp(b, loc, strides[d]);
    Value last = arith::AddIOp::create(
        b, loc, offset,
        arith::MulIOp::create(b, loc, arith::SubIOp::create(b, loc, size, one),
                              stride));
    Value sourceSize = memref::DimOp::create(b, loc, view.getSource(), d);
    Value fits = arith::AndIOp::create(
        b, loc,
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sge, offset, zero),
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, last,
                              sourceSize));
    Value empty =
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, size, zero);
    ok = arith::AndIOp::create(b, loc, ok,
                               arith::OrIOp::create(b, loc, fits, empty));
  }
  return ok;
}

/// The libc functions a failed check calls, and one message per op.
struct Reporting {
  ModuleOp module;
  LLVM::LLVMFuncOp write, strlen, abort;
  llvm::StringMap<LLVM::GlobalOp> messages;

  explicit Reporting(ModuleOp module) : module(module) {
    OpBuilder b = OpBuilder::atBlockEnd(module.getBody());
    MLIRContext *ctx = module.getContext();
    auto i32 = IntegerType::get(ctx, 32), i64 = IntegerType::get(ctx, 64);
    auto ptr = LLVM::LLVMPointerType::get(ctx);
    write = LLVM::LLVMFuncOp::create(
        b, module.getLoc(), "write",
        LLVM::LLVMFunctionType::get(i64, {i32, ptr, i64}));
    strlen = LLVM::LLVMFuncOp::create(b, module.getLoc(), "strlen",
                                      LLVM::LLVMFunctionType::get(i64, {ptr}));
    abort = LLVM::LLVMFuncOp::create(
        b, module.getLoc(), "abort",
        LLVM::LLVMFunctionType::get(LLVM::LLVMVoidType::get(ctx), {}));
  }

  /// The address of `text`, a line ending in NUL.
  Value message(OpBuilder &b, Location loc, StringRef text) {
    std::string line = (text + "\n").str();
    line.push_back('\0');
    LLVM::GlobalOp &global = messages[line];
    if (!global) {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(module.getBody());
      auto type = LLVM::LLVMArrayType::get(b.getI8Type(), line.size());
      global = LLVM::GlobalOp::create(
          b, loc, type, /*isConstant=*/true, LLVM::Linkage::Private,
          "hybrid_check_bounds_" + std::to_string(messages.size()),
          b.getStringAttr(line));
    }
    return LLVM::AddressOfOp::create(b, loc, global);
  }
};

/// A function's checks: a slot at its entry holds the message of the
/// first check that failed (null while none has); each check keeps it or
/// puts its own there, and before each return a failed check's message
/// goes to stderr and the program aborts. No check branches: a branch in
/// the kernels' loops would split their blocks, and a bf16 value live
/// across a split makes the x86 backend call compiler-rt's __truncsfbf2,
/// which artifacts do not link.
void checkFunction(FunctionOpInterface func, ArrayRef<Operation *> accesses,
                   Reporting &reporting) {
  MLIRContext *ctx = func.getContext();
  Location loc = func.getLoc();
  auto ptr = LLVM::LLVMPointerType::get(ctx);
  OpBuilder b = OpBuilder::atBlockBegin(&func.getFunctionBody().front());
  Value one = LLVM::ConstantOp::create(b, loc, b.getI64Type(), 1);
  Value slot = LLVM::AllocaOp::create(b, loc, ptr, ptr, one);
  Value none = LLVM::ZeroOp::create(b, loc, ptr);
  LLVM::StoreOp::create(b, loc, none, slot);

  for (Operation *op : accesses) {
    b.setInsertionPoint(op);
    Location at = op->getLoc();
    Value ok;
    if (auto view = dyn_cast<memref::SubViewOp>(op)) {
      // Rank-reducing subviews drop dimensions: their sizes still line
      // up with the source's.
      ok = subviewInside(b, at, view);
    } else {
      auto [buffer, spans] = *accessOf(op);
      ok = inside(b, at, buffer, spans);
    }
    Value first = LLVM::LoadOp::create(b, at, ptr, slot);
    Value noneYet = LLVM::ICmpOp::create(b, at, LLVM::ICmpPredicate::eq, first,
                                         LLVM::ZeroOp::create(b, at, ptr));
    Value keep = arith::OrIOp::create(
        b, at, ok,
        arith::XOrIOp::create(
            b, at, noneYet,
            arith::ConstantIntOp::create(b, at, b.getI1Type(), 1)));
    Value kept = LLVM::SelectOp::create(b, at, keep, first,
                                        reporting.message(b, at, message(op)));
    LLVM::StoreOp::create(b, at, kept, slot);
  }

  SmallVector<Operation *> returns;
  for (Block &block : func.getFunctionBody())
    if (block.mightHaveTerminator() &&
        block.getTerminator()->hasTrait<OpTrait::ReturnLike>())
      returns.push_back(block.getTerminator());
  for (Operation *ret : returns) {
    b.setInsertionPoint(ret);
    Value failed = LLVM::LoadOp::create(b, loc, ptr, slot);
    Value any = LLVM::ICmpOp::create(b, loc, LLVM::ICmpPredicate::ne, failed,
                                     LLVM::ZeroOp::create(b, loc, ptr));
    auto report = scf::IfOp::create(b, loc, any);
    OpBuilder r = report.getThenBodyBuilder();
    Value length =
        LLVM::CallOp::create(r, loc, reporting.strlen, ValueRange{failed})
            .getResult();
    Value stderrFd = LLVM::ConstantOp::create(r, loc, r.getI32Type(), 2);
    LLVM::CallOp::create(r, loc, reporting.write,
                         ValueRange{stderrFd, failed, length});
    LLVM::CallOp::create(r, loc, reporting.abort, ValueRange{});
  }
}

struct CheckBoundsPass : hybrid::impl::CheckBoundsPassBase<CheckBoundsPass> {
  void runOnOperation() override {
    llvm::MapVector<Operation *, SmallVector<Operation *>> accessesByFunction;
    getOperation()->walk([&](Operation *op) {
      std::optional<std::pair<Value, SmallVector<Span>>> access = accessOf(op);
      if (!(access && !access->second.empty()) && !isa<memref::SubViewOp>(op))
        return; // nothing, or a 0-d buffer's one element
      if (auto func = op->getParentOfType<FunctionOpInterface>())
        accessesByFunction[func].push_back(op);
    });
    if (accessesByFunction.empty())
      return;
    Reporting reporting(getOperation());
    for (auto &[func, accesses] : accessesByFunction)
      checkFunction(cast<FunctionOpInterface>(func), accesses, reporting);
  }
};
} // namespace
