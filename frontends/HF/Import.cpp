//===- Import.cpp - Hugging Face checkpoint importer ------------*- C++ -*-===//

#include "frontends/HF/Import.h"
#include "frontends/HF/ModelBuilder.h"
#include "frontends/HF/Safetensors.h"
#include "frontends/HF/WeightBinding.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Verifier.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"

#include <cmath>
#include <cstdio>

using namespace mlir;
using namespace hybrid;
using namespace hybrid::hf;
using llvm::Error;
using llvm::Expected;

//===----------------------------------------------------------------------===//
// Config helpers
//===----------------------------------------------------------------------===//

Type hybrid::hf::readDType(Config &config, MLIRContext *context) {
  // transformers 5 writes `dtype`, older versions `torch_dtype`.
  std::string key = config.has("dtype") ? "dtype" : "torch_dtype";
  std::string name = config.string(key, "float32");
  if (name == "bfloat16")
    return BFloat16Type::get(context);
  if (name == "float16")
    return Float16Type::get(context);
  if (name == "float32")
    return Float32Type::get(context);
  config.fail(key, "unsupported dtype '" + name +
                       "' (supported: bfloat16, float16, float32)");
  return Float32Type::get(context);
}

namespace {
/// A config number as a person wrote it: 1e-06, 0.25.
std::string shortNumber(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", value);
  return text;
}

double yarnMscale(double factor, double mscale) {
  return factor <= 1.0 ? 1.0 : 0.1 * mscale * std::log(factor) + 1.0;
}
} // namespace

RopeSpec hybrid::hf::readRope(Config &config, int64_t headDim,
                              StringRef headDimKey, double defaultTheta,
                              double defaultPartialFactor) {
  RopeSpec rope;
  // transformers 5: everything in `rope_parameters`; before: `rope_theta`,
  // `partial_rotary_factor` at the top and scaling in `rope_scaling`.
  std::optional<Config> params = config.object("rope_parameters");
  std::string paramsKey = "rope_parameters";
  if (!params) {
    params = config.object("rope_scaling");
    paramsKey = "rope_scaling";
  }
  // A value and the config (top level or nested) whose errors name it.
  auto pick = [&](StringRef key, double fallback) -> std::pair<double, Config *> {
    if (params && params->has(key))
      return {params->number(key), &*params};
    return {config.number(key, fallback),
            config.has(key) ? &config : nullptr};
  };
  auto [theta, thetaFrom] = pick("rope_theta", defaultTheta);
  auto [partial, partialFrom] =
      pick("partial_rotary_factor", defaultPartialFactor);
  rope.theta = theta;
  (thetaFrom ? *thetaFrom : config)
      .require(theta > 0, "rope_theta", "must be positive");
  (partialFrom ? *partialFrom : config)
      .require(partial > 0 && partial <= 1, "partial_rotary_factor",
               "must be in (0, 1]");
  rope.rotaryDim = static_cast<int64_t>(headDim * partial);
  if (rope.rotaryDim % 2 != 0) {
    // Blame the field the file has: the factor, or what head_dim came from.
    if (partialFrom)
      partialFrom->fail("partial_rotary_factor",
                        "gives an odd rotary dimension " +
                            Twine(rope.rotaryDim) + " for head_dim " +
                            Twine(headDim));
    else if (headDimKey == "num_attention_heads")
      config.fail(headDimKey, "gives head_dim " + Twine(headDim) +
                                  " (hidden_size / num_attention_heads) and "
                                  "so an odd rotary dimension " +
                                  Twine(rope.rotaryDim));
    else
      config.fail(headDimKey, "gives an odd rotary dimension " +
                                  Twine(rope.rotaryDim) +
                                  " with partial_rotary_factor " +
                                  shortNumber(partial));
  }
  if (!params)
    return rope;

  std::string type = params->has("rope_type") ? params->string("rope_type")
                                              : params->string("type", "default");
  if (type == "default")
    return rope;
  if (type != "yarn") {
    config.fail(paramsKey, "unsupported rope type '" + type +
                               "' (supported: default, yarn)");
    return rope;
  }
  double factor = params->number("factor");
  int64_t original = params->integer("original_max_position_embeddings");
  double betaFast = params->number("beta_fast", 32.0);
  double betaSlow = params->number("beta_slow", 1.0);
  double mscale = params->number("mscale", 0.0);
  double mscaleAllDim = params->number("mscale_all_dim", 0.0);
  double attentionFactor =
      params->has("attention_factor")
          ? params->number("attention_factor")
          : (mscale != 0.0 && mscaleAllDim != 0.0
                 ? yarnMscale(factor, mscale) / yarnMscale(factor, mscaleAllDim)
                 : yarnMscale(factor, 1.0));
  bool truncate = params->boolean("truncate", true);
  params->require(factor >= 1.0, "factor", "must be >= 1");
  params->require(original > 0, "original_max_position_embeddings",
                  "must be positive");
  params->require(betaFast > betaSlow && betaSlow > 0, "beta_fast",
                  "must be greater than beta_slow, and both positive");
  if (config.failed())
    return rope;
  rope.yarnFactor = factor;
  rope.yarnOriginal = original;
  rope.yarnBetaFast = betaFast;
  rope.yarnBetaSlow = betaSlow;
  rope.yarnAttentionFactor = attentionFactor;
  rope.yarnTruncate = truncate;
  rope.hasYarn = true;
  // DeepSeek folds mscale(factor, mscale_all_dim)^2 into the softmax scale.
  if (mscaleAllDim != 0.0)
    rope.softmaxScaleFactor = std::pow(yarnMscale(factor, mscaleAllDim), 2);
  return rope;
}

