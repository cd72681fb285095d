// RUN: hybrid-opt %s --convert-hybrid-to-linalg="max-seq-len=64 pack-weights=16" --canonicalize --cse | FileCheck %s
// RUN: hybrid-opt %s --convert-hybrid-to-linalg="max-seq-len=64 pack-weights=16 max-batch=2" --canonicalize --cse | FileCheck %s --check-prefix=BATCH

// MLA's CPU decode form (a call of one token; with batch slots, a batch of
// them): flash decoding
// (flashDecoding, which GQA's decode takes too: execute-attention.test). A
// kernel per (token, head) writes the absorbed query and the rotated rope query,
// scaled, as the lanes of q^T [token, head group, 16 + 8, 2 heads]; a
// kernel per (token, group of heads, split) takes the split's positions
// (up to 16 splits of whole blocks of 32 positions, split s at workgroup
// s 16 / active splits, so that the few splits of a short context spread
// over the threads and a thread's splits follow each other) over blocks
// of 32 cached rows staged once, the rows two blocks ahead prefetched, the
// latent row being both key and value; a kernel per (token, head) rescales the splits' sums to their
// common maximum, then computes the head's value rows.
// CHECK-LABEL: func.func @mla_decode
// CHECK: %[[ONE:.*]] = arith.cmpi eq, %[[TOKENS:dim[_0-9]*]], %c1 : index
// CHECK: %[[ALONE:.*]] = arith.select %[[ONE]], %[[TOKENS]], %c0 : index
// CHECK: %[[QT:.*]] = memref.alloc(%[[ALONE]]) : memref<?x1x24x2xf32>
// CHECK: scf.parallel (%{{.*}}, %{{.*}}) = (%c0, %c0) to (%[[ALONE]], %c2)
// CHECK: memref.store %{{.*}}, %[[QT]]
// CHECK: %[[ACCS:.*]] = memref.alloc(%[[ALONE]]) : memref<?x16x2x16xf32>
// CHECK: %[[STATS:.*]] = memref.alloc(%[[ALONE]]) : memref<?x16x2x2xf32>
// CHECK: scf.parallel (%[[T:.*]], %[[W:.*]]) = (%c0, %c0) to (%[[ALONE]], %c16)
// CHECK: %[[END:.*]] = arith.addi %{{.*}}, %c1 : index
// CHECK: %[[BLOCKS:.*]] = arith.ceildivui %[[END]], %c32 : index
// CHECK: %[[MOST:.*]] = arith.minui %[[BLOCKS]], %c16 : index
// CHECK: %[[PER_SPLIT:.*]] = arith.ceildivui %[[BLOCKS]], %[[MOST]] : index
// CHECK: %[[SIZE:.*]] = arith.muli %[[PER_SPLIT]], %c32 : index
// CHECK: %[[ACTIVE:.*]] = arith.ceildivui %[[END]], %[[SIZE]] : index
// CHECK: %[[SCALED:.*]] = arith.muli %[[W]], %[[ACTIVE]] : index
// CHECK: %[[SPLIT:.*]] = arith.ceildivui %[[SCALED]], %c16 : index
// CHECK: %[[BACK:.*]] = arith.muli %[[SPLIT]], %c16 : index
// CHECK: %[[HOME:.*]] = arith.divui %[[BACK]], %[[ACTIVE]] : index
// CHECK: %[[MINE:.*]] = arith.cmpi eq, %[[HOME]], %[[W]] : index
// CHECK: %[[ACTIVE_SPLIT:.*]] = arith.cmpi ult, %[[SPLIT]], %[[ACTIVE]] : index
// CHECK: %[[TAKES:.*]] = arith.andi %[[ACTIVE_SPLIT]], %[[MINE]] : i1
// CHECK: scf.if %[[TAKES]] {
// CHECK: %[[BEGIN:.*]] = arith.muli %[[SPLIT]], %[[SIZE]] : index
// CHECK: %[[LIMIT:.*]] = arith.addi %[[BEGIN]], %[[SIZE]] : index
// CHECK: %[[SPAN_END:.*]] = arith.minui %[[END]], %[[LIMIT]] : index
// CHECK: vector.transfer_read %[[QT]][%[[T]], %c0, %{{.*}}, %c0]
// CHECK: scf.for %[[BLOCK:.*]] = %[[BEGIN]] to %[[SPAN_END]] step %c32 {
// The block's rows, and zero rows up to the end of its last score tile
// of 8 rows.
// CHECK-NEXT: %[[LEFT:.*]] = arith.subi %[[SPAN_END]], %[[BLOCK]] : index
// CHECK-NEXT: %[[ROWS:.*]] = arith.minui %[[LEFT]], %c32 : index
// CHECK-NEXT: %[[TILES:.*]] = arith.ceildivui %[[ROWS]], %c8 : index
// CHECK-NEXT: %[[TILED:.*]] = arith.muli %[[TILES]], %c8 : index
// CHECK-NEXT: scf.for %{{.*}} = %c0 to %[[TILED]] step %c1 {
// CHECK: %[[ROW:.*]] = vector.transfer_read %arg2[%{{.*}}, %c0]{{.*}} : memref<64x24xf32>, vector<8xf32>
// CHECK-NEXT: vector.transfer_write %[[ROW]], %[[KEYS:.*]][%{{.*}}, %c0] {{.*}} : vector<8xf32>, memref<32x24xf32>
// The row 64 positions ahead prefetched into L2 (a line of 16 floats at a
// time), up to the token's end, past the split's.
// CHECK: %[[AHEAD:.*]] = arith.addi %{{.*}}, %c64 : index
// CHECK: %[[BEFORE_END:.*]] = arith.cmpi ult, %[[AHEAD]], %[[END]] : index
// CHECK: scf.if %[[BEFORE_END]] {
// CHECK-NEXT: memref.prefetch %arg2[%[[AHEAD]], %c0], read, locality<2>, data : memref<64x24xf32>
// CHECK-NEXT: memref.prefetch %arg2[%[[AHEAD]], %c16], read, locality<2>, data : memref<64x24xf32>
// CHECK-NEXT: }
// The scores: a key element broadcast for the 2 heads' lanes.
// CHECK: memref.load %[[KEYS]]
// CHECK: vector.broadcast %{{.*}} : f32 to vector<2xf32>
// CHECK: vector.fma
// The values read from the staged latent rows.
// CHECK: vector.transfer_read %[[KEYS]][%{{.*}}, %{{.*}}], %{{.*}} : memref<32x24xf32>, vector<2xf32>
// CHECK: vector.fma
// CHECK: vector.transfer_write %{{.*}}, %[[ACCS]][%[[T]], %[[SPLIT]], %{{.*}}, %c0] {{.*}} : vector<16xf32>, memref<?x16x2x16xf32>
// CHECK: memref.store %{{.*}}, %[[STATS]][%[[T]], %[[SPLIT]], %{{.*}}, %c0]
// CHECK: memref.store %{{.*}}, %[[STATS]][%[[T]], %[[SPLIT]], %{{.*}}, %c1]
// CHECK: scf.parallel (%[[CT:.*]], %[[CH:.*]]) = (%c0, %c0) to (%[[ALONE]], %c2)
// CHECK: %[[CSIZE:.*]] = arith.muli %{{.*}}, %c32 : index
// CHECK: %[[CACTIVE:.*]] = arith.ceildivui %{{.*}}, %[[CSIZE]] : index
// CHECK: %[[MAX:.*]] = scf.for %[[S:.*]] = %c0 to %[[CACTIVE]]
// CHECK: memref.load %[[STATS]][%[[CT]], %[[S]], %[[CH]], %c0]
// CHECK: arith.maximumf
// CHECK: %[[TOTAL:.*]] = scf.for %[[S2:.*]] = %c0 to %[[CACTIVE]]
// CHECK: %[[SHIFT:.*]] = arith.subf %{{.*}}, %[[MAX]] : f32
// CHECK: %[[WEIGHT:.*]] = math.exp %[[SHIFT]] : f32
// CHECK: %[[WEIGHTS:.*]] = vector.broadcast %[[WEIGHT]] : f32 to vector<16xf32>
// CHECK: %[[PART:.*]] = vector.transfer_read %[[ACCS]][%[[CT]], %[[S2]], %[[CH]], %c0]
// CHECK: vector.fma %[[PART]], %[[WEIGHTS]], %{{.*}} : vector<16xf32>
// CHECK: %[[PART_SUM:.*]] = memref.load %[[STATS]][%[[CT]], %[[S2]], %[[CH]], %c1]
// CHECK: arith.mulf %[[PART_SUM]], %[[WEIGHT]] : f32
// CHECK: vector.reduction <add>
// CHECK: arith.divf %{{.*}}, %[[TOTAL]] : f32
// The prompt, group and decode kernels take every call: no per-head
// kernel.
// CHECK-NOT: scf.parallel (%{{.*}}, %{{.*}}) = (%c0, %c0) to (%{{.*}}, %c2)
// CHECK: return

