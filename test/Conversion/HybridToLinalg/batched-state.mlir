// RUN: hybrid-opt %s --convert-hybrid-to-linalg="max-seq-len=32 max-batch=3" --split-input-file --verify-diagnostics | FileCheck %s
// RUN: not hybrid-opt %s --convert-hybrid-to-linalg=max-batch=0 --split-input-file 2>&1 | FileCheck %s --check-prefix=ZERO
// ZERO: convert-hybrid-to-linalg: max-batch must be positive, got 0

// With max-batch 3 every state buffer gets a leading [3] dimension and the
// function a trailing `slots` argument: token t stores its key and value at
// slot slots[t] and attends to that slot's positions.

// CHECK-LABEL: func.func @attention_batched
// CHECK-SAME: %[[CACHE:[a-z0-9]+]]: memref<3x2x32x1x4xbf16>
// CHECK-SAME: %[[SLOTS:[a-z0-9]+]]: tensor<?xi64> {hybrid.slots}
// CHECK: scf.parallel
// CHECK: %[[S:.*]] = tensor.extract %[[SLOTS]]
// CHECK: %[[SLOT:.*]] = arith.index_cast %[[S]] : i64 to index
// CHECK: memref.store %{{.*}}, %[[CACHE]][%[[SLOT]],
// CHECK: scf.parallel
// CHECK: memref.load %[[CACHE]][%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}] : memref<3x2x32x1x4xbf16>
func.func @attention_batched(%x: tensor<?x8xf32>, %pos: tensor<?xi64>, %kv: !hybrid.kv_cache<1x4xbf16>) -> tensor<?x8xf32> {
  %q = hybrid.weight "q" : tensor<8x8xf32>
  %k = hybrid.weight "k" : tensor<4x8xf32>
  %o = hybrid.weight "o" : tensor<8x8xf32>
  %a = hybrid.attention %x, %pos, %kv q_proj(%q) k_proj(%k) v_proj(%k) o_proj(%o) {head_dim = 4 : i64, num_heads = 2 : i64, num_kv_heads = 1 : i64, rope_theta = 1.0e+04 : f64, rotary_dim = 4 : i64, scale = 5.0e-01 : f64} : (tensor<?x8xf32>, tensor<?xi64>, !hybrid.kv_cache<1x4xbf16>, tensor<8x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>, tensor<8x8xf32>) -> tensor<?x8xf32>
  return %a : tensor<?x8xf32>
}

// -----

// A function without state gets no slots argument.
// CHECK-LABEL: func.func @stateless(%{{.*}}: tensor<?x8xf32>) -> tensor<?x8xf32>
func.func @stateless(%x: tensor<?x8xf32>) -> tensor<?x8xf32> {
  %w = hybrid.weight "n" : tensor<8xf32>
  %y = hybrid.rms_norm plain %x, %w {epsilon = 1.0e-06 : f64} : (tensor<?x8xf32>, tensor<8xf32>) -> tensor<?x8xf32>
  return %y : tensor<?x8xf32>
}

// -----

// The slots argument would be missing at a call: refused.
// expected-error @+1 {{max-batch > 1 adds slots and sequences arguments, but this function with state is called in the module}}
func.func @called(%x: tensor<?x8xf32>, %pos: tensor<?xi64>, %kv: !hybrid.kv_cache<1x4xf32>) -> tensor<?x8xf32> {
  return %x : tensor<?x8xf32>
}
func.func @caller(%x: tensor<?x8xf32>, %pos: tensor<?xi64>, %kv: !hybrid.kv_cache<1x4xf32>) -> tensor<?x8xf32> {
  %y = call @called(%x, %pos, %kv) : (tensor<?x8xf32>, tensor<?xi64>, !hybrid.kv_cache<1x4xf32>) -> tensor<?x8xf32>
  return %y : tensor<?x8xf32>
}
