// RUN: hybrid-opt %s | hybrid-opt | FileCheck %s
// RUN: hybrid-opt %s --mlir-print-op-generic | hybrid-opt | FileCheck %s

// CHECK-LABEL: func.func @weights
// CHECK: hybrid.weight "model.embed_tokens.weight" : tensor<16x8xbf16>
// CHECK: hybrid.weight "m.experts.{e}.gate_proj.weight" experts(4) : tensor<4x6x8xf16>
func.func @weights() -> (tensor<16x8xbf16>, tensor<4x6x8xf16>) {
  %0 = hybrid.weight "model.embed_tokens.weight" : tensor<16x8xbf16>
  %1 = hybrid.weight "m.experts.{e}.gate_proj.weight" experts(4) : tensor<4x6x8xf16>
  return %0, %1 : tensor<16x8xbf16>, tensor<4x6x8xf16>
}

// CHECK-LABEL: func.func @dequantize_fp8_blocks
// CHECK: %[[Q:.*]] = hybrid.weight "w.weight" : tensor<200x130xf8E4M3FN>
// CHECK: %[[S:.*]] = hybrid.weight "w.weight_scale_inv" : tensor<2x2xf32>
// CHECK: hybrid.dequantize %[[Q]], %[[S]] block [128, 128] : (tensor<200x130xf8E4M3FN>, tensor<2x2xf32>) -> tensor<200x130xbf16>
func.func @dequantize_fp8_blocks() -> tensor<200x130xbf16> {
  %q = hybrid.weight "w.weight" : tensor<200x130xf8E4M3FN>
  %s = hybrid.weight "w.weight_scale_inv" : tensor<2x2xf32>
  %w = hybrid.dequantize %q, %s block [128, 128] : (tensor<200x130xf8E4M3FN>, tensor<2x2xf32>) -> tensor<200x130xbf16>
  return %w : tensor<200x130xbf16>
}

// CHECK-LABEL: func.func @embed_norms_head
// CHECK-SAME: (%[[TOKENS:.*]]: tensor<?xi64>, %[[Z:.*]]: tensor<?x8xf32>)
// CHECK: %[[H:.*]] = hybrid.embed %[[TOKENS]], %{{.*}} : (tensor<?xi64>, tensor<16x8xbf16>) -> tensor<?x8xf32>
// CHECK: %[[P:.*]] = hybrid.rms_norm plain %[[H]], %{{.*}} {epsilon = 9.9999999999999995E-7 : f64}
// CHECK: %[[C:.*]] = hybrid.rms_norm zero_centered %[[P]], %{{.*}} {epsilon = 9.9999999999999995E-7 : f64}
// CHECK: %[[G:.*]] = hybrid.rms_norm gated %[[C]], %{{.*}} gate %[[Z]] {epsilon = 9.9999999999999995E-7 : f64}
// CHECK: hybrid.lm_head %[[G]], %{{.*}} : (tensor<?x8xf32>, tensor<16x8xbf16>) -> tensor<?x16xf32>
func.func @embed_norms_head(%tokens: tensor<?xi64>, %z: tensor<?x8xf32>) -> tensor<?x16xf32> {
  %table = hybrid.weight "model.embed_tokens.weight" : tensor<16x8xbf16>
  %w = hybrid.weight "norm.weight" : tensor<8xf32>
  %h = hybrid.embed %tokens, %table : (tensor<?xi64>, tensor<16x8xbf16>) -> tensor<?x8xf32>
  %p = hybrid.rms_norm plain %h, %w {epsilon = 1.0e-06 : f64} : (tensor<?x8xf32>, tensor<8xf32>) -> tensor<?x8xf32>
  %c = hybrid.rms_norm zero_centered %p, %w {epsilon = 1.0e-06 : f64} : (tensor<?x8xf32>, tensor<8xf32>) -> tensor<?x8xf32>
  %g = hybrid.rms_norm gated %c, %w gate %z {epsilon = 1.0e-06 : f64} : (tensor<?x8xf32>, tensor<8xf32>, tensor<?x8xf32>) -> tensor<?x8xf32>
  %l = hybrid.lm_head %g, %table : (tensor<?x8xf32>, tensor<16x8xbf16>) -> tensor<?x16xf32>
  return %l : tensor<?x16xf32>
}

