// RUN: hybrid-opt %s | hybrid-opt | FileCheck %s
// RUN: hybrid-opt %s --mlir-print-op-generic | hybrid-opt | FileCheck %s

// Round trip of every hybrid op, in every variant, and of the four state
// types. Shapes are small but keep the ratios of the real models; the shape
// formulas are the ones of HybridOps.cpp.

//===----------------------------------------------------------------------===//
// Weights
//===----------------------------------------------------------------------===//

// CHECK-LABEL: func.func @weight_plain
// CHECK: %[[W:.*]] = hybrid.weight "model.embed_tokens.weight" : tensor<256x64xbf16>
// CHECK: return %[[W]]
func.func @weight_plain() -> tensor<256x64xbf16> {
  %w = hybrid.weight "model.embed_tokens.weight" : tensor<256x64xbf16>
  return %w : tensor<256x64xbf16>
}

// CHECK-LABEL: func.func @weight_experts
// CHECK: %[[W:.*]] = hybrid.weight "model.layers.0.mlp.experts.{e}.gate_proj.weight" experts(8) : tensor<8x32x64xbf16>
// CHECK: return %[[W]]
func.func @weight_experts() -> tensor<8x32x64xbf16> {
  %w = hybrid.weight "model.layers.0.mlp.experts.{e}.gate_proj.weight" experts(8) : tensor<8x32x64xbf16>
  return %w : tensor<8x32x64xbf16>
}

// 40 outputs in panels of 16: 3 panels of 24 inputs x 16.
// CHECK-LABEL: func.func @weight_packed
// CHECK: %[[W:.*]] = hybrid.weight "lm_head.weight" packed(16) : tensor<3x24x16xbf16>
// CHECK: return %[[W]]
func.func @weight_packed() -> tensor<3x24x16xbf16> {
  %w = hybrid.weight "lm_head.weight" packed(16) : tensor<3x24x16xbf16>
  return %w : tensor<3x24x16xbf16>
}

// The same in pairs of inputs: 3 panels of 12 pairs x 2 * 16.
// CHECK-LABEL: func.func @weight_packed_pairs
// CHECK: hybrid.weight "lm_head.weight" packed(16) pairs : tensor<3x12x32xbf16>
func.func @weight_packed_pairs() -> tensor<3x12x32xbf16> {
  %w = hybrid.weight "lm_head.weight" packed(16) pairs : tensor<3x12x32xbf16>
  return %w : tensor<3x12x32xbf16>
}

// Stacked experts are packed per expert.
// CHECK-LABEL: func.func @weight_experts_packed
// CHECK: hybrid.weight "e.{e}.gate_proj.weight" experts(8) packed(16) : tensor<8x2x64x16xbf16>
func.func @weight_experts_packed() -> tensor<8x2x64x16xbf16> {
  %w = hybrid.weight "e.{e}.gate_proj.weight" experts(8) packed(16) : tensor<8x2x64x16xbf16>
  return %w : tensor<8x2x64x16xbf16>
}

// 200 x 130 with 128 x 128 blocks: ceil(200/128) x ceil(130/128) = 2 x 2.
// CHECK-LABEL: func.func @dequantize_f8E4M3FN_block128
// CHECK: %[[Q:.*]] = hybrid.weight "model.layers.0.self_attn.q_a_proj.weight" : tensor<200x130xf8E4M3FN>
// CHECK: %[[S:.*]] = hybrid.weight "model.layers.0.self_attn.q_a_proj.weight_scale_inv" : tensor<2x2xf32>
// CHECK: %[[W:.*]] = hybrid.dequantize %[[Q]], %[[S]] block [128, 128] : (tensor<200x130xf8E4M3FN>, tensor<2x2xf32>) -> tensor<200x130xbf16>
// CHECK: return %[[W]]
func.func @dequantize_f8E4M3FN_block128() -> tensor<200x130xbf16> {
  %q = hybrid.weight "model.layers.0.self_attn.q_a_proj.weight" : tensor<200x130xf8E4M3FN>
  %s = hybrid.weight "model.layers.0.self_attn.q_a_proj.weight_scale_inv" : tensor<2x2xf32>
  %w = hybrid.dequantize %q, %s block [128, 128] : (tensor<200x130xf8E4M3FN>, tensor<2x2xf32>) -> tensor<200x130xbf16>
  return %w : tensor<200x130xbf16>
}

// Stacked expert weights: the scale keeps the leading expert dimension.
// CHECK-LABEL: func.func @dequantize_f8E4M3FN_stacked_experts
// CHECK: %[[Q:.*]] = hybrid.weight "mlp.experts.{e}.down_proj.weight" experts(4) : tensor<4x64x32xf8E4M3FN>
// CHECK: %[[S:.*]] = hybrid.weight "mlp.experts.{e}.down_proj.weight_scale_inv" experts(4) : tensor<4x4x2xf32>
// CHECK: %[[W:.*]] = hybrid.dequantize %[[Q]], %[[S]] block [16, 16] : (tensor<4x64x32xf8E4M3FN>, tensor<4x4x2xf32>) -> tensor<4x64x32xf32>
// CHECK: return %[[W]]
func.func @dequantize_f8E4M3FN_stacked_experts() -> tensor<4x64x32xf32> {
  %q = hybrid.weight "mlp.experts.{e}.down_proj.weight" experts(4) : tensor<4x64x32xf8E4M3FN>
  %s = hybrid.weight "mlp.experts.{e}.down_proj.weight_scale_inv" experts(4) : tensor<4x4x2xf32>
  %w = hybrid.dequantize %q, %s block [16, 16] : (tensor<4x64x32xf8E4M3FN>, tensor<4x4x2xf32>) -> tensor<4x64x32xf32>
  return %w : tensor<4x64x32xf32>
}

//===----------------------------------------------------------------------===//
// Embedding, norms, head
//===----------------------------------------------------------------------===//

// CHECK-LABEL: func.func @embed
// CHECK-SAME: (%[[TOKENS:.*]]: tensor<?xi64>)
// CHECK: %[[TABLE:.*]] = hybrid.weight "model.embed_tokens.weight" : tensor<256x64xbf16>
// CHECK: %[[H:.*]] = hybrid.embed %[[TOKENS]], %[[TABLE]] : (tensor<?xi64>, tensor<256x64xbf16>) -> tensor<?x64xf32>
// CHECK: return %[[H]]
func.func @embed(%tokens: tensor<?xi64>) -> tensor<?x64xf32> {
  %table = hybrid.weight "model.embed_tokens.weight" : tensor<256x64xbf16>
  %h = hybrid.embed %tokens, %table : (tensor<?xi64>, tensor<256x64xbf16>) -> tensor<?x64xf32>
  return %h : tensor<?x64xf32>
}

// CHECK-LABEL: func.func @select_rows
// CHECK-SAME: (%[[H:.*]]: tensor<?x64xf32>, %[[ROWS:.*]]: tensor<?xi64>)
// CHECK: %[[LAST:.*]] = hybrid.select_rows %[[H]], %[[ROWS]] : (tensor<?x64xf32>, tensor<?xi64>) -> tensor<?x64xf32>
// CHECK: return %[[LAST]]
func.func @select_rows(%h: tensor<?x64xf32>, %rows: tensor<?xi64>) -> tensor<?x64xf32> {
  %last = hybrid.select_rows %h, %rows : (tensor<?x64xf32>, tensor<?xi64>) -> tensor<?x64xf32>
  return %last : tensor<?x64xf32>
}

// CHECK-LABEL: func.func @embed_static_i32_tokens
// CHECK-SAME: (%[[TOKENS:.*]]: tensor<5xi32>, %[[TABLE:.*]]: tensor<256x64xf16>)
// CHECK: %[[H:.*]] = hybrid.embed %[[TOKENS]], %[[TABLE]] : (tensor<5xi32>, tensor<256x64xf16>) -> tensor<5x64xf32>
func.func @embed_static_i32_tokens(%tokens: tensor<5xi32>, %table: tensor<256x64xf16>) -> tensor<5x64xf32> {
  %h = hybrid.embed %tokens, %table : (tensor<5xi32>, tensor<256x64xf16>) -> tensor<5x64xf32>
  return %h : tensor<5x64xf32>
}

