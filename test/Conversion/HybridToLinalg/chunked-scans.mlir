// RUN: hybrid-opt %s --split-input-file --convert-hybrid-to-linalg --canonicalize --cse | FileCheck %s
// RUN: hybrid-opt %s --split-input-file --convert-hybrid-to-linalg=max-batch=2 --canonicalize --cse | FileCheck %s --check-prefix=BATCHED
// RUN: hybrid-opt %s --split-input-file --convert-hybrid-to-linalg="pack-weights=16 column-workgroups=1" --canonicalize --cse | FileCheck %s --check-prefix=GPU
// RUN: hybrid-opt %s --split-input-file --convert-hybrid-to-linalg="pack-weights=16 column-workgroups=1 max-batch=2" --canonicalize --cse | FileCheck %s --check-prefix=GPU-BATCHED
// RUN: sed 's/chunk_size = 16/chunk_size = 128/' %s | not hybrid-opt --split-input-file --convert-hybrid-to-linalg="pack-weights=16 column-workgroups=1" 2>&1 | FileCheck %s --check-prefix=TOO-BIG

// The lowering of chunk_size (set by hybrid-tile-scans): per value head, a
// call of several tokens walks chunks of 16 with C x C scratch matrices;
// anything else (decode) runs the token-by-token recurrence.
// CHECK-LABEL: func.func @gated_delta_net_chunked
// CHECK-DAG: memref.alloca() : memref<256xf32>
// CHECK-DAG: %[[T:.*]] = tensor.dim %arg0, %c0
// CHECK: scf.parallel (%{{.*}}) = (%c0) to (%c4)
// CHECK: %[[SEVERAL:.*]] = arith.cmpi ugt, %[[T]], %c1 : index
// CHECK: scf.if %[[SEVERAL]] {
// CHECK: %[[CHUNKS:.*]] = arith.ceildivui %[[T]], %c16 : index
// CHECK-NEXT: scf.for %[[CHUNK:.*]] = %c0 to %[[CHUNKS]]
// CHECK: arith.minui %{{.*}}, %c16 : index
// CHECK: } else {
// CHECK: scf.for %{{.*}} = %c0 to %[[T]]
// With batched state, only a call of one sequence (the size of the
// `hybrid.sequences` argument, which the runtime passes: the plan cannot
// read the slots on a GPU) is chunked.
// BATCHED-LABEL: func.func @gated_delta_net_chunked
// BATCHED-SAME: %[[SLOTS:[a-z0-9]+]]: tensor<?xi64> {hybrid.slots}, %[[SEQS:[a-z0-9]+]]: tensor<?xi64> {hybrid.sequences}
// BATCHED: %[[COUNT:.*]] = tensor.dim %[[SEQS]], %c0
// BATCHED: scf.parallel
// BATCHED: %[[SEVERAL:.*]] = arith.cmpi ugt
// BATCHED-NEXT: %[[ONE:.*]] = arith.cmpi eq, %[[COUNT]], %c1
// BATCHED-NEXT: %[[CHUNKED:.*]] = arith.andi %[[SEVERAL]], %[[ONE]] : i1
// BATCHED: scf.if %[[CHUNKED]] {

