//===- HybridOps.cpp - Hybrid dialect op verifiers --------------*- C++ -*-===//
//
// Every verifier names the operand or attribute that is wrong, what it is and
// what was expected, with the formula that the expectation comes from.
//
//===----------------------------------------------------------------------===//

#include "dialects/Hybrid/IR/HybridOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/FunctionInterfaces.h"
#include "llvm/ADT/STLExtras.h"

using namespace mlir;
using namespace hybrid;

namespace {
constexpr int64_t kAny = ShapedType::kDynamic;

std::string shapeString(ArrayRef<int64_t> shape) {
  std::string s = "[";
  llvm::raw_string_ostream os(s);
  llvm::interleaveComma(shape, os, [&](int64_t d) {
    if (d == kAny)
      os << "?";
    else
      os << d;
  });
  os << "]";
  return s;
}

/// Checks one tensor's shape. `expected` holds kAny where any size (static or
/// dynamic) is fine; `formula` explains where the expectation comes from.
LogicalResult checkShape(Operation *op, Value value, StringRef what,
                         ArrayRef<int64_t> expected, StringRef formula) {
  auto type = cast<RankedTensorType>(value.getType());
  bool ok = type.getRank() == static_cast<int64_t>(expected.size());
  for (auto [actual, want] : llvm::zip(type.getShape(), expected))
    ok &= want == kAny || actual == want;
  if (ok)
    return success();
  return op->emitOpError() << what << " has shape "
                           << shapeString(type.getShape()) << ", expected "
                           << shapeString(expected) << " (" << formula << ")";
}

/// Checks an optional tensor operand when it is present.
LogicalResult checkOptionalShape(Operation *op, Value value, StringRef what,
                                 ArrayRef<int64_t> expected, StringRef formula) {
  return value ? checkShape(op, value, what, expected, formula) : success();
}

/// The hidden size of an activation `[T, H]`; H must be static.
FailureOr<int64_t> hiddenSize(Operation *op, Value activation, StringRef what) {
  auto type = cast<RankedTensorType>(activation.getType());
  if (type.isDynamicDim(1))
    return op->emitOpError() << what << " must have a static hidden size, got "
                             << type;
  return type.getDimSize(1);
}

/// Result `[T, N]` must keep the token count of `input` and have `n` columns.
LogicalResult checkResult(Operation *op, Value input, int64_t n,
                          StringRef formula) {
  auto in = cast<RankedTensorType>(input.getType());
  return checkShape(op, op->getResult(0), "result", {in.getDimSize(0), n},
                    formula);
}

LogicalResult checkPositive(Operation *op,
                            ArrayRef<std::pair<StringRef, int64_t>> attrs) {
  for (auto [name, value] : attrs)
    if (value <= 0)
      return op->emitOpError() << name << " must be positive, got " << value;
  return success();
}

/// Epsilons of normalizations: zero would divide by zero on an all-zero row.
LogicalResult checkEpsilon(Operation *op, StringRef name, llvm::APFloat value) {
  if (value.convertToDouble() > 0.0)
    return success();
  return op->emitOpError() << name << " must be positive, got "
                           << value.convertToDouble();
}

/// A chunk size set by hybrid-tile-scans (or by hand) stays within
/// kMaxChunkSize.
LogicalResult checkChunkSize(Operation *op, std::optional<int64_t> chunk) {
  if (chunk && *chunk > kMaxChunkSize)
    return op->emitOpError() << "chunk_size must be at most " << kMaxChunkSize
                             << ", got " << *chunk;
  return success();
}

/// `positions` `[T]` must hold one position per token of `input` `[T, H]`.
LogicalResult checkTokenCount(Operation *op, Value input, Value other,
                              StringRef otherName) {
  int64_t tokens = cast<RankedTensorType>(input.getType()).getDimSize(0);
  int64_t otherTokens = cast<RankedTensorType>(other.getType()).getDimSize(0);
  if (tokens == kAny || otherTokens == kAny || tokens == otherTokens)
    return success();
  return op->emitOpError() << otherName << " has " << otherTokens
                           << " tokens but the input has " << tokens;
}

/// A state handle must have exactly the given shape.
LogicalResult checkStateShape(Operation *op, StringRef what,
                              ArrayRef<int64_t> actual,
                              ArrayRef<int64_t> expected, StringRef formula) {
  if (actual == expected)
    return success();
  return op->emitOpError() << what << " has shape " << shapeString(actual)
                           << ", expected " << shapeString(expected) << " ("
                           << formula << ")";
}
} // namespace

//===----------------------------------------------------------------------===//
// WeightOp / DequantizeOp
//===----------------------------------------------------------------------===//

