// RUN: hybrid-opt %s -split-input-file -verify-diagnostics

// One case per diagnostic of the hybrid dialect (HybridOps.cpp and
// HybridTypes.cpp), and one per operand of the shape checks. Every case
// starts from a valid op and breaks one thing.

func.func @negative_weight_empty_name() {
  // expected-error @+1 {{'hybrid.weight' op tensor name must not be empty}}
  %w = hybrid.weight "" : tensor<2xf32>
  return
}

// -----

func.func @negative_weight_experts_not_positive() {
  // expected-error @+1 {{'hybrid.weight' op experts must be positive, got 0}}
  %w = hybrid.weight "mlp.experts.{e}.w" experts(0) : tensor<1x2xf32>
  return
}

// -----

func.func @negative_weight_experts_name_without_placeholder() {
  // expected-error @+1 {{'hybrid.weight' op name of a stacked expert weight must contain '{e}'}}
  %w = hybrid.weight "mlp.experts.w" experts(2) : tensor<2x4xf32>
  return
}

// -----

func.func @negative_weight_experts_leading_dim_mismatch() {
  // expected-error @+1 {{'hybrid.weight' op stacked expert weight must have a leading dimension of 4, got 'tensor<2x4xf32>'}}
  %w = hybrid.weight "mlp.experts.{e}.w" experts(4) : tensor<2x4xf32>
  return
}

// -----

// A packed weight is [panels, K, panel].
func.func @negative_weight_packed_shape() {
  // expected-error @+1 {{'hybrid.weight' op packed(16) weight must be [panels, K, 16], got 'tensor<3x24x8xf32>'}}
  %w = hybrid.weight "lm_head.weight" packed(16) : tensor<3x24x8xf32>
  return
}

// -----

func.func @negative_weight_packed_rank() {
  // expected-error @+1 {{'hybrid.weight' op packed(16) weight must be [panels, K, 16], got 'tensor<40x16xf32>'}}
  %w = hybrid.weight "lm_head.weight" packed(16) : tensor<40x16xf32>
  return
}

// -----

func.func @negative_weight_packed_experts_rank() {
  // expected-error @+1 {{'hybrid.weight' op packed(4) weight must be [experts, panels, K, 4], got 'tensor<2x3x4xf32>'}}
  %w = hybrid.weight "e.{e}.w" experts(2) packed(4) : tensor<2x3x4xf32>
  return
}

// -----

// In pairs the rows hold two inputs of each of the panel's outputs.
func.func @negative_weight_packed_pairs_shape() {
  // expected-error @+1 {{'hybrid.weight' op packed(16) pairs weight must be [panels, ceil(K / 2), 32], got 'tensor<3x24x16xbf16>'}}
  %w = hybrid.weight "lm_head.weight" packed(16) pairs : tensor<3x24x16xbf16>
  return
}

// -----

func.func @negative_weight_pairs_unpacked() {
  // expected-error @+1 {{'hybrid.weight' op pairs needs packed(NR)}}
  %w = hybrid.weight "lm_head.weight" pairs : tensor<40x24xbf16>
  return
}

// -----

func.func @negative_weight_packed_too_wide() {
  // expected-error @+1 {{'hybrid.weight' op packed panel must be at most 256, got 512}}
  %w = hybrid.weight "lm_head.weight" packed(512) : tensor<1x24x512xf32>
  return
}

// -----

func.func @negative_weight_packed_zero() {
  // expected-error @+1 {{attribute 'packed' failed to satisfy constraint}}
  %w = hybrid.weight "lm_head.weight" packed(0) : tensor<3x24x1xf32>
  return
}

// -----

// A stacked weight needs the expert dimension and at least one more.
func.func @negative_weight_experts_rank_one() {
  // expected-error @+1 {{'hybrid.weight' op stacked expert weight must have a leading dimension of 4, got 'tensor<4xf32>'}}
  %w = hybrid.weight "mlp.experts.{e}.bias" experts(4) : tensor<4xf32>
  return
}

// -----

func.func @negative_weight_placeholder_without_experts() {
  // expected-error @+1 {{'hybrid.weight' op name contains '{e}' but experts(N) is not set}}
  %w = hybrid.weight "mlp.experts.{e}.w" : tensor<2x4xf32>
  return
}

// -----

func.func @negative_dequantize_quantized_not_f8E4M3FN(%q: tensor<8x8xbf16>, %s: tensor<2x2xf32>) {
  // expected-error @+1 {{'hybrid.dequantize' op quantized operand must have element type f8E4M3FN, got 'bf16'}}
  %y = hybrid.dequantize %q, %s block [4, 4] : (tensor<8x8xbf16>, tensor<2x2xf32>) -> tensor<8x8xbf16>
  return
}

// -----

func.func @negative_dequantize_quantized_f8E5M2(%q: tensor<8x8xf8E5M2>, %s: tensor<2x2xf32>) {
  // expected-error @+1 {{'hybrid.dequantize' op quantized operand must have element type f8E4M3FN, got 'f8E5M2'}}
  %y = hybrid.dequantize %q, %s block [4, 4] : (tensor<8x8xf8E5M2>, tensor<2x2xf32>) -> tensor<8x8xbf16>
  return
}

// -----

func.func @negative_dequantize_scale_inv_not_f32(%q: tensor<8x8xf8E4M3FN>, %s: tensor<2x2xbf16>) {
  // expected-error @+1 {{'hybrid.dequantize' op scale_inv must have element type f32, got 'bf16'}}
  %y = hybrid.dequantize %q, %s block [4, 4] : (tensor<8x8xf8E4M3FN>, tensor<2x2xbf16>) -> tensor<8x8xbf16>
  return
}

// -----

func.func @negative_dequantize_block_one_size(%q: tensor<8x8xf8E4M3FN>, %s: tensor<2x2xf32>) {
  // expected-error @+1 {{'hybrid.dequantize' op block must be two positive sizes}}
  %y = hybrid.dequantize %q, %s block [4] : (tensor<8x8xf8E4M3FN>, tensor<2x2xf32>) -> tensor<8x8xbf16>
  return
}

// -----

func.func @negative_dequantize_block_zero(%q: tensor<8x8xf8E4M3FN>, %s: tensor<2x2xf32>) {
  // expected-error @+1 {{'hybrid.dequantize' op block must be two positive sizes}}
  %y = hybrid.dequantize %q, %s block [4, 0] : (tensor<8x8xf8E4M3FN>, tensor<2x2xf32>) -> tensor<8x8xbf16>
  return
}

// -----

func.func @negative_dequantize_quantized_rank_one(%q: tensor<8xf8E4M3FN>, %s: tensor<2xf32>) {
  // expected-error @+1 {{'hybrid.dequantize' op quantized operand must have rank >= 2}}
  %y = hybrid.dequantize %q, %s block [4, 4] : (tensor<8xf8E4M3FN>, tensor<2xf32>) -> tensor<8xbf16>
  return
}

// -----

// ceil(9 / 4) = 3 row blocks.
func.func @negative_dequantize_scale_inv_not_ceil(%q: tensor<9x8xf8E4M3FN>, %s: tensor<2x2xf32>) {
  // expected-error @+1 {{'hybrid.dequantize' op scale_inv has shape [2, 2], expected [3, 2] (ceil of the last two dimensions by the block)}}
  %y = hybrid.dequantize %q, %s block [4, 4] : (tensor<9x8xf8E4M3FN>, tensor<2x2xf32>) -> tensor<9x8xbf16>
  return
}

// -----

// Stacked expert weights need a scale per expert.
func.func @negative_dequantize_scale_inv_expert_dim(%q: tensor<3x8x8xf8E4M3FN>, %s: tensor<2x2xf32>) {
  // expected-error @+1 {{'hybrid.dequantize' op scale_inv has shape [2, 2], expected [3, 2, 2] (ceil of the last two dimensions by the block)}}
  %y = hybrid.dequantize %q, %s block [4, 4] : (tensor<3x8x8xf8E4M3FN>, tensor<2x2xf32>) -> tensor<3x8x8xbf16>
  return
}

// -----

func.func @negative_dequantize_result_shape(%q: tensor<8x8xf8E4M3FN>, %s: tensor<2x2xf32>) {
  // expected-error @+1 {{'hybrid.dequantize' op result has shape [8, 4], expected [8, 8] (the quantized shape)}}
  %y = hybrid.dequantize %q, %s block [4, 4] : (tensor<8x8xf8E4M3FN>, tensor<2x2xf32>) -> tensor<8x4xbf16>
  return
}

// -----