// The GPU form: the plan launches either the step-by-step recurrence (a
// single token) or a workgroup per head walking the chunks (several), the
// other kernel with no workgroups. The recurrence is a workgroup per head
// whose token steps are cooperative loops: q's and k's sums of squares
// (block reductions) and normalisation, per state column the decay,
// update and output, the gated norm's sum of squares and output. A chunk's
// steps are
// cooperative loops that the workgroup's threads share: per row (gates,
// normalised q and k, beta v), per row (cumulative decays, beta e^G k),
// per (row, row) (the masked scores and L), per column of U|W (forward
// substitution), per row (e^{G_last - G_r}), per (row, value column)
// (V' = U - W S, then the outputs), per state entry (the update). The
// chunk's buffers are the workgroup's: q and k rows padded to 7, U|W to
// 17. The gated norm runs after the chunks, per (token, head), with
// workgroups only then.
// GPU-LABEL: func.func @gated_delta_net_chunked
// GPU-DAG: %[[T:.*]] = tensor.dim %arg0, %c0
// GPU-DAG: %[[UW:.*]] = memref.alloca() : memref<272xf32>
// GPU-DAG: %[[K:.*]] = memref.alloca() : memref<112xf32>
// GPU: %[[SEVERAL:.*]] = arith.cmpi ugt, %[[T]], %c1 : index
// GPU: %[[STEP_HEADS:.*]] = arith.select %[[SEVERAL]], %c0, %c4 : index
// GPU: scf.parallel (%[[H:.*]]) = (%c0) to (%[[STEP_HEADS]])
// GPU: scf.for %[[TOKEN:.*]] = %c0 to %[[T]]
// GPU: scf.parallel (%{{.*}}) = (%c0) to (%c6) step (%c1) init (%{{.*}}) -> f32
// GPU: } {hybrid.cooperative}
// GPU: math.rsqrt
// GPU: scf.parallel (%{{.*}}) = (%c0) to (%c6)
// GPU: } {hybrid.cooperative}
// GPU: scf.parallel (%{{.*}}) = (%c0) to (%c6) step (%c1) init (%{{.*}}) -> f32
// GPU: } {hybrid.cooperative}
// GPU: math.rsqrt
// GPU: scf.parallel (%{{.*}}) = (%c0) to (%c6)
// GPU: } {hybrid.cooperative}
// GPU: scf.parallel (%[[J:.*]]) = (%c0) to (%c10)
// GPU: memref.store %{{.*}}, %arg2[%[[H]], %{{.*}}, %[[J]]] : memref<4x6x10xf32>
// GPU: } {hybrid.cooperative}
// GPU: scf.parallel (%{{.*}}) = (%c0) to (%c10) step (%c1) init (%{{.*}}) -> f32
// GPU: } {hybrid.cooperative}
// GPU: math.rsqrt
// GPU: scf.parallel (%[[J2:.*]]) = (%c0) to (%c10)
// GPU: memref.store %{{.*}}, %{{.*}}[%[[TOKEN]], %{{.*}}] : memref<?x40xf32>
// GPU: } {hybrid.cooperative}
// GPU: %[[CHUNK_HEADS:.*]] = arith.select %[[SEVERAL]], %c4, %c0 : index
// GPU: scf.parallel (%{{.*}}) = (%c0) to (%[[CHUNK_HEADS]])
// GPU: %[[CHUNKS:.*]] = arith.ceildivui %[[T]], %c16 : index
// GPU: scf.for %{{.*}} = %c0 to %[[CHUNKS]]
// GPU: %[[ROWS:.*]] = arith.minui %{{.*}}, %c16 : index
// GPU: scf.parallel (%{{.*}}) = (%c0) to (%[[ROWS]])
// GPU: } {hybrid.cooperative}
// GPU: scf.parallel (%{{.*}}) = (%c0) to (%[[ROWS]])
// GPU: memref.store %{{.*}}, %[[UW]]
// GPU: } {hybrid.cooperative}
// GPU: scf.parallel (%[[R:.*]], %[[S:.*]]) = (%c0, %c0) to (%[[ROWS]], %[[ROWS]])
// GPU: arith.cmpi ule, %[[S]], %[[R]]
// GPU: } {hybrid.cooperative}
// GPU: scf.parallel (%{{.*}}) = (%c0) to (%c16)
// GPU: scf.for %{{.*}} = %c1 to %[[ROWS]]
// GPU: } {hybrid.cooperative}
// GPU: scf.parallel (%{{.*}}) = (%c0) to (%[[ROWS]])
// GPU: } {hybrid.cooperative}
// GPU: scf.parallel (%{{.*}}, %{{.*}}) = (%c0, %c0) to (%[[ROWS]], %c10)
// GPU: memref.load %arg2
// GPU: } {hybrid.cooperative}
// GPU: scf.parallel (%{{.*}}, %{{.*}}) = (%c0, %c0) to (%[[ROWS]], %c10)
// GPU: } {hybrid.cooperative}
// GPU: scf.parallel (%{{.*}}, %{{.*}}) = (%c0, %c0) to (%c6, %c10)
// GPU: memref.load %[[K]]
// GPU: memref.store %{{.*}}, %arg2
// GPU: } {hybrid.cooperative}
// GPU: %[[NORM_TOKENS:.*]] = arith.select %[[SEVERAL]], %[[T]], %c0 : index
// GPU: scf.parallel (%{{.*}}, %{{.*}}) = (%c0, %c0) to (%[[NORM_TOKENS]], %c4)
// GPU-NOT: hybrid.cooperative
// GPU: return
// With batch slots, the window-form conv kernel runs for a prompt only
// (several tokens of one sequence): decode's delta rule blocks convolve
// the rest, a batch of decode steps (one token of each of several
// sequences) included. Those take a workgroup per (token, value head),
// their recurrences being independent; a call of one sequence a workgroup
// per head walking its tokens. The last of a k-head's blocks to finish
// moves its q and k conv state: an arrival count per (slot, k-head).
// GPU-BATCHED-LABEL: func.func @gated_delta_net_chunked
// GPU-BATCHED-SAME: %[[SLOTS:[a-z0-9]+]]: tensor<?xi64> {hybrid.slots}, %[[SEQS:[a-z0-9]+]]: tensor<?xi64> {hybrid.sequences}
// GPU-BATCHED: %[[COUNT:.*]] = tensor.dim %[[SEQS]], %c0
// GPU-BATCHED: %[[T:.*]] = tensor.dim %arg0, %c0
// GPU-BATCHED: %[[ONE_TOKEN:.*]] = arith.cmpi eq, %[[T]], %c1 : index
// GPU-BATCHED-NEXT: %[[MANY:.*]] = arith.cmpi ne, %[[COUNT]], %c1 : index
// GPU-BATCHED-NEXT: %[[ALONE:.*]] = arith.ori %[[ONE_TOKEN]], %[[MANY]] : i1
// GPU-BATCHED-NEXT: %[[CONV_TOKENS:.*]] = arith.select %[[ALONE]], %c0, %[[T]] : index
// GPU-BATCHED: scf.parallel (%{{.*}}, %{{.*}}) = (%c0, %c0) to (%[[CONV_TOKENS]], %c64)
// GPU-BATCHED: %[[GROUPS:.*]] = arith.select %[[ONE_SEQ:.*]], %c1, %[[T]] : index
// GPU-BATCHED: scf.parallel (%[[FIRST:.*]], %{{.*}}) = (%c0, %c0) to (%[[GROUPS]], %{{.*}})
// GPU-BATCHED-NEXT: %[[NEXT:.*]] = arith.addi %[[FIRST]], %c1 : index
// GPU-BATCHED-NEXT: %[[END:.*]] = arith.select %[[ONE_SEQ]], %[[T]], %[[NEXT]] : index
// GPU-BATCHED: scf.for %{{.*}} = %[[FIRST]] to %[[END]] step %c1
// GPU-BATCHED: memref.store %{{.*}}, %arg1[%{{.*}}, %{{.*}}, %{{.*}}] : memref<2x64x3xf32>
// GPU-BATCHED: } {hybrid.cooperative}
// GPU-BATCHED-NEXT: %[[SLOT_I64:.*]] = tensor.extract %[[SLOTS]][%[[FIRST]]] : tensor<?xi64>
// GPU-BATCHED-NEXT: %[[SLOT:.*]] = arith.index_cast %[[SLOT_I64]] : i64 to index
// GPU-BATCHED-NEXT: %[[SLOT_HEADS:.*]] = arith.muli %[[SLOT]], %c2 : index
// GPU-BATCHED-NEXT: %[[UNIT:.*]] = arith.addi %[[SLOT_HEADS]], %{{.*}} : index
// GPU-BATCHED: memref.atomic_rmw addi %{{.*}}, %{{.*}}[%[[UNIT]]] : (i32, memref<4xi32>) -> i32
// A chunk whose buffers outgrow a GPU block's shared memory.
// TOO-BIG: error: 'hybrid.gated_delta_net' op chunk_size 128 needs 148992 bytes of a GPU block's shared memory (key heads of 6, 10 state columns per block); the block form holds 49152: chunks of at most 70 tokens fit (--scan-chunk-size)