std::string WeightOp::getTensorName(int64_t expert) {
  std::string name = getName().str();
  if (!getExperts())
    return name;
  size_t at = name.find("{e}");
  return name.substr(0, at) + std::to_string(expert) + name.substr(at + 3);
}

LogicalResult WeightOp::verify() {
  if (getName().empty())
    return emitOpError("tensor name must not be empty");
  bool hasPlaceholder = getName().contains("{e}");
  if (getName().find("{e}") != getName().rfind("{e}"))
    return emitOpError("name must contain '{e}' at most once");
  auto type = cast<RankedTensorType>(getType());
  if (std::optional<int64_t> experts = getExperts()) {
    if (*experts <= 0)
      return emitOpError() << "experts must be positive, got " << *experts;
    if (!hasPlaceholder)
      return emitOpError("name of a stacked expert weight must contain '{e}'");
    if (type.getRank() < 2 || type.getDimSize(0) != *experts)
      return emitOpError() << "stacked expert weight must have a leading "
                              "dimension of "
                           << *experts << ", got " << type;
  } else if (hasPlaceholder) {
    return emitOpError("name contains '{e}' but experts(N) is not set");
  }
  if (std::optional<int64_t> packed = getPacked()) {
    if (*packed > kMaxPanel)
      return emitOpError() << "packed panel must be at most " << kMaxPanel
                           << ", got " << *packed;
    // [panels, K, panel] (pairs: [panels, ceil(K / 2), 2 * panel]), behind
    // the expert dimension when stacked.
    int64_t rank = getExperts() ? 4 : 3;
    int64_t row = getPairs() ? 2 * *packed : *packed;
    if (type.getRank() != rank || type.getDimSize(rank - 1) != row)
      return emitOpError() << "packed(" << *packed << ")"
                           << (getPairs() ? " pairs" : "") << " weight must be "
                           << (getExperts() ? "[experts, panels, " : "[panels, ")
                           << (getPairs() ? "ceil(K / 2), " : "K, ") << row
                           << "], got " << type;
  } else if (getPairs()) {
    return emitOpError("pairs needs packed(NR)");
  }
  return success();
}

LogicalResult DequantizeOp::verify() {
  auto q = cast<RankedTensorType>(getQuantized().getType());
  auto s = cast<RankedTensorType>(getScaleInv().getType());
  if (!isa<Float8E4M3FNType>(q.getElementType()))
    return emitOpError() << "quantized operand must have element type "
                            "f8E4M3FN, got "
                         << q.getElementType();
  if (!s.getElementType().isF32())
    return emitOpError() << "scale_inv must have element type f32, got "
                         << s.getElementType();
  ArrayRef<int64_t> block = getBlock();
  if (block.size() != 2 || block[0] <= 0 || block[1] <= 0)
    return emitOpError("block must be two positive sizes");
  if (q.getRank() < 2)
    return emitOpError("quantized operand must have rank >= 2");
  SmallVector<int64_t> expected(q.getShape());
  int64_t r = q.getRank();
  for (int64_t i : {r - 2, r - 1})
    if (!q.isDynamicDim(i))
      expected[i] = llvm::divideCeil(q.getDimSize(i), block[i - (r - 2)]);
  Type resultElement = getResult().getType().getElementType();
  if (!resultElement.isF32() && !resultElement.isBF16() && !resultElement.isF16())
    return emitOpError() << "result must have element type bf16, f16 or f32, "
                            "got "
                         << resultElement;
  if (failed(checkShape(*this, getScaleInv(), "scale_inv", expected,
                        "ceil of the last two dimensions by the block")))
    return failure();
  return checkShape(*this, getResult(), "result", q.getShape(),
                    "the quantized shape");
}

//===----------------------------------------------------------------------===//
// EmbedOp / RMSNormOp / SelectRowsOp / LMHeadOp
//===----------------------------------------------------------------------===//

LogicalResult EmbedOp::verify() {
  auto table = cast<RankedTensorType>(getTable().getType());
  if (table.getRank() != 2)
    return emitOpError() << "table must be [vocab, hidden], got " << table;
  int64_t tokens = cast<RankedTensorType>(getTokens().getType()).getDimSize(0);
  return checkShape(*this, getResult(), "result", {tokens, table.getDimSize(1)},
                    "[tokens, hidden]");
}

