// RUN: hybrid-opt %s -split-input-file -verify-diagnostics --allow-unregistered-dialect

func.func @negative_weight_empty_name() {
  // expected-error @+1 {{tensor name must not be empty}}
  %w = hybrid.weight "" : tensor<2xf32>
  return
}

// -----

func.func @negative_weight_experts_not_positive() {
  // expected-error @+1 {{experts must be positive, got 0}}
  %w = hybrid.weight "e.{e}.w" experts(0) : tensor<1x2xf32>
  return
}

// -----

func.func @negative_weight_experts_without_placeholder() {
  // expected-error @+1 {{name of a stacked expert weight must contain '{e}'}}
  %w = hybrid.weight "e.w" experts(2) : tensor<2x2xf32>
  return
}

// -----

func.func @negative_weight_experts_leading_dim() {
  // expected-error @+1 {{stacked expert weight must have a leading dimension of 3, got 'tensor<2x2xf32>'}}
  %w = hybrid.weight "e.{e}.w" experts(3) : tensor<2x2xf32>
  return
}

// -----

func.func @negative_weight_placeholder_without_experts() {
  // expected-error @+1 {{name contains '{e}' but experts(N) is not set}}
  %w = hybrid.weight "e.{e}.w" : tensor<2x2xf32>
  return
}

// -----

func.func @negative_dequantize_not_fp8() {
  %q = hybrid.weight "q" : tensor<4x4xbf16>
  %s = hybrid.weight "s" : tensor<1x1xf32>
  // expected-error @+1 {{quantized operand must have element type f8E4M3FN, got 'bf16'}}
  %w = hybrid.dequantize %q, %s block [128, 128] : (tensor<4x4xbf16>, tensor<1x1xf32>) -> tensor<4x4xbf16>
  return
}

// -----

func.func @negative_dequantize_scale_not_f32() {
  %q = hybrid.weight "q" : tensor<4x4xf8E4M3FN>
  %s = hybrid.weight "s" : tensor<1x1xbf16>
  // expected-error @+1 {{scale_inv must have element type f32, got 'bf16'}}
  %w = hybrid.dequantize %q, %s block [128, 128] : (tensor<4x4xf8E4M3FN>, tensor<1x1xbf16>) -> tensor<4x4xbf16>
  return
}

// -----

func.func @negative_dequantize_bad_block() {
  %q = hybrid.weight "q" : tensor<4x4xf8E4M3FN>
  %s = hybrid.weight "s" : tensor<1x1xf32>
  // expected-error @+1 {{block must be two positive sizes}}
  %w = hybrid.dequantize %q, %s block [128] : (tensor<4x4xf8E4M3FN>, tensor<1x1xf32>) -> tensor<4x4xbf16>
  return
}

// -----

func.func @negative_dequantize_rank_one() {
  %q = hybrid.weight "q" : tensor<4xf8E4M3FN>
  %s = hybrid.weight "s" : tensor<1xf32>
  // expected-error @+1 {{quantized operand must have rank >= 2}}
  %w = hybrid.dequantize %q, %s block [128, 128] : (tensor<4xf8E4M3FN>, tensor<1xf32>) -> tensor<4xbf16>
  return
}

// -----

func.func @negative_dequantize_scale_shape() {
  %q = hybrid.weight "q" : tensor<200x130xf8E4M3FN>
  %s = hybrid.weight "s" : tensor<1x2xf32>
  // expected-error @+1 {{scale_inv has shape [1, 2], expected [2, 2] (ceil of the last two dimensions by the block)}}
  %w = hybrid.dequantize %q, %s block [128, 128] : (tensor<200x130xf8E4M3FN>, tensor<1x2xf32>) -> tensor<200x130xbf16>
  return
}

// -----

func.func @negative_dequantize_result_shape() {
  %q = hybrid.weight "q" : tensor<4x4xf8E4M3FN>
  %s = hybrid.weight "s" : tensor<1x1xf32>
  // expected-error @+1 {{result has shape [4, 5], expected [4, 4] (the quantized shape)}}
  %w = hybrid.dequantize %q, %s block [128, 128] : (tensor<4x4xf8E4M3FN>, tensor<1x1xf32>) -> tensor<4x5xbf16>
  return
}

// -----