YarnAttr RopeSpec::yarnAttr(MLIRContext *context) const {
  if (!hasYarn)
    return {};
  return YarnAttr::get(context, llvm::APFloat(yarnFactor), yarnOriginal,
                       llvm::APFloat(yarnBetaFast), llvm::APFloat(yarnBetaSlow),
                       llvm::APFloat(yarnAttentionFactor), yarnTruncate);
}

//===----------------------------------------------------------------------===//
// ModelBuilder
//===----------------------------------------------------------------------===//

ModelBuilder::ModelBuilder(MLIRContext *context, Config &config,
                           StringRef modelType, Type stateElementType)
    : context(context), config(config), b(context) {
  module = ModuleOp::create(b.getUnknownLoc());
  module->setName(modelType);
  module->getOperation()->setAttr("hybrid.model_type",
                                  b.getStringAttr(modelType));
  b.setInsertionPointToEnd(module->getBody());
  weightType = readDType(config, context);
  stateType = stateElementType ? stateElementType : weightType;
}

void ModelBuilder::readNormEpsilon() {
  normEpsilon = config.number("rms_norm_eps", 1e-6);
  config.require(normEpsilon > 0, "rms_norm_eps",
                 "must be positive, got " + shortNumber(normEpsilon));
}

RankedTensorType ModelBuilder::activation(int64_t columns) {
  return RankedTensorType::get({ShapedType::kDynamic, columns ? columns : hidden},
                               b.getF32Type());
}

Location ModelBuilder::loc(const Twine &scope) {
  return NameLoc::get(b.getStringAttr(scope));
}

void ModelBuilder::beginFunction(StringRef name, ArrayRef<Type> inputs) {
  b.setInsertionPointToEnd(module->getBody());
  function_ = func::FuncOp::create(b, b.getUnknownLoc(), name,
                                   b.getFunctionType(inputs, {}));
  Block *entry = function_.addEntryBlock();
  b.setInsertionPointToStart(entry);
  stateNames_.clear();
}

Value ModelBuilder::argument(unsigned index) {
  return function_.getArgument(index);
}

Value ModelBuilder::state(Type type, const Twine &name) {
  unsigned index = function_.getNumArguments();
  (void)function_.insertArgument(index, type,
                                 b.getDictionaryAttr(b.getNamedAttr(
                                     "hybrid.state", b.getStringAttr(name))),
                                 b.getUnknownLoc());
  return function_.getArgument(index);
}

void ModelBuilder::finishFunction(ValueRange results) {
  func::ReturnOp::create(b, b.getUnknownLoc(), results);
  function_.setType(
      b.getFunctionType(function_.getArgumentTypes(), results.getTypes()));
  b.setInsertionPointToEnd(module->getBody());
}

namespace {
/// Sizes beyond any real model: they would only overflow later arithmetic.
constexpr int64_t kMaxElements = int64_t(1) << 46;
} // namespace