LogicalResult RMSNormOp::verify() {
  auto input = cast<RankedTensorType>(getInput().getType());
  if (input.getRank() < 1 || input.isDynamicDim(input.getRank() - 1))
    return emitOpError() << "input must have a static last dimension, got "
                         << input;
  int64_t dim = input.getDimSize(input.getRank() - 1);
  if (failed(checkShape(*this, getWeight(), "weight", {dim},
                        "[last dimension of the input]")))
    return failure();
  bool gated = getKind() == NormKind::gated;
  if (gated != static_cast<bool>(getGate()))
    return emitOpError("takes a gate operand if and only if kind is gated");
  if (getGate() && failed(checkShape(*this, getGate(), "gate",
                                     input.getShape(), "the input shape")))
    return failure();
  if (failed(checkEpsilon(*this, "epsilon", getEpsilon())))
    return failure();
  Type resultElement = getResult().getType().getElementType();
  if (resultElement != input.getElementType())
    return emitOpError() << "result element type " << resultElement
                         << " differs from the input's "
                         << input.getElementType();
  return checkShape(*this, getResult(), "result", input.getShape(),
                    "the input shape");
}

LogicalResult SelectRowsOp::verify() {
  FailureOr<int64_t> hidden = hiddenSize(*this, getInput(), "input");
  if (failed(hidden))
    return failure();
  int64_t rows = cast<RankedTensorType>(getRows().getType()).getDimSize(0);
  return checkShape(*this, getResult(), "result", {rows, *hidden},
                    "[rows, hidden]");
}

LogicalResult LMHeadOp::verify() {
  FailureOr<int64_t> hidden = hiddenSize(*this, getInput(), "input");
  if (failed(hidden))
    return failure();
  if (failed(checkShape(*this, getWeight(), "weight", {kAny, *hidden},
                        "[vocab, hidden]")))
    return failure();
  int64_t vocab = cast<RankedTensorType>(getWeight().getType()).getDimSize(0);
  return checkResult(*this, getInput(), vocab, "[tokens, vocab]");
}

//===----------------------------------------------------------------------===//
// MLPOp / MoEOp
//===----------------------------------------------------------------------===//

LogicalResult MLPOp::verify() {
  FailureOr<int64_t> hidden = hiddenSize(*this, getInput(), "input");
  if (failed(hidden))
    return failure();
  auto gate = cast<RankedTensorType>(getGateProj().getType());
  if (failed(checkShape(*this, getGateProj(), "gate_proj", {kAny, *hidden},
                        "[intermediate, hidden]")))
    return failure();
  int64_t inter = gate.getDimSize(0);
  if (failed(checkShape(*this, getUpProj(), "up_proj", {inter, *hidden},
                        "[intermediate, hidden]")) ||
      failed(checkShape(*this, getDownProj(), "down_proj", {*hidden, inter},
                        "[hidden, intermediate]")))
    return failure();
  return checkResult(*this, getInput(), *hidden, "[tokens, hidden]");
}

/// The routing attributes of hybrid.moe and hybrid.moe_route.
static LogicalResult checkRouting(Operation *op, int64_t e, int64_t k, int64_t groups,
                           int64_t keptGroups, double scaling) {
  if (failed(checkPositive(op, {{"num_experts", e},
                               {"top_k", k},
                               {"n_group", groups},
                               {"topk_group", keptGroups}})))
    return failure();
  if (k > e)
    return op->emitOpError() << "top_k (" << k << ") exceeds num_experts ("
                             << e << ")";
  if (e % groups != 0)
    return op->emitOpError() << "n_group (" << groups
                             << ") must divide num_experts (" << e << ")";
  if (keptGroups > groups)
    return op->emitOpError() << "topk_group (" << keptGroups
                             << ") exceeds n_group (" << groups << ")";
  if (groups > 1 && e / groups < 2)
    return op->emitOpError("group-limited routing needs at least 2 experts "
                           "per group (a group scores by its top-2)");
  if (k > keptGroups * (e / groups))
    return op->emitOpError() << "top_k (" << k << ") exceeds the "
                             << keptGroups * (e / groups)
                             << " experts of the kept groups";
  if (!(scaling > 0.0))
    return op->emitOpError("routed_scaling_factor must be positive");
  return success();
}

/// Stacked expert weights: gate and up [E, I, H], down [E, H, I].
static LogicalResult checkExperts(Operation *op, Value gate, Value up, Value down,
                           int64_t e, int64_t hidden) {
  if (failed(checkShape(op, gate, "experts_gate", {e, kAny, hidden},
                        "[num_experts, intermediate, hidden]")))
    return failure();
  int64_t inter = cast<RankedTensorType>(gate.getType()).getDimSize(1);
  if (failed(checkShape(op, up, "experts_up", {e, inter, hidden},
                        "[num_experts, intermediate, hidden]")) ||
      failed(checkShape(op, down, "experts_down", {e, hidden, inter},
                        "[num_experts, hidden, intermediate]")))
    return failure();
  return success();
}

