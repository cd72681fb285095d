// RUN: hybrid-opt %s --convert-hybrid-to-linalg=max-seq-len=32 --split-input-file | FileCheck %s
// RUN: hybrid-opt %s --convert-hybrid-to-linalg="max-seq-len=32 pack-weights=16 column-workgroups=1" --split-input-file | FileCheck %s --check-prefix=COLUMNS
// RUN: hybrid-opt %s --convert-hybrid-to-linalg="max-seq-len=32 pack-weights=16" --split-input-file | FileCheck %s --check-prefix=VECTOR

// CHECK-LABEL: func.func @embed_bf16_table
// CHECK-SAME: (%[[TOKENS:.*]]: tensor<?xi64>)
// CHECK: %[[TABLE:.*]] = hybrid.weight "model.embed_tokens.weight"
// CHECK: linalg.generic {{.*}} iterator_types = ["parallel", "parallel"]} ins(%[[TOKENS]] : tensor<?xi64>)
// CHECK: %[[ROW:.*]] = arith.index_cast
// CHECK: %[[COL:.*]] = linalg.index 1
// CHECK: %[[ELT:.*]] = tensor.extract %[[TABLE]][%[[ROW]], %[[COL]]] : tensor<16x8xbf16>
// CHECK: arith.extf %[[ELT]] : bf16 to f32
// CHECK-NOT: hybrid.embed
func.func @embed_bf16_table(%tokens: tensor<?xi64>) -> tensor<?x8xf32> {
  %table = hybrid.weight "model.embed_tokens.weight" : tensor<16x8xbf16>
  %h = hybrid.embed %tokens, %table : (tensor<?xi64>, tensor<16x8xbf16>) -> tensor<?x8xf32>
  return %h : tensor<?x8xf32>
}

// -----

// The rows that get logits: the same gather, from an f32 activation (no
// conversion), as many rows as indices.
// CHECK-LABEL: func.func @select_rows
// CHECK-SAME: (%[[H:.*]]: tensor<?x8xf32>, %[[ROWS:.*]]: tensor<?xi64>)
// CHECK: %[[N:.*]] = tensor.dim %[[ROWS]]
// CHECK: %[[INIT:.*]] = tensor.empty(%[[N]]) : tensor<?x8xf32>
// CHECK: linalg.generic {{.*}} iterator_types = ["parallel", "parallel"]} ins(%[[ROWS]] : tensor<?xi64>) outs(%[[INIT]] : tensor<?x8xf32>)
// CHECK: %[[ROW:.*]] = arith.index_cast
// CHECK: %[[COL:.*]] = linalg.index 1
// CHECK: %[[ELT:.*]] = tensor.extract %[[H]][%[[ROW]], %[[COL]]] : tensor<?x8xf32>
// CHECK-NEXT: linalg.yield %[[ELT]] : f32
// CHECK-NOT: hybrid.select_rows
func.func @select_rows(%h: tensor<?x8xf32>, %rows: tensor<?xi64>) -> tensor<?x8xf32> {
  %last = hybrid.select_rows %h, %rows : (tensor<?x8xf32>, tensor<?xi64>) -> tensor<?x8xf32>
  return %last : tensor<?x8xf32>
}

// -----

// The sum of squares is a row reduction; the scale is applied in a second
// parallel generic. zero_centered multiplies by (1 + w).
// CHECK-LABEL: func.func @rms_norm_zero_centered
// CHECK: %[[SUMS:.*]] = linalg.generic {{.*}} iterator_types = ["parallel", "reduction"]
// CHECK: linalg.generic {{.*}} iterator_types = ["parallel", "parallel"]} ins(%{{.*}}, %[[SUMS]], %{{.*}} : tensor<?x8xf32>, tensor<?xf32>, tensor<8xbf16>)
// CHECK: math.rsqrt
// CHECK: %[[W:.*]] = arith.extf %{{.*}} : bf16 to f32
// CHECK: arith.addf %{{.*}}, %[[W]] : f32
func.func @rms_norm_zero_centered(%x: tensor<?x8xf32>) -> tensor<?x8xf32> {
  %w = hybrid.weight "n" : tensor<8xbf16>
  %y = hybrid.rms_norm zero_centered %x, %w {epsilon = 1.0e-06 : f64} : (tensor<?x8xf32>, tensor<8xbf16>) -> tensor<?x8xf32>
  return %y : tensor<?x8xf32>
}

// -----

// gated: w * r(x) * silu(gate), silu spelled x / (1 + exp(-x)).
// CHECK-LABEL: func.func @rms_norm_gated
// CHECK: linalg.generic {{.*}} ins(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} : tensor<?x8xf32>, tensor<?xf32>, tensor<8xf32>, tensor<?x8xf32>)
// CHECK: math.rsqrt
// CHECK: math.exp
// CHECK: arith.divf
func.func @rms_norm_gated(%x: tensor<?x8xf32>, %z: tensor<?x8xf32>) -> tensor<?x8xf32> {
  %w = hybrid.weight "n" : tensor<8xf32>
  %y = hybrid.rms_norm gated %x, %w gate %z {epsilon = 1.0e-06 : f64} : (tensor<?x8xf32>, tensor<8xf32>, tensor<?x8xf32>) -> tensor<?x8xf32>
  return %y : tensor<?x8xf32>
}