func.func @gated_delta_net_chunked(%x: tensor<?x44xf32>, %conv: !hybrid.conv_state<64x3xf32>, %rec: !hybrid.recurrent_state<4x6x10xf32>, %qkvz: tensor<104x44xf32>, %ba: tensor<8x44xf32>, %c: tensor<64x1x4xf32>, %dtb: tensor<4xf32>, %alog: tensor<4xf32>, %n: tensor<10xf32>, %out: tensor<44x40xf32>) -> tensor<?x44xf32> {
  %y = hybrid.gated_delta_net %x, %conv, %rec in_proj_qkvz(%qkvz) in_proj_ba(%ba) conv1d(%c) dt_bias(%dtb) a_log(%alog) norm(%n) out_proj(%out) {conv_kernel = 4 : i64, k_head_dim = 6 : i64, norm_epsilon = 1.0e-06 : f64, chunk_size = 16 : i64, num_k_heads = 2 : i64, num_v_heads = 4 : i64, v_head_dim = 10 : i64} : (tensor<?x44xf32>, !hybrid.conv_state<64x3xf32>, !hybrid.recurrent_state<4x6x10xf32>, tensor<104x44xf32>, tensor<8x44xf32>, tensor<64x1x4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<10xf32>, tensor<44x40xf32>) -> tensor<?x44xf32>
  return %y : tensor<?x44xf32>
}

