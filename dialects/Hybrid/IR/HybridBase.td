//===- HybridBase.td - Hybrid dialect, enums and attributes -*- tablegen -*-===//
//
// The `hybrid` dialect describes hybrid (recurrent + attention) and
// Mixture-of-Experts language models at the level of their layers. The math
// of every op is fixed by shared/docs/models.md; the descriptions below quote
// it so that the IR can be read without the modeling code at hand.
//
//===----------------------------------------------------------------------===//

#ifndef HYBRIDC_DIALECTS_HYBRID_IR_HYBRIDBASE_TD
#define HYBRIDC_DIALECTS_HYBRID_IR_HYBRIDBASE_TD

include "mlir/IR/OpBase.td"
include "mlir/IR/AttrTypeBase.td"
include "mlir/IR/EnumAttr.td"

def Hybrid_Dialect : Dialect {
  let name = "hybrid";
  let cppNamespace = "::hybrid";
  let summary = "Layer-level ops of hybrid and Mixture-of-Experts language models";
  let description = [{
    One op per model layer component (embedding, norm, attention, MLA, Gated
    DeltaNet, Mamba, MoE, MLP, LM head, MTP input). Weights are values
    produced by `hybrid.weight`, which names a checkpoint tensor: the IR never
    holds weight data. Per-sequence state (KV cache, latent cache, conv window,
    recurrent state) is passed as handles of the `!hybrid.*` state types; ops
    that take a handle read the state and advance it.
  }];
  let useDefaultTypePrinterParser = 1;
  let useDefaultAttributePrinterParser = 1;
  let extraClassDeclaration = [{
    /// Defined next to the type and attribute storage in HybridTypes.cpp.
    void registerTypesAndAttributes();
  }];
}

class Hybrid_Op<string mnemonic, list<Trait> traits = []>
    : Op<Hybrid_Dialect, mnemonic, traits>;

//===----------------------------------------------------------------------===//
// Enums
//===----------------------------------------------------------------------===//

def Hybrid_NormKind : I32EnumAttr<"NormKind", "RMSNorm variant", [
    I32EnumAttrCase<"plain", 0>,          // y = w * r(x)
    I32EnumAttrCase<"zero_centered", 1>,  // y = (1 + w) * r(x)
    I32EnumAttrCase<"gated", 2>           // y = w * r(x) * silu(z)
  ]> {
  let cppNamespace = "::hybrid";
}

def Hybrid_RouterScoring : I32EnumAttr<"RouterScoring",
    "how router logits become expert scores", [
    I32EnumAttrCase<"softmax", 0>,
    I32EnumAttrCase<"sigmoid", 1>
  ]> {
  let cppNamespace = "::hybrid";
}

def Hybrid_RopeStyle : I32EnumAttr<"RopeStyle",
    "which elements RoPE rotates together", [
    I32EnumAttrCase<"half", 0>,         // pairs (j, j + d/2): rotate_half
    I32EnumAttrCase<"interleaved", 1>   // pairs (2j, 2j + 1)
  ]> {
  let cppNamespace = "::hybrid";
}

//===----------------------------------------------------------------------===//
// Attributes
//===----------------------------------------------------------------------===//

def Hybrid_YarnAttr : AttrDef<Hybrid_Dialect, "Yarn"> {
  let mnemonic = "yarn";
  let summary = "YaRN rotary frequency scaling";
  let description = [{
    For a rotary slice of `d` elements: `inv_freq_j = theta^(-2j/d)`;
    correction dims `c(r) = d ln(original / (2 pi r)) / (2 ln theta)`,
    `low = c(beta_fast)`, `high = c(beta_slow)` (floored / ceiled when
    `truncate`), `ramp_j = clamp((j - low) / (high - low), 0, 1)`,
    `inv_freq'_j = inv_freq_j (1 - ramp_j) + inv_freq_j / factor * ramp_j`.
    cos and sin are multiplied by `attention_factor`. See models.md 3.6.

    ```mlir
    #hybrid.yarn<factor = 40.0, original = 4096, beta_fast = 32.0, beta_slow = 1.0, attention_factor = 1.0, truncate = true>
    ```
  }];
  let parameters = (ins APFloatParameter<"">:$factor, "int64_t":$original,
                        APFloatParameter<"">:$betaFast, APFloatParameter<"">:$betaSlow,
                        APFloatParameter<"">:$attentionFactor, "bool":$truncate);
  let hasCustomAssemblyFormat = 1;
  let genVerifyDecl = 1;
}

//===----------------------------------------------------------------------===//
// State types
//===----------------------------------------------------------------------===//

class Hybrid_StateType<string name, string typeMnemonic, string doc>
    : TypeDef<Hybrid_Dialect, name> {
  let mnemonic = typeMnemonic;
  let summary = doc;
  let parameters = (ins ArrayRefParameter<"int64_t", "dimensions">:$shape,
                        "::mlir::Type":$elementType);
  let hasCustomAssemblyFormat = 1;
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    /// Bytes one sequence (or, for caches, one position) of this state takes.
    int64_t getBytes() const;
  }];
}

def Hybrid_KVCacheType : Hybrid_StateType<"KVCache", "kv_cache",
    "per-sequence K and V cache of one attention layer"> {
  let description = [{
    `!hybrid.kv_cache<KV_HEADS x HEAD_DIM x T>`: for every cached position,
    keys and values of `KV_HEADS` heads of `HEAD_DIM` elements each, stored
    after RoPE and q/k norms. `getBytes()` is the size of one position (K and V).
  }];
}

def Hybrid_LatentCacheType : Hybrid_StateType<"LatentCache", "latent_cache",
    "per-sequence compressed KV cache of one MLA layer"> {
  let description = [{
    `!hybrid.latent_cache<KV_LORA x ROPE x T>`: for every cached position the
    normalised latent `c` (`KV_LORA` elements) and the rotated shared rope key
    (`ROPE` elements), models.md 3.5. `getBytes()` is the size of one position.
  }];
}

def Hybrid_ConvStateType : Hybrid_StateType<"ConvState", "conv_state",
    "per-sequence window of a causal depthwise conv1d"> {
  let description = [{
    `!hybrid.conv_state<CHANNELS x WIDTH x T>`: the last `WIDTH = kernel - 1`
    pre-convolution inputs of every channel, oldest first.
  }];
}

def Hybrid_RecurrentStateType : Hybrid_StateType<"RecurrentState",
    "recurrent_state", "per-sequence recurrent state of a scan"> {
  let description = [{
    `!hybrid.recurrent_state<D0 x D1 [x D2] x T>`: the state a linear
    recurrence carries between tokens: `[v_heads, k_head_dim, v_head_dim]` for
    Gated DeltaNet, `[d_inner, d_state]` for Mamba. Kept in f32.
  }];
}

#endif // HYBRIDC_DIALECTS_HYBRID_IR_HYBRIDBASE_TD
