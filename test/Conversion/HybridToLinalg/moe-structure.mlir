// RUN: hybrid-opt %s --convert-hybrid-to-linalg | FileCheck %s
// RUN: hybrid-opt %s --hybrid-fuse-moe-routing --convert-hybrid-to-linalg | FileCheck %s --check-prefix=FUSED
// RUN: hybrid-opt %s --hybrid-fuse-moe-routing --convert-hybrid-to-linalg=pack-weights=16 | FileCheck %s --check-prefix=PACKED
// RUN: hybrid-opt %s --hybrid-fuse-moe-routing --convert-hybrid-to-linalg="pack-weights=16 column-workgroups=1" --canonicalize | FileCheck %s --check-prefix=GPU

// hybrid.moe itself lowers to its reference form: the router product (a
// linear layer), a routing kernel per token (top-k into [T, k] buffers),
// then per (token, slot) the chosen expert's SwiGLU for that token alone:
// activations per (token, slot, intermediate row), down projections per
// (token, slot, column), and the weighted sum over the slots as row-wise
// linalg, which hybrid-fuse-elementwise joins to what reads it.
// CHECK-LABEL: func.func @moe
// CHECK: %[[LOGITS_BUF:.*]] = memref.alloc(%{{.*}}) : memref<?x8xf32>
// CHECK: scf.parallel
// CHECK: %[[LOGITS:.*]] = bufferization.to_tensor %[[LOGITS_BUF]]
// CHECK: %[[CHOSEN:.*]] = memref.alloc(%{{.*}}) : memref<?x2xi64>
// CHECK: %[[WEIGHTS:.*]] = memref.alloc(%{{.*}}) : memref<?x2xf32>
// CHECK: scf.parallel (%[[T:.*]]) =
// CHECK: tensor.extract %[[LOGITS]][%[[T]],
// CHECK: math.exp
// CHECK: memref.store %{{.*}}, %[[CHOSEN]][%[[T]], %{{.*}}] : memref<?x2xi64>
// CHECK: %[[CHOSEN_T:.*]] = bufferization.to_tensor %[[CHOSEN]]
// CHECK: %[[ACT:.*]] = memref.alloc(%{{.*}}) : memref<?x2x32xf32>
// CHECK: %[[EXPERT_OUT:.*]] = memref.alloc(%{{.*}}) : memref<?x2x64xf32>
// CHECK: scf.parallel (%[[T2:.*]], %[[J:.*]], %{{.*}}) = {{.*}} to (%{{.*}}, %c2{{[_0-9]*}}, %c32
// CHECK: tensor.extract %[[CHOSEN_T]][%[[T2]], %[[J]]] : tensor<?x2xi64>
// CHECK: memref.store %{{.*}}, %[[ACT]]
// CHECK: scf.parallel (%{{.*}}, %{{.*}}, %{{.*}}) = {{.*}} to (%{{.*}}, %c2{{[_0-9]*}}, %c64
// CHECK: memref.load %[[ACT]]
// CHECK: memref.store %{{.*}}, %[[EXPERT_OUT]]
// CHECK: %[[ROUTED_OUT:.*]] = bufferization.to_tensor %[[EXPERT_OUT]]
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "reduction"]{{.*}} ins(%{{.*}}, %[[ROUTED_OUT]] : tensor<?x2xf32>, tensor<?x2x64xf32>)
// CHECK-NOT: scf.parallel
// CHECK-NOT: memref<9xindex>
// CHECK-NOT: hybrid.moe

