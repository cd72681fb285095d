//===- MmaTilesToNVGPU.cpp - contract tiles to tensor-core mma.sync -------===//
//
// hybrid-mma-tiles-to-nvgpu: in the GPU module's kernels with
// vector.contract tiles (convert-hybrid-to-linalg's mma form, read from
// tiles staged in shared memory), the tiles go through MLIR's
// vector-to-nvgpu conversion: every lane loads its fragment (ldmatrix from
// shared memory where the tile allows) and each contract becomes an
// nvgpu.mma.sync -- tf32 m16n8k8 for f32 tiles, bf16 m16n8k16 for bf16
// ones, the f32 tiles' fragments rounded to tf32 (cvt.rna) as loaded
// (with split-tf32, 3xtf32: each also the tf32 rounding of its remainder,
// and each f32 tile three mma.sync on one accumulator).
// Two things around the upstream conversion:
//  - it takes 16-bit tiles only as f16 (its bf16 path fails), so the
//    tiles of bf16 staged buffers are read through f16 views of the same
//    bits, and the f16 mma.sync it makes is rewritten as the NVVM bf16 mma
//    on the same registers;
//  - it starts a slice at every arith op that could be matrix arithmetic,
//    scalar ones included (and then fails on them), so while it runs the
//    kernel's scalar arithmetic is made of twins it does not know:
//    index-dialect ops on index values, LLVM ops on other scalars (the
//    delta rule's block kernels mix scalar phases with their tiles).
//
//===----------------------------------------------------------------------===//

#include "passes/LoopUtils.h"
#include "passes/Passes.h"

#include "mlir/Conversion/VectorToGPU/VectorToGPU.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/Index/IR/IndexDialect.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Index/IR/IndexOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/IR/Iterators.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace hybrid {
#define GEN_PASS_DEF_MMATILESTONVGPUPASS
#include "passes/Passes.h.inc"
} // namespace hybrid

using namespace mlir;