LogicalResult MoEOp::verify() {
  FailureOr<int64_t> hidden = hiddenSize(*this, getInput(), "input");
  if (failed(hidden))
    return failure();
  int64_t e = getNumExperts();
  if (failed(checkRouting(*this, e, getTopK(), getNGroup(), getTopkGroup(),
                          getRoutedScalingFactor().convertToDouble())))
    return failure();

  if (failed(checkShape(*this, getRouter(), "router", {e, *hidden},
                        "[num_experts, hidden]")) ||
      failed(checkExperts(*this, getExpertsGate(), getExpertsUp(),
                          getExpertsDown(), e, *hidden)) ||
      failed(checkOptionalShape(*this, getSelectionBias(), "selection_bias",
                                {e}, "[num_experts]")))
    return failure();

  unsigned shared = static_cast<bool>(getSharedGate()) +
                    static_cast<bool>(getSharedUp()) +
                    static_cast<bool>(getSharedDown());
  if (shared != 0 && shared != 3)
    return emitOpError("shared_gate, shared_up and shared_down must be given "
                       "together");
  if (getSharedExpertGate() && shared == 0)
    return emitOpError("shared_expert_gate needs shared expert weights");
  if (shared) {
    if (failed(checkShape(*this, getSharedGate(), "shared_gate",
                          {kAny, *hidden}, "[shared intermediate, hidden]")))
      return failure();
    int64_t sharedInter =
        cast<RankedTensorType>(getSharedGate().getType()).getDimSize(0);
    if (failed(checkShape(*this, getSharedUp(), "shared_up",
                          {sharedInter, *hidden},
                          "[shared intermediate, hidden]")) ||
        failed(checkShape(*this, getSharedDown(), "shared_down",
                          {*hidden, sharedInter},
                          "[hidden, shared intermediate]")) ||
        failed(checkOptionalShape(*this, getSharedExpertGate(),
                                  "shared_expert_gate", {1, *hidden},
                                  "[1, hidden]")))
      return failure();
  }
  return checkResult(*this, getInput(), *hidden, "[tokens, hidden]");
}

LogicalResult MoERouteOp::verify() {
  FailureOr<int64_t> hidden = hiddenSize(*this, getInput(), "input");
  if (failed(hidden))
    return failure();
  auto router = cast<RankedTensorType>(getRouter().getType());
  if (router.getRank() != 2 || router.isDynamicDim(0))
    return emitOpError() << "router must be [num_experts, hidden] with a "
                            "static expert count, got "
                         << router;
  int64_t e = router.getDimSize(0), k = getTopK();
  if (failed(checkRouting(*this, e, k, getNGroup(), getTopkGroup(),
                          getRoutedScalingFactor().convertToDouble())) ||
      failed(checkShape(*this, getRouter(), "router", {e, *hidden},
                        "[num_experts, hidden]")) ||
      failed(checkOptionalShape(*this, getSelectionBias(), "selection_bias",
                                {e}, "[num_experts]")))
    return failure();
  int64_t tokens = cast<RankedTensorType>(getInput().getType()).getDimSize(0);
  if (failed(checkShape(*this, getExperts(), "experts", {tokens, k},
                        "[tokens, top_k]")) ||
      failed(checkShape(*this, getWeights(), "weights", {tokens, k},
                        "[tokens, top_k]")))
    return failure();
  return success();
}

LogicalResult MoEExpertsOp::verify() {
  FailureOr<int64_t> hidden = hiddenSize(*this, getInput(), "input");
  if (failed(hidden))
    return failure();
  auto gate = cast<RankedTensorType>(getExpertsGate().getType());
  if (gate.getRank() != 3 || gate.isDynamicDim(0))
    return emitOpError() << "experts_gate must be [num_experts, "
                            "intermediate, hidden] with a static expert "
                            "count, got "
                         << gate;
  int64_t tokens = cast<RankedTensorType>(getInput().getType()).getDimSize(0);
  auto routed = cast<RankedTensorType>(getExperts().getType());
  if (failed(checkExperts(*this, getExpertsGate(), getExpertsUp(),
                          getExpertsDown(), gate.getDimSize(0), *hidden)) ||
      failed(checkShape(*this, getExperts(), "experts",
                        {tokens, routed.getDimSize(1)}, "[tokens, top_k]")) ||
      failed(checkShape(*this, getWeights(), "weights",
                        {tokens, routed.getDimSize(1)}, "[tokens, top_k]")) ||
      failed(checkOptionalShape(*this, getShared(), "shared",
                                {tokens, *hidden}, "[tokens, hidden]")) ||
      failed(checkOptionalShape(*this, getSharedExpertGate(),
                                "shared_expert_gate", {1, *hidden},
                                "[1, hidden]")))
    return failure();
  if (getSharedExpertGate() && !getShared())
    return emitOpError("shared_expert_gate needs a shared expert output");
  return checkResult(*this, getInput(), *hidden, "[tokens, hidden]");
}

//===----------------------------------------------------------------------===//
// AttentionOp / MLAOp
//===----------------------------------------------------------------------===//