// -----

// A linear layer on the checkpoint's [out, in] layout: a parallel loop over
// 4 x 4 register tiles of (tokens, outputs). A full tile reads 4 rows of x
// and 4 rows of W (extended to f32) 8 columns at a time into 16 vector
// FMAs, reduces each sum and adds the leftover columns; an edge tile runs
// one reassociable dot product per (token, output).
// CHECK-LABEL: func.func @lm_head
// CHECK-SAME: (%[[X:.*]]: tensor<?x8xf32>)
// CHECK: %[[W:.*]] = hybrid.weight "lm_head.weight" : tensor<32x8xf16>
// CHECK: %[[Y:.*]] = memref.alloc(%{{.*}}) : memref<?x32xf32>
// CHECK: scf.parallel
// CHECK: scf.if
// CHECK: scf.for {{.*}} -> (vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>)
// CHECK-COUNT-4: vector.transfer_read %[[X]]{{.*}} : tensor<?x8xf32>, vector<8xf32>
// CHECK: vector.transfer_read %[[W]]{{.*}} : tensor<32x8xf16>, vector<8xf16>
// CHECK: arith.extf %{{.*}} : vector<8xf16> to vector<8xf32>
// CHECK-COUNT-16: vector.fma
// CHECK: vector.reduction <add>, %{{.*}} fastmath<reassoc,contract> : vector<8xf32> into f32
// CHECK: arith.addf {{.*}} fastmath<reassoc,contract> : f32
// CHECK: memref.store %{{.*}}, %[[Y]]
// CHECK: } else {
// CHECK: scf.for
// CHECK: scf.for
// CHECK: tensor.extract %[[X]]
// CHECK: tensor.extract %[[W]]
// CHECK: arith.mulf {{.*}} fastmath<reassoc,contract> : f32
// CHECK: memref.store %{{.*}}, %[[Y]]
// CHECK: bufferization.to_tensor %[[Y]] restrict writable
func.func @lm_head(%x: tensor<?x8xf32>) -> tensor<?x32xf32> {
  %w = hybrid.weight "lm_head.weight" : tensor<32x8xf16>
  %l = hybrid.lm_head %x, %w : (tensor<?x8xf32>, tensor<32x8xf16>) -> tensor<?x32xf32>
  return %l : tensor<?x32xf32>
}

// -----

// SwiGLU: two projections, silu(gate) * up, the down projection.
// CHECK-LABEL: func.func @mlp_swiglu
// CHECK: tensor.extract %{{.*}} : tensor<12x8xf32>
// CHECK: %[[GATE:.*]] = bufferization.to_tensor %{{.*}} : memref<?x12xf32> to tensor<?x12xf32>
// CHECK: tensor.extract %{{.*}} : tensor<12x8xf32>
// CHECK: %[[UP:.*]] = bufferization.to_tensor %{{.*}} : memref<?x12xf32> to tensor<?x12xf32>
// CHECK: %[[ACT:.*]] = linalg.generic {{.*}} ins(%[[GATE]], %[[UP]] : tensor<?x12xf32>, tensor<?x12xf32>)
// CHECK: math.exp
// CHECK: tensor.extract %[[ACT]]
// CHECK: tensor.extract %{{.*}} : tensor<8x12xf32>
// CHECK-NOT: hybrid.mlp
func.func @mlp_swiglu(%x: tensor<?x8xf32>) -> tensor<?x8xf32> {
  %g = hybrid.weight "gate" : tensor<12x8xf32>
  %u = hybrid.weight "up" : tensor<12x8xf32>
  %d = hybrid.weight "down" : tensor<8x12xf32>
  %y = hybrid.mlp %x gate_proj(%g) up_proj(%u) down_proj(%d) : (tensor<?x8xf32>, tensor<12x8xf32>, tensor<12x8xf32>, tensor<8x12xf32>) -> tensor<?x8xf32>
  return %y : tensor<?x8xf32>
}

// -----