bool ModelBuilder::plausible(const Twine &name, ArrayRef<int64_t> shape) {
  int64_t elements = 1;
  for (int64_t dim : shape) {
    if (dim <= 0 || dim > kMaxElements / elements) {
      config.failWhole("tensor '" + name +
                       "' would have an implausible shape; check the sizes in "
                       "the config");
      return false;
    }
    elements *= dim;
  }
  return true;
}

int64_t ModelBuilder::size(const Twine &what,
                           std::initializer_list<int64_t> factors) {
  int64_t product = 1;
  for (int64_t factor : factors) {
    if (factor <= 0 || factor > kMaxElements / product) {
      config.failWhole(what + " is implausibly large; check the sizes in the "
                              "config");
      return 1;
    }
    product *= factor;
  }
  return product;
}

Value ModelBuilder::weight(const Twine &name, ArrayRef<int64_t> shape) {
  if (!plausible(name, shape))
    shape = SmallVector<int64_t>(shape.size(), 1);
  auto type = RankedTensorType::get(shape, weightType);
  return WeightOp::create(b, loc(name), type, b.getStringAttr(name),
                          /*experts=*/IntegerAttr(), /*packed=*/IntegerAttr());
}

Value ModelBuilder::linear(const Twine &module, int64_t out, int64_t in,
                           bool quantizable) {
  std::string name = (module + ".weight").str();
  if (!plausible(name, {out, in}))
    out = in = 1;
  if (!fp8Block || !quantizable)
    return weight(name, {out, in});
  auto [rows, cols] = *fp8Block;
  Type f8 = Float8E4M3FNType::get(context);
  Value q = WeightOp::create(b, loc(name), RankedTensorType::get({out, in}, f8),
                             b.getStringAttr(name), /*experts=*/IntegerAttr(),
                             /*packed=*/IntegerAttr());
  Value scale = WeightOp::create(
      b, loc(name), 
      RankedTensorType::get({llvm::divideCeil(out, rows), llvm::divideCeil(in, cols)},
                            b.getF32Type()),
      b.getStringAttr(name + "_scale_inv"), /*experts=*/IntegerAttr(),
      /*packed=*/IntegerAttr());
  return DequantizeOp::create(b, loc(name),
                              RankedTensorType::get({out, in}, weightType), q,
                              scale, b.getDenseI64ArrayAttr({rows, cols}));
}

Value ModelBuilder::experts(const Twine &prefix, StringRef suffix, int64_t n,
                            int64_t out, int64_t in) {
  std::string name = (prefix + ".{e}." + suffix + ".weight").str();
  if (!plausible(name, {n, out, in}))
    n = out = in = 1;
  auto stacked = [&](StringRef tensor, ArrayRef<int64_t> shape, Type element) {
    return WeightOp::create(b, loc(tensor), RankedTensorType::get(shape, element),
                            b.getStringAttr(tensor), b.getI64IntegerAttr(n),
                            /*packed=*/IntegerAttr());
  };
  if (!fp8Block)
    return stacked(name, {n, out, in}, weightType);
  auto [rows, cols] = *fp8Block;
  Value q = stacked(name, {n, out, in}, Float8E4M3FNType::get(context));
  Value scale = stacked(name + "_scale_inv",
                        {n, llvm::divideCeil(out, rows), llvm::divideCeil(in, cols)},
                        b.getF32Type());
  return DequantizeOp::create(b, loc(name),
                              RankedTensorType::get({n, out, in}, weightType), q,
                              scale, b.getDenseI64ArrayAttr({rows, cols}));
}

Value ModelBuilder::add(Value x, Value y) {
  return arith::AddFOp::create(b, b.getUnknownLoc(), x, y);
}

Value ModelBuilder::rmsNorm(Value x, const Twine &weightName, int64_t size) {
  auto type = cast<RankedTensorType>(x.getType());
  int64_t dim = size ? size : type.getDimSize(type.getRank() - 1);
  Value w = weight(weightName, {dim});
  // Named after its module (model.layers.0.input_layernorm), as the other
  // layer ops are: the name of the kernel that runs it.
  std::string module = weightName.str();
  StringRef scope = StringRef(module);
  scope.consume_back(".weight");
  return RMSNormOp::create(b, loc(scope), type,
                           NormKindAttr::get(context, normKind), x, w, Value(),
                           b.getF64FloatAttr(normEpsilon));
}