// CHECK-LABEL: func.func @rms_norm_plain
// CHECK-SAME: (%[[X:.*]]: tensor<?x64xf32>, %[[W:.*]]: tensor<64xbf16>)
// CHECK: %[[Y:.*]] = hybrid.rms_norm plain %[[X]], %[[W]] {epsilon = 9.9999999999999995E-7 : f64} : (tensor<?x64xf32>, tensor<64xbf16>) -> tensor<?x64xf32>
// CHECK: return %[[Y]]
func.func @rms_norm_plain(%x: tensor<?x64xf32>, %w: tensor<64xbf16>) -> tensor<?x64xf32> {
  %y = hybrid.rms_norm plain %x, %w {epsilon = 1.0e-06 : f64} : (tensor<?x64xf32>, tensor<64xbf16>) -> tensor<?x64xf32>
  return %y : tensor<?x64xf32>
}

// CHECK-LABEL: func.func @rms_norm_zero_centered
// CHECK-SAME: (%[[X:.*]]: tensor<?x64xf32>, %[[W:.*]]: tensor<64xf32>)
// CHECK: %[[Y:.*]] = hybrid.rms_norm zero_centered %[[X]], %[[W]] {epsilon = 9.9999999999999995E-7 : f64} : (tensor<?x64xf32>, tensor<64xf32>) -> tensor<?x64xf32>
// CHECK: return %[[Y]]
func.func @rms_norm_zero_centered(%x: tensor<?x64xf32>, %w: tensor<64xf32>) -> tensor<?x64xf32> {
  %y = hybrid.rms_norm zero_centered %x, %w {epsilon = 1.0e-06 : f64} : (tensor<?x64xf32>, tensor<64xf32>) -> tensor<?x64xf32>
  return %y : tensor<?x64xf32>
}

// Per-head norm of a [T, heads, head_dim] tensor, as Gated DeltaNet uses it.
// CHECK-LABEL: func.func @rms_norm_gated_per_head
// CHECK-SAME: (%[[X:.*]]: tensor<?x4x16xf32>, %[[W:.*]]: tensor<16xf32>, %[[Z:.*]]: tensor<?x4x16xf32>)
// CHECK: %[[Y:.*]] = hybrid.rms_norm gated %[[X]], %[[W]] gate %[[Z]] {epsilon = 9.9999999999999995E-7 : f64} : (tensor<?x4x16xf32>, tensor<16xf32>, tensor<?x4x16xf32>) -> tensor<?x4x16xf32>
// CHECK: return %[[Y]]
func.func @rms_norm_gated_per_head(%x: tensor<?x4x16xf32>, %w: tensor<16xf32>, %z: tensor<?x4x16xf32>) -> tensor<?x4x16xf32> {
  %y = hybrid.rms_norm gated %x, %w gate %z {epsilon = 1.0e-06 : f64} : (tensor<?x4x16xf32>, tensor<16xf32>, tensor<?x4x16xf32>) -> tensor<?x4x16xf32>
  return %y : tensor<?x4x16xf32>
}

// CHECK-LABEL: func.func @lm_head
// CHECK-SAME: (%[[X:.*]]: tensor<?x64xf32>)
// CHECK: %[[W:.*]] = hybrid.weight "lm_head.weight" : tensor<256x64xbf16>
// CHECK: %[[L:.*]] = hybrid.lm_head %[[X]], %[[W]] : (tensor<?x64xf32>, tensor<256x64xbf16>) -> tensor<?x256xf32>
// CHECK: return %[[L]]
func.func @lm_head(%x: tensor<?x64xf32>) -> tensor<?x256xf32> {
  %w = hybrid.weight "lm_head.weight" : tensor<256x64xbf16>
  %l = hybrid.lm_head %x, %w : (tensor<?x64xf32>, tensor<256x64xbf16>) -> tensor<?x256xf32>
  return %l : tensor<?x256xf32>
}

//===----------------------------------------------------------------------===//
// Feed-forward blocks
//===----------------------------------------------------------------------===//

// CHECK-LABEL: func.func @mlp_swiglu
// CHECK-SAME: (%[[X:.*]]: tensor<?x64xf32>)
// CHECK: %[[G:.*]] = hybrid.weight "model.layers.0.mlp.gate_proj.weight"
// CHECK: %[[U:.*]] = hybrid.weight "model.layers.0.mlp.up_proj.weight"
// CHECK: %[[D:.*]] = hybrid.weight "model.layers.0.mlp.down_proj.weight"
// CHECK: %[[Y:.*]] = hybrid.mlp %[[X]] gate_proj(%[[G]]) up_proj(%[[U]]) down_proj(%[[D]]) : (tensor<?x64xf32>, tensor<176x64xbf16>, tensor<176x64xbf16>, tensor<64x176xbf16>) -> tensor<?x64xf32>
// CHECK: return %[[Y]]
func.func @mlp_swiglu(%x: tensor<?x64xf32>) -> tensor<?x64xf32> {
  %g = hybrid.weight "model.layers.0.mlp.gate_proj.weight" : tensor<176x64xbf16>
  %u = hybrid.weight "model.layers.0.mlp.up_proj.weight" : tensor<176x64xbf16>
  %d = hybrid.weight "model.layers.0.mlp.down_proj.weight" : tensor<64x176xbf16>
  %y = hybrid.mlp %x gate_proj(%g) up_proj(%u) down_proj(%d) : (tensor<?x64xf32>, tensor<176x64xbf16>, tensor<176x64xbf16>, tensor<64x176xbf16>) -> tensor<?x64xf32>
  return %y : tensor<?x64xf32>
}

// Qwen3 / Jamba routing: softmax, top-2 of 8, renormalised. The default
// routed_scaling_factor, n_group and topk_group are not printed.
// CHECK-LABEL: func.func @moe_softmax_top2
// CHECK-SAME: (%[[X:.*]]: tensor<?x64xf32>)
// CHECK: %[[R:.*]] = hybrid.weight "mlp.gate.weight"
// CHECK: %[[G:.*]] = hybrid.weight "mlp.experts.{e}.gate_proj.weight" experts(8)
// CHECK: %[[U:.*]] = hybrid.weight "mlp.experts.{e}.up_proj.weight" experts(8)
// CHECK: %[[D:.*]] = hybrid.weight "mlp.experts.{e}.down_proj.weight" experts(8)
// CHECK: %[[Y:.*]] = hybrid.moe softmax %[[X]] router(%[[R]]) experts_gate(%[[G]]) experts_up(%[[U]]) experts_down(%[[D]])
// CHECK-SAME: {norm_topk_prob = true, num_experts = 8 : i64, top_k = 2 : i64}
// CHECK-SAME: : (tensor<?x64xf32>, tensor<8x64xbf16>, tensor<8x32x64xbf16>, tensor<8x32x64xbf16>, tensor<8x64x32xbf16>) -> tensor<?x64xf32>
// CHECK: return %[[Y]]
func.func @moe_softmax_top2(%x: tensor<?x64xf32>) -> tensor<?x64xf32> {
  %r = hybrid.weight "mlp.gate.weight" : tensor<8x64xbf16>
  %g = hybrid.weight "mlp.experts.{e}.gate_proj.weight" experts(8) : tensor<8x32x64xbf16>
  %u = hybrid.weight "mlp.experts.{e}.up_proj.weight" experts(8) : tensor<8x32x64xbf16>
  %d = hybrid.weight "mlp.experts.{e}.down_proj.weight" experts(8) : tensor<8x64x32xbf16>
  %y = hybrid.moe softmax %x router(%r) experts_gate(%g) experts_up(%u) experts_down(%d) {num_experts = 8 : i64, top_k = 2 : i64, norm_topk_prob = true, routed_scaling_factor = 1.0 : f64, n_group = 1 : i64, topk_group = 1 : i64} : (tensor<?x64xf32>, tensor<8x64xbf16>, tensor<8x32x64xbf16>, tensor<8x32x64xbf16>, tensor<8x64x32xbf16>) -> tensor<?x64xf32>
  return %y : tensor<?x64xf32>
}

