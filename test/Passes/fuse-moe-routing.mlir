// RUN: hybrid-opt %s --hybrid-fuse-moe-routing --split-input-file | FileCheck %s

// Qwen3-Next: softmax, renormalised top-k, a shared expert scaled by its
// sigmoid gate. The routing op keeps every routing attribute; the shared
// expert becomes a hybrid.mlp whose output and gate go to the experts op.
// CHECK-LABEL: func.func @softmax_shared_gated
// CHECK-SAME: (%[[X:.*]]: tensor<?x16xf32>, %[[R:.*]]: tensor<8x16xf32>, %[[G:.*]]: tensor<8x4x16xf32>, %[[U:.*]]: tensor<8x4x16xf32>, %[[D:.*]]: tensor<8x16x4xf32>, %[[SG:.*]]: tensor<6x16xf32>, %[[SU:.*]]: tensor<6x16xf32>, %[[SD:.*]]: tensor<16x6xf32>, %[[SEG:.*]]: tensor<1x16xf32>)
// CHECK: %[[E:.*]], %[[W:.*]] = hybrid.moe_route softmax %[[X]] router(%[[R]]) {norm_topk_prob = true, top_k = 2 : i64} : (tensor<?x16xf32>, tensor<8x16xf32>) -> (tensor<?x2xi64>, tensor<?x2xf32>)
// CHECK: %[[S:.*]] = hybrid.mlp %[[X]] gate_proj(%[[SG]]) up_proj(%[[SU]]) down_proj(%[[SD]])
// CHECK: %[[Y:.*]] = hybrid.moe_experts %[[X]] routing(%[[E]], %[[W]]) experts_gate(%[[G]]) experts_up(%[[U]]) experts_down(%[[D]]) shared(%[[S]]) shared_expert_gate(%[[SEG]]) : (tensor<?x16xf32>, tensor<?x2xi64>, tensor<?x2xf32>, tensor<8x4x16xf32>, tensor<8x4x16xf32>, tensor<8x16x4xf32>, tensor<?x16xf32>, tensor<1x16xf32>) -> tensor<?x16xf32>
// CHECK-NOT: hybrid.moe {{.*}}num_experts
// CHECK: return %[[Y]]
func.func @softmax_shared_gated(%x: tensor<?x16xf32>, %r: tensor<8x16xf32>, %g: tensor<8x4x16xf32>, %u: tensor<8x4x16xf32>, %d: tensor<8x16x4xf32>, %sg: tensor<6x16xf32>, %su: tensor<6x16xf32>, %sd: tensor<16x6xf32>, %seg: tensor<1x16xf32>) -> tensor<?x16xf32> {
  %y = hybrid.moe softmax %x router(%r) experts_gate(%g) experts_up(%u) experts_down(%d) shared_gate(%sg) shared_up(%su) shared_down(%sd) shared_expert_gate(%seg) {num_experts = 8 : i64, top_k = 2 : i64, norm_topk_prob = true} : (tensor<?x16xf32>, tensor<8x16xf32>, tensor<8x4x16xf32>, tensor<8x4x16xf32>, tensor<8x16x4xf32>, tensor<6x16xf32>, tensor<6x16xf32>, tensor<16x6xf32>, tensor<1x16xf32>) -> tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}

// -----

// Jamba / Mixtral: softmax top-2, not renormalised, no shared expert.
// CHECK-LABEL: func.func @softmax_plain
// CHECK: %[[E:.*]], %[[W:.*]] = hybrid.moe_route softmax %{{.*}} router(%{{.*}}) {norm_topk_prob = false, top_k = 2 : i64}
// CHECK-NOT: hybrid.mlp
// CHECK: hybrid.moe_experts %{{.*}} routing(%[[E]], %[[W]]) experts_gate(%{{.*}}) experts_up(%{{.*}}) experts_down(%{{.*}}) : (tensor<?x16xf32>, tensor<?x2xi64>, tensor<?x2xf32>, tensor<4x4x16xbf16>, tensor<4x4x16xbf16>, tensor<4x16x4xbf16>) -> tensor<?x16xf32>
func.func @softmax_plain(%x: tensor<?x16xf32>, %r: tensor<4x16xbf16>, %g: tensor<4x4x16xbf16>, %u: tensor<4x4x16xbf16>, %d: tensor<4x16x4xbf16>) -> tensor<?x16xf32> {
  %y = hybrid.moe softmax %x router(%r) experts_gate(%g) experts_up(%u) experts_down(%d) {num_experts = 4 : i64, top_k = 2 : i64, norm_topk_prob = false} : (tensor<?x16xf32>, tensor<4x16xbf16>, tensor<4x4x16xbf16>, tensor<4x4x16xbf16>, tensor<4x16x4xbf16>) -> tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}

