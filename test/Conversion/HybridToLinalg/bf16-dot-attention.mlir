// RUN: hybrid-opt %s --convert-hybrid-to-linalg="max-seq-len=64 pack-weights=32 bf16-dot=1" --canonicalize --cse --split-input-file | FileCheck %s
// RUN: hybrid-opt %s --convert-hybrid-to-linalg="max-seq-len=64 pack-weights=32" --canonicalize --cse --split-input-file | FileCheck %s --check-prefix=OFF

// The CPU prompt form of attention over a bf16 KV cache with bf16-dot
// (workgroups of 4 groups of 16 queries: half a panel of 32): the scores
// S^T = K Q^T take two key elements at a time by AVX512-BF16's dot
// product. Each group's q^T columns 2i and 2i + 1 are rounded to bf16 and
// interleaved once ([4, 8, 32]: query q's pair at lanes 2q, 2q + 1); each
// staged block's key rows go back to bf16 ([32, 16], exact: the cache is
// bf16); then per pair of key elements one read of the group's pairs and,
// per position of the 8 of a score tile, the key pair as one 32-bit word
// broadcast, a dot product into its scores.
// P V likewise takes two positions at a time: the staged value rows of
// positions 2i and 2i + 1 rounded (exactly) and interleaved ([16, 32]: a
// block's 32 positions in 16 pairs, 16 columns in pairs), the softmax's
// weights of each pair of positions rounded to bf16 and interleaved, the
// odd count's last pair's second weight zero ([16, 32]: query q's pair at
// 2q, 2q + 1); then per pair of positions one read of the value pairs and,
// per query of the 8 of a value tile, its pair of weights as one 32-bit
// word broadcast, a dot product into its value sums.
// CHECK-LABEL: func.func @bf16_cache_prompt
// CHECK-DAG: %[[WPAIRS:.*]] = memref.alloca() : memref<16x32xbf16>
// CHECK-DAG: %[[VPAIRS:.*]] = memref.alloca() : memref<16x32xbf16>
// CHECK-DAG: %[[KEYPAIRS:.*]] = memref.alloca() : memref<32x16xbf16>
// CHECK-DAG: %[[QPAIRS:.*]] = memref.alloca() : memref<4x8x32xbf16>
// CHECK: %[[PAIR:.*]] = vector.interleave %{{.*}}, %{{.*}} : vector<16xbf16> -> vector<32xbf16>
// CHECK: vector.transfer_write %[[PAIR]], %[[QPAIRS]]
// CHECK: %[[KEY:.*]] = arith.truncf %{{.*}} : vector<16xf32> to vector<16xbf16>
// CHECK: vector.transfer_write %[[KEY]], %[[KEYPAIRS]]
// CHECK: %[[EVEN:.*]] = arith.truncf %{{.*}} : vector<16xf32> to vector<16xbf16>
// CHECK: %[[ODD:.*]] = arith.truncf %{{.*}} : vector<16xf32> to vector<16xbf16>
// CHECK: %[[VPAIR:.*]] = vector.interleave %[[EVEN]], %[[ODD]] : vector<16xbf16> -> vector<32xbf16>
// CHECK: vector.transfer_write %[[VPAIR]], %[[VPAIRS]]
// CHECK: %[[Q:.*]] = vector.transfer_read %[[QPAIRS]]{{.*}} : memref<4x8x32xbf16>, vector<32xbf16>
// CHECK: vector.transfer_read %[[KEYPAIRS]]{{.*}} : memref<32x16xbf16>, vector<2xbf16>
// CHECK: x86vector.avx512.dot %{{.*}}, %{{.*}}, %[[Q]] : vector<32xbf16> -> vector<16xf32>
// CHECK: %[[ODDW:.*]] = arith.select %{{.*}}, %{{.*}}, %{{.*}} : vector<16xf32>
// CHECK: %[[ODDWB:.*]] = arith.truncf %[[ODDW]] : vector<16xf32> to vector<16xbf16>
// CHECK: %[[EVENWB:.*]] = arith.truncf %{{.*}} : vector<16xf32> to vector<16xbf16>
// CHECK: %[[WPAIR:.*]] = vector.interleave %[[EVENWB]], %[[ODDWB]] : vector<16xbf16> -> vector<32xbf16>
// CHECK: vector.transfer_write %[[WPAIR]], %[[WPAIRS]]
// CHECK: %[[V:.*]] = vector.transfer_read %[[VPAIRS]]{{.*}} : memref<16x32xbf16>, vector<32xbf16>
// CHECK: vector.transfer_read %[[WPAIRS]]{{.*}} : memref<16x32xbf16>, vector<2xbf16>
// CHECK: x86vector.avx512.dot %{{.*}}, %{{.*}}, %[[V]] : vector<32xbf16> -> vector<16xf32>
// OFF-LABEL: func.func @bf16_cache_prompt
// OFF-NOT: x86vector.avx512.dot
// OFF-NOT: memref<32x16xbf16>
// OFF-NOT: memref<4x8x32xbf16>
// OFF-NOT: memref<16x32xbf16>
func.func @bf16_cache_prompt(%x: tensor<?x8xf32>, %pos: tensor<?xi64>, %kv: !hybrid.kv_cache<2x16xbf16>) -> tensor<?x8xf32> {
  %q = hybrid.weight "q" : tensor<64x8xf32>
  %k = hybrid.weight "k" : tensor<32x8xf32>
  %o = hybrid.weight "o" : tensor<8x64xf32>
  %a = hybrid.attention %x, %pos, %kv q_proj(%q) k_proj(%k) v_proj(%k) o_proj(%o) {head_dim = 16 : i64, num_heads = 4 : i64, num_kv_heads = 2 : i64, rope_theta = 1.0e+04 : f64, rotary_dim = 16 : i64, scale = 2.5e-01 : f64} : (tensor<?x8xf32>, tensor<?xi64>, !hybrid.kv_cache<2x16xbf16>, tensor<64x8xf32>, tensor<32x8xf32>, tensor<32x8xf32>, tensor<8x64xf32>) -> tensor<?x8xf32>
  return %a : tensor<?x8xf32>
}

// -----

// An f32 cache keeps f32 scores (its keys are not bf16).
// CHECK-LABEL: func.func @f32_cache_prompt
// CHECK-NOT: x86vector.avx512.dot
// CHECK: return
func.func @f32_cache_prompt(%x: tensor<?x8xf32>, %pos: tensor<?xi64>, %kv: !hybrid.kv_cache<2x16xf32>) -> tensor<?x8xf32> {
  %q = hybrid.weight "q" : tensor<64x8xf32>
  %k = hybrid.weight "k" : tensor<32x8xf32>
  %o = hybrid.weight "o" : tensor<8x64xf32>
  %a = hybrid.attention %x, %pos, %kv q_proj(%q) k_proj(%k) v_proj(%k) o_proj(%o) {head_dim = 16 : i64, num_heads = 4 : i64, num_kv_heads = 2 : i64, rope_theta = 1.0e+04 : f64, rotary_dim = 16 : i64, scale = 2.5e-01 : f64} : (tensor<?x8xf32>, tensor<?xi64>, !hybrid.kv_cache<2x16xf32>, tensor<64x8xf32>, tensor<32x8xf32>, tensor<32x8xf32>, tensor<8x64xf32>) -> tensor<?x8xf32>
  return %a : tensor<?x8xf32>
}