// The KV cache handle becomes the [2, max-seq-len, kv_heads, head_dim]
// buffer; keys and values are stored at each token's position, then every
// query head reads positions 0..its own.
// CHECK-LABEL: func.func @attention_kv_cache
// CHECK-SAME: %[[CACHE:[a-z0-9]+]]: memref<2x32x1x4xbf16>
// CHECK: scf.for
// CHECK: math.cos
// CHECK: arith.truncf %{{.*}} : f32 to bf16
// CHECK: memref.store %{{.*}}, %[[CACHE]]
// CHECK: memref.load %[[CACHE]]
// CHECK: math.exp
// CHECK: bufferization.to_tensor
// CHECK-NOT: hybrid.attention
// The GPU form: a block per (token, KV head) stores its key and value, its
// threads a key element each (then a RoPE pair each, then an element
// each again); decode's block per (token, head, split) loads its query the
// same way (an element, a pair, an element scaled) before a thread per
// cached position scores it.
// The CPU form with a vector width (pack-weights): K and V rows as vectors
// of head_dim, 8 positions a step (their weights one vector exp), then the
// positions left one by one. The 2 heads share their KV head's rows: in
// calls of several tokens a workgroup per block of 8 tokens takes both
// heads of each, 16 queries; when the tokens are one sequence's (more than
// one, without batch slots) they go over the blocks of 16 cached positions
// together, each query that reaches into a block taking it, its state kept
// between blocks (else each token its own blocks). A call of one token
// takes the decode form (flash decoding: its queries, a workgroup per
// split of the positions taking both heads as lanes, the splits combined
// per head); the group and decode kernels take every call, so there is
// no per-head kernel. The group kernel takes its
// tokens (or blocks) in the order 0, n - 1, 1, n - 2, ...: each CPU
// thread's range of workgroups then holds as many late (long) tokens as
// early ones.
// VECTOR-LABEL: func.func @attention_kv_cache
// VECTOR: arith.ceildivui %{{.*}}, %c8
// VECTOR: scf.parallel (%[[W:[a-z0-9]+]], %{{.*}}) = ({{.*}}) to (%{{[0-9]+}}, %c1{{[_0-9]*}})
// VECTOR-NEXT: %[[TWO:.*]] = arith.constant 2 : index
// VECTOR-NEXT: %[[HALF:.*]] = arith.divui %[[W]], %[[TWO]]
// VECTOR: %[[PARITY:.*]] = arith.remui %[[W]],
// VECTOR-NEXT: %[[ODD:.*]] = arith.cmpi ne, %[[PARITY]],
// VECTOR: %[[LAST:.*]] = arith.subi %{{[0-9]+}}, %c1
// VECTOR-NEXT: %[[FROM_END:.*]] = arith.subi %[[LAST]], %[[HALF]]
// VECTOR-NEXT: arith.select %[[ODD]], %[[FROM_END]], %[[HALF]] : index
// VECTOR: %[[ONE_SEQUENCE:.*]] = arith.cmpi ugt, %{{.*}}, %c1
// VECTOR: scf.if %[[ONE_SEQUENCE]]
// VECTOR: scf.for %[[BLOCK:.*]] = %c0{{[_0-9]*}} to %{{.*}} step %c16
// VECTOR: scf.for %[[QUERY:.*]] = %c0{{[_0-9]*}} to %{{.*}} step %c1
// VECTOR: %[[REACHES:.*]] = arith.cmpi ult, %[[BLOCK]], %{{.*}}
// VECTOR: scf.if %[[REACHES]]
// VECTOR: scf.for %{{.*}} step %c8{{[_0-9]*}} iter_args({{.*}}) -> (f32, f32, vector<4xf32>)
// VECTOR: math.exp %{{.*}} : vector<8xf32>
// VECTOR: scf.for %{{.*}} step %c1{{[_0-9]*}} iter_args({{.*}}) -> (f32, f32, vector<4xf32>)
// VECTOR: } else {
// VECTOR: scf.for %{{.*}} step %c16
// VECTOR: scf.for %{{.*}} step %c8{{[_0-9]*}} iter_args({{.*}}) -> (f32, f32, vector<4xf32>)
// VECTOR: scf.parallel ({{.*}}) = ({{.*}}) to (%[[STEPS:[a-z0-9_]+]], %c2{{[_0-9]*}})
// VECTOR: scf.parallel ({{.*}}) = ({{.*}}) to (%[[STEPS]], %c1{{[_0-9]*}}, %c16{{[_0-9]*}})
// VECTOR: scf.parallel ({{.*}}) = ({{.*}}) to (%[[STEPS]], %c2{{[_0-9]*}})
// VECTOR-NOT: to (%{{[a-z0-9_]+}}, %c2{{[_0-9]*}})
// VECTOR: return
// COLUMNS-LABEL: func.func @attention_kv_cache
// COLUMNS-SAME: %[[CACHE:[a-z0-9]+]]: memref<2x32x1x4xbf16>
// COLUMNS: scf.parallel ({{.*}}) = ({{.*}}) to (%{{[a-z0-9_]+}}, %c1{{[_0-9]*}})
// COLUMNS: scf.parallel ({{.*}}) = ({{.*}}) to (%c4{{[_0-9]*}})
// COLUMNS: } {hybrid.cooperative}
// COLUMNS: scf.parallel ({{.*}}) = ({{.*}}) to (%c2{{[_0-9]*}})
// COLUMNS: math.sin
// COLUMNS: } {hybrid.cooperative}
// COLUMNS: scf.parallel ({{.*}}) = ({{.*}}) to (%c4{{[_0-9]*}})
// COLUMNS: memref.store %{{.*}}, %[[CACHE]]
// COLUMNS: memref.store %{{.*}}, %[[CACHE]]
// COLUMNS: } {hybrid.cooperative}
// COLUMNS: scf.parallel ({{.*}}) = ({{.*}}) to (%{{[a-z0-9_]+}}, %c2{{[_0-9]*}}, %c4{{[_0-9]*}})
// COLUMNS: scf.parallel ({{.*}}) = ({{.*}}) to (%c4{{[_0-9]*}})
// COLUMNS: } {hybrid.cooperative}
// COLUMNS: scf.parallel ({{.*}}) = ({{.*}}) to (%c2{{[_0-9]*}})
// COLUMNS: math.sin
// COLUMNS: } {hybrid.cooperative}
// COLUMNS: scf.parallel ({{.*}}) = ({{.*}}) to (%c4{{[_0-9]*}})
// COLUMNS: arith.mulf %{{.*}}, %cst{{[_0-9]*}} : f32
// COLUMNS: } {hybrid.cooperative}
// COLUMNS: scf.parallel ({{.*}}) = ({{.*}}) to (%c8{{[_0-9]*}})
// COLUMNS: memref.load %[[CACHE]]
func.func @attention_kv_cache(%x: tensor<?x8xf32>, %pos: tensor<?xi64>, %kv: !hybrid.kv_cache<1x4xbf16>) -> tensor<?x8xf32> {
  %q = hybrid.weight "q" : tensor<8x8xf32>
  %k = hybrid.weight "k" : tensor<4x8xf32>
  %o = hybrid.weight "o" : tensor<8x8xf32>
  %a = hybrid.attention %x, %pos, %kv q_proj(%q) k_proj(%k) v_proj(%k) o_proj(%o) {head_dim = 4 : i64, num_heads = 2 : i64, num_kv_heads = 1 : i64, rope_theta = 1.0e+04 : f64, rotary_dim = 4 : i64, scale = 5.0e-01 : f64} : (tensor<?x8xf32>, tensor<?xi64>, !hybrid.kv_cache<1x4xbf16>, tensor<8x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>, tensor<8x8xf32>) -> tensor<?x8xf32>
  return %a : tensor<?x8xf32>
}

