// RUN: hybrid-opt %s --split-input-file --convert-hybrid-to-linalg=pack-weights=16 | FileCheck %s
// RUN: hybrid-opt %s --split-input-file --convert-hybrid-to-linalg | FileCheck %s --check-prefix=UNPACKED
// RUN: not hybrid-opt %s --split-input-file --convert-hybrid-to-linalg=pack-weights=100000000 2>&1 | FileCheck %s --check-prefix=HUGE
// HUGE: convert-hybrid-to-linalg: pack-weights must be from 0 to 256, got 100000000

// A checkpoint weight of a linear layer is read packed in panels of 16
// outputs: 40 outputs make 3 panels, the last one 8 rows short (masked
// store). Workgroups are (panel, tile of 6 tokens); a full tile keeps 6
// vector<16xf32> accumulators, one broadcast FMA per token and input.
// CHECK-LABEL: func.func @lm_head
// CHECK: %[[W:.*]] = hybrid.weight "lm_head.weight" packed(16) : tensor<3x24x16xbf16>
// CHECK: %[[TILES:.*]] = arith.ceildivui %{{.*}}, %c6
// CHECK: scf.parallel (%[[P:[a-z0-9]+]], %{{[a-z0-9]+}}) = ({{.*}}) to (%c3, %[[TILES]])
// CHECK: scf.if
// CHECK: scf.for %[[K:[a-z0-9]+]] = {{.*}} iter_args({{.*}}) -> (vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>)
// CHECK: %[[PANEL:.*]] = vector.transfer_read %[[W]][%[[P]], %[[K]], %{{.*}}], %{{.*}} {in_bounds = [true]} : tensor<3x24x16xbf16>, vector<16xbf16>
// CHECK: arith.extf %[[PANEL]] : vector<16xbf16> to vector<16xf32>
// CHECK: vector.broadcast %{{.*}} : f32 to vector<16xf32>
// CHECK: vector.fma
// CHECK: vector.transfer_write %{{[^{]*}} : vector<16xf32>, memref<?x40xf32>
// CHECK: } else {
// CHECK: scf.for
// CHECK: -> (vector<16xf32>)
// UNPACKED-LABEL: func.func @lm_head
// UNPACKED: hybrid.weight "lm_head.weight" : tensor<40x24xbf16>
// UNPACKED-NOT: packed
func.func @lm_head(%x: tensor<?x24xf32>) -> tensor<?x40xf32> {
  %w = hybrid.weight "lm_head.weight" : tensor<40x24xbf16>
  %l = hybrid.lm_head %x, %w : (tensor<?x24xf32>, tensor<40x24xbf16>) -> tensor<?x40xf32>
  return %l : tensor<?x40xf32>
}

// -----

// A panel-aligned output count is stored unmasked.
// CHECK-LABEL: func.func @aligned
// CHECK: hybrid.weight "h.weight" packed(16) : tensor<2x8x16xf32>
// CHECK: vector.transfer_write %{{.*}} {in_bounds = [true]} : vector<16xf32>, memref<?x32xf32>
func.func @aligned(%x: tensor<?x8xf32>) -> tensor<?x32xf32> {
  %w = hybrid.weight "h.weight" : tensor<32x8xf32>
  %l = hybrid.lm_head %x, %w : (tensor<?x8xf32>, tensor<32x8xf32>) -> tensor<?x32xf32>
  return %l : tensor<?x32xf32>
}

// -----

// A weight that is not a checkpoint tensor (here an argument) keeps the
// [out, in] dot-product kernels.
// CHECK-LABEL: func.func @negative_argument_weight
// CHECK-NOT: packed
// CHECK: vector.reduction <add>
func.func @negative_argument_weight(%x: tensor<?x24xf32>, %w: tensor<40x24xf32>) -> tensor<?x40xf32> {
  %l = hybrid.lm_head %x, %w : (tensor<?x24xf32>, tensor<40x24xf32>) -> tensor<?x40xf32>
  return %l : tensor<?x40xf32>
}
