//===- HybridOps.td - Hybrid dialect layer-level ops -------*- tablegen -*-===//
//
// Layer-level ops. Conventions shared by all of them:
//  * activations are `tensor<T x H x f32>` with a dynamic token count T;
//  * a linear weight is stored `[out, in]` and applied as `y = x W^T`;
//  * weight operands are named after the checkpoint module they come from
//    and may have any float element type (bf16, f16, f32); compute is f32;
//  * state handles (`!hybrid.kv_cache` etc.) are read and advanced in place.
//
//===----------------------------------------------------------------------===//

#ifndef HYBRIDC_DIALECTS_HYBRID_IR_HYBRIDOPS_TD
#define HYBRIDC_DIALECTS_HYBRID_IR_HYBRIDOPS_TD

include "dialects/Hybrid/IR/HybridBase.td"
include "mlir/IR/SymbolInterfaces.td"
include "mlir/Interfaces/InferTypeOpInterface.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

def Hybrid_FloatTensor : RankedTensorOf<[AnyFloat]>;
def Hybrid_Activation : 2DTensorOf<[F32]>;
def Hybrid_Positions : 1DTensorOf<[I64]>;

class Hybrid_State<Type type> : Arg<type, "per-sequence state", [MemRead, MemWrite]>;

//===----------------------------------------------------------------------===//
// Weights
//===----------------------------------------------------------------------===//