// -----

// fp8 weights: the byte sign-extended and shifted by 20, masked with
// 0x87F00000 (-2014314496): the 7 bits below the sign at f32's bits 20..26
// and the sign at bit 31 (the value times 2^-120, exactly), times 2^120, NaN
// for S.1111.111 (bits 20..30 of 0x7FF00000 = 2146435072 equal to
// 0x07F00000 = 133169152); times the scale of the (row / 128, col / 128)
// block, rounded to the result type. The kernel carries its block for the
// packed forms.
// CHECK-DAG: #[[ID:.*]] = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
// CHECK-DAG: #[[BLOCK:.*]] = affine_map<(d0, d1, d2) -> (d0, d1 floordiv 128, d2 floordiv 128)>
// CHECK-LABEL: func.func @dequantize_stacked_experts
// CHECK: linalg.generic {indexing_maps = [#[[ID]], #[[BLOCK]], #[[ID]]]
// CHECK-SAME: hybrid.dequantized_block = array<i64: 128, 128>
// CHECK: ^bb0(%[[Q:.*]]: f8E4M3FN, %[[SCALE:.*]]: f32, %{{.*}}: bf16):
// CHECK: %[[BYTE:.*]] = arith.bitcast %[[Q]] : f8E4M3FN to i8
// CHECK: %[[BITS:.*]] = arith.extsi %[[BYTE]] : i8 to i32
// CHECK: %[[SHIFTED:.*]] = arith.shli %[[BITS]], %c20_i32
// CHECK: %[[PLACED:.*]] = arith.andi %[[SHIFTED]], %c-2014314496_i32
// CHECK: %[[F:.*]] = arith.bitcast %[[PLACED]] : i32 to f32
// CHECK: %[[VALUE:.*]] = arith.mulf %[[F]], %cst{{.*}} : f32
// CHECK: %[[MAG:.*]] = arith.andi %[[PLACED]], %c2146435072_i32
// CHECK: %[[NAN:.*]] = arith.cmpi eq, %[[MAG]], %c133169152_i32
// CHECK: %[[DECODED:.*]] = arith.select %[[NAN]], %{{.*}}, %[[VALUE]]
// CHECK: %[[SCALED:.*]] = arith.mulf %[[DECODED]], %[[SCALE]]
// CHECK: arith.truncf %[[SCALED]] : f32 to bf16
// CHECK-NOT: hybrid.dequantize
func.func @dequantize_stacked_experts() -> tensor<2x200x130xbf16> {
  %q = hybrid.weight "e.{e}.weight" experts(2) : tensor<2x200x130xf8E4M3FN>
  %s = hybrid.weight "e.{e}.weight_scale_inv" experts(2) : tensor<2x2x2xf32>
  %w = hybrid.dequantize %q, %s block [128, 128] : (tensor<2x200x130xf8E4M3FN>, tensor<2x2x2xf32>) -> tensor<2x200x130xbf16>
  return %w : tensor<2x200x130xbf16>
}

// -----

