// RUN: hybrid-opt %s --hybrid-cuda-pipeline="max-seq-len=64 pack-weights=32" | FileCheck %s

// A MoE block whose projections fit the tensor-core tiles (bf16 experts;
// hidden 32, expert intermediate 16: multiples of the bf16 tile's 16
// inputs) through the whole CUDA pipeline: the experts' gate/up and down
// kernels of full 16-entry tiles become block kernels (the tile's expert
// found in the kernel from the routing offsets) that copy the weights to
// shared memory (the module's dynamic shared array) as 16-byte cp.async,
// committed as a group, and x's tile the same way (the gather rounded the
// entries' rows to bf16: the tiles convert nothing); no barrier between
// the independent copies, one before them and one after, which first
// waits for the cp.async groups; then they
// run bf16 mma.sync (m16n8k16) on fragments loaded by ldmatrix (the
// weights' transposed); next to them the kernels for the rest of each
// expert's entries -- gate/up's (32 inputs, whole slices of 16-byte loads)
// in the GEMV form, a block per (routed expert, panel, split of the
// inputs), the last of a panel's to finish summing the splits; down's (16
// inputs) by columns
// -- the gather of the entries' rows and the scatter of the products. (execute-column-linear.test checks the numbers of this
// form.)
// CHECK: gpu.binary @hybrid_kernels
// CHECK-SAME: .extern .shared .align 16 .b8 hybrid_dynamic_shared[];
// CHECK-SAME: .visible .entry moe__expert_gather(
// CHECK-SAME: cvt.rn.bf16.f32
// CHECK-SAME: .visible .entry moe__expert_gate_up_mma(
// CHECK-SAME: mov.b64 \09%rd{{[0-9]+}}, hybrid_dynamic_shared;
// CHECK-SAME: bar.sync
// CHECK-SAME: cp.async.cg.shared.global [%rd{{[0-9]+}}], [%rd{{[0-9]+}}], 16;
// CHECK-SAME: cp.async.commit_group;
// CHECK-NOT: bar.sync
// CHECK-NOT: cvt.rn.bf16x2.f32
// CHECK-SAME: cp.async.commit_group;
// CHECK-NOT: bar.sync
// CHECK-NOT: cvt.rn.bf16x2.f32
// CHECK-SAME: cp.async.commit_group;
// CHECK-NOT: bar.sync
// CHECK-SAME: cp.async.wait_group \090;\0A\09bar.sync
// CHECK-SAME: ldmatrix.sync.aligned.m8n8.x4.shared.b16
// CHECK-SAME: ldmatrix.sync.aligned.m8n8.x2.trans.shared.b16
// CHECK-SAME: mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32
// CHECK-SAME: .visible .entry moe__expert_gate_up_gemv(
// CHECK-SAME: ld.global.v4.b32
// CHECK-NOT: _gemv_combine
// CHECK-SAME: .visible .entry moe__expert_swiglu(
// CHECK-SAME: .visible .entry moe__expert_down_mma(
// CHECK-SAME: mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32
// CHECK-SAME: .visible .entry moe__expert_down(
// CHECK-SAME: .visible .entry moe__expert_scatter(
func.func @moe(%x: tensor<?x32xf32>) -> tensor<?x32xf32> {
  %r = hybrid.weight "router" : tensor<4x32xf32>
  %eg = hybrid.weight "e.{e}.gate" experts(4) : tensor<4x16x32xbf16>
  %eu = hybrid.weight "e.{e}.up" experts(4) : tensor<4x16x32xbf16>
  %ed = hybrid.weight "e.{e}.down" experts(4) : tensor<4x32x16xbf16>
  %y = hybrid.moe softmax %x router(%r) experts_gate(%eg) experts_up(%eu) experts_down(%ed) {num_experts = 4 : i64, top_k = 2 : i64, norm_topk_prob = true} : (tensor<?x32xf32>, tensor<4x32xf32>, tensor<4x16x32xbf16>, tensor<4x16x32xbf16>, tensor<4x32x16xbf16>) -> tensor<?x32xf32>
  return %y : tensor<?x32xf32>
}
