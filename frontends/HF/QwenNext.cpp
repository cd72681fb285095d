//===- QwenNext.cpp - Qwen3-Next importer -----------------------*- C++ -*-===//
//
// models.md section 1: Gated DeltaNet and gated full attention, a sparse MoE
// with a gated shared expert in every layer (unless mlp_only_layers or
// decoder_sparse_step say otherwise), zero-centred RMSNorms.
//
//===----------------------------------------------------------------------===//

#include "frontends/HF/ModelBuilder.h"

using namespace mlir;
using namespace hybrid;
using namespace hybrid::hf;
using llvm::Error;

Error hybrid::hf::importQwen3Next(ModelBuilder &mb) {
  Config &c = mb.config;
  int64_t vocab = c.integer("vocab_size");
  int64_t hidden = mb.hidden = c.integer("hidden_size");
  int64_t layers = c.integer("num_hidden_layers");
  int64_t heads = c.integer("num_attention_heads");
  int64_t kvHeads = c.integer("num_key_value_heads", heads);
  int64_t headDim = c.integer("head_dim", 256);
  mb.normKind = NormKind::zero_centered;
  mb.readNormEpsilon();

  int64_t hk = c.integer("linear_num_key_heads", 16);
  int64_t hv = c.integer("linear_num_value_heads", 32);
  int64_t dk = c.integer("linear_key_head_dim", 128);
  int64_t dv = c.integer("linear_value_head_dim", 128);
  int64_t kernel = c.integer("linear_conv_kernel_dim", 4);

  MoESpec moe;
  moe.numExperts = c.integer("num_experts", 512);
  moe.topK = c.integer("num_experts_per_tok", 10);
  moe.intermediate = c.integer("moe_intermediate_size", 512);
  moe.normTopkProb = c.boolean("norm_topk_prob", true);
  moe.sharedIntermediate = c.integer("shared_expert_intermediate_size", 512);
  moe.sharedExpertGate = moe.sharedIntermediate > 0;
  int64_t sparseStep = c.integer("decoder_sparse_step", 1);
  std::vector<int64_t> mlpOnly = c.integers("mlp_only_layers");
  int64_t mtpLayers = c.integer("num_nextn_predict_layers", 0);

  for (auto [key, value] :
       {std::pair<StringRef, int64_t>{"vocab_size", vocab},
        {"hidden_size", hidden},
        {"num_hidden_layers", layers},
        {"num_attention_heads", heads},
        {"num_key_value_heads", kvHeads},
        {"head_dim", headDim},
        {"linear_num_key_heads", hk},
        {"linear_num_value_heads", hv},
        {"linear_key_head_dim", dk},
        {"linear_value_head_dim", dv},
        {"decoder_sparse_step", sparseStep}})
    c.require(value > 0, key, "must be positive, got " + Twine(value));
  c.require(kernel >= 2, "linear_conv_kernel_dim", "must be at least 2");
  c.require(moe.numExperts >= 0, "num_experts", "must not be negative");
  if (moe.numExperts > 0)
    c.require(moe.intermediate > 0, "moe_intermediate_size",
              "must be positive, got " + Twine(moe.intermediate));
  c.require(moe.sharedIntermediate >= 0, "shared_expert_intermediate_size",
            "must not be negative");
  c.require(mtpLayers >= 0 && mtpLayers <= 1, "num_nextn_predict_layers",
            "only 0 or 1 MTP layers are supported, got " + Twine(mtpLayers));
  c.require(!c.boolean("attention_bias", false), "attention_bias",
            "attention biases are not supported for qwen3_next");
  c.require(c.string("hidden_act", "silu") == "silu", "hidden_act",
            "only silu is supported");
  if (heads > 0 && kvHeads > 0)
    c.require(heads % kvHeads == 0, "num_key_value_heads",
              Twine(kvHeads) + " does not divide num_attention_heads " +
                  Twine(heads));
  if (hk > 0 && hv > 0)
    c.require(hv % hk == 0, "linear_num_value_heads",
              "must be a multiple of linear_num_key_heads " + Twine(hk));
  if (moe.numExperts > 0)
    c.require(moe.topK >= 1 && moe.topK <= moe.numExperts,
              "num_experts_per_tok",
              Twine(moe.topK) + " must be between 1 and num_experts " +
                  Twine(moe.numExperts));
  for (int64_t layer : mlpOnly)
    c.require(layer >= 0 && layer < layers, "mlp_only_layers",
              "layer " + Twine(layer) + " is out of range");

  // transformers: an explicit layer_types wins, else every
  // full_attention_interval-th layer is full attention.
  std::vector<std::string> types = c.strings("layer_types");
  if (types.empty() && !c.failed()) {
    int64_t interval = c.integer("full_attention_interval", 4);
    c.require(interval > 0, "full_attention_interval", "must be positive");
    for (int64_t i = 0; i < layers && interval > 0; ++i)
      types.push_back((i + 1) % interval ? "linear_attention"
                                         : "full_attention");
  } else if (!c.failed()) {
    c.require(static_cast<int64_t>(types.size()) == layers, "layer_types",
              "has " + Twine(types.size()) + " entries for " + Twine(layers) +
                  " layers (num_hidden_layers)");
    for (const std::string &type : types)
      c.require(type == "linear_attention" || type == "full_attention",
                "layer_types",
                "unknown layer type '" + type +
                    "' (expected linear_attention or full_attention)");
  }
  auto isMoE = [&](int64_t layer) {
    return !llvm::is_contained(mlpOnly, layer) && moe.numExperts > 0 &&
           (layer + 1) % sparseStep == 0;
  };
  int64_t intermediate = 0;
  for (int64_t i = 0; i < layers; ++i)
    if (!isMoE(i)) {
      intermediate = c.integer("intermediate_size");
      c.require(intermediate > 0, "intermediate_size", "must be positive");
      break;
    }

  AttentionSpec attention;
  attention.heads = heads;
  attention.kvHeads = kvHeads;
  attention.headDim = headDim;
  attention.rope = readRope(c, headDim, "head_dim", 10000.0, 0.25);
  attention.outputGate = true;
  attention.qkNorm = true;
  if (c.failed())
    return c.takeError();

  auto mixer = [&](int64_t layer, const std::string &prefix, Value x) -> Value {
    if (layer < 0 || types[layer] == "full_attention")
      return mb.attention(prefix + ".self_attn", x, attention);
    std::string p = prefix + ".linear_attn";
    int64_t kSize = mb.size("linear_num_key_heads x linear_key_head_dim",
                            {hk, dk});
    int64_t vSize = mb.size("linear_num_value_heads x linear_value_head_dim",
                            {hv, dv});
    int64_t convDim = 2 * kSize + vSize;
    MLIRContext *ctx = mb.context;
    Value conv = mb.state(ConvStateType::get(ctx, {convDim, kernel - 1},
                                             mb.stateType),
                          p + ".conv");
    Value rec = mb.state(RecurrentStateType::get(ctx, {hv, dk, dv},
                                                 mb.b.getF32Type()),
                         p + ".recurrent");
    Value qkvz = mb.linear(p + ".in_proj_qkvz", 2 * kSize + 2 * vSize, hidden);
    Value ba = mb.linear(p + ".in_proj_ba", 2 * hv, hidden);
    Value conv1d = mb.weight(p + ".conv1d.weight", {convDim, 1, kernel});
    Value dtBias = mb.weight(p + ".dt_bias", {hv});
    Value aLog = mb.weight(p + ".A_log", {hv});
    Value norm = mb.weight(p + ".norm.weight", {dv});
    Value out = mb.linear(p + ".out_proj", hidden, vSize);
    return mb.create<GatedDeltaNetOp>(
        mb.loc(p), mb.activation(),
        {x, conv, rec, qkvz, ba, conv1d, dtBias, aLog, norm, out},
        {mb.attr("num_k_heads", hk), mb.attr("num_v_heads", hv),
         mb.attr("k_head_dim", dk), mb.attr("v_head_dim", dv),
         mb.attr("conv_kernel", kernel), mb.attr("norm_epsilon", mb.normEpsilon)},
        /*segments=*/false);
  };
  auto ffn = [&](int64_t layer, const std::string &prefix, Value x) -> Value {
    if (layer >= 0 && !isMoE(layer))
      return mb.mlp(prefix + ".mlp", x, intermediate);
    return mb.moe(prefix + ".mlp", x, moe);
  };

  ModelBuilder::DecoderNames names;
  names.tiedHead = c.boolean("tie_word_embeddings", false);
  mb.buildDecoder(names, layers, vocab, mixer, ffn);
  if (mtpLayers > 0) {
    // vLLM's qwen3_next_mtp.py layout (models.md 1.7).
    ModelBuilder::MTPNames mtp{"mtp.pre_fc_norm_embedding.weight",
                               "mtp.pre_fc_norm_hidden.weight", "mtp.fc",
                               "mtp.layers.0", "mtp.norm.weight"};
    mb.buildMTP(names, mtp, vocab, mixer, ffn);
  }
  return c.takeError();
}
