// RUN: hybrid-opt %s --hybrid-cpu-pipeline="max-seq-len=64" | FileCheck %s --check-prefix=EXPANDED
// RUN: hybrid-opt %s --hybrid-cpu-pipeline="max-seq-len=64 native-bf16=1" | FileCheck %s --check-prefix=NATIVE

// A layer with a bf16 KV cache: the keys and values are rounded to bf16 as
// they are stored. By default in integer arithmetic (arith-expand: round to
// nearest even, NaN kept a NaN), as x86-64-v3 and -v4 have no instruction
// for it and LLVM would call compiler-rt's __truncsfbf2; with native-bf16
// (hybridc --cpu native on a CPU with AVX512-BF16 or AVX-NE-CONVERT) the
// truncation stays one, for LLVM to select vcvtneps2bf16.
// EXPANDED-LABEL: llvm.func @layer__kv_store(
// EXPANDED-NOT: llvm.fptrunc {{.*}} to bf16
// EXPANDED: llvm.mlir.constant(32767 : i32)
// EXPANDED: llvm.lshr
// EXPANDED: llvm.trunc {{.*}} : i32 to i16
// EXPANDED-NOT: llvm.fptrunc {{.*}} to bf16
// NATIVE-LABEL: llvm.func @layer__kv_store(
// NATIVE-NOT: llvm.mlir.constant(32767 : i32)
// NATIVE: llvm.fptrunc {{.*}} : f32 to bf16
// NATIVE: llvm.store {{.*}} : bf16, !llvm.ptr
func.func @layer(%x: tensor<?x8xf32>, %pos: tensor<?xi64>, %kv: !hybrid.kv_cache<1x4xbf16>) -> tensor<?x8xf32> {
  %q = hybrid.weight "q" : tensor<8x8xf32>
  %k = hybrid.weight "k" : tensor<4x8xf32>
  %o = hybrid.weight "o" : tensor<8x8xf32>
  %a = hybrid.attention %x, %pos, %kv q_proj(%q) k_proj(%k) v_proj(%k) o_proj(%o) {head_dim = 4 : i64, num_heads = 2 : i64, num_kv_heads = 1 : i64, rope_theta = 1.0e+04 : f64, rotary_dim = 4 : i64, scale = 5.0e-01 : f64} : (tensor<?x8xf32>, tensor<?xi64>, !hybrid.kv_cache<1x4xbf16>, tensor<8x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>, tensor<8x8xf32>) -> tensor<?x8xf32>
  return %a : tensor<?x8xf32>
}