// -----

// DeepSeek-V3: sigmoid scoring, selection bias, group limit (4 groups, keep
// 2), routed scaling, a shared expert without a gate. A static token count
// carries over to the routing results.
// CHECK-LABEL: func.func @sigmoid_grouped
// CHECK: %[[E:.*]], %[[W:.*]] = hybrid.moe_route sigmoid %{{.*}} router(%{{.*}}) selection_bias(%{{.*}}) {n_group = 4 : i64, norm_topk_prob = true, routed_scaling_factor = 2.500000e+00 : f64, top_k = 3 : i64, topk_group = 2 : i64} : (tensor<5x16xf32>, tensor<8x16xf32>, tensor<8xf32>) -> (tensor<5x3xi64>, tensor<5x3xf32>)
// CHECK: %[[S:.*]] = hybrid.mlp
// CHECK: hybrid.moe_experts %{{.*}} routing(%[[E]], %[[W]]) {{.*}} shared(%[[S]]) :
// CHECK-NOT: shared_expert_gate
func.func @sigmoid_grouped(%x: tensor<5x16xf32>, %r: tensor<8x16xf32>, %g: tensor<8x4x16xf32>, %u: tensor<8x4x16xf32>, %d: tensor<8x16x4xf32>, %b: tensor<8xf32>, %sg: tensor<6x16xf32>, %su: tensor<6x16xf32>, %sd: tensor<16x6xf32>) -> tensor<5x16xf32> {
  %y = hybrid.moe sigmoid %x router(%r) experts_gate(%g) experts_up(%u) experts_down(%d) selection_bias(%b) shared_gate(%sg) shared_up(%su) shared_down(%sd) {num_experts = 8 : i64, top_k = 3 : i64, norm_topk_prob = true, routed_scaling_factor = 2.5 : f64, n_group = 4 : i64, topk_group = 2 : i64} : (tensor<5x16xf32>, tensor<8x16xf32>, tensor<8x4x16xf32>, tensor<8x4x16xf32>, tensor<8x16x4xf32>, tensor<8xf32>, tensor<6x16xf32>, tensor<6x16xf32>, tensor<16x6xf32>) -> tensor<5x16xf32>
  return %y : tensor<5x16xf32>
}

// -----

// negative_: a dense SwiGLU block and an MoE block already split are left
// as they are.
// CHECK-LABEL: func.func @negative_already_split
// CHECK: hybrid.mlp
// CHECK: hybrid.moe_route softmax
// CHECK: hybrid.moe_experts
// CHECK-NOT: hybrid.moe_route
func.func @negative_already_split(%x: tensor<?x16xf32>, %r: tensor<4x16xf32>, %g: tensor<4x4x16xf32>, %u: tensor<4x4x16xf32>, %d: tensor<4x16x4xf32>, %mg: tensor<6x16xf32>, %mu: tensor<6x16xf32>, %md: tensor<16x6xf32>) -> tensor<?x16xf32> {
  %h = hybrid.mlp %x gate_proj(%mg) up_proj(%mu) down_proj(%md) : (tensor<?x16xf32>, tensor<6x16xf32>, tensor<6x16xf32>, tensor<16x6xf32>) -> tensor<?x16xf32>
  %e, %w = hybrid.moe_route softmax %h router(%r) {norm_topk_prob = true, top_k = 2 : i64} : (tensor<?x16xf32>, tensor<4x16xf32>) -> (tensor<?x2xi64>, tensor<?x2xf32>)
  %y = hybrid.moe_experts %h routing(%e, %w) experts_gate(%g) experts_up(%u) experts_down(%d) : (tensor<?x16xf32>, tensor<?x2xi64>, tensor<?x2xf32>, tensor<4x4x16xf32>, tensor<4x4x16xf32>, tensor<4x16x4xf32>) -> tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}