// CHECK-LABEL: func.func @mlp_swiglu
// CHECK: hybrid.mlp %{{.*}} gate_proj(%{{.*}}) up_proj(%{{.*}}) down_proj(%{{.*}}) : (tensor<?x8xf32>, tensor<12x8xf32>, tensor<12x8xf32>, tensor<8x12xf32>) -> tensor<?x8xf32>
func.func @mlp_swiglu(%x: tensor<?x8xf32>) -> tensor<?x8xf32> {
  %g = hybrid.weight "gate" : tensor<12x8xf32>
  %d = hybrid.weight "down" : tensor<8x12xf32>
  %y = hybrid.mlp %x gate_proj(%g) up_proj(%g) down_proj(%d) : (tensor<?x8xf32>, tensor<12x8xf32>, tensor<12x8xf32>, tensor<8x12xf32>) -> tensor<?x8xf32>
  return %y : tensor<?x8xf32>
}

// CHECK-LABEL: func.func @moe_softmax_shared_gated
// CHECK: hybrid.moe softmax %{{.*}} router(%{{.*}}) experts_gate(%{{.*}}) experts_up(%{{.*}}) experts_down(%{{.*}}) shared_gate(%{{.*}}) shared_up(%{{.*}}) shared_down(%{{.*}}) shared_expert_gate(%{{.*}}) {norm_topk_prob = true, num_experts = 4 : i64, top_k = 2 : i64}
func.func @moe_softmax_shared_gated(%x: tensor<?x8xf32>) -> tensor<?x8xf32> {
  %r = hybrid.weight "router" : tensor<4x8xf32>
  %g = hybrid.weight "e.{e}.gate" experts(4) : tensor<4x6x8xf32>
  %d = hybrid.weight "e.{e}.down" experts(4) : tensor<4x8x6xf32>
  %sg = hybrid.weight "s.gate" : tensor<5x8xf32>
  %sd = hybrid.weight "s.down" : tensor<8x5xf32>
  %sgate = hybrid.weight "s.gate_gate" : tensor<1x8xf32>
  %y = hybrid.moe softmax %x router(%r) experts_gate(%g) experts_up(%g) experts_down(%d) shared_gate(%sg) shared_up(%sg) shared_down(%sd) shared_expert_gate(%sgate) {norm_topk_prob = true, num_experts = 4 : i64, top_k = 2 : i64} : (tensor<?x8xf32>, tensor<4x8xf32>, tensor<4x6x8xf32>, tensor<4x6x8xf32>, tensor<4x8x6xf32>, tensor<5x8xf32>, tensor<5x8xf32>, tensor<8x5xf32>, tensor<1x8xf32>) -> tensor<?x8xf32>
  return %y : tensor<?x8xf32>
}

// CHECK-LABEL: func.func @moe_sigmoid_grouped_biased
// CHECK: hybrid.moe sigmoid %{{.*}} selection_bias(%{{.*}}) {n_group = 4 : i64, norm_topk_prob = false, num_experts = 8 : i64, routed_scaling_factor = 2.500000e+00 : f64, top_k = 3 : i64, topk_group = 2 : i64}
func.func @moe_sigmoid_grouped_biased(%x: tensor<?x8xf32>) -> tensor<?x8xf32> {
  %r = hybrid.weight "router" : tensor<8x8xf32>
  %g = hybrid.weight "e.{e}.gate" experts(8) : tensor<8x6x8xf32>
  %d = hybrid.weight "e.{e}.down" experts(8) : tensor<8x8x6xf32>
  %b = hybrid.weight "bias" : tensor<8xf32>
  %y = hybrid.moe sigmoid %x router(%r) experts_gate(%g) experts_up(%g) experts_down(%d) selection_bias(%b) {n_group = 4 : i64, norm_topk_prob = false, num_experts = 8 : i64, routed_scaling_factor = 2.5 : f64, top_k = 3 : i64, topk_group = 2 : i64} : (tensor<?x8xf32>, tensor<8x8xf32>, tensor<8x6x8xf32>, tensor<8x6x8xf32>, tensor<8x8x6xf32>, tensor<8xf32>) -> tensor<?x8xf32>
  return %y : tensor<?x8xf32>
}

