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
