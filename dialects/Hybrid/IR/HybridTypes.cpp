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
// Latent and rope key for one position: the shape lists the two lengths.
int64_t LatentCacheType::getBytes() const {
  return (getShape()[0] + getShape()[1]) * elementBytes(getElementType());
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
  double factor, betaFast, betaSlow, attentionFactor;
  int64_t original;
  StringRef truncate;
  llvm::SMLoc loc = parser.getCurrentLocation();
  auto key = [&](StringRef name) {
    return ParseResult(failure(parser.parseKeyword(name) || parser.parseEqual()));
  };
  if (parser.parseLess() || key("factor") || parser.parseFloat(factor) ||
      parser.parseComma() || key("original") || parser.parseInteger(original) ||
      parser.parseComma() || key("beta_fast") || parser.parseFloat(betaFast) ||
      parser.parseComma() || key("beta_slow") || parser.parseFloat(betaSlow) ||
      parser.parseComma() || key("attention_factor") ||
      parser.parseFloat(attentionFactor) || parser.parseComma() ||
      key("truncate") || parser.parseKeyword(&truncate) || parser.parseGreater())
    return {};
  if (truncate != "true" && truncate != "false") {
    parser.emitError(loc, "yarn truncate must be true or false");
    return {};
  }
  return YarnAttr::getChecked(
      [&] { return parser.emitError(loc); }, parser.getContext(),
      llvm::APFloat(factor), original, llvm::APFloat(betaFast),
      llvm::APFloat(betaSlow), llvm::APFloat(attentionFactor),
      truncate == "true");
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
  number("attention_factor", getAttentionFactor());
  printer << ", truncate = " << (getTruncate() ? "true" : "false") << '>';
}

LogicalResult YarnAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                               llvm::APFloat factorValue, int64_t original,
                               llvm::APFloat betaFastValue,
                               llvm::APFloat betaSlowValue,
                               llvm::APFloat attentionFactor, bool) {
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
  if (!(attentionFactor.convertToDouble() > 0.0))
    return emitError() << "yarn attention_factor must be positive";
  return success();
}
