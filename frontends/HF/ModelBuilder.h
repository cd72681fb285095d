//===- ModelBuilder.h - Shared pieces of the family importers ---*- C++ -*-===//
//
// The family importers (QwenNext.cpp, Jamba.cpp, DeepSeekV3.cpp, Llama.cpp)
// read their config keys and describe their layers with these helpers. Each
// helper creates the `hybrid.weight` ops with the shapes the config implies:
// this is the one place tensor names and shapes come from; the checkpoint
// check and the report both read them back from the IR.
//
//===----------------------------------------------------------------------===//

#ifndef HYBRIDC_FRONTENDS_HF_MODELBUILDER_H
#define HYBRIDC_FRONTENDS_HF_MODELBUILDER_H

#include "dialects/Hybrid/IR/HybridOps.h"
#include "frontends/HF/Config.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"

#include <functional>

namespace hybrid::hf {

/// Routing of a sparse MoE block, as the family's config describes it.
struct MoESpec {
  int64_t numExperts = 0, topK = 0, intermediate = 0;
  RouterScoring scoring = RouterScoring::softmax;
  bool normTopkProb = true;
  double routedScalingFactor = 1.0;
  int64_t nGroup = 1, topkGroup = 1;
  bool selectionBias = false;      // DeepSeek's e_score_correction_bias
  int64_t sharedIntermediate = 0;  // 0: no shared expert
  bool sharedExpertGate = false;   // Qwen's sigmoid gate on the shared expert
  // Tensor names relative to the block prefix.
  std::string router = "gate", experts = "experts", shared = "shared_expert";
  std::string gateProj = "gate_proj", upProj = "up_proj", downProj = "down_proj";
};

/// Rotary embedding of an attention op.
struct RopeSpec {
  int64_t rotaryDim = 0; // 0: none
  double theta = 10000.0;
  RopeStyle style = RopeStyle::half;
  bool hasYarn = false;
  double yarnFactor = 1.0, yarnBetaFast = 32.0, yarnBetaSlow = 1.0;
  double yarnAttentionFactor = 1.0;
  int64_t yarnOriginal = 0;
  bool yarnTruncate = true;
  double softmaxScaleFactor = 1.0; // YaRN mscale^2 (DeepSeek), else 1
  /// The #hybrid.yarn attribute, or null without YaRN.
  YarnAttr yarnAttr(mlir::MLIRContext *context) const;
};

/// A grouped-query attention layer.
struct AttentionSpec {
  int64_t heads = 0, kvHeads = 0, headDim = 0;
  RopeSpec rope;
  bool outputGate = false; // Qwen3-Next: q_proj also yields a sigmoid gate
  bool qkNorm = false;     // per-head RMSNorm of q and k (the model's kind)
};

/// Reads the rope settings of a config in either spelling: transformers 5's
/// `rope_parameters` or the older `rope_theta` / `rope_scaling` /
/// `partial_rotary_factor` keys. `rotaryDim` is set from `headDim` and the
/// partial rotary factor; `headDimKey` is the field an odd rotary dimension
/// is blamed on when the file gives no partial_rotary_factor.
RopeSpec readRope(Config &config, int64_t headDim, llvm::StringRef headDimKey,
                  double defaultTheta, double defaultPartialFactor);

/// The element type a config's `dtype` / `torch_dtype` names.
mlir::Type readDType(Config &config, mlir::MLIRContext *context);

class ModelBuilder {
public:
  ModelBuilder(mlir::MLIRContext *context, Config &config,
               llvm::StringRef modelType, mlir::Type stateElementType);

  mlir::MLIRContext *context;
  Config &config;
  mlir::OpBuilder b;
  mlir::OwningOpRef<mlir::ModuleOp> module;
  mlir::Type weightType; // element type of weights before the checkpoint check
  mlir::Type stateType;  // element type of KV caches and conv windows
  /// DeepSeek's fp8 block quantization of the linear layers, when configured.
  std::optional<std::array<int64_t, 2>> fp8Block;
  int64_t hidden = 0;
  NormKind normKind = NormKind::plain;
  double normEpsilon = 1e-6;

  /// Reads `rms_norm_eps` (default 1e-6) into `normEpsilon`; it must be
  /// positive.
  void readNormEpsilon();

  mlir::RankedTensorType activation(int64_t columns = 0);
  mlir::Location loc(const llvm::Twine &scope);

  /// Starts a function taking `inputs`; state handles are appended as
  /// arguments by `state()`. Finish it with `finishFunction`.
  void beginFunction(llvm::StringRef name, llvm::ArrayRef<mlir::Type> inputs);
  mlir::Value argument(unsigned index);
  void finishFunction(mlir::ValueRange results);