// -----

// Mamba: per channel, blocks of 16 tokens whose decays and inputs are
// computed before the recurrence runs over them.
// CHECK-LABEL: func.func @mamba_blocked
// CHECK-DAG: %[[DECAYS:.*]] = memref.alloca() : memref<96xf32>
// CHECK-DAG: %[[T:.*]] = tensor.dim %arg0, %c0
// CHECK: scf.parallel (%{{.*}}) = (%c0) to (%c72)
// CHECK: %[[SEVERAL:.*]] = arith.cmpi ugt, %[[T]], %c1 : index
// CHECK: scf.if %[[SEVERAL]] {
// CHECK: %[[BLOCKS:.*]] = arith.ceildivui %[[T]], %c16 : index
// CHECK-NEXT: scf.for %{{.*}} = %c0 to %[[BLOCKS]]
// CHECK: math.exp
// CHECK: memref.store %{{.*}}, %[[DECAYS]]
// CHECK: memref.load %[[DECAYS]]
// CHECK: } else {
// CHECK: scf.for %{{.*}} = %c0 to %[[T]]
// The GPU forms: a prompt's scan in a workgroup per group of 21 channels
// (126 (channel, state) pairs, 4 groups), chunks of 16 tokens staged
// (16 x 126 terms C h, 16 x 21 step sizes and inputs), no per-channel
// decay buffers; then the token-by-token kernel, a workgroup per channel,
// given none for a call of several tokens.
// GPU-LABEL: func.func @mamba_blocked
// GPU-NOT: memref<96xf32>
// GPU-DAG: memref.alloca() : memref<2016xf32>
// GPU-DAG: memref.alloca() : memref<336xf32>
// GPU-DAG: %[[T:.*]] = tensor.dim %arg0, %c0
// GPU: %[[SEVERAL:.*]] = arith.cmpi ugt, %[[T]], %c1 : index
// GPU: %[[GROUPS:.*]] = arith.select %[[SEVERAL]], %c4, %c0 : index
// GPU: scf.parallel (%{{.*}}) = (%c0) to (%[[GROUPS]])
// GPU: %[[STEPS:.*]] = arith.ceildivui %[[T]], %c16 : index
// GPU: scf.for %{{.*}} = %c0 to %[[STEPS]]
// GPU: scf.parallel (%{{.*}}) = (%c0) to (%c336)
// GPU: } {hybrid.cooperative}
// GPU: scf.parallel (%{{.*}}) = (%c0) to (%c126)
// GPU: } {hybrid.cooperative}
// GPU: %[[CHANNELS:.*]] = arith.select %[[SEVERAL]], %c0, %c72 : index
// GPU: scf.parallel (%{{.*}}) = (%c0) to (%[[CHANNELS]])
// GPU: return
// With batch slots the plan tells a call of one sequence's tokens (a
// prefill, or one sequence's decode step) from a batch of decode steps by
// the size of the `hybrid.sequences` argument: the same choice of kernel.
// The conv takes the window form for every call: a call of one sequence
// reads the state at its first token's slot, one of several sequences (a
// token of each) each token's window from its own slot. Where each token
// is alone in its sequence (one token, or several sequences) its workgroup
// moves that state itself; the conv state's kernel is a prompt's.
// GPU-BATCHED-LABEL: func.func @mamba_blocked
// GPU-BATCHED-SAME: %[[SLOTS:[a-z0-9]+]]: tensor<?xi64> {hybrid.slots}, %[[SEQS:[a-z0-9]+]]: tensor<?xi64> {hybrid.sequences}
// GPU-BATCHED: %[[COUNT:.*]] = tensor.dim %[[SEQS]], %c0
// GPU-BATCHED: %[[T:.*]] = tensor.dim %arg0, %c0
// GPU-BATCHED: %[[ONE_TOKEN:.*]] = arith.cmpi eq, %[[T]], %c1 : index
// GPU-BATCHED-NEXT: %[[MANY:.*]] = arith.cmpi ne, %[[COUNT]], %c1 : index
// GPU-BATCHED-NEXT: %[[ALONE:.*]] = arith.ori %[[ONE_TOKEN]], %[[MANY]] : i1
// GPU-BATCHED-NEXT: scf.parallel (%[[TOKEN:.*]], %[[C:.*]]) = (%c0, %c0) to (%[[T]], %c72)
// GPU-BATCHED: %[[ONE_SEQ:.*]] = arith.cmpi eq, %[[COUNT]], %c1 : index
// GPU-BATCHED-NEXT: %[[FIRST:.*]] = arith.select %[[ONE_SEQ]], %c0, %[[TOKEN]] : index
// GPU-BATCHED-NEXT: %[[PLACE:.*]] = arith.subi %[[TOKEN]], %[[FIRST]] : index
// GPU-BATCHED: %[[FIRST_SLOT:.*]] = tensor.extract %[[SLOTS]][%[[FIRST]]] : tensor<?xi64>
// GPU-BATCHED-NEXT: %[[SLOT:.*]] = arith.index_cast %[[FIRST_SLOT]] : i64 to index
// GPU-BATCHED-NEXT: memref.load %arg1[%[[SLOT]], %[[C]], %{{.*}}] : memref<2x72x3xf32>
// GPU-BATCHED: scf.if %[[ALONE]] {
// GPU-BATCHED: memref.store %{{.*}}, %arg1[%{{.*}}, %[[C]], %{{.*}}] : memref<2x72x3xf32>
// GPU-BATCHED: %[[STATE_CHANNELS:.*]] = arith.select %[[ALONE]], %c0, %c72 : index
// GPU-BATCHED-NEXT: scf.parallel (%{{.*}}) = (%c0) to (%[[STATE_CHANNELS]])
// GPU-BATCHED: %[[SEVERAL:.*]] = arith.cmpi ugt, %[[T]], %c1 : index
// GPU-BATCHED-NEXT: %[[ONE:.*]] = arith.cmpi eq, %[[COUNT]], %c1 : index
// GPU-BATCHED-NEXT: %[[PREFILL:.*]] = arith.andi %[[SEVERAL]], %[[ONE]] : i1
// GPU-BATCHED-NEXT: %[[GROUPS:.*]] = arith.select %[[PREFILL]], %c4, %c0 : index
// GPU-BATCHED-NEXT: scf.parallel (%{{.*}}) = (%c0) to (%[[GROUPS]])
// The token-by-token scan: a workgroup per (sequence, channel) for a batch
// of decode steps, each walking its own token; per channel for one
// sequence's call, walking its tokens.
// GPU-BATCHED: %[[CHANNELS:.*]] = arith.select %[[PREFILL]], %c0, %c72 : index
// GPU-BATCHED-NEXT: %[[SEQUENCES:.*]] = arith.select %[[ONE]], %c1, %[[T]] : index
// GPU-BATCHED-NEXT: scf.parallel (%[[FIRST_TOKEN:.*]], %{{.*}}) = (%c0, %c0) to (%[[SEQUENCES]], %[[CHANNELS]])
// GPU-BATCHED-NEXT: %[[NEXT:.*]] = arith.addi %[[FIRST_TOKEN]], %c1 : index
// GPU-BATCHED-NEXT: %[[END:.*]] = arith.select %[[ONE]], %[[T]], %[[NEXT]] : index
// GPU-BATCHED: scf.for %{{.*}} = %[[FIRST_TOKEN]] to %[[END]] step %c1
func.func @mamba_blocked(%x: tensor<?x36xf32>, %conv: !hybrid.conv_state<72x3xf32>, %ssm: !hybrid.recurrent_state<72x6xf32>, %in: tensor<144x36xf32>, %c: tensor<72x1x4xf32>, %cb: tensor<72xf32>, %xp: tensor<17x72xf32>, %dtp: tensor<72x5xf32>, %dtb: tensor<72xf32>, %alog: tensor<72x6xf32>, %d: tensor<72xf32>, %out: tensor<36x72xf32>) -> tensor<?x36xf32> {
  %y = hybrid.mamba %x, %conv, %ssm in_proj(%in) conv1d(%c) conv1d_bias(%cb) x_proj(%xp) dt_proj(%dtp) dt_proj_bias(%dtb) a_log(%alog) d(%d) out_proj(%out) {chunk_size = 16 : i64, d_conv = 4 : i64, d_inner = 72 : i64, d_state = 6 : i64, dt_rank = 5 : i64, norm_epsilon = 1.0e-06 : f64} : (tensor<?x36xf32>, !hybrid.conv_state<72x3xf32>, !hybrid.recurrent_state<72x6xf32>, tensor<144x36xf32>, tensor<72x1x4xf32>, tensor<72xf32>, tensor<17x72xf32>, tensor<72x5xf32>, tensor<72xf32>, tensor<72x6xf32>, tensor<72xf32>, tensor<36x72xf32>) -> tensor<?x36xf32>
  return %y : tensor<?x36xf32>
}

