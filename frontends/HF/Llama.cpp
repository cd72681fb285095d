//===- Llama.cpp - llama, qwen3, mixtral and qwen3_moe importers -*- C++ -*-===//
//
// Plain transformer decoders: their blocks are subsets of the hybrid models'
// (grouped-query attention with rotate-half RoPE, SwiGLU or a softmax MoE).
//
//===----------------------------------------------------------------------===//

#include "frontends/HF/ModelBuilder.h"

using namespace mlir;
using namespace hybrid;
using namespace hybrid::hf;
using llvm::Error;

Error hybrid::hf::importLlamaLike(ModelBuilder &mb, StringRef modelType) {
  Config &c = mb.config;
  bool qwen = modelType.starts_with("qwen3");
  int64_t vocab = c.integer("vocab_size");
  int64_t hidden = mb.hidden = c.integer("hidden_size");
  int64_t layers = c.integer("num_hidden_layers");
  int64_t heads = c.integer("num_attention_heads");
  int64_t kvHeads = c.integer("num_key_value_heads", heads);
  // Without head_dim in the file, transformers derives it.
  StringRef headDimKey =
      c.has("head_dim") ? "head_dim" : "num_attention_heads";
  int64_t headDim = c.integer("head_dim", heads > 0 ? hidden / heads : 0);
  mb.readNormEpsilon();
  for (auto [key, value] :
       {std::pair<StringRef, int64_t>{"vocab_size", vocab},
        {"hidden_size", hidden},
        {"num_hidden_layers", layers},
        {"num_attention_heads", heads},
        {"num_key_value_heads", kvHeads}})
    c.require(value > 0, key, "must be positive, got " + Twine(value));
  if (headDimKey == "head_dim")
    c.require(headDim > 0, "head_dim", "must be positive, got " + Twine(headDim));
  else if (heads > 0 && hidden > 0)
    c.require(headDim > 0, "num_attention_heads",
              Twine(heads) + " exceeds hidden_size " + Twine(hidden) +
                  ", so head_dim (hidden_size / num_attention_heads) is 0");
  if (heads > 0 && kvHeads > 0)
    c.require(heads % kvHeads == 0, "num_key_value_heads",
              Twine(kvHeads) + " does not divide num_attention_heads " +
                  Twine(heads));
  c.require(!c.boolean("attention_bias", false), "attention_bias",
            "attention biases are not supported");
  c.require(!c.boolean("mlp_bias", false), "mlp_bias",
            "MLP biases are not supported");
  c.require(c.string("hidden_act", "silu") == "silu", "hidden_act",
            "only silu is supported");
  // Qwen configs carry a window that only applies with use_sliding_window.
  bool sliding = qwen ? c.boolean("use_sliding_window", false)
                      : c.has("sliding_window");
  c.require(!sliding, qwen ? "use_sliding_window" : "sliding_window",
            "sliding-window attention is not supported");

  MoESpec moe;
  int64_t intermediate = 0, sparseStep = 1;
  std::vector<int64_t> mlpOnly;
  std::string ffnName = "mlp";
  if (modelType == "mixtral") {
    moe.numExperts = c.integer("num_local_experts", 8);
    moe.topK = c.integer("num_experts_per_tok", 2);
    moe.intermediate = c.integer("intermediate_size");
    ffnName = "block_sparse_moe";
    moe.gateProj = "w1";
    moe.downProj = "w2";
    moe.upProj = "w3";
  } else if (modelType == "qwen3_moe") {
    // transformers 5 writes num_local_experts; older configs num_experts.
    moe.numExperts = c.has("num_local_experts")
                         ? c.integer("num_local_experts", 128)
                         : c.integer("num_experts", 128);
    moe.topK = c.integer("num_experts_per_tok", 8);
    moe.intermediate = c.integer("moe_intermediate_size");
    moe.normTopkProb = c.boolean("norm_topk_prob", false);
    sparseStep = c.integer("decoder_sparse_step", 1);
    mlpOnly = c.integers("mlp_only_layers");
    c.require(sparseStep > 0, "decoder_sparse_step", "must be positive");
  }
  if (modelType == "mixtral")
    c.require(moe.numExperts > 0, "num_local_experts",
              "must be positive, got " + Twine(moe.numExperts));
  else if (modelType == "qwen3_moe")
    c.require(moe.numExperts >= 0,
              c.has("num_local_experts") ? "num_local_experts" : "num_experts",
              "must not be negative, got " + Twine(moe.numExperts));
  if (moe.numExperts > 0)
    c.require(moe.intermediate > 0,
              modelType == "mixtral" ? "intermediate_size"
                                     : "moe_intermediate_size",
              "must be positive, got " + Twine(moe.intermediate));
  auto isMoE = [&](int64_t layer) {
    return moe.numExperts > 0 && !llvm::is_contained(mlpOnly, layer) &&
           (layer + 1) % sparseStep == 0;
  };
  if (moe.numExperts > 0)
    c.require(moe.topK >= 1 && moe.topK <= moe.numExperts,
              "num_experts_per_tok",
              Twine(moe.topK) + " must be between 1 and the expert count " +
                  Twine(moe.numExperts));
  for (int64_t i = 0; i < layers && !c.failed(); ++i)
    if (!isMoE(i)) {
      intermediate = c.integer("intermediate_size");
      c.require(intermediate > 0, "intermediate_size", "must be positive");
      break;
    }

  AttentionSpec attention;
  attention.heads = heads;
  attention.kvHeads = kvHeads;
  attention.headDim = headDim;
  attention.rope = readRope(c, headDim, headDimKey, qwen ? 1000000.0 : 10000.0, 1.0);
  attention.qkNorm = qwen;
  if (c.failed())
    return c.takeError();

  auto mixer = [&](int64_t, const std::string &prefix, Value x) -> Value {
    return mb.attention(prefix + ".self_attn", x, attention);
  };
  auto ffn = [&](int64_t layer, const std::string &prefix, Value x) -> Value {
    if (isMoE(layer))
      return mb.moe(prefix + "." + ffnName, x, moe);
    return mb.mlp(prefix + ".mlp", x, intermediate);
  };
  ModelBuilder::DecoderNames names;
  names.tiedHead = c.boolean("tie_word_embeddings", false);
  mb.buildDecoder(names, layers, vocab, mixer, ffn);
  return c.takeError();
}