LogicalResult AttentionOp::verify() {
  FailureOr<int64_t> hidden = hiddenSize(*this, getInput(), "input");
  if (failed(hidden))
    return failure();
  int64_t heads = getNumHeads(), kvHeads = getNumKvHeads(), dim = getHeadDim();
  if (failed(checkPositive(
          *this, {{"num_heads", heads}, {"num_kv_heads", kvHeads}, {"head_dim", dim}})))
    return failure();
  if (heads % kvHeads != 0)
    return emitOpError() << "num_kv_heads (" << kvHeads
                         << ") must divide num_heads (" << heads << ")";
  int64_t rotary = getRotaryDim();
  if (rotary < 0 || rotary > dim || rotary % 2 != 0)
    return emitOpError() << "rotary_dim must be even and within [0, head_dim = "
                         << dim << "], got " << rotary;
  if (rotary > 0 && !(getRopeTheta().convertToDouble() > 0.0))
    return emitOpError("rope_theta must be positive");
  if (rotary == 0 && getYarn())
    return emitOpError("yarn scales the rotary embedding, but rotary_dim is 0");
  if (!(getScale().convertToDouble() > 0.0))
    return emitOpError("scale must be positive");
  if (failed(checkTokenCount(*this, getInput(), getPositions(), "positions")))
    return failure();

  int64_t qRows = heads * dim * (getOutputGate() ? 2 : 1);
  if (failed(checkShape(*this, getQProj(), "q_proj", {qRows, *hidden},
                        getOutputGate()
                            ? "[2 * num_heads * head_dim (query and gate), hidden]"
                            : "[num_heads * head_dim, hidden]")) ||
      failed(checkShape(*this, getKProj(), "k_proj", {kvHeads * dim, *hidden},
                        "[num_kv_heads * head_dim, hidden]")) ||
      failed(checkShape(*this, getVProj(), "v_proj", {kvHeads * dim, *hidden},
                        "[num_kv_heads * head_dim, hidden]")) ||
      failed(checkShape(*this, getOProj(), "o_proj", {*hidden, heads * dim},
                        "[hidden, num_heads * head_dim]")))
    return failure();

  if (static_cast<bool>(getQNorm()) != static_cast<bool>(getKNorm()))
    return emitOpError("q_norm and k_norm must be given together");
  if (static_cast<bool>(getQNorm()) != getQkNorm().has_value() ||
      static_cast<bool>(getQNorm()) != getNormEpsilon().has_value())
    return emitOpError("qk_norm and norm_epsilon must be set if and only if "
                       "q_norm/k_norm are given");
  if (getQkNorm() == NormKind::gated)
    return emitOpError("qk_norm cannot be gated");
  if (std::optional<llvm::APFloat> epsilon = getNormEpsilon())
    if (failed(checkEpsilon(*this, "norm_epsilon", *epsilon)))
      return failure();
  if (failed(checkOptionalShape(*this, getQNorm(), "q_norm", {dim},
                                "[head_dim]")) ||
      failed(checkOptionalShape(*this, getKNorm(), "k_norm", {dim},
                                "[head_dim]")))
    return failure();

  auto cache = cast<KVCacheType>(getCache().getType());
  if (failed(checkStateShape(*this, "cache", cache.getShape(), {kvHeads, dim},
                             "[num_kv_heads, head_dim]")))
    return failure();
  return checkResult(*this, getInput(), *hidden, "[tokens, hidden]");
}

