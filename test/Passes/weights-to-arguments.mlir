// RUN: hybrid-opt %s --hybrid-weights-to-arguments --split-input-file | FileCheck %s

// Each distinct tensor becomes one trailing argument named by its
// checkpoint name; a tensor read twice (tied embedding and head) is bound once.
// CHECK-LABEL: func.func @tied_embedding
// CHECK-SAME: (%[[TOKENS:[a-z0-9]+]]: tensor<?xi64>, %[[TABLE:[a-z0-9]+]]: tensor<16x8xbf16> {hybrid.weight = "model.embed_tokens.weight"}, %[[NORM:[a-z0-9]+]]: tensor<8xf32> {hybrid.weight = "model.norm.weight"})
// CHECK-NOT: hybrid.weight "
// CHECK: hybrid.embed %[[TOKENS]], %[[TABLE]]
// CHECK: hybrid.rms_norm plain %{{.*}}, %[[NORM]]
// CHECK: hybrid.lm_head %{{.*}}, %[[TABLE]]
func.func @tied_embedding(%tokens: tensor<?xi64>) -> tensor<?x16xf32> {
  %table = hybrid.weight "model.embed_tokens.weight" : tensor<16x8xbf16>
  %h = hybrid.embed %tokens, %table : (tensor<?xi64>, tensor<16x8xbf16>) -> tensor<?x8xf32>
  %w = hybrid.weight "model.norm.weight" : tensor<8xf32>
  %n = hybrid.rms_norm plain %h, %w {epsilon = 1.0e-06 : f64} : (tensor<?x8xf32>, tensor<8xf32>) -> tensor<?x8xf32>
  %again = hybrid.weight "model.embed_tokens.weight" : tensor<16x8xbf16>
  %l = hybrid.lm_head %n, %again : (tensor<?x8xf32>, tensor<16x8xbf16>) -> tensor<?x16xf32>
  return %l : tensor<?x16xf32>
}

// -----

// Stacked experts keep their count for the runtime.
// CHECK-LABEL: func.func @stacked_experts
// CHECK-SAME: tensor<4x6x8xf32> {hybrid.experts = 4 : i64, hybrid.weight = "e.{e}.gate_proj.weight"}
func.func @stacked_experts() -> tensor<4x6x8xf32> {
  %g = hybrid.weight "e.{e}.gate_proj.weight" experts(4) : tensor<4x6x8xf32>
  return %g : tensor<4x6x8xf32>
}

// -----

// negative: a function without weights keeps its signature.
// CHECK-LABEL: func.func @negative_no_weights
// CHECK-SAME: (%{{.*}}: tensor<?x8xf32>) -> tensor<?x8xf32>
func.func @negative_no_weights(%x: tensor<?x8xf32>) -> tensor<?x8xf32> {
  return %x : tensor<?x8xf32>
}

// -----

// A packed copy of a tensor is its own argument, marked with its panel.
// CHECK-LABEL: func.func @packed
// CHECK-SAME: tensor<40x24xbf16> {hybrid.weight = "lm_head.weight"}
// CHECK-SAME: tensor<3x24x16xbf16> {hybrid.packed = 16 : i64, hybrid.weight = "lm_head.weight"}
func.func @packed() -> (tensor<40x24xbf16>, tensor<3x24x16xbf16>) {
  %w = hybrid.weight "lm_head.weight" : tensor<40x24xbf16>
  %p = hybrid.weight "lm_head.weight" packed(16) : tensor<3x24x16xbf16>
  return %w, %p : tensor<40x24xbf16>, tensor<3x24x16xbf16>
}

// -----

// A copy packed in pairs of inputs is marked so too.
// CHECK-LABEL: func.func @packed_pairs
// CHECK-SAME: tensor<3x12x32xbf16> {hybrid.packed = 16 : i64, hybrid.packed_pairs, hybrid.weight = "lm_head.weight"}
func.func @packed_pairs() -> tensor<3x12x32xbf16> {
  %p = hybrid.weight "lm_head.weight" packed(16) pairs : tensor<3x12x32xbf16>
  return %p : tensor<3x12x32xbf16>
}