NamedAttribute ModelBuilder::attr(StringRef name, int64_t value) {
  return b.getNamedAttr(name, b.getI64IntegerAttr(value));
}
NamedAttribute ModelBuilder::attr(StringRef name, double value) {
  return b.getNamedAttr(name, b.getF64FloatAttr(value));
}
NamedAttribute ModelBuilder::attr(StringRef name, Attribute value) {
  return b.getNamedAttr(name, value);
}

Value ModelBuilder::mlp(const Twine &prefix, Value x, int64_t intermediate) {
  std::string p = prefix.str();
  Value gate = linear(p + ".gate_proj", intermediate, hidden);
  Value up = linear(p + ".up_proj", intermediate, hidden);
  Value down = linear(p + ".down_proj", hidden, intermediate);
  return MLPOp::create(b, loc(p), activation(), x, gate, up, down);
}

Value ModelBuilder::moe(const Twine &prefix, Value x, const MoESpec &spec) {
  std::string p = prefix.str();
  int64_t e = spec.numExperts, inter = spec.intermediate;
  if (e > (1 << 16)) {
    config.failWhole("an MoE block with " + Twine(e) +
                     " experts is implausibly large (> 65536)");
    e = 1;
  }
  Value router = linear(p + "." + spec.router, e, hidden, /*quantizable=*/false);
  std::string experts = p + "." + spec.experts;
  Value gate = this->experts(experts, spec.gateProj, e, inter, hidden);
  Value up = this->experts(experts, spec.upProj, e, inter, hidden);
  Value down = this->experts(experts, spec.downProj, e, hidden, inter);
  Value bias;
  if (spec.selectionBias)
    bias = weight(p + "." + spec.router + ".e_score_correction_bias", {e});
  Value sharedGate, sharedUp, sharedDown, sharedExpertGate;
  if (spec.sharedIntermediate) {
    std::string s = p + "." + spec.shared;
    sharedGate = linear(s + ".gate_proj", spec.sharedIntermediate, hidden);
    sharedUp = linear(s + ".up_proj", spec.sharedIntermediate, hidden);
    sharedDown = linear(s + ".down_proj", hidden, spec.sharedIntermediate);
    if (spec.sharedExpertGate)
      sharedExpertGate = linear(p + ".shared_expert_gate", 1, hidden,
                                /*quantizable=*/false);
  }
  SmallVector<NamedAttribute> attrs = {
      attr("num_experts", e),
      attr("top_k", spec.topK),
      attr("scoring", RouterScoringAttr::get(context, spec.scoring)),
      attr("norm_topk_prob", b.getBoolAttr(spec.normTopkProb)),
      attr("routed_scaling_factor", spec.routedScalingFactor),
      attr("n_group", spec.nGroup),
      attr("topk_group", spec.topkGroup)};
  return create<MoEOp>(loc(p), activation(), 
                       {x, router, gate, up, down, bias, sharedGate, sharedUp,
                        sharedDown, sharedExpertGate},
                       attrs, /*segments=*/true);
}

Value ModelBuilder::attention(const Twine &prefix, Value x,
                              const AttentionSpec &spec) {
  std::string p = prefix.str();
  int64_t h = spec.heads, kv = spec.kvHeads, d = spec.headDim;
  Value cache = state(KVCacheType::get(context, {kv, d}, stateType), p + ".kv");
  int64_t qSize = size("num_attention_heads x head_dim", {h, d});
  int64_t kvSize = size("num_key_value_heads x head_dim", {kv, d});
  Value q = linear(p + ".q_proj", qSize * (spec.outputGate ? 2 : 1), hidden);
  Value k = linear(p + ".k_proj", kvSize, hidden);
  Value v = linear(p + ".v_proj", kvSize, hidden);
  Value o = linear(p + ".o_proj", hidden, qSize);
  Value qNorm, kNorm;
  if (spec.qkNorm) {
    qNorm = weight(p + ".q_norm.weight", {d});
    kNorm = weight(p + ".k_norm.weight", {d});
  }
  SmallVector<NamedAttribute> attrs = {
      attr("num_heads", h),
      attr("num_kv_heads", kv),
      attr("head_dim", d),
      attr("rotary_dim", spec.rope.rotaryDim),
      attr("rope_theta", spec.rope.theta),
      attr("rope_style", RopeStyleAttr::get(context, spec.rope.style)),
      attr("scale", std::pow(static_cast<double>(d), -0.5) *
                        spec.rope.softmaxScaleFactor)};
  if (YarnAttr yarn = spec.rope.yarnAttr(context))
    attrs.push_back(attr("yarn", yarn));
  if (spec.outputGate)
    attrs.push_back(attr("output_gate", b.getUnitAttr()));
  if (spec.qkNorm) {
    attrs.push_back(attr("qk_norm", NormKindAttr::get(context, normKind)));
    attrs.push_back(attr("norm_epsilon", normEpsilon));
  }
  return create<AttentionOp>(loc(p), activation(),
                             {x, positions, cache, q, k, v, o, qNorm, kNorm},
                             attrs, /*segments=*/true);
}

