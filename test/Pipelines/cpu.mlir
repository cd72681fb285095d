// RUN: hybrid-opt %s --hybrid-cpu-pipeline="max-seq-len=64" | FileCheck %s

// The whole CPU pipeline: weights become arguments, the KV cache a
// [2, 64, kv_heads, head_dim] buffer, parallel loops kernels that the host
// function dispatches, everything ends in the LLVM dialect (no hybrid op is
// left; `hybrid.kernel` marks the kernels).
// CHECK-LABEL: llvm.func @layer(
// CHECK-NOT: {{hybrid\.[a-z_]+ }}
// CHECK-NOT: linalg.
// CHECK: llvm.call @hybrid_run_dispatch
// CHECK: llvm.return
// CHECK: llvm.func @layer_dispatch({{.*}}) attributes {hybrid.kernel
// CHECK: llvm.intr.cos
// CHECK: llvm.mlir.global external @hybrid_executor()
// CHECK: llvm.func internal @hybrid_run_dispatch(
func.func @layer(%x: tensor<?x8xf32>, %pos: tensor<?xi64>, %kv: !hybrid.kv_cache<1x4xf32>) -> tensor<?x8xf32> {
  %q = hybrid.weight "q" : tensor<8x8xf32>
  %k = hybrid.weight "k" : tensor<4x8xf32>
  %o = hybrid.weight "o" : tensor<8x8xf32>
  %n = hybrid.weight "n" : tensor<8xf32>
  %h = hybrid.rms_norm plain %x, %n {epsilon = 1.0e-06 : f64} : (tensor<?x8xf32>, tensor<8xf32>) -> tensor<?x8xf32>
  %a = hybrid.attention %h, %pos, %kv q_proj(%q) k_proj(%k) v_proj(%k) o_proj(%o) {head_dim = 4 : i64, num_heads = 2 : i64, num_kv_heads = 1 : i64, rope_theta = 1.0e+04 : f64, rotary_dim = 4 : i64, scale = 5.0e-01 : f64} : (tensor<?x8xf32>, tensor<?xi64>, !hybrid.kv_cache<1x4xf32>, tensor<8x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>, tensor<8x8xf32>) -> tensor<?x8xf32>
  %r = arith.addf %x, %a : tensor<?x8xf32>
  return %r : tensor<?x8xf32>
}