func.func @negative_embed_table_rank(%tok: tensor<?xi64>) {
  %t = hybrid.weight "t" : tensor<16xf32>
  // expected-error @+1 {{table must be [vocab, hidden], got 'tensor<16xf32>'}}
  %h = hybrid.embed %tok, %t : (tensor<?xi64>, tensor<16xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_embed_hidden(%tok: tensor<?xi64>) {
  %t = hybrid.weight "t" : tensor<16x4xf32>
  // expected-error @+1 {{result has shape [?, 8], expected [?, 4] ([tokens, hidden])}}
  %h = hybrid.embed %tok, %t : (tensor<?xi64>, tensor<16x4xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_rms_norm_dynamic_dim(%x: tensor<?x?xf32>) {
  %w = hybrid.weight "w" : tensor<8xf32>
  // expected-error @+1 {{input must have a static last dimension, got 'tensor<?x?xf32>'}}
  %y = hybrid.rms_norm plain %x, %w {epsilon = 1.0e-06 : f64} : (tensor<?x?xf32>, tensor<8xf32>) -> tensor<?x?xf32>
  return
}

// -----

func.func @negative_rms_norm_weight_size(%x: tensor<?x8xf32>) {
  %w = hybrid.weight "w" : tensor<4xf32>
  // expected-error @+1 {{weight has shape [4], expected [8] ([last dimension of the input])}}
  %y = hybrid.rms_norm plain %x, %w {epsilon = 1.0e-06 : f64} : (tensor<?x8xf32>, tensor<4xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_rms_norm_gate_without_gated(%x: tensor<?x8xf32>) {
  %w = hybrid.weight "w" : tensor<8xf32>
  // expected-error @+1 {{takes a gate operand if and only if kind is gated}}
  %y = hybrid.rms_norm plain %x, %w gate %x {epsilon = 1.0e-06 : f64} : (tensor<?x8xf32>, tensor<8xf32>, tensor<?x8xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_rms_norm_gated_without_gate(%x: tensor<?x8xf32>) {
  %w = hybrid.weight "w" : tensor<8xf32>
  // expected-error @+1 {{takes a gate operand if and only if kind is gated}}
  %y = hybrid.rms_norm gated %x, %w {epsilon = 1.0e-06 : f64} : (tensor<?x8xf32>, tensor<8xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_rms_norm_gate_shape(%x: tensor<?x8xf32>, %z: tensor<?x4xf32>) {
  %w = hybrid.weight "w" : tensor<8xf32>
  // expected-error @+1 {{gate has shape [?, 4], expected [?, 8] (the input shape)}}
  %y = hybrid.rms_norm gated %x, %w gate %z {epsilon = 1.0e-06 : f64} : (tensor<?x8xf32>, tensor<8xf32>, tensor<?x4xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_rms_norm_epsilon(%x: tensor<?x8xf32>) {
  %w = hybrid.weight "w" : tensor<8xf32>
  // expected-error @+1 {{epsilon must be positive}}
  %y = hybrid.rms_norm plain %x, %w {epsilon = 0.0 : f64} : (tensor<?x8xf32>, tensor<8xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_rms_norm_result(%x: tensor<?x8xf32>) {
  %w = hybrid.weight "w" : tensor<8xf32>
  // expected-error @+1 {{result has shape [?, 4], expected [?, 8] (the input shape)}}
  %y = hybrid.rms_norm plain %x, %w {epsilon = 1.0e-06 : f64} : (tensor<?x8xf32>, tensor<8xf32>) -> tensor<?x4xf32>
  return
}

// -----

func.func @negative_lm_head_dynamic_hidden(%x: tensor<?x?xf32>) {
  %w = hybrid.weight "w" : tensor<16x8xf32>
  // expected-error @+1 {{input must have a static hidden size, got 'tensor<?x?xf32>'}}
  %l = hybrid.lm_head %x, %w : (tensor<?x?xf32>, tensor<16x8xf32>) -> tensor<?x16xf32>
  return
}

// -----

func.func @negative_lm_head_weight(%x: tensor<?x8xf32>) {
  %w = hybrid.weight "w" : tensor<16x4xf32>
  // expected-error @+1 {{weight has shape [16, 4], expected [?, 8] ([vocab, hidden])}}
  %l = hybrid.lm_head %x, %w : (tensor<?x8xf32>, tensor<16x4xf32>) -> tensor<?x16xf32>
  return
}

// -----

func.func @negative_lm_head_result(%x: tensor<?x8xf32>) {
  %w = hybrid.weight "w" : tensor<16x8xf32>
  // expected-error @+1 {{result has shape [?, 15], expected [?, 16] ([tokens, vocab])}}
  %l = hybrid.lm_head %x, %w : (tensor<?x8xf32>, tensor<16x8xf32>) -> tensor<?x15xf32>
  return
}

// -----

func.func @negative_mlp_gate(%x: tensor<?x8xf32>) {
  %g = hybrid.weight "g" : tensor<12x4xf32>
  %u = hybrid.weight "u" : tensor<12x8xf32>
  %d = hybrid.weight "d" : tensor<8x12xf32>
  // expected-error @+1 {{gate_proj has shape [12, 4], expected [?, 8] ([intermediate, hidden])}}
  %y = hybrid.mlp %x gate_proj(%g) up_proj(%u) down_proj(%d) : (tensor<?x8xf32>, tensor<12x4xf32>, tensor<12x8xf32>, tensor<8x12xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_mlp_up(%x: tensor<?x8xf32>) {
  %g = hybrid.weight "g" : tensor<12x8xf32>
  %u = hybrid.weight "u" : tensor<10x8xf32>
  %d = hybrid.weight "d" : tensor<8x12xf32>
  // expected-error @+1 {{up_proj has shape [10, 8], expected [12, 8] ([intermediate, hidden])}}
  %y = hybrid.mlp %x gate_proj(%g) up_proj(%u) down_proj(%d) : (tensor<?x8xf32>, tensor<12x8xf32>, tensor<10x8xf32>, tensor<8x12xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_mlp_down(%x: tensor<?x8xf32>) {
  %g = hybrid.weight "g" : tensor<12x8xf32>
  %u = hybrid.weight "u" : tensor<12x8xf32>
  %d = hybrid.weight "d" : tensor<12x8xf32>
  // expected-error @+1 {{down_proj has shape [12, 8], expected [8, 12] ([hidden, intermediate])}}
  %y = hybrid.mlp %x gate_proj(%g) up_proj(%u) down_proj(%d) : (tensor<?x8xf32>, tensor<12x8xf32>, tensor<12x8xf32>, tensor<12x8xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_moe_top_k_zero(%x: tensor<?x8xf32>) {
  %r = hybrid.weight "r" : tensor<4x8xf32>
  %g = hybrid.weight "g" : tensor<4x6x8xf32>
  %d = hybrid.weight "d" : tensor<4x8x6xf32>
  // expected-error @+1 {{top_k must be positive, got 0}}
  %y = hybrid.moe softmax %x router(%r) experts_gate(%g) experts_up(%g) experts_down(%d) {norm_topk_prob = true, num_experts = 4 : i64, top_k = 0 : i64} : (tensor<?x8xf32>, tensor<4x8xf32>, tensor<4x6x8xf32>, tensor<4x6x8xf32>, tensor<4x8x6xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_moe_top_k_exceeds_experts(%x: tensor<?x8xf32>) {
  %r = hybrid.weight "r" : tensor<4x8xf32>
  %g = hybrid.weight "g" : tensor<4x6x8xf32>
  %d = hybrid.weight "d" : tensor<4x8x6xf32>
  // expected-error @+1 {{top_k (5) exceeds num_experts (4)}}
  %y = hybrid.moe softmax %x router(%r) experts_gate(%g) experts_up(%g) experts_down(%d) {norm_topk_prob = true, num_experts = 4 : i64, top_k = 5 : i64} : (tensor<?x8xf32>, tensor<4x8xf32>, tensor<4x6x8xf32>, tensor<4x6x8xf32>, tensor<4x8x6xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_moe_group_does_not_divide(%x: tensor<?x8xf32>) {
  %r = hybrid.weight "r" : tensor<4x8xf32>
  %g = hybrid.weight "g" : tensor<4x6x8xf32>
  %d = hybrid.weight "d" : tensor<4x8x6xf32>
  // expected-error @+1 {{n_group (3) must divide num_experts (4)}}
  %y = hybrid.moe softmax %x router(%r) experts_gate(%g) experts_up(%g) experts_down(%d) {n_group = 3 : i64, norm_topk_prob = true, num_experts = 4 : i64, top_k = 2 : i64} : (tensor<?x8xf32>, tensor<4x8xf32>, tensor<4x6x8xf32>, tensor<4x6x8xf32>, tensor<4x8x6xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_moe_topk_group_exceeds(%x: tensor<?x8xf32>) {
  %r = hybrid.weight "r" : tensor<4x8xf32>
  %g = hybrid.weight "g" : tensor<4x6x8xf32>
  %d = hybrid.weight "d" : tensor<4x8x6xf32>
  // expected-error @+1 {{topk_group (3) exceeds n_group (2)}}
  %y = hybrid.moe softmax %x router(%r) experts_gate(%g) experts_up(%g) experts_down(%d) {n_group = 2 : i64, topk_group = 3 : i64, norm_topk_prob = true, num_experts = 4 : i64, top_k = 2 : i64} : (tensor<?x8xf32>, tensor<4x8xf32>, tensor<4x6x8xf32>, tensor<4x6x8xf32>, tensor<4x8x6xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_moe_group_of_one(%x: tensor<?x8xf32>) {
  %r = hybrid.weight "r" : tensor<4x8xf32>
  %g = hybrid.weight "g" : tensor<4x6x8xf32>
  %d = hybrid.weight "d" : tensor<4x8x6xf32>
  // expected-error @+1 {{group-limited routing needs at least 2 experts per group (a group scores by its top-2)}}
  %y = hybrid.moe softmax %x router(%r) experts_gate(%g) experts_up(%g) experts_down(%d) {n_group = 4 : i64, topk_group = 2 : i64, norm_topk_prob = true, num_experts = 4 : i64, top_k = 2 : i64} : (tensor<?x8xf32>, tensor<4x8xf32>, tensor<4x6x8xf32>, tensor<4x6x8xf32>, tensor<4x8x6xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_moe_top_k_exceeds_kept_groups(%x: tensor<?x8xf32>) {
  %r = hybrid.weight "r" : tensor<4x8xf32>
  %g = hybrid.weight "g" : tensor<4x6x8xf32>
  %d = hybrid.weight "d" : tensor<4x8x6xf32>
  // expected-error @+1 {{top_k (3) exceeds the 2 experts of the kept groups}}
  %y = hybrid.moe softmax %x router(%r) experts_gate(%g) experts_up(%g) experts_down(%d) {n_group = 2 : i64, topk_group = 1 : i64, norm_topk_prob = true, num_experts = 4 : i64, top_k = 3 : i64} : (tensor<?x8xf32>, tensor<4x8xf32>, tensor<4x6x8xf32>, tensor<4x6x8xf32>, tensor<4x8x6xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_moe_scaling(%x: tensor<?x8xf32>) {
  %r = hybrid.weight "r" : tensor<4x8xf32>
  %g = hybrid.weight "g" : tensor<4x6x8xf32>
  %d = hybrid.weight "d" : tensor<4x8x6xf32>
  // expected-error @+1 {{routed_scaling_factor must be positive}}
  %y = hybrid.moe softmax %x router(%r) experts_gate(%g) experts_up(%g) experts_down(%d) {norm_topk_prob = true, num_experts = 4 : i64, routed_scaling_factor = 0.0 : f64, top_k = 2 : i64} : (tensor<?x8xf32>, tensor<4x8xf32>, tensor<4x6x8xf32>, tensor<4x6x8xf32>, tensor<4x8x6xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_moe_router(%x: tensor<?x8xf32>) {
  %r = hybrid.weight "r" : tensor<3x8xf32>
  %g = hybrid.weight "g" : tensor<4x6x8xf32>
  %d = hybrid.weight "d" : tensor<4x8x6xf32>
  // expected-error @+1 {{router has shape [3, 8], expected [4, 8] ([num_experts, hidden])}}
  %y = hybrid.moe softmax %x router(%r) experts_gate(%g) experts_up(%g) experts_down(%d) {norm_topk_prob = true, num_experts = 4 : i64, top_k = 2 : i64} : (tensor<?x8xf32>, tensor<3x8xf32>, tensor<4x6x8xf32>, tensor<4x6x8xf32>, tensor<4x8x6xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_moe_experts_gate(%x: tensor<?x8xf32>) {
  %r = hybrid.weight "r" : tensor<4x8xf32>
  %g = hybrid.weight "g" : tensor<4x6x7xf32>
  %d = hybrid.weight "d" : tensor<4x8x6xf32>
  // expected-error @+1 {{experts_gate has shape [4, 6, 7], expected [4, ?, 8] ([num_experts, intermediate, hidden])}}
  %y = hybrid.moe softmax %x router(%r) experts_gate(%g) experts_up(%g) experts_down(%d) {norm_topk_prob = true, num_experts = 4 : i64, top_k = 2 : i64} : (tensor<?x8xf32>, tensor<4x8xf32>, tensor<4x6x7xf32>, tensor<4x6x7xf32>, tensor<4x8x6xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_moe_experts_down(%x: tensor<?x8xf32>) {
  %r = hybrid.weight "r" : tensor<4x8xf32>
  %g = hybrid.weight "g" : tensor<4x6x8xf32>
  %d = hybrid.weight "d" : tensor<4x6x8xf32>
  // expected-error @+1 {{experts_down has shape [4, 6, 8], expected [4, 8, 6] ([num_experts, hidden, intermediate])}}
  %y = hybrid.moe softmax %x router(%r) experts_gate(%g) experts_up(%g) experts_down(%d) {norm_topk_prob = true, num_experts = 4 : i64, top_k = 2 : i64} : (tensor<?x8xf32>, tensor<4x8xf32>, tensor<4x6x8xf32>, tensor<4x6x8xf32>, tensor<4x6x8xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_moe_selection_bias(%x: tensor<?x8xf32>) {
  %r = hybrid.weight "r" : tensor<4x8xf32>
  %g = hybrid.weight "g" : tensor<4x6x8xf32>
  %d = hybrid.weight "d" : tensor<4x8x6xf32>
  %b = hybrid.weight "b" : tensor<3xf32>
  // expected-error @+1 {{selection_bias has shape [3], expected [4] ([num_experts])}}
  %y = hybrid.moe softmax %x router(%r) experts_gate(%g) experts_up(%g) experts_down(%d) selection_bias(%b) {norm_topk_prob = true, num_experts = 4 : i64, top_k = 2 : i64} : (tensor<?x8xf32>, tensor<4x8xf32>, tensor<4x6x8xf32>, tensor<4x6x8xf32>, tensor<4x8x6xf32>, tensor<3xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_moe_shared_incomplete(%x: tensor<?x8xf32>) {
  %r = hybrid.weight "r" : tensor<4x8xf32>
  %g = hybrid.weight "g" : tensor<4x6x8xf32>
  %d = hybrid.weight "d" : tensor<4x8x6xf32>
  %s = hybrid.weight "s" : tensor<5x8xf32>
  // expected-error @+1 {{shared_gate, shared_up and shared_down must be given together}}
  %y = hybrid.moe softmax %x router(%r) experts_gate(%g) experts_up(%g) experts_down(%d) shared_gate(%s) shared_up(%s) {norm_topk_prob = true, num_experts = 4 : i64, top_k = 2 : i64} : (tensor<?x8xf32>, tensor<4x8xf32>, tensor<4x6x8xf32>, tensor<4x6x8xf32>, tensor<4x8x6xf32>, tensor<5x8xf32>, tensor<5x8xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_moe_shared_gate_alone(%x: tensor<?x8xf32>) {
  %r = hybrid.weight "r" : tensor<4x8xf32>
  %g = hybrid.weight "g" : tensor<4x6x8xf32>
  %d = hybrid.weight "d" : tensor<4x8x6xf32>
  %s = hybrid.weight "s" : tensor<1x8xf32>
  // expected-error @+1 {{shared_expert_gate needs shared expert weights}}
  %y = hybrid.moe softmax %x router(%r) experts_gate(%g) experts_up(%g) experts_down(%d) shared_expert_gate(%s) {norm_topk_prob = true, num_experts = 4 : i64, top_k = 2 : i64} : (tensor<?x8xf32>, tensor<4x8xf32>, tensor<4x6x8xf32>, tensor<4x6x8xf32>, tensor<4x8x6xf32>, tensor<1x8xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_moe_shared_gate_shape(%x: tensor<?x8xf32>) {
  %r = hybrid.weight "r" : tensor<4x8xf32>
  %g = hybrid.weight "g" : tensor<4x6x8xf32>
  %d = hybrid.weight "d" : tensor<4x8x6xf32>
  %s = hybrid.weight "s" : tensor<5x7xf32>
  %sd = hybrid.weight "sd" : tensor<8x5xf32>
  // expected-error @+1 {{shared_gate has shape [5, 7], expected [?, 8] ([shared intermediate, hidden])}}
  %y = hybrid.moe softmax %x router(%r) experts_gate(%g) experts_up(%g) experts_down(%d) shared_gate(%s) shared_up(%s) shared_down(%sd) {norm_topk_prob = true, num_experts = 4 : i64, top_k = 2 : i64} : (tensor<?x8xf32>, tensor<4x8xf32>, tensor<4x6x8xf32>, tensor<4x6x8xf32>, tensor<4x8x6xf32>, tensor<5x7xf32>, tensor<5x7xf32>, tensor<8x5xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_moe_shared_down_shape(%x: tensor<?x8xf32>) {
  %r = hybrid.weight "r" : tensor<4x8xf32>
  %g = hybrid.weight "g" : tensor<4x6x8xf32>
  %d = hybrid.weight "d" : tensor<4x8x6xf32>
  %s = hybrid.weight "s" : tensor<5x8xf32>
  // expected-error @+1 {{shared_down has shape [5, 8], expected [8, 5] ([hidden, shared intermediate])}}
  %y = hybrid.moe softmax %x router(%r) experts_gate(%g) experts_up(%g) experts_down(%d) shared_gate(%s) shared_up(%s) shared_down(%s) {norm_topk_prob = true, num_experts = 4 : i64, top_k = 2 : i64} : (tensor<?x8xf32>, tensor<4x8xf32>, tensor<4x6x8xf32>, tensor<4x6x8xf32>, tensor<4x8x6xf32>, tensor<5x8xf32>, tensor<5x8xf32>, tensor<5x8xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_moe_shared_expert_gate_shape(%x: tensor<?x8xf32>) {
  %r = hybrid.weight "r" : tensor<4x8xf32>
  %g = hybrid.weight "g" : tensor<4x6x8xf32>
  %d = hybrid.weight "d" : tensor<4x8x6xf32>
  %s = hybrid.weight "s" : tensor<5x8xf32>
  %sd = hybrid.weight "sd" : tensor<8x5xf32>
  %sg = hybrid.weight "sg" : tensor<2x8xf32>
  // expected-error @+1 {{shared_expert_gate has shape [2, 8], expected [1, 8] ([1, hidden])}}
  %y = hybrid.moe softmax %x router(%r) experts_gate(%g) experts_up(%g) experts_down(%d) shared_gate(%s) shared_up(%s) shared_down(%sd) shared_expert_gate(%sg) {norm_topk_prob = true, num_experts = 4 : i64, top_k = 2 : i64} : (tensor<?x8xf32>, tensor<4x8xf32>, tensor<4x6x8xf32>, tensor<4x6x8xf32>, tensor<4x8x6xf32>, tensor<5x8xf32>, tensor<5x8xf32>, tensor<8x5xf32>, tensor<2x8xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_attention_heads_not_positive(%x: tensor<?x8xf32>, %pos: tensor<?xi64>, %kv: !hybrid.kv_cache<2x4xf32>) {
  %q = hybrid.weight "q" : tensor<32x8xf32>
  %k = hybrid.weight "k" : tensor<8x8xf32>
  %o = hybrid.weight "o" : tensor<8x16xf32>
  %n = hybrid.weight "n" : tensor<4xf32>
  // expected-error @+1 {{num_heads must be positive, got 0}}
  %a = hybrid.attention %x, %pos, %kv q_proj(%q) k_proj(%k) v_proj(%k) o_proj(%o) {head_dim = 4 : i64, num_heads = 0 : i64, num_kv_heads = 2 : i64, output_gate, rope_theta = 1.0e+04 : f64, rotary_dim = 2 : i64, scale = 0.5 : f64} : (tensor<?x8xf32>, tensor<?xi64>, !hybrid.kv_cache<2x4xf32>, tensor<32x8xf32>, tensor<8x8xf32>, tensor<8x8xf32>, tensor<8x16xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_attention_kv_heads_do_not_divide(%x: tensor<?x8xf32>, %pos: tensor<?xi64>, %kv: !hybrid.kv_cache<2x4xf32>) {
  %q = hybrid.weight "q" : tensor<32x8xf32>
  %k = hybrid.weight "k" : tensor<8x8xf32>
  %o = hybrid.weight "o" : tensor<8x16xf32>
  %n = hybrid.weight "n" : tensor<4xf32>
  // expected-error @+1 {{num_kv_heads (3) must divide num_heads (4)}}
  %a = hybrid.attention %x, %pos, %kv q_proj(%q) k_proj(%k) v_proj(%k) o_proj(%o) {head_dim = 4 : i64, num_heads = 4 : i64, num_kv_heads = 3 : i64, output_gate, rope_theta = 1.0e+04 : f64, rotary_dim = 2 : i64, scale = 0.5 : f64} : (tensor<?x8xf32>, tensor<?xi64>, !hybrid.kv_cache<2x4xf32>, tensor<32x8xf32>, tensor<8x8xf32>, tensor<8x8xf32>, tensor<8x16xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_attention_odd_rotary(%x: tensor<?x8xf32>, %pos: tensor<?xi64>, %kv: !hybrid.kv_cache<2x4xf32>) {
  %q = hybrid.weight "q" : tensor<32x8xf32>
  %k = hybrid.weight "k" : tensor<8x8xf32>
  %o = hybrid.weight "o" : tensor<8x16xf32>
  %n = hybrid.weight "n" : tensor<4xf32>
  // expected-error @+1 {{rotary_dim must be even and within [0, head_dim = 4], got 3}}
  %a = hybrid.attention %x, %pos, %kv q_proj(%q) k_proj(%k) v_proj(%k) o_proj(%o) {head_dim = 4 : i64, num_heads = 4 : i64, num_kv_heads = 2 : i64, output_gate, rope_theta = 1.0e+04 : f64, rotary_dim = 3 : i64, scale = 0.5 : f64} : (tensor<?x8xf32>, tensor<?xi64>, !hybrid.kv_cache<2x4xf32>, tensor<32x8xf32>, tensor<8x8xf32>, tensor<8x8xf32>, tensor<8x16xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_attention_theta(%x: tensor<?x8xf32>, %pos: tensor<?xi64>, %kv: !hybrid.kv_cache<2x4xf32>) {
  %q = hybrid.weight "q" : tensor<32x8xf32>
  %k = hybrid.weight "k" : tensor<8x8xf32>
  %o = hybrid.weight "o" : tensor<8x16xf32>
  %n = hybrid.weight "n" : tensor<4xf32>
  // expected-error @+1 {{rope_theta must be positive}}
  %a = hybrid.attention %x, %pos, %kv q_proj(%q) k_proj(%k) v_proj(%k) o_proj(%o) {head_dim = 4 : i64, num_heads = 4 : i64, num_kv_heads = 2 : i64, output_gate, rope_theta = 0.0 : f64, rotary_dim = 2 : i64, scale = 0.5 : f64} : (tensor<?x8xf32>, tensor<?xi64>, !hybrid.kv_cache<2x4xf32>, tensor<32x8xf32>, tensor<8x8xf32>, tensor<8x8xf32>, tensor<8x16xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_attention_scale(%x: tensor<?x8xf32>, %pos: tensor<?xi64>, %kv: !hybrid.kv_cache<2x4xf32>) {
  %q = hybrid.weight "q" : tensor<32x8xf32>
  %k = hybrid.weight "k" : tensor<8x8xf32>
  %o = hybrid.weight "o" : tensor<8x16xf32>
  %n = hybrid.weight "n" : tensor<4xf32>
  // expected-error @+1 {{scale must be positive}}
  %a = hybrid.attention %x, %pos, %kv q_proj(%q) k_proj(%k) v_proj(%k) o_proj(%o) {head_dim = 4 : i64, num_heads = 4 : i64, num_kv_heads = 2 : i64, output_gate, rope_theta = 1.0e+04 : f64, rotary_dim = 2 : i64, scale = 0.0 : f64} : (tensor<?x8xf32>, tensor<?xi64>, !hybrid.kv_cache<2x4xf32>, tensor<32x8xf32>, tensor<8x8xf32>, tensor<8x8xf32>, tensor<8x16xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_attention_q_proj_gated(%x: tensor<?x8xf32>, %pos: tensor<?xi64>, %kv: !hybrid.kv_cache<2x4xf32>) {
  %q = hybrid.weight "q" : tensor<16x8xf32>
  %k = hybrid.weight "k" : tensor<8x8xf32>
  %o = hybrid.weight "o" : tensor<8x16xf32>
  %n = hybrid.weight "n" : tensor<4xf32>
  // expected-error @+1 {{q_proj has shape [16, 8], expected [32, 8] ([2 * num_heads * head_dim (query and gate), hidden])}}
  %a = hybrid.attention %x, %pos, %kv q_proj(%q) k_proj(%k) v_proj(%k) o_proj(%o) {head_dim = 4 : i64, num_heads = 4 : i64, num_kv_heads = 2 : i64, output_gate, rope_theta = 1.0e+04 : f64, rotary_dim = 2 : i64, scale = 0.5 : f64} : (tensor<?x8xf32>, tensor<?xi64>, !hybrid.kv_cache<2x4xf32>, tensor<16x8xf32>, tensor<8x8xf32>, tensor<8x8xf32>, tensor<8x16xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_attention_q_proj_plain(%x: tensor<?x8xf32>, %pos: tensor<?xi64>, %kv: !hybrid.kv_cache<2x4xf32>) {
  %q = hybrid.weight "q" : tensor<32x8xf32>
  %k = hybrid.weight "k" : tensor<8x8xf32>
  %o = hybrid.weight "o" : tensor<8x16xf32>
  %n = hybrid.weight "n" : tensor<4xf32>
  // expected-error @+1 {{q_proj has shape [32, 8], expected [16, 8] ([num_heads * head_dim, hidden])}}
  %a = hybrid.attention %x, %pos, %kv q_proj(%q) k_proj(%k) v_proj(%k) o_proj(%o) {head_dim = 4 : i64, num_heads = 4 : i64, num_kv_heads = 2 : i64, rope_theta = 1.0e+04 : f64, rotary_dim = 2 : i64, scale = 0.5 : f64} : (tensor<?x8xf32>, tensor<?xi64>, !hybrid.kv_cache<2x4xf32>, tensor<32x8xf32>, tensor<8x8xf32>, tensor<8x8xf32>, tensor<8x16xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_attention_k_proj(%x: tensor<?x8xf32>, %pos: tensor<?xi64>, %kv: !hybrid.kv_cache<2x4xf32>) {
  %q = hybrid.weight "q" : tensor<32x8xf32>
  %k = hybrid.weight "k" : tensor<6x8xf32>
  %o = hybrid.weight "o" : tensor<8x16xf32>
  %n = hybrid.weight "n" : tensor<4xf32>
  // expected-error @+1 {{k_proj has shape [6, 8], expected [8, 8] ([num_kv_heads * head_dim, hidden])}}
  %a = hybrid.attention %x, %pos, %kv q_proj(%q) k_proj(%k) v_proj(%k) o_proj(%o) {head_dim = 4 : i64, num_heads = 4 : i64, num_kv_heads = 2 : i64, output_gate, rope_theta = 1.0e+04 : f64, rotary_dim = 2 : i64, scale = 0.5 : f64} : (tensor<?x8xf32>, tensor<?xi64>, !hybrid.kv_cache<2x4xf32>, tensor<32x8xf32>, tensor<6x8xf32>, tensor<6x8xf32>, tensor<8x16xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_attention_o_proj(%x: tensor<?x8xf32>, %pos: tensor<?xi64>, %kv: !hybrid.kv_cache<2x4xf32>) {
  %q = hybrid.weight "q" : tensor<32x8xf32>
  %k = hybrid.weight "k" : tensor<8x8xf32>
  %o = hybrid.weight "o" : tensor<8x8xf32>
  %n = hybrid.weight "n" : tensor<4xf32>
  // expected-error @+1 {{o_proj has shape [8, 8], expected [8, 16] ([hidden, num_heads * head_dim])}}
  %a = hybrid.attention %x, %pos, %kv q_proj(%q) k_proj(%k) v_proj(%k) o_proj(%o) {head_dim = 4 : i64, num_heads = 4 : i64, num_kv_heads = 2 : i64, output_gate, rope_theta = 1.0e+04 : f64, rotary_dim = 2 : i64, scale = 0.5 : f64} : (tensor<?x8xf32>, tensor<?xi64>, !hybrid.kv_cache<2x4xf32>, tensor<32x8xf32>, tensor<8x8xf32>, tensor<8x8xf32>, tensor<8x8xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_attention_q_norm_alone(%x: tensor<?x8xf32>, %pos: tensor<?xi64>, %kv: !hybrid.kv_cache<2x4xf32>) {
  %q = hybrid.weight "q" : tensor<32x8xf32>
  %k = hybrid.weight "k" : tensor<8x8xf32>
  %o = hybrid.weight "o" : tensor<8x16xf32>
  %n = hybrid.weight "n" : tensor<4xf32>
  // expected-error @+1 {{q_norm and k_norm must be given together}}
  %a = hybrid.attention %x, %pos, %kv q_proj(%q) k_proj(%k) v_proj(%k) o_proj(%o) q_norm(%n) {head_dim = 4 : i64, num_heads = 4 : i64, num_kv_heads = 2 : i64, output_gate, rope_theta = 1.0e+04 : f64, rotary_dim = 2 : i64, scale = 0.5 : f64} : (tensor<?x8xf32>, tensor<?xi64>, !hybrid.kv_cache<2x4xf32>, tensor<32x8xf32>, tensor<8x8xf32>, tensor<8x8xf32>, tensor<8x16xf32>, tensor<4xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_attention_norms_without_kind(%x: tensor<?x8xf32>, %pos: tensor<?xi64>, %kv: !hybrid.kv_cache<2x4xf32>) {
  %q = hybrid.weight "q" : tensor<32x8xf32>
  %k = hybrid.weight "k" : tensor<8x8xf32>
  %o = hybrid.weight "o" : tensor<8x16xf32>
  %n = hybrid.weight "n" : tensor<4xf32>
  // expected-error @+1 {{qk_norm and norm_epsilon must be set if and only if q_norm/k_norm are given}}
  %a = hybrid.attention %x, %pos, %kv q_proj(%q) k_proj(%k) v_proj(%k) o_proj(%o) q_norm(%n) k_norm(%n) {head_dim = 4 : i64, num_heads = 4 : i64, num_kv_heads = 2 : i64, output_gate, rope_theta = 1.0e+04 : f64, rotary_dim = 2 : i64, scale = 0.5 : f64} : (tensor<?x8xf32>, tensor<?xi64>, !hybrid.kv_cache<2x4xf32>, tensor<32x8xf32>, tensor<8x8xf32>, tensor<8x8xf32>, tensor<8x16xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_attention_gated_qk_norm(%x: tensor<?x8xf32>, %pos: tensor<?xi64>, %kv: !hybrid.kv_cache<2x4xf32>) {
  %q = hybrid.weight "q" : tensor<32x8xf32>
  %k = hybrid.weight "k" : tensor<8x8xf32>
  %o = hybrid.weight "o" : tensor<8x16xf32>
  %n = hybrid.weight "n" : tensor<4xf32>
  // expected-error @+1 {{qk_norm cannot be gated}}
  %a = hybrid.attention %x, %pos, %kv q_proj(%q) k_proj(%k) v_proj(%k) o_proj(%o) q_norm(%n) k_norm(%n) qk_norm gated {head_dim = 4 : i64, norm_epsilon = 1.0e-06 : f64, num_heads = 4 : i64, num_kv_heads = 2 : i64, output_gate, rope_theta = 1.0e+04 : f64, rotary_dim = 2 : i64, scale = 0.5 : f64} : (tensor<?x8xf32>, tensor<?xi64>, !hybrid.kv_cache<2x4xf32>, tensor<32x8xf32>, tensor<8x8xf32>, tensor<8x8xf32>, tensor<8x16xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_attention_kv_cache(%x: tensor<?x8xf32>, %pos: tensor<?xi64>, %kv: !hybrid.kv_cache<2x8xf32>) {
  %q = hybrid.weight "q" : tensor<32x8xf32>
  %k = hybrid.weight "k" : tensor<8x8xf32>
  %o = hybrid.weight "o" : tensor<8x16xf32>
  %n = hybrid.weight "n" : tensor<4xf32>
  // expected-error @+1 {{cache has shape [2, 8], expected [2, 4] ([num_kv_heads, head_dim])}}
  %a = hybrid.attention %x, %pos, %kv q_proj(%q) k_proj(%k) v_proj(%k) o_proj(%o) {head_dim = 4 : i64, num_heads = 4 : i64, num_kv_heads = 2 : i64, output_gate, rope_theta = 1.0e+04 : f64, rotary_dim = 2 : i64, scale = 0.5 : f64} : (tensor<?x8xf32>, tensor<?xi64>, !hybrid.kv_cache<2x8xf32>, tensor<32x8xf32>, tensor<8x8xf32>, tensor<8x8xf32>, tensor<8x16xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_mla_negative_q_rank(%x: tensor<?x16xf32>, %pos: tensor<?xi64>, %c: !hybrid.latent_cache<6x4xf32>) {
  %qa = hybrid.weight "qa" : tensor<5x16xf32>
  %qan = hybrid.weight "qan" : tensor<5xf32>
  %qb = hybrid.weight "qb" : tensor<24x5xf32>
  %kva = hybrid.weight "kva" : tensor<10x16xf32>
  %kvan = hybrid.weight "kvan" : tensor<6xf32>
  %kvb = hybrid.weight "kvb" : tensor<28x6xf32>
  %o = hybrid.weight "o" : tensor<16x12xf32>
  // expected-error @+1 {{q_lora_rank must be >= 0, got -1}}
  %y = hybrid.mla %x, %pos, %c q_a_proj(%qa) q_a_layernorm(%qan) q_b_proj(%qb) kv_a_proj_with_mqa(%kva) kv_a_layernorm(%kvan) kv_b_proj(%kvb) o_proj(%o) {kv_lora_rank = 6 : i64, norm_epsilon = 1.0e-06 : f64, num_heads = 2 : i64, q_lora_rank = -1 : i64, qk_nope_head_dim = 8 : i64, qk_rope_head_dim = 4 : i64, rope_theta = 1.0e+04 : f64, scale = 0.3 : f64, v_head_dim = 6 : i64} : (tensor<?x16xf32>, tensor<?xi64>, !hybrid.latent_cache<6x4xf32>, tensor<5x16xf32>, tensor<5xf32>, tensor<24x5xf32>, tensor<10x16xf32>, tensor<6xf32>, tensor<28x6xf32>, tensor<16x12xf32>) -> tensor<?x16xf32>
  return
}

// -----

func.func @negative_mla_odd_rope(%x: tensor<?x16xf32>, %pos: tensor<?xi64>, %c: !hybrid.latent_cache<6x4xf32>) {
  %qa = hybrid.weight "qa" : tensor<5x16xf32>
  %qan = hybrid.weight "qan" : tensor<5xf32>
  %qb = hybrid.weight "qb" : tensor<24x5xf32>
  %kva = hybrid.weight "kva" : tensor<10x16xf32>
  %kvan = hybrid.weight "kvan" : tensor<6xf32>
  %kvb = hybrid.weight "kvb" : tensor<28x6xf32>
  %o = hybrid.weight "o" : tensor<16x12xf32>
  // expected-error @+1 {{qk_rope_head_dim must be even, got 3}}
  %y = hybrid.mla %x, %pos, %c q_a_proj(%qa) q_a_layernorm(%qan) q_b_proj(%qb) kv_a_proj_with_mqa(%kva) kv_a_layernorm(%kvan) kv_b_proj(%kvb) o_proj(%o) {kv_lora_rank = 6 : i64, norm_epsilon = 1.0e-06 : f64, num_heads = 2 : i64, q_lora_rank = 5 : i64, qk_nope_head_dim = 8 : i64, qk_rope_head_dim = 3 : i64, rope_theta = 1.0e+04 : f64, scale = 0.3 : f64, v_head_dim = 6 : i64} : (tensor<?x16xf32>, tensor<?xi64>, !hybrid.latent_cache<6x4xf32>, tensor<5x16xf32>, tensor<5xf32>, tensor<24x5xf32>, tensor<10x16xf32>, tensor<6xf32>, tensor<28x6xf32>, tensor<16x12xf32>) -> tensor<?x16xf32>
  return
}

// -----

func.func @negative_mla_lora_and_plain_q(%x: tensor<?x16xf32>, %pos: tensor<?xi64>, %c: !hybrid.latent_cache<6x4xf32>) {
  %qa = hybrid.weight "qa" : tensor<5x16xf32>
  %qan = hybrid.weight "qan" : tensor<5xf32>
  %qb = hybrid.weight "qb" : tensor<24x5xf32>
  %q = hybrid.weight "q" : tensor<24x16xf32>
  %kva = hybrid.weight "kva" : tensor<10x16xf32>
  %kvan = hybrid.weight "kvan" : tensor<6xf32>
  %kvb = hybrid.weight "kvb" : tensor<28x6xf32>
  %o = hybrid.weight "o" : tensor<16x12xf32>
  // expected-error @+1 {{with q_lora_rank > 0, q_a_proj, q_a_layernorm and q_b_proj are required and q_proj is not allowed}}
  %y = hybrid.mla %x, %pos, %c q_a_proj(%qa) q_a_layernorm(%qan) q_b_proj(%qb) q_proj(%q) kv_a_proj_with_mqa(%kva) kv_a_layernorm(%kvan) kv_b_proj(%kvb) o_proj(%o) {kv_lora_rank = 6 : i64, norm_epsilon = 1.0e-06 : f64, num_heads = 2 : i64, q_lora_rank = 5 : i64, qk_nope_head_dim = 8 : i64, qk_rope_head_dim = 4 : i64, rope_theta = 1.0e+04 : f64, scale = 0.3 : f64, v_head_dim = 6 : i64} : (tensor<?x16xf32>, tensor<?xi64>, !hybrid.latent_cache<6x4xf32>, tensor<5x16xf32>, tensor<5xf32>, tensor<24x5xf32>, tensor<24x16xf32>, tensor<10x16xf32>, tensor<6xf32>, tensor<28x6xf32>, tensor<16x12xf32>) -> tensor<?x16xf32>
  return
}

// -----

func.func @negative_mla_plain_rank_with_lora(%x: tensor<?x16xf32>, %pos: tensor<?xi64>, %c: !hybrid.latent_cache<6x4xf32>) {
  %qa = hybrid.weight "qa" : tensor<5x16xf32>
  %qan = hybrid.weight "qan" : tensor<5xf32>
  %qb = hybrid.weight "qb" : tensor<24x5xf32>
  %kva = hybrid.weight "kva" : tensor<10x16xf32>
  %kvan = hybrid.weight "kvan" : tensor<6xf32>
  %kvb = hybrid.weight "kvb" : tensor<28x6xf32>
  %o = hybrid.weight "o" : tensor<16x12xf32>
  // expected-error @+1 {{with q_lora_rank = 0, q_proj is required and the q LoRA weights are not allowed}}
  %y = hybrid.mla %x, %pos, %c q_a_proj(%qa) q_a_layernorm(%qan) q_b_proj(%qb) kv_a_proj_with_mqa(%kva) kv_a_layernorm(%kvan) kv_b_proj(%kvb) o_proj(%o) {kv_lora_rank = 6 : i64, norm_epsilon = 1.0e-06 : f64, num_heads = 2 : i64, q_lora_rank = 0 : i64, qk_nope_head_dim = 8 : i64, qk_rope_head_dim = 4 : i64, rope_theta = 1.0e+04 : f64, scale = 0.3 : f64, v_head_dim = 6 : i64} : (tensor<?x16xf32>, tensor<?xi64>, !hybrid.latent_cache<6x4xf32>, tensor<5x16xf32>, tensor<5xf32>, tensor<24x5xf32>, tensor<10x16xf32>, tensor<6xf32>, tensor<28x6xf32>, tensor<16x12xf32>) -> tensor<?x16xf32>
  return
}

// -----

func.func @negative_mla_q_a_proj(%x: tensor<?x16xf32>, %pos: tensor<?xi64>, %c: !hybrid.latent_cache<6x4xf32>) {
  %qa = hybrid.weight "qa" : tensor<4x16xf32>
  %qan = hybrid.weight "qan" : tensor<5xf32>
  %qb = hybrid.weight "qb" : tensor<24x5xf32>
  %kva = hybrid.weight "kva" : tensor<10x16xf32>
  %kvan = hybrid.weight "kvan" : tensor<6xf32>
  %kvb = hybrid.weight "kvb" : tensor<28x6xf32>
  %o = hybrid.weight "o" : tensor<16x12xf32>
  // expected-error @+1 {{q_a_proj has shape [4, 16], expected [5, 16] ([q_lora_rank, hidden])}}
  %y = hybrid.mla %x, %pos, %c q_a_proj(%qa) q_a_layernorm(%qan) q_b_proj(%qb) kv_a_proj_with_mqa(%kva) kv_a_layernorm(%kvan) kv_b_proj(%kvb) o_proj(%o) {kv_lora_rank = 6 : i64, norm_epsilon = 1.0e-06 : f64, num_heads = 2 : i64, q_lora_rank = 5 : i64, qk_nope_head_dim = 8 : i64, qk_rope_head_dim = 4 : i64, rope_theta = 1.0e+04 : f64, scale = 0.3 : f64, v_head_dim = 6 : i64} : (tensor<?x16xf32>, tensor<?xi64>, !hybrid.latent_cache<6x4xf32>, tensor<4x16xf32>, tensor<5xf32>, tensor<24x5xf32>, tensor<10x16xf32>, tensor<6xf32>, tensor<28x6xf32>, tensor<16x12xf32>) -> tensor<?x16xf32>
  return
}

// -----

func.func @negative_mla_q_b_proj(%x: tensor<?x16xf32>, %pos: tensor<?xi64>, %c: !hybrid.latent_cache<6x4xf32>) {
  %qa = hybrid.weight "qa" : tensor<5x16xf32>
  %qan = hybrid.weight "qan" : tensor<5xf32>
  %qb = hybrid.weight "qb" : tensor<20x5xf32>
  %kva = hybrid.weight "kva" : tensor<10x16xf32>
  %kvan = hybrid.weight "kvan" : tensor<6xf32>
  %kvb = hybrid.weight "kvb" : tensor<28x6xf32>
  %o = hybrid.weight "o" : tensor<16x12xf32>
  // expected-error @+1 {{q_b_proj has shape [20, 5], expected [24, 5] ([num_heads * (qk_nope_head_dim + qk_rope_head_dim), q_lora_rank])}}
  %y = hybrid.mla %x, %pos, %c q_a_proj(%qa) q_a_layernorm(%qan) q_b_proj(%qb) kv_a_proj_with_mqa(%kva) kv_a_layernorm(%kvan) kv_b_proj(%kvb) o_proj(%o) {kv_lora_rank = 6 : i64, norm_epsilon = 1.0e-06 : f64, num_heads = 2 : i64, q_lora_rank = 5 : i64, qk_nope_head_dim = 8 : i64, qk_rope_head_dim = 4 : i64, rope_theta = 1.0e+04 : f64, scale = 0.3 : f64, v_head_dim = 6 : i64} : (tensor<?x16xf32>, tensor<?xi64>, !hybrid.latent_cache<6x4xf32>, tensor<5x16xf32>, tensor<5xf32>, tensor<20x5xf32>, tensor<10x16xf32>, tensor<6xf32>, tensor<28x6xf32>, tensor<16x12xf32>) -> tensor<?x16xf32>
  return
}

// -----

func.func @negative_mla_q_proj(%x: tensor<?x16xf32>, %pos: tensor<?xi64>, %c: !hybrid.latent_cache<6x4xf32>) {
  %qa = hybrid.weight "qa" : tensor<5x16xf32>
  %qan = hybrid.weight "qan" : tensor<5xf32>
  %qb = hybrid.weight "qb" : tensor<24x5xf32>
  %q = hybrid.weight "q" : tensor<20x16xf32>
  %kva = hybrid.weight "kva" : tensor<10x16xf32>
  %kvan = hybrid.weight "kvan" : tensor<6xf32>
  %kvb = hybrid.weight "kvb" : tensor<28x6xf32>
  %o = hybrid.weight "o" : tensor<16x12xf32>
  // expected-error @+1 {{q_proj has shape [20, 16], expected [24, 16] ([num_heads * (qk_nope_head_dim + qk_rope_head_dim), hidden])}}
  %y = hybrid.mla %x, %pos, %c q_proj(%q) kv_a_proj_with_mqa(%kva) kv_a_layernorm(%kvan) kv_b_proj(%kvb) o_proj(%o) {kv_lora_rank = 6 : i64, norm_epsilon = 1.0e-06 : f64, num_heads = 2 : i64, q_lora_rank = 0 : i64, qk_nope_head_dim = 8 : i64, qk_rope_head_dim = 4 : i64, rope_theta = 1.0e+04 : f64, scale = 0.3 : f64, v_head_dim = 6 : i64} : (tensor<?x16xf32>, tensor<?xi64>, !hybrid.latent_cache<6x4xf32>, tensor<20x16xf32>, tensor<10x16xf32>, tensor<6xf32>, tensor<28x6xf32>, tensor<16x12xf32>) -> tensor<?x16xf32>
  return
}

// -----

func.func @negative_mla_kv_a(%x: tensor<?x16xf32>, %pos: tensor<?xi64>, %c: !hybrid.latent_cache<6x4xf32>) {
  %qa = hybrid.weight "qa" : tensor<5x16xf32>
  %qan = hybrid.weight "qan" : tensor<5xf32>
  %qb = hybrid.weight "qb" : tensor<24x5xf32>
  %kva = hybrid.weight "kva" : tensor<6x16xf32>
  %kvan = hybrid.weight "kvan" : tensor<6xf32>
  %kvb = hybrid.weight "kvb" : tensor<28x6xf32>
  %o = hybrid.weight "o" : tensor<16x12xf32>
  // expected-error @+1 {{kv_a_proj_with_mqa has shape [6, 16], expected [10, 16] ([kv_lora_rank + qk_rope_head_dim, hidden])}}
  %y = hybrid.mla %x, %pos, %c q_a_proj(%qa) q_a_layernorm(%qan) q_b_proj(%qb) kv_a_proj_with_mqa(%kva) kv_a_layernorm(%kvan) kv_b_proj(%kvb) o_proj(%o) {kv_lora_rank = 6 : i64, norm_epsilon = 1.0e-06 : f64, num_heads = 2 : i64, q_lora_rank = 5 : i64, qk_nope_head_dim = 8 : i64, qk_rope_head_dim = 4 : i64, rope_theta = 1.0e+04 : f64, scale = 0.3 : f64, v_head_dim = 6 : i64} : (tensor<?x16xf32>, tensor<?xi64>, !hybrid.latent_cache<6x4xf32>, tensor<5x16xf32>, tensor<5xf32>, tensor<24x5xf32>, tensor<6x16xf32>, tensor<6xf32>, tensor<28x6xf32>, tensor<16x12xf32>) -> tensor<?x16xf32>
  return
}

// -----

func.func @negative_mla_kv_b(%x: tensor<?x16xf32>, %pos: tensor<?xi64>, %c: !hybrid.latent_cache<6x4xf32>) {
  %qa = hybrid.weight "qa" : tensor<5x16xf32>
  %qan = hybrid.weight "qan" : tensor<5xf32>
  %qb = hybrid.weight "qb" : tensor<24x5xf32>
  %kva = hybrid.weight "kva" : tensor<10x16xf32>
  %kvan = hybrid.weight "kvan" : tensor<6xf32>
  %kvb = hybrid.weight "kvb" : tensor<24x6xf32>
  %o = hybrid.weight "o" : tensor<16x12xf32>
  // expected-error @+1 {{kv_b_proj has shape [24, 6], expected [28, 6] ([num_heads * (qk_nope_head_dim + v_head_dim), kv_lora_rank])}}
  %y = hybrid.mla %x, %pos, %c q_a_proj(%qa) q_a_layernorm(%qan) q_b_proj(%qb) kv_a_proj_with_mqa(%kva) kv_a_layernorm(%kvan) kv_b_proj(%kvb) o_proj(%o) {kv_lora_rank = 6 : i64, norm_epsilon = 1.0e-06 : f64, num_heads = 2 : i64, q_lora_rank = 5 : i64, qk_nope_head_dim = 8 : i64, qk_rope_head_dim = 4 : i64, rope_theta = 1.0e+04 : f64, scale = 0.3 : f64, v_head_dim = 6 : i64} : (tensor<?x16xf32>, tensor<?xi64>, !hybrid.latent_cache<6x4xf32>, tensor<5x16xf32>, tensor<5xf32>, tensor<24x5xf32>, tensor<10x16xf32>, tensor<6xf32>, tensor<24x6xf32>, tensor<16x12xf32>) -> tensor<?x16xf32>
  return
}

// -----

func.func @negative_mla_o_proj(%x: tensor<?x16xf32>, %pos: tensor<?xi64>, %c: !hybrid.latent_cache<6x4xf32>) {
  %qa = hybrid.weight "qa" : tensor<5x16xf32>
  %qan = hybrid.weight "qan" : tensor<5xf32>
  %qb = hybrid.weight "qb" : tensor<24x5xf32>
  %kva = hybrid.weight "kva" : tensor<10x16xf32>
  %kvan = hybrid.weight "kvan" : tensor<6xf32>
  %kvb = hybrid.weight "kvb" : tensor<28x6xf32>
  %o = hybrid.weight "o" : tensor<16x16xf32>
  // expected-error @+1 {{o_proj has shape [16, 16], expected [16, 12] ([hidden, num_heads * v_head_dim])}}
  %y = hybrid.mla %x, %pos, %c q_a_proj(%qa) q_a_layernorm(%qan) q_b_proj(%qb) kv_a_proj_with_mqa(%kva) kv_a_layernorm(%kvan) kv_b_proj(%kvb) o_proj(%o) {kv_lora_rank = 6 : i64, norm_epsilon = 1.0e-06 : f64, num_heads = 2 : i64, q_lora_rank = 5 : i64, qk_nope_head_dim = 8 : i64, qk_rope_head_dim = 4 : i64, rope_theta = 1.0e+04 : f64, scale = 0.3 : f64, v_head_dim = 6 : i64} : (tensor<?x16xf32>, tensor<?xi64>, !hybrid.latent_cache<6x4xf32>, tensor<5x16xf32>, tensor<5xf32>, tensor<24x5xf32>, tensor<10x16xf32>, tensor<6xf32>, tensor<28x6xf32>, tensor<16x16xf32>) -> tensor<?x16xf32>
  return
}

// -----

func.func @negative_mla_cache(%x: tensor<?x16xf32>, %pos: tensor<?xi64>, %c: !hybrid.latent_cache<6x2xf32>) {
  %qa = hybrid.weight "qa" : tensor<5x16xf32>
  %qan = hybrid.weight "qan" : tensor<5xf32>
  %qb = hybrid.weight "qb" : tensor<24x5xf32>
  %kva = hybrid.weight "kva" : tensor<10x16xf32>
  %kvan = hybrid.weight "kvan" : tensor<6xf32>
  %kvb = hybrid.weight "kvb" : tensor<28x6xf32>
  %o = hybrid.weight "o" : tensor<16x12xf32>
  // expected-error @+1 {{cache has shape [6, 2], expected [6, 4] ([kv_lora_rank, qk_rope_head_dim])}}
  %y = hybrid.mla %x, %pos, %c q_a_proj(%qa) q_a_layernorm(%qan) q_b_proj(%qb) kv_a_proj_with_mqa(%kva) kv_a_layernorm(%kvan) kv_b_proj(%kvb) o_proj(%o) {kv_lora_rank = 6 : i64, norm_epsilon = 1.0e-06 : f64, num_heads = 2 : i64, q_lora_rank = 5 : i64, qk_nope_head_dim = 8 : i64, qk_rope_head_dim = 4 : i64, rope_theta = 1.0e+04 : f64, scale = 0.3 : f64, v_head_dim = 6 : i64} : (tensor<?x16xf32>, tensor<?xi64>, !hybrid.latent_cache<6x2xf32>, tensor<5x16xf32>, tensor<5xf32>, tensor<24x5xf32>, tensor<10x16xf32>, tensor<6xf32>, tensor<28x6xf32>, tensor<16x12xf32>) -> tensor<?x16xf32>
  return
}

// -----

func.func @negative_gdn_heads_do_not_divide(%x: tensor<?x10xf32>, %conv: !hybrid.conv_state<20x3xbf16>, %s: !hybrid.recurrent_state<4x3x2xf32>) {
  %qkvz = hybrid.weight "qkvz" : tensor<28x10xf32>
  %ba = hybrid.weight "ba" : tensor<8x10xf32>
  %c = hybrid.weight "c" : tensor<20x1x4xf32>
  %hv = hybrid.weight "hv" : tensor<4xf32>
  %n = hybrid.weight "n" : tensor<2xf32>
  %out = hybrid.weight "out" : tensor<10x8xf32>
  // expected-error @+1 {{num_k_heads (3) must divide num_v_heads (4)}}
  %y = hybrid.gated_delta_net %x, %conv, %s in_proj_qkvz(%qkvz) in_proj_ba(%ba) conv1d(%c) dt_bias(%hv) a_log(%hv) norm(%n) out_proj(%out) {conv_kernel = 4 : i64, k_head_dim = 3 : i64, norm_epsilon = 1.0e-06 : f64, num_k_heads = 3 : i64, num_v_heads = 4 : i64, v_head_dim = 2 : i64} : (tensor<?x10xf32>, !hybrid.conv_state<20x3xbf16>, !hybrid.recurrent_state<4x3x2xf32>, tensor<28x10xf32>, tensor<8x10xf32>, tensor<20x1x4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<2xf32>, tensor<10x8xf32>) -> tensor<?x10xf32>
  return
}

// -----

func.func @negative_gdn_kernel(%x: tensor<?x10xf32>, %conv: !hybrid.conv_state<20x3xbf16>, %s: !hybrid.recurrent_state<4x3x2xf32>) {
  %qkvz = hybrid.weight "qkvz" : tensor<28x10xf32>
  %ba = hybrid.weight "ba" : tensor<8x10xf32>
  %c = hybrid.weight "c" : tensor<20x1x4xf32>
  %hv = hybrid.weight "hv" : tensor<4xf32>
  %n = hybrid.weight "n" : tensor<2xf32>
  %out = hybrid.weight "out" : tensor<10x8xf32>
  // expected-error @+1 {{conv_kernel must be at least 2, got 1}}
  %y = hybrid.gated_delta_net %x, %conv, %s in_proj_qkvz(%qkvz) in_proj_ba(%ba) conv1d(%c) dt_bias(%hv) a_log(%hv) norm(%n) out_proj(%out) {conv_kernel = 1 : i64, k_head_dim = 3 : i64, norm_epsilon = 1.0e-06 : f64, num_k_heads = 2 : i64, num_v_heads = 4 : i64, v_head_dim = 2 : i64} : (tensor<?x10xf32>, !hybrid.conv_state<20x3xbf16>, !hybrid.recurrent_state<4x3x2xf32>, tensor<28x10xf32>, tensor<8x10xf32>, tensor<20x1x4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<2xf32>, tensor<10x8xf32>) -> tensor<?x10xf32>
  return
}

// -----

func.func @negative_gdn_heads_not_positive(%x: tensor<?x10xf32>, %conv: !hybrid.conv_state<20x3xbf16>, %s: !hybrid.recurrent_state<4x3x2xf32>) {
  %qkvz = hybrid.weight "qkvz" : tensor<28x10xf32>
  %ba = hybrid.weight "ba" : tensor<8x10xf32>
  %c = hybrid.weight "c" : tensor<20x1x4xf32>
  %hv = hybrid.weight "hv" : tensor<4xf32>
  %n = hybrid.weight "n" : tensor<2xf32>
  %out = hybrid.weight "out" : tensor<10x8xf32>
  // expected-error @+1 {{num_v_heads must be positive, got 0}}
  %y = hybrid.gated_delta_net %x, %conv, %s in_proj_qkvz(%qkvz) in_proj_ba(%ba) conv1d(%c) dt_bias(%hv) a_log(%hv) norm(%n) out_proj(%out) {conv_kernel = 4 : i64, k_head_dim = 3 : i64, norm_epsilon = 1.0e-06 : f64, num_k_heads = 2 : i64, num_v_heads = 0 : i64, v_head_dim = 2 : i64} : (tensor<?x10xf32>, !hybrid.conv_state<20x3xbf16>, !hybrid.recurrent_state<4x3x2xf32>, tensor<28x10xf32>, tensor<8x10xf32>, tensor<20x1x4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<2xf32>, tensor<10x8xf32>) -> tensor<?x10xf32>
  return
}

// -----

func.func @negative_gdn_in_proj_qkvz(%x: tensor<?x10xf32>, %conv: !hybrid.conv_state<20x3xbf16>, %s: !hybrid.recurrent_state<4x3x2xf32>) {
  %qkvz = hybrid.weight "qkvz" : tensor<24x10xf32>
  %ba = hybrid.weight "ba" : tensor<8x10xf32>
  %c = hybrid.weight "c" : tensor<20x1x4xf32>
  %hv = hybrid.weight "hv" : tensor<4xf32>
  %n = hybrid.weight "n" : tensor<2xf32>
  %out = hybrid.weight "out" : tensor<10x8xf32>
  // expected-error @+1 {{in_proj_qkvz has shape [24, 10], expected [28, 10] ([2 * num_k_heads * k_head_dim + 2 * num_v_heads * v_head_dim, hidden])}}
  %y = hybrid.gated_delta_net %x, %conv, %s in_proj_qkvz(%qkvz) in_proj_ba(%ba) conv1d(%c) dt_bias(%hv) a_log(%hv) norm(%n) out_proj(%out) {conv_kernel = 4 : i64, k_head_dim = 3 : i64, norm_epsilon = 1.0e-06 : f64, num_k_heads = 2 : i64, num_v_heads = 4 : i64, v_head_dim = 2 : i64} : (tensor<?x10xf32>, !hybrid.conv_state<20x3xbf16>, !hybrid.recurrent_state<4x3x2xf32>, tensor<24x10xf32>, tensor<8x10xf32>, tensor<20x1x4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<2xf32>, tensor<10x8xf32>) -> tensor<?x10xf32>
  return
}

// -----

func.func @negative_gdn_in_proj_ba(%x: tensor<?x10xf32>, %conv: !hybrid.conv_state<20x3xbf16>, %s: !hybrid.recurrent_state<4x3x2xf32>) {
  %qkvz = hybrid.weight "qkvz" : tensor<28x10xf32>
  %ba = hybrid.weight "ba" : tensor<4x10xf32>
  %c = hybrid.weight "c" : tensor<20x1x4xf32>
  %hv = hybrid.weight "hv" : tensor<4xf32>
  %n = hybrid.weight "n" : tensor<2xf32>
  %out = hybrid.weight "out" : tensor<10x8xf32>
  // expected-error @+1 {{in_proj_ba has shape [4, 10], expected [8, 10] ([2 * num_v_heads, hidden])}}
  %y = hybrid.gated_delta_net %x, %conv, %s in_proj_qkvz(%qkvz) in_proj_ba(%ba) conv1d(%c) dt_bias(%hv) a_log(%hv) norm(%n) out_proj(%out) {conv_kernel = 4 : i64, k_head_dim = 3 : i64, norm_epsilon = 1.0e-06 : f64, num_k_heads = 2 : i64, num_v_heads = 4 : i64, v_head_dim = 2 : i64} : (tensor<?x10xf32>, !hybrid.conv_state<20x3xbf16>, !hybrid.recurrent_state<4x3x2xf32>, tensor<28x10xf32>, tensor<4x10xf32>, tensor<20x1x4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<2xf32>, tensor<10x8xf32>) -> tensor<?x10xf32>
  return
}

// -----

func.func @negative_gdn_conv1d(%x: tensor<?x10xf32>, %conv: !hybrid.conv_state<20x3xbf16>, %s: !hybrid.recurrent_state<4x3x2xf32>) {
  %qkvz = hybrid.weight "qkvz" : tensor<28x10xf32>
  %ba = hybrid.weight "ba" : tensor<8x10xf32>
  %c = hybrid.weight "c" : tensor<20x1x3xf32>
  %hv = hybrid.weight "hv" : tensor<4xf32>
  %n = hybrid.weight "n" : tensor<2xf32>
  %out = hybrid.weight "out" : tensor<10x8xf32>
  // expected-error @+1 {{conv1d has shape [20, 1, 3], expected [20, 1, 4] ([2 * num_k_heads * k_head_dim + num_v_heads * v_head_dim, 1, conv_kernel])}}
  %y = hybrid.gated_delta_net %x, %conv, %s in_proj_qkvz(%qkvz) in_proj_ba(%ba) conv1d(%c) dt_bias(%hv) a_log(%hv) norm(%n) out_proj(%out) {conv_kernel = 4 : i64, k_head_dim = 3 : i64, norm_epsilon = 1.0e-06 : f64, num_k_heads = 2 : i64, num_v_heads = 4 : i64, v_head_dim = 2 : i64} : (tensor<?x10xf32>, !hybrid.conv_state<20x3xbf16>, !hybrid.recurrent_state<4x3x2xf32>, tensor<28x10xf32>, tensor<8x10xf32>, tensor<20x1x3xf32>, tensor<4xf32>, tensor<4xf32>, tensor<2xf32>, tensor<10x8xf32>) -> tensor<?x10xf32>
  return
}

// -----

func.func @negative_gdn_dt_bias(%x: tensor<?x10xf32>, %conv: !hybrid.conv_state<20x3xbf16>, %s: !hybrid.recurrent_state<4x3x2xf32>) {
  %qkvz = hybrid.weight "qkvz" : tensor<28x10xf32>
  %ba = hybrid.weight "ba" : tensor<8x10xf32>
  %c = hybrid.weight "c" : tensor<20x1x4xf32>
  %hv = hybrid.weight "hv" : tensor<2xf32>
  %n = hybrid.weight "n" : tensor<2xf32>
  %out = hybrid.weight "out" : tensor<10x8xf32>
  // expected-error @+1 {{dt_bias has shape [2], expected [4] ([num_v_heads])}}
  %y = hybrid.gated_delta_net %x, %conv, %s in_proj_qkvz(%qkvz) in_proj_ba(%ba) conv1d(%c) dt_bias(%hv) a_log(%hv) norm(%n) out_proj(%out) {conv_kernel = 4 : i64, k_head_dim = 3 : i64, norm_epsilon = 1.0e-06 : f64, num_k_heads = 2 : i64, num_v_heads = 4 : i64, v_head_dim = 2 : i64} : (tensor<?x10xf32>, !hybrid.conv_state<20x3xbf16>, !hybrid.recurrent_state<4x3x2xf32>, tensor<28x10xf32>, tensor<8x10xf32>, tensor<20x1x4xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<10x8xf32>) -> tensor<?x10xf32>
  return
}

// -----

func.func @negative_gdn_norm(%x: tensor<?x10xf32>, %conv: !hybrid.conv_state<20x3xbf16>, %s: !hybrid.recurrent_state<4x3x2xf32>) {
  %qkvz = hybrid.weight "qkvz" : tensor<28x10xf32>
  %ba = hybrid.weight "ba" : tensor<8x10xf32>
  %c = hybrid.weight "c" : tensor<20x1x4xf32>
  %hv = hybrid.weight "hv" : tensor<4xf32>
  %n = hybrid.weight "n" : tensor<3xf32>
  %out = hybrid.weight "out" : tensor<10x8xf32>
  // expected-error @+1 {{norm has shape [3], expected [2] ([v_head_dim])}}
  %y = hybrid.gated_delta_net %x, %conv, %s in_proj_qkvz(%qkvz) in_proj_ba(%ba) conv1d(%c) dt_bias(%hv) a_log(%hv) norm(%n) out_proj(%out) {conv_kernel = 4 : i64, k_head_dim = 3 : i64, norm_epsilon = 1.0e-06 : f64, num_k_heads = 2 : i64, num_v_heads = 4 : i64, v_head_dim = 2 : i64} : (tensor<?x10xf32>, !hybrid.conv_state<20x3xbf16>, !hybrid.recurrent_state<4x3x2xf32>, tensor<28x10xf32>, tensor<8x10xf32>, tensor<20x1x4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<3xf32>, tensor<10x8xf32>) -> tensor<?x10xf32>
  return
}

// -----

func.func @negative_gdn_out_proj(%x: tensor<?x10xf32>, %conv: !hybrid.conv_state<20x3xbf16>, %s: !hybrid.recurrent_state<4x3x2xf32>) {
  %qkvz = hybrid.weight "qkvz" : tensor<28x10xf32>
  %ba = hybrid.weight "ba" : tensor<8x10xf32>
  %c = hybrid.weight "c" : tensor<20x1x4xf32>
  %hv = hybrid.weight "hv" : tensor<4xf32>
  %n = hybrid.weight "n" : tensor<2xf32>
  %out = hybrid.weight "out" : tensor<10x6xf32>
  // expected-error @+1 {{out_proj has shape [10, 6], expected [10, 8] ([hidden, num_v_heads * v_head_dim])}}
  %y = hybrid.gated_delta_net %x, %conv, %s in_proj_qkvz(%qkvz) in_proj_ba(%ba) conv1d(%c) dt_bias(%hv) a_log(%hv) norm(%n) out_proj(%out) {conv_kernel = 4 : i64, k_head_dim = 3 : i64, norm_epsilon = 1.0e-06 : f64, num_k_heads = 2 : i64, num_v_heads = 4 : i64, v_head_dim = 2 : i64} : (tensor<?x10xf32>, !hybrid.conv_state<20x3xbf16>, !hybrid.recurrent_state<4x3x2xf32>, tensor<28x10xf32>, tensor<8x10xf32>, tensor<20x1x4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<2xf32>, tensor<10x6xf32>) -> tensor<?x10xf32>
  return
}

// -----

func.func @negative_gdn_conv_state(%x: tensor<?x10xf32>, %conv: !hybrid.conv_state<20x4xbf16>, %s: !hybrid.recurrent_state<4x3x2xf32>) {
  %qkvz = hybrid.weight "qkvz" : tensor<28x10xf32>
  %ba = hybrid.weight "ba" : tensor<8x10xf32>
  %c = hybrid.weight "c" : tensor<20x1x4xf32>
  %hv = hybrid.weight "hv" : tensor<4xf32>
  %n = hybrid.weight "n" : tensor<2xf32>
  %out = hybrid.weight "out" : tensor<10x8xf32>
  // expected-error @+1 {{conv_state has shape [20, 4], expected [20, 3] ([conv channels, conv_kernel - 1])}}
  %y = hybrid.gated_delta_net %x, %conv, %s in_proj_qkvz(%qkvz) in_proj_ba(%ba) conv1d(%c) dt_bias(%hv) a_log(%hv) norm(%n) out_proj(%out) {conv_kernel = 4 : i64, k_head_dim = 3 : i64, norm_epsilon = 1.0e-06 : f64, num_k_heads = 2 : i64, num_v_heads = 4 : i64, v_head_dim = 2 : i64} : (tensor<?x10xf32>, !hybrid.conv_state<20x4xbf16>, !hybrid.recurrent_state<4x3x2xf32>, tensor<28x10xf32>, tensor<8x10xf32>, tensor<20x1x4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<2xf32>, tensor<10x8xf32>) -> tensor<?x10xf32>
  return
}

// -----

func.func @negative_gdn_recurrent_state(%x: tensor<?x10xf32>, %conv: !hybrid.conv_state<20x3xbf16>, %s: !hybrid.recurrent_state<4x2x3xf32>) {
  %qkvz = hybrid.weight "qkvz" : tensor<28x10xf32>
  %ba = hybrid.weight "ba" : tensor<8x10xf32>
  %c = hybrid.weight "c" : tensor<20x1x4xf32>
  %hv = hybrid.weight "hv" : tensor<4xf32>
  %n = hybrid.weight "n" : tensor<2xf32>
  %out = hybrid.weight "out" : tensor<10x8xf32>
  // expected-error @+1 {{recurrent_state has shape [4, 2, 3], expected [4, 3, 2] ([num_v_heads, k_head_dim, v_head_dim])}}
  %y = hybrid.gated_delta_net %x, %conv, %s in_proj_qkvz(%qkvz) in_proj_ba(%ba) conv1d(%c) dt_bias(%hv) a_log(%hv) norm(%n) out_proj(%out) {conv_kernel = 4 : i64, k_head_dim = 3 : i64, norm_epsilon = 1.0e-06 : f64, num_k_heads = 2 : i64, num_v_heads = 4 : i64, v_head_dim = 2 : i64} : (tensor<?x10xf32>, !hybrid.conv_state<20x3xbf16>, !hybrid.recurrent_state<4x2x3xf32>, tensor<28x10xf32>, tensor<8x10xf32>, tensor<20x1x4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<2xf32>, tensor<10x8xf32>) -> tensor<?x10xf32>
  return
}

// -----

func.func @negative_gdn_recurrent_state_bf16(%x: tensor<?x10xf32>, %conv: !hybrid.conv_state<20x3xbf16>, %s: !hybrid.recurrent_state<4x3x2xbf16>) {
  %qkvz = hybrid.weight "qkvz" : tensor<28x10xf32>
  %ba = hybrid.weight "ba" : tensor<8x10xf32>
  %c = hybrid.weight "c" : tensor<20x1x4xf32>
  %hv = hybrid.weight "hv" : tensor<4xf32>
  %n = hybrid.weight "n" : tensor<2xf32>
  %out = hybrid.weight "out" : tensor<10x8xf32>
  // expected-error @+1 {{recurrent_state must be f32, got 'bf16'}}
  %y = hybrid.gated_delta_net %x, %conv, %s in_proj_qkvz(%qkvz) in_proj_ba(%ba) conv1d(%c) dt_bias(%hv) a_log(%hv) norm(%n) out_proj(%out) {conv_kernel = 4 : i64, k_head_dim = 3 : i64, norm_epsilon = 1.0e-06 : f64, num_k_heads = 2 : i64, num_v_heads = 4 : i64, v_head_dim = 2 : i64} : (tensor<?x10xf32>, !hybrid.conv_state<20x3xbf16>, !hybrid.recurrent_state<4x3x2xbf16>, tensor<28x10xf32>, tensor<8x10xf32>, tensor<20x1x4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<2xf32>, tensor<10x8xf32>) -> tensor<?x10xf32>
  return
}

// -----

func.func @negative_mamba_kernel(%x: tensor<?x6xf32>, %conv: !hybrid.conv_state<12x3xf32>, %h: !hybrid.recurrent_state<12x3xf32>) {
  %in = hybrid.weight "in" : tensor<24x6xf32>
  %c = hybrid.weight "c" : tensor<12x1x4xf32>
  %d = hybrid.weight "d" : tensor<12xf32>
  %xp = hybrid.weight "xp" : tensor<8x12xf32>
  %dt = hybrid.weight "dt" : tensor<12x2xf32>
  %a = hybrid.weight "a" : tensor<12x3xf32>
  %out = hybrid.weight "out" : tensor<6x12xf32>
  // expected-error @+1 {{d_conv must be at least 2, got 1}}
  %y = hybrid.mamba %x, %conv, %h in_proj(%in) conv1d(%c) x_proj(%xp) dt_proj(%dt) dt_proj_bias(%d) a_log(%a) d(%d) out_proj(%out) {d_conv = 1 : i64, d_inner = 12 : i64, d_state = 3 : i64, dt_rank = 2 : i64, norm_epsilon = 1.0e-06 : f64} : (tensor<?x6xf32>, !hybrid.conv_state<12x3xf32>, !hybrid.recurrent_state<12x3xf32>, tensor<24x6xf32>, tensor<12x1x4xf32>, tensor<8x12xf32>, tensor<12x2xf32>, tensor<12xf32>, tensor<12x3xf32>, tensor<12xf32>, tensor<6x12xf32>) -> tensor<?x6xf32>
  return
}

// -----

func.func @negative_mamba_in_proj(%x: tensor<?x6xf32>, %conv: !hybrid.conv_state<12x3xf32>, %h: !hybrid.recurrent_state<12x3xf32>) {
  %in = hybrid.weight "in" : tensor<12x6xf32>
  %c = hybrid.weight "c" : tensor<12x1x4xf32>
  %d = hybrid.weight "d" : tensor<12xf32>
  %xp = hybrid.weight "xp" : tensor<8x12xf32>
  %dt = hybrid.weight "dt" : tensor<12x2xf32>
  %a = hybrid.weight "a" : tensor<12x3xf32>
  %out = hybrid.weight "out" : tensor<6x12xf32>
  // expected-error @+1 {{in_proj has shape [12, 6], expected [24, 6] ([2 * d_inner, hidden])}}
  %y = hybrid.mamba %x, %conv, %h in_proj(%in) conv1d(%c) x_proj(%xp) dt_proj(%dt) dt_proj_bias(%d) a_log(%a) d(%d) out_proj(%out) {d_conv = 4 : i64, d_inner = 12 : i64, d_state = 3 : i64, dt_rank = 2 : i64, norm_epsilon = 1.0e-06 : f64} : (tensor<?x6xf32>, !hybrid.conv_state<12x3xf32>, !hybrid.recurrent_state<12x3xf32>, tensor<12x6xf32>, tensor<12x1x4xf32>, tensor<8x12xf32>, tensor<12x2xf32>, tensor<12xf32>, tensor<12x3xf32>, tensor<12xf32>, tensor<6x12xf32>) -> tensor<?x6xf32>
  return
}

// -----

func.func @negative_mamba_conv1d(%x: tensor<?x6xf32>, %conv: !hybrid.conv_state<12x3xf32>, %h: !hybrid.recurrent_state<12x3xf32>) {
  %in = hybrid.weight "in" : tensor<24x6xf32>
  %c = hybrid.weight "c" : tensor<12x1x3xf32>
  %d = hybrid.weight "d" : tensor<12xf32>
  %xp = hybrid.weight "xp" : tensor<8x12xf32>
  %dt = hybrid.weight "dt" : tensor<12x2xf32>
  %a = hybrid.weight "a" : tensor<12x3xf32>
  %out = hybrid.weight "out" : tensor<6x12xf32>
  // expected-error @+1 {{conv1d has shape [12, 1, 3], expected [12, 1, 4] ([d_inner, 1, d_conv])}}
  %y = hybrid.mamba %x, %conv, %h in_proj(%in) conv1d(%c) x_proj(%xp) dt_proj(%dt) dt_proj_bias(%d) a_log(%a) d(%d) out_proj(%out) {d_conv = 4 : i64, d_inner = 12 : i64, d_state = 3 : i64, dt_rank = 2 : i64, norm_epsilon = 1.0e-06 : f64} : (tensor<?x6xf32>, !hybrid.conv_state<12x3xf32>, !hybrid.recurrent_state<12x3xf32>, tensor<24x6xf32>, tensor<12x1x3xf32>, tensor<8x12xf32>, tensor<12x2xf32>, tensor<12xf32>, tensor<12x3xf32>, tensor<12xf32>, tensor<6x12xf32>) -> tensor<?x6xf32>
  return
}

// -----

func.func @negative_mamba_x_proj(%x: tensor<?x6xf32>, %conv: !hybrid.conv_state<12x3xf32>, %h: !hybrid.recurrent_state<12x3xf32>) {
  %in = hybrid.weight "in" : tensor<24x6xf32>
  %c = hybrid.weight "c" : tensor<12x1x4xf32>
  %d = hybrid.weight "d" : tensor<12xf32>
  %xp = hybrid.weight "xp" : tensor<6x12xf32>
  %dt = hybrid.weight "dt" : tensor<12x2xf32>
  %a = hybrid.weight "a" : tensor<12x3xf32>
  %out = hybrid.weight "out" : tensor<6x12xf32>
  // expected-error @+1 {{x_proj has shape [6, 12], expected [8, 12] ([dt_rank + 2 * d_state, d_inner])}}
  %y = hybrid.mamba %x, %conv, %h in_proj(%in) conv1d(%c) x_proj(%xp) dt_proj(%dt) dt_proj_bias(%d) a_log(%a) d(%d) out_proj(%out) {d_conv = 4 : i64, d_inner = 12 : i64, d_state = 3 : i64, dt_rank = 2 : i64, norm_epsilon = 1.0e-06 : f64} : (tensor<?x6xf32>, !hybrid.conv_state<12x3xf32>, !hybrid.recurrent_state<12x3xf32>, tensor<24x6xf32>, tensor<12x1x4xf32>, tensor<6x12xf32>, tensor<12x2xf32>, tensor<12xf32>, tensor<12x3xf32>, tensor<12xf32>, tensor<6x12xf32>) -> tensor<?x6xf32>
  return
}

// -----

func.func @negative_mamba_dt_proj(%x: tensor<?x6xf32>, %conv: !hybrid.conv_state<12x3xf32>, %h: !hybrid.recurrent_state<12x3xf32>) {
  %in = hybrid.weight "in" : tensor<24x6xf32>
  %c = hybrid.weight "c" : tensor<12x1x4xf32>
  %d = hybrid.weight "d" : tensor<12xf32>
  %xp = hybrid.weight "xp" : tensor<8x12xf32>
  %dt = hybrid.weight "dt" : tensor<12x3xf32>
  %a = hybrid.weight "a" : tensor<12x3xf32>
  %out = hybrid.weight "out" : tensor<6x12xf32>
  // expected-error @+1 {{dt_proj has shape [12, 3], expected [12, 2] ([d_inner, dt_rank])}}
  %y = hybrid.mamba %x, %conv, %h in_proj(%in) conv1d(%c) x_proj(%xp) dt_proj(%dt) dt_proj_bias(%d) a_log(%a) d(%d) out_proj(%out) {d_conv = 4 : i64, d_inner = 12 : i64, d_state = 3 : i64, dt_rank = 2 : i64, norm_epsilon = 1.0e-06 : f64} : (tensor<?x6xf32>, !hybrid.conv_state<12x3xf32>, !hybrid.recurrent_state<12x3xf32>, tensor<24x6xf32>, tensor<12x1x4xf32>, tensor<8x12xf32>, tensor<12x3xf32>, tensor<12xf32>, tensor<12x3xf32>, tensor<12xf32>, tensor<6x12xf32>) -> tensor<?x6xf32>
  return
}

// -----

func.func @negative_mamba_a_log(%x: tensor<?x6xf32>, %conv: !hybrid.conv_state<12x3xf32>, %h: !hybrid.recurrent_state<12x3xf32>) {
  %in = hybrid.weight "in" : tensor<24x6xf32>
  %c = hybrid.weight "c" : tensor<12x1x4xf32>
  %d = hybrid.weight "d" : tensor<12xf32>
  %xp = hybrid.weight "xp" : tensor<8x12xf32>
  %dt = hybrid.weight "dt" : tensor<12x2xf32>
  %a = hybrid.weight "a" : tensor<12x4xf32>
  %out = hybrid.weight "out" : tensor<6x12xf32>
  // expected-error @+1 {{a_log has shape [12, 4], expected [12, 3] ([d_inner, d_state])}}
  %y = hybrid.mamba %x, %conv, %h in_proj(%in) conv1d(%c) x_proj(%xp) dt_proj(%dt) dt_proj_bias(%d) a_log(%a) d(%d) out_proj(%out) {d_conv = 4 : i64, d_inner = 12 : i64, d_state = 3 : i64, dt_rank = 2 : i64, norm_epsilon = 1.0e-06 : f64} : (tensor<?x6xf32>, !hybrid.conv_state<12x3xf32>, !hybrid.recurrent_state<12x3xf32>, tensor<24x6xf32>, tensor<12x1x4xf32>, tensor<8x12xf32>, tensor<12x2xf32>, tensor<12xf32>, tensor<12x4xf32>, tensor<12xf32>, tensor<6x12xf32>) -> tensor<?x6xf32>
  return
}

// -----

func.func @negative_mamba_out_proj(%x: tensor<?x6xf32>, %conv: !hybrid.conv_state<12x3xf32>, %h: !hybrid.recurrent_state<12x3xf32>) {
  %in = hybrid.weight "in" : tensor<24x6xf32>
  %c = hybrid.weight "c" : tensor<12x1x4xf32>
  %d = hybrid.weight "d" : tensor<12xf32>
  %xp = hybrid.weight "xp" : tensor<8x12xf32>
  %dt = hybrid.weight "dt" : tensor<12x2xf32>
  %a = hybrid.weight "a" : tensor<12x3xf32>
  %out = hybrid.weight "out" : tensor<6x10xf32>
  // expected-error @+1 {{out_proj has shape [6, 10], expected [6, 12] ([hidden, d_inner])}}
  %y = hybrid.mamba %x, %conv, %h in_proj(%in) conv1d(%c) x_proj(%xp) dt_proj(%dt) dt_proj_bias(%d) a_log(%a) d(%d) out_proj(%out) {d_conv = 4 : i64, d_inner = 12 : i64, d_state = 3 : i64, dt_rank = 2 : i64, norm_epsilon = 1.0e-06 : f64} : (tensor<?x6xf32>, !hybrid.conv_state<12x3xf32>, !hybrid.recurrent_state<12x3xf32>, tensor<24x6xf32>, tensor<12x1x4xf32>, tensor<8x12xf32>, tensor<12x2xf32>, tensor<12xf32>, tensor<12x3xf32>, tensor<12xf32>, tensor<6x10xf32>) -> tensor<?x6xf32>
  return
}

// -----

func.func @negative_mamba_norms_incomplete(%x: tensor<?x6xf32>, %conv: !hybrid.conv_state<12x3xf32>, %h: !hybrid.recurrent_state<12x3xf32>) {
  %in = hybrid.weight "in" : tensor<24x6xf32>
  %c = hybrid.weight "c" : tensor<12x1x4xf32>
  %d = hybrid.weight "d" : tensor<12xf32>
  %xp = hybrid.weight "xp" : tensor<8x12xf32>
  %dt = hybrid.weight "dt" : tensor<12x2xf32>
  %a = hybrid.weight "a" : tensor<12x3xf32>
  %out = hybrid.weight "out" : tensor<6x12xf32>
  %dtn = hybrid.weight "dtn" : tensor<2xf32>
  // expected-error @+1 {{dt_layernorm, b_layernorm and c_layernorm must be given together}}
  %y = hybrid.mamba %x, %conv, %h in_proj(%in) conv1d(%c) x_proj(%xp) dt_proj(%dt) dt_proj_bias(%d) a_log(%a) d(%d) out_proj(%out) dt_layernorm(%dtn) {d_conv = 4 : i64, d_inner = 12 : i64, d_state = 3 : i64, dt_rank = 2 : i64, norm_epsilon = 1.0e-06 : f64} : (tensor<?x6xf32>, !hybrid.conv_state<12x3xf32>, !hybrid.recurrent_state<12x3xf32>, tensor<24x6xf32>, tensor<12x1x4xf32>, tensor<8x12xf32>, tensor<12x2xf32>, tensor<12xf32>, tensor<12x3xf32>, tensor<12xf32>, tensor<6x12xf32>, tensor<2xf32>) -> tensor<?x6xf32>
  return
}

// -----

func.func @negative_mamba_dt_layernorm(%x: tensor<?x6xf32>, %conv: !hybrid.conv_state<12x3xf32>, %h: !hybrid.recurrent_state<12x3xf32>) {
  %in = hybrid.weight "in" : tensor<24x6xf32>
  %c = hybrid.weight "c" : tensor<12x1x4xf32>
  %d = hybrid.weight "d" : tensor<12xf32>
  %xp = hybrid.weight "xp" : tensor<8x12xf32>
  %dt = hybrid.weight "dt" : tensor<12x2xf32>
  %a = hybrid.weight "a" : tensor<12x3xf32>
  %out = hybrid.weight "out" : tensor<6x12xf32>
  %n3 = hybrid.weight "n3" : tensor<3xf32>
  // expected-error @+1 {{dt_layernorm has shape [3], expected [2] ([dt_rank])}}
  %y = hybrid.mamba %x, %conv, %h in_proj(%in) conv1d(%c) x_proj(%xp) dt_proj(%dt) dt_proj_bias(%d) a_log(%a) d(%d) out_proj(%out) dt_layernorm(%n3) b_layernorm(%n3) c_layernorm(%n3) {d_conv = 4 : i64, d_inner = 12 : i64, d_state = 3 : i64, dt_rank = 2 : i64, norm_epsilon = 1.0e-06 : f64} : (tensor<?x6xf32>, !hybrid.conv_state<12x3xf32>, !hybrid.recurrent_state<12x3xf32>, tensor<24x6xf32>, tensor<12x1x4xf32>, tensor<8x12xf32>, tensor<12x2xf32>, tensor<12xf32>, tensor<12x3xf32>, tensor<12xf32>, tensor<6x12xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>) -> tensor<?x6xf32>
  return
}

// -----

func.func @negative_mamba_conv_state(%x: tensor<?x6xf32>, %conv: !hybrid.conv_state<12x2xf32>, %h: !hybrid.recurrent_state<12x3xf32>) {
  %in = hybrid.weight "in" : tensor<24x6xf32>
  %c = hybrid.weight "c" : tensor<12x1x4xf32>
  %d = hybrid.weight "d" : tensor<12xf32>
  %xp = hybrid.weight "xp" : tensor<8x12xf32>
  %dt = hybrid.weight "dt" : tensor<12x2xf32>
  %a = hybrid.weight "a" : tensor<12x3xf32>
  %out = hybrid.weight "out" : tensor<6x12xf32>
  // expected-error @+1 {{conv_state has shape [12, 2], expected [12, 3] ([d_inner, d_conv - 1])}}
  %y = hybrid.mamba %x, %conv, %h in_proj(%in) conv1d(%c) x_proj(%xp) dt_proj(%dt) dt_proj_bias(%d) a_log(%a) d(%d) out_proj(%out) {d_conv = 4 : i64, d_inner = 12 : i64, d_state = 3 : i64, dt_rank = 2 : i64, norm_epsilon = 1.0e-06 : f64} : (tensor<?x6xf32>, !hybrid.conv_state<12x2xf32>, !hybrid.recurrent_state<12x3xf32>, tensor<24x6xf32>, tensor<12x1x4xf32>, tensor<8x12xf32>, tensor<12x2xf32>, tensor<12xf32>, tensor<12x3xf32>, tensor<12xf32>, tensor<6x12xf32>) -> tensor<?x6xf32>
  return
}

// -----

func.func @negative_mamba_ssm_state(%x: tensor<?x6xf32>, %conv: !hybrid.conv_state<12x3xf32>, %h: !hybrid.recurrent_state<12x4xf32>) {
  %in = hybrid.weight "in" : tensor<24x6xf32>
  %c = hybrid.weight "c" : tensor<12x1x4xf32>
  %d = hybrid.weight "d" : tensor<12xf32>
  %xp = hybrid.weight "xp" : tensor<8x12xf32>
  %dt = hybrid.weight "dt" : tensor<12x2xf32>
  %a = hybrid.weight "a" : tensor<12x3xf32>
  %out = hybrid.weight "out" : tensor<6x12xf32>
  // expected-error @+1 {{ssm_state has shape [12, 4], expected [12, 3] ([d_inner, d_state])}}
  %y = hybrid.mamba %x, %conv, %h in_proj(%in) conv1d(%c) x_proj(%xp) dt_proj(%dt) dt_proj_bias(%d) a_log(%a) d(%d) out_proj(%out) {d_conv = 4 : i64, d_inner = 12 : i64, d_state = 3 : i64, dt_rank = 2 : i64, norm_epsilon = 1.0e-06 : f64} : (tensor<?x6xf32>, !hybrid.conv_state<12x3xf32>, !hybrid.recurrent_state<12x4xf32>, tensor<24x6xf32>, tensor<12x1x4xf32>, tensor<8x12xf32>, tensor<12x2xf32>, tensor<12xf32>, tensor<12x3xf32>, tensor<12xf32>, tensor<6x12xf32>) -> tensor<?x6xf32>
  return
}

// -----

func.func @negative_mamba_ssm_state_bf16(%x: tensor<?x6xf32>, %conv: !hybrid.conv_state<12x3xf32>, %h: !hybrid.recurrent_state<12x3xbf16>) {
  %in = hybrid.weight "in" : tensor<24x6xf32>
  %c = hybrid.weight "c" : tensor<12x1x4xf32>
  %d = hybrid.weight "d" : tensor<12xf32>
  %xp = hybrid.weight "xp" : tensor<8x12xf32>
  %dt = hybrid.weight "dt" : tensor<12x2xf32>
  %a = hybrid.weight "a" : tensor<12x3xf32>
  %out = hybrid.weight "out" : tensor<6x12xf32>
  // expected-error @+1 {{ssm_state must be f32, got 'bf16'}}
  %y = hybrid.mamba %x, %conv, %h in_proj(%in) conv1d(%c) x_proj(%xp) dt_proj(%dt) dt_proj_bias(%d) a_log(%a) d(%d) out_proj(%out) {d_conv = 4 : i64, d_inner = 12 : i64, d_state = 3 : i64, dt_rank = 2 : i64, norm_epsilon = 1.0e-06 : f64} : (tensor<?x6xf32>, !hybrid.conv_state<12x3xf32>, !hybrid.recurrent_state<12x3xbf16>, tensor<24x6xf32>, tensor<12x1x4xf32>, tensor<8x12xf32>, tensor<12x2xf32>, tensor<12xf32>, tensor<12x3xf32>, tensor<12xf32>, tensor<6x12xf32>) -> tensor<?x6xf32>
  return
}

// -----

func.func @negative_mtp_gated(%h: tensor<?x8xf32>, %e: tensor<?x8xf32>) {
  %n = hybrid.weight "n" : tensor<8xf32>
  %p = hybrid.weight "p" : tensor<8x16xf32>
  // expected-error @+1 {{kind cannot be gated}}
  %y = hybrid.mtp gated %h, %e enorm(%n) hnorm(%n) eh_proj(%p) {epsilon = 1.0e-06 : f64} : (tensor<?x8xf32>, tensor<?x8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8x16xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_mtp_eh_proj(%h: tensor<?x8xf32>, %e: tensor<?x8xf32>) {
  %n = hybrid.weight "n" : tensor<8xf32>
  %p = hybrid.weight "p" : tensor<8x8xf32>
  // expected-error @+1 {{eh_proj has shape [8, 8], expected [8, 16] ([hidden, 2 * hidden])}}
  %y = hybrid.mtp plain %h, %e enorm(%n) hnorm(%n) eh_proj(%p) {epsilon = 1.0e-06 : f64} : (tensor<?x8xf32>, tensor<?x8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8x8xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_mtp_embedded(%h: tensor<?x8xf32>, %e: tensor<?x4xf32>) {
  %n = hybrid.weight "n" : tensor<8xf32>
  %p = hybrid.weight "p" : tensor<8x16xf32>
  // expected-error @+1 {{embedded has shape [?, 4], expected [?, 8] ([tokens, hidden])}}
  %y = hybrid.mtp plain %h, %e enorm(%n) hnorm(%n) eh_proj(%p) {epsilon = 1.0e-06 : f64} : (tensor<?x8xf32>, tensor<?x4xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8x16xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @negative_kv_cache_rank() {
  // expected-error @+1 {{kv_cache expects [kv_heads, head_dim], got 3 dimensions}}
  %u = "test.unknown"() : () -> !hybrid.kv_cache<2x4x4xf32>
  return
}

// -----

func.func @negative_latent_cache_rank() {
  // expected-error @+1 {{latent_cache expects [kv_lora_rank, qk_rope_head_dim], got 1 dimensions}}
  %u = "test.unknown"() : () -> !hybrid.latent_cache<6xf32>
  return
}

// -----

func.func @negative_conv_state_rank() {
  // expected-error @+1 {{conv_state expects [channels, kernel - 1], got 3 dimensions}}
  %u = "test.unknown"() : () -> !hybrid.conv_state<6x2x2xf32>
  return
}

// -----

func.func @negative_recurrent_state_rank() {
  // expected-error @+1 {{recurrent_state expects 2 or 3 dimensions, got 1 dimensions}}
  %u = "test.unknown"() : () -> !hybrid.recurrent_state<6xf32>
  return
}

// -----

func.func @negative_state_zero_dimension() {
  // expected-error @+1 {{conv_state dimensions must be positive}}
  %u = "test.unknown"() : () -> !hybrid.conv_state<6x0xf32>
  return
}

// -----

func.func @negative_state_integer_elements() {
  // expected-error @+1 {{kv_cache element type must be a float type, got 'i32'}}
  %u = "test.unknown"() : () -> !hybrid.kv_cache<2x4xi32>
  return
}

// -----

func.func @negative_yarn_factor() {
  // expected-error @+1 {{yarn factor must be >= 1, got 5.000000e-01}}
  "test.unknown"() {y = #hybrid.yarn<factor = 0.5, original = 4096, beta_fast = 32.0, beta_slow = 1.0, attention_factor = 1.0, truncate = true>} : () -> ()
  return
}

// -----

func.func @negative_yarn_original() {
  // expected-error @+1 {{yarn original context must be positive, got 0}}
  "test.unknown"() {y = #hybrid.yarn<factor = 4.0, original = 0, beta_fast = 32.0, beta_slow = 1.0, attention_factor = 1.0, truncate = true>} : () -> ()
  return
}

// -----

func.func @negative_yarn_betas() {
  // expected-error @+1 {{yarn needs beta_fast > beta_slow > 0, got 1.000000e+00 and 3.200000e+01}}
  "test.unknown"() {y = #hybrid.yarn<factor = 4.0, original = 4096, beta_fast = 1.0, beta_slow = 32.0, attention_factor = 1.0, truncate = true>} : () -> ()
  return
}

// -----

func.func @negative_yarn_attention_factor() {
  // expected-error @+1 {{yarn attention_factor must be positive}}
  "test.unknown"() {y = #hybrid.yarn<factor = 4.0, original = 4096, beta_fast = 32.0, beta_slow = 1.0, attention_factor = 0.0, truncate = true>} : () -> ()
  return
}

// -----

func.func @negative_yarn_truncate() {
  // expected-error @+1 {{yarn truncate must be true or false}}
  "test.unknown"() {y = #hybrid.yarn<factor = 4.0, original = 4096, beta_fast = 32.0, beta_slow = 1.0, attention_factor = 1.0, truncate = maybe>} : () -> ()
  return
}
