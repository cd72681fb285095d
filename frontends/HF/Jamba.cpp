//===- Jamba.cpp - Jamba importer -------------------------------*- C++ -*-===//
//
// models.md section 2: Mamba-1 layers with dt/B/C norms and plain attention
// without positional encoding, a top-2 softmax MoE (not renormalised) every
// expert_layer_period layers and dense SwiGLU elsewhere.
//
//===----------------------------------------------------------------------===//

#include "frontends/HF/ModelBuilder.h"

#include <cmath>

using namespace mlir;
using namespace hybrid;
using namespace hybrid::hf;
using llvm::Error;

Error hybrid::hf::importJamba(ModelBuilder &mb) {
  Config &c = mb.config;
  int64_t vocab = c.integer("vocab_size");
  int64_t hidden = mb.hidden = c.integer("hidden_size");
  int64_t layers = c.integer("num_hidden_layers");
  int64_t heads = c.integer("num_attention_heads");
  int64_t kvHeads = c.integer("num_key_value_heads", 8);
  int64_t intermediate = c.integer("intermediate_size");
  mb.readNormEpsilon();

  int64_t attnPeriod = c.integer("attn_layer_period", 8);
  int64_t attnOffset = c.integer("attn_layer_offset", 4);
  int64_t expertPeriod = c.integer("expert_layer_period", 2);
  int64_t expertOffset = c.integer("expert_layer_offset", 1);

  MoESpec moe;
  moe.numExperts = c.integer("num_experts", 16);
  moe.topK = c.integer("num_experts_per_tok", 2);
  moe.intermediate = intermediate;
  moe.normTopkProb = false; // Jamba keeps the top-k softmax weights as they are
  moe.router = "router";
  moe.sharedIntermediate = 0;

  int64_t dState = c.integer("mamba_d_state", 16);
  int64_t dConv = c.integer("mamba_d_conv", 4);
  int64_t expand = c.integer("mamba_expand", 2);
  // "auto" (the default) means ceil(hidden / 16).
  int64_t dtRank = c.integerOrKeyword("mamba_dt_rank", "auto",
                                      llvm::divideCeil(hidden, 16));
  bool convBias = c.boolean("mamba_conv_bias", true);
  bool projBias = c.boolean("mamba_proj_bias", false);

  for (auto [key, value] :
       {std::pair<StringRef, int64_t>{"vocab_size", vocab},
        {"hidden_size", hidden},
        {"num_hidden_layers", layers},
        {"num_attention_heads", heads},
        {"num_key_value_heads", kvHeads},
        {"intermediate_size", intermediate},
        {"attn_layer_period", attnPeriod},
        {"expert_layer_period", expertPeriod},
        {"num_experts", moe.numExperts},
        {"mamba_d_state", dState},
        {"mamba_expand", expand},
        {"mamba_dt_rank", dtRank}})
    c.require(value > 0, key, "must be positive, got " + Twine(value));
  c.require(dConv >= 2, "mamba_d_conv", "must be at least 2");
  c.require(attnOffset >= 0 && attnOffset < attnPeriod, "attn_layer_offset",
            "must be in [0, attn_layer_period)");
  c.require(expertOffset >= 0 && expertOffset < expertPeriod,
            "expert_layer_offset", "must be in [0, expert_layer_period)");
  c.require(moe.topK >= 1 && moe.topK <= moe.numExperts, "num_experts_per_tok",
            Twine(moe.topK) + " must be between 1 and num_experts " +
                Twine(moe.numExperts));
  if (heads > 0) {
    c.require(hidden % heads == 0, "num_attention_heads",
              "does not divide hidden_size " + Twine(hidden));
    if (kvHeads > 0)
      c.require(heads % kvHeads == 0, "num_key_value_heads",
                Twine(kvHeads) + " does not divide num_attention_heads " +
                    Twine(heads));
  }
  c.require(c.string("hidden_act", "silu") == "silu", "hidden_act",
            "only silu is supported");
  if (c.failed())
    return c.takeError();
  int64_t headDim = hidden / heads;
  int64_t dInner = mb.size("mamba_expand x hidden_size", {expand, hidden});

  AttentionSpec attention;
  attention.heads = heads;
  attention.kvHeads = kvHeads;
  attention.headDim = headDim;
  attention.rope.rotaryDim = 0; // Jamba attention has no positional encoding

  auto mixer = [&](int64_t layer, const std::string &prefix, Value x) -> Value {
    if (layer % attnPeriod == attnOffset)
      return mb.attention(prefix + ".self_attn", x, attention);
    std::string p = prefix + ".mamba";
    MLIRContext *ctx = mb.context;
    Value conv = mb.state(ConvStateType::get(ctx, {dInner, dConv - 1},
                                             mb.stateType),
                          p + ".conv");
    Value ssm = mb.state(RecurrentStateType::get(ctx, {dInner, dState},
                                                 mb.b.getF32Type()),
                         p + ".ssm");
    Value inProj = mb.linear(p + ".in_proj", 2 * dInner, hidden);
    Value inBias = projBias ? mb.weight(p + ".in_proj.bias", {2 * dInner}) : Value();
    Value conv1d = mb.weight(p + ".conv1d.weight", {dInner, 1, dConv});
    Value convB = convBias ? mb.weight(p + ".conv1d.bias", {dInner}) : Value();
    Value xProj = mb.linear(p + ".x_proj", dtRank + 2 * dState, dInner);
    Value dtProj = mb.linear(p + ".dt_proj", dInner, dtRank);
    Value dtBias = mb.weight(p + ".dt_proj.bias", {dInner});
    Value aLog = mb.weight(p + ".A_log", {dInner, dState});
    Value d = mb.weight(p + ".D", {dInner});
    Value outProj = mb.linear(p + ".out_proj", hidden, dInner);
    Value outBias = projBias ? mb.weight(p + ".out_proj.bias", {hidden}) : Value();
    Value dtNorm = mb.weight(p + ".dt_layernorm.weight", {dtRank});
    Value bNorm = mb.weight(p + ".b_layernorm.weight", {dState});
    Value cNorm = mb.weight(p + ".c_layernorm.weight", {dState});
    return mb.create<MambaOp>(
        mb.loc(p), mb.activation(),
        {x, conv, ssm, inProj, inBias, conv1d, convB, xProj, dtProj, dtBias,
         aLog, d, outProj, outBias, dtNorm, bNorm, cNorm},
        {mb.attr("d_inner", dInner), mb.attr("d_state", dState),
         mb.attr("d_conv", dConv), mb.attr("dt_rank", dtRank),
         mb.attr("norm_epsilon", mb.normEpsilon)},
        /*segments=*/true);
  };
  auto ffn = [&](int64_t layer, const std::string &prefix, Value x) -> Value {
    if (layer % expertPeriod == expertOffset)
      return mb.moe(prefix + ".feed_forward", x, moe);
    return mb.mlp(prefix + ".feed_forward", x, intermediate);
  };

  ModelBuilder::DecoderNames names;
  names.finalNorm = "model.final_layernorm.weight";
  names.postNorm = "pre_ff_layernorm";
  names.tiedHead = c.boolean("tie_word_embeddings", false);
  mb.buildDecoder(names, layers, vocab, mixer, ffn);
  return c.takeError();
}