void ModelBuilder::buildDecoder(const DecoderNames &names, int64_t layers,
                                int64_t vocab, const LayerFn &mixer,
                                const LayerFn &ffn) {
  auto tokens = RankedTensorType::get({ShapedType::kDynamic}, b.getI64Type());
  // Far beyond any published model; a larger count is a broken config.
  if (layers > 4096) {
    config.fail("num_hidden_layers",
                "is implausibly large (" + Twine(layers) + " > 4096)");
    layers = 0;
  }
  beginFunction("forward", {tokens, tokens, tokens});
  positions = argument(1);
  // The rows whose logits the call returns. Only they go on after the last
  // mixer (the last to mix tokens): the last feed-forward block, the final
  // norm and the LM head work on each token alone.
  function_.setArgAttr(2, "hybrid.logit_rows", b.getUnitAttr());
  auto selectLogitRows = [&](Value h) -> Value {
    return SelectRowsOp::create(b, loc("logit_rows"), activation(), h,
                                argument(2));
  };
  Value table = weight(names.embed, {vocab, hidden});
  Value h = EmbedOp::create(b, loc(names.embed), activation(), argument(0), table);
  if (layers == 0)
    h = selectLogitRows(h);
  for (int64_t i = 0; i < layers; ++i) {
    std::string prefix = "model.layers." + std::to_string(i);
    Value normed = rmsNorm(h, prefix + "." + names.inputNorm + ".weight");
    h = add(h, mixer(i, prefix, normed));
    if (i + 1 == layers)
      h = selectLogitRows(h);
    normed = rmsNorm(h, prefix + "." + names.postNorm + ".weight");
    h = add(h, ffn(i, prefix, normed));
  }
  Value normed = rmsNorm(h, names.finalNorm);
  Value head = names.tiedHead ? table : weight(names.head, {vocab, hidden});
  Value logits = LMHeadOp::create(b, loc(names.head), activation(vocab), normed,
                                  head);
  finishFunction({logits});
}

void ModelBuilder::buildMTP(const DecoderNames &names, const MTPNames &mtp,
                            int64_t vocab, const LayerFn &mixer,
                            const LayerFn &ffn) {
  auto tokens = RankedTensorType::get({ShapedType::kDynamic}, b.getI64Type());
  // @mtp(hidden of the main model at position i, token i+1, positions)
  beginFunction("mtp", {activation(), tokens, tokens});
  positions = argument(2);
  // The MTP module shares the main model's embedding and head.
  Value table = weight(names.embed, {vocab, hidden});
  Value embedded =
      EmbedOp::create(b, loc(names.embed), activation(), argument(1), table);
  Value en = weight(mtp.embedNorm, {hidden});
  Value hn = weight(mtp.hiddenNorm, {hidden});
  Value eh = linear(mtp.projection, hidden, 2 * hidden, /*quantizable=*/false);
  Value h = MTPOp::create(b, loc(mtp.projection), activation(), argument(0),
                          embedded, en, hn, eh,
                          NormKindAttr::get(context, normKind),
                          b.getF64FloatAttr(normEpsilon));
  const std::string &prefix = mtp.layerPrefix;
  Value normed = rmsNorm(h, prefix + "." + names.inputNorm + ".weight");
  h = add(h, mixer(-1, prefix, normed));
  normed = rmsNorm(h, prefix + "." + names.postNorm + ".weight");
  h = add(h, ffn(-1, prefix, normed));
  Value out = rmsNorm(h, mtp.finalNorm);
  Value head = names.tiedHead ? table : weight(names.head, {vocab, hidden});
  Value logits = LMHeadOp::create(b, loc(names.head), activation(vocab), out,
                                  head);
  finishFunction({logits, h});
}

