// RUN: hybrid-opt %s --split-input-file --hybrid-fuse-moe-routing --convert-hybrid-to-linalg="pack-weights=16 bf16-dot=1" | FileCheck %s
// RUN: not hybrid-opt %s --split-input-file --convert-hybrid-to-linalg="pack-weights=16 column-workgroups=1 bf16-dot=1" 2>&1 | FileCheck %s --check-prefix=COLUMNS
// RUN: not hybrid-opt %s --split-input-file --convert-hybrid-to-linalg="bf16-dot=1" 2>&1 | FileCheck %s --check-prefix=COLUMNS
// RUN: not hybrid-opt %s --split-input-file --convert-hybrid-to-linalg="pack-weights=8 bf16-dot=1" 2>&1 | FileCheck %s --check-prefix=COLUMNS
// COLUMNS: convert-hybrid-to-linalg: bf16-dot applies to the CPU panel form: give pack-weights a multiple of 16 (the dot product's lanes), without column-workgroups

// bf16-dot (AVX512-BF16's dot product, hybridc --cpu native where the CPU
// has it): a bf16 weight of an even number of inputs is packed in pairs of
// inputs, [panels, in / 2, 2 * 16]. A kernel of a workgroup per row first
// rounds x to bf16, 16 inputs a conversion (no workgroup in a call of
// fewer tokens than a tile: decode); then the panel form's full tiles run
// over pairs of inputs (16 for 32), each step reading the panel's 32
// weights of the pair and, per token, the pair of x as one 32-bit word
// broadcast to the 16 lanes, the dot product adding both products into
// each lane's sum. Rows taken one at a time (decode's token, a tile's
// ragged end) round their pair of x as they read it and multiply each
// half of the pairs as f32 (a shift, a mask) by FMAs, the second input's
// first, as the dot product adds them.
// CHECK-LABEL: func.func @lm_head
// CHECK: %[[W:.*]] = hybrid.weight "lm_head.weight" packed(16) pairs : tensor<3x16x32xbf16>
// CHECK: %[[XB:.*]] = memref.alloc(%[[TOKENS:.*]]) : memref<?x32xbf16>
// CHECK: %[[FEW:.*]] = arith.cmpi ult, %[[TOKENS]], %c6
// CHECK: %[[ROWS:.*]] = arith.select %[[FEW]], %{{.*}}, %[[TOKENS]]
// CHECK: scf.parallel (%[[ROW:.*]]) = (%{{.*}}) to (%[[ROWS]])
// CHECK: scf.for %[[K:.*]] = %{{.*}} to %c32 step %c16
// CHECK: %[[XV:.*]] = vector.transfer_read %{{.*}}[%[[ROW]], %[[K]]]{{.*}} : tensor<?x32xf32>, vector<16xf32>
// CHECK: %[[R:.*]] = arith.truncf %[[XV]] : vector<16xf32> to vector<16xbf16>
// CHECK: vector.transfer_write %[[R]], %[[XB]][%[[ROW]], %[[K]]] {in_bounds = [true]} : vector<16xbf16>, memref<?x32xbf16>
// CHECK: scf.parallel (%[[P:.*]], %{{.*}}) = ({{.*}}) to (%c3, %{{.*}})
// CHECK: scf.for %[[I:.*]] = %{{.*}} to %c16{{.*}} iter_args({{.*}}) -> (vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>)
// CHECK: %[[PANEL:.*]] = vector.transfer_read %[[W]][%[[P]], %[[I]], %{{.*}}]{{.*}} : tensor<3x16x32xbf16>, vector<32xbf16>
// CHECK: %[[K2:.*]] = arith.muli %[[I]], %c2
// CHECK: %[[PAIR:.*]] = vector.transfer_read %[[XB]][%{{.*}}, %[[K2]]]{{.*}} : memref<?x32xbf16>, vector<2xbf16>
// CHECK: %[[WORD:.*]] = vector.bitcast %[[PAIR]] : vector<2xbf16> to vector<1xi32>
// CHECK: %[[WORDS:.*]] = vector.broadcast %[[WORD]] : vector<1xi32> to vector<16xi32>
// CHECK: %[[XS:.*]] = vector.bitcast %[[WORDS]] : vector<16xi32> to vector<32xbf16>
// CHECK: x86vector.avx512.dot %{{.*}}, %[[XS]], %[[PANEL]] : vector<32xbf16> -> vector<16xf32>
// CHECK-NOT: vector.fma
// CHECK: vector.transfer_write %{{[^{]*}} : vector<16xf32>, memref<?x40xf32>
// CHECK: } else {
// CHECK: %[[ONE:.*]] = vector.transfer_read %{{.*}} : tensor<?x32xf32>, vector<2xf32>
// CHECK: arith.truncf %[[ONE]] : vector<2xf32> to vector<2xbf16>
// CHECK: %[[XLOW:.*]] = arith.shli
// CHECK: %[[X0:.*]] = vector.bitcast %[[XLOW]] : vector<16xi32> to vector<16xf32>
// CHECK: %[[XHIGH:.*]] = arith.andi
// CHECK: %[[X1:.*]] = vector.bitcast %[[XHIGH]] : vector<16xi32> to vector<16xf32>
// CHECK: %[[WLOW:.*]] = arith.shli
// CHECK: %[[W0:.*]] = vector.bitcast %[[WLOW]] : vector<16xi32> to vector<16xf32>
// CHECK: %[[WHIGH:.*]] = arith.andi
// CHECK: %[[W1:.*]] = vector.bitcast %[[WHIGH]] : vector<16xi32> to vector<16xf32>
// CHECK-NOT: x86vector.avx512.dot
// CHECK: %[[ODD:.*]] = vector.fma %[[X1]], %[[W1]], %{{.*}}
// CHECK: vector.fma %[[X0]], %[[W0]], %[[ODD]]
// CHECK-NOT: x86vector.avx512.dot
// CHECK: vector.transfer_write %{{[^{]*}} : vector<16xf32>, memref<?x40xf32>
func.func @lm_head(%x: tensor<?x32xf32>) -> tensor<?x40xf32> {
  %w = hybrid.weight "lm_head.weight" : tensor<40x32xbf16>
  %l = hybrid.lm_head %x, %w : (tensor<?x32xf32>, tensor<40x32xbf16>) -> tensor<?x40xf32>
  return %l : tensor<?x40xf32>
}