LogicalResult MLAOp::verify() {
  FailureOr<int64_t> hidden = hiddenSize(*this, getInput(), "input");
  if (failed(hidden))
    return failure();
  int64_t heads = getNumHeads(), qRank = getQLoraRank(),
          kvRank = getKvLoraRank(), nope = getQkNopeHeadDim(),
          rope = getQkRopeHeadDim(), v = getVHeadDim();
  if (failed(checkPositive(*this, {{"num_heads", heads},
                                   {"kv_lora_rank", kvRank},
                                   {"qk_nope_head_dim", nope},
                                   {"qk_rope_head_dim", rope},
                                   {"v_head_dim", v}})))
    return failure();
  if (qRank < 0)
    return emitOpError() << "q_lora_rank must be >= 0, got " << qRank;
  if (rope % 2 != 0)
    return emitOpError() << "qk_rope_head_dim must be even, got " << rope;
  if (!(getRopeTheta().convertToDouble() > 0.0))
    return emitOpError("rope_theta must be positive");
  if (!(getScale().convertToDouble() > 0.0))
    return emitOpError("scale must be positive");
  if (failed(checkEpsilon(*this, "norm_epsilon", getNormEpsilon())) ||
      failed(checkTokenCount(*this, getInput(), getPositions(), "positions")))
    return failure();

  int64_t qk = nope + rope;
  bool lora = getQAProj() || getQALayernorm() || getQBProj();
  if (qRank > 0) {
    if (!getQAProj() || !getQALayernorm() || !getQBProj() || getQProj())
      return emitOpError("with q_lora_rank > 0, q_a_proj, q_a_layernorm and "
                         "q_b_proj are required and q_proj is not allowed");
    if (failed(checkShape(*this, getQAProj(), "q_a_proj", {qRank, *hidden},
                          "[q_lora_rank, hidden]")) ||
        failed(checkShape(*this, getQALayernorm(), "q_a_layernorm", {qRank},
                          "[q_lora_rank]")) ||
        failed(checkShape(*this, getQBProj(), "q_b_proj", {heads * qk, qRank},
                          "[num_heads * (qk_nope_head_dim + qk_rope_head_dim), "
                          "q_lora_rank]")))
      return failure();
  } else {
    if (lora || !getQProj())
      return emitOpError("with q_lora_rank = 0, q_proj is required and the "
                         "q LoRA weights are not allowed");
    if (failed(checkShape(*this, getQProj(), "q_proj", {heads * qk, *hidden},
                          "[num_heads * (qk_nope_head_dim + qk_rope_head_dim), "
                          "hidden]")))
      return failure();
  }
  if (failed(checkShape(*this, getKvAProjWithMqa(), "kv_a_proj_with_mqa",
                        {kvRank + rope, *hidden},
                        "[kv_lora_rank + qk_rope_head_dim, hidden]")) ||
      failed(checkShape(*this, getKvALayernorm(), "kv_a_layernorm", {kvRank},
                        "[kv_lora_rank]")) ||
      failed(checkShape(*this, getKvBProj(), "kv_b_proj",
                        {heads * (nope + v), kvRank},
                        "[num_heads * (qk_nope_head_dim + v_head_dim), "
                        "kv_lora_rank]")) ||
      failed(checkShape(*this, getOProj(), "o_proj", {*hidden, heads * v},
                        "[hidden, num_heads * v_head_dim]")))
    return failure();
  auto cache = cast<LatentCacheType>(getCache().getType());
  if (failed(checkStateShape(*this, "cache", cache.getShape(), {kvRank, rope},
                             "[kv_lora_rank, qk_rope_head_dim]")))
    return failure();
  return checkResult(*this, getInput(), *hidden, "[tokens, hidden]");
}

//===----------------------------------------------------------------------===//
// GatedDeltaNetOp / MambaOp
//===----------------------------------------------------------------------===//

namespace {
LogicalResult checkF32State(Operation *op, StringRef what, Type elementType) {
  if (elementType.isF32())
    return success();
  return op->emitOpError() << what << " must be f32, got " << elementType;
}
} // namespace

LogicalResult GatedDeltaNetOp::verify() {
  FailureOr<int64_t> hidden = hiddenSize(*this, getInput(), "input");
  if (failed(hidden))
    return failure();
  int64_t hk = getNumKHeads(), hv = getNumVHeads(), dk = getKHeadDim(),
          dv = getVHeadDim(), kernel = getConvKernel();
  if (failed(checkPositive(*this, {{"num_k_heads", hk},
                                   {"num_v_heads", hv},
                                   {"k_head_dim", dk},
                                   {"v_head_dim", dv}})))
    return failure();
  if (hv % hk != 0)
    return emitOpError() << "num_k_heads (" << hk
                         << ") must divide num_v_heads (" << hv << ")";
  if (kernel < 2)
    return emitOpError() << "conv_kernel must be at least 2, got " << kernel;
  if (failed(checkEpsilon(*this, "norm_epsilon", getNormEpsilon())) ||
      failed(checkChunkSize(*this, getChunkSize())))
    return failure();
  int64_t convDim = 2 * hk * dk + hv * dv;
  if (failed(checkShape(*this, getInProjQkvz(), "in_proj_qkvz",
                        {2 * hk * dk + 2 * hv * dv, *hidden},
                        "[2 * num_k_heads * k_head_dim + 2 * num_v_heads * "
                        "v_head_dim, hidden]")) ||
      failed(checkShape(*this, getInProjBa(), "in_proj_ba", {2 * hv, *hidden},
                        "[2 * num_v_heads, hidden]")) ||
      failed(checkShape(*this, getConv1d(), "conv1d", {convDim, 1, kernel},
                        "[2 * num_k_heads * k_head_dim + num_v_heads * "
                        "v_head_dim, 1, conv_kernel]")) ||
      failed(checkShape(*this, getDtBias(), "dt_bias", {hv}, "[num_v_heads]")) ||
      failed(checkShape(*this, getALog(), "a_log", {hv}, "[num_v_heads]")) ||
      failed(checkShape(*this, getNorm(), "norm", {dv}, "[v_head_dim]")) ||
      failed(checkShape(*this, getOutProj(), "out_proj", {*hidden, hv * dv},
                        "[hidden, num_v_heads * v_head_dim]")))
    return failure();
  auto conv = cast<ConvStateType>(getConvState().getType());
  auto rec = cast<RecurrentStateType>(getRecurrentState().getType());
  if (failed(checkStateShape(*this, "conv_state", conv.getShape(),
                             {convDim, kernel - 1},
                             "[conv channels, conv_kernel - 1]")) ||
      failed(checkStateShape(*this, "recurrent_state", rec.getShape(),
                             {hv, dk, dv},
                             "[num_v_heads, k_head_dim, v_head_dim]")) ||
      failed(checkF32State(*this, "recurrent_state", rec.getElementType())))
    return failure();
  return checkResult(*this, getInput(), *hidden, "[tokens, hidden]");
}