// -----

// Packed weights give the GPU forms GEMVs (up to 15 rows), and the calls
// a GEMV runs whole -- no full tile of 16 tokens: decode steps, short
// prompts -- need no conv or scan kernel: in_proj's GEMV, as it finishes
// an output of x's 32 channels (in the last of a panel's two splits of
// the 512 inputs to arrive), runs its conv step on it plus in_proj's bias
// (the window from the conv state, which then shifts), and dt_proj's GEMV
// the channel's scan step
// (softplus, then the ssm state). The conv's, conv state's, chunked
// scan's and token-by-token scan's kernels get no workgroups for them.
// GPU-LABEL: func.func @mamba_in_gemvs
// GPU: %[[T:.*]] = tensor.dim %arg0, %c0
// GPU: %[[LAST:.*]] = arith.subi %[[T]], %c1
// GPU-NEXT: %[[WHOLE:.*]] = arith.cmpi ult, %[[LAST]], %c15
// GPU: scf.parallel
// GPU: memref.atomic_rmw addi %{{.*}}, %{{.*}} : (i32, memref<4xi32>) -> i32
// GPU: %[[X:.*]] = arith.cmpi ult, %[[C:.*]], %c32 : index
// GPU-NEXT: scf.if %[[X]]
// GPU-NEXT: %[[BIAS:.*]] = tensor.extract %arg3[%[[C]]] : tensor<64xf32>
// GPU-NEXT: %[[IN:.*]] = arith.addf %{{.*}}, %[[BIAS]] : f32
// GPU: arith.mulf %{{.*}}, %[[IN]] : f32
// GPU: memref.load %arg1[%[[C]], %{{.*}}] : memref<32x3xf32>
// GPU: memref.store %{{.*}}, %arg1[%[[C]], %c2] : memref<32x3xf32>
// GPU: math.exp
// GPU: } {hybrid.row_form}
// GPU: %[[CONV:.*]] = arith.select %[[WHOLE]], %c0, %[[T]]
// GPU-NEXT: %[[NO_STATE:.*]] = arith.ori %[[WHOLE]], %{{.*}} : i1
// GPU-NEXT: scf.parallel (%{{.*}}, %{{.*}}) = (%c0, %c0) to (%[[CONV]], %c32)
// GPU: %[[STATE:.*]] = arith.select %[[NO_STATE]], %c0, %c32
// GPU-NEXT: scf.parallel (%{{.*}}) = (%c0) to (%[[STATE]])
// GPU: math.log1p
// GPU: memref.load %arg2[%[[D:.*]], %{{.*}}] : memref<32x4xf32>
// GPU: memref.store %{{.*}}, %arg2[%[[D]], %{{.*}}] : memref<32x4xf32>
// GPU: } {hybrid.row_form}
// GPU: %[[GROUPS:.*]] = arith.select %[[WHOLE]], %c0, %{{.*}}
// GPU-NEXT: scf.parallel (%{{.*}}) = (%c0) to (%[[GROUPS]])
// GPU: %[[CHANNELS:.*]] = arith.select %[[WHOLE]], %c0, %{{.*}}
// GPU-NEXT: scf.parallel (%{{.*}}) = (%c0) to (%[[CHANNELS]])
// GPU: return
func.func @mamba_in_gemvs(%x: tensor<?x512xf32>, %conv: !hybrid.conv_state<32x3xf32>, %ssm: !hybrid.recurrent_state<32x4xf32>, %ib: tensor<64xf32>, %c: tensor<32x1x4xf32>, %cb: tensor<32xf32>, %dtb: tensor<32xf32>, %alog: tensor<32x4xf32>, %d: tensor<32xf32>) -> tensor<?x512xf32> {
  %in = hybrid.weight "m.in_proj.weight" : tensor<64x512xf32>
  %xp = hybrid.weight "m.x_proj.weight" : tensor<40x32xf32>
  %dtp = hybrid.weight "m.dt_proj.weight" : tensor<32x32xf32>
  %out = hybrid.weight "m.out_proj.weight" : tensor<512x32xf32>
  %y = hybrid.mamba %x, %conv, %ssm in_proj(%in) in_proj_bias(%ib) conv1d(%c) conv1d_bias(%cb) x_proj(%xp) dt_proj(%dtp) dt_proj_bias(%dtb) a_log(%alog) d(%d) out_proj(%out) {chunk_size = 16 : i64, d_conv = 4 : i64, d_inner = 32 : i64, d_state = 4 : i64, dt_rank = 32 : i64, norm_epsilon = 1.0e-06 : f64} : (tensor<?x512xf32>, !hybrid.conv_state<32x3xf32>, !hybrid.recurrent_state<32x4xf32>, tensor<64x512xf32>, tensor<64xf32>, tensor<32x1x4xf32>, tensor<32xf32>, tensor<40x32xf32>, tensor<32x32xf32>, tensor<32xf32>, tensor<32x4xf32>, tensor<32xf32>, tensor<512x32xf32>) -> tensor<?x512xf32>
  return %y : tensor<?x512xf32>
}