//===----------------------------------------------------------------------===//
// importModel
//===----------------------------------------------------------------------===//

namespace {
constexpr StringRef kModelTypes[] = {"qwen3_next", "jamba",     "deepseek_v3",
                                     "qwen3_moe",  "qwen3",     "llama",
                                     "mixtral"};

Error makeError(const Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message.str());
}
} // namespace

ArrayRef<StringRef> hybrid::hf::supportedModelTypes() { return kModelTypes; }

Expected<ImportResult> hybrid::hf::importModel(MLIRContext &context,
                                               StringRef modelPath,
                                               const ImportOptions &options) {
  context.loadDialect<HybridDialect, func::FuncDialect, arith::ArithDialect>();
  bool isDirectory = llvm::sys::fs::is_directory(modelPath);
  if (!isDirectory && !llvm::sys::fs::exists(modelPath))
    return makeError(modelPath + ": no such file or directory");
  SmallString<256> configPath(modelPath);
  if (isDirectory) {
    llvm::sys::path::append(configPath, "config.json");
    if (!llvm::sys::fs::exists(configPath))
      return makeError(modelPath + ": checkpoint folder has no config.json");
  }
  Expected<Config> loaded = Config::load(configPath);
  if (!loaded)
    return loaded.takeError();
  Config &config = *loaded;

  std::string modelType = config.string("model_type");
  if (Error e = config.takeError())
    return std::move(e);
  if (!llvm::is_contained(kModelTypes, modelType)) {
    std::string supported;
    for (StringRef t : kModelTypes)
      supported += (supported.empty() ? "" : ", ") + t.str();
    return makeError(configPath + ": field 'model_type': unsupported model "
                     "type '" + modelType + "' (supported: " + supported + ")");
  }

  Type stateType;
  if (!options.stateDType.empty()) {
    if (options.stateDType == "bf16")
      stateType = BFloat16Type::get(&context);
    else if (options.stateDType == "f16")
      stateType = Float16Type::get(&context);
    else if (options.stateDType == "f32")
      stateType = Float32Type::get(&context);
    else
      return makeError("--dtype: expected bf16, f16 or f32, got '" +
                       options.stateDType + "'");
  }

  ModelBuilder builder(&context, config, modelType, stateType);
  Error familyError = Error::success();
  if (modelType == "qwen3_next")
    familyError = importQwen3Next(builder);
  else if (modelType == "jamba")
    familyError = importJamba(builder);
  else if (modelType == "deepseek_v3")
    familyError = importDeepSeekV3(builder);
  else
    familyError = importLlamaLike(builder, modelType);
  if (familyError)
    return std::move(familyError);
  if (Error e = config.takeError())
    return std::move(e);

  // The family code checks the config's consistency; the verifier catches
  // anything it missed, reported against the config file.
  std::string diagnostics;
  {
    ScopedDiagnosticHandler handler(&context, [&](Diagnostic &diag) {
      if (diagnostics.empty())
        diagnostics = diag.str();
      return success();
    });
    if (failed(verify(*builder.module)))
      return makeError(configPath + ": inconsistent dimensions: " +
                       diagnostics);
  }

  ImportResult result;
  if (isDirectory) {
    Expected<Checkpoint> checkpoint = Checkpoint::open(modelPath);
    if (!checkpoint)
      return checkpoint.takeError();
    if (checkpoint->empty()) {
      result.warnings.push_back(
          (modelPath + ": no model.safetensors or model.safetensors.index.json;"
                       " imported from config.json alone, weights unchecked")
              .str());
    } else if (Error e = bindWeights(*builder.module, *checkpoint,
                                     result.warnings)) {
      return std::move(e);
    } else {
      result.checkpoint = std::move(*checkpoint);
    }
  }
  result.module = std::move(builder.module);
  return result;
}