LogicalResult MambaOp::verify() {
  FailureOr<int64_t> hidden = hiddenSize(*this, getInput(), "input");
  if (failed(hidden))
    return failure();
  int64_t d = getDInner(), n = getDState(), kernel = getDConv(),
          r = getDtRank();
  if (failed(checkPositive(
          *this, {{"d_inner", d}, {"d_state", n}, {"dt_rank", r}})))
    return failure();
  if (kernel < 2)
    return emitOpError() << "d_conv must be at least 2, got " << kernel;
  if (failed(checkEpsilon(*this, "norm_epsilon", getNormEpsilon())) ||
      failed(checkChunkSize(*this, getChunkSize())))
    return failure();
  if (failed(checkShape(*this, getInProj(), "in_proj", {2 * d, *hidden},
                        "[2 * d_inner, hidden]")) ||
      failed(checkOptionalShape(*this, getInProjBias(), "in_proj_bias",
                                {2 * d}, "[2 * d_inner]")) ||
      failed(checkShape(*this, getConv1d(), "conv1d", {d, 1, kernel},
                        "[d_inner, 1, d_conv]")) ||
      failed(checkOptionalShape(*this, getConv1dBias(), "conv1d_bias", {d},
                                "[d_inner]")) ||
      failed(checkShape(*this, getXProj(), "x_proj", {r + 2 * n, d},
                        "[dt_rank + 2 * d_state, d_inner]")) ||
      failed(checkShape(*this, getDtProj(), "dt_proj", {d, r},
                        "[d_inner, dt_rank]")) ||
      failed(checkShape(*this, getDtProjBias(), "dt_proj_bias", {d},
                        "[d_inner]")) ||
      failed(checkShape(*this, getALog(), "a_log", {d, n},
                        "[d_inner, d_state]")) ||
      failed(checkShape(*this, getD(), "d", {d}, "[d_inner]")) ||
      failed(checkShape(*this, getOutProj(), "out_proj", {*hidden, d},
                        "[hidden, d_inner]")) ||
      failed(checkOptionalShape(*this, getOutProjBias(), "out_proj_bias",
                                {*hidden}, "[hidden]")))
    return failure();
  unsigned norms = static_cast<bool>(getDtLayernorm()) +
                   static_cast<bool>(getBLayernorm()) +
                   static_cast<bool>(getCLayernorm());
  if (norms != 0 && norms != 3)
    return emitOpError("dt_layernorm, b_layernorm and c_layernorm must be "
                       "given together");
  if (failed(checkOptionalShape(*this, getDtLayernorm(), "dt_layernorm", {r},
                                "[dt_rank]")) ||
      failed(checkOptionalShape(*this, getBLayernorm(), "b_layernorm", {n},
                                "[d_state]")) ||
      failed(checkOptionalShape(*this, getCLayernorm(), "c_layernorm", {n},
                                "[d_state]")))
    return failure();
  auto conv = cast<ConvStateType>(getConvState().getType());
  auto ssm = cast<RecurrentStateType>(getSsmState().getType());
  if (failed(checkStateShape(*this, "conv_state", conv.getShape(),
                             {d, kernel - 1}, "[d_inner, d_conv - 1]")) ||
      failed(checkStateShape(*this, "ssm_state", ssm.getShape(), {d, n},
                             "[d_inner, d_state]")) ||
      failed(checkF32State(*this, "ssm_state", ssm.getElementType())))
    return failure();
  return checkResult(*this, getInput(), *hidden, "[tokens, hidden]");
}

//===----------------------------------------------------------------------===//
// MTPOp
//===----------------------------------------------------------------------===//

