//===- HybridTypes.cpp - Hybrid state types and attributes ------*- C++ -*-===//

#include "dialects/Hybrid/IR/HybridOps.h"

#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace hybrid;

#define GET_TYPEDEF_CLASSES
#include "dialects/Hybrid/IR/HybridOpsTypes.cpp.inc"
#define GET_ATTRDEF_CLASSES
#include "dialects/Hybrid/IR/HybridAttrs.cpp.inc"

void HybridDialect::registerTypesAndAttributes() {
  addTypes<
#define GET_TYPEDEF_LIST
#include "dialects/Hybrid/IR/HybridOpsTypes.cpp.inc"
      >();
  addAttributes<
#define GET_ATTRDEF_LIST
#include "dialects/Hybrid/IR/HybridAttrs.cpp.inc"
      >();
}

//===----------------------------------------------------------------------===//
// State types: `<D0 x D1 [x D2] x T>`
//===----------------------------------------------------------------------===//

namespace {
/// Parses the shared `<dims x elementType>` body of every state type.
template <typename StateType>
Type parseStateType(AsmParser &parser) {
  SmallVector<int64_t> shape;
  Type elementType;
  llvm::SMLoc loc = parser.getCurrentLocation();
  if (parser.parseLess() ||
      parser.parseDimensionList(shape, /*allowDynamic=*/false,
                                /*withTrailingX=*/true) ||
      parser.parseType(elementType) || parser.parseGreater())
    return {};
  return StateType::getChecked([&] { return parser.emitError(loc); },
                               parser.getContext(), shape, elementType);
}

void printStateType(AsmPrinter &printer, ArrayRef<int64_t> shape,
                    Type elementType) {
  printer << '<';
  for (int64_t dim : shape)
    printer << dim << 'x';
  printer << elementType << '>';
}

LogicalResult verifyStateType(function_ref<InFlightDiagnostic()> emitError,
                              StringRef name, ArrayRef<int64_t> shape,
                              Type elementType, ArrayRef<size_t> ranks,
                              StringRef meaning) {
  if (!llvm::is_contained(ranks, shape.size()))
    return emitError() << name << " expects " << meaning << ", got "
                       << shape.size() << " dimensions";
  for (int64_t dim : shape)
    if (dim <= 0)
      return emitError() << name << " dimensions must be positive";
  if (!isa<FloatType>(elementType))
    return emitError() << name << " element type must be a float type, got "
                       << elementType;
  return success();
}

int64_t elementBytes(Type type) {
  return (type.getIntOrFloatBitWidth() + 7) / 8;
}

int64_t product(ArrayRef<int64_t> shape) {
  int64_t n = 1;
  for (int64_t dim : shape)
    n *= dim;
  return n;
}
} // namespace

#define HYBRID_STATE_TYPE_ASM(TYPE)                                            \
  Type TYPE::parse(AsmParser &parser) { return parseStateType<TYPE>(parser); } \
  void TYPE::print(AsmPrinter &printer) const {                                \
    printStateType(printer, getShape(), getElementType());                     \
  }
HYBRID_STATE_TYPE_ASM(KVCacheType)
HYBRID_STATE_TYPE_ASM(LatentCacheType)
HYBRID_STATE_TYPE_ASM(ConvStateType)
HYBRID_STATE_TYPE_ASM(RecurrentStateType)
#undef HYBRID_STATE_TYPE_ASM

