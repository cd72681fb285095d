// RUN: hybrid-opt %s --hybrid-tile-scans --split-input-file | FileCheck %s
// RUN: hybrid-opt %s --hybrid-tile-scans=chunk-size=16 --split-input-file | FileCheck %s --check-prefix=C16
// RUN: not hybrid-opt %s --hybrid-tile-scans=chunk-size=0 --split-input-file 2>&1 | FileCheck %s --check-prefix=ZERO

// ZERO: hybrid-tile-scans: chunk-size must be from 1 to 4096, got 0
// RUN: not hybrid-opt %s --hybrid-tile-scans=chunk-size=100000000 --split-input-file 2>&1 | FileCheck %s --check-prefix=HUGE
// HUGE: hybrid-tile-scans: chunk-size must be from 1 to 4096, got 100000000

// A Gated DeltaNet layer that may see a prompt gets the chunk size.
// CHECK-LABEL: func.func @gated_delta_net_prefill
// CHECK: hybrid.gated_delta_net
// CHECK-SAME: chunk_size = 64 : i64
// C16-LABEL: func.func @gated_delta_net_prefill
// C16: chunk_size = 16 : i64
func.func @gated_delta_net_prefill(%x: tensor<?x44xf32>, %conv: !hybrid.conv_state<64x3xf32>, %rec: !hybrid.recurrent_state<4x6x10xf32>, %qkvz: tensor<104x44xf32>, %ba: tensor<8x44xf32>, %c: tensor<64x1x4xf32>, %dtb: tensor<4xf32>, %alog: tensor<4xf32>, %n: tensor<10xf32>, %out: tensor<44x40xf32>) -> tensor<?x44xf32> {
  %y = hybrid.gated_delta_net %x, %conv, %rec in_proj_qkvz(%qkvz) in_proj_ba(%ba) conv1d(%c) dt_bias(%dtb) a_log(%alog) norm(%n) out_proj(%out) {conv_kernel = 4 : i64, k_head_dim = 6 : i64, norm_epsilon = 1.0e-06 : f64, num_k_heads = 2 : i64, num_v_heads = 4 : i64, v_head_dim = 10 : i64} : (tensor<?x44xf32>, !hybrid.conv_state<64x3xf32>, !hybrid.recurrent_state<4x6x10xf32>, tensor<104x44xf32>, tensor<8x44xf32>, tensor<64x1x4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<10xf32>, tensor<44x40xf32>) -> tensor<?x44xf32>
  return %y : tensor<?x44xf32>
}

// -----

// A static prompt length is a prompt too (one ragged chunk when shorter).
// CHECK-LABEL: func.func @gated_delta_net_static_prompt
// CHECK: chunk_size = 64 : i64
func.func @gated_delta_net_static_prompt(%x: tensor<5x44xf32>, %conv: !hybrid.conv_state<64x3xf32>, %rec: !hybrid.recurrent_state<4x6x10xf32>, %qkvz: tensor<104x44xf32>, %ba: tensor<8x44xf32>, %c: tensor<64x1x4xf32>, %dtb: tensor<4xf32>, %alog: tensor<4xf32>, %n: tensor<10xf32>, %out: tensor<44x40xf32>) -> tensor<5x44xf32> {
  %y = hybrid.gated_delta_net %x, %conv, %rec in_proj_qkvz(%qkvz) in_proj_ba(%ba) conv1d(%c) dt_bias(%dtb) a_log(%alog) norm(%n) out_proj(%out) {conv_kernel = 4 : i64, k_head_dim = 6 : i64, norm_epsilon = 1.0e-06 : f64, num_k_heads = 2 : i64, num_v_heads = 4 : i64, v_head_dim = 10 : i64} : (tensor<5x44xf32>, !hybrid.conv_state<64x3xf32>, !hybrid.recurrent_state<4x6x10xf32>, tensor<104x44xf32>, tensor<8x44xf32>, tensor<64x1x4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<10xf32>, tensor<44x40xf32>) -> tensor<5x44xf32>
  return %y : tensor<5x44xf32>
}

// -----

// Mamba gets the block size.
// CHECK-LABEL: func.func @mamba_prefill
// CHECK: hybrid.mamba
// CHECK-SAME: chunk_size = 64 : i64
// C16-LABEL: func.func @mamba_prefill
// C16: chunk_size = 16 : i64
func.func @mamba_prefill(%x: tensor<?x36xf32>, %conv: !hybrid.conv_state<72x3xf32>, %ssm: !hybrid.recurrent_state<72x6xf32>, %in: tensor<144x36xf32>, %c: tensor<72x1x4xf32>, %cb: tensor<72xf32>, %xp: tensor<17x72xf32>, %dtp: tensor<72x5xf32>, %dtb: tensor<72xf32>, %alog: tensor<72x6xf32>, %d: tensor<72xf32>, %out: tensor<36x72xf32>) -> tensor<?x36xf32> {
  %y = hybrid.mamba %x, %conv, %ssm in_proj(%in) conv1d(%c) conv1d_bias(%cb) x_proj(%xp) dt_proj(%dtp) dt_proj_bias(%dtb) a_log(%alog) d(%d) out_proj(%out) {d_conv = 4 : i64, d_inner = 72 : i64, d_state = 6 : i64, dt_rank = 5 : i64, norm_epsilon = 1.0e-06 : f64} : (tensor<?x36xf32>, !hybrid.conv_state<72x3xf32>, !hybrid.recurrent_state<72x6xf32>, tensor<144x36xf32>, tensor<72x1x4xf32>, tensor<72xf32>, tensor<17x72xf32>, tensor<72x5xf32>, tensor<72xf32>, tensor<72x6xf32>, tensor<72xf32>, tensor<36x72xf32>) -> tensor<?x36xf32>
  return %y : tensor<?x36xf32>
}

