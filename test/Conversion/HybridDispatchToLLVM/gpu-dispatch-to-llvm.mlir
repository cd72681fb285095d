// RUN: hybrid-opt %s --split-input-file --verify-diagnostics --convert-hybrid-dispatch-to-llvm | FileCheck %s

// A dispatch of a GPU kernel (after gpu-module-to-binary): the workgroup
// count and then every scalar of the operands, each widened to 8 bytes,
// go into slots; @hybrid_run_gpu_dispatch hands the kernel's name, its
// label for profiles (hybrid.label, else the kernel's name), the slots,
// their count, the workgroups, the block size, the threads per
// workgroup (1, or 32 for a warp kernel) and the block's dynamic shared
// memory (0 unless hybrid.shared_bytes says) to the launcher the runtime
// installed (and traps without one). The memref lowering's generic
// allocation functions call the runtime's device allocator.

// CHECK: llvm.func internal @_mlir_memref_to_llvm_alloc(%{{.*}}: i64) -> !llvm.ptr
// CHECK: llvm.mlir.addressof @hybrid_gpu_alloc
// CHECK: llvm.intr.trap
// CHECK-LABEL: llvm.func @plan(
// CHECK-SAME: %[[N:.*]]: i64, %[[FLAG:.*]]: i1, %[[SCALE:.*]]: f32, %[[P:.*]]: !llvm.ptr
// CHECK: %[[SLOTS:.*]] = llvm.alloca %{{.*}} x i64
// CHECK: llvm.store %[[N]], %{{.*}} : i64, !llvm.ptr
// CHECK: %[[WIDE:.*]] = llvm.zext %[[FLAG]] : i1 to i64
// CHECK: llvm.store %[[WIDE]]
// CHECK: %[[BITS:.*]] = llvm.bitcast %[[SCALE]] : f32 to i32
// CHECK: %[[WIDEF:.*]] = llvm.zext %[[BITS]] : i32 to i64
// CHECK: llvm.store %[[WIDEF]]
// CHECK: llvm.store %[[P]], %{{.*}} : !llvm.ptr, !llvm.ptr
// CHECK: %[[NAME:.*]] = llvm.mlir.addressof @k_name
// CHECK: %[[LABEL:.*]] = llvm.mlir.addressof @k_name
// CHECK: %[[COUNT:.*]] = llvm.mlir.constant(4 : i64)
// CHECK: %[[BLOCK:.*]] = llvm.mlir.constant(128 : i64)
// CHECK: %[[ONE:.*]] = llvm.mlir.constant(1 : i64)
// CHECK: %[[NO_SHARED:.*]] = llvm.mlir.constant(0 : i64)
// CHECK: llvm.call @hybrid_run_gpu_dispatch(%[[NAME]], %[[LABEL]], %[[SLOTS]], %[[COUNT]], %[[N]], %[[BLOCK]], %[[ONE]], %[[NO_SHARED]])
// CHECK-LABEL: llvm.func @warp_plan(
// CHECK: %[[WARP:.*]] = llvm.mlir.constant(32 : i64)
// CHECK: llvm.call @hybrid_run_gpu_dispatch({{.*}}, %[[WARP]], %{{.*}})
// CHECK-LABEL: llvm.func @block_plan(
// CHECK: %[[SHARED:.*]] = llvm.mlir.constant(85248 : i64)
// CHECK: llvm.call @hybrid_run_gpu_dispatch({{.*}}, %[[SHARED]])
// A dispatch hybrid-deduplicate-kernels redirected: launched as @k,
// labelled with the kernel it was formed for.
// CHECK-LABEL: llvm.func @labelled_plan(
// CHECK: %[[KNAME:.*]] = llvm.mlir.addressof @k_name
// CHECK: %[[KLABEL:.*]] = llvm.mlir.addressof @k_of_layer_1_name
// CHECK: llvm.call @hybrid_run_gpu_dispatch(%[[KNAME]], %[[KLABEL]],
// CHECK: llvm.mlir.global internal constant @k_name("k\00")
// CHECK: llvm.mlir.global internal constant @k_of_layer_1_name("k_of_layer_1\00")
// CHECK: llvm.mlir.global external @hybrid_gpu_launcher()
// CHECK: llvm.func internal @hybrid_run_gpu_dispatch(
// CHECK-NOT: hybrid_executor
module attributes {gpu.container_module} {
  llvm.func @_mlir_memref_to_llvm_alloc(i64) -> !llvm.ptr
  gpu.binary @hybrid_kernels [#gpu.object<#nvvm.target, "ptx">]
  llvm.func @plan(%n: i64, %flag: i1, %scale: f32, %p: !llvm.ptr) {
    %size = llvm.mlir.constant(64 : i64) : i64
    %buffer = llvm.call @_mlir_memref_to_llvm_alloc(%size) : (i64) -> !llvm.ptr
    %w = builtin.unrealized_conversion_cast %n : i64 to index
    hybrid.dispatch @hybrid_kernels::@k workgroups(%w) (%flag, %scale, %p) : i1, f32, !llvm.ptr {hybrid.block_size = 128 : i64}
    llvm.return
  }
  llvm.func @warp_plan(%n: i64) {
    %w = builtin.unrealized_conversion_cast %n : i64 to index
    hybrid.dispatch @hybrid_kernels::@k workgroups(%w) {hybrid.block_size = 128 : i64, hybrid.workgroup_threads = 32 : i64}
    llvm.return
  }
  llvm.func @block_plan(%n: i64) {
    %w = builtin.unrealized_conversion_cast %n : i64 to index
    hybrid.dispatch @hybrid_kernels::@k workgroups(%w) {hybrid.block_size = 128 : i64, hybrid.workgroup_threads = 128 : i64, hybrid.shared_bytes = 85248 : i64}
    llvm.return
  }
  llvm.func @labelled_plan(%n: i64) {
    %w = builtin.unrealized_conversion_cast %n : i64 to index
    hybrid.dispatch @hybrid_kernels::@k workgroups(%w) {hybrid.block_size = 128 : i64, hybrid.label = "k_of_layer_1"}
    llvm.return
  }
}

// -----

// A plan that frees with the host's free cannot own device buffers.
// expected-error @+1 {{the plan of GPU dispatches calls 'free': its buffers must be device memory (lower memrefs with finalize-memref-to-llvm{use-generic-functions=1})}}
module attributes {gpu.container_module} {
  llvm.func @free(!llvm.ptr)
  gpu.binary @hybrid_kernels [#gpu.object<#nvvm.target, "ptx">]
  llvm.func @plan(%n: i64) {
    %w = builtin.unrealized_conversion_cast %n : i64 to index
    hybrid.dispatch @hybrid_kernels::@k workgroups(%w) {hybrid.block_size = 128 : i64}
    llvm.return
  }
}