// Mamba: conv window and ssm state become buffers; conv, x_proj, the
// dt/B/C norms and the selective scan run per token.
// CHECK-LABEL: func.func @mamba_states
// CHECK-SAME: %[[CONV:[a-z0-9]+]]: memref<12x3xf32>, %[[SSM:[a-z0-9]+]]: memref<12x3xf32>
// CHECK: memref.store %{{.*}}, %[[CONV]]
// CHECK: math.log1p
// CHECK: memref.store %{{.*}}, %[[SSM]]
// CHECK-NOT: hybrid.mamba
func.func @mamba_states(%x: tensor<?x6xf32>, %conv: !hybrid.conv_state<12x3xf32>, %h: !hybrid.recurrent_state<12x3xf32>) -> tensor<?x6xf32> {
  %in = hybrid.weight "in" : tensor<24x6xf32>
  %c = hybrid.weight "conv" : tensor<12x1x4xf32>
  %d = hybrid.weight "d" : tensor<12xf32>
  %xp = hybrid.weight "x_proj" : tensor<8x12xf32>
  %dt = hybrid.weight "dt_proj" : tensor<12x2xf32>
  %a = hybrid.weight "A_log" : tensor<12x3xf32>
  %out = hybrid.weight "out" : tensor<6x12xf32>
  %y = hybrid.mamba %x, %conv, %h in_proj(%in) conv1d(%c) x_proj(%xp) dt_proj(%dt) dt_proj_bias(%d) a_log(%a) d(%d) out_proj(%out) {d_conv = 4 : i64, d_inner = 12 : i64, d_state = 3 : i64, dt_rank = 2 : i64, norm_epsilon = 1.0e-06 : f64} : (tensor<?x6xf32>, !hybrid.conv_state<12x3xf32>, !hybrid.recurrent_state<12x3xf32>, tensor<24x6xf32>, tensor<12x1x4xf32>, tensor<8x12xf32>, tensor<12x2xf32>, tensor<12xf32>, tensor<12x3xf32>, tensor<12xf32>, tensor<6x12xf32>) -> tensor<?x6xf32>
  return %y : tensor<?x6xf32>
}

// -----