func.func @negative_embed_table_rank_three(%tokens: tensor<?xi64>, %table: tensor<2x16x8xbf16>) {
  // expected-error @+1 {{'hybrid.embed' op table must be [vocab, hidden], got 'tensor<2x16x8xbf16>'}}
  %y = hybrid.embed %tokens, %table : (tensor<?xi64>, tensor<2x16x8xbf16>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_embed_result_hidden(%tokens: tensor<?xi64>, %table: tensor<16x8xbf16>) {
  // expected-error @+1 {{'hybrid.embed' op result has shape [?, 4], expected [?, 8] ([tokens, hidden])}}
  %y = hybrid.embed %tokens, %table : (tensor<?xi64>, tensor<16x8xbf16>) -> tensor<?x4xf32>
  return
}

// -----

func.func @negative_embed_result_tokens(%tokens: tensor<3xi64>, %table: tensor<16x8xbf16>) {
  // expected-error @+1 {{'hybrid.embed' op result has shape [2, 8], expected [3, 8] ([tokens, hidden])}}
  %y = hybrid.embed %tokens, %table : (tensor<3xi64>, tensor<16x8xbf16>) -> tensor<2x8xf32>
  return
}

// -----

func.func @negative_rms_norm_dynamic_last_dim(%x: tensor<2x?xf32>, %w: tensor<8xf32>) {
  // expected-error @+1 {{'hybrid.rms_norm' op input must have a static last dimension, got 'tensor<2x?xf32>'}}
  %y = hybrid.rms_norm plain %x, %w {epsilon = 1.0e-06 : f64} : (tensor<2x?xf32>, tensor<8xf32>) -> tensor<2x?xf32>
  return
}

// -----

func.func @negative_rms_norm_rank_zero(%x: tensor<f32>, %w: tensor<1xf32>) {
  // expected-error @+1 {{'hybrid.rms_norm' op input must have a static last dimension, got 'tensor<f32>'}}
  %y = hybrid.rms_norm plain %x, %w {epsilon = 1.0e-06 : f64} : (tensor<f32>, tensor<1xf32>) -> tensor<f32>
  return
}

// -----

func.func @negative_rms_norm_weight_size(%x: tensor<?x8xf32>, %w: tensor<4xf32>) {
  // expected-error @+1 {{'hybrid.rms_norm' op weight has shape [4], expected [8] ([last dimension of the input])}}
  %y = hybrid.rms_norm plain %x, %w {epsilon = 1.0e-06 : f64} : (tensor<?x8xf32>, tensor<4xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_rms_norm_gated_without_gate(%x: tensor<?x8xf32>, %w: tensor<8xf32>) {
  // expected-error @+1 {{'hybrid.rms_norm' op takes a gate operand if and only if kind is gated}}
  %y = hybrid.rms_norm gated %x, %w {epsilon = 1.0e-06 : f64} : (tensor<?x8xf32>, tensor<8xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_rms_norm_gate_with_zero_centered(%x: tensor<?x8xf32>, %w: tensor<8xf32>, %z: tensor<?x8xf32>) {
  // expected-error @+1 {{'hybrid.rms_norm' op takes a gate operand if and only if kind is gated}}
  %y = hybrid.rms_norm zero_centered %x, %w gate %z {epsilon = 1.0e-06 : f64} : (tensor<?x8xf32>, tensor<8xf32>, tensor<?x8xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_rms_norm_gate_shape(%x: tensor<?x2x4xf32>, %w: tensor<4xf32>, %z: tensor<?x8xf32>) {
  // expected-error @+1 {{'hybrid.rms_norm' op gate has shape [?, 8], expected [?, 2, 4] (the input shape)}}
  %y = hybrid.rms_norm gated %x, %w gate %z {epsilon = 1.0e-06 : f64} : (tensor<?x2x4xf32>, tensor<4xf32>, tensor<?x8xf32>) -> tensor<?x2x4xf32>
  return
}

// -----

func.func @negative_rms_norm_epsilon_zero(%x: tensor<?x8xf32>, %w: tensor<8xf32>) {
  // expected-error @+1 {{'hybrid.rms_norm' op epsilon must be positive}}
  %y = hybrid.rms_norm plain %x, %w {epsilon = 0.0 : f64} : (tensor<?x8xf32>, tensor<8xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_rms_norm_result_shape(%x: tensor<?x8xf32>, %w: tensor<8xf32>) {
  // expected-error @+1 {{'hybrid.rms_norm' op result has shape [?, 4], expected [?, 8] (the input shape)}}
  %y = hybrid.rms_norm plain %x, %w {epsilon = 1.0e-06 : f64} : (tensor<?x8xf32>, tensor<8xf32>) -> tensor<?x4xf32>
  return
}

// -----

func.func @negative_select_rows_result_rows(%x: tensor<?x8xf32>, %rows: tensor<1xi64>) {
  // expected-error @+1 {{'hybrid.select_rows' op result has shape [?, 8], expected [1, 8] ([rows, hidden])}}
  %y = hybrid.select_rows %x, %rows : (tensor<?x8xf32>, tensor<1xi64>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_select_rows_i32_rows(%x: tensor<?x8xf32>, %rows: tensor<?xi32>) {
  // expected-error @+1 {{'hybrid.select_rows' op operand #1 must be 1D tensor of 64-bit signless integer values}}
  %y = hybrid.select_rows %x, %rows : (tensor<?x8xf32>, tensor<?xi32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_lm_head_dynamic_hidden(%x: tensor<?x?xf32>, %w: tensor<16x8xf32>) {
  // expected-error @+1 {{'hybrid.lm_head' op input must have a static hidden size, got 'tensor<?x?xf32>'}}
  %y = hybrid.lm_head %x, %w : (tensor<?x?xf32>, tensor<16x8xf32>) -> tensor<?x16xf32>
  return
}

// -----

func.func @negative_lm_head_weight_hidden(%x: tensor<?x8xf32>, %w: tensor<16x4xf32>) {
  // expected-error @+1 {{'hybrid.lm_head' op weight has shape [16, 4], expected [?, 8] ([vocab, hidden])}}
  %y = hybrid.lm_head %x, %w : (tensor<?x8xf32>, tensor<16x4xf32>) -> tensor<?x16xf32>
  return
}

// -----

func.func @negative_lm_head_result_vocab(%x: tensor<?x8xf32>, %w: tensor<16x8xf32>) {
  // expected-error @+1 {{'hybrid.lm_head' op result has shape [?, 8], expected [?, 16] ([tokens, vocab])}}
  %y = hybrid.lm_head %x, %w : (tensor<?x8xf32>, tensor<16x8xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_mlp_dynamic_hidden(%x: tensor<?x?xf32>, %g: tensor<12x8xf32>, %u: tensor<12x8xf32>, %d: tensor<8x12xf32>) {
  // expected-error @+1 {{'hybrid.mlp' op input must have a static hidden size, got 'tensor<?x?xf32>'}}
  %y = hybrid.mlp %x gate_proj(%g) up_proj(%u) down_proj(%d) : (tensor<?x?xf32>, tensor<12x8xf32>, tensor<12x8xf32>, tensor<8x12xf32>) -> tensor<?x?xf32>
  return
}

// -----

func.func @negative_mlp_gate_proj_hidden(%x: tensor<?x8xf32>, %g: tensor<12x4xf32>, %u: tensor<12x8xf32>, %d: tensor<8x12xf32>) {
  // expected-error @+1 {{'hybrid.mlp' op gate_proj has shape [12, 4], expected [?, 8] ([intermediate, hidden])}}
  %y = hybrid.mlp %x gate_proj(%g) up_proj(%u) down_proj(%d) : (tensor<?x8xf32>, tensor<12x4xf32>, tensor<12x8xf32>, tensor<8x12xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_mlp_up_proj_intermediate(%x: tensor<?x8xf32>, %g: tensor<12x8xf32>, %u: tensor<10x8xf32>, %d: tensor<8x12xf32>) {
  // expected-error @+1 {{'hybrid.mlp' op up_proj has shape [10, 8], expected [12, 8] ([intermediate, hidden])}}
  %y = hybrid.mlp %x gate_proj(%g) up_proj(%u) down_proj(%d) : (tensor<?x8xf32>, tensor<12x8xf32>, tensor<10x8xf32>, tensor<8x12xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_mlp_down_proj_transposed(%x: tensor<?x8xf32>, %g: tensor<12x8xf32>, %u: tensor<12x8xf32>, %d: tensor<12x8xf32>) {
  // expected-error @+1 {{'hybrid.mlp' op down_proj has shape [12, 8], expected [8, 12] ([hidden, intermediate])}}
  %y = hybrid.mlp %x gate_proj(%g) up_proj(%u) down_proj(%d) : (tensor<?x8xf32>, tensor<12x8xf32>, tensor<12x8xf32>, tensor<12x8xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_mlp_result_hidden(%x: tensor<?x8xf32>, %g: tensor<12x8xf32>, %u: tensor<12x8xf32>, %d: tensor<8x12xf32>) {
  // expected-error @+1 {{'hybrid.mlp' op result has shape [?, 12], expected [?, 8] ([tokens, hidden])}}
  %y = hybrid.mlp %x gate_proj(%g) up_proj(%u) down_proj(%d) : (tensor<?x8xf32>, tensor<12x8xf32>, tensor<12x8xf32>, tensor<8x12xf32>) -> tensor<?x12xf32>
  return
}

// -----

func.func @negative_moe_dynamic_hidden(%x: tensor<?x?xf32>, %r: tensor<4x8xf32>, %g: tensor<4x6x8xf32>, %u: tensor<4x6x8xf32>, %d: tensor<4x8x6xf32>) {
  // expected-error @+1 {{'hybrid.moe' op input must have a static hidden size, got 'tensor<?x?xf32>'}}
  %y = hybrid.moe softmax %x router(%r) experts_gate(%g) experts_up(%u) experts_down(%d) {num_experts = 4 : i64, top_k = 2 : i64, norm_topk_prob = true} : (tensor<?x?xf32>, tensor<4x8xf32>, tensor<4x6x8xf32>, tensor<4x6x8xf32>, tensor<4x8x6xf32>) -> tensor<?x?xf32>
  return
}

// -----

func.func @negative_moe_num_experts_zero(%x: tensor<?x8xf32>, %r: tensor<4x8xf32>, %g: tensor<4x6x8xf32>, %u: tensor<4x6x8xf32>, %d: tensor<4x8x6xf32>) {
  // expected-error @+1 {{'hybrid.moe' op num_experts must be positive, got 0}}
  %y = hybrid.moe softmax %x router(%r) experts_gate(%g) experts_up(%u) experts_down(%d) {num_experts = 0 : i64, top_k = 2 : i64, norm_topk_prob = true} : (tensor<?x8xf32>, tensor<4x8xf32>, tensor<4x6x8xf32>, tensor<4x6x8xf32>, tensor<4x8x6xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_moe_top_k_zero(%x: tensor<?x8xf32>, %r: tensor<4x8xf32>, %g: tensor<4x6x8xf32>, %u: tensor<4x6x8xf32>, %d: tensor<4x8x6xf32>) {
  // expected-error @+1 {{'hybrid.moe' op top_k must be positive, got 0}}
  %y = hybrid.moe softmax %x router(%r) experts_gate(%g) experts_up(%u) experts_down(%d) {num_experts = 4 : i64, top_k = 0 : i64, norm_topk_prob = true} : (tensor<?x8xf32>, tensor<4x8xf32>, tensor<4x6x8xf32>, tensor<4x6x8xf32>, tensor<4x8x6xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_moe_n_group_zero(%x: tensor<?x8xf32>, %r: tensor<4x8xf32>, %g: tensor<4x6x8xf32>, %u: tensor<4x6x8xf32>, %d: tensor<4x8x6xf32>) {
  // expected-error @+1 {{'hybrid.moe' op n_group must be positive, got 0}}
  %y = hybrid.moe softmax %x router(%r) experts_gate(%g) experts_up(%u) experts_down(%d) {num_experts = 4 : i64, top_k = 2 : i64, norm_topk_prob = true, n_group = 0 : i64} : (tensor<?x8xf32>, tensor<4x8xf32>, tensor<4x6x8xf32>, tensor<4x6x8xf32>, tensor<4x8x6xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_moe_topk_group_negative(%x: tensor<?x8xf32>, %r: tensor<4x8xf32>, %g: tensor<4x6x8xf32>, %u: tensor<4x6x8xf32>, %d: tensor<4x8x6xf32>) {
  // expected-error @+1 {{'hybrid.moe' op topk_group must be positive, got -1}}
  %y = hybrid.moe softmax %x router(%r) experts_gate(%g) experts_up(%u) experts_down(%d) {num_experts = 4 : i64, top_k = 2 : i64, norm_topk_prob = true, topk_group = -1 : i64} : (tensor<?x8xf32>, tensor<4x8xf32>, tensor<4x6x8xf32>, tensor<4x6x8xf32>, tensor<4x8x6xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_moe_top_k_exceeds_num_experts(%x: tensor<?x8xf32>, %r: tensor<4x8xf32>, %g: tensor<4x6x8xf32>, %u: tensor<4x6x8xf32>, %d: tensor<4x8x6xf32>) {
  // expected-error @+1 {{'hybrid.moe' op top_k (5) exceeds num_experts (4)}}
  %y = hybrid.moe softmax %x router(%r) experts_gate(%g) experts_up(%u) experts_down(%d) {num_experts = 4 : i64, top_k = 5 : i64, norm_topk_prob = true} : (tensor<?x8xf32>, tensor<4x8xf32>, tensor<4x6x8xf32>, tensor<4x6x8xf32>, tensor<4x8x6xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_moe_n_group_does_not_divide_num_experts(%x: tensor<?x8xf32>, %r: tensor<4x8xf32>, %g: tensor<4x6x8xf32>, %u: tensor<4x6x8xf32>, %d: tensor<4x8x6xf32>) {
  // expected-error @+1 {{'hybrid.moe' op n_group (3) must divide num_experts (4)}}
  %y = hybrid.moe softmax %x router(%r) experts_gate(%g) experts_up(%u) experts_down(%d) {num_experts = 4 : i64, top_k = 2 : i64, norm_topk_prob = true, n_group = 3 : i64} : (tensor<?x8xf32>, tensor<4x8xf32>, tensor<4x6x8xf32>, tensor<4x6x8xf32>, tensor<4x8x6xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_moe_topk_group_exceeds_n_group(%x: tensor<?x8xf32>, %r: tensor<4x8xf32>, %g: tensor<4x6x8xf32>, %u: tensor<4x6x8xf32>, %d: tensor<4x8x6xf32>) {
  // expected-error @+1 {{'hybrid.moe' op topk_group (3) exceeds n_group (2)}}
  %y = hybrid.moe softmax %x router(%r) experts_gate(%g) experts_up(%u) experts_down(%d) {num_experts = 4 : i64, top_k = 2 : i64, norm_topk_prob = true, n_group = 2 : i64, topk_group = 3 : i64} : (tensor<?x8xf32>, tensor<4x8xf32>, tensor<4x6x8xf32>, tensor<4x6x8xf32>, tensor<4x8x6xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_moe_group_of_one_expert(%x: tensor<?x8xf32>, %r: tensor<4x8xf32>, %g: tensor<4x6x8xf32>, %u: tensor<4x6x8xf32>, %d: tensor<4x8x6xf32>) {
  // expected-error @+1 {{'hybrid.moe' op group-limited routing needs at least 2 experts per group (a group scores by its top-2)}}
  %y = hybrid.moe softmax %x router(%r) experts_gate(%g) experts_up(%u) experts_down(%d) {num_experts = 4 : i64, top_k = 2 : i64, norm_topk_prob = true, n_group = 4 : i64, topk_group = 2 : i64} : (tensor<?x8xf32>, tensor<4x8xf32>, tensor<4x6x8xf32>, tensor<4x6x8xf32>, tensor<4x8x6xf32>) -> tensor<?x8xf32>
  return
}

// -----

// 2 groups of 2 experts, 1 group kept: at most 2 experts can be chosen.
func.func @negative_moe_top_k_exceeds_kept_groups(%x: tensor<?x8xf32>, %r: tensor<4x8xf32>, %g: tensor<4x6x8xf32>, %u: tensor<4x6x8xf32>, %d: tensor<4x8x6xf32>) {
  // expected-error @+1 {{'hybrid.moe' op top_k (3) exceeds the 2 experts of the kept groups}}
  %y = hybrid.moe softmax %x router(%r) experts_gate(%g) experts_up(%u) experts_down(%d) {num_experts = 4 : i64, top_k = 3 : i64, norm_topk_prob = true, n_group = 2 : i64, topk_group = 1 : i64} : (tensor<?x8xf32>, tensor<4x8xf32>, tensor<4x6x8xf32>, tensor<4x6x8xf32>, tensor<4x8x6xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_moe_routed_scaling_factor_zero(%x: tensor<?x8xf32>, %r: tensor<4x8xf32>, %g: tensor<4x6x8xf32>, %u: tensor<4x6x8xf32>, %d: tensor<4x8x6xf32>) {
  // expected-error @+1 {{'hybrid.moe' op routed_scaling_factor must be positive}}
  %y = hybrid.moe softmax %x router(%r) experts_gate(%g) experts_up(%u) experts_down(%d) {num_experts = 4 : i64, top_k = 2 : i64, norm_topk_prob = true, routed_scaling_factor = 0.0 : f64} : (tensor<?x8xf32>, tensor<4x8xf32>, tensor<4x6x8xf32>, tensor<4x6x8xf32>, tensor<4x8x6xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_moe_router_num_experts(%x: tensor<?x8xf32>, %r: tensor<8x8xf32>, %g: tensor<4x6x8xf32>, %u: tensor<4x6x8xf32>, %d: tensor<4x8x6xf32>) {
  // expected-error @+1 {{'hybrid.moe' op router has shape [8, 8], expected [4, 8] ([num_experts, hidden])}}
  %y = hybrid.moe softmax %x router(%r) experts_gate(%g) experts_up(%u) experts_down(%d) {num_experts = 4 : i64, top_k = 2 : i64, norm_topk_prob = true} : (tensor<?x8xf32>, tensor<8x8xf32>, tensor<4x6x8xf32>, tensor<4x6x8xf32>, tensor<4x8x6xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_moe_experts_gate_hidden(%x: tensor<?x8xf32>, %r: tensor<4x8xf32>, %g: tensor<4x8x6xf32>, %u: tensor<4x6x8xf32>, %d: tensor<4x8x6xf32>) {
  // expected-error @+1 {{'hybrid.moe' op experts_gate has shape [4, 8, 6], expected [4, ?, 8] ([num_experts, intermediate, hidden])}}
  %y = hybrid.moe softmax %x router(%r) experts_gate(%g) experts_up(%u) experts_down(%d) {num_experts = 4 : i64, top_k = 2 : i64, norm_topk_prob = true} : (tensor<?x8xf32>, tensor<4x8xf32>, tensor<4x8x6xf32>, tensor<4x6x8xf32>, tensor<4x8x6xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_moe_experts_gate_not_stacked(%x: tensor<?x8xf32>, %r: tensor<4x8xf32>, %g: tensor<6x8xf32>, %u: tensor<4x6x8xf32>, %d: tensor<4x8x6xf32>) {
  // expected-error @+1 {{'hybrid.moe' op experts_gate has shape [6, 8], expected [4, ?, 8] ([num_experts, intermediate, hidden])}}
  %y = hybrid.moe softmax %x router(%r) experts_gate(%g) experts_up(%u) experts_down(%d) {num_experts = 4 : i64, top_k = 2 : i64, norm_topk_prob = true} : (tensor<?x8xf32>, tensor<4x8xf32>, tensor<6x8xf32>, tensor<4x6x8xf32>, tensor<4x8x6xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_moe_experts_up_intermediate(%x: tensor<?x8xf32>, %r: tensor<4x8xf32>, %g: tensor<4x6x8xf32>, %u: tensor<4x5x8xf32>, %d: tensor<4x8x6xf32>) {
  // expected-error @+1 {{'hybrid.moe' op experts_up has shape [4, 5, 8], expected [4, 6, 8] ([num_experts, intermediate, hidden])}}
  %y = hybrid.moe softmax %x router(%r) experts_gate(%g) experts_up(%u) experts_down(%d) {num_experts = 4 : i64, top_k = 2 : i64, norm_topk_prob = true} : (tensor<?x8xf32>, tensor<4x8xf32>, tensor<4x6x8xf32>, tensor<4x5x8xf32>, tensor<4x8x6xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_moe_experts_down_transposed(%x: tensor<?x8xf32>, %r: tensor<4x8xf32>, %g: tensor<4x6x8xf32>, %u: tensor<4x6x8xf32>, %d: tensor<4x6x8xf32>) {
  // expected-error @+1 {{'hybrid.moe' op experts_down has shape [4, 6, 8], expected [4, 8, 6] ([num_experts, hidden, intermediate])}}
  %y = hybrid.moe softmax %x router(%r) experts_gate(%g) experts_up(%u) experts_down(%d) {num_experts = 4 : i64, top_k = 2 : i64, norm_topk_prob = true} : (tensor<?x8xf32>, tensor<4x8xf32>, tensor<4x6x8xf32>, tensor<4x6x8xf32>, tensor<4x6x8xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_moe_selection_bias_size(%x: tensor<?x8xf32>, %r: tensor<4x8xf32>, %g: tensor<4x6x8xf32>, %u: tensor<4x6x8xf32>, %d: tensor<4x8x6xf32>, %b: tensor<8xf32>) {
  // expected-error @+1 {{'hybrid.moe' op selection_bias has shape [8], expected [4] ([num_experts])}}
  %y = hybrid.moe sigmoid %x router(%r) experts_gate(%g) experts_up(%u) experts_down(%d) selection_bias(%b) {num_experts = 4 : i64, top_k = 2 : i64, norm_topk_prob = true} : (tensor<?x8xf32>, tensor<4x8xf32>, tensor<4x6x8xf32>, tensor<4x6x8xf32>, tensor<4x8x6xf32>, tensor<8xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_moe_shared_down_missing(%x: tensor<?x8xf32>, %r: tensor<4x8xf32>, %g: tensor<4x6x8xf32>, %u: tensor<4x6x8xf32>, %d: tensor<4x8x6xf32>, %sg: tensor<12x8xf32>, %su: tensor<12x8xf32>) {
  // expected-error @+1 {{'hybrid.moe' op shared_gate, shared_up and shared_down must be given together}}
  %y = hybrid.moe softmax %x router(%r) experts_gate(%g) experts_up(%u) experts_down(%d) shared_gate(%sg) shared_up(%su) {num_experts = 4 : i64, top_k = 2 : i64, norm_topk_prob = true} : (tensor<?x8xf32>, tensor<4x8xf32>, tensor<4x6x8xf32>, tensor<4x6x8xf32>, tensor<4x8x6xf32>, tensor<12x8xf32>, tensor<12x8xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_moe_shared_expert_gate_without_shared_experts(%x: tensor<?x8xf32>, %r: tensor<4x8xf32>, %g: tensor<4x6x8xf32>, %u: tensor<4x6x8xf32>, %d: tensor<4x8x6xf32>, %seg: tensor<1x8xf32>) {
  // expected-error @+1 {{'hybrid.moe' op shared_expert_gate needs shared expert weights}}
  %y = hybrid.moe softmax %x router(%r) experts_gate(%g) experts_up(%u) experts_down(%d) shared_expert_gate(%seg) {num_experts = 4 : i64, top_k = 2 : i64, norm_topk_prob = true} : (tensor<?x8xf32>, tensor<4x8xf32>, tensor<4x6x8xf32>, tensor<4x6x8xf32>, tensor<4x8x6xf32>, tensor<1x8xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_moe_shared_gate_hidden(%x: tensor<?x8xf32>, %r: tensor<4x8xf32>, %g: tensor<4x6x8xf32>, %u: tensor<4x6x8xf32>, %d: tensor<4x8x6xf32>, %sg: tensor<12x4xf32>, %su: tensor<12x8xf32>, %sd: tensor<8x12xf32>) {
  // expected-error @+1 {{'hybrid.moe' op shared_gate has shape [12, 4], expected [?, 8] ([shared intermediate, hidden])}}
  %y = hybrid.moe softmax %x router(%r) experts_gate(%g) experts_up(%u) experts_down(%d) shared_gate(%sg) shared_up(%su) shared_down(%sd) {num_experts = 4 : i64, top_k = 2 : i64, norm_topk_prob = true} : (tensor<?x8xf32>, tensor<4x8xf32>, tensor<4x6x8xf32>, tensor<4x6x8xf32>, tensor<4x8x6xf32>, tensor<12x4xf32>, tensor<12x8xf32>, tensor<8x12xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_moe_shared_up_intermediate(%x: tensor<?x8xf32>, %r: tensor<4x8xf32>, %g: tensor<4x6x8xf32>, %u: tensor<4x6x8xf32>, %d: tensor<4x8x6xf32>, %sg: tensor<12x8xf32>, %su: tensor<10x8xf32>, %sd: tensor<8x12xf32>) {
  // expected-error @+1 {{'hybrid.moe' op shared_up has shape [10, 8], expected [12, 8] ([shared intermediate, hidden])}}
  %y = hybrid.moe softmax %x router(%r) experts_gate(%g) experts_up(%u) experts_down(%d) shared_gate(%sg) shared_up(%su) shared_down(%sd) {num_experts = 4 : i64, top_k = 2 : i64, norm_topk_prob = true} : (tensor<?x8xf32>, tensor<4x8xf32>, tensor<4x6x8xf32>, tensor<4x6x8xf32>, tensor<4x8x6xf32>, tensor<12x8xf32>, tensor<10x8xf32>, tensor<8x12xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_moe_shared_down_transposed(%x: tensor<?x8xf32>, %r: tensor<4x8xf32>, %g: tensor<4x6x8xf32>, %u: tensor<4x6x8xf32>, %d: tensor<4x8x6xf32>, %sg: tensor<12x8xf32>, %su: tensor<12x8xf32>, %sd: tensor<12x8xf32>) {
  // expected-error @+1 {{'hybrid.moe' op shared_down has shape [12, 8], expected [8, 12] ([hidden, shared intermediate])}}
  %y = hybrid.moe softmax %x router(%r) experts_gate(%g) experts_up(%u) experts_down(%d) shared_gate(%sg) shared_up(%su) shared_down(%sd) {num_experts = 4 : i64, top_k = 2 : i64, norm_topk_prob = true} : (tensor<?x8xf32>, tensor<4x8xf32>, tensor<4x6x8xf32>, tensor<4x6x8xf32>, tensor<4x8x6xf32>, tensor<12x8xf32>, tensor<12x8xf32>, tensor<12x8xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_moe_shared_expert_gate_shape(%x: tensor<?x8xf32>, %r: tensor<4x8xf32>, %g: tensor<4x6x8xf32>, %u: tensor<4x6x8xf32>, %d: tensor<4x8x6xf32>, %sg: tensor<12x8xf32>, %su: tensor<12x8xf32>, %sd: tensor<8x12xf32>, %seg: tensor<8xf32>) {
  // expected-error @+1 {{'hybrid.moe' op shared_expert_gate has shape [8], expected [1, 8] ([1, hidden])}}
  %y = hybrid.moe softmax %x router(%r) experts_gate(%g) experts_up(%u) experts_down(%d) shared_gate(%sg) shared_up(%su) shared_down(%sd) shared_expert_gate(%seg) {num_experts = 4 : i64, top_k = 2 : i64, norm_topk_prob = true} : (tensor<?x8xf32>, tensor<4x8xf32>, tensor<4x6x8xf32>, tensor<4x6x8xf32>, tensor<4x8x6xf32>, tensor<12x8xf32>, tensor<12x8xf32>, tensor<8x12xf32>, tensor<8xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_moe_result_hidden(%x: tensor<?x8xf32>, %r: tensor<4x8xf32>, %g: tensor<4x6x8xf32>, %u: tensor<4x6x8xf32>, %d: tensor<4x8x6xf32>) {
  // expected-error @+1 {{'hybrid.moe' op result has shape [?, 6], expected [?, 8] ([tokens, hidden])}}
  %y = hybrid.moe softmax %x router(%r) experts_gate(%g) experts_up(%u) experts_down(%d) {num_experts = 4 : i64, top_k = 2 : i64, norm_topk_prob = true} : (tensor<?x8xf32>, tensor<4x8xf32>, tensor<4x6x8xf32>, tensor<4x6x8xf32>, tensor<4x8x6xf32>) -> tensor<?x6xf32>
  return
}

// -----

func.func @negative_attention_dynamic_hidden(%x: tensor<?x?xf32>, %pos: tensor<?xi64>, %cache: !hybrid.kv_cache<1x4xf32>, %q: tensor<8x8xf32>, %k: tensor<4x8xf32>, %v: tensor<4x8xf32>, %o: tensor<8x8xf32>) {
  // expected-error @+1 {{'hybrid.attention' op input must have a static hidden size, got 'tensor<?x?xf32>'}}
  %y = hybrid.attention %x, %pos, %cache q_proj(%q) k_proj(%k) v_proj(%v) o_proj(%o) {num_heads = 2 : i64, num_kv_heads = 1 : i64, head_dim = 4 : i64, rotary_dim = 4 : i64, rope_theta = 1.0e+04 : f64, scale = 0.5 : f64} : (tensor<?x?xf32>, tensor<?xi64>, !hybrid.kv_cache<1x4xf32>, tensor<8x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>, tensor<8x8xf32>) -> tensor<?x?xf32>
  return
}

// -----

func.func @negative_attention_num_heads_zero(%x: tensor<?x8xf32>, %pos: tensor<?xi64>, %cache: !hybrid.kv_cache<1x4xf32>, %q: tensor<8x8xf32>, %k: tensor<4x8xf32>, %v: tensor<4x8xf32>, %o: tensor<8x8xf32>) {
  // expected-error @+1 {{'hybrid.attention' op num_heads must be positive, got 0}}
  %y = hybrid.attention %x, %pos, %cache q_proj(%q) k_proj(%k) v_proj(%v) o_proj(%o) {num_heads = 0 : i64, num_kv_heads = 1 : i64, head_dim = 4 : i64, rotary_dim = 4 : i64, rope_theta = 1.0e+04 : f64, scale = 0.5 : f64} : (tensor<?x8xf32>, tensor<?xi64>, !hybrid.kv_cache<1x4xf32>, tensor<8x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>, tensor<8x8xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_attention_num_kv_heads_zero(%x: tensor<?x8xf32>, %pos: tensor<?xi64>, %cache: !hybrid.kv_cache<1x4xf32>, %q: tensor<8x8xf32>, %k: tensor<4x8xf32>, %v: tensor<4x8xf32>, %o: tensor<8x8xf32>) {
  // expected-error @+1 {{'hybrid.attention' op num_kv_heads must be positive, got 0}}
  %y = hybrid.attention %x, %pos, %cache q_proj(%q) k_proj(%k) v_proj(%v) o_proj(%o) {num_heads = 2 : i64, num_kv_heads = 0 : i64, head_dim = 4 : i64, rotary_dim = 4 : i64, rope_theta = 1.0e+04 : f64, scale = 0.5 : f64} : (tensor<?x8xf32>, tensor<?xi64>, !hybrid.kv_cache<1x4xf32>, tensor<8x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>, tensor<8x8xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_attention_head_dim_negative(%x: tensor<?x8xf32>, %pos: tensor<?xi64>, %cache: !hybrid.kv_cache<1x4xf32>, %q: tensor<8x8xf32>, %k: tensor<4x8xf32>, %v: tensor<4x8xf32>, %o: tensor<8x8xf32>) {
  // expected-error @+1 {{'hybrid.attention' op head_dim must be positive, got -4}}
  %y = hybrid.attention %x, %pos, %cache q_proj(%q) k_proj(%k) v_proj(%v) o_proj(%o) {num_heads = 2 : i64, num_kv_heads = 1 : i64, head_dim = -4 : i64, rotary_dim = 4 : i64, rope_theta = 1.0e+04 : f64, scale = 0.5 : f64} : (tensor<?x8xf32>, tensor<?xi64>, !hybrid.kv_cache<1x4xf32>, tensor<8x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>, tensor<8x8xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_attention_kv_heads_do_not_divide(%x: tensor<?x8xf32>, %pos: tensor<?xi64>, %cache: !hybrid.kv_cache<1x4xf32>, %q: tensor<8x8xf32>, %k: tensor<4x8xf32>, %v: tensor<4x8xf32>, %o: tensor<8x8xf32>) {
  // expected-error @+1 {{'hybrid.attention' op num_kv_heads (3) must divide num_heads (2)}}
  %y = hybrid.attention %x, %pos, %cache q_proj(%q) k_proj(%k) v_proj(%v) o_proj(%o) {num_heads = 2 : i64, num_kv_heads = 3 : i64, head_dim = 4 : i64, rotary_dim = 4 : i64, rope_theta = 1.0e+04 : f64, scale = 0.5 : f64} : (tensor<?x8xf32>, tensor<?xi64>, !hybrid.kv_cache<1x4xf32>, tensor<8x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>, tensor<8x8xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_attention_rotary_dim_odd(%x: tensor<?x8xf32>, %pos: tensor<?xi64>, %cache: !hybrid.kv_cache<1x4xf32>, %q: tensor<8x8xf32>, %k: tensor<4x8xf32>, %v: tensor<4x8xf32>, %o: tensor<8x8xf32>) {
  // expected-error @+1 {{'hybrid.attention' op rotary_dim must be even and within [0, head_dim = 4], got 3}}
  %y = hybrid.attention %x, %pos, %cache q_proj(%q) k_proj(%k) v_proj(%v) o_proj(%o) {num_heads = 2 : i64, num_kv_heads = 1 : i64, head_dim = 4 : i64, rotary_dim = 3 : i64, rope_theta = 1.0e+04 : f64, scale = 0.5 : f64} : (tensor<?x8xf32>, tensor<?xi64>, !hybrid.kv_cache<1x4xf32>, tensor<8x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>, tensor<8x8xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_attention_rotary_dim_exceeds_head_dim(%x: tensor<?x8xf32>, %pos: tensor<?xi64>, %cache: !hybrid.kv_cache<1x4xf32>, %q: tensor<8x8xf32>, %k: tensor<4x8xf32>, %v: tensor<4x8xf32>, %o: tensor<8x8xf32>) {
  // expected-error @+1 {{'hybrid.attention' op rotary_dim must be even and within [0, head_dim = 4], got 6}}
  %y = hybrid.attention %x, %pos, %cache q_proj(%q) k_proj(%k) v_proj(%v) o_proj(%o) {num_heads = 2 : i64, num_kv_heads = 1 : i64, head_dim = 4 : i64, rotary_dim = 6 : i64, rope_theta = 1.0e+04 : f64, scale = 0.5 : f64} : (tensor<?x8xf32>, tensor<?xi64>, !hybrid.kv_cache<1x4xf32>, tensor<8x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>, tensor<8x8xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_attention_rotary_dim_negative(%x: tensor<?x8xf32>, %pos: tensor<?xi64>, %cache: !hybrid.kv_cache<1x4xf32>, %q: tensor<8x8xf32>, %k: tensor<4x8xf32>, %v: tensor<4x8xf32>, %o: tensor<8x8xf32>) {
  // expected-error @+1 {{'hybrid.attention' op rotary_dim must be even and within [0, head_dim = 4], got -2}}
  %y = hybrid.attention %x, %pos, %cache q_proj(%q) k_proj(%k) v_proj(%v) o_proj(%o) {num_heads = 2 : i64, num_kv_heads = 1 : i64, head_dim = 4 : i64, rotary_dim = -2 : i64, rope_theta = 1.0e+04 : f64, scale = 0.5 : f64} : (tensor<?x8xf32>, tensor<?xi64>, !hybrid.kv_cache<1x4xf32>, tensor<8x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>, tensor<8x8xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_attention_rope_theta_zero(%x: tensor<?x8xf32>, %pos: tensor<?xi64>, %cache: !hybrid.kv_cache<1x4xf32>, %q: tensor<8x8xf32>, %k: tensor<4x8xf32>, %v: tensor<4x8xf32>, %o: tensor<8x8xf32>) {
  // expected-error @+1 {{'hybrid.attention' op rope_theta must be positive}}
  %y = hybrid.attention %x, %pos, %cache q_proj(%q) k_proj(%k) v_proj(%v) o_proj(%o) {num_heads = 2 : i64, num_kv_heads = 1 : i64, head_dim = 4 : i64, rotary_dim = 4 : i64, rope_theta = 0.0 : f64, scale = 0.5 : f64} : (tensor<?x8xf32>, tensor<?xi64>, !hybrid.kv_cache<1x4xf32>, tensor<8x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>, tensor<8x8xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_attention_scale_negative(%x: tensor<?x8xf32>, %pos: tensor<?xi64>, %cache: !hybrid.kv_cache<1x4xf32>, %q: tensor<8x8xf32>, %k: tensor<4x8xf32>, %v: tensor<4x8xf32>, %o: tensor<8x8xf32>) {
  // expected-error @+1 {{'hybrid.attention' op scale must be positive}}
  %y = hybrid.attention %x, %pos, %cache q_proj(%q) k_proj(%k) v_proj(%v) o_proj(%o) {num_heads = 2 : i64, num_kv_heads = 1 : i64, head_dim = 4 : i64, rotary_dim = 4 : i64, rope_theta = 1.0e+04 : f64, scale = -0.5 : f64} : (tensor<?x8xf32>, tensor<?xi64>, !hybrid.kv_cache<1x4xf32>, tensor<8x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>, tensor<8x8xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_attention_q_proj_rows(%x: tensor<?x8xf32>, %pos: tensor<?xi64>, %cache: !hybrid.kv_cache<1x4xf32>, %q: tensor<4x8xf32>, %k: tensor<4x8xf32>, %v: tensor<4x8xf32>, %o: tensor<8x8xf32>) {
  // expected-error @+1 {{'hybrid.attention' op q_proj has shape [4, 8], expected [8, 8] ([num_heads * head_dim, hidden])}}
  %y = hybrid.attention %x, %pos, %cache q_proj(%q) k_proj(%k) v_proj(%v) o_proj(%o) {num_heads = 2 : i64, num_kv_heads = 1 : i64, head_dim = 4 : i64, rotary_dim = 4 : i64, rope_theta = 1.0e+04 : f64, scale = 0.5 : f64} : (tensor<?x8xf32>, tensor<?xi64>, !hybrid.kv_cache<1x4xf32>, tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>, tensor<8x8xf32>) -> tensor<?x8xf32>
  return
}

// -----

// With output_gate, q_proj holds the query and the gate of every head.
func.func @negative_attention_q_proj_output_gate_rows(%x: tensor<?x8xf32>, %pos: tensor<?xi64>, %cache: !hybrid.kv_cache<1x4xf32>, %q: tensor<8x8xf32>, %k: tensor<4x8xf32>, %v: tensor<4x8xf32>, %o: tensor<8x8xf32>) {
  // expected-error @+1 {{'hybrid.attention' op q_proj has shape [8, 8], expected [16, 8] ([2 * num_heads * head_dim (query and gate), hidden])}}
  %y = hybrid.attention %x, %pos, %cache q_proj(%q) k_proj(%k) v_proj(%v) o_proj(%o) {num_heads = 2 : i64, num_kv_heads = 1 : i64, head_dim = 4 : i64, rotary_dim = 4 : i64, rope_theta = 1.0e+04 : f64, scale = 0.5 : f64, output_gate} : (tensor<?x8xf32>, tensor<?xi64>, !hybrid.kv_cache<1x4xf32>, tensor<8x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>, tensor<8x8xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_attention_k_proj_rows(%x: tensor<?x8xf32>, %pos: tensor<?xi64>, %cache: !hybrid.kv_cache<1x4xf32>, %q: tensor<8x8xf32>, %k: tensor<8x8xf32>, %v: tensor<4x8xf32>, %o: tensor<8x8xf32>) {
  // expected-error @+1 {{'hybrid.attention' op k_proj has shape [8, 8], expected [4, 8] ([num_kv_heads * head_dim, hidden])}}
  %y = hybrid.attention %x, %pos, %cache q_proj(%q) k_proj(%k) v_proj(%v) o_proj(%o) {num_heads = 2 : i64, num_kv_heads = 1 : i64, head_dim = 4 : i64, rotary_dim = 4 : i64, rope_theta = 1.0e+04 : f64, scale = 0.5 : f64} : (tensor<?x8xf32>, tensor<?xi64>, !hybrid.kv_cache<1x4xf32>, tensor<8x8xf32>, tensor<8x8xf32>, tensor<4x8xf32>, tensor<8x8xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_attention_v_proj_hidden(%x: tensor<?x8xf32>, %pos: tensor<?xi64>, %cache: !hybrid.kv_cache<1x4xf32>, %q: tensor<8x8xf32>, %k: tensor<4x8xf32>, %v: tensor<4x4xf32>, %o: tensor<8x8xf32>) {
  // expected-error @+1 {{'hybrid.attention' op v_proj has shape [4, 4], expected [4, 8] ([num_kv_heads * head_dim, hidden])}}
  %y = hybrid.attention %x, %pos, %cache q_proj(%q) k_proj(%k) v_proj(%v) o_proj(%o) {num_heads = 2 : i64, num_kv_heads = 1 : i64, head_dim = 4 : i64, rotary_dim = 4 : i64, rope_theta = 1.0e+04 : f64, scale = 0.5 : f64} : (tensor<?x8xf32>, tensor<?xi64>, !hybrid.kv_cache<1x4xf32>, tensor<8x8xf32>, tensor<4x8xf32>, tensor<4x4xf32>, tensor<8x8xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_attention_o_proj_transposed(%x: tensor<?x8xf32>, %pos: tensor<?xi64>, %cache: !hybrid.kv_cache<1x4xf32>, %q: tensor<8x8xf32>, %k: tensor<4x8xf32>, %v: tensor<4x8xf32>, %o: tensor<4x8xf32>) {
  // expected-error @+1 {{'hybrid.attention' op o_proj has shape [4, 8], expected [8, 8] ([hidden, num_heads * head_dim])}}
  %y = hybrid.attention %x, %pos, %cache q_proj(%q) k_proj(%k) v_proj(%v) o_proj(%o) {num_heads = 2 : i64, num_kv_heads = 1 : i64, head_dim = 4 : i64, rotary_dim = 4 : i64, rope_theta = 1.0e+04 : f64, scale = 0.5 : f64} : (tensor<?x8xf32>, tensor<?xi64>, !hybrid.kv_cache<1x4xf32>, tensor<8x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_attention_q_norm_without_k_norm(%x: tensor<?x8xf32>, %pos: tensor<?xi64>, %cache: !hybrid.kv_cache<1x4xf32>, %q: tensor<8x8xf32>, %k: tensor<4x8xf32>, %v: tensor<4x8xf32>, %o: tensor<8x8xf32>, %qn: tensor<4xf32>) {
  // expected-error @+1 {{'hybrid.attention' op q_norm and k_norm must be given together}}
  %y = hybrid.attention %x, %pos, %cache q_proj(%q) k_proj(%k) v_proj(%v) o_proj(%o) q_norm(%qn) qk_norm plain {num_heads = 2 : i64, num_kv_heads = 1 : i64, head_dim = 4 : i64, rotary_dim = 4 : i64, rope_theta = 1.0e+04 : f64, scale = 0.5 : f64, norm_epsilon = 1.0e-06 : f64} : (tensor<?x8xf32>, tensor<?xi64>, !hybrid.kv_cache<1x4xf32>, tensor<8x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>, tensor<8x8xf32>, tensor<4xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_attention_q_norm_without_qk_norm(%x: tensor<?x8xf32>, %pos: tensor<?xi64>, %cache: !hybrid.kv_cache<1x4xf32>, %q: tensor<8x8xf32>, %k: tensor<4x8xf32>, %v: tensor<4x8xf32>, %o: tensor<8x8xf32>, %qn: tensor<4xf32>, %kn: tensor<4xf32>) {
  // expected-error @+1 {{'hybrid.attention' op qk_norm and norm_epsilon must be set if and only if q_norm/k_norm are given}}
  %y = hybrid.attention %x, %pos, %cache q_proj(%q) k_proj(%k) v_proj(%v) o_proj(%o) q_norm(%qn) k_norm(%kn) {num_heads = 2 : i64, num_kv_heads = 1 : i64, head_dim = 4 : i64, rotary_dim = 4 : i64, rope_theta = 1.0e+04 : f64, scale = 0.5 : f64, norm_epsilon = 1.0e-06 : f64} : (tensor<?x8xf32>, tensor<?xi64>, !hybrid.kv_cache<1x4xf32>, tensor<8x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>, tensor<8x8xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_attention_q_norm_without_norm_epsilon(%x: tensor<?x8xf32>, %pos: tensor<?xi64>, %cache: !hybrid.kv_cache<1x4xf32>, %q: tensor<8x8xf32>, %k: tensor<4x8xf32>, %v: tensor<4x8xf32>, %o: tensor<8x8xf32>, %qn: tensor<4xf32>, %kn: tensor<4xf32>) {
  // expected-error @+1 {{'hybrid.attention' op qk_norm and norm_epsilon must be set if and only if q_norm/k_norm are given}}
  %y = hybrid.attention %x, %pos, %cache q_proj(%q) k_proj(%k) v_proj(%v) o_proj(%o) q_norm(%qn) k_norm(%kn) qk_norm plain {num_heads = 2 : i64, num_kv_heads = 1 : i64, head_dim = 4 : i64, rotary_dim = 4 : i64, rope_theta = 1.0e+04 : f64, scale = 0.5 : f64} : (tensor<?x8xf32>, tensor<?xi64>, !hybrid.kv_cache<1x4xf32>, tensor<8x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>, tensor<8x8xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_attention_qk_norm_without_q_norm(%x: tensor<?x8xf32>, %pos: tensor<?xi64>, %cache: !hybrid.kv_cache<1x4xf32>, %q: tensor<8x8xf32>, %k: tensor<4x8xf32>, %v: tensor<4x8xf32>, %o: tensor<8x8xf32>) {
  // expected-error @+1 {{'hybrid.attention' op qk_norm and norm_epsilon must be set if and only if q_norm/k_norm are given}}
  %y = hybrid.attention %x, %pos, %cache q_proj(%q) k_proj(%k) v_proj(%v) o_proj(%o) qk_norm zero_centered {num_heads = 2 : i64, num_kv_heads = 1 : i64, head_dim = 4 : i64, rotary_dim = 4 : i64, rope_theta = 1.0e+04 : f64, scale = 0.5 : f64, norm_epsilon = 1.0e-06 : f64} : (tensor<?x8xf32>, tensor<?xi64>, !hybrid.kv_cache<1x4xf32>, tensor<8x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>, tensor<8x8xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_attention_norm_epsilon_without_q_norm(%x: tensor<?x8xf32>, %pos: tensor<?xi64>, %cache: !hybrid.kv_cache<1x4xf32>, %q: tensor<8x8xf32>, %k: tensor<4x8xf32>, %v: tensor<4x8xf32>, %o: tensor<8x8xf32>) {
  // expected-error @+1 {{'hybrid.attention' op qk_norm and norm_epsilon must be set if and only if q_norm/k_norm are given}}
  %y = hybrid.attention %x, %pos, %cache q_proj(%q) k_proj(%k) v_proj(%v) o_proj(%o) {num_heads = 2 : i64, num_kv_heads = 1 : i64, head_dim = 4 : i64, rotary_dim = 4 : i64, rope_theta = 1.0e+04 : f64, scale = 0.5 : f64, norm_epsilon = 1.0e-06 : f64} : (tensor<?x8xf32>, tensor<?xi64>, !hybrid.kv_cache<1x4xf32>, tensor<8x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>, tensor<8x8xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_attention_qk_norm_gated(%x: tensor<?x8xf32>, %pos: tensor<?xi64>, %cache: !hybrid.kv_cache<1x4xf32>, %q: tensor<8x8xf32>, %k: tensor<4x8xf32>, %v: tensor<4x8xf32>, %o: tensor<8x8xf32>, %qn: tensor<4xf32>, %kn: tensor<4xf32>) {
  // expected-error @+1 {{'hybrid.attention' op qk_norm cannot be gated}}
  %y = hybrid.attention %x, %pos, %cache q_proj(%q) k_proj(%k) v_proj(%v) o_proj(%o) q_norm(%qn) k_norm(%kn) qk_norm gated {num_heads = 2 : i64, num_kv_heads = 1 : i64, head_dim = 4 : i64, rotary_dim = 4 : i64, rope_theta = 1.0e+04 : f64, scale = 0.5 : f64, norm_epsilon = 1.0e-06 : f64} : (tensor<?x8xf32>, tensor<?xi64>, !hybrid.kv_cache<1x4xf32>, tensor<8x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>, tensor<8x8xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_attention_q_norm_size(%x: tensor<?x8xf32>, %pos: tensor<?xi64>, %cache: !hybrid.kv_cache<1x4xf32>, %q: tensor<8x8xf32>, %k: tensor<4x8xf32>, %v: tensor<4x8xf32>, %o: tensor<8x8xf32>, %qn: tensor<8xf32>, %kn: tensor<4xf32>) {
  // expected-error @+1 {{'hybrid.attention' op q_norm has shape [8], expected [4] ([head_dim])}}
  %y = hybrid.attention %x, %pos, %cache q_proj(%q) k_proj(%k) v_proj(%v) o_proj(%o) q_norm(%qn) k_norm(%kn) qk_norm plain {num_heads = 2 : i64, num_kv_heads = 1 : i64, head_dim = 4 : i64, rotary_dim = 4 : i64, rope_theta = 1.0e+04 : f64, scale = 0.5 : f64, norm_epsilon = 1.0e-06 : f64} : (tensor<?x8xf32>, tensor<?xi64>, !hybrid.kv_cache<1x4xf32>, tensor<8x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>, tensor<8x8xf32>, tensor<8xf32>, tensor<4xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_attention_k_norm_size(%x: tensor<?x8xf32>, %pos: tensor<?xi64>, %cache: !hybrid.kv_cache<1x4xf32>, %q: tensor<8x8xf32>, %k: tensor<4x8xf32>, %v: tensor<4x8xf32>, %o: tensor<8x8xf32>, %qn: tensor<4xf32>, %kn: tensor<2xf32>) {
  // expected-error @+1 {{'hybrid.attention' op k_norm has shape [2], expected [4] ([head_dim])}}
  %y = hybrid.attention %x, %pos, %cache q_proj(%q) k_proj(%k) v_proj(%v) o_proj(%o) q_norm(%qn) k_norm(%kn) qk_norm plain {num_heads = 2 : i64, num_kv_heads = 1 : i64, head_dim = 4 : i64, rotary_dim = 4 : i64, rope_theta = 1.0e+04 : f64, scale = 0.5 : f64, norm_epsilon = 1.0e-06 : f64} : (tensor<?x8xf32>, tensor<?xi64>, !hybrid.kv_cache<1x4xf32>, tensor<8x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>, tensor<8x8xf32>, tensor<4xf32>, tensor<2xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_attention_cache_kv_heads(%x: tensor<?x8xf32>, %pos: tensor<?xi64>, %cache: !hybrid.kv_cache<2x4xf32>, %q: tensor<8x8xf32>, %k: tensor<4x8xf32>, %v: tensor<4x8xf32>, %o: tensor<8x8xf32>) {
  // expected-error @+1 {{'hybrid.attention' op cache has shape [2, 4], expected [1, 4] ([num_kv_heads, head_dim])}}
  %y = hybrid.attention %x, %pos, %cache q_proj(%q) k_proj(%k) v_proj(%v) o_proj(%o) {num_heads = 2 : i64, num_kv_heads = 1 : i64, head_dim = 4 : i64, rotary_dim = 4 : i64, rope_theta = 1.0e+04 : f64, scale = 0.5 : f64} : (tensor<?x8xf32>, tensor<?xi64>, !hybrid.kv_cache<2x4xf32>, tensor<8x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>, tensor<8x8xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_attention_cache_head_dim(%x: tensor<?x8xf32>, %pos: tensor<?xi64>, %cache: !hybrid.kv_cache<1x8xbf16>, %q: tensor<8x8xf32>, %k: tensor<4x8xf32>, %v: tensor<4x8xf32>, %o: tensor<8x8xf32>) {
  // expected-error @+1 {{'hybrid.attention' op cache has shape [1, 8], expected [1, 4] ([num_kv_heads, head_dim])}}
  %y = hybrid.attention %x, %pos, %cache q_proj(%q) k_proj(%k) v_proj(%v) o_proj(%o) {num_heads = 2 : i64, num_kv_heads = 1 : i64, head_dim = 4 : i64, rotary_dim = 4 : i64, rope_theta = 1.0e+04 : f64, scale = 0.5 : f64} : (tensor<?x8xf32>, tensor<?xi64>, !hybrid.kv_cache<1x8xbf16>, tensor<8x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>, tensor<8x8xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_attention_result_hidden(%x: tensor<?x8xf32>, %pos: tensor<?xi64>, %cache: !hybrid.kv_cache<1x4xf32>, %q: tensor<8x8xf32>, %k: tensor<4x8xf32>, %v: tensor<4x8xf32>, %o: tensor<8x8xf32>) {
  // expected-error @+1 {{'hybrid.attention' op result has shape [?, 4], expected [?, 8] ([tokens, hidden])}}
  %y = hybrid.attention %x, %pos, %cache q_proj(%q) k_proj(%k) v_proj(%v) o_proj(%o) {num_heads = 2 : i64, num_kv_heads = 1 : i64, head_dim = 4 : i64, rotary_dim = 4 : i64, rope_theta = 1.0e+04 : f64, scale = 0.5 : f64} : (tensor<?x8xf32>, tensor<?xi64>, !hybrid.kv_cache<1x4xf32>, tensor<8x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>, tensor<8x8xf32>) -> tensor<?x4xf32>
  return
}

// -----

func.func @negative_mla_dynamic_hidden(%x: tensor<?x?xf32>, %pos: tensor<?xi64>, %cache: !hybrid.latent_cache<4x2xf32>, %qa: tensor<4x8xf32>, %qan: tensor<4xf32>, %qb: tensor<8x4xf32>, %kva: tensor<6x8xf32>, %kvan: tensor<4xf32>, %kvb: tensor<8x4xf32>, %o: tensor<8x4xf32>) {
  // expected-error @+1 {{'hybrid.mla' op input must have a static hidden size, got 'tensor<?x?xf32>'}}
  %y = hybrid.mla %x, %pos, %cache q_a_proj(%qa) q_a_layernorm(%qan) q_b_proj(%qb) kv_a_proj_with_mqa(%kva) kv_a_layernorm(%kvan) kv_b_proj(%kvb) o_proj(%o) {num_heads = 2 : i64, q_lora_rank = 4 : i64, kv_lora_rank = 4 : i64, qk_nope_head_dim = 2 : i64, qk_rope_head_dim = 2 : i64, v_head_dim = 2 : i64, rope_theta = 1.0e+04 : f64, scale = 0.5 : f64, norm_epsilon = 1.0e-06 : f64} : (tensor<?x?xf32>, tensor<?xi64>, !hybrid.latent_cache<4x2xf32>, tensor<4x8xf32>, tensor<4xf32>, tensor<8x4xf32>, tensor<6x8xf32>, tensor<4xf32>, tensor<8x4xf32>, tensor<8x4xf32>) -> tensor<?x?xf32>
  return
}

// -----

func.func @negative_mla_num_heads_zero(%x: tensor<?x8xf32>, %pos: tensor<?xi64>, %cache: !hybrid.latent_cache<4x2xf32>, %qa: tensor<4x8xf32>, %qan: tensor<4xf32>, %qb: tensor<8x4xf32>, %kva: tensor<6x8xf32>, %kvan: tensor<4xf32>, %kvb: tensor<8x4xf32>, %o: tensor<8x4xf32>) {
  // expected-error @+1 {{'hybrid.mla' op num_heads must be positive, got 0}}
  %y = hybrid.mla %x, %pos, %cache q_a_proj(%qa) q_a_layernorm(%qan) q_b_proj(%qb) kv_a_proj_with_mqa(%kva) kv_a_layernorm(%kvan) kv_b_proj(%kvb) o_proj(%o) {num_heads = 0 : i64, q_lora_rank = 4 : i64, kv_lora_rank = 4 : i64, qk_nope_head_dim = 2 : i64, qk_rope_head_dim = 2 : i64, v_head_dim = 2 : i64, rope_theta = 1.0e+04 : f64, scale = 0.5 : f64, norm_epsilon = 1.0e-06 : f64} : (tensor<?x8xf32>, tensor<?xi64>, !hybrid.latent_cache<4x2xf32>, tensor<4x8xf32>, tensor<4xf32>, tensor<8x4xf32>, tensor<6x8xf32>, tensor<4xf32>, tensor<8x4xf32>, tensor<8x4xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_mla_kv_lora_rank_zero(%x: tensor<?x8xf32>, %pos: tensor<?xi64>, %cache: !hybrid.latent_cache<4x2xf32>, %qa: tensor<4x8xf32>, %qan: tensor<4xf32>, %qb: tensor<8x4xf32>, %kva: tensor<6x8xf32>, %kvan: tensor<4xf32>, %kvb: tensor<8x4xf32>, %o: tensor<8x4xf32>) {
  // expected-error @+1 {{'hybrid.mla' op kv_lora_rank must be positive, got 0}}
  %y = hybrid.mla %x, %pos, %cache q_a_proj(%qa) q_a_layernorm(%qan) q_b_proj(%qb) kv_a_proj_with_mqa(%kva) kv_a_layernorm(%kvan) kv_b_proj(%kvb) o_proj(%o) {num_heads = 2 : i64, q_lora_rank = 4 : i64, kv_lora_rank = 0 : i64, qk_nope_head_dim = 2 : i64, qk_rope_head_dim = 2 : i64, v_head_dim = 2 : i64, rope_theta = 1.0e+04 : f64, scale = 0.5 : f64, norm_epsilon = 1.0e-06 : f64} : (tensor<?x8xf32>, tensor<?xi64>, !hybrid.latent_cache<4x2xf32>, tensor<4x8xf32>, tensor<4xf32>, tensor<8x4xf32>, tensor<6x8xf32>, tensor<4xf32>, tensor<8x4xf32>, tensor<8x4xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_mla_qk_nope_head_dim_zero(%x: tensor<?x8xf32>, %pos: tensor<?xi64>, %cache: !hybrid.latent_cache<4x2xf32>, %qa: tensor<4x8xf32>, %qan: tensor<4xf32>, %qb: tensor<8x4xf32>, %kva: tensor<6x8xf32>, %kvan: tensor<4xf32>, %kvb: tensor<8x4xf32>, %o: tensor<8x4xf32>) {
  // expected-error @+1 {{'hybrid.mla' op qk_nope_head_dim must be positive, got 0}}
  %y = hybrid.mla %x, %pos, %cache q_a_proj(%qa) q_a_layernorm(%qan) q_b_proj(%qb) kv_a_proj_with_mqa(%kva) kv_a_layernorm(%kvan) kv_b_proj(%kvb) o_proj(%o) {num_heads = 2 : i64, q_lora_rank = 4 : i64, kv_lora_rank = 4 : i64, qk_nope_head_dim = 0 : i64, qk_rope_head_dim = 2 : i64, v_head_dim = 2 : i64, rope_theta = 1.0e+04 : f64, scale = 0.5 : f64, norm_epsilon = 1.0e-06 : f64} : (tensor<?x8xf32>, tensor<?xi64>, !hybrid.latent_cache<4x2xf32>, tensor<4x8xf32>, tensor<4xf32>, tensor<8x4xf32>, tensor<6x8xf32>, tensor<4xf32>, tensor<8x4xf32>, tensor<8x4xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_mla_qk_rope_head_dim_zero(%x: tensor<?x8xf32>, %pos: tensor<?xi64>, %cache: !hybrid.latent_cache<4x2xf32>, %qa: tensor<4x8xf32>, %qan: tensor<4xf32>, %qb: tensor<8x4xf32>, %kva: tensor<6x8xf32>, %kvan: tensor<4xf32>, %kvb: tensor<8x4xf32>, %o: tensor<8x4xf32>) {
  // expected-error @+1 {{'hybrid.mla' op qk_rope_head_dim must be positive, got 0}}
  %y = hybrid.mla %x, %pos, %cache q_a_proj(%qa) q_a_layernorm(%qan) q_b_proj(%qb) kv_a_proj_with_mqa(%kva) kv_a_layernorm(%kvan) kv_b_proj(%kvb) o_proj(%o) {num_heads = 2 : i64, q_lora_rank = 4 : i64, kv_lora_rank = 4 : i64, qk_nope_head_dim = 2 : i64, qk_rope_head_dim = 0 : i64, v_head_dim = 2 : i64, rope_theta = 1.0e+04 : f64, scale = 0.5 : f64, norm_epsilon = 1.0e-06 : f64} : (tensor<?x8xf32>, tensor<?xi64>, !hybrid.latent_cache<4x2xf32>, tensor<4x8xf32>, tensor<4xf32>, tensor<8x4xf32>, tensor<6x8xf32>, tensor<4xf32>, tensor<8x4xf32>, tensor<8x4xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_mla_v_head_dim_zero(%x: tensor<?x8xf32>, %pos: tensor<?xi64>, %cache: !hybrid.latent_cache<4x2xf32>, %qa: tensor<4x8xf32>, %qan: tensor<4xf32>, %qb: tensor<8x4xf32>, %kva: tensor<6x8xf32>, %kvan: tensor<4xf32>, %kvb: tensor<8x4xf32>, %o: tensor<8x4xf32>) {
  // expected-error @+1 {{'hybrid.mla' op v_head_dim must be positive, got 0}}
  %y = hybrid.mla %x, %pos, %cache q_a_proj(%qa) q_a_layernorm(%qan) q_b_proj(%qb) kv_a_proj_with_mqa(%kva) kv_a_layernorm(%kvan) kv_b_proj(%kvb) o_proj(%o) {num_heads = 2 : i64, q_lora_rank = 4 : i64, kv_lora_rank = 4 : i64, qk_nope_head_dim = 2 : i64, qk_rope_head_dim = 2 : i64, v_head_dim = 0 : i64, rope_theta = 1.0e+04 : f64, scale = 0.5 : f64, norm_epsilon = 1.0e-06 : f64} : (tensor<?x8xf32>, tensor<?xi64>, !hybrid.latent_cache<4x2xf32>, tensor<4x8xf32>, tensor<4xf32>, tensor<8x4xf32>, tensor<6x8xf32>, tensor<4xf32>, tensor<8x4xf32>, tensor<8x4xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_mla_q_lora_rank_negative(%x: tensor<?x8xf32>, %pos: tensor<?xi64>, %cache: !hybrid.latent_cache<4x2xf32>, %qa: tensor<4x8xf32>, %qan: tensor<4xf32>, %qb: tensor<8x4xf32>, %kva: tensor<6x8xf32>, %kvan: tensor<4xf32>, %kvb: tensor<8x4xf32>, %o: tensor<8x4xf32>) {
  // expected-error @+1 {{'hybrid.mla' op q_lora_rank must be >= 0, got -1}}
  %y = hybrid.mla %x, %pos, %cache q_a_proj(%qa) q_a_layernorm(%qan) q_b_proj(%qb) kv_a_proj_with_mqa(%kva) kv_a_layernorm(%kvan) kv_b_proj(%kvb) o_proj(%o) {num_heads = 2 : i64, q_lora_rank = -1 : i64, kv_lora_rank = 4 : i64, qk_nope_head_dim = 2 : i64, qk_rope_head_dim = 2 : i64, v_head_dim = 2 : i64, rope_theta = 1.0e+04 : f64, scale = 0.5 : f64, norm_epsilon = 1.0e-06 : f64} : (tensor<?x8xf32>, tensor<?xi64>, !hybrid.latent_cache<4x2xf32>, tensor<4x8xf32>, tensor<4xf32>, tensor<8x4xf32>, tensor<6x8xf32>, tensor<4xf32>, tensor<8x4xf32>, tensor<8x4xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_mla_qk_rope_head_dim_odd(%x: tensor<?x8xf32>, %pos: tensor<?xi64>, %cache: !hybrid.latent_cache<4x2xf32>, %qa: tensor<4x8xf32>, %qan: tensor<4xf32>, %qb: tensor<8x4xf32>, %kva: tensor<6x8xf32>, %kvan: tensor<4xf32>, %kvb: tensor<8x4xf32>, %o: tensor<8x4xf32>) {
  // expected-error @+1 {{'hybrid.mla' op qk_rope_head_dim must be even, got 3}}
  %y = hybrid.mla %x, %pos, %cache q_a_proj(%qa) q_a_layernorm(%qan) q_b_proj(%qb) kv_a_proj_with_mqa(%kva) kv_a_layernorm(%kvan) kv_b_proj(%kvb) o_proj(%o) {num_heads = 2 : i64, q_lora_rank = 4 : i64, kv_lora_rank = 4 : i64, qk_nope_head_dim = 2 : i64, qk_rope_head_dim = 3 : i64, v_head_dim = 2 : i64, rope_theta = 1.0e+04 : f64, scale = 0.5 : f64, norm_epsilon = 1.0e-06 : f64} : (tensor<?x8xf32>, tensor<?xi64>, !hybrid.latent_cache<4x2xf32>, tensor<4x8xf32>, tensor<4xf32>, tensor<8x4xf32>, tensor<6x8xf32>, tensor<4xf32>, tensor<8x4xf32>, tensor<8x4xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_mla_scale_zero(%x: tensor<?x8xf32>, %pos: tensor<?xi64>, %cache: !hybrid.latent_cache<4x2xf32>, %qa: tensor<4x8xf32>, %qan: tensor<4xf32>, %qb: tensor<8x4xf32>, %kva: tensor<6x8xf32>, %kvan: tensor<4xf32>, %kvb: tensor<8x4xf32>, %o: tensor<8x4xf32>) {
  // expected-error @+1 {{'hybrid.mla' op scale must be positive}}
  %y = hybrid.mla %x, %pos, %cache q_a_proj(%qa) q_a_layernorm(%qan) q_b_proj(%qb) kv_a_proj_with_mqa(%kva) kv_a_layernorm(%kvan) kv_b_proj(%kvb) o_proj(%o) {num_heads = 2 : i64, q_lora_rank = 4 : i64, kv_lora_rank = 4 : i64, qk_nope_head_dim = 2 : i64, qk_rope_head_dim = 2 : i64, v_head_dim = 2 : i64, rope_theta = 1.0e+04 : f64, scale = 0.0 : f64, norm_epsilon = 1.0e-06 : f64} : (tensor<?x8xf32>, tensor<?xi64>, !hybrid.latent_cache<4x2xf32>, tensor<4x8xf32>, tensor<4xf32>, tensor<8x4xf32>, tensor<6x8xf32>, tensor<4xf32>, tensor<8x4xf32>, tensor<8x4xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_mla_q_lora_missing_q_b_proj(%x: tensor<?x8xf32>, %pos: tensor<?xi64>, %cache: !hybrid.latent_cache<4x2xf32>, %qa: tensor<4x8xf32>, %qan: tensor<4xf32>, %kva: tensor<6x8xf32>, %kvan: tensor<4xf32>, %kvb: tensor<8x4xf32>, %o: tensor<8x4xf32>) {
  // expected-error @+1 {{'hybrid.mla' op with q_lora_rank > 0, q_a_proj, q_a_layernorm and q_b_proj are required and q_proj is not allowed}}
  %y = hybrid.mla %x, %pos, %cache q_a_proj(%qa) q_a_layernorm(%qan) kv_a_proj_with_mqa(%kva) kv_a_layernorm(%kvan) kv_b_proj(%kvb) o_proj(%o) {num_heads = 2 : i64, q_lora_rank = 4 : i64, kv_lora_rank = 4 : i64, qk_nope_head_dim = 2 : i64, qk_rope_head_dim = 2 : i64, v_head_dim = 2 : i64, rope_theta = 1.0e+04 : f64, scale = 0.5 : f64, norm_epsilon = 1.0e-06 : f64} : (tensor<?x8xf32>, tensor<?xi64>, !hybrid.latent_cache<4x2xf32>, tensor<4x8xf32>, tensor<4xf32>, tensor<6x8xf32>, tensor<4xf32>, tensor<8x4xf32>, tensor<8x4xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_mla_q_lora_with_q_proj(%x: tensor<?x8xf32>, %pos: tensor<?xi64>, %cache: !hybrid.latent_cache<4x2xf32>, %qa: tensor<4x8xf32>, %qan: tensor<4xf32>, %qb: tensor<8x4xf32>, %q: tensor<8x8xf32>, %kva: tensor<6x8xf32>, %kvan: tensor<4xf32>, %kvb: tensor<8x4xf32>, %o: tensor<8x4xf32>) {
  // expected-error @+1 {{'hybrid.mla' op with q_lora_rank > 0, q_a_proj, q_a_layernorm and q_b_proj are required and q_proj is not allowed}}
  %y = hybrid.mla %x, %pos, %cache q_a_proj(%qa) q_a_layernorm(%qan) q_b_proj(%qb) q_proj(%q) kv_a_proj_with_mqa(%kva) kv_a_layernorm(%kvan) kv_b_proj(%kvb) o_proj(%o) {num_heads = 2 : i64, q_lora_rank = 4 : i64, kv_lora_rank = 4 : i64, qk_nope_head_dim = 2 : i64, qk_rope_head_dim = 2 : i64, v_head_dim = 2 : i64, rope_theta = 1.0e+04 : f64, scale = 0.5 : f64, norm_epsilon = 1.0e-06 : f64} : (tensor<?x8xf32>, tensor<?xi64>, !hybrid.latent_cache<4x2xf32>, tensor<4x8xf32>, tensor<4xf32>, tensor<8x4xf32>, tensor<8x8xf32>, tensor<6x8xf32>, tensor<4xf32>, tensor<8x4xf32>, tensor<8x4xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_mla_plain_q_missing_q_proj(%x: tensor<?x8xf32>, %pos: tensor<?xi64>, %cache: !hybrid.latent_cache<4x2xf32>, %kva: tensor<6x8xf32>, %kvan: tensor<4xf32>, %kvb: tensor<8x4xf32>, %o: tensor<8x4xf32>) {
  // expected-error @+1 {{'hybrid.mla' op with q_lora_rank = 0, q_proj is required and the q LoRA weights are not allowed}}
  %y = hybrid.mla %x, %pos, %cache kv_a_proj_with_mqa(%kva) kv_a_layernorm(%kvan) kv_b_proj(%kvb) o_proj(%o) {num_heads = 2 : i64, q_lora_rank = 0 : i64, kv_lora_rank = 4 : i64, qk_nope_head_dim = 2 : i64, qk_rope_head_dim = 2 : i64, v_head_dim = 2 : i64, rope_theta = 1.0e+04 : f64, scale = 0.5 : f64, norm_epsilon = 1.0e-06 : f64} : (tensor<?x8xf32>, tensor<?xi64>, !hybrid.latent_cache<4x2xf32>, tensor<6x8xf32>, tensor<4xf32>, tensor<8x4xf32>, tensor<8x4xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_mla_plain_q_with_q_a_proj(%x: tensor<?x8xf32>, %pos: tensor<?xi64>, %cache: !hybrid.latent_cache<4x2xf32>, %qa: tensor<4x8xf32>, %q: tensor<8x8xf32>, %kva: tensor<6x8xf32>, %kvan: tensor<4xf32>, %kvb: tensor<8x4xf32>, %o: tensor<8x4xf32>) {
  // expected-error @+1 {{'hybrid.mla' op with q_lora_rank = 0, q_proj is required and the q LoRA weights are not allowed}}
  %y = hybrid.mla %x, %pos, %cache q_a_proj(%qa) q_proj(%q) kv_a_proj_with_mqa(%kva) kv_a_layernorm(%kvan) kv_b_proj(%kvb) o_proj(%o) {num_heads = 2 : i64, q_lora_rank = 0 : i64, kv_lora_rank = 4 : i64, qk_nope_head_dim = 2 : i64, qk_rope_head_dim = 2 : i64, v_head_dim = 2 : i64, rope_theta = 1.0e+04 : f64, scale = 0.5 : f64, norm_epsilon = 1.0e-06 : f64} : (tensor<?x8xf32>, tensor<?xi64>, !hybrid.latent_cache<4x2xf32>, tensor<4x8xf32>, tensor<8x8xf32>, tensor<6x8xf32>, tensor<4xf32>, tensor<8x4xf32>, tensor<8x4xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_mla_q_a_proj_rank(%x: tensor<?x8xf32>, %pos: tensor<?xi64>, %cache: !hybrid.latent_cache<4x2xf32>, %qa: tensor<6x8xf32>, %qan: tensor<4xf32>, %qb: tensor<8x4xf32>, %kva: tensor<6x8xf32>, %kvan: tensor<4xf32>, %kvb: tensor<8x4xf32>, %o: tensor<8x4xf32>) {
  // expected-error @+1 {{'hybrid.mla' op q_a_proj has shape [6, 8], expected [4, 8] ([q_lora_rank, hidden])}}
  %y = hybrid.mla %x, %pos, %cache q_a_proj(%qa) q_a_layernorm(%qan) q_b_proj(%qb) kv_a_proj_with_mqa(%kva) kv_a_layernorm(%kvan) kv_b_proj(%kvb) o_proj(%o) {num_heads = 2 : i64, q_lora_rank = 4 : i64, kv_lora_rank = 4 : i64, qk_nope_head_dim = 2 : i64, qk_rope_head_dim = 2 : i64, v_head_dim = 2 : i64, rope_theta = 1.0e+04 : f64, scale = 0.5 : f64, norm_epsilon = 1.0e-06 : f64} : (tensor<?x8xf32>, tensor<?xi64>, !hybrid.latent_cache<4x2xf32>, tensor<6x8xf32>, tensor<4xf32>, tensor<8x4xf32>, tensor<6x8xf32>, tensor<4xf32>, tensor<8x4xf32>, tensor<8x4xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_mla_q_a_layernorm_size(%x: tensor<?x8xf32>, %pos: tensor<?xi64>, %cache: !hybrid.latent_cache<4x2xf32>, %qa: tensor<4x8xf32>, %qan: tensor<8xf32>, %qb: tensor<8x4xf32>, %kva: tensor<6x8xf32>, %kvan: tensor<4xf32>, %kvb: tensor<8x4xf32>, %o: tensor<8x4xf32>) {
  // expected-error @+1 {{'hybrid.mla' op q_a_layernorm has shape [8], expected [4] ([q_lora_rank])}}
  %y = hybrid.mla %x, %pos, %cache q_a_proj(%qa) q_a_layernorm(%qan) q_b_proj(%qb) kv_a_proj_with_mqa(%kva) kv_a_layernorm(%kvan) kv_b_proj(%kvb) o_proj(%o) {num_heads = 2 : i64, q_lora_rank = 4 : i64, kv_lora_rank = 4 : i64, qk_nope_head_dim = 2 : i64, qk_rope_head_dim = 2 : i64, v_head_dim = 2 : i64, rope_theta = 1.0e+04 : f64, scale = 0.5 : f64, norm_epsilon = 1.0e-06 : f64} : (tensor<?x8xf32>, tensor<?xi64>, !hybrid.latent_cache<4x2xf32>, tensor<4x8xf32>, tensor<8xf32>, tensor<8x4xf32>, tensor<6x8xf32>, tensor<4xf32>, tensor<8x4xf32>, tensor<8x4xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_mla_q_b_proj_rows(%x: tensor<?x8xf32>, %pos: tensor<?xi64>, %cache: !hybrid.latent_cache<4x2xf32>, %qa: tensor<4x8xf32>, %qan: tensor<4xf32>, %qb: tensor<4x4xf32>, %kva: tensor<6x8xf32>, %kvan: tensor<4xf32>, %kvb: tensor<8x4xf32>, %o: tensor<8x4xf32>) {
  // expected-error @+1 {{'hybrid.mla' op q_b_proj has shape [4, 4], expected [8, 4] ([num_heads * (qk_nope_head_dim + qk_rope_head_dim), q_lora_rank])}}
  %y = hybrid.mla %x, %pos, %cache q_a_proj(%qa) q_a_layernorm(%qan) q_b_proj(%qb) kv_a_proj_with_mqa(%kva) kv_a_layernorm(%kvan) kv_b_proj(%kvb) o_proj(%o) {num_heads = 2 : i64, q_lora_rank = 4 : i64, kv_lora_rank = 4 : i64, qk_nope_head_dim = 2 : i64, qk_rope_head_dim = 2 : i64, v_head_dim = 2 : i64, rope_theta = 1.0e+04 : f64, scale = 0.5 : f64, norm_epsilon = 1.0e-06 : f64} : (tensor<?x8xf32>, tensor<?xi64>, !hybrid.latent_cache<4x2xf32>, tensor<4x8xf32>, tensor<4xf32>, tensor<4x4xf32>, tensor<6x8xf32>, tensor<4xf32>, tensor<8x4xf32>, tensor<8x4xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_mla_q_proj_hidden(%x: tensor<?x8xf32>, %pos: tensor<?xi64>, %cache: !hybrid.latent_cache<4x2xf32>, %q: tensor<8x4xf32>, %kva: tensor<6x8xf32>, %kvan: tensor<4xf32>, %kvb: tensor<8x4xf32>, %o: tensor<8x4xf32>) {
  // expected-error @+1 {{'hybrid.mla' op q_proj has shape [8, 4], expected [8, 8] ([num_heads * (qk_nope_head_dim + qk_rope_head_dim), hidden])}}
  %y = hybrid.mla %x, %pos, %cache q_proj(%q) kv_a_proj_with_mqa(%kva) kv_a_layernorm(%kvan) kv_b_proj(%kvb) o_proj(%o) {num_heads = 2 : i64, q_lora_rank = 0 : i64, kv_lora_rank = 4 : i64, qk_nope_head_dim = 2 : i64, qk_rope_head_dim = 2 : i64, v_head_dim = 2 : i64, rope_theta = 1.0e+04 : f64, scale = 0.5 : f64, norm_epsilon = 1.0e-06 : f64} : (tensor<?x8xf32>, tensor<?xi64>, !hybrid.latent_cache<4x2xf32>, tensor<8x4xf32>, tensor<6x8xf32>, tensor<4xf32>, tensor<8x4xf32>, tensor<8x4xf32>) -> tensor<?x8xf32>
  return
}

// -----

// The rope key rows come after the latent rows.
func.func @negative_mla_kv_a_proj_with_mqa_rows(%x: tensor<?x8xf32>, %pos: tensor<?xi64>, %cache: !hybrid.latent_cache<4x2xf32>, %qa: tensor<4x8xf32>, %qan: tensor<4xf32>, %qb: tensor<8x4xf32>, %kva: tensor<4x8xf32>, %kvan: tensor<4xf32>, %kvb: tensor<8x4xf32>, %o: tensor<8x4xf32>) {
  // expected-error @+1 {{'hybrid.mla' op kv_a_proj_with_mqa has shape [4, 8], expected [6, 8] ([kv_lora_rank + qk_rope_head_dim, hidden])}}
  %y = hybrid.mla %x, %pos, %cache q_a_proj(%qa) q_a_layernorm(%qan) q_b_proj(%qb) kv_a_proj_with_mqa(%kva) kv_a_layernorm(%kvan) kv_b_proj(%kvb) o_proj(%o) {num_heads = 2 : i64, q_lora_rank = 4 : i64, kv_lora_rank = 4 : i64, qk_nope_head_dim = 2 : i64, qk_rope_head_dim = 2 : i64, v_head_dim = 2 : i64, rope_theta = 1.0e+04 : f64, scale = 0.5 : f64, norm_epsilon = 1.0e-06 : f64} : (tensor<?x8xf32>, tensor<?xi64>, !hybrid.latent_cache<4x2xf32>, tensor<4x8xf32>, tensor<4xf32>, tensor<8x4xf32>, tensor<4x8xf32>, tensor<4xf32>, tensor<8x4xf32>, tensor<8x4xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_mla_kv_a_layernorm_size(%x: tensor<?x8xf32>, %pos: tensor<?xi64>, %cache: !hybrid.latent_cache<4x2xf32>, %qa: tensor<4x8xf32>, %qan: tensor<4xf32>, %qb: tensor<8x4xf32>, %kva: tensor<6x8xf32>, %kvan: tensor<6xf32>, %kvb: tensor<8x4xf32>, %o: tensor<8x4xf32>) {
  // expected-error @+1 {{'hybrid.mla' op kv_a_layernorm has shape [6], expected [4] ([kv_lora_rank])}}
  %y = hybrid.mla %x, %pos, %cache q_a_proj(%qa) q_a_layernorm(%qan) q_b_proj(%qb) kv_a_proj_with_mqa(%kva) kv_a_layernorm(%kvan) kv_b_proj(%kvb) o_proj(%o) {num_heads = 2 : i64, q_lora_rank = 4 : i64, kv_lora_rank = 4 : i64, qk_nope_head_dim = 2 : i64, qk_rope_head_dim = 2 : i64, v_head_dim = 2 : i64, rope_theta = 1.0e+04 : f64, scale = 0.5 : f64, norm_epsilon = 1.0e-06 : f64} : (tensor<?x8xf32>, tensor<?xi64>, !hybrid.latent_cache<4x2xf32>, tensor<4x8xf32>, tensor<4xf32>, tensor<8x4xf32>, tensor<6x8xf32>, tensor<6xf32>, tensor<8x4xf32>, tensor<8x4xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_mla_kv_b_proj_rows(%x: tensor<?x8xf32>, %pos: tensor<?xi64>, %cache: !hybrid.latent_cache<4x2xf32>, %qa: tensor<4x8xf32>, %qan: tensor<4xf32>, %qb: tensor<8x4xf32>, %kva: tensor<6x8xf32>, %kvan: tensor<4xf32>, %kvb: tensor<4x4xf32>, %o: tensor<8x4xf32>) {
  // expected-error @+1 {{'hybrid.mla' op kv_b_proj has shape [4, 4], expected [8, 4] ([num_heads * (qk_nope_head_dim + v_head_dim), kv_lora_rank])}}
  %y = hybrid.mla %x, %pos, %cache q_a_proj(%qa) q_a_layernorm(%qan) q_b_proj(%qb) kv_a_proj_with_mqa(%kva) kv_a_layernorm(%kvan) kv_b_proj(%kvb) o_proj(%o) {num_heads = 2 : i64, q_lora_rank = 4 : i64, kv_lora_rank = 4 : i64, qk_nope_head_dim = 2 : i64, qk_rope_head_dim = 2 : i64, v_head_dim = 2 : i64, rope_theta = 1.0e+04 : f64, scale = 0.5 : f64, norm_epsilon = 1.0e-06 : f64} : (tensor<?x8xf32>, tensor<?xi64>, !hybrid.latent_cache<4x2xf32>, tensor<4x8xf32>, tensor<4xf32>, tensor<8x4xf32>, tensor<6x8xf32>, tensor<4xf32>, tensor<4x4xf32>, tensor<8x4xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_mla_o_proj_columns(%x: tensor<?x8xf32>, %pos: tensor<?xi64>, %cache: !hybrid.latent_cache<4x2xf32>, %qa: tensor<4x8xf32>, %qan: tensor<4xf32>, %qb: tensor<8x4xf32>, %kva: tensor<6x8xf32>, %kvan: tensor<4xf32>, %kvb: tensor<8x4xf32>, %o: tensor<8x8xf32>) {
  // expected-error @+1 {{'hybrid.mla' op o_proj has shape [8, 8], expected [8, 4] ([hidden, num_heads * v_head_dim])}}
  %y = hybrid.mla %x, %pos, %cache q_a_proj(%qa) q_a_layernorm(%qan) q_b_proj(%qb) kv_a_proj_with_mqa(%kva) kv_a_layernorm(%kvan) kv_b_proj(%kvb) o_proj(%o) {num_heads = 2 : i64, q_lora_rank = 4 : i64, kv_lora_rank = 4 : i64, qk_nope_head_dim = 2 : i64, qk_rope_head_dim = 2 : i64, v_head_dim = 2 : i64, rope_theta = 1.0e+04 : f64, scale = 0.5 : f64, norm_epsilon = 1.0e-06 : f64} : (tensor<?x8xf32>, tensor<?xi64>, !hybrid.latent_cache<4x2xf32>, tensor<4x8xf32>, tensor<4xf32>, tensor<8x4xf32>, tensor<6x8xf32>, tensor<4xf32>, tensor<8x4xf32>, tensor<8x8xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_mla_cache_shape(%x: tensor<?x8xf32>, %pos: tensor<?xi64>, %cache: !hybrid.latent_cache<4x4xbf16>, %qa: tensor<4x8xf32>, %qan: tensor<4xf32>, %qb: tensor<8x4xf32>, %kva: tensor<6x8xf32>, %kvan: tensor<4xf32>, %kvb: tensor<8x4xf32>, %o: tensor<8x4xf32>) {
  // expected-error @+1 {{'hybrid.mla' op cache has shape [4, 4], expected [4, 2] ([kv_lora_rank, qk_rope_head_dim])}}
  %y = hybrid.mla %x, %pos, %cache q_a_proj(%qa) q_a_layernorm(%qan) q_b_proj(%qb) kv_a_proj_with_mqa(%kva) kv_a_layernorm(%kvan) kv_b_proj(%kvb) o_proj(%o) {num_heads = 2 : i64, q_lora_rank = 4 : i64, kv_lora_rank = 4 : i64, qk_nope_head_dim = 2 : i64, qk_rope_head_dim = 2 : i64, v_head_dim = 2 : i64, rope_theta = 1.0e+04 : f64, scale = 0.5 : f64, norm_epsilon = 1.0e-06 : f64} : (tensor<?x8xf32>, tensor<?xi64>, !hybrid.latent_cache<4x4xbf16>, tensor<4x8xf32>, tensor<4xf32>, tensor<8x4xf32>, tensor<6x8xf32>, tensor<4xf32>, tensor<8x4xf32>, tensor<8x4xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_mla_result_hidden(%x: tensor<?x8xf32>, %pos: tensor<?xi64>, %cache: !hybrid.latent_cache<4x2xf32>, %qa: tensor<4x8xf32>, %qan: tensor<4xf32>, %qb: tensor<8x4xf32>, %kva: tensor<6x8xf32>, %kvan: tensor<4xf32>, %kvb: tensor<8x4xf32>, %o: tensor<8x4xf32>) {
  // expected-error @+1 {{'hybrid.mla' op result has shape [?, 4], expected [?, 8] ([tokens, hidden])}}
  %y = hybrid.mla %x, %pos, %cache q_a_proj(%qa) q_a_layernorm(%qan) q_b_proj(%qb) kv_a_proj_with_mqa(%kva) kv_a_layernorm(%kvan) kv_b_proj(%kvb) o_proj(%o) {num_heads = 2 : i64, q_lora_rank = 4 : i64, kv_lora_rank = 4 : i64, qk_nope_head_dim = 2 : i64, qk_rope_head_dim = 2 : i64, v_head_dim = 2 : i64, rope_theta = 1.0e+04 : f64, scale = 0.5 : f64, norm_epsilon = 1.0e-06 : f64} : (tensor<?x8xf32>, tensor<?xi64>, !hybrid.latent_cache<4x2xf32>, tensor<4x8xf32>, tensor<4xf32>, tensor<8x4xf32>, tensor<6x8xf32>, tensor<4xf32>, tensor<8x4xf32>, tensor<8x4xf32>) -> tensor<?x4xf32>
  return
}

// -----

func.func @negative_gated_delta_net_dynamic_hidden(%x: tensor<?x?xf32>, %conv: !hybrid.conv_state<8x1xf32>, %s: !hybrid.recurrent_state<2x2x2xf32>, %qkvz: tensor<12x8xf32>, %ba: tensor<4x8xf32>, %cw: tensor<8x1x2xf32>, %dt: tensor<2xf32>, %al: tensor<2xf32>, %n: tensor<2xf32>, %out: tensor<8x4xf32>) {
  // expected-error @+1 {{'hybrid.gated_delta_net' op input must have a static hidden size, got 'tensor<?x?xf32>'}}
  %y = hybrid.gated_delta_net %x, %conv, %s in_proj_qkvz(%qkvz) in_proj_ba(%ba) conv1d(%cw) dt_bias(%dt) a_log(%al) norm(%n) out_proj(%out) {num_k_heads = 1 : i64, num_v_heads = 2 : i64, k_head_dim = 2 : i64, v_head_dim = 2 : i64, conv_kernel = 2 : i64, norm_epsilon = 1.0e-06 : f64} : (tensor<?x?xf32>, !hybrid.conv_state<8x1xf32>, !hybrid.recurrent_state<2x2x2xf32>, tensor<12x8xf32>, tensor<4x8xf32>, tensor<8x1x2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<8x4xf32>) -> tensor<?x?xf32>
  return
}

// -----

func.func @negative_gated_delta_net_chunk_size_too_large(%x: tensor<?x8xf32>, %conv: !hybrid.conv_state<8x1xf32>, %s: !hybrid.recurrent_state<2x2x2xf32>, %qkvz: tensor<12x8xf32>, %ba: tensor<4x8xf32>, %cw: tensor<8x1x2xf32>, %dt: tensor<2xf32>, %al: tensor<2xf32>, %n: tensor<2xf32>, %out: tensor<8x4xf32>) {
  // expected-error @+1 {{'hybrid.gated_delta_net' op chunk_size must be at most 4096, got 8192}}
  %y = hybrid.gated_delta_net %x, %conv, %s in_proj_qkvz(%qkvz) in_proj_ba(%ba) conv1d(%cw) dt_bias(%dt) a_log(%al) norm(%n) out_proj(%out) {chunk_size = 8192 : i64, num_k_heads = 1 : i64, num_v_heads = 2 : i64, k_head_dim = 2 : i64, v_head_dim = 2 : i64, conv_kernel = 2 : i64, norm_epsilon = 1.0e-06 : f64} : (tensor<?x8xf32>, !hybrid.conv_state<8x1xf32>, !hybrid.recurrent_state<2x2x2xf32>, tensor<12x8xf32>, tensor<4x8xf32>, tensor<8x1x2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<8x4xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_gated_delta_net_chunk_size_zero(%x: tensor<?x8xf32>, %conv: !hybrid.conv_state<8x1xf32>, %s: !hybrid.recurrent_state<2x2x2xf32>, %qkvz: tensor<12x8xf32>, %ba: tensor<4x8xf32>, %cw: tensor<8x1x2xf32>, %dt: tensor<2xf32>, %al: tensor<2xf32>, %n: tensor<2xf32>, %out: tensor<8x4xf32>) {
  // expected-error @+1 {{attribute 'chunk_size' failed to satisfy constraint}}
  %y = hybrid.gated_delta_net %x, %conv, %s in_proj_qkvz(%qkvz) in_proj_ba(%ba) conv1d(%cw) dt_bias(%dt) a_log(%al) norm(%n) out_proj(%out) {chunk_size = 0 : i64, num_k_heads = 1 : i64, num_v_heads = 2 : i64, k_head_dim = 2 : i64, v_head_dim = 2 : i64, conv_kernel = 2 : i64, norm_epsilon = 1.0e-06 : f64} : (tensor<?x8xf32>, !hybrid.conv_state<8x1xf32>, !hybrid.recurrent_state<2x2x2xf32>, tensor<12x8xf32>, tensor<4x8xf32>, tensor<8x1x2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<8x4xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_gated_delta_net_num_k_heads_zero(%x: tensor<?x8xf32>, %conv: !hybrid.conv_state<8x1xf32>, %s: !hybrid.recurrent_state<2x2x2xf32>, %qkvz: tensor<12x8xf32>, %ba: tensor<4x8xf32>, %cw: tensor<8x1x2xf32>, %dt: tensor<2xf32>, %al: tensor<2xf32>, %n: tensor<2xf32>, %out: tensor<8x4xf32>) {
  // expected-error @+1 {{'hybrid.gated_delta_net' op num_k_heads must be positive, got 0}}
  %y = hybrid.gated_delta_net %x, %conv, %s in_proj_qkvz(%qkvz) in_proj_ba(%ba) conv1d(%cw) dt_bias(%dt) a_log(%al) norm(%n) out_proj(%out) {num_k_heads = 0 : i64, num_v_heads = 2 : i64, k_head_dim = 2 : i64, v_head_dim = 2 : i64, conv_kernel = 2 : i64, norm_epsilon = 1.0e-06 : f64} : (tensor<?x8xf32>, !hybrid.conv_state<8x1xf32>, !hybrid.recurrent_state<2x2x2xf32>, tensor<12x8xf32>, tensor<4x8xf32>, tensor<8x1x2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<8x4xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_gated_delta_net_num_v_heads_zero(%x: tensor<?x8xf32>, %conv: !hybrid.conv_state<8x1xf32>, %s: !hybrid.recurrent_state<2x2x2xf32>, %qkvz: tensor<12x8xf32>, %ba: tensor<4x8xf32>, %cw: tensor<8x1x2xf32>, %dt: tensor<2xf32>, %al: tensor<2xf32>, %n: tensor<2xf32>, %out: tensor<8x4xf32>) {
  // expected-error @+1 {{'hybrid.gated_delta_net' op num_v_heads must be positive, got 0}}
  %y = hybrid.gated_delta_net %x, %conv, %s in_proj_qkvz(%qkvz) in_proj_ba(%ba) conv1d(%cw) dt_bias(%dt) a_log(%al) norm(%n) out_proj(%out) {num_k_heads = 1 : i64, num_v_heads = 0 : i64, k_head_dim = 2 : i64, v_head_dim = 2 : i64, conv_kernel = 2 : i64, norm_epsilon = 1.0e-06 : f64} : (tensor<?x8xf32>, !hybrid.conv_state<8x1xf32>, !hybrid.recurrent_state<2x2x2xf32>, tensor<12x8xf32>, tensor<4x8xf32>, tensor<8x1x2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<8x4xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_gated_delta_net_k_head_dim_zero(%x: tensor<?x8xf32>, %conv: !hybrid.conv_state<8x1xf32>, %s: !hybrid.recurrent_state<2x2x2xf32>, %qkvz: tensor<12x8xf32>, %ba: tensor<4x8xf32>, %cw: tensor<8x1x2xf32>, %dt: tensor<2xf32>, %al: tensor<2xf32>, %n: tensor<2xf32>, %out: tensor<8x4xf32>) {
  // expected-error @+1 {{'hybrid.gated_delta_net' op k_head_dim must be positive, got 0}}
  %y = hybrid.gated_delta_net %x, %conv, %s in_proj_qkvz(%qkvz) in_proj_ba(%ba) conv1d(%cw) dt_bias(%dt) a_log(%al) norm(%n) out_proj(%out) {num_k_heads = 1 : i64, num_v_heads = 2 : i64, k_head_dim = 0 : i64, v_head_dim = 2 : i64, conv_kernel = 2 : i64, norm_epsilon = 1.0e-06 : f64} : (tensor<?x8xf32>, !hybrid.conv_state<8x1xf32>, !hybrid.recurrent_state<2x2x2xf32>, tensor<12x8xf32>, tensor<4x8xf32>, tensor<8x1x2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<8x4xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_gated_delta_net_v_head_dim_zero(%x: tensor<?x8xf32>, %conv: !hybrid.conv_state<8x1xf32>, %s: !hybrid.recurrent_state<2x2x2xf32>, %qkvz: tensor<12x8xf32>, %ba: tensor<4x8xf32>, %cw: tensor<8x1x2xf32>, %dt: tensor<2xf32>, %al: tensor<2xf32>, %n: tensor<2xf32>, %out: tensor<8x4xf32>) {
  // expected-error @+1 {{'hybrid.gated_delta_net' op v_head_dim must be positive, got 0}}
  %y = hybrid.gated_delta_net %x, %conv, %s in_proj_qkvz(%qkvz) in_proj_ba(%ba) conv1d(%cw) dt_bias(%dt) a_log(%al) norm(%n) out_proj(%out) {num_k_heads = 1 : i64, num_v_heads = 2 : i64, k_head_dim = 2 : i64, v_head_dim = 0 : i64, conv_kernel = 2 : i64, norm_epsilon = 1.0e-06 : f64} : (tensor<?x8xf32>, !hybrid.conv_state<8x1xf32>, !hybrid.recurrent_state<2x2x2xf32>, tensor<12x8xf32>, tensor<4x8xf32>, tensor<8x1x2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<8x4xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_gated_delta_net_k_heads_do_not_divide(%x: tensor<?x8xf32>, %conv: !hybrid.conv_state<8x1xf32>, %s: !hybrid.recurrent_state<2x2x2xf32>, %qkvz: tensor<12x8xf32>, %ba: tensor<4x8xf32>, %cw: tensor<8x1x2xf32>, %dt: tensor<2xf32>, %al: tensor<2xf32>, %n: tensor<2xf32>, %out: tensor<8x4xf32>) {
  // expected-error @+1 {{'hybrid.gated_delta_net' op num_k_heads (3) must divide num_v_heads (2)}}
  %y = hybrid.gated_delta_net %x, %conv, %s in_proj_qkvz(%qkvz) in_proj_ba(%ba) conv1d(%cw) dt_bias(%dt) a_log(%al) norm(%n) out_proj(%out) {num_k_heads = 3 : i64, num_v_heads = 2 : i64, k_head_dim = 2 : i64, v_head_dim = 2 : i64, conv_kernel = 2 : i64, norm_epsilon = 1.0e-06 : f64} : (tensor<?x8xf32>, !hybrid.conv_state<8x1xf32>, !hybrid.recurrent_state<2x2x2xf32>, tensor<12x8xf32>, tensor<4x8xf32>, tensor<8x1x2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<8x4xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_gated_delta_net_conv_kernel_one(%x: tensor<?x8xf32>, %conv: !hybrid.conv_state<8x1xf32>, %s: !hybrid.recurrent_state<2x2x2xf32>, %qkvz: tensor<12x8xf32>, %ba: tensor<4x8xf32>, %cw: tensor<8x1x2xf32>, %dt: tensor<2xf32>, %al: tensor<2xf32>, %n: tensor<2xf32>, %out: tensor<8x4xf32>) {
  // expected-error @+1 {{'hybrid.gated_delta_net' op conv_kernel must be at least 2, got 1}}
  %y = hybrid.gated_delta_net %x, %conv, %s in_proj_qkvz(%qkvz) in_proj_ba(%ba) conv1d(%cw) dt_bias(%dt) a_log(%al) norm(%n) out_proj(%out) {num_k_heads = 1 : i64, num_v_heads = 2 : i64, k_head_dim = 2 : i64, v_head_dim = 2 : i64, conv_kernel = 1 : i64, norm_epsilon = 1.0e-06 : f64} : (tensor<?x8xf32>, !hybrid.conv_state<8x1xf32>, !hybrid.recurrent_state<2x2x2xf32>, tensor<12x8xf32>, tensor<4x8xf32>, tensor<8x1x2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<8x4xf32>) -> tensor<?x8xf32>
  return
}

// -----

// q and k of 1 k-head (2 * 1 * 2) plus v and z of 2 v-heads (2 * 2 * 2).
func.func @negative_gated_delta_net_in_proj_qkvz_rows(%x: tensor<?x8xf32>, %conv: !hybrid.conv_state<8x1xf32>, %s: !hybrid.recurrent_state<2x2x2xf32>, %qkvz: tensor<8x8xf32>, %ba: tensor<4x8xf32>, %cw: tensor<8x1x2xf32>, %dt: tensor<2xf32>, %al: tensor<2xf32>, %n: tensor<2xf32>, %out: tensor<8x4xf32>) {
  // expected-error @+1 {{'hybrid.gated_delta_net' op in_proj_qkvz has shape [8, 8], expected [12, 8] ([2 * num_k_heads * k_head_dim + 2 * num_v_heads * v_head_dim, hidden])}}
  %y = hybrid.gated_delta_net %x, %conv, %s in_proj_qkvz(%qkvz) in_proj_ba(%ba) conv1d(%cw) dt_bias(%dt) a_log(%al) norm(%n) out_proj(%out) {num_k_heads = 1 : i64, num_v_heads = 2 : i64, k_head_dim = 2 : i64, v_head_dim = 2 : i64, conv_kernel = 2 : i64, norm_epsilon = 1.0e-06 : f64} : (tensor<?x8xf32>, !hybrid.conv_state<8x1xf32>, !hybrid.recurrent_state<2x2x2xf32>, tensor<8x8xf32>, tensor<4x8xf32>, tensor<8x1x2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<8x4xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_gated_delta_net_in_proj_ba_rows(%x: tensor<?x8xf32>, %conv: !hybrid.conv_state<8x1xf32>, %s: !hybrid.recurrent_state<2x2x2xf32>, %qkvz: tensor<12x8xf32>, %ba: tensor<2x8xf32>, %cw: tensor<8x1x2xf32>, %dt: tensor<2xf32>, %al: tensor<2xf32>, %n: tensor<2xf32>, %out: tensor<8x4xf32>) {
  // expected-error @+1 {{'hybrid.gated_delta_net' op in_proj_ba has shape [2, 8], expected [4, 8] ([2 * num_v_heads, hidden])}}
  %y = hybrid.gated_delta_net %x, %conv, %s in_proj_qkvz(%qkvz) in_proj_ba(%ba) conv1d(%cw) dt_bias(%dt) a_log(%al) norm(%n) out_proj(%out) {num_k_heads = 1 : i64, num_v_heads = 2 : i64, k_head_dim = 2 : i64, v_head_dim = 2 : i64, conv_kernel = 2 : i64, norm_epsilon = 1.0e-06 : f64} : (tensor<?x8xf32>, !hybrid.conv_state<8x1xf32>, !hybrid.recurrent_state<2x2x2xf32>, tensor<12x8xf32>, tensor<2x8xf32>, tensor<8x1x2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<8x4xf32>) -> tensor<?x8xf32>
  return
}

// -----

// z is not convolved: 2 * 1 * 2 + 2 * 2 = 8 channels.
func.func @negative_gated_delta_net_conv1d_channels(%x: tensor<?x8xf32>, %conv: !hybrid.conv_state<8x1xf32>, %s: !hybrid.recurrent_state<2x2x2xf32>, %qkvz: tensor<12x8xf32>, %ba: tensor<4x8xf32>, %cw: tensor<12x1x2xf32>, %dt: tensor<2xf32>, %al: tensor<2xf32>, %n: tensor<2xf32>, %out: tensor<8x4xf32>) {
  // expected-error @+1 {{'hybrid.gated_delta_net' op conv1d has shape [12, 1, 2], expected [8, 1, 2] ([2 * num_k_heads * k_head_dim + num_v_heads * v_head_dim, 1, conv_kernel])}}
  %y = hybrid.gated_delta_net %x, %conv, %s in_proj_qkvz(%qkvz) in_proj_ba(%ba) conv1d(%cw) dt_bias(%dt) a_log(%al) norm(%n) out_proj(%out) {num_k_heads = 1 : i64, num_v_heads = 2 : i64, k_head_dim = 2 : i64, v_head_dim = 2 : i64, conv_kernel = 2 : i64, norm_epsilon = 1.0e-06 : f64} : (tensor<?x8xf32>, !hybrid.conv_state<8x1xf32>, !hybrid.recurrent_state<2x2x2xf32>, tensor<12x8xf32>, tensor<4x8xf32>, tensor<12x1x2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<8x4xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_gated_delta_net_conv1d_rank_two(%x: tensor<?x8xf32>, %conv: !hybrid.conv_state<8x1xf32>, %s: !hybrid.recurrent_state<2x2x2xf32>, %qkvz: tensor<12x8xf32>, %ba: tensor<4x8xf32>, %cw: tensor<8x2xf32>, %dt: tensor<2xf32>, %al: tensor<2xf32>, %n: tensor<2xf32>, %out: tensor<8x4xf32>) {
  // expected-error @+1 {{'hybrid.gated_delta_net' op conv1d has shape [8, 2], expected [8, 1, 2] ([2 * num_k_heads * k_head_dim + num_v_heads * v_head_dim, 1, conv_kernel])}}
  %y = hybrid.gated_delta_net %x, %conv, %s in_proj_qkvz(%qkvz) in_proj_ba(%ba) conv1d(%cw) dt_bias(%dt) a_log(%al) norm(%n) out_proj(%out) {num_k_heads = 1 : i64, num_v_heads = 2 : i64, k_head_dim = 2 : i64, v_head_dim = 2 : i64, conv_kernel = 2 : i64, norm_epsilon = 1.0e-06 : f64} : (tensor<?x8xf32>, !hybrid.conv_state<8x1xf32>, !hybrid.recurrent_state<2x2x2xf32>, tensor<12x8xf32>, tensor<4x8xf32>, tensor<8x2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<8x4xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_gated_delta_net_dt_bias_size(%x: tensor<?x8xf32>, %conv: !hybrid.conv_state<8x1xf32>, %s: !hybrid.recurrent_state<2x2x2xf32>, %qkvz: tensor<12x8xf32>, %ba: tensor<4x8xf32>, %cw: tensor<8x1x2xf32>, %dt: tensor<1xf32>, %al: tensor<2xf32>, %n: tensor<2xf32>, %out: tensor<8x4xf32>) {
  // expected-error @+1 {{'hybrid.gated_delta_net' op dt_bias has shape [1], expected [2] ([num_v_heads])}}
  %y = hybrid.gated_delta_net %x, %conv, %s in_proj_qkvz(%qkvz) in_proj_ba(%ba) conv1d(%cw) dt_bias(%dt) a_log(%al) norm(%n) out_proj(%out) {num_k_heads = 1 : i64, num_v_heads = 2 : i64, k_head_dim = 2 : i64, v_head_dim = 2 : i64, conv_kernel = 2 : i64, norm_epsilon = 1.0e-06 : f64} : (tensor<?x8xf32>, !hybrid.conv_state<8x1xf32>, !hybrid.recurrent_state<2x2x2xf32>, tensor<12x8xf32>, tensor<4x8xf32>, tensor<8x1x2xf32>, tensor<1xf32>, tensor<2xf32>, tensor<2xf32>, tensor<8x4xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_gated_delta_net_a_log_size(%x: tensor<?x8xf32>, %conv: !hybrid.conv_state<8x1xf32>, %s: !hybrid.recurrent_state<2x2x2xf32>, %qkvz: tensor<12x8xf32>, %ba: tensor<4x8xf32>, %cw: tensor<8x1x2xf32>, %dt: tensor<2xf32>, %al: tensor<4xf32>, %n: tensor<2xf32>, %out: tensor<8x4xf32>) {
  // expected-error @+1 {{'hybrid.gated_delta_net' op a_log has shape [4], expected [2] ([num_v_heads])}}
  %y = hybrid.gated_delta_net %x, %conv, %s in_proj_qkvz(%qkvz) in_proj_ba(%ba) conv1d(%cw) dt_bias(%dt) a_log(%al) norm(%n) out_proj(%out) {num_k_heads = 1 : i64, num_v_heads = 2 : i64, k_head_dim = 2 : i64, v_head_dim = 2 : i64, conv_kernel = 2 : i64, norm_epsilon = 1.0e-06 : f64} : (tensor<?x8xf32>, !hybrid.conv_state<8x1xf32>, !hybrid.recurrent_state<2x2x2xf32>, tensor<12x8xf32>, tensor<4x8xf32>, tensor<8x1x2xf32>, tensor<2xf32>, tensor<4xf32>, tensor<2xf32>, tensor<8x4xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_gated_delta_net_norm_size(%x: tensor<?x8xf32>, %conv: !hybrid.conv_state<8x1xf32>, %s: !hybrid.recurrent_state<2x2x2xf32>, %qkvz: tensor<12x8xf32>, %ba: tensor<4x8xf32>, %cw: tensor<8x1x2xf32>, %dt: tensor<2xf32>, %al: tensor<2xf32>, %n: tensor<4xf32>, %out: tensor<8x4xf32>) {
  // expected-error @+1 {{'hybrid.gated_delta_net' op norm has shape [4], expected [2] ([v_head_dim])}}
  %y = hybrid.gated_delta_net %x, %conv, %s in_proj_qkvz(%qkvz) in_proj_ba(%ba) conv1d(%cw) dt_bias(%dt) a_log(%al) norm(%n) out_proj(%out) {num_k_heads = 1 : i64, num_v_heads = 2 : i64, k_head_dim = 2 : i64, v_head_dim = 2 : i64, conv_kernel = 2 : i64, norm_epsilon = 1.0e-06 : f64} : (tensor<?x8xf32>, !hybrid.conv_state<8x1xf32>, !hybrid.recurrent_state<2x2x2xf32>, tensor<12x8xf32>, tensor<4x8xf32>, tensor<8x1x2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<4xf32>, tensor<8x4xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_gated_delta_net_out_proj_columns(%x: tensor<?x8xf32>, %conv: !hybrid.conv_state<8x1xf32>, %s: !hybrid.recurrent_state<2x2x2xf32>, %qkvz: tensor<12x8xf32>, %ba: tensor<4x8xf32>, %cw: tensor<8x1x2xf32>, %dt: tensor<2xf32>, %al: tensor<2xf32>, %n: tensor<2xf32>, %out: tensor<8x8xf32>) {
  // expected-error @+1 {{'hybrid.gated_delta_net' op out_proj has shape [8, 8], expected [8, 4] ([hidden, num_v_heads * v_head_dim])}}
  %y = hybrid.gated_delta_net %x, %conv, %s in_proj_qkvz(%qkvz) in_proj_ba(%ba) conv1d(%cw) dt_bias(%dt) a_log(%al) norm(%n) out_proj(%out) {num_k_heads = 1 : i64, num_v_heads = 2 : i64, k_head_dim = 2 : i64, v_head_dim = 2 : i64, conv_kernel = 2 : i64, norm_epsilon = 1.0e-06 : f64} : (tensor<?x8xf32>, !hybrid.conv_state<8x1xf32>, !hybrid.recurrent_state<2x2x2xf32>, tensor<12x8xf32>, tensor<4x8xf32>, tensor<8x1x2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<8x8xf32>) -> tensor<?x8xf32>
  return
}

// -----

// The conv window keeps conv_kernel - 1 inputs.
func.func @negative_gated_delta_net_conv_state_width(%x: tensor<?x8xf32>, %conv: !hybrid.conv_state<8x2xf32>, %s: !hybrid.recurrent_state<2x2x2xf32>, %qkvz: tensor<12x8xf32>, %ba: tensor<4x8xf32>, %cw: tensor<8x1x2xf32>, %dt: tensor<2xf32>, %al: tensor<2xf32>, %n: tensor<2xf32>, %out: tensor<8x4xf32>) {
  // expected-error @+1 {{'hybrid.gated_delta_net' op conv_state has shape [8, 2], expected [8, 1] ([conv channels, conv_kernel - 1])}}
  %y = hybrid.gated_delta_net %x, %conv, %s in_proj_qkvz(%qkvz) in_proj_ba(%ba) conv1d(%cw) dt_bias(%dt) a_log(%al) norm(%n) out_proj(%out) {num_k_heads = 1 : i64, num_v_heads = 2 : i64, k_head_dim = 2 : i64, v_head_dim = 2 : i64, conv_kernel = 2 : i64, norm_epsilon = 1.0e-06 : f64} : (tensor<?x8xf32>, !hybrid.conv_state<8x2xf32>, !hybrid.recurrent_state<2x2x2xf32>, tensor<12x8xf32>, tensor<4x8xf32>, tensor<8x1x2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<8x4xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_gated_delta_net_recurrent_state_rank_two(%x: tensor<?x8xf32>, %conv: !hybrid.conv_state<8x1xf32>, %s: !hybrid.recurrent_state<2x4xf32>, %qkvz: tensor<12x8xf32>, %ba: tensor<4x8xf32>, %cw: tensor<8x1x2xf32>, %dt: tensor<2xf32>, %al: tensor<2xf32>, %n: tensor<2xf32>, %out: tensor<8x4xf32>) {
  // expected-error @+1 {{'hybrid.gated_delta_net' op recurrent_state has shape [2, 4], expected [2, 2, 2] ([num_v_heads, k_head_dim, v_head_dim])}}
  %y = hybrid.gated_delta_net %x, %conv, %s in_proj_qkvz(%qkvz) in_proj_ba(%ba) conv1d(%cw) dt_bias(%dt) a_log(%al) norm(%n) out_proj(%out) {num_k_heads = 1 : i64, num_v_heads = 2 : i64, k_head_dim = 2 : i64, v_head_dim = 2 : i64, conv_kernel = 2 : i64, norm_epsilon = 1.0e-06 : f64} : (tensor<?x8xf32>, !hybrid.conv_state<8x1xf32>, !hybrid.recurrent_state<2x4xf32>, tensor<12x8xf32>, tensor<4x8xf32>, tensor<8x1x2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<8x4xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_gated_delta_net_recurrent_state_shape(%x: tensor<?x8xf32>, %conv: !hybrid.conv_state<8x1xf32>, %s: !hybrid.recurrent_state<1x2x2xf32>, %qkvz: tensor<12x8xf32>, %ba: tensor<4x8xf32>, %cw: tensor<8x1x2xf32>, %dt: tensor<2xf32>, %al: tensor<2xf32>, %n: tensor<2xf32>, %out: tensor<8x4xf32>) {
  // expected-error @+1 {{'hybrid.gated_delta_net' op recurrent_state has shape [1, 2, 2], expected [2, 2, 2] ([num_v_heads, k_head_dim, v_head_dim])}}
  %y = hybrid.gated_delta_net %x, %conv, %s in_proj_qkvz(%qkvz) in_proj_ba(%ba) conv1d(%cw) dt_bias(%dt) a_log(%al) norm(%n) out_proj(%out) {num_k_heads = 1 : i64, num_v_heads = 2 : i64, k_head_dim = 2 : i64, v_head_dim = 2 : i64, conv_kernel = 2 : i64, norm_epsilon = 1.0e-06 : f64} : (tensor<?x8xf32>, !hybrid.conv_state<8x1xf32>, !hybrid.recurrent_state<1x2x2xf32>, tensor<12x8xf32>, tensor<4x8xf32>, tensor<8x1x2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<8x4xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_gated_delta_net_recurrent_state_not_f32(%x: tensor<?x8xf32>, %conv: !hybrid.conv_state<8x1xf32>, %s: !hybrid.recurrent_state<2x2x2xbf16>, %qkvz: tensor<12x8xf32>, %ba: tensor<4x8xf32>, %cw: tensor<8x1x2xf32>, %dt: tensor<2xf32>, %al: tensor<2xf32>, %n: tensor<2xf32>, %out: tensor<8x4xf32>) {
  // expected-error @+1 {{'hybrid.gated_delta_net' op recurrent_state must be f32, got 'bf16'}}
  %y = hybrid.gated_delta_net %x, %conv, %s in_proj_qkvz(%qkvz) in_proj_ba(%ba) conv1d(%cw) dt_bias(%dt) a_log(%al) norm(%n) out_proj(%out) {num_k_heads = 1 : i64, num_v_heads = 2 : i64, k_head_dim = 2 : i64, v_head_dim = 2 : i64, conv_kernel = 2 : i64, norm_epsilon = 1.0e-06 : f64} : (tensor<?x8xf32>, !hybrid.conv_state<8x1xf32>, !hybrid.recurrent_state<2x2x2xbf16>, tensor<12x8xf32>, tensor<4x8xf32>, tensor<8x1x2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<8x4xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_gated_delta_net_result_hidden(%x: tensor<?x8xf32>, %conv: !hybrid.conv_state<8x1xf32>, %s: !hybrid.recurrent_state<2x2x2xf32>, %qkvz: tensor<12x8xf32>, %ba: tensor<4x8xf32>, %cw: tensor<8x1x2xf32>, %dt: tensor<2xf32>, %al: tensor<2xf32>, %n: tensor<2xf32>, %out: tensor<8x4xf32>) {
  // expected-error @+1 {{'hybrid.gated_delta_net' op result has shape [?, 4], expected [?, 8] ([tokens, hidden])}}
  %y = hybrid.gated_delta_net %x, %conv, %s in_proj_qkvz(%qkvz) in_proj_ba(%ba) conv1d(%cw) dt_bias(%dt) a_log(%al) norm(%n) out_proj(%out) {num_k_heads = 1 : i64, num_v_heads = 2 : i64, k_head_dim = 2 : i64, v_head_dim = 2 : i64, conv_kernel = 2 : i64, norm_epsilon = 1.0e-06 : f64} : (tensor<?x8xf32>, !hybrid.conv_state<8x1xf32>, !hybrid.recurrent_state<2x2x2xf32>, tensor<12x8xf32>, tensor<4x8xf32>, tensor<8x1x2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<8x4xf32>) -> tensor<?x4xf32>
  return
}

// -----

func.func @negative_mamba_dynamic_hidden(%x: tensor<?x?xf32>, %conv: !hybrid.conv_state<4x1xf32>, %h: !hybrid.recurrent_state<4x2xf32>, %inp: tensor<8x8xf32>, %cw: tensor<4x1x2xf32>, %xp: tensor<5x4xf32>, %dtp: tensor<4x1xf32>, %dtb: tensor<4xf32>, %al: tensor<4x2xf32>, %d: tensor<4xf32>, %out: tensor<8x4xf32>) {
  // expected-error @+1 {{'hybrid.mamba' op input must have a static hidden size, got 'tensor<?x?xf32>'}}
  %y = hybrid.mamba %x, %conv, %h in_proj(%inp) conv1d(%cw) x_proj(%xp) dt_proj(%dtp) dt_proj_bias(%dtb) a_log(%al) d(%d) out_proj(%out) {d_inner = 4 : i64, d_state = 2 : i64, d_conv = 2 : i64, dt_rank = 1 : i64, norm_epsilon = 1.0e-06 : f64} : (tensor<?x?xf32>, !hybrid.conv_state<4x1xf32>, !hybrid.recurrent_state<4x2xf32>, tensor<8x8xf32>, tensor<4x1x2xf32>, tensor<5x4xf32>, tensor<4x1xf32>, tensor<4xf32>, tensor<4x2xf32>, tensor<4xf32>, tensor<8x4xf32>) -> tensor<?x?xf32>
  return
}

// -----

func.func @negative_mamba_d_inner_zero(%x: tensor<?x8xf32>, %conv: !hybrid.conv_state<4x1xf32>, %h: !hybrid.recurrent_state<4x2xf32>, %inp: tensor<8x8xf32>, %cw: tensor<4x1x2xf32>, %xp: tensor<5x4xf32>, %dtp: tensor<4x1xf32>, %dtb: tensor<4xf32>, %al: tensor<4x2xf32>, %d: tensor<4xf32>, %out: tensor<8x4xf32>) {
  // expected-error @+1 {{'hybrid.mamba' op d_inner must be positive, got 0}}
  %y = hybrid.mamba %x, %conv, %h in_proj(%inp) conv1d(%cw) x_proj(%xp) dt_proj(%dtp) dt_proj_bias(%dtb) a_log(%al) d(%d) out_proj(%out) {d_inner = 0 : i64, d_state = 2 : i64, d_conv = 2 : i64, dt_rank = 1 : i64, norm_epsilon = 1.0e-06 : f64} : (tensor<?x8xf32>, !hybrid.conv_state<4x1xf32>, !hybrid.recurrent_state<4x2xf32>, tensor<8x8xf32>, tensor<4x1x2xf32>, tensor<5x4xf32>, tensor<4x1xf32>, tensor<4xf32>, tensor<4x2xf32>, tensor<4xf32>, tensor<8x4xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_mamba_d_state_zero(%x: tensor<?x8xf32>, %conv: !hybrid.conv_state<4x1xf32>, %h: !hybrid.recurrent_state<4x2xf32>, %inp: tensor<8x8xf32>, %cw: tensor<4x1x2xf32>, %xp: tensor<5x4xf32>, %dtp: tensor<4x1xf32>, %dtb: tensor<4xf32>, %al: tensor<4x2xf32>, %d: tensor<4xf32>, %out: tensor<8x4xf32>) {
  // expected-error @+1 {{'hybrid.mamba' op d_state must be positive, got 0}}
  %y = hybrid.mamba %x, %conv, %h in_proj(%inp) conv1d(%cw) x_proj(%xp) dt_proj(%dtp) dt_proj_bias(%dtb) a_log(%al) d(%d) out_proj(%out) {d_inner = 4 : i64, d_state = 0 : i64, d_conv = 2 : i64, dt_rank = 1 : i64, norm_epsilon = 1.0e-06 : f64} : (tensor<?x8xf32>, !hybrid.conv_state<4x1xf32>, !hybrid.recurrent_state<4x2xf32>, tensor<8x8xf32>, tensor<4x1x2xf32>, tensor<5x4xf32>, tensor<4x1xf32>, tensor<4xf32>, tensor<4x2xf32>, tensor<4xf32>, tensor<8x4xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_mamba_dt_rank_zero(%x: tensor<?x8xf32>, %conv: !hybrid.conv_state<4x1xf32>, %h: !hybrid.recurrent_state<4x2xf32>, %inp: tensor<8x8xf32>, %cw: tensor<4x1x2xf32>, %xp: tensor<5x4xf32>, %dtp: tensor<4x1xf32>, %dtb: tensor<4xf32>, %al: tensor<4x2xf32>, %d: tensor<4xf32>, %out: tensor<8x4xf32>) {
  // expected-error @+1 {{'hybrid.mamba' op dt_rank must be positive, got 0}}
  %y = hybrid.mamba %x, %conv, %h in_proj(%inp) conv1d(%cw) x_proj(%xp) dt_proj(%dtp) dt_proj_bias(%dtb) a_log(%al) d(%d) out_proj(%out) {d_inner = 4 : i64, d_state = 2 : i64, d_conv = 2 : i64, dt_rank = 0 : i64, norm_epsilon = 1.0e-06 : f64} : (tensor<?x8xf32>, !hybrid.conv_state<4x1xf32>, !hybrid.recurrent_state<4x2xf32>, tensor<8x8xf32>, tensor<4x1x2xf32>, tensor<5x4xf32>, tensor<4x1xf32>, tensor<4xf32>, tensor<4x2xf32>, tensor<4xf32>, tensor<8x4xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_mamba_d_conv_one(%x: tensor<?x8xf32>, %conv: !hybrid.conv_state<4x1xf32>, %h: !hybrid.recurrent_state<4x2xf32>, %inp: tensor<8x8xf32>, %cw: tensor<4x1x2xf32>, %xp: tensor<5x4xf32>, %dtp: tensor<4x1xf32>, %dtb: tensor<4xf32>, %al: tensor<4x2xf32>, %d: tensor<4xf32>, %out: tensor<8x4xf32>) {
  // expected-error @+1 {{'hybrid.mamba' op d_conv must be at least 2, got 1}}
  %y = hybrid.mamba %x, %conv, %h in_proj(%inp) conv1d(%cw) x_proj(%xp) dt_proj(%dtp) dt_proj_bias(%dtb) a_log(%al) d(%d) out_proj(%out) {d_inner = 4 : i64, d_state = 2 : i64, d_conv = 1 : i64, dt_rank = 1 : i64, norm_epsilon = 1.0e-06 : f64} : (tensor<?x8xf32>, !hybrid.conv_state<4x1xf32>, !hybrid.recurrent_state<4x2xf32>, tensor<8x8xf32>, tensor<4x1x2xf32>, tensor<5x4xf32>, tensor<4x1xf32>, tensor<4xf32>, tensor<4x2xf32>, tensor<4xf32>, tensor<8x4xf32>) -> tensor<?x8xf32>
  return
}

// -----

// in_proj produces both xs and z.
func.func @negative_mamba_in_proj_rows(%x: tensor<?x8xf32>, %conv: !hybrid.conv_state<4x1xf32>, %h: !hybrid.recurrent_state<4x2xf32>, %inp: tensor<4x8xf32>, %cw: tensor<4x1x2xf32>, %xp: tensor<5x4xf32>, %dtp: tensor<4x1xf32>, %dtb: tensor<4xf32>, %al: tensor<4x2xf32>, %d: tensor<4xf32>, %out: tensor<8x4xf32>) {
  // expected-error @+1 {{'hybrid.mamba' op in_proj has shape [4, 8], expected [8, 8] ([2 * d_inner, hidden])}}
  %y = hybrid.mamba %x, %conv, %h in_proj(%inp) conv1d(%cw) x_proj(%xp) dt_proj(%dtp) dt_proj_bias(%dtb) a_log(%al) d(%d) out_proj(%out) {d_inner = 4 : i64, d_state = 2 : i64, d_conv = 2 : i64, dt_rank = 1 : i64, norm_epsilon = 1.0e-06 : f64} : (tensor<?x8xf32>, !hybrid.conv_state<4x1xf32>, !hybrid.recurrent_state<4x2xf32>, tensor<4x8xf32>, tensor<4x1x2xf32>, tensor<5x4xf32>, tensor<4x1xf32>, tensor<4xf32>, tensor<4x2xf32>, tensor<4xf32>, tensor<8x4xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_mamba_in_proj_bias_size(%x: tensor<?x8xf32>, %conv: !hybrid.conv_state<4x1xf32>, %h: !hybrid.recurrent_state<4x2xf32>, %inp: tensor<8x8xf32>, %inb: tensor<4xf32>, %cw: tensor<4x1x2xf32>, %xp: tensor<5x4xf32>, %dtp: tensor<4x1xf32>, %dtb: tensor<4xf32>, %al: tensor<4x2xf32>, %d: tensor<4xf32>, %out: tensor<8x4xf32>) {
  // expected-error @+1 {{'hybrid.mamba' op in_proj_bias has shape [4], expected [8] ([2 * d_inner])}}
  %y = hybrid.mamba %x, %conv, %h in_proj(%inp) in_proj_bias(%inb) conv1d(%cw) x_proj(%xp) dt_proj(%dtp) dt_proj_bias(%dtb) a_log(%al) d(%d) out_proj(%out) {d_inner = 4 : i64, d_state = 2 : i64, d_conv = 2 : i64, dt_rank = 1 : i64, norm_epsilon = 1.0e-06 : f64} : (tensor<?x8xf32>, !hybrid.conv_state<4x1xf32>, !hybrid.recurrent_state<4x2xf32>, tensor<8x8xf32>, tensor<4xf32>, tensor<4x1x2xf32>, tensor<5x4xf32>, tensor<4x1xf32>, tensor<4xf32>, tensor<4x2xf32>, tensor<4xf32>, tensor<8x4xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_mamba_conv1d_kernel(%x: tensor<?x8xf32>, %conv: !hybrid.conv_state<4x1xf32>, %h: !hybrid.recurrent_state<4x2xf32>, %inp: tensor<8x8xf32>, %cw: tensor<4x1x4xf32>, %xp: tensor<5x4xf32>, %dtp: tensor<4x1xf32>, %dtb: tensor<4xf32>, %al: tensor<4x2xf32>, %d: tensor<4xf32>, %out: tensor<8x4xf32>) {
  // expected-error @+1 {{'hybrid.mamba' op conv1d has shape [4, 1, 4], expected [4, 1, 2] ([d_inner, 1, d_conv])}}
  %y = hybrid.mamba %x, %conv, %h in_proj(%inp) conv1d(%cw) x_proj(%xp) dt_proj(%dtp) dt_proj_bias(%dtb) a_log(%al) d(%d) out_proj(%out) {d_inner = 4 : i64, d_state = 2 : i64, d_conv = 2 : i64, dt_rank = 1 : i64, norm_epsilon = 1.0e-06 : f64} : (tensor<?x8xf32>, !hybrid.conv_state<4x1xf32>, !hybrid.recurrent_state<4x2xf32>, tensor<8x8xf32>, tensor<4x1x4xf32>, tensor<5x4xf32>, tensor<4x1xf32>, tensor<4xf32>, tensor<4x2xf32>, tensor<4xf32>, tensor<8x4xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_mamba_conv1d_bias_size(%x: tensor<?x8xf32>, %conv: !hybrid.conv_state<4x1xf32>, %h: !hybrid.recurrent_state<4x2xf32>, %inp: tensor<8x8xf32>, %cw: tensor<4x1x2xf32>, %cb: tensor<8xf32>, %xp: tensor<5x4xf32>, %dtp: tensor<4x1xf32>, %dtb: tensor<4xf32>, %al: tensor<4x2xf32>, %d: tensor<4xf32>, %out: tensor<8x4xf32>) {
  // expected-error @+1 {{'hybrid.mamba' op conv1d_bias has shape [8], expected [4] ([d_inner])}}
  %y = hybrid.mamba %x, %conv, %h in_proj(%inp) conv1d(%cw) conv1d_bias(%cb) x_proj(%xp) dt_proj(%dtp) dt_proj_bias(%dtb) a_log(%al) d(%d) out_proj(%out) {d_inner = 4 : i64, d_state = 2 : i64, d_conv = 2 : i64, dt_rank = 1 : i64, norm_epsilon = 1.0e-06 : f64} : (tensor<?x8xf32>, !hybrid.conv_state<4x1xf32>, !hybrid.recurrent_state<4x2xf32>, tensor<8x8xf32>, tensor<4x1x2xf32>, tensor<8xf32>, tensor<5x4xf32>, tensor<4x1xf32>, tensor<4xf32>, tensor<4x2xf32>, tensor<4xf32>, tensor<8x4xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_mamba_x_proj_rows(%x: tensor<?x8xf32>, %conv: !hybrid.conv_state<4x1xf32>, %h: !hybrid.recurrent_state<4x2xf32>, %inp: tensor<8x8xf32>, %cw: tensor<4x1x2xf32>, %xp: tensor<3x4xf32>, %dtp: tensor<4x1xf32>, %dtb: tensor<4xf32>, %al: tensor<4x2xf32>, %d: tensor<4xf32>, %out: tensor<8x4xf32>) {
  // expected-error @+1 {{'hybrid.mamba' op x_proj has shape [3, 4], expected [5, 4] ([dt_rank + 2 * d_state, d_inner])}}
  %y = hybrid.mamba %x, %conv, %h in_proj(%inp) conv1d(%cw) x_proj(%xp) dt_proj(%dtp) dt_proj_bias(%dtb) a_log(%al) d(%d) out_proj(%out) {d_inner = 4 : i64, d_state = 2 : i64, d_conv = 2 : i64, dt_rank = 1 : i64, norm_epsilon = 1.0e-06 : f64} : (tensor<?x8xf32>, !hybrid.conv_state<4x1xf32>, !hybrid.recurrent_state<4x2xf32>, tensor<8x8xf32>, tensor<4x1x2xf32>, tensor<3x4xf32>, tensor<4x1xf32>, tensor<4xf32>, tensor<4x2xf32>, tensor<4xf32>, tensor<8x4xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_mamba_dt_proj_transposed(%x: tensor<?x8xf32>, %conv: !hybrid.conv_state<4x1xf32>, %h: !hybrid.recurrent_state<4x2xf32>, %inp: tensor<8x8xf32>, %cw: tensor<4x1x2xf32>, %xp: tensor<5x4xf32>, %dtp: tensor<1x4xf32>, %dtb: tensor<4xf32>, %al: tensor<4x2xf32>, %d: tensor<4xf32>, %out: tensor<8x4xf32>) {
  // expected-error @+1 {{'hybrid.mamba' op dt_proj has shape [1, 4], expected [4, 1] ([d_inner, dt_rank])}}
  %y = hybrid.mamba %x, %conv, %h in_proj(%inp) conv1d(%cw) x_proj(%xp) dt_proj(%dtp) dt_proj_bias(%dtb) a_log(%al) d(%d) out_proj(%out) {d_inner = 4 : i64, d_state = 2 : i64, d_conv = 2 : i64, dt_rank = 1 : i64, norm_epsilon = 1.0e-06 : f64} : (tensor<?x8xf32>, !hybrid.conv_state<4x1xf32>, !hybrid.recurrent_state<4x2xf32>, tensor<8x8xf32>, tensor<4x1x2xf32>, tensor<5x4xf32>, tensor<1x4xf32>, tensor<4xf32>, tensor<4x2xf32>, tensor<4xf32>, tensor<8x4xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_mamba_dt_proj_bias_size(%x: tensor<?x8xf32>, %conv: !hybrid.conv_state<4x1xf32>, %h: !hybrid.recurrent_state<4x2xf32>, %inp: tensor<8x8xf32>, %cw: tensor<4x1x2xf32>, %xp: tensor<5x4xf32>, %dtp: tensor<4x1xf32>, %dtb: tensor<2xf32>, %al: tensor<4x2xf32>, %d: tensor<4xf32>, %out: tensor<8x4xf32>) {
  // expected-error @+1 {{'hybrid.mamba' op dt_proj_bias has shape [2], expected [4] ([d_inner])}}
  %y = hybrid.mamba %x, %conv, %h in_proj(%inp) conv1d(%cw) x_proj(%xp) dt_proj(%dtp) dt_proj_bias(%dtb) a_log(%al) d(%d) out_proj(%out) {d_inner = 4 : i64, d_state = 2 : i64, d_conv = 2 : i64, dt_rank = 1 : i64, norm_epsilon = 1.0e-06 : f64} : (tensor<?x8xf32>, !hybrid.conv_state<4x1xf32>, !hybrid.recurrent_state<4x2xf32>, tensor<8x8xf32>, tensor<4x1x2xf32>, tensor<5x4xf32>, tensor<4x1xf32>, tensor<2xf32>, tensor<4x2xf32>, tensor<4xf32>, tensor<8x4xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_mamba_a_log_transposed(%x: tensor<?x8xf32>, %conv: !hybrid.conv_state<4x1xf32>, %h: !hybrid.recurrent_state<4x2xf32>, %inp: tensor<8x8xf32>, %cw: tensor<4x1x2xf32>, %xp: tensor<5x4xf32>, %dtp: tensor<4x1xf32>, %dtb: tensor<4xf32>, %al: tensor<2x4xf32>, %d: tensor<4xf32>, %out: tensor<8x4xf32>) {
  // expected-error @+1 {{'hybrid.mamba' op a_log has shape [2, 4], expected [4, 2] ([d_inner, d_state])}}
  %y = hybrid.mamba %x, %conv, %h in_proj(%inp) conv1d(%cw) x_proj(%xp) dt_proj(%dtp) dt_proj_bias(%dtb) a_log(%al) d(%d) out_proj(%out) {d_inner = 4 : i64, d_state = 2 : i64, d_conv = 2 : i64, dt_rank = 1 : i64, norm_epsilon = 1.0e-06 : f64} : (tensor<?x8xf32>, !hybrid.conv_state<4x1xf32>, !hybrid.recurrent_state<4x2xf32>, tensor<8x8xf32>, tensor<4x1x2xf32>, tensor<5x4xf32>, tensor<4x1xf32>, tensor<4xf32>, tensor<2x4xf32>, tensor<4xf32>, tensor<8x4xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_mamba_d_size(%x: tensor<?x8xf32>, %conv: !hybrid.conv_state<4x1xf32>, %h: !hybrid.recurrent_state<4x2xf32>, %inp: tensor<8x8xf32>, %cw: tensor<4x1x2xf32>, %xp: tensor<5x4xf32>, %dtp: tensor<4x1xf32>, %dtb: tensor<4xf32>, %al: tensor<4x2xf32>, %d: tensor<8xf32>, %out: tensor<8x4xf32>) {
  // expected-error @+1 {{'hybrid.mamba' op d has shape [8], expected [4] ([d_inner])}}
  %y = hybrid.mamba %x, %conv, %h in_proj(%inp) conv1d(%cw) x_proj(%xp) dt_proj(%dtp) dt_proj_bias(%dtb) a_log(%al) d(%d) out_proj(%out) {d_inner = 4 : i64, d_state = 2 : i64, d_conv = 2 : i64, dt_rank = 1 : i64, norm_epsilon = 1.0e-06 : f64} : (tensor<?x8xf32>, !hybrid.conv_state<4x1xf32>, !hybrid.recurrent_state<4x2xf32>, tensor<8x8xf32>, tensor<4x1x2xf32>, tensor<5x4xf32>, tensor<4x1xf32>, tensor<4xf32>, tensor<4x2xf32>, tensor<8xf32>, tensor<8x4xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_mamba_out_proj_transposed(%x: tensor<?x8xf32>, %conv: !hybrid.conv_state<4x1xf32>, %h: !hybrid.recurrent_state<4x2xf32>, %inp: tensor<8x8xf32>, %cw: tensor<4x1x2xf32>, %xp: tensor<5x4xf32>, %dtp: tensor<4x1xf32>, %dtb: tensor<4xf32>, %al: tensor<4x2xf32>, %d: tensor<4xf32>, %out: tensor<4x8xf32>) {
  // expected-error @+1 {{'hybrid.mamba' op out_proj has shape [4, 8], expected [8, 4] ([hidden, d_inner])}}
  %y = hybrid.mamba %x, %conv, %h in_proj(%inp) conv1d(%cw) x_proj(%xp) dt_proj(%dtp) dt_proj_bias(%dtb) a_log(%al) d(%d) out_proj(%out) {d_inner = 4 : i64, d_state = 2 : i64, d_conv = 2 : i64, dt_rank = 1 : i64, norm_epsilon = 1.0e-06 : f64} : (tensor<?x8xf32>, !hybrid.conv_state<4x1xf32>, !hybrid.recurrent_state<4x2xf32>, tensor<8x8xf32>, tensor<4x1x2xf32>, tensor<5x4xf32>, tensor<4x1xf32>, tensor<4xf32>, tensor<4x2xf32>, tensor<4xf32>, tensor<4x8xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_mamba_out_proj_bias_size(%x: tensor<?x8xf32>, %conv: !hybrid.conv_state<4x1xf32>, %h: !hybrid.recurrent_state<4x2xf32>, %inp: tensor<8x8xf32>, %cw: tensor<4x1x2xf32>, %xp: tensor<5x4xf32>, %dtp: tensor<4x1xf32>, %dtb: tensor<4xf32>, %al: tensor<4x2xf32>, %d: tensor<4xf32>, %out: tensor<8x4xf32>, %outb: tensor<4xf32>) {
  // expected-error @+1 {{'hybrid.mamba' op out_proj_bias has shape [4], expected [8] ([hidden])}}
  %y = hybrid.mamba %x, %conv, %h in_proj(%inp) conv1d(%cw) x_proj(%xp) dt_proj(%dtp) dt_proj_bias(%dtb) a_log(%al) d(%d) out_proj(%out) out_proj_bias(%outb) {d_inner = 4 : i64, d_state = 2 : i64, d_conv = 2 : i64, dt_rank = 1 : i64, norm_epsilon = 1.0e-06 : f64} : (tensor<?x8xf32>, !hybrid.conv_state<4x1xf32>, !hybrid.recurrent_state<4x2xf32>, tensor<8x8xf32>, tensor<4x1x2xf32>, tensor<5x4xf32>, tensor<4x1xf32>, tensor<4xf32>, tensor<4x2xf32>, tensor<4xf32>, tensor<8x4xf32>, tensor<4xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_mamba_c_layernorm_missing(%x: tensor<?x8xf32>, %conv: !hybrid.conv_state<4x1xf32>, %h: !hybrid.recurrent_state<4x2xf32>, %inp: tensor<8x8xf32>, %cw: tensor<4x1x2xf32>, %xp: tensor<5x4xf32>, %dtp: tensor<4x1xf32>, %dtb: tensor<4xf32>, %al: tensor<4x2xf32>, %d: tensor<4xf32>, %out: tensor<8x4xf32>, %dtn: tensor<1xf32>, %bn: tensor<2xf32>) {
  // expected-error @+1 {{'hybrid.mamba' op dt_layernorm, b_layernorm and c_layernorm must be given together}}
  %y = hybrid.mamba %x, %conv, %h in_proj(%inp) conv1d(%cw) x_proj(%xp) dt_proj(%dtp) dt_proj_bias(%dtb) a_log(%al) d(%d) out_proj(%out) dt_layernorm(%dtn) b_layernorm(%bn) {d_inner = 4 : i64, d_state = 2 : i64, d_conv = 2 : i64, dt_rank = 1 : i64, norm_epsilon = 1.0e-06 : f64} : (tensor<?x8xf32>, !hybrid.conv_state<4x1xf32>, !hybrid.recurrent_state<4x2xf32>, tensor<8x8xf32>, tensor<4x1x2xf32>, tensor<5x4xf32>, tensor<4x1xf32>, tensor<4xf32>, tensor<4x2xf32>, tensor<4xf32>, tensor<8x4xf32>, tensor<1xf32>, tensor<2xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_mamba_dt_layernorm_size(%x: tensor<?x8xf32>, %conv: !hybrid.conv_state<4x1xf32>, %h: !hybrid.recurrent_state<4x2xf32>, %inp: tensor<8x8xf32>, %cw: tensor<4x1x2xf32>, %xp: tensor<5x4xf32>, %dtp: tensor<4x1xf32>, %dtb: tensor<4xf32>, %al: tensor<4x2xf32>, %d: tensor<4xf32>, %out: tensor<8x4xf32>, %dtn: tensor<2xf32>, %bn: tensor<2xf32>, %cn: tensor<2xf32>) {
  // expected-error @+1 {{'hybrid.mamba' op dt_layernorm has shape [2], expected [1] ([dt_rank])}}
  %y = hybrid.mamba %x, %conv, %h in_proj(%inp) conv1d(%cw) x_proj(%xp) dt_proj(%dtp) dt_proj_bias(%dtb) a_log(%al) d(%d) out_proj(%out) dt_layernorm(%dtn) b_layernorm(%bn) c_layernorm(%cn) {d_inner = 4 : i64, d_state = 2 : i64, d_conv = 2 : i64, dt_rank = 1 : i64, norm_epsilon = 1.0e-06 : f64} : (tensor<?x8xf32>, !hybrid.conv_state<4x1xf32>, !hybrid.recurrent_state<4x2xf32>, tensor<8x8xf32>, tensor<4x1x2xf32>, tensor<5x4xf32>, tensor<4x1xf32>, tensor<4xf32>, tensor<4x2xf32>, tensor<4xf32>, tensor<8x4xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_mamba_b_layernorm_size(%x: tensor<?x8xf32>, %conv: !hybrid.conv_state<4x1xf32>, %h: !hybrid.recurrent_state<4x2xf32>, %inp: tensor<8x8xf32>, %cw: tensor<4x1x2xf32>, %xp: tensor<5x4xf32>, %dtp: tensor<4x1xf32>, %dtb: tensor<4xf32>, %al: tensor<4x2xf32>, %d: tensor<4xf32>, %out: tensor<8x4xf32>, %dtn: tensor<1xf32>, %bn: tensor<4xf32>, %cn: tensor<2xf32>) {
  // expected-error @+1 {{'hybrid.mamba' op b_layernorm has shape [4], expected [2] ([d_state])}}
  %y = hybrid.mamba %x, %conv, %h in_proj(%inp) conv1d(%cw) x_proj(%xp) dt_proj(%dtp) dt_proj_bias(%dtb) a_log(%al) d(%d) out_proj(%out) dt_layernorm(%dtn) b_layernorm(%bn) c_layernorm(%cn) {d_inner = 4 : i64, d_state = 2 : i64, d_conv = 2 : i64, dt_rank = 1 : i64, norm_epsilon = 1.0e-06 : f64} : (tensor<?x8xf32>, !hybrid.conv_state<4x1xf32>, !hybrid.recurrent_state<4x2xf32>, tensor<8x8xf32>, tensor<4x1x2xf32>, tensor<5x4xf32>, tensor<4x1xf32>, tensor<4xf32>, tensor<4x2xf32>, tensor<4xf32>, tensor<8x4xf32>, tensor<1xf32>, tensor<4xf32>, tensor<2xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_mamba_c_layernorm_size(%x: tensor<?x8xf32>, %conv: !hybrid.conv_state<4x1xf32>, %h: !hybrid.recurrent_state<4x2xf32>, %inp: tensor<8x8xf32>, %cw: tensor<4x1x2xf32>, %xp: tensor<5x4xf32>, %dtp: tensor<4x1xf32>, %dtb: tensor<4xf32>, %al: tensor<4x2xf32>, %d: tensor<4xf32>, %out: tensor<8x4xf32>, %dtn: tensor<1xf32>, %bn: tensor<2xf32>, %cn: tensor<1xf32>) {
  // expected-error @+1 {{'hybrid.mamba' op c_layernorm has shape [1], expected [2] ([d_state])}}
  %y = hybrid.mamba %x, %conv, %h in_proj(%inp) conv1d(%cw) x_proj(%xp) dt_proj(%dtp) dt_proj_bias(%dtb) a_log(%al) d(%d) out_proj(%out) dt_layernorm(%dtn) b_layernorm(%bn) c_layernorm(%cn) {d_inner = 4 : i64, d_state = 2 : i64, d_conv = 2 : i64, dt_rank = 1 : i64, norm_epsilon = 1.0e-06 : f64} : (tensor<?x8xf32>, !hybrid.conv_state<4x1xf32>, !hybrid.recurrent_state<4x2xf32>, tensor<8x8xf32>, tensor<4x1x2xf32>, tensor<5x4xf32>, tensor<4x1xf32>, tensor<4xf32>, tensor<4x2xf32>, tensor<4xf32>, tensor<8x4xf32>, tensor<1xf32>, tensor<2xf32>, tensor<1xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_mamba_conv_state_width(%x: tensor<?x8xf32>, %conv: !hybrid.conv_state<4x2xf32>, %h: !hybrid.recurrent_state<4x2xf32>, %inp: tensor<8x8xf32>, %cw: tensor<4x1x2xf32>, %xp: tensor<5x4xf32>, %dtp: tensor<4x1xf32>, %dtb: tensor<4xf32>, %al: tensor<4x2xf32>, %d: tensor<4xf32>, %out: tensor<8x4xf32>) {
  // expected-error @+1 {{'hybrid.mamba' op conv_state has shape [4, 2], expected [4, 1] ([d_inner, d_conv - 1])}}
  %y = hybrid.mamba %x, %conv, %h in_proj(%inp) conv1d(%cw) x_proj(%xp) dt_proj(%dtp) dt_proj_bias(%dtb) a_log(%al) d(%d) out_proj(%out) {d_inner = 4 : i64, d_state = 2 : i64, d_conv = 2 : i64, dt_rank = 1 : i64, norm_epsilon = 1.0e-06 : f64} : (tensor<?x8xf32>, !hybrid.conv_state<4x2xf32>, !hybrid.recurrent_state<4x2xf32>, tensor<8x8xf32>, tensor<4x1x2xf32>, tensor<5x4xf32>, tensor<4x1xf32>, tensor<4xf32>, tensor<4x2xf32>, tensor<4xf32>, tensor<8x4xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_mamba_ssm_state_shape(%x: tensor<?x8xf32>, %conv: !hybrid.conv_state<4x1xf32>, %h: !hybrid.recurrent_state<4x4xf32>, %inp: tensor<8x8xf32>, %cw: tensor<4x1x2xf32>, %xp: tensor<5x4xf32>, %dtp: tensor<4x1xf32>, %dtb: tensor<4xf32>, %al: tensor<4x2xf32>, %d: tensor<4xf32>, %out: tensor<8x4xf32>) {
  // expected-error @+1 {{'hybrid.mamba' op ssm_state has shape [4, 4], expected [4, 2] ([d_inner, d_state])}}
  %y = hybrid.mamba %x, %conv, %h in_proj(%inp) conv1d(%cw) x_proj(%xp) dt_proj(%dtp) dt_proj_bias(%dtb) a_log(%al) d(%d) out_proj(%out) {d_inner = 4 : i64, d_state = 2 : i64, d_conv = 2 : i64, dt_rank = 1 : i64, norm_epsilon = 1.0e-06 : f64} : (tensor<?x8xf32>, !hybrid.conv_state<4x1xf32>, !hybrid.recurrent_state<4x4xf32>, tensor<8x8xf32>, tensor<4x1x2xf32>, tensor<5x4xf32>, tensor<4x1xf32>, tensor<4xf32>, tensor<4x2xf32>, tensor<4xf32>, tensor<8x4xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_mamba_ssm_state_rank_three(%x: tensor<?x8xf32>, %conv: !hybrid.conv_state<4x1xf32>, %h: !hybrid.recurrent_state<1x4x2xf32>, %inp: tensor<8x8xf32>, %cw: tensor<4x1x2xf32>, %xp: tensor<5x4xf32>, %dtp: tensor<4x1xf32>, %dtb: tensor<4xf32>, %al: tensor<4x2xf32>, %d: tensor<4xf32>, %out: tensor<8x4xf32>) {
  // expected-error @+1 {{'hybrid.mamba' op ssm_state has shape [1, 4, 2], expected [4, 2] ([d_inner, d_state])}}
  %y = hybrid.mamba %x, %conv, %h in_proj(%inp) conv1d(%cw) x_proj(%xp) dt_proj(%dtp) dt_proj_bias(%dtb) a_log(%al) d(%d) out_proj(%out) {d_inner = 4 : i64, d_state = 2 : i64, d_conv = 2 : i64, dt_rank = 1 : i64, norm_epsilon = 1.0e-06 : f64} : (tensor<?x8xf32>, !hybrid.conv_state<4x1xf32>, !hybrid.recurrent_state<1x4x2xf32>, tensor<8x8xf32>, tensor<4x1x2xf32>, tensor<5x4xf32>, tensor<4x1xf32>, tensor<4xf32>, tensor<4x2xf32>, tensor<4xf32>, tensor<8x4xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_mamba_ssm_state_not_f32(%x: tensor<?x8xf32>, %conv: !hybrid.conv_state<4x1xf32>, %h: !hybrid.recurrent_state<4x2xf16>, %inp: tensor<8x8xf32>, %cw: tensor<4x1x2xf32>, %xp: tensor<5x4xf32>, %dtp: tensor<4x1xf32>, %dtb: tensor<4xf32>, %al: tensor<4x2xf32>, %d: tensor<4xf32>, %out: tensor<8x4xf32>) {
  // expected-error @+1 {{'hybrid.mamba' op ssm_state must be f32, got 'f16'}}
  %y = hybrid.mamba %x, %conv, %h in_proj(%inp) conv1d(%cw) x_proj(%xp) dt_proj(%dtp) dt_proj_bias(%dtb) a_log(%al) d(%d) out_proj(%out) {d_inner = 4 : i64, d_state = 2 : i64, d_conv = 2 : i64, dt_rank = 1 : i64, norm_epsilon = 1.0e-06 : f64} : (tensor<?x8xf32>, !hybrid.conv_state<4x1xf32>, !hybrid.recurrent_state<4x2xf16>, tensor<8x8xf32>, tensor<4x1x2xf32>, tensor<5x4xf32>, tensor<4x1xf32>, tensor<4xf32>, tensor<4x2xf32>, tensor<4xf32>, tensor<8x4xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_mamba_result_hidden(%x: tensor<?x8xf32>, %conv: !hybrid.conv_state<4x1xf32>, %h: !hybrid.recurrent_state<4x2xf32>, %inp: tensor<8x8xf32>, %cw: tensor<4x1x2xf32>, %xp: tensor<5x4xf32>, %dtp: tensor<4x1xf32>, %dtb: tensor<4xf32>, %al: tensor<4x2xf32>, %d: tensor<4xf32>, %out: tensor<8x4xf32>) {
  // expected-error @+1 {{'hybrid.mamba' op result has shape [?, 4], expected [?, 8] ([tokens, hidden])}}
  %y = hybrid.mamba %x, %conv, %h in_proj(%inp) conv1d(%cw) x_proj(%xp) dt_proj(%dtp) dt_proj_bias(%dtb) a_log(%al) d(%d) out_proj(%out) {d_inner = 4 : i64, d_state = 2 : i64, d_conv = 2 : i64, dt_rank = 1 : i64, norm_epsilon = 1.0e-06 : f64} : (tensor<?x8xf32>, !hybrid.conv_state<4x1xf32>, !hybrid.recurrent_state<4x2xf32>, tensor<8x8xf32>, tensor<4x1x2xf32>, tensor<5x4xf32>, tensor<4x1xf32>, tensor<4xf32>, tensor<4x2xf32>, tensor<4xf32>, tensor<8x4xf32>) -> tensor<?x4xf32>
  return
}

// -----

func.func @negative_mtp_dynamic_hidden(%h: tensor<?x?xf32>, %e: tensor<?x8xf32>, %en: tensor<8xf32>, %hn: tensor<8xf32>, %p: tensor<8x16xf32>) {
  // expected-error @+1 {{'hybrid.mtp' op hidden must have a static hidden size, got 'tensor<?x?xf32>'}}
  %y = hybrid.mtp plain %h, %e enorm(%en) hnorm(%hn) eh_proj(%p) {epsilon = 1.0e-06 : f64} : (tensor<?x?xf32>, tensor<?x8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8x16xf32>) -> tensor<?x?xf32>
  return
}

// -----

func.func @negative_mtp_kind_gated(%h: tensor<?x8xf32>, %e: tensor<?x8xf32>, %en: tensor<8xf32>, %hn: tensor<8xf32>, %p: tensor<8x16xf32>) {
  // expected-error @+1 {{'hybrid.mtp' op kind cannot be gated}}
  %y = hybrid.mtp gated %h, %e enorm(%en) hnorm(%hn) eh_proj(%p) {epsilon = 1.0e-06 : f64} : (tensor<?x8xf32>, tensor<?x8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8x16xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_mtp_embedded_hidden(%h: tensor<?x8xf32>, %e: tensor<?x4xf32>, %en: tensor<8xf32>, %hn: tensor<8xf32>, %p: tensor<8x16xf32>) {
  // expected-error @+1 {{'hybrid.mtp' op embedded has shape [?, 4], expected [?, 8] ([tokens of hidden, hidden])}}
  %y = hybrid.mtp plain %h, %e enorm(%en) hnorm(%hn) eh_proj(%p) {epsilon = 1.0e-06 : f64} : (tensor<?x8xf32>, tensor<?x4xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8x16xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_mtp_enorm_size(%h: tensor<?x8xf32>, %e: tensor<?x8xf32>, %en: tensor<16xf32>, %hn: tensor<8xf32>, %p: tensor<8x16xf32>) {
  // expected-error @+1 {{'hybrid.mtp' op enorm has shape [16], expected [8] ([hidden])}}
  %y = hybrid.mtp plain %h, %e enorm(%en) hnorm(%hn) eh_proj(%p) {epsilon = 1.0e-06 : f64} : (tensor<?x8xf32>, tensor<?x8xf32>, tensor<16xf32>, tensor<8xf32>, tensor<8x16xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_mtp_hnorm_size(%h: tensor<?x8xf32>, %e: tensor<?x8xf32>, %en: tensor<8xf32>, %hn: tensor<4xf32>, %p: tensor<8x16xf32>) {
  // expected-error @+1 {{'hybrid.mtp' op hnorm has shape [4], expected [8] ([hidden])}}
  %y = hybrid.mtp plain %h, %e enorm(%en) hnorm(%hn) eh_proj(%p) {epsilon = 1.0e-06 : f64} : (tensor<?x8xf32>, tensor<?x8xf32>, tensor<8xf32>, tensor<4xf32>, tensor<8x16xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_mtp_eh_proj_transposed(%h: tensor<?x8xf32>, %e: tensor<?x8xf32>, %en: tensor<8xf32>, %hn: tensor<8xf32>, %p: tensor<16x8xf32>) {
  // expected-error @+1 {{'hybrid.mtp' op eh_proj has shape [16, 8], expected [8, 16] ([hidden, 2 * hidden])}}
  %y = hybrid.mtp plain %h, %e enorm(%en) hnorm(%hn) eh_proj(%p) {epsilon = 1.0e-06 : f64} : (tensor<?x8xf32>, tensor<?x8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<16x8xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_mtp_result_hidden(%h: tensor<?x8xf32>, %e: tensor<?x8xf32>, %en: tensor<8xf32>, %hn: tensor<8xf32>, %p: tensor<8x16xf32>) {
  // expected-error @+1 {{'hybrid.mtp' op result has shape [?, 16], expected [?, 8] ([tokens, hidden])}}
  %y = hybrid.mtp plain %h, %e enorm(%en) hnorm(%hn) eh_proj(%p) {epsilon = 1.0e-06 : f64} : (tensor<?x8xf32>, tensor<?x8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8x16xf32>) -> tensor<?x16xf32>
  return
}

// -----

// expected-error @+1 {{yarn truncate must be true or false}}
func.func @negative_yarn_truncate_not_bool() attributes {yarn = #hybrid.yarn<factor = 40.0, original = 4096, beta_fast = 32.0, beta_slow = 1.0, attention_factor = 1.0, truncate = yes>} {
  return
}

// -----

// expected-error @+1 {{yarn factor must be >= 1, got 5.000000e-01}}
func.func @negative_yarn_factor_below_one() attributes {yarn = #hybrid.yarn<factor = 0.5, original = 4096, beta_fast = 32.0, beta_slow = 1.0, attention_factor = 1.0, truncate = true>} {
  return
}

// -----

// expected-error @+1 {{yarn original context must be positive, got 0}}
func.func @negative_yarn_original_zero() attributes {yarn = #hybrid.yarn<factor = 40.0, original = 0, beta_fast = 32.0, beta_slow = 1.0, attention_factor = 1.0, truncate = true>} {
  return
}

// -----

// expected-error @+1 {{yarn needs beta_fast > beta_slow > 0, got 1.000000e+00 and 3.200000e+01}}
func.func @negative_yarn_beta_fast_not_above_beta_slow() attributes {yarn = #hybrid.yarn<factor = 40.0, original = 4096, beta_fast = 1.0, beta_slow = 32.0, attention_factor = 1.0, truncate = true>} {
  return
}

// -----

// expected-error @+1 {{yarn needs beta_fast > beta_slow > 0, got 3.200000e+01 and 0.000000e+00}}
func.func @negative_yarn_beta_slow_zero() attributes {yarn = #hybrid.yarn<factor = 40.0, original = 4096, beta_fast = 32.0, beta_slow = 0.0, attention_factor = 1.0, truncate = true>} {
  return
}

// -----

// expected-error @+1 {{yarn attention_factor must be positive}}
func.func @negative_yarn_attention_factor_zero() attributes {yarn = #hybrid.yarn<factor = 40.0, original = 4096, beta_fast = 32.0, beta_slow = 1.0, attention_factor = 0.0, truncate = true>} {
  return
}

// -----

// expected-error @+1 {{kv_cache expects [kv_heads, head_dim], got 3 dimensions}}
func.func @negative_kv_cache_rank(%s: !hybrid.kv_cache<4x2x16xf32>) {
  return
}

// -----

// expected-error @+1 {{kv_cache dimensions must be positive}}
func.func @negative_kv_cache_zero_dimension(%s: !hybrid.kv_cache<8x0xf32>) {
  return
}

// -----

// expected-error @+1 {{kv_cache element type must be a float type, got 'i32'}}
func.func @negative_kv_cache_integer_element_type(%s: !hybrid.kv_cache<8x2xi32>) {
  return
}

// -----

// expected-error @+1 {{latent_cache expects [kv_lora_rank, qk_rope_head_dim], got 1 dimensions}}
func.func @negative_latent_cache_rank(%s: !hybrid.latent_cache<16xf32>) {
  return
}

// -----

// expected-error @+1 {{latent_cache dimensions must be positive}}
func.func @negative_latent_cache_zero_dimension(%s: !hybrid.latent_cache<8x0xf32>) {
  return
}

// -----

// expected-error @+1 {{latent_cache element type must be a float type, got 'i32'}}
func.func @negative_latent_cache_integer_element_type(%s: !hybrid.latent_cache<8x2xi32>) {
  return
}

// -----

// expected-error @+1 {{conv_state expects [channels, kernel - 1], got 3 dimensions}}
func.func @negative_conv_state_rank(%s: !hybrid.conv_state<64x3x1xf32>) {
  return
}

// -----

// expected-error @+1 {{conv_state dimensions must be positive}}
func.func @negative_conv_state_zero_dimension(%s: !hybrid.conv_state<8x0xf32>) {
  return
}

// -----

// expected-error @+1 {{conv_state element type must be a float type, got 'i32'}}
func.func @negative_conv_state_integer_element_type(%s: !hybrid.conv_state<8x2xi32>) {
  return
}

// -----

// expected-error @+1 {{recurrent_state expects 2 or 3 dimensions, got 4 dimensions}}
func.func @negative_recurrent_state_rank(%s: !hybrid.recurrent_state<4x8x8x2xf32>) {
  return
}

// -----

// expected-error @+1 {{recurrent_state dimensions must be positive}}
func.func @negative_recurrent_state_zero_dimension(%s: !hybrid.recurrent_state<8x0xf32>) {
  return
}

// -----

// expected-error @+1 {{recurrent_state element type must be a float type, got 'i32'}}
func.func @negative_recurrent_state_integer_element_type(%s: !hybrid.recurrent_state<8x2xi32>) {
  return
}

// -----

// expected-error @+1 {{kv_cache expects [kv_heads, head_dim], got 0 dimensions}}
func.func @negative_kv_cache_no_dimensions(%s: !hybrid.kv_cache<f32>) {
  return
}

// -----

// expected-error @+1 {{recurrent_state dimensions must be positive}}
func.func @negative_recurrent_state_zero_leading_dimension(%s: !hybrid.recurrent_state<0x8x8xf32>) {
  return
}

// -----

// State shapes are static: the parser of the state types does not accept `?`
// (parseDimensionList with allowDynamic = false).
// expected-error @+1 {{expected static shape}}
func.func @negative_kv_cache_dynamic_dimension(%s: !hybrid.kv_cache<?x16xbf16>) {
  return
}

// -----

func.func @negative_weight_two_placeholders() {
  // expected-error @+1 {{'hybrid.weight' op name must contain '{e}' at most once}}
  %w = hybrid.weight "mlp.experts.{e}.{e}.w" experts(2) : tensor<2x4xf32>
  return
}

// -----

func.func @negative_dequantize_result_f8(%q: tensor<8x8xf8E4M3FN>, %s: tensor<2x2xf32>) {
  // expected-error @+1 {{'hybrid.dequantize' op result must have element type bf16, f16 or f32, got 'f8E4M3FN'}}
  %y = hybrid.dequantize %q, %s block [4, 4] : (tensor<8x8xf8E4M3FN>, tensor<2x2xf32>) -> tensor<8x8xf8E4M3FN>
  return
}

// -----

func.func @negative_dequantize_dynamic_rows(%q: tensor<?x8xf8E4M3FN>, %s: tensor<3x3xf32>) {
  // expected-error @+1 {{'hybrid.dequantize' op scale_inv has shape [3, 3], expected [?, 2] (ceil of the last two dimensions by the block)}}
  %y = hybrid.dequantize %q, %s block [4, 4] : (tensor<?x8xf8E4M3FN>, tensor<3x3xf32>) -> tensor<?x8xbf16>
  return
}

// -----

func.func @negative_rms_norm_result_element_type(%x: tensor<?x8xf32>, %w: tensor<8xf32>) {
  // expected-error @+1 {{'hybrid.rms_norm' op result element type 'bf16' differs from the input's 'f32'}}
  %y = hybrid.rms_norm plain %x, %w {epsilon = 1.0e-06 : f64} : (tensor<?x8xf32>, tensor<8xf32>) -> tensor<?x8xbf16>
  return
}

// -----

func.func @negative_attention_yarn_without_rotary(%x: tensor<?x8xf32>, %pos: tensor<?xi64>, %cache: !hybrid.kv_cache<1x4xf32>, %q: tensor<8x8xf32>, %k: tensor<4x8xf32>, %v: tensor<4x8xf32>, %o: tensor<8x8xf32>) {
  // expected-error @+1 {{'hybrid.attention' op yarn scales the rotary embedding, but rotary_dim is 0}}
  %y = hybrid.attention %x, %pos, %cache q_proj(%q) k_proj(%k) v_proj(%v) o_proj(%o) {num_heads = 2 : i64, num_kv_heads = 1 : i64, head_dim = 4 : i64, rotary_dim = 0 : i64, rope_theta = 1.0e+04 : f64, scale = 0.5 : f64, yarn = #hybrid.yarn<factor = 4.0, original = 4096, beta_fast = 32.0, beta_slow = 1.0, attention_factor = 1.0, truncate = true>} : (tensor<?x8xf32>, tensor<?xi64>, !hybrid.kv_cache<1x4xf32>, tensor<8x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>, tensor<8x8xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_attention_positions_token_count(%x: tensor<2x8xf32>, %pos: tensor<3xi64>, %cache: !hybrid.kv_cache<1x4xf32>, %q: tensor<8x8xf32>, %k: tensor<4x8xf32>, %v: tensor<4x8xf32>, %o: tensor<8x8xf32>) {
  // expected-error @+1 {{'hybrid.attention' op positions has 3 tokens but the input has 2}}
  %y = hybrid.attention %x, %pos, %cache q_proj(%q) k_proj(%k) v_proj(%v) o_proj(%o) {num_heads = 2 : i64, num_kv_heads = 1 : i64, head_dim = 4 : i64, rotary_dim = 4 : i64, rope_theta = 1.0e+04 : f64, scale = 0.5 : f64} : (tensor<2x8xf32>, tensor<3xi64>, !hybrid.kv_cache<1x4xf32>, tensor<8x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>, tensor<8x8xf32>) -> tensor<2x8xf32>
  return
}

// -----

func.func @negative_attention_norm_epsilon_zero(%x: tensor<?x8xf32>, %pos: tensor<?xi64>, %cache: !hybrid.kv_cache<1x4xf32>, %q: tensor<8x8xf32>, %k: tensor<4x8xf32>, %v: tensor<4x8xf32>, %o: tensor<8x8xf32>, %qn: tensor<4xf32>, %kn: tensor<4xf32>) {
  // expected-error @+1 {{'hybrid.attention' op norm_epsilon must be positive, got 0}}
  %y = hybrid.attention %x, %pos, %cache q_proj(%q) k_proj(%k) v_proj(%v) o_proj(%o) q_norm(%qn) k_norm(%kn) qk_norm plain {num_heads = 2 : i64, num_kv_heads = 1 : i64, head_dim = 4 : i64, rotary_dim = 4 : i64, rope_theta = 1.0e+04 : f64, scale = 0.5 : f64, norm_epsilon = 0.0 : f64} : (tensor<?x8xf32>, tensor<?xi64>, !hybrid.kv_cache<1x4xf32>, tensor<8x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>, tensor<8x8xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_mla_rope_theta_zero(%x: tensor<?x8xf32>, %pos: tensor<?xi64>, %cache: !hybrid.latent_cache<4x2xf32>, %qa: tensor<4x8xf32>, %qan: tensor<4xf32>, %qb: tensor<8x4xf32>, %kva: tensor<6x8xf32>, %kvan: tensor<4xf32>, %kvb: tensor<8x4xf32>, %o: tensor<8x4xf32>) {
  // expected-error @+1 {{'hybrid.mla' op rope_theta must be positive}}
  %y = hybrid.mla %x, %pos, %cache q_a_proj(%qa) q_a_layernorm(%qan) q_b_proj(%qb) kv_a_proj_with_mqa(%kva) kv_a_layernorm(%kvan) kv_b_proj(%kvb) o_proj(%o) {num_heads = 2 : i64, q_lora_rank = 4 : i64, kv_lora_rank = 4 : i64, qk_nope_head_dim = 2 : i64, qk_rope_head_dim = 2 : i64, v_head_dim = 2 : i64, rope_theta = 0.0 : f64, scale = 0.5 : f64, norm_epsilon = 1.0e-06 : f64} : (tensor<?x8xf32>, tensor<?xi64>, !hybrid.latent_cache<4x2xf32>, tensor<4x8xf32>, tensor<4xf32>, tensor<8x4xf32>, tensor<6x8xf32>, tensor<4xf32>, tensor<8x4xf32>, tensor<8x4xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_mla_norm_epsilon_zero(%x: tensor<?x8xf32>, %pos: tensor<?xi64>, %cache: !hybrid.latent_cache<4x2xf32>, %qa: tensor<4x8xf32>, %qan: tensor<4xf32>, %qb: tensor<8x4xf32>, %kva: tensor<6x8xf32>, %kvan: tensor<4xf32>, %kvb: tensor<8x4xf32>, %o: tensor<8x4xf32>) {
  // expected-error @+1 {{'hybrid.mla' op norm_epsilon must be positive, got 0}}
  %y = hybrid.mla %x, %pos, %cache q_a_proj(%qa) q_a_layernorm(%qan) q_b_proj(%qb) kv_a_proj_with_mqa(%kva) kv_a_layernorm(%kvan) kv_b_proj(%kvb) o_proj(%o) {num_heads = 2 : i64, q_lora_rank = 4 : i64, kv_lora_rank = 4 : i64, qk_nope_head_dim = 2 : i64, qk_rope_head_dim = 2 : i64, v_head_dim = 2 : i64, rope_theta = 1.0e+04 : f64, scale = 0.5 : f64, norm_epsilon = 0.0 : f64} : (tensor<?x8xf32>, tensor<?xi64>, !hybrid.latent_cache<4x2xf32>, tensor<4x8xf32>, tensor<4xf32>, tensor<8x4xf32>, tensor<6x8xf32>, tensor<4xf32>, tensor<8x4xf32>, tensor<8x4xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_mla_positions_token_count(%x: tensor<2x8xf32>, %pos: tensor<1xi64>, %cache: !hybrid.latent_cache<4x2xf32>, %qa: tensor<4x8xf32>, %qan: tensor<4xf32>, %qb: tensor<8x4xf32>, %kva: tensor<6x8xf32>, %kvan: tensor<4xf32>, %kvb: tensor<8x4xf32>, %o: tensor<8x4xf32>) {
  // expected-error @+1 {{'hybrid.mla' op positions has 1 tokens but the input has 2}}
  %y = hybrid.mla %x, %pos, %cache q_a_proj(%qa) q_a_layernorm(%qan) q_b_proj(%qb) kv_a_proj_with_mqa(%kva) kv_a_layernorm(%kvan) kv_b_proj(%kvb) o_proj(%o) {num_heads = 2 : i64, q_lora_rank = 4 : i64, kv_lora_rank = 4 : i64, qk_nope_head_dim = 2 : i64, qk_rope_head_dim = 2 : i64, v_head_dim = 2 : i64, rope_theta = 1.0e+04 : f64, scale = 0.5 : f64, norm_epsilon = 1.0e-06 : f64} : (tensor<2x8xf32>, tensor<1xi64>, !hybrid.latent_cache<4x2xf32>, tensor<4x8xf32>, tensor<4xf32>, tensor<8x4xf32>, tensor<6x8xf32>, tensor<4xf32>, tensor<8x4xf32>, tensor<8x4xf32>) -> tensor<2x8xf32>
  return
}

// -----

func.func @negative_gated_delta_net_norm_epsilon_negative(%x: tensor<?x8xf32>, %conv: !hybrid.conv_state<8x1xf32>, %s: !hybrid.recurrent_state<2x2x2xf32>, %qkvz: tensor<12x8xf32>, %ba: tensor<4x8xf32>, %cw: tensor<8x1x2xf32>, %dt: tensor<2xf32>, %al: tensor<2xf32>, %n: tensor<2xf32>, %out: tensor<8x4xf32>) {
  // expected-error @+1 {{'hybrid.gated_delta_net' op norm_epsilon must be positive, got -1}}
  %y = hybrid.gated_delta_net %x, %conv, %s in_proj_qkvz(%qkvz) in_proj_ba(%ba) conv1d(%cw) dt_bias(%dt) a_log(%al) norm(%n) out_proj(%out) {num_k_heads = 1 : i64, num_v_heads = 2 : i64, k_head_dim = 2 : i64, v_head_dim = 2 : i64, conv_kernel = 2 : i64, norm_epsilon = -1.0 : f64} : (tensor<?x8xf32>, !hybrid.conv_state<8x1xf32>, !hybrid.recurrent_state<2x2x2xf32>, tensor<12x8xf32>, tensor<4x8xf32>, tensor<8x1x2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<8x4xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_mamba_norm_epsilon_zero(%x: tensor<?x8xf32>, %conv: !hybrid.conv_state<4x1xf32>, %h: !hybrid.recurrent_state<4x2xf32>, %inp: tensor<8x8xf32>, %cw: tensor<4x1x2xf32>, %xp: tensor<5x4xf32>, %dtp: tensor<4x1xf32>, %dtb: tensor<4xf32>, %al: tensor<4x2xf32>, %d: tensor<4xf32>, %out: tensor<8x4xf32>) {
  // expected-error @+1 {{'hybrid.mamba' op norm_epsilon must be positive, got 0}}
  %y = hybrid.mamba %x, %conv, %h in_proj(%inp) conv1d(%cw) x_proj(%xp) dt_proj(%dtp) dt_proj_bias(%dtb) a_log(%al) d(%d) out_proj(%out) {d_inner = 4 : i64, d_state = 2 : i64, d_conv = 2 : i64, dt_rank = 1 : i64, norm_epsilon = 0.0 : f64} : (tensor<?x8xf32>, !hybrid.conv_state<4x1xf32>, !hybrid.recurrent_state<4x2xf32>, tensor<8x8xf32>, tensor<4x1x2xf32>, tensor<5x4xf32>, tensor<4x1xf32>, tensor<4xf32>, tensor<4x2xf32>, tensor<4xf32>, tensor<8x4xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_mtp_epsilon_zero(%h: tensor<?x8xf32>, %e: tensor<?x8xf32>, %en: tensor<8xf32>, %hn: tensor<8xf32>, %p: tensor<8x16xf32>) {
  // expected-error @+1 {{'hybrid.mtp' op epsilon must be positive, got 0}}
  %y = hybrid.mtp plain %h, %e enorm(%en) hnorm(%hn) eh_proj(%p) {epsilon = 0.0 : f64} : (tensor<?x8xf32>, tensor<?x8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8x16xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_mtp_embedded_token_count(%h: tensor<2x8xf32>, %e: tensor<3x8xf32>, %en: tensor<8xf32>, %hn: tensor<8xf32>, %p: tensor<8x16xf32>) {
  // expected-error @+1 {{'hybrid.mtp' op embedded has shape [3, 8], expected [2, 8] ([tokens of hidden, hidden])}}
  %y = hybrid.mtp plain %h, %e enorm(%en) hnorm(%hn) eh_proj(%p) {epsilon = 1.0e-06 : f64} : (tensor<2x8xf32>, tensor<3x8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8x16xf32>) -> tensor<2x8xf32>
  return
}

// -----

func.func @negative_dispatch_missing_kernel(%n: index) {
  // expected-error @+1 {{'hybrid.dispatch' op kernel @nowhere does not exist}}
  hybrid.dispatch @nowhere workgroups(%n)
  return
}

// -----

func.func private @kernel(%begin: index, %end: index, %x: memref<?xf32>)
func.func @negative_dispatch_kernel_type(%n: index, %x: memref<?xf64>) {
  // expected-error @+1 {{'hybrid.dispatch' op kernel @kernel has type '(index, index, memref<?xf32>) -> ()', expected (index, index, operand types) -> ()}}
  hybrid.dispatch @kernel workgroups(%n) (%x) : memref<?xf64>
  return
}

// -----

func.func @moe_route_router_dynamic_experts(%x: tensor<?x8xf32>, %r: tensor<?x8xf32>) {
  // expected-error @+1 {{'hybrid.moe_route' op router must be [num_experts, hidden] with a static expert count, got 'tensor<?x8xf32>'}}
  %e, %w = hybrid.moe_route softmax %x router(%r) {top_k = 2 : i64, norm_topk_prob = true} : (tensor<?x8xf32>, tensor<?x8xf32>) -> (tensor<?x2xi64>, tensor<?x2xf32>)
  return
}

// -----

func.func @moe_route_top_k_too_large(%x: tensor<?x8xf32>, %r: tensor<4x8xf32>) {
  // expected-error @+1 {{'hybrid.moe_route' op top_k (5) exceeds num_experts (4)}}
  %e, %w = hybrid.moe_route softmax %x router(%r) {top_k = 5 : i64, norm_topk_prob = true} : (tensor<?x8xf32>, tensor<4x8xf32>) -> (tensor<?x5xi64>, tensor<?x5xf32>)
  return
}

// -----

func.func @moe_route_router_hidden(%x: tensor<?x8xf32>, %r: tensor<4x6xf32>) {
  // expected-error @+1 {{'hybrid.moe_route' op router has shape [4, 6], expected [4, 8] ([num_experts, hidden])}}
  %e, %w = hybrid.moe_route softmax %x router(%r) {top_k = 2 : i64, norm_topk_prob = true} : (tensor<?x8xf32>, tensor<4x6xf32>) -> (tensor<?x2xi64>, tensor<?x2xf32>)
  return
}

// -----

func.func @moe_route_bias(%x: tensor<?x8xf32>, %r: tensor<4x8xf32>, %b: tensor<5xf32>) {
  // expected-error @+1 {{'hybrid.moe_route' op selection_bias has shape [5], expected [4] ([num_experts])}}
  %e, %w = hybrid.moe_route sigmoid %x router(%r) selection_bias(%b) {top_k = 2 : i64, norm_topk_prob = true} : (tensor<?x8xf32>, tensor<4x8xf32>, tensor<5xf32>) -> (tensor<?x2xi64>, tensor<?x2xf32>)
  return
}

// -----

func.func @moe_route_result_slots(%x: tensor<?x8xf32>, %r: tensor<4x8xf32>) {
  // expected-error @+1 {{'hybrid.moe_route' op experts has shape [?, 3], expected [?, 2] ([tokens, top_k])}}
  %e, %w = hybrid.moe_route softmax %x router(%r) {top_k = 2 : i64, norm_topk_prob = true} : (tensor<?x8xf32>, tensor<4x8xf32>) -> (tensor<?x3xi64>, tensor<?x2xf32>)
  return
}

// -----

func.func @moe_route_weights_tokens(%x: tensor<5x8xf32>, %r: tensor<4x8xf32>) {
  // expected-error @+1 {{'hybrid.moe_route' op weights has shape [4, 2], expected [5, 2] ([tokens, top_k])}}
  %e, %w = hybrid.moe_route softmax %x router(%r) {top_k = 2 : i64, norm_topk_prob = true} : (tensor<5x8xf32>, tensor<4x8xf32>) -> (tensor<5x2xi64>, tensor<4x2xf32>)
  return
}

// -----

func.func @moe_experts_gate_rank(%x: tensor<?x8xf32>, %e: tensor<?x2xi64>, %w: tensor<?x2xf32>, %g: tensor<6x8xf32>, %d: tensor<4x8x6xf32>) {
  // expected-error @+1 {{'hybrid.moe_experts' op experts_gate must be [num_experts, intermediate, hidden] with a static expert count, got 'tensor<6x8xf32>'}}
  %y = hybrid.moe_experts %x routing(%e, %w) experts_gate(%g) experts_up(%g) experts_down(%d) : (tensor<?x8xf32>, tensor<?x2xi64>, tensor<?x2xf32>, tensor<6x8xf32>, tensor<6x8xf32>, tensor<4x8x6xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @moe_experts_down(%x: tensor<?x8xf32>, %e: tensor<?x2xi64>, %w: tensor<?x2xf32>, %g: tensor<4x6x8xf32>, %d: tensor<4x8x5xf32>) {
  // expected-error @+1 {{'hybrid.moe_experts' op experts_down has shape [4, 8, 5], expected [4, 8, 6] ([num_experts, hidden, intermediate])}}
  %y = hybrid.moe_experts %x routing(%e, %w) experts_gate(%g) experts_up(%g) experts_down(%d) : (tensor<?x8xf32>, tensor<?x2xi64>, tensor<?x2xf32>, tensor<4x6x8xf32>, tensor<4x6x8xf32>, tensor<4x8x5xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @moe_experts_weights_slots(%x: tensor<?x8xf32>, %e: tensor<?x2xi64>, %w: tensor<?x3xf32>, %g: tensor<4x6x8xf32>, %d: tensor<4x8x6xf32>) {
  // expected-error @+1 {{'hybrid.moe_experts' op weights has shape [?, 3], expected [?, 2] ([tokens, top_k])}}
  %y = hybrid.moe_experts %x routing(%e, %w) experts_gate(%g) experts_up(%g) experts_down(%d) : (tensor<?x8xf32>, tensor<?x2xi64>, tensor<?x3xf32>, tensor<4x6x8xf32>, tensor<4x6x8xf32>, tensor<4x8x6xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @moe_experts_shared_shape(%x: tensor<?x8xf32>, %e: tensor<?x2xi64>, %w: tensor<?x2xf32>, %g: tensor<4x6x8xf32>, %d: tensor<4x8x6xf32>, %s: tensor<?x6xf32>) {
  // expected-error @+1 {{'hybrid.moe_experts' op shared has shape [?, 6], expected [?, 8] ([tokens, hidden])}}
  %y = hybrid.moe_experts %x routing(%e, %w) experts_gate(%g) experts_up(%g) experts_down(%d) shared(%s) : (tensor<?x8xf32>, tensor<?x2xi64>, tensor<?x2xf32>, tensor<4x6x8xf32>, tensor<4x6x8xf32>, tensor<4x8x6xf32>, tensor<?x6xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @moe_experts_gate_without_shared(%x: tensor<?x8xf32>, %e: tensor<?x2xi64>, %w: tensor<?x2xf32>, %g: tensor<4x6x8xf32>, %d: tensor<4x8x6xf32>, %seg: tensor<1x8xf32>) {
  // expected-error @+1 {{'hybrid.moe_experts' op shared_expert_gate needs a shared expert output}}
  %y = hybrid.moe_experts %x routing(%e, %w) experts_gate(%g) experts_up(%g) experts_down(%d) shared_expert_gate(%seg) : (tensor<?x8xf32>, tensor<?x2xi64>, tensor<?x2xf32>, tensor<4x6x8xf32>, tensor<4x6x8xf32>, tensor<4x8x6xf32>, tensor<1x8xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @moe_experts_result(%x: tensor<?x8xf32>, %e: tensor<?x2xi64>, %w: tensor<?x2xf32>, %g: tensor<4x6x8xf32>, %d: tensor<4x8x6xf32>) {
  // expected-error @+1 {{'hybrid.moe_experts' op result has shape [?, 6], expected [?, 8] ([tokens, hidden])}}
  %y = hybrid.moe_experts %x routing(%e, %w) experts_gate(%g) experts_up(%g) experts_down(%d) : (tensor<?x8xf32>, tensor<?x2xi64>, tensor<?x2xf32>, tensor<4x6x8xf32>, tensor<4x6x8xf32>, tensor<4x8x6xf32>) -> tensor<?x6xf32>
  return
}

// -----

// A GPU kernel takes the workgroup count, then the operands.
module attributes {gpu.container_module} {
  gpu.module @hybrid_kernels {
    gpu.func @k(%begin: index, %end: index, %x: memref<?xf32>) kernel {
      gpu.return
    }
  }
  func.func @negative_gpu_dispatch_kernel_type(%n: index, %x: memref<?xf32>) {
    // expected-error @+1 {{'hybrid.dispatch' op kernel @hybrid_kernels::@k has type '(index, index, memref<?xf32>) -> ()', expected (index, operand types) -> ()}}
    hybrid.dispatch @hybrid_kernels::@k workgroups(%n) (%x) : memref<?xf32>
    return
  }
}

// -----

func.func @negative_warpgroup_mma_core_matrix(%a: memref<16x4x8x4xbf16>, %b: memref<8x16x8x8xbf16>,
                                              %i: index, %acc: vector<16x8xf32>) {
  // expected-error @+1 {{'hybrid.warpgroup_mma' op A must be core matrices [*, *, 8, 8] with contiguous 8x8 matrices and static strides, got 'memref<16x4x8x4xbf16>'}}
  %d = hybrid.warpgroup_mma %a[%i, %i], %b[%i, %i] warp(%i) acc(%acc)
      : memref<16x4x8x4xbf16>, memref<8x16x8x8xbf16>, vector<16x8xf32>
  return
}

// -----

func.func @negative_warpgroup_mma_strided(%a: memref<16x4x8x8xbf16>, %b: memref<8x16x8x8xbf16, strided<[1024, 64, 16, 1]>>,
                                          %i: index, %acc: vector<16x8xf32>) {
  // expected-error @+1 {{'hybrid.warpgroup_mma' op B must be core matrices}}
  %d = hybrid.warpgroup_mma %a[%i, %i], %b[%i, %i] warp(%i) acc(%acc)
      : memref<16x4x8x8xbf16>, memref<8x16x8x8xbf16, strided<[1024, 64, 16, 1]>>, vector<16x8xf32>
  return
}

// -----

func.func @negative_warpgroup_mma_tile(%a: memref<16x4x8x8xbf16>, %b: memref<8x16x8x8xbf16>,
                                       %i: index, %acc: vector<8x8xf32>) {
  // expected-error @+1 {{'hybrid.warpgroup_mma' op accumulator tiles must be 'vector<16x8xf32>', got 'vector<8x8xf32>'}}
  %d = hybrid.warpgroup_mma %a[%i, %i], %b[%i, %i] warp(%i) acc(%acc)
      : memref<16x4x8x8xbf16>, memref<8x16x8x8xbf16>, vector<8x8xf32>
  return
}
