// RUN: hybrid-opt %s --hybrid-cooperative-rows --split-input-file | FileCheck %s
// RUN: hybrid-opt %s --hybrid-cooperative-rows=shared-memory-bytes=232448 --split-input-file | FileCheck %s --check-prefix=SM90

// A row kernel (a fused residual add and RMS norm after
// hybrid-form-dispatches): its column loops become cooperative, and the
// sum of squares -- one iteration around a loop accumulating into %acc --
// a cooperative reduction over the columns from 0, then one cooperative
// iteration adding the sum to %acc.
// CHECK-LABEL: func.func private @norm_dispatch
// CHECK: scf.for %{{.*}} = %arg0 to %arg1
// CHECK: scf.parallel (%{{.*}}, %{{.*}}) = (%c0, %c0) to (%c1, %c8)
// CHECK: } {hybrid.cooperative}
// CHECK: %[[ACC:.*]] = memref.alloc() : memref<1xf32>
// CHECK: scf.parallel (%{{.*}}) = (%c0) to (%c1)
// CHECK: } {hybrid.cooperative}
// CHECK: %[[ZERO:.*]] = arith.constant 0.000000e+00 : f32
// CHECK: %[[SUM:.*]] = scf.parallel (%[[K:.*]]) = (%c0) to (%c8) step (%c1) init (%[[ZERO]]) -> f32 {
// CHECK: %[[X:.*]] = memref.load %{{.*}}[%c0, %[[K]]]
// CHECK: %[[SQ:.*]] = arith.mulf %[[X]], %[[X]]
// CHECK: scf.reduce(%[[SQ]] : f32) {
// CHECK: ^bb0(%[[L:.*]]: f32, %[[R:.*]]: f32):
// CHECK: %[[LR:.*]] = arith.addf %[[L]], %[[R]] : f32
// CHECK: scf.reduce.return %[[LR]] : f32
// CHECK: } {hybrid.cooperative}
// CHECK: scf.parallel (%[[I:.*]]) = (%c0) to (%c1)
// CHECK: %[[OLD:.*]] = memref.load %[[ACC]][%[[I]]]
// CHECK: %[[NEW:.*]] = arith.addf %[[OLD]], %[[SUM]] : f32
// CHECK: memref.store %[[NEW]], %[[ACC]][%[[I]]]
// CHECK: } {hybrid.cooperative}
// CHECK-NOT: scf.for
// CHECK: scf.parallel (%{{.*}}, %{{.*}}) = (%c0, %c0) to (%c1, %c8)
// CHECK: math.rsqrt
// CHECK: } {hybrid.cooperative}
func.func private @norm_dispatch(%arg0: index, %arg1: index, %x: memref<?x8xf32>, %r: memref<?x8xf32>, %y: memref<?x8xf32>, %w: memref<8xf32>) attributes {hybrid.kernel} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c8 = arith.constant 8 : index
  %zero = arith.constant 0.0 : f32
  %eps = arith.constant 1.0e-6 : f32
  scf.for %row = %arg0 to %arg1 step %c1 {
    %xs = memref.subview %x[%row, 0] [1, 8] [1, 1] : memref<?x8xf32> to memref<1x8xf32, strided<[8, 1], offset: ?>>
    %rs = memref.subview %r[%row, 0] [1, 8] [1, 1] : memref<?x8xf32> to memref<1x8xf32, strided<[8, 1], offset: ?>>
    %ys = memref.subview %y[%row, 0] [1, 8] [1, 1] : memref<?x8xf32> to memref<1x8xf32, strided<[8, 1], offset: ?>>
    %h = memref.alloc() : memref<1x8xf32>
    scf.parallel (%i, %j) = (%c0, %c0) to (%c1, %c8) step (%c1, %c1) {
      %a = memref.load %xs[%i, %j] : memref<1x8xf32, strided<[8, 1], offset: ?>>
      %b = memref.load %rs[%i, %j] : memref<1x8xf32, strided<[8, 1], offset: ?>>
      %s = arith.addf %a, %b : f32
      memref.store %s, %h[%i, %j] : memref<1x8xf32>
      scf.reduce
    }
    %acc = memref.alloc() : memref<1xf32>
    scf.parallel (%i) = (%c0) to (%c1) step (%c1) {
      memref.store %zero, %acc[%i] : memref<1xf32>
      scf.reduce
    }
    scf.parallel (%i) = (%c0) to (%c1) step (%c1) {
      scf.for %k = %c0 to %c8 step %c1 {
        %v = memref.load %h[%i, %k] : memref<1x8xf32>
        %old = memref.load %acc[%i] : memref<1xf32>
        %sq = arith.mulf %v, %v : f32
        %new = arith.addf %old, %sq : f32
        memref.store %new, %acc[%i] : memref<1xf32>
      }
      scf.reduce
    }
    scf.parallel (%i, %j) = (%c0, %c0) to (%c1, %c8) step (%c1, %c1) {
      %v = memref.load %h[%i, %j] : memref<1x8xf32>
      %ss = memref.load %acc[%i] : memref<1xf32>
      %g = memref.load %w[%j] : memref<8xf32>
      %m = arith.addf %ss, %eps : f32
      %inv = math.rsqrt %m : f32
      %n = arith.mulf %v, %inv : f32
      %o = arith.mulf %n, %g : f32
      memref.store %o, %ys[%i, %j] : memref<1x8xf32, strided<[8, 1], offset: ?>>
      scf.reduce
    }
    memref.dealloc %h : memref<1x8xf32>
    memref.dealloc %acc : memref<1xf32>
  }
  return
}