// The GPU form of the routing kernel: a workgroup per token whose steps are
// cooperative loops over the 8 experts (logits, scores with the softmax's
// maximum and sum as block reductions, normalised scores), then per choice
// an argmax in two reductions (the largest free score, the lowest expert
// holding it, as i32) and a loop marking it, then the sum of the chosen
// weights and a loop over the 2 choices storing them.
// GPU-LABEL: func.func @moe
// GPU: %[[RUNS:.*]] = memref.alloca() : memref<32x8xi32>
// GPU: %[[CHOSEN:.*]] = memref.alloc(%{{.*}}) : memref<?x2xi64>
// GPU: scf.parallel (%[[T:.*]]) = (%c0) to (%{{.*}})
// GPU: scf.parallel (%{{.*}}) = (%c0) to (%c8)
// GPU: } {hybrid.cooperative}
// GPU: %[[MAX:.*]] = scf.parallel (%{{.*}}) = (%c0) to (%c8) step (%c1) init (%cst{{.*}}) -> f32
// GPU: arith.maximumf
// GPU: } {hybrid.cooperative}
// GPU: scf.parallel (%{{.*}}) = (%c0) to (%c8) step (%c1) init (%cst{{.*}}) -> f32
// GPU: math.exp
// GPU: arith.addf
// GPU: } {hybrid.cooperative}
// GPU: scf.for %{{.*}} = %c0 to %c2
// GPU: scf.parallel (%{{.*}}) = (%c0) to (%c8) step (%c1) init (%cst{{.*}}) -> f32
// GPU: arith.maximumf
// GPU: scf.parallel (%{{.*}}) = (%c0) to (%c8) step (%c1) init (%c-1_i32) -> i32
// GPU: arith.minui
// GPU: scf.parallel (%{{.*}}) = (%c0) to (%c8)
// GPU: } {hybrid.cooperative}
// GPU: scf.parallel (%{{.*}}) = (%c0) to (%c2) step (%c1) init (%cst{{.*}}) -> f32
// GPU: scf.parallel (%[[J:.*]]) = (%c0) to (%c2)
// GPU: memref.store %{{.*}}, %[[CHOSEN]][%[[T]], %[[J]]] : memref<?x2xi64>
// GPU: } {hybrid.cooperative}
// The grouping's block: the tokens in 32 runs (8 experts: 32 x 8 i32
// counts, the runs' rows zeroed), a thread per run counting its entries
// per expert, a thread per expert summing them over the runs (each run's
// count replaced by its first place), the sums over the experts by
// doubling (entries, routed experts: d = 1, 2, 4 experts before), a thread
// per expert storing its offsets and listing itself, a thread per run
// placing its entries.
// GPU: %[[OFFSETS:.*]] = memref.alloc() : memref<9xindex>
// GPU: scf.parallel ({{.*}}) = ({{.*}}) to (%c32, %c8)
// GPU: memref.store %c0_i32, %[[RUNS]]
// GPU: } {hybrid.cooperative}
// GPU: scf.parallel (%[[SPAN:.*]]) = (%c0) to (%c32)
// GPU: memref.store %{{.*}}, %[[RUNS]][%[[SPAN]], %{{.*}}]
// GPU: } {hybrid.cooperative}
// GPU: scf.parallel (%[[E:.*]]) = (%c0) to (%c8)
// GPU: scf.for %[[R:.*]] = %c0 to %c32
// GPU: memref.store %{{.*}}, %[[RUNS]][%[[R]], %[[E]]]
// GPU: } {hybrid.cooperative}
// GPU: scf.parallel (%{{.*}}) = (%c0) to (%c8)
// GPU: } {hybrid.cooperative}
// GPU: arith.subi %{{.*}}, %c1 : index
// GPU: } {hybrid.cooperative}
// GPU: arith.subi %{{.*}}, %c2 : index
// GPU: } {hybrid.cooperative}
// GPU: arith.subi %{{.*}}, %c4 : index
// GPU: } {hybrid.cooperative}
// GPU: scf.parallel (%{{.*}}) = (%c0) to (%c8)
// GPU: memref.store %{{.*}}, %[[OFFSETS]]
// GPU: } {hybrid.cooperative}
// GPU: scf.parallel (%{{.*}}) = (%c0) to (%c32)
// GPU: memref.load %[[RUNS]]
// GPU: } {hybrid.cooperative}

// After hybrid-fuse-moe-routing: one routing kernel per token that computes
// the router product itself (no linear layer before it), a one-iteration
// counting sort grouping the (token, slot) pairs by expert (offsets[E + 1],
// entries[T * k]), the SwiGLU activations per (row, expert) and the down
// projections per (column, expert) over each expert's entries, and the
// weighted sum over the slots (linalg).
// FUSED-LABEL: func.func @moe
// FUSED-NOT: memref<?x8xf32>
// FUSED: %[[CHOSEN:.*]] = memref.alloc(%{{.*}}) : memref<?x2xi64>
// FUSED: %[[WEIGHTS:.*]] = memref.alloc(%{{.*}}) : memref<?x2xf32>
// FUSED: scf.parallel (%[[T:.*]]) =
// FUSED: tensor.extract %{{.*}}[%{{.*}}, %{{.*}}] : tensor<8x64xbf16>
// FUSED: math.exp
// FUSED: memref.store %{{.*}}, %[[CHOSEN]][%[[T]], %{{.*}}] : memref<?x2xi64>
// FUSED: %[[ACT:.*]] = memref.alloc(%{{.*}}) : memref<?x2x32xf32>
// FUSED: %[[OFFSETS:.*]] = memref.alloc() : memref<9xindex>
// FUSED: %[[TOKEN:.*]] = memref.alloc(%{{.*}}) : memref<?xindex>
// FUSED: %[[SLOT:.*]] = memref.alloc(%{{.*}}) : memref<?xindex>
// FUSED: scf.parallel (%{{.*}}) = (%{{.*}}) to (%c1
// FUSED: memref.store %{{.*}}, %[[OFFSETS]]
// FUSED: memref.store %{{.*}}, %[[TOKEN]]
// FUSED: %[[EXPERT_OUT:.*]] = memref.alloc(%{{.*}}) : memref<?x2x64xf32>
// FUSED: scf.parallel (%[[I:.*]], %[[E:.*]]) = {{.*}} to (%c32{{.*}}, %c8
// FUSED: memref.load %[[OFFSETS]][%[[E]]]
// FUSED: math.exp
// FUSED: memref.store %{{.*}}, %[[ACT]]
// FUSED: scf.parallel (%{{.*}}, %{{.*}}) = {{.*}} to (%c64{{.*}}, %c8
// FUSED: memref.load %[[ACT]]
// FUSED: memref.store %{{.*}}, %[[EXPERT_OUT]]
// FUSED: %[[ROUTED_OUT:.*]] = bufferization.to_tensor %[[EXPERT_OUT]]
// FUSED: linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "reduction"]{{.*}} ins(%{{.*}}, %[[ROUTED_OUT]] : tensor<?x2xf32>, tensor<?x2x64xf32>)
// FUSED-NOT: scf.parallel
// FUSED-NOT: hybrid.moe