// -----

// An odd number of inputs, and f32 weights, keep the f32 FMAs.
// CHECK-LABEL: func.func @odd_inputs
// CHECK: hybrid.weight "h.weight" packed(16) : tensor<3x33x16xbf16>
// CHECK-NOT: x86vector.avx512.dot
// CHECK: vector.fma
// CHECK-LABEL: func.func @f32_weight
// CHECK: hybrid.weight "f.weight" packed(16) : tensor<3x32x16xf32>
// CHECK-NOT: x86vector.avx512.dot
// CHECK: vector.fma
func.func @odd_inputs(%x: tensor<?x33xf32>) -> tensor<?x40xf32> {
  %w = hybrid.weight "h.weight" : tensor<40x33xbf16>
  %l = hybrid.lm_head %x, %w : (tensor<?x33xf32>, tensor<40x33xbf16>) -> tensor<?x40xf32>
  return %l : tensor<?x40xf32>
}
func.func @f32_weight(%x: tensor<?x32xf32>) -> tensor<?x40xf32> {
  %w = hybrid.weight "f.weight" : tensor<40x32xf32>
  %l = hybrid.lm_head %x, %w : (tensor<?x32xf32>, tensor<40x32xf32>) -> tensor<?x40xf32>
  return %l : tensor<?x40xf32>
}

// -----

// Grouped experts: gate, up and down in pairs; x rounded to bf16 by a
// kernel before the gate/up kernel, whose SiLU(gate) * up is stored
// rounded to bf16 (the activations are bf16, the down projection's pairs);
// a full tile's gate sums wait in a 6 x 16 f32 scratch tile meanwhile (the
// bf16 activations would round them).
// CHECK-LABEL: func.func @moe
// CHECK-DAG: %[[PARKED:.*]] = memref.alloca() : memref<6x16xf32>
// CHECK-DAG: hybrid.weight "g.{e}" experts(8) packed(16) pairs : tensor<8x2x32x32xbf16>
// CHECK-DAG: hybrid.weight "u.{e}" experts(8) packed(16) pairs : tensor<8x2x32x32xbf16>
// CHECK-DAG: %[[DOWN:.*]] = hybrid.weight "d.{e}" experts(8) packed(16) pairs : tensor<8x4x16x32xbf16>
// CHECK: %[[ACTS:.*]] = memref.alloc(%{{.*}}) : memref<?x2x32xbf16>
// CHECK: memref.alloc(%{{.*}}) : memref<?x64xbf16>
// CHECK: arith.truncf %{{.*}} : vector<16xf32> to vector<16xbf16>
// CHECK: x86vector.avx512.dot
// CHECK: vector.transfer_write %{{.*}}, %[[PARKED]]
// CHECK: x86vector.avx512.dot
// CHECK: vector.transfer_read %[[PARKED]]
// CHECK: %[[ACT:.*]] = arith.truncf %{{.*}} : vector<16xf32> to vector<16xbf16>
// CHECK: vector.transfer_write %[[ACT]], %[[ACTS]]
// CHECK: vector.transfer_read %[[DOWN]]{{.*}} : tensor<8x4x16x32xbf16>, vector<32xbf16>
// CHECK: vector.transfer_read %[[ACTS]]{{.*}} : memref<?x2x32xbf16>, vector<2xbf16>
// CHECK: x86vector.avx512.dot
func.func @moe(%x: tensor<?x64xf32>) -> tensor<?x64xf32> {
  %r = hybrid.weight "r" : tensor<8x64xbf16>
  %g = hybrid.weight "g.{e}" experts(8) : tensor<8x32x64xbf16>
  %u = hybrid.weight "u.{e}" experts(8) : tensor<8x32x64xbf16>
  %d = hybrid.weight "d.{e}" experts(8) : tensor<8x64x32xbf16>
  %y = hybrid.moe softmax %x router(%r) experts_gate(%g) experts_up(%u) experts_down(%d) {num_experts = 8 : i64, top_k = 2 : i64, norm_topk_prob = true, routed_scaling_factor = 1.0 : f64, n_group = 1 : i64, topk_group = 1 : i64} : (tensor<?x64xf32>, tensor<8x64xbf16>, tensor<8x32x64xbf16>, tensor<8x32x64xbf16>, tensor<8x64x32xbf16>) -> tensor<?x64xf32>
  return %y : tensor<?x64xf32>
}