// DeepSeek-V3 routing: sigmoid scores, a selection bias, 4 groups of 4
// experts of which the best 2 stay eligible, top-4, scaled by 2.5; plus one
// shared expert.
// CHECK-LABEL: func.func @moe_sigmoid_selection_bias_group_limited_shared
// CHECK-SAME: (%[[X:.*]]: tensor<?x64xf32>, %[[R:.*]]: tensor<16x64xf32>, %[[G:.*]]: tensor<16x16x64xbf16>, %[[U:.*]]: tensor<16x16x64xbf16>, %[[D:.*]]: tensor<16x64x16xbf16>, %[[B:.*]]: tensor<16xf32>, %[[SG:.*]]: tensor<16x64xbf16>, %[[SU:.*]]: tensor<16x64xbf16>, %[[SD:.*]]: tensor<64x16xbf16>)
// CHECK: %[[Y:.*]] = hybrid.moe sigmoid %[[X]] router(%[[R]]) experts_gate(%[[G]]) experts_up(%[[U]]) experts_down(%[[D]]) selection_bias(%[[B]]) shared_gate(%[[SG]]) shared_up(%[[SU]]) shared_down(%[[SD]])
// CHECK-SAME: {n_group = 4 : i64, norm_topk_prob = true, num_experts = 16 : i64, routed_scaling_factor = 2.500000e+00 : f64, top_k = 4 : i64, topk_group = 2 : i64}
// CHECK-SAME: : (tensor<?x64xf32>, tensor<16x64xf32>, tensor<16x16x64xbf16>, tensor<16x16x64xbf16>, tensor<16x64x16xbf16>, tensor<16xf32>, tensor<16x64xbf16>, tensor<16x64xbf16>, tensor<64x16xbf16>) -> tensor<?x64xf32>
// CHECK: return %[[Y]]
func.func @moe_sigmoid_selection_bias_group_limited_shared(%x: tensor<?x64xf32>, %r: tensor<16x64xf32>, %g: tensor<16x16x64xbf16>, %u: tensor<16x16x64xbf16>, %d: tensor<16x64x16xbf16>, %b: tensor<16xf32>, %sg: tensor<16x64xbf16>, %su: tensor<16x64xbf16>, %sd: tensor<64x16xbf16>) -> tensor<?x64xf32> {
  %y = hybrid.moe sigmoid %x router(%r) experts_gate(%g) experts_up(%u) experts_down(%d) selection_bias(%b) shared_gate(%sg) shared_up(%su) shared_down(%sd) {num_experts = 16 : i64, top_k = 4 : i64, norm_topk_prob = true, routed_scaling_factor = 2.5 : f64, n_group = 4 : i64, topk_group = 2 : i64} : (tensor<?x64xf32>, tensor<16x64xf32>, tensor<16x16x64xbf16>, tensor<16x16x64xbf16>, tensor<16x64x16xbf16>, tensor<16xf32>, tensor<16x64xbf16>, tensor<16x64xbf16>, tensor<64x16xbf16>) -> tensor<?x64xf32>
  return %y : tensor<?x64xf32>
}

// Sigmoid with a selection bias and no group limit, no renormalisation.
// CHECK-LABEL: func.func @moe_sigmoid_selection_bias_ungrouped
// CHECK-SAME: (%[[X:.*]]: tensor<?x64xf32>, %[[R:.*]]: tensor<8x64xf32>, %[[G:.*]]: tensor<8x32x64xf32>, %[[D:.*]]: tensor<8x64x32xf32>, %[[B:.*]]: tensor<8xf32>)
// CHECK: hybrid.moe sigmoid %[[X]] router(%[[R]]) experts_gate(%[[G]]) experts_up(%[[G]]) experts_down(%[[D]]) selection_bias(%[[B]]) {norm_topk_prob = false, num_experts = 8 : i64, top_k = 2 : i64} :
func.func @moe_sigmoid_selection_bias_ungrouped(%x: tensor<?x64xf32>, %r: tensor<8x64xf32>, %g: tensor<8x32x64xf32>, %d: tensor<8x64x32xf32>, %b: tensor<8xf32>) -> tensor<?x64xf32> {
  %y = hybrid.moe sigmoid %x router(%r) experts_gate(%g) experts_up(%g) experts_down(%d) selection_bias(%b) {num_experts = 8 : i64, top_k = 2 : i64, norm_topk_prob = false} : (tensor<?x64xf32>, tensor<8x64xf32>, tensor<8x32x64xf32>, tensor<8x32x64xf32>, tensor<8x64x32xf32>, tensor<8xf32>) -> tensor<?x64xf32>
  return %y : tensor<?x64xf32>
}

// The split form of hybrid-fuse-moe-routing: the routing op (sigmoid,
// bias, group limit) and the grouped experts with a gated shared output.
// CHECK-LABEL: func.func @moe_route_and_experts
// CHECK: %[[E:.*]], %[[W:.*]] = hybrid.moe_route sigmoid %{{.*}} router(%{{.*}}) selection_bias(%{{.*}}) {n_group = 4 : i64, norm_topk_prob = true, routed_scaling_factor = 2.500000e+00 : f64, top_k = 2 : i64, topk_group = 2 : i64} : (tensor<?x64xf32>, tensor<8x64xf32>, tensor<8xf32>) -> (tensor<?x2xi64>, tensor<?x2xf32>)
// CHECK: hybrid.moe_experts %{{.*}} routing(%[[E]], %[[W]]) experts_gate(%{{.*}}) experts_up(%{{.*}}) experts_down(%{{.*}}) shared(%{{.*}}) shared_expert_gate(%{{.*}}) :
func.func @moe_route_and_experts(%x: tensor<?x64xf32>, %r: tensor<8x64xf32>, %b: tensor<8xf32>, %g: tensor<8x32x64xbf16>, %d: tensor<8x64x32xbf16>, %s: tensor<?x64xf32>, %seg: tensor<1x64xbf16>) -> tensor<?x64xf32> {
  %e, %w = hybrid.moe_route sigmoid %x router(%r) selection_bias(%b) {top_k = 2 : i64, norm_topk_prob = true, routed_scaling_factor = 2.5 : f64, n_group = 4 : i64, topk_group = 2 : i64} : (tensor<?x64xf32>, tensor<8x64xf32>, tensor<8xf32>) -> (tensor<?x2xi64>, tensor<?x2xf32>)
  %y = hybrid.moe_experts %x routing(%e, %w) experts_gate(%g) experts_up(%g) experts_down(%d) shared(%s) shared_expert_gate(%seg) : (tensor<?x64xf32>, tensor<?x2xi64>, tensor<?x2xf32>, tensor<8x32x64xbf16>, tensor<8x32x64xbf16>, tensor<8x64x32xbf16>, tensor<?x64xf32>, tensor<1x64xbf16>) -> tensor<?x64xf32>
  return %y : tensor<?x64xf32>
}

// Qwen3-Next: softmax top-2 of 8 plus a shared expert scaled per token by
// sigmoid(x shared_expert_gate^T).
// CHECK-LABEL: func.func @moe_softmax_shared_expert_gate
// CHECK-SAME: (%[[X:.*]]: tensor<?x64xf32>, %[[R:.*]]: tensor<8x64xbf16>, %[[G:.*]]: tensor<8x32x64xbf16>, %[[D:.*]]: tensor<8x64x32xbf16>, %[[SG:.*]]: tensor<48x64xbf16>, %[[SU:.*]]: tensor<48x64xbf16>, %[[SD:.*]]: tensor<64x48xbf16>, %[[SEG:.*]]: tensor<1x64xbf16>)
// CHECK: hybrid.moe softmax %[[X]] router(%[[R]]) experts_gate(%[[G]]) experts_up(%[[G]]) experts_down(%[[D]]) shared_gate(%[[SG]]) shared_up(%[[SU]]) shared_down(%[[SD]]) shared_expert_gate(%[[SEG]]) {norm_topk_prob = true, num_experts = 8 : i64, top_k = 2 : i64}
// CHECK-SAME: : (tensor<?x64xf32>, tensor<8x64xbf16>, tensor<8x32x64xbf16>, tensor<8x32x64xbf16>, tensor<8x64x32xbf16>, tensor<48x64xbf16>, tensor<48x64xbf16>, tensor<64x48xbf16>, tensor<1x64xbf16>) -> tensor<?x64xf32>
func.func @moe_softmax_shared_expert_gate(%x: tensor<?x64xf32>, %r: tensor<8x64xbf16>, %g: tensor<8x32x64xbf16>, %d: tensor<8x64x32xbf16>, %sg: tensor<48x64xbf16>, %su: tensor<48x64xbf16>, %sd: tensor<64x48xbf16>, %seg: tensor<1x64xbf16>) -> tensor<?x64xf32> {
  %y = hybrid.moe softmax %x router(%r) experts_gate(%g) experts_up(%g) experts_down(%d) shared_gate(%sg) shared_up(%su) shared_down(%sd) shared_expert_gate(%seg) {num_experts = 8 : i64, top_k = 2 : i64, norm_topk_prob = true} : (tensor<?x64xf32>, tensor<8x64xbf16>, tensor<8x32x64xbf16>, tensor<8x32x64xbf16>, tensor<8x64x32xbf16>, tensor<48x64xbf16>, tensor<48x64xbf16>, tensor<64x48xbf16>, tensor<1x64xbf16>) -> tensor<?x64xf32>
  return %y : tensor<?x64xf32>
}

//===----------------------------------------------------------------------===//
// Attention
//===----------------------------------------------------------------------===//