// -----

// negative_: a loop of one iteration that does more than accumulate (here
// it also writes another buffer) stays as it is, though cooperative: one
// thread runs it.
// CHECK-LABEL: func.func private @negative_not_a_sum
// CHECK: scf.parallel (%{{.*}}) = (%c0) to (%c1)
// CHECK-NEXT: scf.for
// CHECK: } {hybrid.cooperative}
// CHECK-NOT: init
func.func private @negative_not_a_sum(%arg0: index, %arg1: index, %x: memref<?x8xf32>, %y: memref<8xf32>) attributes {hybrid.kernel} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c8 = arith.constant 8 : index
  scf.for %row = %arg0 to %arg1 step %c1 {
    %acc = memref.alloc() : memref<1xf32>
    scf.parallel (%i) = (%c0) to (%c1) step (%c1) {
      scf.for %k = %c0 to %c8 step %c1 {
        %v = memref.load %x[%row, %k] : memref<?x8xf32>
        %old = memref.load %acc[%i] : memref<1xf32>
        %new = arith.addf %old, %v : f32
        memref.store %new, %acc[%i] : memref<1xf32>
        memref.store %new, %y[%k] : memref<8xf32>
      }
      scf.reduce
    }
    scf.parallel (%j) = (%c0) to (%c8) step (%c1) {
      %v = memref.load %acc[%c0] : memref<1xf32>
      memref.store %v, %x[%row, %j] : memref<?x8xf32>
      scf.reduce
    }
    memref.dealloc %acc : memref<1xf32>
  }
  return
}

// -----

// negative_: kernels that are not row kernels keep a thread per workgroup:
// a write at the workgroup level (a linear layer's scf.for), loops of one
// iteration only, row buffers beyond shared-memory-bytes (48 KiB by
// default; the 64 KiB row fits sm_90's 227 KiB, less 1 KiB for the block
// reductions).
// CHECK-LABEL: func.func private @negative_writes_outside
// CHECK-NOT: hybrid.cooperative
// CHECK-LABEL: func.func private @negative_narrow
// CHECK-NOT: hybrid.cooperative
// CHECK-LABEL: func.func private @negative_large_rows
// CHECK-NOT: hybrid.cooperative
// SM90-LABEL: func.func private @negative_large_rows
// SM90: } {hybrid.cooperative}
// SM90: } {hybrid.cooperative}
// SM90-NEXT: memref.dealloc
func.func private @negative_writes_outside(%arg0: index, %arg1: index, %x: memref<?x8xf32>) attributes {hybrid.kernel} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c8 = arith.constant 8 : index
  %one = arith.constant 1.0 : f32
  scf.for %row = %arg0 to %arg1 step %c1 {
    scf.for %k = %c0 to %c8 step %c1 {
      memref.store %one, %x[%row, %k] : memref<?x8xf32>
    }
    scf.parallel (%j) = (%c0) to (%c8) step (%c1) {
      memref.store %one, %x[%row, %j] : memref<?x8xf32>
      scf.reduce
    }
  }
  return
}
func.func private @negative_narrow(%arg0: index, %arg1: index, %x: memref<?x1xf32>) attributes {hybrid.kernel} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %one = arith.constant 1.0 : f32
  scf.for %row = %arg0 to %arg1 step %c1 {
    scf.parallel (%j) = (%c0) to (%c1) step (%c1) {
      memref.store %one, %x[%row, %j] : memref<?x1xf32>
      scf.reduce
    }
  }
  return
}
func.func private @negative_large_rows(%arg0: index, %arg1: index, %x: memref<?x16384xf32>) attributes {hybrid.kernel} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %cn = arith.constant 16384 : index
  scf.for %row = %arg0 to %arg1 step %c1 {
    %h = memref.alloc() : memref<16384xf32>
    scf.parallel (%j) = (%c0) to (%cn) step (%c1) {
      %v = memref.load %x[%row, %j] : memref<?x16384xf32>
      memref.store %v, %h[%j] : memref<16384xf32>
      scf.reduce
    }
    scf.parallel (%j) = (%c0) to (%cn) step (%c1) {
      %v = memref.load %h[%j] : memref<16384xf32>
      memref.store %v, %x[%row, %j] : memref<?x16384xf32>
      scf.reduce
    }
    memref.dealloc %h : memref<16384xf32>
  }
  return
}