// MLA: the latent cache handle becomes [max-seq-len, kv_lora + rope];
// latents and rotated rope keys are stored per position, attention runs in
// the absorbed form over them.
// CHECK-LABEL: func.func @mla_latent_cache
// CHECK-SAME: %[[CACHE:[a-z0-9]+]]: memref<32x10xf32>
// CHECK: memref.store %{{.*}}, %[[CACHE]]
// CHECK: math.sin
// CHECK: memref.load %[[CACHE]]
// CHECK-NOT: hybrid.mla
// The GPU form stores a token's latent and rope key by a block's threads
// (a latent column each, then a rope column, a pair, a column), splits the
// 32 cached positions into 4 splits of 8: the
// absorbed query per (token, head, latent column) to a buffer; a block per
// (token, head, split): the query into the block's buffer by its threads
// (a thread per latent column, per rope column, per rope pair rotating
// it, per rope column scaling it), a thread per position scoring it, the split's
// maximum (a block-wide reduction) and weights, a thread per latent column
// summing the weighted latents, each split writing 6 accumulators, its max
// and its sum (8 floats); in calls of at most 16 tokens the last of a
// (token, head)'s splits to count its arrival combines the splits into the
// latent columns, else a block per (token, head) of a kernel after it
// (workgroups only then); the value rows per (token, head, output).
// COLUMNS-LABEL: func.func @mla_latent_cache
// COLUMNS-SAME: %[[CACHE:[a-z0-9]+]]: memref<32x10xf32>
// COLUMNS: scf.parallel ({{.*}}) = ({{.*}}) to (%{{[a-z0-9_]+}})
// COLUMNS: scf.parallel ({{.*}}) = ({{.*}}) to (%c6{{[_0-9]*}})
// COLUMNS: memref.store %{{.*}}, %[[CACHE]]
// COLUMNS: } {hybrid.cooperative}
// COLUMNS: scf.parallel ({{.*}}) = ({{.*}}) to (%c4{{[_0-9]*}})
// COLUMNS: } {hybrid.cooperative}
// COLUMNS: scf.parallel ({{.*}}) = ({{.*}}) to (%c2{{[_0-9]*}})
// COLUMNS: math.sin
// COLUMNS: } {hybrid.cooperative}
// COLUMNS: scf.parallel ({{.*}}) = ({{.*}}) to (%c4{{[_0-9]*}})
// COLUMNS: memref.store %{{.*}}, %[[CACHE]]
// COLUMNS: } {hybrid.cooperative}
// COLUMNS: %[[Q:.*]] = memref.alloc(%{{.*}}) : memref<?xf32>
// COLUMNS: scf.parallel ({{.*}}) = ({{.*}}) to (%{{[a-z0-9_]+}}, %c2{{[_0-9]*}}, %c6{{[_0-9]*}})
// COLUMNS: memref.store %{{.*}}, %[[Q]]
// COLUMNS: %[[COMBINED:.*]] = memref.alloc(%{{.*}}) : memref<?xf32>
// COLUMNS: %[[FEW:.*]] = arith.cmpi ule, %{{.*}}, %c16{{[_0-9]*}} : index
// COLUMNS: %[[PARTIAL:.*]] = memref.alloc(%{{.*}}) : memref<?xf32>
// COLUMNS: scf.parallel ({{.*}}) = ({{.*}}) to (%{{[a-z0-9_]+}}, %c2{{[_0-9]*}}, %c4{{[_0-9]*}})
// COLUMNS: scf.parallel ({{.*}}) = ({{.*}}) to (%c6{{[_0-9]*}})
// COLUMNS: memref.load %[[Q]]
// COLUMNS: } {hybrid.cooperative}
// COLUMNS: scf.parallel ({{.*}}) = ({{.*}}) to (%c4{{[_0-9]*}})
// COLUMNS: } {hybrid.cooperative}
// COLUMNS: scf.parallel ({{.*}}) = ({{.*}}) to (%c2{{[_0-9]*}})
// COLUMNS: math.sin
// COLUMNS: } {hybrid.cooperative}
// COLUMNS: scf.parallel ({{.*}}) = ({{.*}}) to (%c4{{[_0-9]*}})
// COLUMNS: } {hybrid.cooperative}
// COLUMNS: scf.parallel ({{.*}}) = ({{.*}}) to (%c8{{[_0-9]*}})
// COLUMNS: memref.load %[[CACHE]]
// COLUMNS: } {hybrid.cooperative}
// COLUMNS: scf.parallel ({{.*}}) = ({{.*}}) to (%c8{{[_0-9]*}}) {{.*}} init
// COLUMNS: arith.maximumf
// COLUMNS: math.exp
// COLUMNS: scf.parallel ({{.*}}) = ({{.*}}) to (%c6{{[_0-9]*}})
// COLUMNS: memref.load %[[CACHE]]
// COLUMNS: memref.store %{{.*}}, %[[PARTIAL]]
// COLUMNS: %[[COUNTS:.*]] = memref.get_global @{{.*}}arrivals : memref<32xi32>
// COLUMNS: %[[BEFORE:.*]] = memref.atomic_rmw addi %c1_i32, %[[COUNTS]]
// COLUMNS: arith.cmpi eq, %[[BEFORE]], %c3_i32
// COLUMNS: memref.atomic_rmw assign %c0_i32, %[[COUNTS]]
// COLUMNS: memref.load %[[PARTIAL]]
// COLUMNS: arith.maximumf
// COLUMNS: arith.divf
// COLUMNS: memref.store %{{.*}}, %[[COMBINED]]
// The combine then computes the head's value rows, a thread per output
// (without the prompt's tiles, no kernel of their own).
// COLUMNS: } {hybrid.cooperative}
// COLUMNS-NOT: scf.parallel
// COLUMNS: scf.parallel ({{.*}}) = ({{.*}}) to (%c6{{[_0-9]*}})
// COLUMNS: memref.load %[[COMBINED]]
// COLUMNS: } {hybrid.cooperative}
// COLUMNS: %[[ROWS:.*]] = arith.select %[[FEW]], %c0{{[_0-9]*}}, %{{.*}} : index
// COLUMNS: scf.parallel ({{.*}}) = ({{.*}}) to (%[[ROWS]], %c2{{[_0-9]*}})
// COLUMNS: memref.load %[[PARTIAL]]
// COLUMNS: arith.maximumf
// COLUMNS: math.exp
// COLUMNS: arith.divf
// COLUMNS: memref.store %{{.*}}, %[[COMBINED]]
// COLUMNS: } {hybrid.cooperative}
// COLUMNS-NOT: scf.parallel
// COLUMNS: scf.parallel ({{.*}}) = ({{.*}}) to (%c6{{[_0-9]*}})
// COLUMNS: memref.load %[[COMBINED]]
// COLUMNS: } {hybrid.cooperative}
// COLUMNS-NOT: memref.load %[[COMBINED]]
func.func @mla_latent_cache(%x: tensor<?x16xf32>, %pos: tensor<?xi64>, %c: !hybrid.latent_cache<6x4xf32>) -> tensor<?x16xf32> {
  %q = hybrid.weight "q" : tensor<24x16xf32>
  %kva = hybrid.weight "kv_a" : tensor<10x16xf32>
  %kvan = hybrid.weight "kv_a_norm" : tensor<6xf32>
  %kvb = hybrid.weight "kv_b" : tensor<28x6xf32>
  %o = hybrid.weight "o" : tensor<16x12xf32>
  %y = hybrid.mla %x, %pos, %c q_proj(%q) kv_a_proj_with_mqa(%kva) kv_a_layernorm(%kvan) kv_b_proj(%kvb) o_proj(%o) {kv_lora_rank = 6 : i64, norm_epsilon = 1.0e-06 : f64, num_heads = 2 : i64, q_lora_rank = 0 : i64, qk_nope_head_dim = 8 : i64, qk_rope_head_dim = 4 : i64, rope_theta = 1.0e+04 : f64, scale = 0.3 : f64, v_head_dim = 6 : i64} : (tensor<?x16xf32>, tensor<?xi64>, !hybrid.latent_cache<6x4xf32>, tensor<24x16xf32>, tensor<10x16xf32>, tensor<6xf32>, tensor<28x6xf32>, tensor<16x12xf32>) -> tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}

// -----

// MTP: the concatenation is folded into the contraction; eh_proj is read
// at (o, i) for the embedding half and (o, i + hidden) for the hidden half.
// CHECK-DAG: #[[SECOND:.*]] = affine_map<(d0, d1, d2) -> (d1, d2 + 8)>
// CHECK-LABEL: func.func @mtp_projection
// CHECK: linalg.generic {indexing_maps = [#{{.*}}, #{{.*}}, #{{.*}}, #[[SECOND]], #{{.*}}]
// CHECK-NOT: hybrid.mtp
func.func @mtp_projection(%h: tensor<?x8xf32>, %e: tensor<?x8xf32>) -> tensor<?x8xf32> {
  %n = hybrid.weight "enorm" : tensor<8xf32>
  %p = hybrid.weight "eh_proj" : tensor<8x16xf32>
  %y = hybrid.mtp plain %h, %e enorm(%n) hnorm(%n) eh_proj(%p) {epsilon = 1.0e-06 : f64} : (tensor<?x8xf32>, tensor<?x8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8x16xf32>) -> tensor<?x8xf32>
  return %y : tensor<?x8xf32>
}

