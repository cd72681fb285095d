// RUN: hybrid-opt %s --convert-hybrid-to-linalg="max-seq-len=64 pack-weights=16" --canonicalize --cse --split-input-file | FileCheck %s

// The CPU prompt form of attention (head_dim a multiple of half a panel:
// 8 floats here). A call of several tokens of one sequence has a
// workgroup per (block of 16 tokens, pair of heads sharing a KV head): 4
// groups of 8 queries (4 tokens x 2 heads), each query staged as a column
// of its group's q^T [4, 16, 8] (scaled), with its end (position + 1,
// i32). Over blocks of 32 cached positions up to the furthest end, staged
// once, each group reaching into the block takes it: each position's
// scores for its 8 queries are one vector, 8 positions at a time (8
// accumulators, a key element broadcast into each); the online softmax
// runs a lane per query, masking positions at or past its end, its
// maxima and sums in [4, 8] buffers between blocks; the value rows then
// go, weighted, into 8 queries' sums (a broadcast weight each). A call of
// one token takes the decode form (flash decoding: a kernel of the
// queries, one per (token, KV head, split of the positions), one per
// (token, head) combining the splits; execute-attention.test runs it); the
// prompt and decode kernels take every call: no per-head kernel (and,
// without batch slots, no group kernel).
// CHECK-LABEL: func.func @gqa_prompt
// CHECK-DAG: memref.alloca() : memref<4x16x8xf32>
// CHECK-DAG: memref.alloca() : memref<4x8xi32>
// CHECK-DAG: memref.alloca() : memref<4x8x16xf32>
// CHECK: %[[SEVERAL:.*]] = arith.cmpi ugt, %[[TOKENS:.*]], %c1 : index
// CHECK: %[[BLOCKS:.*]] = arith.ceildivui %[[TOKENS]], %c16 : index
// CHECK: %[[PROMPT:.*]] = arith.select %[[SEVERAL]], %[[BLOCKS]], %c0 : index
// CHECK: scf.parallel (%{{.*}}, %{{.*}}) = (%c0, %c0) to (%[[PROMPT]], %c2)
// CHECK: %[[LAST:.*]] = scf.for %{{.*}} = %c0 to %c4 step %c1 iter_args({{.*}}) -> (index)
// CHECK: vector.reduction <maxui>, %{{.*}} : vector<8xi32> into i32
// CHECK: scf.for %[[BEGIN:.*]] = %c0 to %[[LAST]] step %c32 {
// CHECK: scf.for %{{.*}} = %c0 to %c4 step %c1 {
// CHECK: %[[ENDS:.*]] = vector.transfer_read {{.*}} : memref<4x8xi32>, vector<8xi32>
// CHECK: %[[GROUP_END:.*]] = vector.reduction <maxui>, %[[ENDS]] : vector<8xi32> into i32
// CHECK: %[[REACHES:.*]] = arith.cmpi ult, %[[BEGIN]], %{{.*}} : index
// CHECK: scf.if %[[REACHES]] {
// CHECK: scf.for %{{.*}} = %c0 to %{{.*}} step %c8 {
// CHECK: scf.for %{{.*}} = %c0 to %c16 step %c1 iter_args({{.*}}) -> (vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>)
// CHECK: vector.transfer_read {{.*}} : memref<4x16x8xf32>, vector<8xf32>
// CHECK: vector.broadcast %{{.*}} : f32 to vector<8xf32>
// CHECK: vector.fma
// CHECK: %[[INSIDE:.*]] = arith.cmpi ugt, %[[ENDS]], %{{.*}} : vector<8xi32>
// CHECK: arith.select %[[INSIDE]], %{{.*}}, %{{.*}} : vector<8xi1>, vector<8xf32>
// CHECK: vector.transfer_read {{.*}} : memref<4x8xf32>, vector<8xf32>
// CHECK: math.exp %{{.*}} : vector<8xf32>
// CHECK: math.exp %{{.*}} : vector<8xf32>
// CHECK: scf.for %{{.*}} iter_args({{.*}}) -> (vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>)
// CHECK: vector.broadcast %{{.*}} : f32 to vector<8xf32>
// CHECK: vector.fma
// CHECK-NOT: scf.parallel
// CHECK: %[[ONE:.*]] = arith.cmpi eq, %[[TOKENS]], %c1 : index
// CHECK: %[[STEPS:.*]] = arith.select %[[ONE]], %[[TOKENS]], %c0 : index
// CHECK: scf.parallel (%{{.*}}, %{{.*}}) = (%c0, %c0) to (%[[STEPS]], %c4)
// CHECK: scf.parallel (%{{.*}}, %{{.*}}, %{{.*}}) = (%c0, %c0, %c0) to (%[[STEPS]], %c2, %c16)
// CHECK: scf.parallel (%{{.*}}, %{{.*}}) = (%c0, %c0) to (%[[STEPS]], %c4)
// CHECK-NOT: scf.parallel (%{{.*}}, %{{.*}}) = (%c0, %c0) to (%{{.*}}, %c4)
// CHECK: return
func.func @gqa_prompt(%x: tensor<?x8xf32>, %pos: tensor<?xi64>, %kv: !hybrid.kv_cache<2x16xf32>) -> tensor<?x8xf32> {
  %q = hybrid.weight "q" : tensor<64x8xf32>
  %k = hybrid.weight "k" : tensor<32x8xf32>
  %o = hybrid.weight "o" : tensor<8x64xf32>
  %a = hybrid.attention %x, %pos, %kv q_proj(%q) k_proj(%k) v_proj(%k) o_proj(%o) {head_dim = 16 : i64, num_heads = 4 : i64, num_kv_heads = 2 : i64, rope_theta = 1.0e+04 : f64, rotary_dim = 16 : i64, scale = 2.5e-01 : f64} : (tensor<?x8xf32>, tensor<?xi64>, !hybrid.kv_cache<2x16xf32>, tensor<64x8xf32>, tensor<32x8xf32>, tensor<32x8xf32>, tensor<8x64xf32>) -> tensor<?x8xf32>
  return %a : tensor<?x8xf32>
}

