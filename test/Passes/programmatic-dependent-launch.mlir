// RUN: hybrid-opt %s --pass-pipeline="builtin.module(gpu.module(hybrid-programmatic-dependent-launch))" --split-input-file --verify-diagnostics | FileCheck %s

// Every kernel of an sm_90 module signals its dependents, then waits for
// the grids before it, before anything else it does (its first load
// here); a function that is not a kernel is left alone.
// CHECK-LABEL: gpu.module @hybrid_kernels
// CHECK: gpu.func @gemv(%[[X:.*]]: memref<?xf32>, %[[Y:.*]]: memref<?xf32>) kernel
// CHECK-NEXT: nvvm.griddepcontrol launch_dependents
// CHECK-NEXT: nvvm.griddepcontrol wait
// CHECK-NEXT: %[[I:.*]] = gpu.block_id x
// CHECK-NEXT: memref.load %[[X]][%[[I]]]
// CHECK: gpu.func @norm(%{{.*}}: memref<?xf32>) kernel
// CHECK-NEXT: nvvm.griddepcontrol launch_dependents
// CHECK-NEXT: nvvm.griddepcontrol wait
// CHECK-NEXT: gpu.barrier
// CHECK: gpu.func @helper(
// CHECK-NOT: griddepcontrol
// CHECK: gpu.return
gpu.module @hybrid_kernels [#nvvm.target<chip = "sm_90">] {
  gpu.func @gemv(%x: memref<?xf32>, %y: memref<?xf32>) kernel {
    %i = gpu.block_id x
    %v = memref.load %x[%i] : memref<?xf32>
    memref.store %v, %y[%i] : memref<?xf32>
    gpu.return
  }
  gpu.func @norm(%x: memref<?xf32>) kernel {
    gpu.barrier
    gpu.return
  }
  gpu.func @helper(%x: memref<?xf32>) {
    gpu.return
  }
}

// -----