def Hybrid_WeightOp : Hybrid_Op<"weight", [Pure]> {
  let summary = "a checkpoint tensor, referenced by name";
  let description = [{
    Produces the checkpoint tensor called `name`. The data stays in the
    checkpoint (or the artifact); only the name, shape and element type are in
    the IR. With `experts(E)` the name contains `{e}` and the result stacks the
    tensors obtained by replacing `{e}` with 0 .. E-1 along a new leading
    dimension: this is how per-expert checkpoint tensors become one operand.

    With `packed(NR)` the result is the `[N, K]` matrix packed in panels of
    NR rows, `[ceil(N / NR), K, NR]`: element `[p, k, j]` is row `p * NR + j`,
    column k (zero past row N); a stacked expert weight is packed per
    expert, `[E, ceil(N / NR), K, NR]`. The artifact stores it so; the
    linear and expert kernels read NR outputs' weights of one input
    contiguously.

    With `pairs` too, each row's inputs go in pairs, `[ceil(N / NR),
    ceil(K / 2), 2 * NR]`: element `[p, i, 2 * j + s]` is row `p * NR + j`,
    column `2 * i + s` (zero past column K). The operand layout of
    AVX512-BF16's dot product, which multiplies a pair of bf16 inputs by a
    pair of weights in each f32 lane (x86vector.avx512.dot).

    ```mlir
    %w = hybrid.weight "model.layers.0.mlp.gate_proj.weight" : tensor<5120x2048xbf16>
    %g = hybrid.weight "model.layers.0.mlp.experts.{e}.gate_proj.weight" experts(512)
           : tensor<512x512x2048xbf16>
    %p = hybrid.weight "model.layers.0.mlp.gate_proj.weight" packed(64)
           : tensor<80x2048x64xbf16>
    %q = hybrid.weight "model.layers.0.mlp.gate_proj.weight" packed(64) pairs
           : tensor<80x1024x128xbf16>
    ```
  }];
  let arguments = (ins StrAttr:$name, OptionalAttr<I64Attr>:$experts,
                       OptionalAttr<ConfinedAttr<I64Attr, [IntPositive]>>:$packed,
                       UnitAttr:$pairs);
  let results = (outs AnyStaticShapeTensor:$result);
  let assemblyFormat = [{
    $name (`experts` `(` $experts^ `)`)? (`packed` `(` $packed^ `)`)? (`pairs` $pairs^)? attr-dict
    `:` type($result)
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    /// The checkpoint tensor name of expert `expert` (or of the whole weight
    /// when it is not stacked).
    std::string getTensorName(int64_t expert = 0);
  }];
}

def Hybrid_DequantizeOp : Hybrid_Op<"dequantize", [Pure]> {
  let summary = "block-scaled fp8 weight to a float weight";
  let description = [{
    `W[.., i, j] = Q[.., i, j] * scale_inv[.., i / B0, j / B1]` with the block
    sizes `block = [B0, B1]` over the last two dimensions (DeepSeek-V3's
    `weight_scale_inv`, models.md 3.9). `scale_inv` has
    `ceil(rows / B0) x ceil(cols / B1)` trailing dimensions.

    ```mlir
    %w = hybrid.dequantize %q, %s block [128, 128]
           : (tensor<1536x7168xf8E4M3FN>, tensor<12x56xf32>) -> tensor<1536x7168xbf16>
    ```
  }];
  let arguments = (ins Hybrid_FloatTensor:$quantized, Hybrid_FloatTensor:$scale_inv,
                       DenseI64ArrayAttr:$block);
  let results = (outs Hybrid_FloatTensor:$result);
  let assemblyFormat = [{
    $quantized `,` $scale_inv `block` $block attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Embedding, norms, head
//===----------------------------------------------------------------------===//

def Hybrid_EmbedOp : Hybrid_Op<"embed", [Pure]> {
  let summary = "token embedding lookup";
  let description = [{
    `y[t, :] = table[tokens[t], :]` converted to f32. Token ids must be below
    the table's row count (the runtime checks it before running).

    ```mlir
    %h = hybrid.embed %tokens, %table : (tensor<?xi64>, tensor<151936x2048xbf16>) -> tensor<?x2048xf32>
    ```
  }];
  let arguments = (ins 1DTensorOf<[AnySignlessInteger]>:$tokens, Hybrid_FloatTensor:$table);
  let results = (outs Hybrid_Activation:$result);
  let assemblyFormat = [{
    $tokens `,` $table attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def Hybrid_RMSNormOp : Hybrid_Op<"rms_norm", [Pure]> {
  let summary = "RMSNorm over the last dimension, in its three variants";
  let description = [{
    With `r(x) = x * rsqrt(mean(x^2) + epsilon)` over the last dimension
    (models.md 0.1):
    * `plain`: `y = w * r(x)` (Llama style: Jamba, DeepSeek-V3);
    * `zero_centered`: `y = (1 + w) * r(x)` (every plain norm of Qwen3-Next);
    * `gated`: `y = w * r(x) * silu(gate)` (norm, then gate: Qwen3-Next's
      Gated DeltaNet output norm). Only this variant takes `gate`.
    The weight has the size of the last dimension. Computed in f32.

    ```mlir
    %y = hybrid.rms_norm zero_centered %x, %w {epsilon = 1.0e-06 : f64}
           : (tensor<?x2048xf32>, tensor<2048xbf16>) -> tensor<?x2048xf32>
    ```
  }];
  let arguments = (ins Hybrid_NormKind:$kind, Hybrid_FloatTensor:$input,
                       Hybrid_FloatTensor:$weight, Optional<Hybrid_FloatTensor>:$gate,
                       F64Attr:$epsilon);
  let results = (outs Hybrid_FloatTensor:$result);
  let assemblyFormat = [{
    $kind $input `,` $weight (`gate` $gate^)? attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def Hybrid_SelectRowsOp : Hybrid_Op<"select_rows", [Pure]> {
  let summary = "the rows of an activation that go on (the rows whose logits a call returns)";
  let description = [{
    `y[r, :] = x[rows[r], :]`. The importer puts it after the last mixer
    (the last op that mixes tokens), so that the last feed-forward block,
    the final norm and the LM head run only on the rows whose logits the
    call returns: the last prompt token's in a prefill that generates,
    every token's when the caller scores them. Row indices must be below
    x's row count (the runtime passes them).

    ```mlir
    %last = hybrid.select_rows %h, %rows : (tensor<?x2048xf32>, tensor<?xi64>) -> tensor<?x2048xf32>
    ```
  }];
  let arguments = (ins Hybrid_Activation:$input, 1DTensorOf<[I64]>:$rows);
  let results = (outs Hybrid_Activation:$result);
  let assemblyFormat = [{
    $input `,` $rows attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def Hybrid_LMHeadOp : Hybrid_Op<"lm_head", [Pure]> {
  let summary = "final projection to vocabulary logits";
  let description = [{
    `logits = x W^T` with `W: [vocab, hidden]`, f32 logits.

    ```mlir
    %l = hybrid.lm_head %h, %w : (tensor<?x2048xf32>, tensor<151936x2048xbf16>) -> tensor<?x151936xf32>
    ```
  }];
  let arguments = (ins Hybrid_Activation:$input, Hybrid_FloatTensor:$weight);
  let results = (outs Hybrid_Activation:$result);
  let assemblyFormat = [{
    $input `,` $weight attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Feed-forward blocks
//===----------------------------------------------------------------------===//

def Hybrid_MLPOp : Hybrid_Op<"mlp", [Pure]> {
  let summary = "SwiGLU feed-forward block";
  let description = [{
    `y = down(silu(gate(x)) * up(x))`, no biases; `gate_proj`, `up_proj` are
    `[I, H]`, `down_proj` is `[H, I]`.

    ```mlir
    %y = hybrid.mlp %x gate_proj(%g) up_proj(%u) down_proj(%d)
           : (tensor<?x64xf32>, tensor<96x64xf32>, tensor<96x64xf32>, tensor<64x96xf32>) -> tensor<?x64xf32>
    ```
  }];
  let arguments = (ins Hybrid_Activation:$input, Hybrid_FloatTensor:$gate_proj,
                       Hybrid_FloatTensor:$up_proj, Hybrid_FloatTensor:$down_proj);
  let results = (outs Hybrid_Activation:$result);
  let assemblyFormat = [{
    $input `gate_proj` `(` $gate_proj `)` `up_proj` `(` $up_proj `)`
    `down_proj` `(` $down_proj `)` attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def Hybrid_MoEOp : Hybrid_Op<"moe", [Pure, AttrSizedOperandSegments]> {
  let summary = "sparse Mixture-of-Experts block with optional shared experts";
  let description = [{
    Routing, in f32 (models.md 1.6, 2.6, 3.7):
    1. `logits = x router^T` `[T, E]`; `s = softmax(logits)` or `sigmoid(logits)`
       per `scoring`.
    2. Selection scores `s' = s + selection_bias` when the bias is given (it
       only chooses experts; the weights use the unbiased `s`).
    3. Group limit (when `n_group > 1`): experts form `n_group` contiguous
       groups; a group's score is the sum of its two largest `s'`; only the
       `topk_group` best groups stay eligible.
    4. The `top_k` eligible experts with the largest `s'` are chosen; their
       weights are `s` at those experts, divided by their sum when
       `norm_topk_prob`, then multiplied by `routed_scaling_factor`.
    5. `y = sum_j w_j SwiGLU_{e_j}(x)` with expert weights stacked as
       `experts_gate/up: [E, I, H]`, `experts_down: [E, H, I]`.
    6. With shared experts: `y += SwiGLU_shared(x)`, scaled per token by
       `sigmoid(x shared_expert_gate^T)` when that gate is given.

    ```mlir
    %y = hybrid.moe softmax %x router(%r) experts_gate(%g) experts_up(%u) experts_down(%d)
           {num_experts = 8, top_k = 2, norm_topk_prob = true, ...}
           : (...) -> tensor<?x64xf32>
    ```
  }];
  let arguments = (ins Hybrid_Activation:$input, Hybrid_FloatTensor:$router,
                       Hybrid_FloatTensor:$experts_gate, Hybrid_FloatTensor:$experts_up,
                       Hybrid_FloatTensor:$experts_down,
                       Optional<Hybrid_FloatTensor>:$selection_bias,
                       Optional<Hybrid_FloatTensor>:$shared_gate,
                       Optional<Hybrid_FloatTensor>:$shared_up,
                       Optional<Hybrid_FloatTensor>:$shared_down,
                       Optional<Hybrid_FloatTensor>:$shared_expert_gate,
                       I64Attr:$num_experts, I64Attr:$top_k,
                       Hybrid_RouterScoring:$scoring, BoolAttr:$norm_topk_prob,
                       DefaultValuedAttr<F64Attr, "1.0">:$routed_scaling_factor,
                       DefaultValuedAttr<I64Attr, "1">:$n_group,
                       DefaultValuedAttr<I64Attr, "1">:$topk_group);
  let results = (outs Hybrid_Activation:$result);
  let assemblyFormat = [{
    $scoring $input `router` `(` $router `)` `experts_gate` `(` $experts_gate `)`
    `experts_up` `(` $experts_up `)` `experts_down` `(` $experts_down `)`
    (`selection_bias` `(` $selection_bias^ `)`)?
    (`shared_gate` `(` $shared_gate^ `)`)? (`shared_up` `(` $shared_up^ `)`)?
    (`shared_down` `(` $shared_down^ `)`)?
    (`shared_expert_gate` `(` $shared_expert_gate^ `)`)?
    attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def Hybrid_MoERouteOp : Hybrid_Op<"moe_route", [Pure]> {
  let summary = "MoE routing of every token: chosen experts and their weights";
  let description = [{
    Steps 1-4 of `hybrid.moe` as one op (what `hybrid-fuse-moe-routing`
    makes of a `hybrid.moe`): the router product, scoring (`softmax` or
    `sigmoid`), the selection-only bias, the group limit (`n_group`,
    `topk_group`, a group scoring the sum of its top-2), top-k,
    renormalisation and routed scaling. `experts[t, j]` is token t's j-th
    chosen expert (in order of selection score), `weights[t, j]` its
    routing weight. It lowers to one kernel per token. The number of
    experts is the router's first dimension.

    ```mlir
    %e, %w = hybrid.moe_route sigmoid %x router(%r) selection_bias(%b)
               {top_k = 8, norm_topk_prob = true, n_group = 8, topk_group = 4, routed_scaling_factor = 2.5}
               : (tensor<?x64xf32>, tensor<64x64xf32>, tensor<64xf32>) -> (tensor<?x8xi64>, tensor<?x8xf32>)
    ```
  }];
  let arguments = (ins Hybrid_Activation:$input, Hybrid_FloatTensor:$router,
                       Optional<Hybrid_FloatTensor>:$selection_bias,
                       I64Attr:$top_k, Hybrid_RouterScoring:$scoring,
                       BoolAttr:$norm_topk_prob,
                       DefaultValuedAttr<F64Attr, "1.0">:$routed_scaling_factor,
                       DefaultValuedAttr<I64Attr, "1">:$n_group,
                       DefaultValuedAttr<I64Attr, "1">:$topk_group);
  let results = (outs 2DTensorOf<[I64]>:$experts, 2DTensorOf<[F32]>:$weights);
  let assemblyFormat = [{
    $scoring $input `router` `(` $router `)`
    (`selection_bias` `(` $selection_bias^ `)`)?
    attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def Hybrid_MoEExpertsOp : Hybrid_Op<"moe_experts", [Pure, AttrSizedOperandSegments]> {
  let summary = "routed experts grouped by expert, combined per token";
  let description = [{
    Steps 5-6 of `hybrid.moe` given the routing (`hybrid.moe_route`): the
    (token, slot) pairs are permuted so that each expert's tokens are
    contiguous, each expert runs one SwiGLU over only its tokens (a grouped
    matmul that reads only the chosen experts' weights), and
    `y[t] = shared[t] * sigmoid(x[t] . shared_expert_gate) + sum_j
    weights[t, j] expert_{experts[t, j]}(x[t])` (`shared` is the shared
    expert's output, already computed; without it the sum starts at 0,
    without the gate the shared output is added as is).

    ```mlir
    %y = hybrid.moe_experts %x routing(%e, %w) experts_gate(%g) experts_up(%u) experts_down(%d) shared(%s)
           : (tensor<?x64xf32>, tensor<?x8xi64>, tensor<?x8xf32>, tensor<64x32x64xf32>, tensor<64x32x64xf32>, tensor<64x64x32xf32>, tensor<?x64xf32>) -> tensor<?x64xf32>
    ```
  }];
  let arguments = (ins Hybrid_Activation:$input, 2DTensorOf<[I64]>:$experts,
                       2DTensorOf<[F32]>:$weights,
                       Hybrid_FloatTensor:$experts_gate, Hybrid_FloatTensor:$experts_up,
                       Hybrid_FloatTensor:$experts_down,
                       Optional<Hybrid_Activation>:$shared,
                       Optional<Hybrid_FloatTensor>:$shared_expert_gate);
  let results = (outs Hybrid_Activation:$result);
  let assemblyFormat = [{
    $input `routing` `(` $experts `,` $weights `)`
    `experts_gate` `(` $experts_gate `)` `experts_up` `(` $experts_up `)`
    `experts_down` `(` $experts_down `)`
    (`shared` `(` $shared^ `)`)?
    (`shared_expert_gate` `(` $shared_expert_gate^ `)`)?
    attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Mixers
//===----------------------------------------------------------------------===//

def Hybrid_AttentionOp : Hybrid_Op<"attention", [AttrSizedOperandSegments]> {
  let summary = "causal grouped-query attention with a KV cache";
  let description = [{
    For tokens at `positions` (models.md 1.4, 2.4):
    1. `q = x q_proj^T` viewed `[T, num_heads, head_dim]`; with `output_gate`
       `q_proj` has `2 * num_heads * head_dim` rows laid out per head as
       `[query | gate]`. `k = x k_proj^T`, `v = x v_proj^T` with
       `num_kv_heads` heads.
    2. With `q_norm`/`k_norm`: RMSNorm of kind `qk_norm` over each head.
    3. RoPE (`rope_style = half`: pairs (j, j + d/2)) on the first
       `rotary_dim` elements of every q and k head, `inv_freq_j =
       rope_theta^(-2j/rotary_dim)`, YaRN-scaled when `yarn` is set;
       `rotary_dim = 0` means no positional encoding (Jamba).
    4. k, v are appended to `cache`; query head h reads kv head
       `h / (num_heads / num_kv_heads)`.
    5. `o = softmax(q k^T * scale + causal mask) v` over every cached position.
    6. With `output_gate`: `o = o * sigmoid(gate)`. `y = o o_proj^T`.
  }];
  let arguments = (ins Hybrid_Activation:$input, Hybrid_Positions:$positions,
                       Hybrid_State<Hybrid_KVCacheType>:$cache,
                       Hybrid_FloatTensor:$q_proj, Hybrid_FloatTensor:$k_proj,
                       Hybrid_FloatTensor:$v_proj, Hybrid_FloatTensor:$o_proj,
                       Optional<Hybrid_FloatTensor>:$q_norm,
                       Optional<Hybrid_FloatTensor>:$k_norm,
                       I64Attr:$num_heads, I64Attr:$num_kv_heads, I64Attr:$head_dim,
                       I64Attr:$rotary_dim, F64Attr:$rope_theta,
                       DefaultValuedAttr<Hybrid_RopeStyle, "RopeStyle::half">:$rope_style,
                       OptionalAttr<Hybrid_YarnAttr>:$yarn,
                       F64Attr:$scale, UnitAttr:$output_gate,
                       OptionalAttr<Hybrid_NormKind>:$qk_norm,
                       OptionalAttr<F64Attr>:$norm_epsilon);
  let results = (outs Hybrid_Activation:$result);
  let assemblyFormat = [{
    $input `,` $positions `,` $cache `q_proj` `(` $q_proj `)` `k_proj` `(` $k_proj `)`
    `v_proj` `(` $v_proj `)` `o_proj` `(` $o_proj `)`
    (`q_norm` `(` $q_norm^ `)`)? (`k_norm` `(` $k_norm^ `)`)?
    (`qk_norm` $qk_norm^)? (`rope_style` $rope_style^)?
    attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def Hybrid_MLAOp : Hybrid_Op<"mla", [AttrSizedOperandSegments]> {
  let summary = "Multi-head Latent Attention (DeepSeek-V3) with a latent cache";
  let description = [{
    models.md 3.4 and 3.5. Queries: with `q_lora_rank > 0`,
    `q = RMSNorm(x q_a_proj^T; q_a_layernorm) q_b_proj^T`, else `q = x q_proj^T`,
    viewed `[T, num_heads, qk_nope_head_dim + qk_rope_head_dim]`.
    `[c | k_pe] = x kv_a_proj_with_mqa^T`; `c = RMSNorm(c; kv_a_layernorm)`
    (plain, `norm_epsilon`); `k_pe` is one rope head shared by all heads.
    RoPE (`rope_style`, YaRN when set) rotates `q_pe` and `k_pe`; `c` and the
    rotated `k_pe` are appended to `cache`.
    `[k_nope | v] = c kv_b_proj^T` per head; `k = [k_nope | k_pe]`;
    `o = softmax(q k^T * scale + causal mask) v`; `y = o o_proj^T`.
    `scale` already includes YaRN's `mscale^2`. Decode may use the absorbed
    form (3.5), which is mathematically equal.
  }];
  let arguments = (ins Hybrid_Activation:$input, Hybrid_Positions:$positions,
                       Hybrid_State<Hybrid_LatentCacheType>:$cache,
                       Optional<Hybrid_FloatTensor>:$q_a_proj,
                       Optional<Hybrid_FloatTensor>:$q_a_layernorm,
                       Optional<Hybrid_FloatTensor>:$q_b_proj,
                       Optional<Hybrid_FloatTensor>:$q_proj,
                       Hybrid_FloatTensor:$kv_a_proj_with_mqa,
                       Hybrid_FloatTensor:$kv_a_layernorm,
                       Hybrid_FloatTensor:$kv_b_proj, Hybrid_FloatTensor:$o_proj,
                       I64Attr:$num_heads, I64Attr:$q_lora_rank, I64Attr:$kv_lora_rank,
                       I64Attr:$qk_nope_head_dim, I64Attr:$qk_rope_head_dim,
                       I64Attr:$v_head_dim, F64Attr:$rope_theta,
                       DefaultValuedAttr<Hybrid_RopeStyle, "RopeStyle::interleaved">:$rope_style,
                       OptionalAttr<Hybrid_YarnAttr>:$yarn,
                       F64Attr:$scale, F64Attr:$norm_epsilon);
  let results = (outs Hybrid_Activation:$result);
  let assemblyFormat = [{
    $input `,` $positions `,` $cache
    (`q_a_proj` `(` $q_a_proj^ `)`)? (`q_a_layernorm` `(` $q_a_layernorm^ `)`)?
    (`q_b_proj` `(` $q_b_proj^ `)`)? (`q_proj` `(` $q_proj^ `)`)?
    `kv_a_proj_with_mqa` `(` $kv_a_proj_with_mqa `)`
    `kv_a_layernorm` `(` $kv_a_layernorm `)` `kv_b_proj` `(` $kv_b_proj `)`
    `o_proj` `(` $o_proj `)` (`rope_style` $rope_style^)?
    attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def Hybrid_GatedDeltaNetOp : Hybrid_Op<"gated_delta_net"> {
  let summary = "Gated DeltaNet linear attention (Qwen3-Next)";
  let description = [{
    models.md 1.5, with Hk = `num_k_heads`, Hv = `num_v_heads`,
    dk = `k_head_dim`, dv = `v_head_dim`:
    1. `P = x in_proj_qkvz^T`, grouped per k-head as `[q | k | v (Hv/Hk heads)
       | z (Hv/Hk heads)]`; `BA = x in_proj_ba^T` grouped per k-head as
       `[b (Hv/Hk) | a (Hv/Hk)]`.
    2. `mixed = [all q | all k | all v]`; `mixed = silu(causal_conv1d(mixed))`
       with kernel `conv_kernel` (no bias), continuing from `conv_state`.
    3. `beta = sigmoid(b)`; `g = -exp(a_log) * softplus(a + dt_bias)` (f32).
    4. q, k are repeated to Hv heads (v-head j reads k-head j / (Hv/Hk)),
       L2-normalised (eps 1e-6 inside the sqrt); `q *= dk^-1/2`.
    5. Gated delta rule per v-head from `recurrent_state` S `[dk, dv]`:
       `S = exp(g_t) S; u = beta_t (v_t - S^T k_t); S += k_t u^T; o_t = S^T q_t`.
    6. `o = rms_norm gated(o, z; norm)` per head (`norm_epsilon`);
       `y = o out_proj^T`.

    Without `chunk_size` the rule runs token by token as written in 5.
    With it (set by `hybrid-tile-scans`), a call of several tokens of one
    sequence runs the chunked form (models.md 1.5.2): chunks of
    `chunk_size` tokens, dense products inside a chunk (UT transform, WY
    representation), the state carried from chunk to chunk; the same
    numbers up to rounding. Single tokens (decode) keep the step above.
  }];
  let arguments = (ins Hybrid_Activation:$input,
                       Hybrid_State<Hybrid_ConvStateType>:$conv_state,
                       Hybrid_State<Hybrid_RecurrentStateType>:$recurrent_state,
                       Hybrid_FloatTensor:$in_proj_qkvz, Hybrid_FloatTensor:$in_proj_ba,
                       Hybrid_FloatTensor:$conv1d, Hybrid_FloatTensor:$dt_bias,
                       Hybrid_FloatTensor:$a_log, Hybrid_FloatTensor:$norm,
                       Hybrid_FloatTensor:$out_proj,
                       I64Attr:$num_k_heads, I64Attr:$num_v_heads, I64Attr:$k_head_dim,
                       I64Attr:$v_head_dim, I64Attr:$conv_kernel, F64Attr:$norm_epsilon,
                       OptionalAttr<ConfinedAttr<I64Attr, [IntPositive]>>:$chunk_size);
  let results = (outs Hybrid_Activation:$result);
  let assemblyFormat = [{
    $input `,` $conv_state `,` $recurrent_state
    `in_proj_qkvz` `(` $in_proj_qkvz `)` `in_proj_ba` `(` $in_proj_ba `)`
    `conv1d` `(` $conv1d `)` `dt_bias` `(` $dt_bias `)` `a_log` `(` $a_log `)`
    `norm` `(` $norm `)` `out_proj` `(` $out_proj `)`
    attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def Hybrid_MambaOp : Hybrid_Op<"mamba", [AttrSizedOperandSegments]> {
  let summary = "Mamba-1 selective state-space mixer (Jamba variant)";
  let description = [{
    models.md 2.5, with D = `d_inner`, N = `d_state`, R = `dt_rank`:
    1. `[xs | z] = x in_proj^T (+ in_proj_bias)` split `[D, D]`.
    2. `xs = silu(causal_conv1d(xs; conv1d, conv1d_bias))`, kernel `d_conv`,
       continuing from `conv_state`.
    3. `[delta | B | C] = xs x_proj^T` split `[R, N, N]`; when given,
       `dt_layernorm`, `b_layernorm`, `c_layernorm` RMS-normalise them
       (plain, `norm_epsilon`).
    4. `dt = softplus(delta dt_proj^T + dt_proj_bias)`; `A = -exp(a_log)`.
    5. Scan per channel c, state n, from `ssm_state` h `[D, N]` (f32):
       `h = exp(dt_c A_cn) h + dt_c B_n xs_c`; `y_c = sum_n h_cn C_n + d_c xs_c`.
    6. `y = (y * silu(z)) out_proj^T (+ out_proj_bias)`.

    Without `chunk_size` the scan runs token by token as written in 5.
    With it (set by `hybrid-tile-scans`), a call of several tokens of one
    sequence scans in blocks of `chunk_size` tokens: the decays
    `exp(dt A)` and inputs `dt B xs` of a whole block are computed first,
    independent of each other, and only the multiply-add
    `h = decay h + input` runs in sequence.
  }];
  let arguments = (ins Hybrid_Activation:$input,
                       Hybrid_State<Hybrid_ConvStateType>:$conv_state,
                       Hybrid_State<Hybrid_RecurrentStateType>:$ssm_state,
                       Hybrid_FloatTensor:$in_proj, Optional<Hybrid_FloatTensor>:$in_proj_bias,
                       Hybrid_FloatTensor:$conv1d, Optional<Hybrid_FloatTensor>:$conv1d_bias,
                       Hybrid_FloatTensor:$x_proj, Hybrid_FloatTensor:$dt_proj,
                       Hybrid_FloatTensor:$dt_proj_bias, Hybrid_FloatTensor:$a_log,
                       Hybrid_FloatTensor:$d, Hybrid_FloatTensor:$out_proj,
                       Optional<Hybrid_FloatTensor>:$out_proj_bias,
                       Optional<Hybrid_FloatTensor>:$dt_layernorm,
                       Optional<Hybrid_FloatTensor>:$b_layernorm,
                       Optional<Hybrid_FloatTensor>:$c_layernorm,
                       I64Attr:$d_inner, I64Attr:$d_state, I64Attr:$d_conv,
                       I64Attr:$dt_rank, F64Attr:$norm_epsilon,
                       OptionalAttr<ConfinedAttr<I64Attr, [IntPositive]>>:$chunk_size);
  let results = (outs Hybrid_Activation:$result);
  let assemblyFormat = [{
    $input `,` $conv_state `,` $ssm_state `in_proj` `(` $in_proj `)`
    (`in_proj_bias` `(` $in_proj_bias^ `)`)?
    `conv1d` `(` $conv1d `)` (`conv1d_bias` `(` $conv1d_bias^ `)`)?
    `x_proj` `(` $x_proj `)` `dt_proj` `(` $dt_proj `)`
    `dt_proj_bias` `(` $dt_proj_bias `)` `a_log` `(` $a_log `)` `d` `(` $d `)`
    `out_proj` `(` $out_proj `)` (`out_proj_bias` `(` $out_proj_bias^ `)`)?
    (`dt_layernorm` `(` $dt_layernorm^ `)`)? (`b_layernorm` `(` $b_layernorm^ `)`)?
    (`c_layernorm` `(` $c_layernorm^ `)`)?
    attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Multi-token prediction
//===----------------------------------------------------------------------===//

def Hybrid_MTPOp : Hybrid_Op<"mtp", [Pure]> {
  let summary = "input projection of a multi-token-prediction module";
  let description = [{
    models.md 1.7 and 3.8: for the main model's hidden state `h_i` and the
    embedding `e` of token `t_{i+1}`:
    `y = concat(RMSNorm(e; enorm), RMSNorm(h_i; hnorm)) eh_proj^T` — the
    embedding half first; `eh_proj` is `[H, 2H]`. The result feeds one
    decoder layer whose output, normed and projected by the LM head, drafts
    `t_{i+2}`. `kind` is the norm variant of the family.
  }];
  let arguments = (ins Hybrid_Activation:$hidden, Hybrid_Activation:$embedded,
                       Hybrid_FloatTensor:$enorm, Hybrid_FloatTensor:$hnorm,
                       Hybrid_FloatTensor:$eh_proj, Hybrid_NormKind:$kind,
                       F64Attr:$epsilon);
  let results = (outs Hybrid_Activation:$result);
  let assemblyFormat = [{
    $kind $hidden `,` $embedded `enorm` `(` $enorm `)` `hnorm` `(` $hnorm `)`
    `eh_proj` `(` $eh_proj `)` attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Dispatches (after bufferization)
//===----------------------------------------------------------------------===//

def Hybrid_DispatchOp : Hybrid_Op<"dispatch",
    [DeclareOpInterfaceMethods<SymbolUserOpInterface>]> {
  let summary = "run a kernel over a range of workgroups";
  let description = [{
    Runs the kernel `callee` for the workgroups `0 .. workgroups - 1`. The
    kernel is a function `(begin: index, end: index, operands...)` that runs
    the workgroups `begin .. end - 1` in order and may be called for any
    split of the range, in any order and concurrently: workgroups must not
    depend on each other. The operands (buffers and scalars) are passed
    unchanged to every call. Formed by `hybrid-form-dispatches` from
    parallel loops; the CPU executor spreads the range over its threads.
    After `hybrid-kernels-to-gpu` the callee is a kernel of the GPU module
    (`@hybrid_kernels::@k`), whose threads each run one workgroup.

    ```mlir
    hybrid.dispatch @forward_dispatch_0 workgroups(%n) (%a, %b)
      : memref<?x16xf32>, memref<?x16xf32>
    ```
  }];
  let arguments = (ins SymbolRefAttr:$callee, Index:$workgroups,
                       Variadic<AnyType>:$kernel_operands);
  let assemblyFormat = [{
    $callee `workgroups` `(` $workgroups `)`
    (`(` $kernel_operands^ `)` `:` type($kernel_operands))? attr-dict
  }];
}

//===----------------------------------------------------------------------===//
// Kernel-level tensor-core products (inside block kernels' warps loops)
//===----------------------------------------------------------------------===//

def Hybrid_CoreMatrices : MemRefRankOf<[BF16], [4]>;
def Hybrid_WarpTile : VectorOfRankAndType<[2], [F32]>;

def Hybrid_WarpgroupMmaOp : Hybrid_Op<"warpgroup_mma",
    [DeclareOpInterfaceMethods<InferTypeOpInterface>]> {
  let summary = "one warp's rows of a warpgroup's bf16 tensor-core product";
  let description = [{
    The four warps of a block kernel's warps loop (`hybrid.warps`) compute
    together D[64, 8n] += A[64, 16] B[16, 8n] on bf16 operands with f32
    accumulators; this op is the part of warp `warp` (0 to 3): rows
    [16 warp, 16 warp + 16) of D, as its n accumulator tiles [16, 8] (tile
    c holds columns [8c, 8c + 8)). All four warps run it together with the
    same operands except the accumulators.

    A and B are in memory as 8x8 core matrices, each contiguous: A's core
    matrix (i, j), rows [8i, 8i + 8) and inputs [8j, 8j + 8) of A, row by
    row, is `a[a_row + i, a_column + j]`; B's (j, c), inputs [8j, 8j + 8)
    and columns [8c, 8c + 8) of B, input by input, is
    `b[b_row + j, b_column + c]`. These are the canonical layouts of
    sm_90a's `wgmma.mma_async` without swizzling, A K-major and B N-major:
    `hybrid-warpgroup-mma-to-nvvm` makes the op one wgmma of the block's
    warpgroup, its matrix descriptors from the buffers' strides, and
    `hybrid-expand-warpgroup-mma` makes it the warp's `vector.contract`
    tiles for the CPU.

    ```mlir
    %d:16 = hybrid.warpgroup_mma %x[%r, %k], %w[%k2, %c] warp(%warp)
        acc(%acc0, ..., %acc15) : memref<16x4x8x8xbf16>, memref<8x16x8x8xbf16>,
        vector<16x8xf32>, ..., vector<16x8xf32>
    ```
  }];
  let arguments = (ins Arg<Hybrid_CoreMatrices, "A's core matrices", [MemRead]>:$a,
                       Index:$a_row, Index:$a_column,
                       Arg<Hybrid_CoreMatrices, "B's core matrices", [MemRead]>:$b,
                       Index:$b_row, Index:$b_column,
                       Index:$warp,
                       Variadic<Hybrid_WarpTile>:$accumulators);
  let results = (outs Variadic<Hybrid_WarpTile>:$results);
  let assemblyFormat = [{
    $a `[` $a_row `,` $a_column `]` `,` $b `[` $b_row `,` $b_column `]`
    `warp` `(` $warp `)` `acc` `(` $accumulators `)` attr-dict `:`
    type($a) `,` type($b) `,` type($accumulators)
  }];
  let hasVerifier = 1;
}

#endif // HYBRIDC_DIALECTS_HYBRID_IR_HYBRIDOPS_TD
