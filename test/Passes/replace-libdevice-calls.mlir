// RUN: hybrid-opt %s --pass-pipeline="builtin.module(gpu.module(hybrid-replace-libdevice-calls))" --split-input-file --verify-diagnostics | FileCheck %s

// The three libdevice calls convert-gpu-to-nvvm leaves for math.fma,
// math.floor and math.rsqrt become intrinsics; their declarations go.

// CHECK-LABEL: gpu.module @kernels
// CHECK-NOT: llvm.func @__nv_
// CHECK: llvm.func @k(%[[A:.*]]: f32, %[[B:.*]]: f32, %[[C:.*]]: f32) -> f32
// CHECK: %[[FMA:.*]] = llvm.intr.fma(%[[A]], %[[B]], %[[C]])
// CHECK: %[[FLOOR:.*]] = llvm.intr.floor(%[[FMA]])
// CHECK: %[[ONE:.*]] = llvm.mlir.constant(1.000000e+00 : f32)
// CHECK: %[[SQRT:.*]] = llvm.intr.sqrt(%[[FLOOR]])
// CHECK: %[[R:.*]] = llvm.fdiv %[[ONE]], %[[SQRT]]
// CHECK: llvm.return %[[R]]
gpu.module @kernels {
  llvm.func @__nv_fmaf(f32, f32, f32) -> f32
  llvm.func @__nv_floorf(f32) -> f32
  llvm.func @__nv_rsqrtf(f32) -> f32
  llvm.func @k(%a: f32, %b: f32, %c: f32) -> f32 {
    %0 = llvm.call @__nv_fmaf(%a, %b, %c) : (f32, f32, f32) -> f32
    %1 = llvm.call @__nv_floorf(%0) : (f32) -> f32
    %2 = llvm.call @__nv_rsqrtf(%1) : (f32) -> f32
    llvm.return %2 : f32
  }
}

// -----

// negative_: calls of anything but libdevice stay.

// CHECK-LABEL: gpu.module @negative_other_calls
// CHECK: llvm.call @helper
gpu.module @negative_other_calls {
  llvm.func @helper(f32) -> f32
  llvm.func @k(%a: f32) -> f32 {
    %0 = llvm.call @helper(%a) : (f32) -> f32
    llvm.return %0 : f32
  }
}

// -----

gpu.module @kernels {
  llvm.func @__nv_expf(f32) -> f32
  llvm.func @k(%a: f32) -> f32 {
    // expected-error @+1 {{'llvm.call' op calls libdevice's __nv_expf, which HybridC does not link: approximate the math op it came from before convert-gpu-to-nvvm}}
    %0 = llvm.call @__nv_expf(%a) : (f32) -> f32
    llvm.return %0 : f32
  }
}