// -----

// Without chunk_size there is one form: no chunk loop, no C x C scratch.
// CHECK-LABEL: func.func @negative_gated_delta_net_unchunked
// CHECK-NOT: memref<256xf32>
// CHECK-NOT: ceildivui %{{.*}}, %c16
// CHECK: return


func.func @negative_gated_delta_net_unchunked(%x: tensor<?x44xf32>, %conv: !hybrid.conv_state<64x3xf32>, %rec: !hybrid.recurrent_state<4x6x10xf32>, %qkvz: tensor<104x44xf32>, %ba: tensor<8x44xf32>, %c: tensor<64x1x4xf32>, %dtb: tensor<4xf32>, %alog: tensor<4xf32>, %n: tensor<10xf32>, %out: tensor<44x40xf32>) -> tensor<?x44xf32> {
  %y = hybrid.gated_delta_net %x, %conv, %rec in_proj_qkvz(%qkvz) in_proj_ba(%ba) conv1d(%c) dt_bias(%dtb) a_log(%alog) norm(%n) out_proj(%out) {conv_kernel = 4 : i64, k_head_dim = 6 : i64, norm_epsilon = 1.0e-06 : f64, num_k_heads = 2 : i64, num_v_heads = 4 : i64, v_head_dim = 10 : i64} : (tensor<?x44xf32>, !hybrid.conv_state<64x3xf32>, !hybrid.recurrent_state<4x6x10xf32>, tensor<104x44xf32>, tensor<8x44xf32>, tensor<64x1x4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<10xf32>, tensor<44x40xf32>) -> tensor<?x44xf32>
  return %y : tensor<?x44xf32>
}