// CHECK-LABEL: func.func @attention_gated_partial_rope_qk_norm
// CHECK-SAME: !hybrid.kv_cache<2x8xbf16>
// CHECK: hybrid.attention %{{.*}}, %{{.*}}, %{{.*}} q_proj(%{{.*}}) k_proj(%{{.*}}) v_proj(%{{.*}}) o_proj(%{{.*}}) q_norm(%{{.*}}) k_norm(%{{.*}}) qk_norm zero_centered {head_dim = 8 : i64, norm_epsilon = 9.9999999999999995E-7 : f64, num_heads = 4 : i64, num_kv_heads = 2 : i64, output_gate, rope_theta = 1.000000e+07 : f64, rotary_dim = 2 : i64, scale = 0.35355339059327379 : f64}
func.func @attention_gated_partial_rope_qk_norm(%x: tensor<?x16xf32>, %pos: tensor<?xi64>, %kv: !hybrid.kv_cache<2x8xbf16>) -> tensor<?x16xf32> {
  %q = hybrid.weight "q" : tensor<64x16xf32>
  %k = hybrid.weight "k" : tensor<16x16xf32>
  %o = hybrid.weight "o" : tensor<16x32xf32>
  %n = hybrid.weight "n" : tensor<8xf32>
  %a = hybrid.attention %x, %pos, %kv q_proj(%q) k_proj(%k) v_proj(%k) o_proj(%o) q_norm(%n) k_norm(%n) qk_norm zero_centered {head_dim = 8 : i64, norm_epsilon = 1.0e-06 : f64, num_heads = 4 : i64, num_kv_heads = 2 : i64, output_gate, rope_theta = 1.0e+07 : f64, rotary_dim = 2 : i64, scale = 0.35355339059327379 : f64} : (tensor<?x16xf32>, tensor<?xi64>, !hybrid.kv_cache<2x8xbf16>, tensor<64x16xf32>, tensor<16x16xf32>, tensor<16x16xf32>, tensor<16x32xf32>, tensor<8xf32>, tensor<8xf32>) -> tensor<?x16xf32>
  return %a : tensor<?x16xf32>
}