// Prefetches of weights (memref.prefetch, the GEMVs' first phase) need not
// wait: a kernel waits after its leading computation and prefetches, in
// each workgroup loop that holds them (a merged kernel's members, of which
// a block runs one), and again before the first other memory access after
// those loops, for the blocks that ran none. The leading prefetches become
// PTX's prefetch.L2 of the element's address (here [wg, t, 0] of a
// [4, 64, 32] bf16 buffer: (wg * 2048 + t * 32) * 2 bytes past its
// aligned pointer); a prefetch after the wait goes, as does one whose
// buffer's layout is not static.
// CHECK-LABEL: gpu.module @prefetching_kernels
// CHECK: gpu.func @merged(%[[W:[^:]*]]: memref<4x64x32xbf16>, %[[X:[^:]*]]: memref<?x64xf32>
// CHECK-NEXT: nvvm.griddepcontrol launch_dependents
// CHECK-NOT: griddepcontrol
// CHECK: %[[T:.*]] = gpu.thread_id x
// CHECK-NOT: griddepcontrol
// CHECK: scf.for %[[WG:.*]] = %{{.*}} to
// CHECK-DAG: %[[C2048:.*]] = arith.constant 2048 : index
// CHECK-DAG: %[[ROWS:.*]] = arith.muli %[[WG]], %[[C2048]]
// CHECK-DAG: %[[C32:.*]] = arith.constant 32 : index
// CHECK-DAG: arith.muli %[[T]], %[[C32]]
// CHECK: %[[C2:.*]] = arith.constant 2 : index
// CHECK-NEXT: %[[BYTES:.*]] = arith.muli %{{.*}}, %[[C2]]
// CHECK-NEXT: %[[BASE:.*]] = memref.extract_aligned_pointer_as_index %[[W]]
// CHECK-NEXT: %[[AT:.*]] = arith.addi %[[BASE]], %[[BYTES]]
// CHECK-NEXT: %[[AT64:.*]] = arith.index_cast %[[AT]] : index to i64
// CHECK-NEXT: llvm.inline_asm has_side_effects "prefetch.L2 [$0];", "l" %[[AT64]]
// CHECK-NEXT: nvvm.griddepcontrol wait
// CHECK-NEXT: memref.load %[[X]][%[[WG]], %[[T]]]
// CHECK: scf.for
// CHECK: llvm.inline_asm has_side_effects "prefetch.L2 [$0];"
// CHECK-NEXT: nvvm.griddepcontrol wait
// CHECK-NEXT: memref.load %[[X]]
// CHECK: }
// CHECK-NEXT: nvvm.griddepcontrol wait
// CHECK-NEXT: memref.load %[[X]]
// CHECK-NOT: prefetch
// CHECK: gpu.return
// CHECK: gpu.func @only_prefetches(
// CHECK-NEXT: nvvm.griddepcontrol launch_dependents
// CHECK-NEXT: gpu.thread_id x
// CHECK-NEXT: nvvm.griddepcontrol wait
// CHECK-NEXT: gpu.return
gpu.module @prefetching_kernels [#nvvm.target<chip = "sm_90">] {
  gpu.func @merged(%w: memref<4x64x32xbf16>, %x: memref<?x64xf32>, %y: memref<?x64xf32>, %n: index, %m: index) kernel {
    %c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    %b = gpu.block_id x
    %t = gpu.thread_id x
    %e = arith.addi %b, %c1 : index
    %first = arith.minui %e, %n : index
    scf.for %wg = %b to %first step %c1 {
      memref.prefetch %w[%wg, %t, %c0], read, locality<1>, data : memref<4x64x32xbf16>
      %v = memref.load %x[%wg, %t] : memref<?x64xf32>
      memref.store %v, %y[%wg, %t] : memref<?x64xf32>
    }
    %second = arith.minui %e, %m : index
    scf.for %wg = %n to %second step %c1 {
      %i = arith.subi %wg, %n : index
      memref.prefetch %w[%i, %t, %c0], read, locality<1>, data : memref<4x64x32xbf16>
      %v = memref.load %x[%i, %t] : memref<?x64xf32>
      memref.store %v, %y[%i, %t] : memref<?x64xf32>
    }
    %v = memref.load %x[%c0, %t] : memref<?x64xf32>
    memref.prefetch %w[%c0, %t, %c0], read, locality<1>, data : memref<4x64x32xbf16>
    memref.store %v, %y[%c0, %t] : memref<?x64xf32>
    gpu.return
  }
  gpu.func @only_prefetches(%w: memref<64xf32, strided<[?], offset: ?>>) kernel {
    %t = gpu.thread_id x
    memref.prefetch %w[%t], read, locality<1>, data : memref<64xf32, strided<[?], offset: ?>>
    gpu.return
  }
}

// -----

// sm_90a too.
// CHECK-LABEL: gpu.module @wgmma_kernels
// CHECK: nvvm.griddepcontrol launch_dependents
// CHECK-NEXT: nvvm.griddepcontrol wait
gpu.module @wgmma_kernels [#nvvm.target<chip = "sm_90a">] {
  gpu.func @tiles() kernel {
    gpu.return
  }
}

// -----

// sm_80 has no griddepcontrol: ptxas would reject the kernels.
// expected-error @below {{hybrid-programmatic-dependent-launch: griddepcontrol needs one NVVM target of sm_90 or later, got [#nvvm.target<chip = "sm_80">]}}
gpu.module @ampere_kernels [#nvvm.target<chip = "sm_80">] {
  gpu.func @k() kernel {
    gpu.return
  }
}

// -----

// expected-error @below {{hybrid-programmatic-dependent-launch: griddepcontrol needs one NVVM target of sm_90 or later, got none}}
gpu.module @untargeted_kernels {
  gpu.func @k() kernel {
    gpu.return
  }
}