// Llama-style GQA: 4 query heads over 2 KV heads of 16, full rotary, no
// q/k norm, no output gate; the default rope_style half is not printed.
// CHECK-LABEL: func.func @attention_gqa_full_rope
// CHECK-SAME: (%[[X:.*]]: tensor<?x64xf32>, %[[POS:.*]]: tensor<?xi64>, %[[KV:.*]]: !hybrid.kv_cache<2x16xbf16>, %[[Q:.*]]: tensor<64x64xbf16>, %[[K:.*]]: tensor<32x64xbf16>, %[[V:.*]]: tensor<32x64xbf16>, %[[O:.*]]: tensor<64x64xbf16>)
// CHECK: %[[Y:.*]] = hybrid.attention %[[X]], %[[POS]], %[[KV]] q_proj(%[[Q]]) k_proj(%[[K]]) v_proj(%[[V]]) o_proj(%[[O]]) {head_dim = 16 : i64, num_heads = 4 : i64, num_kv_heads = 2 : i64, rope_theta = 1.000000e+04 : f64, rotary_dim = 16 : i64, scale = 2.500000e-01 : f64}
// CHECK-SAME: : (tensor<?x64xf32>, tensor<?xi64>, !hybrid.kv_cache<2x16xbf16>, tensor<64x64xbf16>, tensor<32x64xbf16>, tensor<32x64xbf16>, tensor<64x64xbf16>) -> tensor<?x64xf32>
// CHECK: return %[[Y]]
func.func @attention_gqa_full_rope(%x: tensor<?x64xf32>, %pos: tensor<?xi64>, %kv: !hybrid.kv_cache<2x16xbf16>, %q: tensor<64x64xbf16>, %k: tensor<32x64xbf16>, %v: tensor<32x64xbf16>, %o: tensor<64x64xbf16>) -> tensor<?x64xf32> {
  %y = hybrid.attention %x, %pos, %kv q_proj(%q) k_proj(%k) v_proj(%v) o_proj(%o) rope_style half {num_heads = 4 : i64, num_kv_heads = 2 : i64, head_dim = 16 : i64, rotary_dim = 16 : i64, rope_theta = 1.0e+04 : f64, scale = 0.25 : f64} : (tensor<?x64xf32>, tensor<?xi64>, !hybrid.kv_cache<2x16xbf16>, tensor<64x64xbf16>, tensor<32x64xbf16>, tensor<32x64xbf16>, tensor<64x64xbf16>) -> tensor<?x64xf32>
  return %y : tensor<?x64xf32>
}

// Qwen3-Next gated attention: q_proj has 2 * 4 * 16 rows ([query | gate] per
// head), zero-centered q/k norms, partial rotary (a quarter of the head).
// CHECK-LABEL: func.func @attention_output_gate_qk_norm_partial_rope
// CHECK-SAME: (%[[X:.*]]: tensor<?x64xf32>, %[[POS:.*]]: tensor<?xi64>, %[[KV:.*]]: !hybrid.kv_cache<2x16xbf16>, %[[Q:.*]]: tensor<128x64xbf16>, %[[K:.*]]: tensor<32x64xbf16>, %[[V:.*]]: tensor<32x64xbf16>, %[[O:.*]]: tensor<64x64xbf16>, %[[QN:.*]]: tensor<16xbf16>, %[[KN:.*]]: tensor<16xbf16>)
// CHECK: %[[Y:.*]] = hybrid.attention %[[X]], %[[POS]], %[[KV]] q_proj(%[[Q]]) k_proj(%[[K]]) v_proj(%[[V]]) o_proj(%[[O]]) q_norm(%[[QN]]) k_norm(%[[KN]]) qk_norm zero_centered
// CHECK-SAME: {head_dim = 16 : i64, norm_epsilon = 9.9999999999999995E-7 : f64, num_heads = 4 : i64, num_kv_heads = 2 : i64, output_gate, rope_theta = 1.000000e+07 : f64, rotary_dim = 4 : i64, scale = 2.500000e-01 : f64}
// CHECK-SAME: : (tensor<?x64xf32>, tensor<?xi64>, !hybrid.kv_cache<2x16xbf16>, tensor<128x64xbf16>, tensor<32x64xbf16>, tensor<32x64xbf16>, tensor<64x64xbf16>, tensor<16xbf16>, tensor<16xbf16>) -> tensor<?x64xf32>
// CHECK: return %[[Y]]
func.func @attention_output_gate_qk_norm_partial_rope(%x: tensor<?x64xf32>, %pos: tensor<?xi64>, %kv: !hybrid.kv_cache<2x16xbf16>, %q: tensor<128x64xbf16>, %k: tensor<32x64xbf16>, %v: tensor<32x64xbf16>, %o: tensor<64x64xbf16>, %qn: tensor<16xbf16>, %kn: tensor<16xbf16>) -> tensor<?x64xf32> {
  %y = hybrid.attention %x, %pos, %kv q_proj(%q) k_proj(%k) v_proj(%v) o_proj(%o) q_norm(%qn) k_norm(%kn) qk_norm zero_centered {num_heads = 4 : i64, num_kv_heads = 2 : i64, head_dim = 16 : i64, rotary_dim = 4 : i64, rope_theta = 1.0e+07 : f64, scale = 0.25 : f64, output_gate, norm_epsilon = 1.0e-06 : f64} : (tensor<?x64xf32>, tensor<?xi64>, !hybrid.kv_cache<2x16xbf16>, tensor<128x64xbf16>, tensor<32x64xbf16>, tensor<32x64xbf16>, tensor<64x64xbf16>, tensor<16xbf16>, tensor<16xbf16>) -> tensor<?x64xf32>
  return %y : tensor<?x64xf32>
}

// Qwen3-style plain q/k norms without an output gate.
// CHECK-LABEL: func.func @attention_qk_norm_plain
// CHECK: hybrid.attention {{.*}} o_proj(%{{.*}}) q_norm(%[[QN:.*]]) k_norm(%[[QN]]) qk_norm plain {head_dim = 16 : i64, norm_epsilon = 9.9999999999999995E-7 : f64, num_heads = 4 : i64, num_kv_heads = 4 : i64, rope_theta = 1.000000e+06 : f64, rotary_dim = 16 : i64, scale = 2.500000e-01 : f64}
func.func @attention_qk_norm_plain(%x: tensor<?x64xf32>, %pos: tensor<?xi64>, %kv: !hybrid.kv_cache<4x16xf32>, %w: tensor<64x64xf32>, %n: tensor<16xf32>) -> tensor<?x64xf32> {
  %y = hybrid.attention %x, %pos, %kv q_proj(%w) k_proj(%w) v_proj(%w) o_proj(%w) q_norm(%n) k_norm(%n) qk_norm plain {num_heads = 4 : i64, num_kv_heads = 4 : i64, head_dim = 16 : i64, rotary_dim = 16 : i64, rope_theta = 1.0e+06 : f64, scale = 0.25 : f64, norm_epsilon = 1.0e-06 : f64} : (tensor<?x64xf32>, tensor<?xi64>, !hybrid.kv_cache<4x16xf32>, tensor<64x64xf32>, tensor<64x64xf32>, tensor<64x64xf32>, tensor<64x64xf32>, tensor<16xf32>, tensor<16xf32>) -> tensor<?x64xf32>
  return %y : tensor<?x64xf32>
}

// Jamba attention: no positional encoding (rotary_dim = 0), multi-query.
// CHECK-LABEL: func.func @attention_no_rope_mqa
// CHECK-SAME: (%[[X:.*]]: tensor<?x64xf32>, %[[POS:.*]]: tensor<?xi64>, %[[KV:.*]]: !hybrid.kv_cache<1x16xf16>, %[[Q:.*]]: tensor<64x64xf16>, %[[K:.*]]: tensor<16x64xf16>)
// CHECK: %[[Y:.*]] = hybrid.attention %[[X]], %[[POS]], %[[KV]] q_proj(%[[Q]]) k_proj(%[[K]]) v_proj(%[[K]]) o_proj(%[[Q]]) {head_dim = 16 : i64, num_heads = 4 : i64, num_kv_heads = 1 : i64, rope_theta = 1.000000e+04 : f64, rotary_dim = 0 : i64, scale = 2.500000e-01 : f64}
func.func @attention_no_rope_mqa(%x: tensor<?x64xf32>, %pos: tensor<?xi64>, %kv: !hybrid.kv_cache<1x16xf16>, %q: tensor<64x64xf16>, %k: tensor<16x64xf16>) -> tensor<?x64xf32> {
  %y = hybrid.attention %x, %pos, %kv q_proj(%q) k_proj(%k) v_proj(%k) o_proj(%q) {num_heads = 4 : i64, num_kv_heads = 1 : i64, head_dim = 16 : i64, rotary_dim = 0 : i64, rope_theta = 1.0e+04 : f64, scale = 0.25 : f64} : (tensor<?x64xf32>, tensor<?xi64>, !hybrid.kv_cache<1x16xf16>, tensor<64x64xf16>, tensor<16x64xf16>, tensor<16x64xf16>, tensor<64x64xf16>) -> tensor<?x64xf32>
  return %y : tensor<?x64xf32>
}