// -----

// Gated DeltaNet: conv window and recurrent state become buffers that the
// per-token loop nest reads and advances (bf16 window rounded on store).
// CHECK-LABEL: func.func @gated_delta_net_states
// CHECK-SAME: %[[CONV:[a-z0-9]+]]: memref<20x3xbf16>, %[[STATE:[a-z0-9]+]]: memref<4x3x2xf32>
// CHECK: scf.for
// CHECK: arith.truncf %{{.*}} : f32 to bf16
// CHECK: memref.store %{{.*}}, %[[CONV]]
// CHECK: math.log1p
// CHECK: memref.store %{{.*}}, %[[STATE]]
// CHECK: bufferization.to_tensor
// CHECK-NOT: hybrid.gated_delta_net
func.func @gated_delta_net_states(%x: tensor<?x10xf32>, %conv: !hybrid.conv_state<20x3xbf16>, %s: !hybrid.recurrent_state<4x3x2xf32>) -> tensor<?x10xf32> {
  %qkvz = hybrid.weight "qkvz" : tensor<28x10xf32>
  %ba = hybrid.weight "ba" : tensor<8x10xf32>
  %c = hybrid.weight "conv" : tensor<20x1x4xf32>
  %hv = hybrid.weight "hv" : tensor<4xf32>
  %n = hybrid.weight "norm" : tensor<2xf32>
  %out = hybrid.weight "out" : tensor<10x8xf32>
  %y = hybrid.gated_delta_net %x, %conv, %s in_proj_qkvz(%qkvz) in_proj_ba(%ba) conv1d(%c) dt_bias(%hv) a_log(%hv) norm(%n) out_proj(%out) {conv_kernel = 4 : i64, k_head_dim = 3 : i64, norm_epsilon = 1.0e-06 : f64, num_k_heads = 2 : i64, num_v_heads = 4 : i64, v_head_dim = 2 : i64} : (tensor<?x10xf32>, !hybrid.conv_state<20x3xbf16>, !hybrid.recurrent_state<4x3x2xf32>, tensor<28x10xf32>, tensor<8x10xf32>, tensor<20x1x4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<2xf32>, tensor<10x8xf32>) -> tensor<?x10xf32>
  return %y : tensor<?x10xf32>
}

// -----