// -----

// Decode only (one token, static): the one-step recurrence stays.
// CHECK-LABEL: func.func @negative_gated_delta_net_decode
// CHECK-NOT: chunk_size
// CHECK: return
func.func @negative_gated_delta_net_decode(%x: tensor<1x44xf32>, %conv: !hybrid.conv_state<64x3xf32>, %rec: !hybrid.recurrent_state<4x6x10xf32>, %qkvz: tensor<104x44xf32>, %ba: tensor<8x44xf32>, %c: tensor<64x1x4xf32>, %dtb: tensor<4xf32>, %alog: tensor<4xf32>, %n: tensor<10xf32>, %out: tensor<44x40xf32>) -> tensor<1x44xf32> {
  %y = hybrid.gated_delta_net %x, %conv, %rec in_proj_qkvz(%qkvz) in_proj_ba(%ba) conv1d(%c) dt_bias(%dtb) a_log(%alog) norm(%n) out_proj(%out) {conv_kernel = 4 : i64, k_head_dim = 6 : i64, norm_epsilon = 1.0e-06 : f64, num_k_heads = 2 : i64, num_v_heads = 4 : i64, v_head_dim = 10 : i64} : (tensor<1x44xf32>, !hybrid.conv_state<64x3xf32>, !hybrid.recurrent_state<4x6x10xf32>, tensor<104x44xf32>, tensor<8x44xf32>, tensor<64x1x4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<10xf32>, tensor<44x40xf32>) -> tensor<1x44xf32>
  return %y : tensor<1x44xf32>
}

// -----

// CHECK-LABEL: func.func @negative_mamba_decode
// CHECK-NOT: chunk_size
// CHECK: return
func.func @negative_mamba_decode(%x: tensor<1x36xf32>, %conv: !hybrid.conv_state<72x3xf32>, %ssm: !hybrid.recurrent_state<72x6xf32>, %in: tensor<144x36xf32>, %c: tensor<72x1x4xf32>, %cb: tensor<72xf32>, %xp: tensor<17x72xf32>, %dtp: tensor<72x5xf32>, %dtb: tensor<72xf32>, %alog: tensor<72x6xf32>, %d: tensor<72xf32>, %out: tensor<36x72xf32>) -> tensor<1x36xf32> {
  %y = hybrid.mamba %x, %conv, %ssm in_proj(%in) conv1d(%c) conv1d_bias(%cb) x_proj(%xp) dt_proj(%dtp) dt_proj_bias(%dtb) a_log(%alog) d(%d) out_proj(%out) {d_conv = 4 : i64, d_inner = 72 : i64, d_state = 6 : i64, dt_rank = 5 : i64, norm_epsilon = 1.0e-06 : f64} : (tensor<1x36xf32>, !hybrid.conv_state<72x3xf32>, !hybrid.recurrent_state<72x6xf32>, tensor<144x36xf32>, tensor<72x1x4xf32>, tensor<72xf32>, tensor<17x72xf32>, tensor<72x5xf32>, tensor<72xf32>, tensor<72x6xf32>, tensor<72xf32>, tensor<36x72xf32>) -> tensor<1x36xf32>
  return %y : tensor<1x36xf32>
}

// -----

// A chunk size already chosen is kept.
// CHECK-LABEL: func.func @negative_already_chunked
// CHECK: chunk_size = 8 : i64
// C16-LABEL: func.func @negative_already_chunked
// C16: chunk_size = 8 : i64
func.func @negative_already_chunked(%x: tensor<?x44xf32>, %conv: !hybrid.conv_state<64x3xf32>, %rec: !hybrid.recurrent_state<4x6x10xf32>, %qkvz: tensor<104x44xf32>, %ba: tensor<8x44xf32>, %c: tensor<64x1x4xf32>, %dtb: tensor<4xf32>, %alog: tensor<4xf32>, %n: tensor<10xf32>, %out: tensor<44x40xf32>) -> tensor<?x44xf32> {
  %y = hybrid.gated_delta_net %x, %conv, %rec in_proj_qkvz(%qkvz) in_proj_ba(%ba) conv1d(%c) dt_bias(%dtb) a_log(%alog) norm(%n) out_proj(%out) {chunk_size = 8 : i64, conv_kernel = 4 : i64, k_head_dim = 6 : i64, norm_epsilon = 1.0e-06 : f64, num_k_heads = 2 : i64, num_v_heads = 4 : i64, v_head_dim = 10 : i64} : (tensor<?x44xf32>, !hybrid.conv_state<64x3xf32>, !hybrid.recurrent_state<4x6x10xf32>, tensor<104x44xf32>, tensor<8x44xf32>, tensor<64x1x4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<10xf32>, tensor<44x40xf32>) -> tensor<?x44xf32>
  return %y : tensor<?x44xf32>
}