  /// False (and a config error recorded) when `shape` is not a real
  /// model's: non-positive or with an element count that would overflow.
  bool plausible(const llvm::Twine &name, llvm::ArrayRef<int64_t> shape);
  /// The product of config sizes, e.g. heads x head_dim; 1 (and a config
  /// error recorded) when it exceeds any real model's, so that no later
  /// arithmetic on it can overflow. `what` names the factors for the error.
  int64_t size(const llvm::Twine &what, std::initializer_list<int64_t> factors);
  /// A checkpoint tensor by full name.
  mlir::Value weight(const llvm::Twine &name, llvm::ArrayRef<int64_t> shape);
  /// `<module>.weight` of a linear layer `[out, in]`; fp8 + scale_inv +
  /// dequantize when the model is block-quantized and `quantizable`.
  mlir::Value linear(const llvm::Twine &module, int64_t out, int64_t in,
                     bool quantizable = true);
  /// Per-expert tensors `<prefix>.{e}.<suffix>` stacked to `[n, out, in]`.
  mlir::Value experts(const llvm::Twine &prefix, llvm::StringRef suffix,
                      int64_t n, int64_t out, int64_t in);
  /// A new state argument of the current function, named for the state table.
  mlir::Value state(mlir::Type type, const llvm::Twine &name);

  mlir::Value add(mlir::Value a, mlir::Value b);
  mlir::Value rmsNorm(mlir::Value x, const llvm::Twine &weightName,
                      int64_t size = 0);
  mlir::Value mlp(const llvm::Twine &prefix, mlir::Value x,
                  int64_t intermediate);
  mlir::Value moe(const llvm::Twine &prefix, mlir::Value x,
                  const MoESpec &spec);
  /// `<prefix>.{q,k,v,o}_proj` attention with its KV cache state.
  mlir::Value attention(const llvm::Twine &prefix, mlir::Value x,
                        const AttentionSpec &spec);
  /// Token positions of the function being built.
  mlir::Value positions;

  /// Builds `hybrid.<op>` with `operands` (null entries are absent optional
  /// operands) and `attributes`. `segments` adds operandSegmentSizes.
  template <typename OpT>
  mlir::Value create(mlir::Location location, mlir::Type result,
                     llvm::ArrayRef<mlir::Value> operands,
                     llvm::ArrayRef<mlir::NamedAttribute> attributes,
                     bool segments);

  mlir::NamedAttribute attr(llvm::StringRef name, int64_t value);
  mlir::NamedAttribute attr(llvm::StringRef name, double value);
  mlir::NamedAttribute attr(llvm::StringRef name, mlir::Attribute value);

  /// The standard pre-norm decoder stack:
  ///   h = embed(tokens); per layer h += mixer(norm(h)); h += ffn(norm(h));
  ///   logits = lm_head(norm(h)); from the last layer's feed-forward block
  ///   on, only the rows `logit_rows` (select_rows after the last mixer).
  struct DecoderNames {
    std::string embed = "model.embed_tokens.weight";
    std::string finalNorm = "model.norm.weight";
    std::string head = "lm_head.weight";
    std::string inputNorm = "input_layernorm";
    std::string postNorm = "post_attention_layernorm";
    bool tiedHead = false;
  };
  using LayerFn =
      std::function<mlir::Value(int64_t layer, const std::string &prefix,
                                mlir::Value normed)>;
  /// Builds @forward(tokens, positions, logit_rows, states...) -> logits of
  /// the rows `logit_rows` (hybrid.logit_rows) of the call's tokens.
  void buildDecoder(const DecoderNames &names, int64_t layers, int64_t vocab,
                    const LayerFn &mixer, const LayerFn &ffn);

  /// Names of an MTP module's own tensors (full names).
  struct MTPNames {
    std::string embedNorm, hiddenNorm, projection; // norms' weights, linear module
    std::string layerPrefix;                       // its decoder layer
    std::string finalNorm;                         // weight before the head
  };
  /// Builds @mtp(hidden, next_tokens, positions, states...) -> (logits,
  /// hidden) for one MTP module; `mixer`/`ffn` are called with layer -1.
  void buildMTP(const DecoderNames &names, const MTPNames &mtp, int64_t vocab,
                const LayerFn &mixer, const LayerFn &ffn);

private:
  mlir::func::FuncOp function_;
  llvm::SmallVector<mlir::Attribute> stateNames_;
};

template <typename OpT>
mlir::Value ModelBuilder::create(mlir::Location location, mlir::Type result,
                                 llvm::ArrayRef<mlir::Value> operands,
                                 llvm::ArrayRef<mlir::NamedAttribute> attributes,
                                 bool segments) {
  mlir::OperationState state(location, OpT::getOperationName());
  llvm::SmallVector<int32_t> sizes;
  for (mlir::Value operand : operands) {
    sizes.push_back(operand ? 1 : 0);
    if (operand)
      state.addOperands(operand);
  }
  state.addTypes(result);
  state.addAttributes(attributes);
  if (segments)
    state.addAttribute("operandSegmentSizes", b.getDenseI32ArrayAttr(sizes));
  return b.create(state)->getResult(0);
}

/// Family entry points: read `config` and fill `builder.module`.
llvm::Error importQwen3Next(ModelBuilder &builder);
llvm::Error importJamba(ModelBuilder &builder);
llvm::Error importDeepSeekV3(ModelBuilder &builder);
/// llama, mixtral, qwen3, qwen3_moe: subsets of the blocks above.
llvm::Error importLlamaLike(ModelBuilder &builder, llvm::StringRef modelType);

} // namespace hybrid::hf

#endif // HYBRIDC_FRONTENDS_HF_MODELBUILDER_H