LogicalResult MTPOp::verify() {
  FailureOr<int64_t> hidden = hiddenSize(*this, getHidden(), "hidden");
  if (failed(hidden))
    return failure();
  if (getKind() == NormKind::gated)
    return emitOpError("kind cannot be gated");
  if (failed(checkEpsilon(*this, "epsilon", getEpsilon())))
    return failure();
  int64_t tokens = cast<RankedTensorType>(getHidden().getType()).getDimSize(0);
  if (failed(checkShape(*this, getEmbedded(), "embedded", {tokens, *hidden},
                        "[tokens of hidden, hidden]")) ||
      failed(checkShape(*this, getEnorm(), "enorm", {*hidden}, "[hidden]")) ||
      failed(checkShape(*this, getHnorm(), "hnorm", {*hidden}, "[hidden]")) ||
      failed(checkShape(*this, getEhProj(), "eh_proj", {*hidden, 2 * *hidden},
                        "[hidden, 2 * hidden]")))
    return failure();
  return checkResult(*this, getHidden(), *hidden, "[tokens, hidden]");
}

//===----------------------------------------------------------------------===//
// DispatchOp
//===----------------------------------------------------------------------===//

LogicalResult DispatchOp::verifySymbolUses(SymbolTableCollection &symbols) {
  SymbolRefAttr name = getCallee();
  bool onGPU = !name.getNestedReferences().empty();
  Operation *callee = symbols.lookupNearestSymbolFrom(*this, name);
  if (!callee && onGPU) {
    // A kernel of a GPU module compiled to a binary, which is no longer a
    // symbol table.
    Operation *container = symbols.lookupNearestSymbolFrom(
        *this, FlatSymbolRefAttr::get(name.getRootReference()));
    if (container && !container->hasTrait<OpTrait::SymbolTable>())
      return success();
  }
  if (!callee)
    return emitOpError() << "kernel " << name << " does not exist";
  // Once lowered to the LLVM dialect the kernel's signature is expanded;
  // only a kernel with a builtin function type is checked.
  auto kernel = dyn_cast<FunctionOpInterface>(callee);
  if (!kernel || !isa<FunctionType>(kernel.getFunctionType()))
    return success();
  auto type = cast<FunctionType>(kernel.getFunctionType());
  // A CPU kernel runs a range of workgroups, a GPU kernel is told the count.
  SmallVector<Type> expected(onGPU ? 1 : 2, IndexType::get(getContext()));
  llvm::append_range(expected, getKernelOperands().getTypes());
  if (type.getInputs() != ArrayRef<Type>(expected) || type.getNumResults() != 0)
    return emitOpError() << "kernel " << name << " has type " << type
                         << ", expected ("
                         << (onGPU ? "index" : "index, index")
                         << ", operand types) -> ()";
  return success();
}

LogicalResult WarpgroupMmaOp::inferReturnTypes(
    MLIRContext *, std::optional<Location>, ValueRange operands,
    DictionaryAttr, OpaqueProperties, RegionRange,
    SmallVectorImpl<Type> &inferred) {
  // Operands: a, a_row, a_column, b, b_row, b_column, warp, accumulators.
  constexpr size_t kAccumulators = 7;
  if (operands.size() < kAccumulators)
    return failure();
  llvm::append_range(inferred, operands.drop_front(kAccumulators).getTypes());
  return success();
}

LogicalResult WarpgroupMmaOp::verify() {
  // Core matrices: 8x8 elements, contiguous (the last two dimensions
  // static, unit-strided rows of 8) and 16-byte aligned on a GPU.
  for (auto [name, value] : {std::pair<StringRef, Value>{"A", getA()},
                             {"B", getB()}}) {
    auto type = cast<MemRefType>(value.getType());
    SmallVector<int64_t> strides;
    int64_t offset;
    if (type.getDimSize(2) != 8 || type.getDimSize(3) != 8 ||
        failed(type.getStridesAndOffset(strides, offset)) ||
        strides[3] != 1 || strides[2] != 8 ||
        ShapedType::isDynamic(strides[0]) || ShapedType::isDynamic(strides[1]))
      return emitOpError() << name
                           << " must be core matrices [*, *, 8, 8] with "
                              "contiguous 8x8 matrices and static strides, got "
                           << type;
  }
  size_t tiles = getAccumulators().size();
  if (tiles == 0 || tiles > 32)
    return emitOpError() << "expected 1 to 32 accumulator tiles (N = 8 to "
                            "256), got "
                         << tiles;
  auto tile = VectorType::get({16, 8}, Float32Type::get(getContext()));
  for (Type type : getAccumulators().getTypes())
    if (type != tile)
      return emitOpError() << "accumulator tiles must be " << tile << ", got "
                           << type;
  if (getResults().getTypes() != getAccumulators().getTypes())
    return emitOpError() << "results must match the accumulators";
  return success();
}

#define GET_OP_CLASSES
#include "dialects/Hybrid/IR/HybridOps.cpp.inc"