// -----

// MLA's CPU prompt form: a prompt of more than 16 tokens (kv_lora_rank
// (nope + v_head_dim) / (2 kv_lora_rank + rope - qk - v_head_dim) = 16 x
// 16 / 16) expands its sequence's cached latents up to its last token
// (call_start + tokens rows: a prompt continuing a sequence expands the
// rows before it too; a workgroup per row copies them as f32) by kv_b,
// packed once more for the linear kernel (the absorbed kernels read it as
// stored), into each head's [k_nope | v] rows; a workgroup per (block of 4
// x 8 tokens, head) then runs the prompt form over keys [k_nope | cached
// rope key] and values v, asking for the rows it will stage two blocks
// ahead in L2 (a head's expanded rows lie a row of every head apart). The
// absorbed group kernel takes the other calls of several tokens.
// CHECK-LABEL: func.func @mla_prompt
// CHECK-SAME: %[[CACHE:[a-z0-9]+]]: memref<64x24xf32>, %[[CALL_START:[a-z0-9]+]]: tensor<?xi64> {hybrid.call_start}
// CHECK-DAG: %[[START:.*]] = tensor.dim %[[CALL_START]], %c0 : tensor<?xi64>
// CHECK-DAG: hybrid.weight "kv_b" : tensor<32x16xf32>
// CHECK-DAG: hybrid.weight "kv_b" packed(16) : tensor<2x16x16xf32>
// CHECK: %[[LONG_ENOUGH:.*]] = arith.cmpi ugt, %[[TOKENS:.*]], %c16 : index
// CHECK: %[[SEVERAL:.*]] = arith.cmpi ugt, %[[TOKENS]], %c1 : index
// CHECK: %[[LONG:.*]] = arith.andi %[[SEVERAL]], %[[LONG_ENOUGH]] : i1
// CHECK: %[[END:.*]] = arith.addi %[[START]], %[[TOKENS]] : index
// CHECK: %[[ROWS:.*]] = arith.select %[[LONG]], %[[END]], %c0 : index
// CHECK: %[[LATENTS:.*]] = memref.alloc(%[[ROWS]]) : memref<?x16xf32>
// CHECK: scf.parallel (%[[ROW:.*]]) = (%c0) to (%[[ROWS]])
// CHECK: vector.transfer_read %[[CACHE]][%[[ROW]], %c0]
// CHECK: vector.transfer_write %{{.*}}, %[[LATENTS]][%[[ROW]], %c0]
// CHECK: %[[EXPANDED:.*]] = memref.alloc(%[[ROWS]]) : memref<?x32xf32>
// CHECK: %[[BLOCKS:.*]] = arith.ceildivui %[[TOKENS]], %c32 : index
// CHECK: %[[PROMPT:.*]] = arith.select %[[LONG]], %[[BLOCKS]], %c0 : index
// CHECK: scf.parallel (%{{.*}}, %{{.*}}) = (%c0, %c0) to (%[[PROMPT]], %c2)
// CHECK-NOT: scf.if
// CHECK: vector.reduction <maxui>
// CHECK: scf.for %{{.*}} step %c32 {
// CHECK: vector.transfer_read %{{.*}} : tensor<?x32xf32>, vector<8xf32>
// CHECK: vector.transfer_read %[[CACHE]]{{.*}} : memref<64x24xf32>, vector<8xf32>
// CHECK: vector.transfer_read %{{.*}} : tensor<?x32xf32>, vector<8xf32>
// CHECK: memref.prefetch %[[EXPANDED]][%{{.*}}, %{{.*}}], read, locality<2>, data : memref<?x32xf32>
// CHECK-NEXT: memref.prefetch %[[CACHE]][%{{.*}}, %c16], read, locality<2>, data : memref<64x24xf32>
// CHECK: %[[ONE:.*]] = arith.cmpi eq, %[[TOKENS]], %c1 : index
// CHECK: %[[TAKEN:.*]] = arith.ori %[[LONG]], %[[ONE]] : i1
// CHECK: %[[NOT_TAKEN:.*]] = arith.cmpi eq, %[[TAKEN]], %false : i1
// CHECK: %[[SHORT:.*]] = arith.andi %[[SEVERAL]], %[[NOT_TAKEN]] : i1
// CHECK: %[[GROUP_BLOCKS:.*]] = arith.ceildivui %[[TOKENS]], %c8 : index
// CHECK: %[[GROUPS:.*]] = arith.select %[[SHORT]], %[[GROUP_BLOCKS]], %c0 : index
// CHECK: scf.parallel (%{{.*}}) = (%c0) to (%[[GROUPS]])
func.func @mla_prompt(%x: tensor<?x16xf32>, %pos: tensor<?xi64>, %c: !hybrid.latent_cache<16x8xf32>) -> tensor<?x16xf32> {
  %q = hybrid.weight "q" : tensor<32x16xf32>
  %kva = hybrid.weight "kv_a" : tensor<24x16xf32>
  %kvan = hybrid.weight "kv_a_norm" : tensor<16xf32>
  %kvb = hybrid.weight "kv_b" : tensor<32x16xf32>
  %o = hybrid.weight "o" : tensor<16x16xf32>
  %y = hybrid.mla %x, %pos, %c q_proj(%q) kv_a_proj_with_mqa(%kva) kv_a_layernorm(%kvan) kv_b_proj(%kvb) o_proj(%o) {kv_lora_rank = 16 : i64, norm_epsilon = 1.0e-06 : f64, num_heads = 2 : i64, q_lora_rank = 0 : i64, qk_nope_head_dim = 8 : i64, qk_rope_head_dim = 8 : i64, rope_theta = 1.0e+04 : f64, scale = 0.25 : f64, v_head_dim = 8 : i64} : (tensor<?x16xf32>, tensor<?xi64>, !hybrid.latent_cache<16x8xf32>, tensor<32x16xf32>, tensor<24x16xf32>, tensor<16xf32>, tensor<32x16xf32>, tensor<16x16xf32>) -> tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}