// With batch slots the decode kernels take a batch of decode steps too
// (one token of each of several sequences), each token's split reading its
// own slot's latent rows; the group kernel keeps the prompts that the
// expanded form leaves (short ones).
// BATCH-LABEL: func.func @mla_decode
// BATCH-SAME: (%[[X:[a-z0-9]+]]: tensor<?x16xf32>, %{{.*}}: tensor<?xi64>, %[[CACHE:[a-z0-9]+]]: memref<2x64x24xf32>, %[[SLOTS:[a-z0-9]+]]: tensor<?xi64> {hybrid.slots}, %[[SEQ_ARG:[a-z0-9]+]]: tensor<?xi64> {hybrid.sequences}
// BATCH: %[[SEQS:.*]] = tensor.dim %[[SEQ_ARG]], %c0
// BATCH: %[[TOKENS:.*]] = tensor.dim %[[X]], %c0
// BATCH: %[[ONE:.*]] = arith.cmpi eq, %[[TOKENS]], %c1 : index
// BATCH-NEXT: %[[SEVERAL:.*]] = arith.cmpi ne, %[[SEQS]], %c1 : index
// BATCH-NEXT: %[[EACH:.*]] = arith.ori %[[ONE]], %[[SEVERAL]] : i1
// BATCH-NEXT: %[[TAKEN:.*]] = arith.ori %{{.*}}, %[[EACH]] : i1
// BATCH-NEXT: %[[NOT_TAKEN:.*]] = arith.cmpi eq, %[[TAKEN]], %false : i1
// BATCH-NEXT: %[[GROUP:.*]] = arith.andi %{{.*}}, %[[NOT_TAKEN]] : i1
// BATCH: %[[STEPS:.*]] = arith.select %[[EACH]], %[[TOKENS]], %c0 : index
// BATCH: memref.alloc(%[[STEPS]]) : memref<?x1x24x2xf32>
// BATCH: scf.parallel (%[[T:.*]], %{{.*}}) = (%c0, %c0) to (%[[STEPS]], %c16)
// BATCH: %[[S:.*]] = tensor.extract %[[SLOTS]][%[[T]]] : tensor<?xi64>
// BATCH: %[[SLOT:.*]] = arith.index_cast %[[S]] : i64 to index
// BATCH: vector.transfer_read %[[CACHE]][%[[SLOT]], %{{.*}}, %c0]
func.func @mla_decode(%x: tensor<?x16xf32>, %pos: tensor<?xi64>, %c: !hybrid.latent_cache<16x8xf32>) -> tensor<?x16xf32> {
  %q = hybrid.weight "q" : tensor<32x16xf32>
  %kva = hybrid.weight "kv_a" : tensor<24x16xf32>
  %kvan = hybrid.weight "kv_a_norm" : tensor<16xf32>
  %kvb = hybrid.weight "kv_b" : tensor<32x16xf32>
  %o = hybrid.weight "o" : tensor<16x16xf32>
  %y = hybrid.mla %x, %pos, %c q_proj(%q) kv_a_proj_with_mqa(%kva) kv_a_layernorm(%kvan) kv_b_proj(%kvb) o_proj(%o) {kv_lora_rank = 16 : i64, norm_epsilon = 1.0e-06 : f64, num_heads = 2 : i64, q_lora_rank = 0 : i64, qk_nope_head_dim = 8 : i64, qk_rope_head_dim = 8 : i64, rope_theta = 1.0e+04 : f64, scale = 0.25 : f64, v_head_dim = 8 : i64} : (tensor<?x16xf32>, tensor<?xi64>, !hybrid.latent_cache<16x8xf32>, tensor<32x16xf32>, tensor<24x16xf32>, tensor<16xf32>, tensor<32x16xf32>, tensor<16x16xf32>) -> tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}