LogicalResult KVCacheType::verify(function_ref<InFlightDiagnostic()> emitError,
                                  ArrayRef<int64_t> shape, Type elementType) {
  return verifyStateType(emitError, "kv_cache", shape, elementType, {2},
                         "[kv_heads, head_dim]");
}
LogicalResult
LatentCacheType::verify(function_ref<InFlightDiagnostic()> emitError,
                        ArrayRef<int64_t> shape, Type elementType) {
  return verifyStateType(emitError, "latent_cache", shape, elementType, {2},
                         "[kv_lora_rank, qk_rope_head_dim]");
}
LogicalResult ConvStateType::verify(function_ref<InFlightDiagnostic()> emitError,
                                    ArrayRef<int64_t> shape, Type elementType) {
  return verifyStateType(emitError, "conv_state", shape, elementType, {2},
                         "[channels, kernel - 1]");
}
LogicalResult
RecurrentStateType::verify(function_ref<InFlightDiagnostic()> emitError,
                           ArrayRef<int64_t> shape, Type elementType) {
  return verifyStateType(emitError, "recurrent_state", shape, elementType,
                         {2, 3}, "2 or 3 dimensions");
}

// K and V for one position.
int64_t KVCacheType::getBytes() const {
  return 2 * product(getShape()) * elementBytes(getElementType());
}
// Latent and rope key for one position.
int64_t LatentCacheType::getBytes() const {
  return product(getShape()) * elementBytes(getElementType());
}
int64_t ConvStateType::getBytes() const {
  return product(getShape()) * elementBytes(getElementType());
}
int64_t RecurrentStateType::getBytes() const {
  return product(getShape()) * elementBytes(getElementType());
}

//===----------------------------------------------------------------------===//
// YarnAttr
//===----------------------------------------------------------------------===//

Attribute YarnAttr::parse(AsmParser &parser, Type) {
  double factor, betaFast, betaSlow, mscale, mscaleAllDim;
  int64_t original;
  llvm::SMLoc loc = parser.getCurrentLocation();
  auto field = [&](StringRef key, auto &value) -> ParseResult {
    if (parser.parseKeyword(key) || parser.parseEqual())
      return failure();
    if constexpr (std::is_same_v<std::decay_t<decltype(value)>, double>)
      return parser.parseFloat(value);
    else
      return parser.parseInteger(value);
  };
  if (parser.parseLess() || field("factor", factor) || parser.parseComma() ||
      field("original", original) || parser.parseComma() ||
      field("beta_fast", betaFast) || parser.parseComma() ||
      field("beta_slow", betaSlow) || parser.parseComma() ||
      field("mscale", mscale) || parser.parseComma() ||
      field("mscale_all_dim", mscaleAllDim) || parser.parseGreater())
    return {};
  return YarnAttr::getChecked([&] { return parser.emitError(loc); },
                              parser.getContext(), llvm::APFloat(factor),
                              original, llvm::APFloat(betaFast),
                              llvm::APFloat(betaSlow), llvm::APFloat(mscale),
                              llvm::APFloat(mscaleAllDim));
}

void YarnAttr::print(AsmPrinter &printer) const {
  auto number = [&](StringRef key, const llvm::APFloat &value) {
    printer << key << " = ";
    printer.printFloat(value);
  };
  printer << '<';
  number("factor", getFactor());
  printer << ", original = " << getOriginal() << ", ";
  number("beta_fast", getBetaFast());
  printer << ", ";
  number("beta_slow", getBetaSlow());
  printer << ", ";
  number("mscale", getMscale());
  printer << ", ";
  number("mscale_all_dim", getMscaleAllDim());
  printer << '>';
}

LogicalResult YarnAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                               llvm::APFloat factorValue, int64_t original,
                               llvm::APFloat betaFastValue,
                               llvm::APFloat betaSlowValue, llvm::APFloat,
                               llvm::APFloat) {
  double factor = factorValue.convertToDouble();
  double betaFast = betaFastValue.convertToDouble();
  double betaSlow = betaSlowValue.convertToDouble();
  if (!(factor >= 1.0))
    return emitError() << "yarn factor must be >= 1, got " << factor;
  if (original <= 0)
    return emitError() << "yarn original context must be positive, got "
                       << original;
  if (!(betaFast > betaSlow) || !(betaSlow > 0.0))
    return emitError() << "yarn needs beta_fast > beta_slow > 0, got "
                       << betaFast << " and " << betaSlow;
  return success();
}