// CHECK-LABEL: func.func @attention_no_rope_yarn_interleaved
// CHECK: hybrid.attention {{.*}} o_proj(%{{.*}}) rope_style interleaved {head_dim = 8 : i64, num_heads = 2 : i64, num_kv_heads = 2 : i64, rope_theta = 1.000000e+04 : f64, rotary_dim = 8 : i64, scale = 2.500000e-01 : f64, yarn = #hybrid.yarn<factor = 4.000000e+01, original = 4096, beta_fast = 3.200000e+01, beta_slow = 1.000000e+00, attention_factor = 1.000000e+00, truncate = true>}
// CHECK: hybrid.attention {{.*}}rotary_dim = 0 : i64
func.func @attention_no_rope_yarn_interleaved(%x: tensor<?x16xf32>, %pos: tensor<?xi64>, %kv: !hybrid.kv_cache<2x8xf32>) -> tensor<?x16xf32> {
  %q = hybrid.weight "q" : tensor<16x16xf32>
  %a = hybrid.attention %x, %pos, %kv q_proj(%q) k_proj(%q) v_proj(%q) o_proj(%q) rope_style interleaved {head_dim = 8 : i64, num_heads = 2 : i64, num_kv_heads = 2 : i64, rope_theta = 1.0e+04 : f64, rotary_dim = 8 : i64, scale = 0.25 : f64, yarn = #hybrid.yarn<factor = 40.0, original = 4096, beta_fast = 32.0, beta_slow = 1.0, attention_factor = 1.0, truncate = true>} : (tensor<?x16xf32>, tensor<?xi64>, !hybrid.kv_cache<2x8xf32>, tensor<16x16xf32>, tensor<16x16xf32>, tensor<16x16xf32>, tensor<16x16xf32>) -> tensor<?x16xf32>
  %b = hybrid.attention %a, %pos, %kv q_proj(%q) k_proj(%q) v_proj(%q) o_proj(%q) {head_dim = 8 : i64, num_heads = 2 : i64, num_kv_heads = 2 : i64, rope_theta = 1.0e+04 : f64, rotary_dim = 0 : i64, scale = 0.25 : f64} : (tensor<?x16xf32>, tensor<?xi64>, !hybrid.kv_cache<2x8xf32>, tensor<16x16xf32>, tensor<16x16xf32>, tensor<16x16xf32>, tensor<16x16xf32>) -> tensor<?x16xf32>
  return %b : tensor<?x16xf32>
}

// CHECK-LABEL: func.func @mla_q_lora
// CHECK-SAME: !hybrid.latent_cache<6x4xbf16>
// CHECK: hybrid.mla %{{.*}}, %{{.*}}, %{{.*}} q_a_proj(%{{.*}}) q_a_layernorm(%{{.*}}) q_b_proj(%{{.*}}) kv_a_proj_with_mqa(%{{.*}}) kv_a_layernorm(%{{.*}}) kv_b_proj(%{{.*}}) o_proj(%{{.*}}) {kv_lora_rank = 6 : i64
func.func @mla_q_lora(%x: tensor<?x16xf32>, %pos: tensor<?xi64>, %c: !hybrid.latent_cache<6x4xbf16>) -> tensor<?x16xf32> {
  %qa = hybrid.weight "q_a" : tensor<5x16xf32>
  %qan = hybrid.weight "q_a_norm" : tensor<5xf32>
  %qb = hybrid.weight "q_b" : tensor<24x5xf32>
  %kva = hybrid.weight "kv_a" : tensor<10x16xf32>
  %kvan = hybrid.weight "kv_a_norm" : tensor<6xf32>
  %kvb = hybrid.weight "kv_b" : tensor<28x6xf32>
  %o = hybrid.weight "o" : tensor<16x12xf32>
  %y = hybrid.mla %x, %pos, %c q_a_proj(%qa) q_a_layernorm(%qan) q_b_proj(%qb) kv_a_proj_with_mqa(%kva) kv_a_layernorm(%kvan) kv_b_proj(%kvb) o_proj(%o) {kv_lora_rank = 6 : i64, norm_epsilon = 1.0e-06 : f64, num_heads = 2 : i64, q_lora_rank = 5 : i64, qk_nope_head_dim = 8 : i64, qk_rope_head_dim = 4 : i64, rope_theta = 1.0e+04 : f64, scale = 0.3 : f64, v_head_dim = 6 : i64} : (tensor<?x16xf32>, tensor<?xi64>, !hybrid.latent_cache<6x4xbf16>, tensor<5x16xf32>, tensor<5xf32>, tensor<24x5xf32>, tensor<10x16xf32>, tensor<6xf32>, tensor<28x6xf32>, tensor<16x12xf32>) -> tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}

// CHECK-LABEL: func.func @mla_plain_q_half_rope
// CHECK: hybrid.mla %{{.*}}, %{{.*}}, %{{.*}} q_proj(%{{.*}}) kv_a_proj_with_mqa(%{{.*}}) kv_a_layernorm(%{{.*}}) kv_b_proj(%{{.*}}) o_proj(%{{.*}}) rope_style half {
func.func @mla_plain_q_half_rope(%x: tensor<?x16xf32>, %pos: tensor<?xi64>, %c: !hybrid.latent_cache<6x4xf32>) -> tensor<?x16xf32> {
  %q = hybrid.weight "q" : tensor<24x16xf32>
  %kva = hybrid.weight "kv_a" : tensor<10x16xf32>
  %kvan = hybrid.weight "kv_a_norm" : tensor<6xf32>
  %kvb = hybrid.weight "kv_b" : tensor<28x6xf32>
  %o = hybrid.weight "o" : tensor<16x12xf32>
  %y = hybrid.mla %x, %pos, %c q_proj(%q) kv_a_proj_with_mqa(%kva) kv_a_layernorm(%kvan) kv_b_proj(%kvb) o_proj(%o) rope_style half {kv_lora_rank = 6 : i64, norm_epsilon = 1.0e-06 : f64, num_heads = 2 : i64, q_lora_rank = 0 : i64, qk_nope_head_dim = 8 : i64, qk_rope_head_dim = 4 : i64, rope_theta = 1.0e+04 : f64, scale = 0.3 : f64, v_head_dim = 6 : i64} : (tensor<?x16xf32>, tensor<?xi64>, !hybrid.latent_cache<6x4xf32>, tensor<24x16xf32>, tensor<10x16xf32>, tensor<6xf32>, tensor<28x6xf32>, tensor<16x12xf32>) -> tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}

// Hk = 2, Hv = 4, dk = 3, dv = 2, K = 4: qkvz rows 2*2*3 + 2*4*2 = 28,
// conv channels 2*2*3 + 4*2 = 20.
// CHECK-LABEL: func.func @gated_delta_net
// CHECK-SAME: !hybrid.conv_state<20x3xbf16>, %{{.*}}: !hybrid.recurrent_state<4x3x2xf32>
// CHECK: hybrid.gated_delta_net %{{.*}}, %{{.*}}, %{{.*}} in_proj_qkvz(%{{.*}}) in_proj_ba(%{{.*}}) conv1d(%{{.*}}) dt_bias(%{{.*}}) a_log(%{{.*}}) norm(%{{.*}}) out_proj(%{{.*}}) {conv_kernel = 4 : i64, k_head_dim = 3 : i64, norm_epsilon = 9.9999999999999995E-7 : f64, num_k_heads = 2 : i64, num_v_heads = 4 : i64, v_head_dim = 2 : i64}
func.func @gated_delta_net(%x: tensor<?x10xf32>, %conv: !hybrid.conv_state<20x3xbf16>, %s: !hybrid.recurrent_state<4x3x2xf32>) -> tensor<?x10xf32> {
  %qkvz = hybrid.weight "qkvz" : tensor<28x10xf32>
  %ba = hybrid.weight "ba" : tensor<8x10xf32>
  %c = hybrid.weight "conv" : tensor<20x1x4xf32>
  %hv = hybrid.weight "hv" : tensor<4xf32>
  %n = hybrid.weight "norm" : tensor<2xf32>
  %out = hybrid.weight "out" : tensor<10x8xf32>
  %y = hybrid.gated_delta_net %x, %conv, %s in_proj_qkvz(%qkvz) in_proj_ba(%ba) conv1d(%c) dt_bias(%hv) a_log(%hv) norm(%n) out_proj(%out) {conv_kernel = 4 : i64, k_head_dim = 3 : i64, norm_epsilon = 1.0e-06 : f64, num_k_heads = 2 : i64, num_v_heads = 4 : i64, v_head_dim = 2 : i64} : (tensor<?x10xf32>, !hybrid.conv_state<20x3xbf16>, !hybrid.recurrent_state<4x3x2xf32>, tensor<28x10xf32>, tensor<8x10xf32>, tensor<20x1x4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<2xf32>, tensor<10x8xf32>) -> tensor<?x10xf32>
  return %y : tensor<?x10xf32>
}

// D = 12, N = 3, R = 2, K = 4.
// CHECK-LABEL: func.func @mamba_all_options
// CHECK: hybrid.mamba %{{.*}}, %{{.*}}, %{{.*}} in_proj(%{{.*}}) in_proj_bias(%{{.*}}) conv1d(%{{.*}}) conv1d_bias(%{{.*}}) x_proj(%{{.*}}) dt_proj(%{{.*}}) dt_proj_bias(%{{.*}}) a_log(%{{.*}}) d(%{{.*}}) out_proj(%{{.*}}) out_proj_bias(%{{.*}}) dt_layernorm(%{{.*}}) b_layernorm(%{{.*}}) c_layernorm(%{{.*}}) {d_conv = 4 : i64, d_inner = 12 : i64, d_state = 3 : i64, dt_rank = 2 : i64
// CHECK-LABEL: func.func @mamba_minimal
// CHECK: hybrid.mamba %{{.*}}, %{{.*}}, %{{.*}} in_proj(%{{.*}}) conv1d(%{{.*}}) x_proj(%{{.*}}) dt_proj(%{{.*}}) dt_proj_bias(%{{.*}}) a_log(%{{.*}}) d(%{{.*}}) out_proj(%{{.*}}) {d_conv
func.func @mamba_all_options(%x: tensor<?x6xf32>, %conv: !hybrid.conv_state<12x3xf32>, %h: !hybrid.recurrent_state<12x3xf32>) -> tensor<?x6xf32> {
  %in = hybrid.weight "in" : tensor<24x6xf32>
  %inb = hybrid.weight "in.bias" : tensor<24xf32>
  %c = hybrid.weight "conv" : tensor<12x1x4xf32>
  %d = hybrid.weight "d" : tensor<12xf32>
  %xp = hybrid.weight "x_proj" : tensor<8x12xf32>
  %dt = hybrid.weight "dt_proj" : tensor<12x2xf32>
  %a = hybrid.weight "A_log" : tensor<12x3xf32>
  %out = hybrid.weight "out" : tensor<6x12xf32>
  %outb = hybrid.weight "out.bias" : tensor<6xf32>
  %dtn = hybrid.weight "dt_norm" : tensor<2xf32>
  %bn = hybrid.weight "b_norm" : tensor<3xf32>
  %y = hybrid.mamba %x, %conv, %h in_proj(%in) in_proj_bias(%inb) conv1d(%c) conv1d_bias(%d) x_proj(%xp) dt_proj(%dt) dt_proj_bias(%d) a_log(%a) d(%d) out_proj(%out) out_proj_bias(%outb) dt_layernorm(%dtn) b_layernorm(%bn) c_layernorm(%bn) {d_conv = 4 : i64, d_inner = 12 : i64, d_state = 3 : i64, dt_rank = 2 : i64, norm_epsilon = 1.0e-06 : f64} : (tensor<?x6xf32>, !hybrid.conv_state<12x3xf32>, !hybrid.recurrent_state<12x3xf32>, tensor<24x6xf32>, tensor<24xf32>, tensor<12x1x4xf32>, tensor<12xf32>, tensor<8x12xf32>, tensor<12x2xf32>, tensor<12xf32>, tensor<12x3xf32>, tensor<12xf32>, tensor<6x12xf32>, tensor<6xf32>, tensor<2xf32>, tensor<3xf32>, tensor<3xf32>) -> tensor<?x6xf32>
  return %y : tensor<?x6xf32>
}
func.func @mamba_minimal(%x: tensor<?x6xf32>, %conv: !hybrid.conv_state<12x3xf32>, %h: !hybrid.recurrent_state<12x3xf32>) -> tensor<?x6xf32> {
  %in = hybrid.weight "in" : tensor<24x6xf32>
  %c = hybrid.weight "conv" : tensor<12x1x4xf32>
  %d = hybrid.weight "d" : tensor<12xf32>
  %xp = hybrid.weight "x_proj" : tensor<8x12xf32>
  %dt = hybrid.weight "dt_proj" : tensor<12x2xf32>
  %a = hybrid.weight "A_log" : tensor<12x3xf32>
  %out = hybrid.weight "out" : tensor<6x12xf32>
  %y = hybrid.mamba %x, %conv, %h in_proj(%in) conv1d(%c) x_proj(%xp) dt_proj(%dt) dt_proj_bias(%d) a_log(%a) d(%d) out_proj(%out) {d_conv = 4 : i64, d_inner = 12 : i64, d_state = 3 : i64, dt_rank = 2 : i64, norm_epsilon = 1.0e-06 : f64} : (tensor<?x6xf32>, !hybrid.conv_state<12x3xf32>, !hybrid.recurrent_state<12x3xf32>, tensor<24x6xf32>, tensor<12x1x4xf32>, tensor<8x12xf32>, tensor<12x2xf32>, tensor<12xf32>, tensor<12x3xf32>, tensor<12xf32>, tensor<6x12xf32>) -> tensor<?x6xf32>
  return %y : tensor<?x6xf32>
}

// CHECK-LABEL: func.func @mtp_projection
// CHECK: hybrid.mtp plain %{{.*}}, %{{.*}} enorm(%{{.*}}) hnorm(%{{.*}}) eh_proj(%{{.*}}) {epsilon = 9.9999999999999995E-7 : f64} : (tensor<?x8xf32>, tensor<?x8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8x16xf32>) -> tensor<?x8xf32>
func.func @mtp_projection(%h: tensor<?x8xf32>, %e: tensor<?x8xf32>) -> tensor<?x8xf32> {
  %n = hybrid.weight "enorm" : tensor<8xf32>
  %p = hybrid.weight "eh_proj" : tensor<8x16xf32>
  %y = hybrid.mtp plain %h, %e enorm(%n) hnorm(%n) eh_proj(%p) {epsilon = 1.0e-06 : f64} : (tensor<?x8xf32>, tensor<?x8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8x16xf32>) -> tensor<?x8xf32>
  return %y : tensor<?x8xf32>
}