namespace {
/// Scalar arith ops the conversion would take for matrix arithmetic, and
/// twins of the same semantics that it does not know: index-dialect ops
/// for index values, LLVM ops for other scalars (none where the first
/// kind has no twin).
struct ArithTwins {
  StringLiteral arith, index, llvm;
};
constexpr ArithTwins kArithTwins[] = {
    {"arith.addi", "index.add", "llvm.add"},
    {"arith.subi", "index.sub", "llvm.sub"},
    {"arith.muli", "index.mul", "llvm.mul"},
    {"arith.divsi", "index.divs", "llvm.sdiv"},
    {"arith.divui", "index.divu", "llvm.udiv"},
    {"arith.addf", "", "llvm.fadd"},
    {"arith.subf", "", "llvm.fsub"},
    {"arith.mulf", "", "llvm.fmul"},
    {"arith.divf", "", "llvm.fdiv"},
    {"arith.negf", "", "llvm.fneg"},
    {"arith.extf", "", "llvm.fpext"},
    {"arith.maximumf", "", "llvm.intr.maximum"},
    {"arith.minimumf", "", "llvm.intr.minimum"},
    {"arith.maxnumf", "", "llvm.intr.maxnum"},
    {"arith.minnumf", "", "llvm.intr.minnum"},
};
/// On a twin: the arith op it stands for, and that op's properties.
constexpr StringLiteral kTwinOf = "hybrid.twin_of",
                        kTwinProperties = "hybrid.twin_properties";

/// `op` rebuilt as an op named `name` on the same operands and result
/// types, with `properties` and `attributes`.
Operation *rebuiltAs(Operation *op, StringRef name, Attribute properties,
                     ArrayRef<NamedAttribute> attributes) {
  OpBuilder b(op);
  OperationState state(op->getLoc(), name);
  state.addOperands(op->getOperands());
  state.addTypes(op->getResultTypes());
  state.propertiesAttr = properties;
  state.addAttributes(attributes);
  Operation *twin = b.create(state);
  op->replaceAllUsesWith(twin);
  op->erase();
  return twin;
}

/// The conversion starts a slice at every op that could be matrix
/// arithmetic, scalar ones included (and then fails on them): while it
/// runs, each scalar op of kArithTwins in `func` is its twin.
void hideScalarArithmetic(gpu::GPUFuncOp func) {
  SmallVector<Operation *> ops;
  func.walk([&](Operation *op) {
    if (op->getNumResults() == 1 && !isa<ShapedType>(op->getResult(0).getType()))
      ops.push_back(op);
  });
  for (Operation *op : ops)
    for (const ArithTwins &twins : kArithTwins) {
      if (op->getName().getStringRef() != twins.arith)
        continue;
      StringRef twin =
          op->getResult(0).getType().isIndex() ? twins.index : twins.llvm;
      if (twin.empty())
        break;
      Builder b(op->getContext());
      Attribute properties = op->getPropertiesAsAttribute();
      SmallVector<NamedAttribute> marks{
          b.getNamedAttr(kTwinOf, b.getStringAttr(twins.arith))};
      if (properties)
        marks.push_back(b.getNamedAttr(kTwinProperties, properties));
      rebuiltAs(op, twin, Attribute(), marks);
      break;
    }
}

/// Each twin of hideScalarArithmetic back to its arith op.
void restoreScalarArithmetic(gpu::GPUFuncOp func) {
  SmallVector<Operation *> twins;
  func.walk([&](Operation *op) {
    if (op->hasAttr(kTwinOf))
      twins.push_back(op);
  });
  for (Operation *twin : twins)
    rebuiltAs(twin, twin->getAttrOfType<StringAttr>(kTwinOf).getValue(),
              twin->getAttr(kTwinProperties), {});
}

/// `value` (a scalar or vector of 16-bit floats) as `element` bits.
Value bitcastTo(OpBuilder &b, Location loc, Value value, Type element) {
  Type type = value.getType();
  if (auto vector = dyn_cast<VectorType>(type))
    return arith::BitcastOp::create(b, loc, vector.clone(element), value);
  return arith::BitcastOp::create(b, loc, element, value);
}

/// The upstream conversion takes 16-bit tiles only as f16, so each bf16
/// buffer of the kernel's shared memory (convert-hybrid-to-linalg's staged
/// tiles, views of the dynamic shared memory) gets an f16 twin: a view of
/// the same bytes, from which the reads feeding contract tiles read the
/// f16 bits directly (the mma that results is made bf16 again:
/// bf16MmaOnNVVM). Everything else -- the stores that fill the buffer,
/// other reads -- stays on the bf16 view, so a copy into it keeps one
/// element type (hybrid-async-shared-copies). Returns whether there was
/// one.
bool twinBF16Stages(gpu::GPUFuncOp func) {
  MLIRContext *context = func.getContext();
  Type f16 = Float16Type::get(context);
  bool any = false;
  SmallVector<memref::ViewOp> views;
  func.walk([&](memref::ViewOp view) {
    if (auto space = dyn_cast_or_null<gpu::AddressSpaceAttr>(
            view.getType().getMemorySpace());
        space && space.getValue() == gpu::AddressSpace::Workgroup &&
        view.getType().getElementType().isBF16())
      views.push_back(view);
  });
  for (memref::ViewOp view : views) {
    SmallVector<vector::TransferReadOp> tileReads;
    for (Operation *user : view->getUsers()) {
      auto read = dyn_cast<vector::TransferReadOp>(user);
      if (read && llvm::any_of(read->getUsers(), [](Operation *reader) {
            return isa<arith::ExtFOp>(reader) &&
                   llvm::all_of(reader->getUsers(),
                                llvm::IsaPred<vector::ContractionOp>);
          }))
        tileReads.push_back(read);
    }
    if (tileReads.empty())
      continue;
    any = true;
    OpBuilder b(context);
    b.setInsertionPointAfter(view);
    MemRefType type = view.getType();
    auto twin = memref::ViewOp::create(
        b, view.getLoc(),
        MemRefType::get(type.getShape(), f16, type.getLayout(),
                        type.getMemorySpace()),
        view.getSource(), view.getByteShift(), view.getSizes());
    for (vector::TransferReadOp read : tileReads) {
      b.setInsertionPoint(read);
      Location loc = read.getLoc();
      auto f16Read = vector::TransferReadOp::create(
          b, loc, read.getVectorType().clone(f16), twin, read.getIndices(),
          arith::ConstantOp::create(b, loc, b.getF16FloatAttr(0.0)),
          read.getPermutationMapAttr(), read.getInBoundsAttr());
      for (Operation *reader : llvm::to_vector(read->getUsers())) {
        auto extf = dyn_cast<arith::ExtFOp>(reader);
        if (extf && llvm::all_of(extf->getUsers(),
                                 llvm::IsaPred<vector::ContractionOp>)) {
          extf.replaceAllUsesWith(f16Read.getResult());
          extf.erase();
        }
      }
      if (!read->use_empty())
        read.replaceAllUsesWith(bitcastTo(b, loc, f16Read,
                                          read.getVectorType().getElementType()));
      read.erase();
    }
  }
  return any;
}

/// The vector<R x 2 x f16> fragment `value` as R 32-bit registers.
SmallVector<Value> registersOf(OpBuilder &b, Location loc, Value value) {
  auto type = cast<VectorType>(value.getType());
  SmallVector<Value> registers;
  for (int64_t r = 0; r < type.getDimSize(0); ++r) {
    Value pair = vector::ExtractOp::create(b, loc, value, ArrayRef<int64_t>{r});
    Value word = vector::BitCastOp::create(
        b, loc, VectorType::get({1}, b.getI32Type()), pair);
    registers.push_back(
        vector::ExtractOp::create(b, loc, word, ArrayRef<int64_t>{0}));
  }
  return registers;
}

/// Each nvgpu.mma.sync on f16 fragments (the bits of bf16 tiles:
/// twinBF16Stages) becomes the NVVM m16n8k16 mma on bf16, its operands
/// the same registers; its four f32 results the 2x2 fragment it replaces.
void bf16MmaOnNVVM(gpu::GPUFuncOp func) {
  SmallVector<nvgpu::MmaSyncOp> mmas;
  func.walk([&](nvgpu::MmaSyncOp mma) {
    if (cast<VectorType>(mma.getMatrixA().getType()).getElementType().isF16())
      mmas.push_back(mma);
  });
  for (nvgpu::MmaSyncOp mma : mmas) {
    OpBuilder b(mma);
    Location loc = mma.getLoc();
    Type f32 = b.getF32Type();
    SmallVector<Value> accumulators;
    for (int64_t i = 0; i < 2; ++i)
      for (int64_t j = 0; j < 2; ++j)
        accumulators.push_back(vector::ExtractOp::create(
            b, loc, mma.getMatrixC(), ArrayRef<int64_t>{i, j}));
    auto resultType =
        LLVM::LLVMStructType::getLiteral(b.getContext(), {f32, f32, f32, f32});
    auto product = NVVM::MmaOp::create(
        b, loc, resultType, registersOf(b, loc, mma.getMatrixA()),
        registersOf(b, loc, mma.getMatrixB()), accumulators,
        ArrayRef<int64_t>{16, 8, 16}, std::nullopt, std::nullopt,
        std::array<NVVM::MMATypes, 2>{NVVM::MMATypes::bf16,
                                      NVVM::MMATypes::bf16},
        std::array<NVVM::MMALayout, 2>{NVVM::MMALayout::row,
                                       NVVM::MMALayout::col});
    SmallVector<Value> elements;
    for (int64_t i = 0; i < 4; ++i)
      elements.push_back(LLVM::ExtractValueOp::create(b, loc, product, i));
    Value fragment = vector::FromElementsOp::create(
        b, loc, cast<VectorType>(mma.getType()), elements);
    mma.getResult().replaceAllUsesWith(fragment);
    mma.erase();
  }
}

/// The fragment `fragment` (vector<R x 1 x f32>) with each element rounded
/// to tf32 (cvt.rna: to nearest, ties away from zero), built where the
/// fragment is defined so that every mma taking it shares the rounding.
Value roundedToTF32(Value fragment) {
  OpBuilder b(fragment.getContext());
  b.setInsertionPointAfterValue(fragment);
  Location loc = fragment.getLoc();
  auto type = cast<VectorType>(fragment.getType());
  SmallVector<Value> elements;
  for (int64_t r = 0; r < type.getDimSize(0); ++r) {
    Value element =
        vector::ExtractOp::create(b, loc, fragment, ArrayRef<int64_t>{r, 0});
    Value bits = NVVM::ConvertFloatToTF32Op::create(
        b, loc, b.getI32Type(), element, NVVM::FPRoundingMode::RNA,
        NVVM::SaturationMode::NONE, /*relu=*/false);
    elements.push_back(
        arith::BitcastOp::create(b, loc, b.getF32Type(), bits));
  }
  return vector::FromElementsOp::create(b, loc, type, elements);
}

/// Each tf32 mma.sync's operands rounded to tf32 first. A tf32 operand is
/// meant to hold tf32 data (what cvt makes); given f32 bits as they are,
/// the H200 of the one GPU run truncated them (the CPU's emulation of
/// truncation, --tile-precision, reproduces its errors): every operand
/// shrunk towards zero, an error of one sign that grows with the length
/// of the sum. Rounding to nearest halves the largest error and gives it
/// no sign.
///
/// With `split` (3xtf32), each operand x also gives lo = tf32(x - hi),
/// the rounding of what hi = tf32(x) leaves (exact in f32), and each mma
/// becomes three on the same accumulator, the small products first:
/// a_lo b_hi, a_hi b_lo, a_hi b_hi. Its error is then about f32's
/// (a_lo b_lo and lo's own rounding are below it). hybrid-round-tiles-to-tf32
/// {split=1} gives the CPU forms the same arithmetic.
void roundTF32Operands(gpu::GPUFuncOp func, bool split) {
  SmallVector<nvgpu::MmaSyncOp> mmas;
  func.walk([&](nvgpu::MmaSyncOp mma) {
    if (mma.getTf32EnabledAttr())
      mmas.push_back(mma);
  });
  struct Parts {
    Value hi, lo;
  };
  DenseMap<Value, Parts> parts;
  auto partsOf = [&](Value fragment) -> Parts {
    auto [it, first] = parts.try_emplace(fragment);
    if (!first)
      return it->second;
    Value hi = roundedToTF32(fragment);
    Value lo = split ? hybrid::tf32Remainder(fragment, hi, roundedToTF32) : Value();
    return it->second = {hi, lo};
  };
  for (nvgpu::MmaSyncOp mma : mmas) {
    Parts a = partsOf(mma.getMatrixA()), b = partsOf(mma.getMatrixB());
    if (split) {
      OpBuilder builder(mma);
      for (auto [lhs, rhs] : {std::pair(a.lo, b.hi), std::pair(a.hi, b.lo)}) {
        auto partial = cast<nvgpu::MmaSyncOp>(builder.clone(*mma));
        partial.getMatrixAMutable().assign(lhs);
        partial.getMatrixBMutable().assign(rhs);
        mma.getMatrixCMutable().assign(partial.getResult());
      }
    }
    mma.getMatrixAMutable().assign(a.hi);
    mma.getMatrixBMutable().assign(b.hi);
  }
}

struct MmaTilesToNVGPUPass
    : hybrid::impl::MmaTilesToNVGPUPassBase<MmaTilesToNVGPUPass> {
  using Base::Base;

  void runOnOperation() override {
    for (auto func : getOperation().getOps<gpu::GPUFuncOp>()) {
      bool hasTiles = false;
      func.walk([&](vector::ContractionOp) { hasTiles = true; });
      if (hasTiles && failed(convert(func)))
        return signalPassFailure();
    }
  }

  LogicalResult convert(gpu::GPUFuncOp func) {
    MLIRContext *context = func.getContext();
    // Contracts in (m, k) x (k, n) form, transposes folded into the reads.
    RewritePatternSet prepare(context);
    populatePrepareVectorToMMAPatterns(prepare, /*useNvGpu=*/true);
    if (failed(applyPatternsGreedily(func, std::move(prepare))))
      return func.emitOpError("hybrid-mma-tiles-to-nvgpu: preparing the "
                              "contract tiles did not converge");
    WalkResult f16 = func.walk([&](vector::ContractionOp contract) {
      if (getElementTypeOrSelf(contract.getLhsType()).isF16()) {
        contract.emitOpError("in GPU kernel @")
            << func.getName()
            << ": f16 contract tiles are not lowered (tiles are f32 or "
               "bf16 staged in shared memory)";
        return WalkResult::interrupt();
      }
      return WalkResult::advance();
    });
    if (f16.wasInterrupted())
      return failure();
    bool bf16 = twinBF16Stages(func);
    hideScalarArithmetic(func);
    IRRewriter rewriter(context);
    LogicalResult converted = convertVectorToNVVMCompatibleMMASync(rewriter, func);
    restoreScalarArithmetic(func);
    if (failed(converted))
      return func.emitOpError("hybrid-mma-tiles-to-nvgpu: the tensor-core "
                              "lowering failed");
    // The conversion leaves the tiles it replaced, now unused.
    func.walk<WalkOrder::PostOrder, ReverseIterator>([&](Operation *op) {
      if (isa<vector::ContractionOp, vector::TransferReadOp, arith::ConstantOp>(op) &&
          op->use_empty())
        op->erase();
    });
    if (bf16)
      bf16MmaOnNVVM(func);
    // The conversion leaves f32 tiles as mma.sync on f32, which NVVM
    // lowers only as tf32.
    func.walk([&](nvgpu::MmaSyncOp mma) {
      if (cast<VectorType>(mma.getMatrixA().getType()).getElementType().isF32())
        mma.setTf32EnabledAttr(UnitAttr::get(context));
    });
    roundTF32Operands(func, splitTF32);
    WalkResult left = func.walk([&](vector::ContractionOp contract) {
      contract.emitOpError("in GPU kernel @")
          << func.getName()
          << ": a tile the tensor-core lowering did not take (it needs "
             "16x8x8 f32 or 16x8x16 bf16 tiles with f32 accumulators, read "
             "in bounds from memory)";
      return WalkResult::interrupt();
    });
    return failure(left.wasInterrupted());
  }
};
} // namespace