// With packed weights the expert kernels are grouped matmuls: per (panel of
// 16 outputs, expert), the expert's entries in register tiles gathered by
// token (6 rows; gate and up a loop over the inputs each, the gate's sums
// waiting in the entry's activations), outer products on the expert
// weights packed per expert.
// PACKED-LABEL: func.func @moe
// PACKED-DAG: %[[GATE:.*]] = hybrid.weight "g.{e}" experts(8) packed(16) : tensor<8x2x64x16xbf16>
// PACKED-DAG: %[[UP:.*]] = hybrid.weight "u.{e}" experts(8) packed(16) : tensor<8x2x64x16xbf16>
// PACKED-DAG: %[[DOWN:.*]] = hybrid.weight "d.{e}" experts(8) packed(16) : tensor<8x4x32x16xbf16>
// PACKED: %[[OFFSETS:.*]] = memref.alloc() : memref<9xindex>
// PACKED: %[[TOKEN:.*]] = memref.alloc(%{{.*}}) : memref<?xindex>
// PACKED: %[[EXPERT_OUT:.*]] = memref.alloc(%{{.*}}) : memref<?x2x64xf32>
// PACKED: scf.parallel (%[[P:[a-z0-9]+]], %[[E:[a-z0-9]+]]) = {{.*}} to (%c2{{[_0-9]*}}, %c8{{[_0-9]*}})
// PACKED: memref.load %[[OFFSETS]][%[[E]]]
// PACKED: scf.for %{{[a-z0-9]+}} = {{.*}} step %c6{{[_0-9]*}} {
// PACKED: memref.load %[[TOKEN]]
// PACKED: vector.transfer_read %[[GATE]][%[[E]], %[[P]], %{{.*}}, %{{.*}}]{{.*}} : tensor<8x2x64x16xbf16>, vector<16xbf16>
// PACKED: vector.fma
// PACKED-COUNT-6: vector.transfer_write %{{.*}} : vector<16xf32>, memref<?x2x32xf32>
// PACKED: vector.transfer_read %[[UP]][%[[E]], %[[P]], %{{.*}}, %{{.*}}]{{.*}} : tensor<8x2x64x16xbf16>, vector<16xbf16>
// PACKED: vector.fma
// PACKED-COUNT-6: vector.transfer_read %{{.*}} : memref<?x2x32xf32>, vector<16xf32>
// PACKED: math.exp
// PACKED: vector.transfer_write %{{.*}} : vector<16xf32>, memref<?x2x32xf32>
// PACKED: scf.parallel (%[[P2:[a-z0-9]+]], %[[E2:[a-z0-9]+]]) = {{.*}} to (%c4{{[_0-9]*}}, %c8{{[_0-9]*}})
// PACKED: scf.for %{{.*}} step %c6{{[_0-9]*}} {
// PACKED: vector.transfer_read %[[DOWN]][%[[E2]], %[[P2]]
// PACKED: vector.transfer_write %{{.*}} : vector<16xf32>, memref<?x2x64xf32>
// PACKED-NOT: hybrid.weight "g.{e}" experts(8) :
func.func @moe(%x: tensor<?x64xf32>) -> tensor<?x64xf32> {
  %r = hybrid.weight "r" : tensor<8x64xbf16>
  %g = hybrid.weight "g.{e}" experts(8) : tensor<8x32x64xbf16>
  %u = hybrid.weight "u.{e}" experts(8) : tensor<8x32x64xbf16>
  %d = hybrid.weight "d.{e}" experts(8) : tensor<8x64x32xbf16>
  %y = hybrid.moe softmax %x router(%r) experts_gate(%g) experts_up(%u) experts_down(%d) {num_experts = 8 : i64, top_k = 2 : i64, norm_topk_prob = true, routed_scaling_factor = 1.0 : f64, n_group = 1 : i64, topk_group = 1 : i64} : (tensor<?x64xf32>, tensor<8x64xbf16>, tensor<8x32x64xbf16>, tensor<8x32x64xbf16>, tensor<8x64x32xbf16>) -> tensor<?x64xf32>
  return %y : tensor<?x64xf32>
}
