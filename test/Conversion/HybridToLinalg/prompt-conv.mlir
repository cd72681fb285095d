// RUN: hybrid-opt %s --convert-hybrid-to-linalg="max-seq-len=64 pack-weights=16" --canonicalize --cse | FileCheck %s

// The CPU conv of a prompt (several tokens of one sequence) whose
// channels are whole vectors of half a panel (8 here): a workgroup per 8
// channels, their weights, bias and state window (bf16, widened) gathered
// into vectors once; the tokens in order, each step a vector of the 8
// channels' inputs read from in_proj's row, its sum newest term first as
// the token-by-token form sums, SiLU, the output row's 8 floats written;
// the window moves in registers, each input rounded as the state keeps it;
// the state written once after. Every other call (a decode step) keeps a
// workgroup per channel, token by token.
// CHECK-LABEL: func.func @mamba_prompt_conv
// CHECK-SAME: %[[STATE:[a-z0-9]+]]: memref<32x3xbf16>
// CHECK: %[[SEVERAL:.*]] = arith.cmpi ugt, %[[TOKENS:.*]], %c1 : index
// CHECK: %[[BLOCKS:.*]] = arith.select %[[SEVERAL]], %c4, %c0 : index
// CHECK: scf.parallel (%{{.*}}) = (%c0) to (%[[BLOCKS]])
// CHECK-COUNT-4: vector.from_elements {{.*}} : vector<8xf32>
// CHECK: %[[BIAS:.*]] = vector.from_elements {{.*}} : vector<8xf32>
// CHECK: arith.extf %{{.*}} : bf16 to f32
// CHECK: %[[OLDEST:.*]] = vector.from_elements {{.*}} : vector<8xf32>
// CHECK: %[[LAST:.*]]:3 = scf.for %{{.*}} = %c0 to %[[TOKENS]] step %c1 iter_args(%[[W0:.*]] = %[[OLDEST]], %[[W1:.*]] = %{{.*}}, %[[W2:.*]] = %{{.*}}) -> (vector<8xf32>, vector<8xf32>, vector<8xf32>)
// CHECK: %[[IN:.*]] = vector.transfer_read {{.*}} : tensor<?x64xf32>, vector<8xf32>
// CHECK: %[[NEWEST:.*]] = arith.mulf %{{.*}}, %[[IN]] : vector<8xf32>
// CHECK: arith.addf %[[NEWEST]], %[[BIAS]] : vector<8xf32>
// CHECK: arith.mulf %{{.*}}, %[[W0]] : vector<8xf32>
// CHECK: math.exp %{{.*}} : vector<8xf32>
// CHECK: vector.transfer_write %{{.*}} : vector<8xf32>, memref<?x32xf32>
// CHECK: %[[ROUNDED:.*]] = arith.truncf %[[IN]] : vector<8xf32> to vector<8xbf16>
// CHECK: %[[KEPT:.*]] = arith.extf %[[ROUNDED]] : vector<8xbf16> to vector<8xf32>
// CHECK: scf.yield %[[W1]], %[[W2]], %[[KEPT]]
// CHECK: vector.extract %[[LAST]]#0[0] : f32 from vector<8xf32>
// CHECK: memref.store %{{.*}}, %[[STATE]]
// CHECK: %[[CHANNELS:.*]] = arith.select %[[SEVERAL]], %c0, %c32 : index
// CHECK: scf.parallel (%{{.*}}) = (%c0) to (%[[CHANNELS]])
// CHECK: scf.for %{{.*}} = %c0 to %[[TOKENS]] step %c1
func.func @mamba_prompt_conv(%x: tensor<?x16xf32>, %conv: !hybrid.conv_state<32x3xbf16>, %ssm: !hybrid.recurrent_state<32x4xf32>) -> tensor<?x16xf32> {
  %in = hybrid.weight "in" : tensor<64x16xf32>
  %c = hybrid.weight "conv" : tensor<32x1x4xf32>
  %cb = hybrid.weight "conv_bias" : tensor<32xf32>
  %xp = hybrid.weight "x_proj" : tensor<10x32xf32>
  %dtp = hybrid.weight "dt_proj" : tensor<32x2xf32>
  %dtb = hybrid.weight "dt_bias" : tensor<32xf32>
  %alog = hybrid.weight "a_log" : tensor<32x4xf32>
  %d = hybrid.weight "d" : tensor<32xf32>
  %out = hybrid.weight "out" : tensor<16x32xf32>
  %y = hybrid.mamba %x, %conv, %ssm in_proj(%in) conv1d(%c) conv1d_bias(%cb) x_proj(%xp) dt_proj(%dtp) dt_proj_bias(%dtb) a_log(%alog) d(%d) out_proj(%out) {d_conv = 4 : i64, d_inner = 32 : i64, d_state = 4 : i64, dt_rank = 2 : i64, norm_epsilon = 1.0e-06 : f64} : (tensor<?x16xf32>, !hybrid.conv_state<32x3xbf16>, !hybrid.recurrent_state<32x4xf32>, tensor<64x16xf32>, tensor<32x1x4xf32>, tensor<32xf32>, tensor<10x32xf32>, tensor<32x2xf32>, tensor<32xf32>, tensor<32x4xf32>, tensor<32xf32>, tensor<16x32xf32>) -> tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}