// Interleaved RoPE pairs with YaRN frequency scaling.
// CHECK-LABEL: func.func @attention_yarn_rope_interleaved
// CHECK: hybrid.attention {{.*}} o_proj(%{{.*}}) rope_style interleaved {head_dim = 16 : i64, num_heads = 4 : i64, num_kv_heads = 2 : i64, rope_theta = 1.000000e+04 : f64, rotary_dim = 16 : i64, scale = 2.500000e-01 : f64,
// CHECK-SAME: yarn = #hybrid.yarn<factor = 4.000000e+01, original = 4096, beta_fast = 3.200000e+01, beta_slow = 1.000000e+00, attention_factor = 1.000000e+00, truncate = true>}
func.func @attention_yarn_rope_interleaved(%x: tensor<?x64xf32>, %pos: tensor<?xi64>, %kv: !hybrid.kv_cache<2x16xbf16>, %q: tensor<64x64xbf16>, %k: tensor<32x64xbf16>) -> tensor<?x64xf32> {
  %y = hybrid.attention %x, %pos, %kv q_proj(%q) k_proj(%k) v_proj(%k) o_proj(%q) rope_style interleaved {num_heads = 4 : i64, num_kv_heads = 2 : i64, head_dim = 16 : i64, rotary_dim = 16 : i64, rope_theta = 1.0e+04 : f64, scale = 0.25 : f64, yarn = #hybrid.yarn<factor = 40.0, original = 4096, beta_fast = 32.0, beta_slow = 1.0, attention_factor = 1.0, truncate = true>} : (tensor<?x64xf32>, tensor<?xi64>, !hybrid.kv_cache<2x16xbf16>, tensor<64x64xbf16>, tensor<32x64xbf16>, tensor<32x64xbf16>, tensor<64x64xbf16>) -> tensor<?x64xf32>
  return %y : tensor<?x64xf32>
}

// YaRN with rotate-half pairs and truncate = false.
// CHECK-LABEL: func.func @attention_yarn_rope_half_no_truncate
// CHECK: hybrid.attention {{.*}} o_proj(%{{.*}}) {head_dim = 16 : i64, {{.*}} yarn = #hybrid.yarn<factor = 4.000000e+00, original = 2048, beta_fast = 3.200000e+01, beta_slow = 1.000000e+00, attention_factor = 1.138600e+00, truncate = false>}
func.func @attention_yarn_rope_half_no_truncate(%x: tensor<?x64xf32>, %pos: tensor<?xi64>, %kv: !hybrid.kv_cache<2x16xbf16>, %q: tensor<64x64xbf16>, %k: tensor<32x64xbf16>) -> tensor<?x64xf32> {
  %y = hybrid.attention %x, %pos, %kv q_proj(%q) k_proj(%k) v_proj(%k) o_proj(%q) {num_heads = 4 : i64, num_kv_heads = 2 : i64, head_dim = 16 : i64, rotary_dim = 16 : i64, rope_theta = 1.0e+04 : f64, scale = 0.25 : f64, yarn = #hybrid.yarn<factor = 4.0, original = 2048, beta_fast = 32.0, beta_slow = 1.0, attention_factor = 1.1386, truncate = false>} : (tensor<?x64xf32>, tensor<?xi64>, !hybrid.kv_cache<2x16xbf16>, tensor<64x64xbf16>, tensor<32x64xbf16>, tensor<32x64xbf16>, tensor<64x64xbf16>) -> tensor<?x64xf32>
  return %y : tensor<?x64xf32>
}

//===----------------------------------------------------------------------===//
// Multi-head Latent Attention
//===----------------------------------------------------------------------===//

// DeepSeek-V3 MLA: 2 heads, q LoRA rank 24, KV LoRA rank 16, nope 8, rope 4,
// v 8, YaRN; the default rope_style interleaved is not printed.
// q_b_proj: 2 * (8 + 4) = 24 rows; kv_a_proj_with_mqa: 16 + 4 = 20 rows;
// kv_b_proj: 2 * (8 + 8) = 32 rows; o_proj: [64, 2 * 8].
// CHECK-LABEL: func.func @mla_q_lora_yarn
// CHECK-SAME: (%[[X:.*]]: tensor<?x64xf32>, %[[POS:.*]]: tensor<?xi64>, %[[C:.*]]: !hybrid.latent_cache<16x4xbf16>)
// CHECK: %[[QA:.*]] = hybrid.weight "self_attn.q_a_proj.weight"
// CHECK: %[[QAN:.*]] = hybrid.weight "self_attn.q_a_layernorm.weight"
// CHECK: %[[QB:.*]] = hybrid.weight "self_attn.q_b_proj.weight"
// CHECK: %[[KVA:.*]] = hybrid.weight "self_attn.kv_a_proj_with_mqa.weight"
// CHECK: %[[KVAN:.*]] = hybrid.weight "self_attn.kv_a_layernorm.weight"
// CHECK: %[[KVB:.*]] = hybrid.weight "self_attn.kv_b_proj.weight"
// CHECK: %[[O:.*]] = hybrid.weight "self_attn.o_proj.weight"
// CHECK: %[[Y:.*]] = hybrid.mla %[[X]], %[[POS]], %[[C]] q_a_proj(%[[QA]]) q_a_layernorm(%[[QAN]]) q_b_proj(%[[QB]]) kv_a_proj_with_mqa(%[[KVA]]) kv_a_layernorm(%[[KVAN]]) kv_b_proj(%[[KVB]]) o_proj(%[[O]])
// CHECK-SAME: {kv_lora_rank = 16 : i64, norm_epsilon = 9.9999999999999995E-7 : f64, num_heads = 2 : i64, q_lora_rank = 24 : i64, qk_nope_head_dim = 8 : i64, qk_rope_head_dim = 4 : i64, rope_theta = 1.000000e+04 : f64, scale = 0.28867513459481292 : f64, v_head_dim = 8 : i64,
// CHECK-SAME: yarn = #hybrid.yarn<factor = 4.000000e+01, original = 4096, beta_fast = 3.200000e+01, beta_slow = 1.000000e+00, attention_factor = 1.000000e+00, truncate = true>}
// CHECK-SAME: : (tensor<?x64xf32>, tensor<?xi64>, !hybrid.latent_cache<16x4xbf16>, tensor<24x64xbf16>, tensor<24xbf16>, tensor<24x24xbf16>, tensor<20x64xbf16>, tensor<16xbf16>, tensor<32x16xbf16>, tensor<64x16xbf16>) -> tensor<?x64xf32>
// CHECK: return %[[Y]]
func.func @mla_q_lora_yarn(%x: tensor<?x64xf32>, %pos: tensor<?xi64>, %c: !hybrid.latent_cache<16x4xbf16>) -> tensor<?x64xf32> {
  %qa = hybrid.weight "self_attn.q_a_proj.weight" : tensor<24x64xbf16>
  %qan = hybrid.weight "self_attn.q_a_layernorm.weight" : tensor<24xbf16>
  %qb = hybrid.weight "self_attn.q_b_proj.weight" : tensor<24x24xbf16>
  %kva = hybrid.weight "self_attn.kv_a_proj_with_mqa.weight" : tensor<20x64xbf16>
  %kvan = hybrid.weight "self_attn.kv_a_layernorm.weight" : tensor<16xbf16>
  %kvb = hybrid.weight "self_attn.kv_b_proj.weight" : tensor<32x16xbf16>
  %o = hybrid.weight "self_attn.o_proj.weight" : tensor<64x16xbf16>
  %y = hybrid.mla %x, %pos, %c q_a_proj(%qa) q_a_layernorm(%qan) q_b_proj(%qb) kv_a_proj_with_mqa(%kva) kv_a_layernorm(%kvan) kv_b_proj(%kvb) o_proj(%o) {num_heads = 2 : i64, q_lora_rank = 24 : i64, kv_lora_rank = 16 : i64, qk_nope_head_dim = 8 : i64, qk_rope_head_dim = 4 : i64, v_head_dim = 8 : i64, rope_theta = 1.0e+04 : f64, yarn = #hybrid.yarn<factor = 40.0, original = 4096, beta_fast = 32.0, beta_slow = 1.0, attention_factor = 1.0, truncate = true>, scale = 0.2886751345948129 : f64, norm_epsilon = 1.0e-06 : f64} : (tensor<?x64xf32>, tensor<?xi64>, !hybrid.latent_cache<16x4xbf16>, tensor<24x64xbf16>, tensor<24xbf16>, tensor<24x24xbf16>, tensor<20x64xbf16>, tensor<16xbf16>, tensor<32x16xbf16>, tensor<64x16xbf16>) -> tensor<?x64xf32>
  return %y : tensor<?x64xf32>
}

// DeepSeek-V2-Lite style MLA: q_lora_rank = 0, so a plain q_proj
// [2 * (8 + 4), 64]; rotate-half RoPE, no YaRN.
// CHECK-LABEL: func.func @mla_plain_q_proj_rope_half
// CHECK-SAME: (%[[X:.*]]: tensor<?x64xf32>, %[[POS:.*]]: tensor<?xi64>, %[[C:.*]]: !hybrid.latent_cache<16x4xf32>, %[[Q:.*]]: tensor<24x64xf32>, %[[KVA:.*]]: tensor<20x64xf32>, %[[KVAN:.*]]: tensor<16xf32>, %[[KVB:.*]]: tensor<32x16xf32>, %[[O:.*]]: tensor<64x16xf32>)
// CHECK: %[[Y:.*]] = hybrid.mla %[[X]], %[[POS]], %[[C]] q_proj(%[[Q]]) kv_a_proj_with_mqa(%[[KVA]]) kv_a_layernorm(%[[KVAN]]) kv_b_proj(%[[KVB]]) o_proj(%[[O]]) rope_style half
// CHECK-SAME: {kv_lora_rank = 16 : i64, norm_epsilon = 9.9999999999999995E-7 : f64, num_heads = 2 : i64, q_lora_rank = 0 : i64, qk_nope_head_dim = 8 : i64, qk_rope_head_dim = 4 : i64, rope_theta = 1.000000e+04 : f64, scale = 0.28867513459481292 : f64, v_head_dim = 8 : i64}
// CHECK-SAME: : (tensor<?x64xf32>, tensor<?xi64>, !hybrid.latent_cache<16x4xf32>, tensor<24x64xf32>, tensor<20x64xf32>, tensor<16xf32>, tensor<32x16xf32>, tensor<64x16xf32>) -> tensor<?x64xf32>
// CHECK: return %[[Y]]
func.func @mla_plain_q_proj_rope_half(%x: tensor<?x64xf32>, %pos: tensor<?xi64>, %c: !hybrid.latent_cache<16x4xf32>, %q: tensor<24x64xf32>, %kva: tensor<20x64xf32>, %kvan: tensor<16xf32>, %kvb: tensor<32x16xf32>, %o: tensor<64x16xf32>) -> tensor<?x64xf32> {
  %y = hybrid.mla %x, %pos, %c q_proj(%q) kv_a_proj_with_mqa(%kva) kv_a_layernorm(%kvan) kv_b_proj(%kvb) o_proj(%o) rope_style half {num_heads = 2 : i64, q_lora_rank = 0 : i64, kv_lora_rank = 16 : i64, qk_nope_head_dim = 8 : i64, qk_rope_head_dim = 4 : i64, v_head_dim = 8 : i64, rope_theta = 1.0e+04 : f64, scale = 0.2886751345948129 : f64, norm_epsilon = 1.0e-06 : f64} : (tensor<?x64xf32>, tensor<?xi64>, !hybrid.latent_cache<16x4xf32>, tensor<24x64xf32>, tensor<20x64xf32>, tensor<16xf32>, tensor<32x16xf32>, tensor<64x16xf32>) -> tensor<?x64xf32>
  return %y : tensor<?x64xf32>
}

//===----------------------------------------------------------------------===//
// Recurrent mixers
//===----------------------------------------------------------------------===//

// Hk = 2, Hv = 4, dk = dv = 8, kernel 4:
// in_proj_qkvz rows 2*2*8 + 2*4*8 = 96, conv channels 2*2*8 + 4*8 = 64.
// CHECK-LABEL: func.func @gated_delta_net
// CHECK-SAME: (%[[X:.*]]: tensor<?x64xf32>, %[[CONV:.*]]: !hybrid.conv_state<64x3xbf16>, %[[S:.*]]: !hybrid.recurrent_state<4x8x8xf32>)
// CHECK: %[[QKVZ:.*]] = hybrid.weight "linear_attn.in_proj_qkvz.weight"
// CHECK: %[[BA:.*]] = hybrid.weight "linear_attn.in_proj_ba.weight"
// CHECK: %[[CW:.*]] = hybrid.weight "linear_attn.conv1d.weight"
// CHECK: %[[DT:.*]] = hybrid.weight "linear_attn.dt_bias"
// CHECK: %[[A:.*]] = hybrid.weight "linear_attn.A_log"
// CHECK: %[[N:.*]] = hybrid.weight "linear_attn.norm.weight"
// CHECK: %[[OUT:.*]] = hybrid.weight "linear_attn.out_proj.weight"
// CHECK: %[[Y:.*]] = hybrid.gated_delta_net %[[X]], %[[CONV]], %[[S]] in_proj_qkvz(%[[QKVZ]]) in_proj_ba(%[[BA]]) conv1d(%[[CW]]) dt_bias(%[[DT]]) a_log(%[[A]]) norm(%[[N]]) out_proj(%[[OUT]])
// CHECK-SAME: {conv_kernel = 4 : i64, k_head_dim = 8 : i64, norm_epsilon = 9.9999999999999995E-7 : f64, num_k_heads = 2 : i64, num_v_heads = 4 : i64, v_head_dim = 8 : i64}
// CHECK-SAME: : (tensor<?x64xf32>, !hybrid.conv_state<64x3xbf16>, !hybrid.recurrent_state<4x8x8xf32>, tensor<96x64xbf16>, tensor<8x64xbf16>, tensor<64x1x4xbf16>, tensor<4xbf16>, tensor<4xf32>, tensor<8xf32>, tensor<64x32xbf16>) -> tensor<?x64xf32>
// CHECK: return %[[Y]]
func.func @gated_delta_net(%x: tensor<?x64xf32>, %conv: !hybrid.conv_state<64x3xbf16>, %s: !hybrid.recurrent_state<4x8x8xf32>) -> tensor<?x64xf32> {
  %qkvz = hybrid.weight "linear_attn.in_proj_qkvz.weight" : tensor<96x64xbf16>
  %ba = hybrid.weight "linear_attn.in_proj_ba.weight" : tensor<8x64xbf16>
  %cw = hybrid.weight "linear_attn.conv1d.weight" : tensor<64x1x4xbf16>
  %dt = hybrid.weight "linear_attn.dt_bias" : tensor<4xbf16>
  %a = hybrid.weight "linear_attn.A_log" : tensor<4xf32>
  %n = hybrid.weight "linear_attn.norm.weight" : tensor<8xf32>
  %out = hybrid.weight "linear_attn.out_proj.weight" : tensor<64x32xbf16>
  %y = hybrid.gated_delta_net %x, %conv, %s in_proj_qkvz(%qkvz) in_proj_ba(%ba) conv1d(%cw) dt_bias(%dt) a_log(%a) norm(%n) out_proj(%out) {num_k_heads = 2 : i64, num_v_heads = 4 : i64, k_head_dim = 8 : i64, v_head_dim = 8 : i64, conv_kernel = 4 : i64, norm_epsilon = 1.0e-06 : f64} : (tensor<?x64xf32>, !hybrid.conv_state<64x3xbf16>, !hybrid.recurrent_state<4x8x8xf32>, tensor<96x64xbf16>, tensor<8x64xbf16>, tensor<64x1x4xbf16>, tensor<4xbf16>, tensor<4xf32>, tensor<8xf32>, tensor<64x32xbf16>) -> tensor<?x64xf32>
  return %y : tensor<?x64xf32>
}

// D = 128, N = 8, R = 4, kernel 4: in_proj [2 * 128, 64],
// x_proj [4 + 2 * 8, 128]. Every optional operand given.
// CHECK-LABEL: func.func @mamba_biases_and_norms
// CHECK-SAME: (%[[X:.*]]: tensor<?x64xf32>, %[[CONV:.*]]: !hybrid.conv_state<128x3xf32>, %[[H:.*]]: !hybrid.recurrent_state<128x8xf32>, %[[IN:.*]]: tensor<256x64xf32>, %[[INB:.*]]: tensor<256xf32>, %[[CW:.*]]: tensor<128x1x4xf32>, %[[CB:.*]]: tensor<128xf32>, %[[XP:.*]]: tensor<20x128xf32>, %[[DTP:.*]]: tensor<128x4xf32>, %[[DTB:.*]]: tensor<128xf32>, %[[A:.*]]: tensor<128x8xf32>, %[[D:.*]]: tensor<128xf32>, %[[OUT:.*]]: tensor<64x128xf32>, %[[OUTB:.*]]: tensor<64xf32>, %[[DTN:.*]]: tensor<4xf32>, %[[BN:.*]]: tensor<8xf32>, %[[CN:.*]]: tensor<8xf32>)
// CHECK: %[[Y:.*]] = hybrid.mamba %[[X]], %[[CONV]], %[[H]] in_proj(%[[IN]]) in_proj_bias(%[[INB]]) conv1d(%[[CW]]) conv1d_bias(%[[CB]]) x_proj(%[[XP]]) dt_proj(%[[DTP]]) dt_proj_bias(%[[DTB]]) a_log(%[[A]]) d(%[[D]]) out_proj(%[[OUT]]) out_proj_bias(%[[OUTB]]) dt_layernorm(%[[DTN]]) b_layernorm(%[[BN]]) c_layernorm(%[[CN]])
// CHECK-SAME: {d_conv = 4 : i64, d_inner = 128 : i64, d_state = 8 : i64, dt_rank = 4 : i64, norm_epsilon = 9.9999999999999995E-7 : f64}
// CHECK-SAME: : (tensor<?x64xf32>, !hybrid.conv_state<128x3xf32>, !hybrid.recurrent_state<128x8xf32>, tensor<256x64xf32>, tensor<256xf32>, tensor<128x1x4xf32>, tensor<128xf32>, tensor<20x128xf32>, tensor<128x4xf32>, tensor<128xf32>, tensor<128x8xf32>, tensor<128xf32>, tensor<64x128xf32>, tensor<64xf32>, tensor<4xf32>, tensor<8xf32>, tensor<8xf32>) -> tensor<?x64xf32>
// CHECK: return %[[Y]]
func.func @mamba_biases_and_norms(%x: tensor<?x64xf32>, %conv: !hybrid.conv_state<128x3xf32>, %h: !hybrid.recurrent_state<128x8xf32>, %in: tensor<256x64xf32>, %inb: tensor<256xf32>, %cw: tensor<128x1x4xf32>, %cb: tensor<128xf32>, %xp: tensor<20x128xf32>, %dtp: tensor<128x4xf32>, %dtb: tensor<128xf32>, %a: tensor<128x8xf32>, %d: tensor<128xf32>, %out: tensor<64x128xf32>, %outb: tensor<64xf32>, %dtn: tensor<4xf32>, %bn: tensor<8xf32>, %cn: tensor<8xf32>) -> tensor<?x64xf32> {
  %y = hybrid.mamba %x, %conv, %h in_proj(%in) in_proj_bias(%inb) conv1d(%cw) conv1d_bias(%cb) x_proj(%xp) dt_proj(%dtp) dt_proj_bias(%dtb) a_log(%a) d(%d) out_proj(%out) out_proj_bias(%outb) dt_layernorm(%dtn) b_layernorm(%bn) c_layernorm(%cn) {d_inner = 128 : i64, d_state = 8 : i64, d_conv = 4 : i64, dt_rank = 4 : i64, norm_epsilon = 1.0e-06 : f64} : (tensor<?x64xf32>, !hybrid.conv_state<128x3xf32>, !hybrid.recurrent_state<128x8xf32>, tensor<256x64xf32>, tensor<256xf32>, tensor<128x1x4xf32>, tensor<128xf32>, tensor<20x128xf32>, tensor<128x4xf32>, tensor<128xf32>, tensor<128x8xf32>, tensor<128xf32>, tensor<64x128xf32>, tensor<64xf32>, tensor<4xf32>, tensor<8xf32>, tensor<8xf32>) -> tensor<?x64xf32>
  return %y : tensor<?x64xf32>
}

// Jamba: conv bias and the dt/B/C norms, no in/out projection biases.
// CHECK-LABEL: func.func @mamba_conv_bias_and_norms
// CHECK-SAME: (%[[X:.*]]: tensor<?x64xf32>, %[[CONV:.*]]: !hybrid.conv_state<128x3xbf16>, %[[H:.*]]: !hybrid.recurrent_state<128x8xf32>, %[[IN:.*]]: tensor<256x64xbf16>, %[[CW:.*]]: tensor<128x1x4xbf16>, %[[V:.*]]: tensor<128xbf16>, %[[XP:.*]]: tensor<20x128xbf16>, %[[DTP:.*]]: tensor<128x4xbf16>, %[[A:.*]]: tensor<128x8xf32>, %[[OUT:.*]]: tensor<64x128xbf16>, %[[DTN:.*]]: tensor<4xbf16>, %[[BCN:.*]]: tensor<8xbf16>)
// CHECK: %[[Y:.*]] = hybrid.mamba %[[X]], %[[CONV]], %[[H]] in_proj(%[[IN]]) conv1d(%[[CW]]) conv1d_bias(%[[V]]) x_proj(%[[XP]]) dt_proj(%[[DTP]]) dt_proj_bias(%[[V]]) a_log(%[[A]]) d(%[[V]]) out_proj(%[[OUT]]) dt_layernorm(%[[DTN]]) b_layernorm(%[[BCN]]) c_layernorm(%[[BCN]]) {d_conv = 4 : i64,
func.func @mamba_conv_bias_and_norms(%x: tensor<?x64xf32>, %conv: !hybrid.conv_state<128x3xbf16>, %h: !hybrid.recurrent_state<128x8xf32>, %in: tensor<256x64xbf16>, %cw: tensor<128x1x4xbf16>, %v: tensor<128xbf16>, %xp: tensor<20x128xbf16>, %dtp: tensor<128x4xbf16>, %a: tensor<128x8xf32>, %out: tensor<64x128xbf16>, %dtn: tensor<4xbf16>, %bcn: tensor<8xbf16>) -> tensor<?x64xf32> {
  %y = hybrid.mamba %x, %conv, %h in_proj(%in) conv1d(%cw) conv1d_bias(%v) x_proj(%xp) dt_proj(%dtp) dt_proj_bias(%v) a_log(%a) d(%v) out_proj(%out) dt_layernorm(%dtn) b_layernorm(%bcn) c_layernorm(%bcn) {d_inner = 128 : i64, d_state = 8 : i64, d_conv = 4 : i64, dt_rank = 4 : i64, norm_epsilon = 1.0e-06 : f64} : (tensor<?x64xf32>, !hybrid.conv_state<128x3xbf16>, !hybrid.recurrent_state<128x8xf32>, tensor<256x64xbf16>, tensor<128x1x4xbf16>, tensor<128xbf16>, tensor<20x128xbf16>, tensor<128x4xbf16>, tensor<128xbf16>, tensor<128x8xf32>, tensor<128xbf16>, tensor<64x128xbf16>, tensor<4xbf16>, tensor<8xbf16>, tensor<8xbf16>) -> tensor<?x64xf32>
  return %y : tensor<?x64xf32>
}

// Original Mamba-1: no optional operand at all.
// CHECK-LABEL: func.func @mamba_minimal
// CHECK-SAME: (%[[X:.*]]: tensor<?x64xf32>, %[[CONV:.*]]: !hybrid.conv_state<128x3xf32>, %[[H:.*]]: !hybrid.recurrent_state<128x8xf32>, %[[IN:.*]]: tensor<256x64xf32>, %[[CW:.*]]: tensor<128x1x4xf32>, %[[V:.*]]: tensor<128xf32>, %[[XP:.*]]: tensor<20x128xf32>, %[[DTP:.*]]: tensor<128x4xf32>, %[[A:.*]]: tensor<128x8xf32>, %[[OUT:.*]]: tensor<64x128xf32>)
// CHECK: %[[Y:.*]] = hybrid.mamba %[[X]], %[[CONV]], %[[H]] in_proj(%[[IN]]) conv1d(%[[CW]]) x_proj(%[[XP]]) dt_proj(%[[DTP]]) dt_proj_bias(%[[V]]) a_log(%[[A]]) d(%[[V]]) out_proj(%[[OUT]]) {d_conv = 4 : i64, d_inner = 128 : i64, d_state = 8 : i64, dt_rank = 4 : i64, norm_epsilon = 9.9999999999999995E-7 : f64}
// CHECK-SAME: : (tensor<?x64xf32>, !hybrid.conv_state<128x3xf32>, !hybrid.recurrent_state<128x8xf32>, tensor<256x64xf32>, tensor<128x1x4xf32>, tensor<20x128xf32>, tensor<128x4xf32>, tensor<128xf32>, tensor<128x8xf32>, tensor<128xf32>, tensor<64x128xf32>) -> tensor<?x64xf32>
func.func @mamba_minimal(%x: tensor<?x64xf32>, %conv: !hybrid.conv_state<128x3xf32>, %h: !hybrid.recurrent_state<128x8xf32>, %in: tensor<256x64xf32>, %cw: tensor<128x1x4xf32>, %v: tensor<128xf32>, %xp: tensor<20x128xf32>, %dtp: tensor<128x4xf32>, %a: tensor<128x8xf32>, %out: tensor<64x128xf32>) -> tensor<?x64xf32> {
  %y = hybrid.mamba %x, %conv, %h in_proj(%in) conv1d(%cw) x_proj(%xp) dt_proj(%dtp) dt_proj_bias(%v) a_log(%a) d(%v) out_proj(%out) {d_inner = 128 : i64, d_state = 8 : i64, d_conv = 4 : i64, dt_rank = 4 : i64, norm_epsilon = 1.0e-06 : f64} : (tensor<?x64xf32>, !hybrid.conv_state<128x3xf32>, !hybrid.recurrent_state<128x8xf32>, tensor<256x64xf32>, tensor<128x1x4xf32>, tensor<20x128xf32>, tensor<128x4xf32>, tensor<128xf32>, tensor<128x8xf32>, tensor<128xf32>, tensor<64x128xf32>) -> tensor<?x64xf32>
  return %y : tensor<?x64xf32>
}

//===----------------------------------------------------------------------===//
// Multi-token prediction
//===----------------------------------------------------------------------===//

// DeepSeek-V3 MTP input: plain norms, eh_proj [64, 2 * 64].
// CHECK-LABEL: func.func @mtp_plain
// CHECK-SAME: (%[[H:.*]]: tensor<?x64xf32>, %[[E:.*]]: tensor<?x64xf32>, %[[EN:.*]]: tensor<64xbf16>, %[[HN:.*]]: tensor<64xbf16>, %[[P:.*]]: tensor<64x128xbf16>)
// CHECK: %[[Y:.*]] = hybrid.mtp plain %[[H]], %[[E]] enorm(%[[EN]]) hnorm(%[[HN]]) eh_proj(%[[P]]) {epsilon = 9.9999999999999995E-7 : f64} : (tensor<?x64xf32>, tensor<?x64xf32>, tensor<64xbf16>, tensor<64xbf16>, tensor<64x128xbf16>) -> tensor<?x64xf32>
// CHECK: return %[[Y]]
func.func @mtp_plain(%h: tensor<?x64xf32>, %e: tensor<?x64xf32>, %en: tensor<64xbf16>, %hn: tensor<64xbf16>, %p: tensor<64x128xbf16>) -> tensor<?x64xf32> {
  %y = hybrid.mtp plain %h, %e enorm(%en) hnorm(%hn) eh_proj(%p) {epsilon = 1.0e-06 : f64} : (tensor<?x64xf32>, tensor<?x64xf32>, tensor<64xbf16>, tensor<64xbf16>, tensor<64x128xbf16>) -> tensor<?x64xf32>
  return %y : tensor<?x64xf32>
}

// Qwen3-Next MTP input: zero-centered norms.
// CHECK-LABEL: func.func @mtp_zero_centered
// CHECK-SAME: (%[[H:.*]]: tensor<?x64xf32>, %[[E:.*]]: tensor<?x64xf32>, %[[EN:.*]]: tensor<64xf32>, %[[HN:.*]]: tensor<64xf32>, %[[P:.*]]: tensor<64x128xf32>)
// CHECK: %[[Y:.*]] = hybrid.mtp zero_centered %[[H]], %[[E]] enorm(%[[EN]]) hnorm(%[[HN]]) eh_proj(%[[P]]) {epsilon = 9.9999999999999995E-7 : f64} : (tensor<?x64xf32>, tensor<?x64xf32>, tensor<64xf32>, tensor<64xf32>, tensor<64x128xf32>) -> tensor<?x64xf32>
func.func @mtp_zero_centered(%h: tensor<?x64xf32>, %e: tensor<?x64xf32>, %en: tensor<64xf32>, %hn: tensor<64xf32>, %p: tensor<64x128xf32>) -> tensor<?x64xf32> {
  %y = hybrid.mtp zero_centered %h, %e enorm(%en) hnorm(%hn) eh_proj(%p) {epsilon = 1.0e-06 : f64} : (tensor<?x64xf32>, tensor<?x64xf32>, tensor<64xf32>, tensor<64xf32>, tensor<64x128xf32>) -> tensor<?x64xf32>
  return %y : tensor<?x64xf32>
}

//===----------------------------------------------------------------------===//
// State types
//===----------------------------------------------------------------------===//

// CHECK-LABEL: func.func @state_types
// CHECK-SAME: %{{.*}}: !hybrid.kv_cache<2x16xbf16>
// CHECK-SAME: %{{.*}}: !hybrid.kv_cache<8x128xf16>
// CHECK-SAME: %{{.*}}: !hybrid.latent_cache<512x64xbf16>
// CHECK-SAME: %{{.*}}: !hybrid.conv_state<64x3xbf16>
// CHECK-SAME: %{{.*}}: !hybrid.conv_state<128x3xf32>
// CHECK-SAME: %{{.*}}: !hybrid.recurrent_state<128x8xf32>
// CHECK-SAME: %{{.*}}: !hybrid.recurrent_state<4x8x8xf32>
// CHECK-SAME: -> (!hybrid.kv_cache<2x16xbf16>, !hybrid.recurrent_state<4x8x8xf32>)
// CHECK: return %{{.*}}, %{{.*}} : !hybrid.kv_cache<2x16xbf16>, !hybrid.recurrent_state<4x8x8xf32>
func.func @state_types(%kv: !hybrid.kv_cache<2x16xbf16>, %kv16: !hybrid.kv_cache<8x128xf16>, %latent: !hybrid.latent_cache<512x64xbf16>, %conv: !hybrid.conv_state<64x3xbf16>, %conv32: !hybrid.conv_state<128x3xf32>, %ssm: !hybrid.recurrent_state<128x8xf32>, %rec: !hybrid.recurrent_state<4x8x8xf32>) -> (!hybrid.kv_cache<2x16xbf16>, !hybrid.recurrent_state<4x8x8xf32>) {
  return %kv, %rec : !hybrid.kv_cache<2x16xbf16>, !hybrid.recurrent_state<4x8x8xf32>
}

//===----------------------------------------------------------------------===//
// Dispatches
//===----------------------------------------------------------------------===//

// CHECK-LABEL: func.func @dispatch
// CHECK: hybrid.dispatch @dispatch_kernel workgroups(%{{.*}}) (%{{.*}}, %{{.*}}) : memref<?x16xf32>, index
// CHECK: hybrid.dispatch @dispatch_nothing workgroups(%{{.*}})
func.func private @dispatch_kernel(%begin: index, %end: index, %x: memref<?x16xf32>, %n: index)
func.func private @dispatch_nothing(%begin: index, %end: index)
func.func @dispatch(%x: memref<?x16xf32>, %n: index) {
  hybrid.dispatch @dispatch_kernel workgroups(%n) (%x, %n) : memref<?x16xf32>, index
  hybrid.dispatch @dispatch_nothing workgroups(%n)
  return
}

//===----------------------------------------------------------------------===//
// Warpgroup products
//===----------------------------------------------------------------------===//

// CHECK-LABEL: func.func @warpgroup_mma
// CHECK: %{{.*}}:2 = hybrid.warpgroup_mma %{{.*}}[%{{.*}}, %{{.*}}], %{{.*}}[%{{.*}}, %{{.*}}] warp(%{{.*}}) acc(%{{.*}}, %{{.*}}) : memref<16x4x8x8xbf16>, memref<8x16x8x8xbf16>, vector<16x8xf32>, vector<16x8xf32>
func.func @warpgroup_mma(%a: memref<16x4x8x8xbf16>, %b: memref<8x16x8x8xbf16>,
                         %i: index, %w: index, %acc: vector<16x8xf32>)
    -> (vector<16x8xf32>, vector<16x8xf32>) {
  %d:2 = hybrid.warpgroup_mma %a[%i, %i], %b[%i, %i] warp(%w) acc(%acc, %acc)
      : memref<16x4x8x8xbf16>, memref<8x16x8x8xbf16>, vector<16x8xf32>, vector<16x8xf32>
  return %d#0, %d#1 : vector<16x8xf32>, vector<16x8xf32>
}