// -----

// The rows that get logits: the summed row, gathered at rows[w], is also
// copied to the residual kept for the next layer. A copy of a static-shaped
// row becomes a cooperative loop over its elements; a copy of a buffer of
// dynamic shape keeps the kernel a thread per workgroup.
// CHECK-LABEL: func.func private @gathered_row
// CHECK: scf.for %[[W:.*]] = %arg0 to %arg1
// CHECK: %[[ROW:.*]] = memref.load %arg2[%[[W]]]
// CHECK: %[[H:.*]] = memref.alloc() : memref<1x8xf32>
// CHECK: } {hybrid.cooperative}
// CHECK: %[[KEPT:.*]] = memref.subview %arg4[%[[W]], 0] [1, 8] [1, 1]
// CHECK-NOT: memref.copy
// CHECK: scf.parallel (%[[I:.*]], %[[J:.*]]) = (%c0{{[_0-9]*}}, %c0{{[_0-9]*}}) to (%c1{{[_0-9]*}}, %c8{{[_0-9]*}})
// CHECK: %[[V:.*]] = memref.load %[[H]][%[[I]], %[[J]]]
// CHECK: memref.store %[[V]], %[[KEPT]][%[[I]], %[[J]]]
// CHECK: } {hybrid.cooperative}
// CHECK-LABEL: func.func private @negative_dynamic_copy
// CHECK-NOT: hybrid.cooperative
// CHECK: memref.copy
func.func private @gathered_row(%arg0: index, %arg1: index, %rows: memref<?xi64>, %x: memref<?x8xf32>, %kept: memref<?x8xf32>) attributes {hybrid.kernel} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c8 = arith.constant 8 : index
  scf.for %w = %arg0 to %arg1 step %c1 {
    %r = memref.load %rows[%w] : memref<?xi64>
    %row = arith.index_cast %r : i64 to index
    %xs = memref.subview %x[%row, 0] [1, 8] [1, 1] : memref<?x8xf32> to memref<1x8xf32, strided<[8, 1], offset: ?>>
    %h = memref.alloc() : memref<1x8xf32>
    scf.parallel (%i, %j) = (%c0, %c0) to (%c1, %c8) step (%c1, %c1) {
      %a = memref.load %xs[%i, %j] : memref<1x8xf32, strided<[8, 1], offset: ?>>
      %s = arith.addf %a, %a : f32
      memref.store %s, %h[%i, %j] : memref<1x8xf32>
      scf.reduce
    }
    %ks = memref.subview %kept[%w, 0] [1, 8] [1, 1] : memref<?x8xf32> to memref<1x8xf32, strided<[8, 1], offset: ?>>
    memref.copy %h, %ks : memref<1x8xf32> to memref<1x8xf32, strided<[8, 1], offset: ?>>
    memref.dealloc %h : memref<1x8xf32>
  }
  return
}
func.func private @negative_dynamic_copy(%arg0: index, %arg1: index, %x: memref<?x8xf32>, %kept: memref<?x8xf32>) attributes {hybrid.kernel} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c8 = arith.constant 8 : index
  scf.for %w = %arg0 to %arg1 step %c1 {
    %h = memref.alloc() : memref<1x8xf32>
    scf.parallel (%i, %j) = (%c0, %c0) to (%c1, %c8) step (%c1, %c1) {
      %a = memref.load %x[%w, %j] : memref<?x8xf32>
      memref.store %a, %h[%i, %j] : memref<1x8xf32>
      scf.reduce
    }
    memref.copy %x, %kept : memref<?x8xf32> to memref<?x8xf32>
    memref.dealloc %h : memref<1x8xf32>
  }
  return
}
