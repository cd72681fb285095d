//===- DeepSeekV3.cpp - DeepSeek-V3 importer --------------------*- C++ -*-===//
//
// models.md section 3: Multi-head Latent Attention in every layer, dense
// SwiGLU in the first `first_k_dense_replace` layers and a sigmoid-scored,
// group-limited MoE with a selection-only bias and shared experts after
// them, an optional MTP module, and optional fp8 block-quantized linears.
//
//===----------------------------------------------------------------------===//

#include "frontends/HF/ModelBuilder.h"

#include <cmath>

using namespace mlir;
using namespace hybrid;
using namespace hybrid::hf;
using llvm::Error;

Error hybrid::hf::importDeepSeekV3(ModelBuilder &mb) {
  Config &c = mb.config;
  int64_t vocab = c.integer("vocab_size");
  int64_t hidden = mb.hidden = c.integer("hidden_size");
  int64_t layers = c.integer("num_hidden_layers");
  int64_t heads = c.integer("num_attention_heads");
  int64_t intermediate = c.integer("intermediate_size");
  mb.readNormEpsilon();
  // A null q_lora_rank means a plain q_proj.
  int64_t qRank = c.integer("q_lora_rank", 0);
  int64_t kvRank = c.integer("kv_lora_rank");
  int64_t nope = c.integer("qk_nope_head_dim");
  int64_t rope = c.integer("qk_rope_head_dim");
  int64_t vDim = c.integer("v_head_dim");
  int64_t firstDense = c.integer("first_k_dense_replace", 3);

  MoESpec moe;
  moe.numExperts = c.integer("n_routed_experts");
  moe.topK = c.integer("num_experts_per_tok");
  moe.intermediate = c.integer("moe_intermediate_size");
  moe.scoring = RouterScoring::sigmoid;
  moe.normTopkProb = c.boolean("norm_topk_prob", true);
  moe.routedScalingFactor = c.number("routed_scaling_factor", 2.5);
  moe.nGroup = c.integer("n_group", 1);
  moe.topkGroup = c.integer("topk_group", 1);
  moe.selectionBias = true;
  int64_t shared = c.integer("n_shared_experts", 1);
  moe.sharedIntermediate =
      shared ? mb.size("n_shared_experts x moe_intermediate_size",
                       {shared, moe.intermediate})
             : 0;
  moe.shared = "shared_experts";
  // transformers (and vLLM) read this key; transformers 5 also `num_mtp_layers`.
  StringRef mtpKey = c.has("num_nextn_predict_layers")
                        ? "num_nextn_predict_layers"
                        : "num_mtp_layers";
  int64_t mtpLayers = c.integer(mtpKey, 0);

  // transformers implements only sigmoid scoring with the correction bias.
  std::string scoring = c.string("scoring_func", "sigmoid");
  c.require(scoring == "sigmoid", "scoring_func",
            "only 'sigmoid' is supported for deepseek_v3, got '" + scoring +
                "'");
  std::string method = c.string("topk_method", "noaux_tc");
  c.require(method == "noaux_tc", "topk_method",
            "only 'noaux_tc' is supported for deepseek_v3, got '" + method +
                "'");
  for (auto [key, value] :
       {std::pair<StringRef, int64_t>{"vocab_size", vocab},
        {"hidden_size", hidden},
        {"num_hidden_layers", layers},
        {"num_attention_heads", heads},
        {"intermediate_size", intermediate},
        {"kv_lora_rank", kvRank},
        {"qk_nope_head_dim", nope},
        {"qk_rope_head_dim", rope},
        {"v_head_dim", vDim},
        {"n_routed_experts", moe.numExperts},
        {"moe_intermediate_size", moe.intermediate},
        {"n_group", moe.nGroup},
        {"topk_group", moe.topkGroup}})
    c.require(value > 0, key, "must be positive, got " + Twine(value));
  c.require(qRank >= 0, "q_lora_rank", "must not be negative");
  c.require(shared >= 0, "n_shared_experts", "must not be negative");
  c.require(firstDense >= 0, "first_k_dense_replace", "must not be negative");
  c.require(rope % 2 == 0, "qk_rope_head_dim", "must be even");
  c.require(mtpLayers >= 0 && mtpLayers <= 1, mtpKey,
            "only 0 or 1 MTP layers are supported, got " + Twine(mtpLayers));
  c.require(!c.boolean("attention_bias", false), "attention_bias",
            "attention biases are not supported for deepseek_v3");
  if (moe.numExperts > 0 && moe.nGroup > 0) {
    c.require(moe.topK >= 1 && moe.topK <= moe.numExperts,
              "num_experts_per_tok",
              Twine(moe.topK) + " must be between 1 and n_routed_experts " +
                  Twine(moe.numExperts));
    c.require(moe.numExperts % moe.nGroup == 0, "n_group",
              Twine(moe.nGroup) + " does not divide n_routed_experts " +
                  Twine(moe.numExperts));
    c.require(moe.topkGroup <= moe.nGroup, "topk_group",
              "must not exceed n_group " + Twine(moe.nGroup));
    if (moe.numExperts % moe.nGroup == 0 && moe.topkGroup <= moe.nGroup)
      c.require(moe.topK <= moe.topkGroup * (moe.numExperts / moe.nGroup),
                "num_experts_per_tok",
                "exceeds the experts of the topk_group kept groups");
  }

  if (std::optional<Config> quant = c.object("quantization_config")) {
    std::string method = quant->string("quant_method");
    quant->require(quant->failed() || method == "fp8", "quant_method",
                   "only fp8 block quantization is supported, got '" + method +
                       "'");
    std::string format = quant->string("fmt", "e4m3");
    quant->require(format == "e4m3", "fmt", "only e4m3 is supported");
    std::vector<int64_t> block = quant->integers("weight_block_size", {128, 128});
    quant->require(block.size() == 2 && block[0] > 0 && block[1] > 0,
                   "weight_block_size", "must be two positive sizes");
    if (!c.failed())
      mb.fp8Block = std::array<int64_t, 2>{block[0], block[1]};
  }

  RopeSpec ropeSpec = readRope(c, rope, "qk_rope_head_dim", 10000.0, 1.0);
  if (c.failed())
    return c.takeError();
  ropeSpec.style =
      c.boolean("rope_interleave", true) ? RopeStyle::interleaved : RopeStyle::half;
  double scale = std::pow(static_cast<double>(nope + rope), -0.5) *
                 ropeSpec.softmaxScaleFactor;

  auto mixer = [&](int64_t, const std::string &prefix, Value x) -> Value {
    std::string p = prefix + ".self_attn";
    Value cache = mb.state(
        LatentCacheType::get(mb.context, {kvRank, rope}, mb.stateType),
        p + ".latent");
    int64_t nopeSize =
        mb.size("num_attention_heads x qk_nope_head_dim", {heads, nope});
    int64_t qSize = nopeSize +
                    mb.size("num_attention_heads x qk_rope_head_dim", {heads, rope});
    Value qA, qANorm, qB, q;
    if (qRank > 0) {
      qA = mb.linear(p + ".q_a_proj", qRank, hidden);
      qANorm = mb.weight(p + ".q_a_layernorm.weight", {qRank});
      qB = mb.linear(p + ".q_b_proj", qSize, qRank);
    } else {
      q = mb.linear(p + ".q_proj", qSize, hidden);
    }
    Value kvA = mb.linear(p + ".kv_a_proj_with_mqa",
                          mb.size("kv_lora_rank", {kvRank}) +
                              mb.size("qk_rope_head_dim", {rope}),
                          hidden);
    Value kvANorm = mb.weight(p + ".kv_a_layernorm.weight", {kvRank});
    int64_t vSize = mb.size("num_attention_heads x v_head_dim", {heads, vDim});
    Value kvB = mb.linear(p + ".kv_b_proj", nopeSize + vSize, kvRank);
    Value o = mb.linear(p + ".o_proj", hidden, vSize);
    SmallVector<NamedAttribute> attrs = {
        mb.attr("num_heads", heads),
        mb.attr("q_lora_rank", qRank),
        mb.attr("kv_lora_rank", kvRank),
        mb.attr("qk_nope_head_dim", nope),
        mb.attr("qk_rope_head_dim", rope),
        mb.attr("v_head_dim", vDim),
        mb.attr("rope_theta", ropeSpec.theta),
        mb.attr("rope_style", RopeStyleAttr::get(mb.context, ropeSpec.style)),
        mb.attr("scale", scale),
        mb.attr("norm_epsilon", mb.normEpsilon)};
    if (YarnAttr yarn = ropeSpec.yarnAttr(mb.context))
      attrs.push_back(mb.attr("yarn", yarn));
    return mb.create<MLAOp>(mb.loc(p), mb.activation(),
                            {x, mb.positions, cache, qA, qANorm, qB, q, kvA,
                             kvANorm, kvB, o},
                            attrs, /*segments=*/true);
  };
  // transformers: MoE from layer first_k_dense_replace on (moe_layer_freq is
  // not consulted); the MTP layer (-1) is a MoE layer.
  auto ffn = [&](int64_t layer, const std::string &prefix, Value x) -> Value {
    if (layer >= 0 && layer < firstDense)
      return mb.mlp(prefix + ".mlp", x, intermediate);
    return mb.moe(prefix + ".mlp", x, moe);
  };

  ModelBuilder::DecoderNames names;
  names.tiedHead = c.boolean("tie_word_embeddings", false);
  mb.buildDecoder(names, layers, vocab, mixer, ffn);
  if (mtpLayers > 0) {
    // The checkpoint stores the MTP module as layer `num_hidden_layers`
    // (models.md 3.8); its copies of the embedding and head are not used.
    std::string p = "model.layers." + std::to_string(layers);
    ModelBuilder::MTPNames mtp{p + ".enorm.weight", p + ".hnorm.weight",
                               p + ".eh_proj", p,
                               p + ".shared_head.norm.weight"};
    mb.buildMTP(names, mtp, vocab, mixer, ffn);
  }
  return c.takeError();
}