// MLA's CPU form with a vector width: latent rows [8 | rope 4] read as
// vectors of 4, the rope key's (column 8) scored with the latent's. In
// calls of several tokens a workgroup takes 8 tokens and the 2 heads
// together: each head's absorbed queries as one product over kv_b's rows
// for the 8 tokens (8 sums of half a weight panel, 4 floats); when the
// call's tokens are one sequence's (more than one, without batch slots)
// each block of 16 cached rows is staged once for the 8 tokens and both
// heads, and each token whose position reaches into it takes it (else
// each token its own blocks); then the value rows' products for the 8
// tokens (8 reductions, each divided by its softmax sum). A call of one
// token takes the decode form (decode-attention.mlir): a kernel of its
// heads' queries, one per split of the cached positions taking both heads
// as lanes over the staged rows, one per head combining the splits.
// VECTOR-LABEL: func.func @mla_vector_rows
// VECTOR-SAME: %[[CACHE:[a-z0-9]+]]: memref<32x12xf32>
// VECTOR: arith.ceildivui %{{.*}}, %c8
// VECTOR: scf.parallel ({{.*}}) = ({{.*}}) to (%{{[a-z0-9_]+}}, %c1{{[_0-9]*}})
// VECTOR: scf.for %{{.*}} = %c0{{[_0-9]*}} to %c2{{[_0-9]*}} step %c1
// VECTOR: scf.for %{{.*}} = %c0{{[_0-9]*}} to %c8{{[_0-9]*}} step %c4
// VECTOR: scf.for {{.*}} -> (vector<4xf32>, vector<4xf32>, vector<4xf32>, vector<4xf32>, vector<4xf32>, vector<4xf32>, vector<4xf32>, vector<4xf32>)
// VECTOR-COUNT-8: vector.fma
// VECTOR: %[[ONE_SEQUENCE:.*]] = arith.cmpi ugt, %{{.*}}, %c1
// VECTOR: scf.if %[[ONE_SEQUENCE]]
// VECTOR: scf.for %{{.*}} = %c0{{[_0-9]*}} to %{{.*}} step %c16
// VECTOR: scf.for %{{.*}} = %c0{{[_0-9]*}} to %c16{{[_0-9]*}} step %c1
// VECTOR: scf.if
// VECTOR: vector.transfer_read %[[CACHE]][%{{.*}}, %c8{{[_0-9]*}}]{{.*}} : memref<32x12xf32>, vector<4xf32>
// VECTOR: } else {
// VECTOR: scf.for %{{.*}} = %c0{{[_0-9]*}} to %{{.*}} step %c1
// VECTOR: tensor.extract
// VECTOR: %[[END:.*]] = arith.addi
// VECTOR: arith.cmpi ugt, %[[END]]
// VECTOR: scf.for {{.*}} = %c0{{[_0-9]*}} to %c12{{[_0-9]*}} step %c4{{.*}} -> (vector<4xf32>, vector<4xf32>, vector<4xf32>, vector<4xf32>, vector<4xf32>, vector<4xf32>, vector<4xf32>, vector<4xf32>)
// VECTOR: math.exp %{{.*}} : vector<16xf32>
// VECTOR: scf.for {{.*}} iter_args({{.*}}) -> (vector<4xf32>, vector<4xf32>)
// VECTOR-COUNT-8: vector.reduction <add>
// VECTOR: arith.divf
// VECTOR: scf.parallel ({{.*}}) = ({{.*}}) to (%[[ALONE:[a-z0-9_]+]], %c2{{[_0-9]*}})
// VECTOR: scf.parallel ({{.*}}) = ({{.*}}) to (%[[ALONE]], %c1{{[_0-9]*}}, %c16{{[_0-9]*}})
// VECTOR: vector.transfer_read %[[CACHE]][%{{.*}}, %c8{{[_0-9]*}}]{{.*}} : memref<32x12xf32>, vector<4xf32>
// VECTOR: scf.parallel ({{.*}}) = ({{.*}}) to (%[[ALONE]], %c2{{[_0-9]*}})
func.func @mla_vector_rows(%x: tensor<?x16xf32>, %pos: tensor<?xi64>, %c: !hybrid.latent_cache<8x4xf32>) -> tensor<?x16xf32> {
  %q = hybrid.weight "q" : tensor<24x16xf32>
  %kva = hybrid.weight "kv_a" : tensor<12x16xf32>
  %kvan = hybrid.weight "kv_a_norm" : tensor<8xf32>
  %kvb = hybrid.weight "kv_b" : tensor<28x8xf32>
  %o = hybrid.weight "o" : tensor<16x12xf32>
  %y = hybrid.mla %x, %pos, %c q_proj(%q) kv_a_proj_with_mqa(%kva) kv_a_layernorm(%kvan) kv_b_proj(%kvb) o_proj(%o) {kv_lora_rank = 8 : i64, norm_epsilon = 1.0e-06 : f64, num_heads = 2 : i64, q_lora_rank = 0 : i64, qk_nope_head_dim = 8 : i64, qk_rope_head_dim = 4 : i64, rope_theta = 1.0e+04 : f64, scale = 0.3 : f64, v_head_dim = 6 : i64} : (tensor<?x16xf32>, tensor<?xi64>, !hybrid.latent_cache<8x4xf32>, tensor<24x16xf32>, tensor<12x16xf32>, tensor<8xf32>, tensor<28x8xf32>, tensor<16x12xf32>) -> tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}

// 3 heads, which no power of two above 1 divides: a workgroup per (token,
// head), its state in registers over all the cached rows.
// VECTOR-LABEL: func.func @mla_vector_rows_odd_heads
// VECTOR-SAME: %[[CACHE:[a-z0-9]+]]: memref<32x12xf32>
// VECTOR: scf.parallel ({{.*}}) = ({{.*}}) to (%{{[a-z0-9_]+}}, %c3{{[_0-9]*}})
// VECTOR-NOT: step %c16
// VECTOR: scf.for %{{.*}} = %c0{{[_0-9]*}} to %{{.*}} step %c8{{[_0-9]*}} iter_args({{.*}}) -> (f32, f32, vector<4xf32>, vector<4xf32>)
// VECTOR: vector.transfer_read %[[CACHE]][%{{.*}}, %c8{{[_0-9]*}}]{{.*}} : memref<32x12xf32>, vector<4xf32>
func.func @mla_vector_rows_odd_heads(%x: tensor<?x16xf32>, %pos: tensor<?xi64>, %c: !hybrid.latent_cache<8x4xf32>) -> tensor<?x16xf32> {
  %q = hybrid.weight "q" : tensor<36x16xf32>
  %kva = hybrid.weight "kv_a" : tensor<12x16xf32>
  %kvan = hybrid.weight "kv_a_norm" : tensor<8xf32>
  %kvb = hybrid.weight "kv_b" : tensor<42x8xf32>
  %o = hybrid.weight "o" : tensor<16x18xf32>
  %y = hybrid.mla %x, %pos, %c q_proj(%q) kv_a_proj_with_mqa(%kva) kv_a_layernorm(%kvan) kv_b_proj(%kvb) o_proj(%o) {kv_lora_rank = 8 : i64, norm_epsilon = 1.0e-06 : f64, num_heads = 3 : i64, q_lora_rank = 0 : i64, qk_nope_head_dim = 8 : i64, qk_rope_head_dim = 4 : i64, rope_theta = 1.0e+04 : f64, scale = 0.3 : f64, v_head_dim = 6 : i64} : (tensor<?x16xf32>, tensor<?xi64>, !hybrid.latent_cache<8x4xf32>, tensor<36x16xf32>, tensor<12x16xf32>, tensor<8xf32>, tensor<42x8xf32>, tensor<16x18xf32>) -> tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}
