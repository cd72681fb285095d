// RUN: hybrid-opt %s --hybrid-offload-host-work --split-input-file --verify-diagnostics | FileCheck %s

// The plan's own buffer work (here: a counting sort over routing results)
// becomes one one-iteration parallel loop; the pure index arithmetic, the
// allocations and the existing parallel loop stay in the plan. A copy
// becomes a parallel loop over its elements, a stack buffer a device one.

// CHECK-LABEL: func.func @plan(
// CHECK-SAME: %[[EXPERTS:.*]]: memref<?xi64>, %[[X:.*]]: memref<?x4xf32>, %[[N:.*]]: index
// CHECK: %[[COUNTS:.*]] = memref.alloc() : memref<3xindex>
// CHECK-NOT: memref.alloca
// CHECK: scf.parallel (%{{.*}}) = (%{{.*}}) to (%{{.*}}) step
// CHECK: memref.store %{{.*}}, %[[COUNTS]]
// CHECK: scf.parallel (%[[I:.*]]) = (%[[Z:.*]]) to (%[[ONE:.*]]) step (%[[ONE]])
// CHECK-NEXT: scf.for %[[T:.*]] = %{{.*}} to %[[N]]
// CHECK: memref.load %[[EXPERTS]][%[[T]]]
// CHECK: memref.store %{{.*}}, %[[COUNTS]]
// CHECK: }
// CHECK-NEXT: memref.store %{{.*}}, %[[COUNTS]]
// CHECK-NEXT: scf.reduce
// CHECK: %[[Y:.*]] = memref.alloc(%[[N]]) : memref<?x4xf32>
// CHECK: %[[ROWS:.*]] = memref.dim %[[Y]], %{{.*}}
// CHECK: %[[COLS:.*]] = memref.dim %[[Y]], %{{.*}}
// CHECK: scf.parallel (%[[R:.*]], %[[C:.*]]) = ({{.*}}) to (%[[ROWS]], %[[COLS]])
// CHECK-NEXT: %[[V:.*]] = memref.load %[[X]][%[[R]], %[[C]]]
// CHECK-NEXT: memref.store %[[V]], %[[Y]][%[[R]], %[[C]]]
// CHECK-NOT: memref.copy
// CHECK: memref.dealloc %[[COUNTS]]
// CHECK-NEXT: return %[[Y]]
func.func @plan(%experts: memref<?xi64>, %x: memref<?x4xf32>, %n: index) -> memref<?x4xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c3 = arith.constant 3 : index
  %counts = memref.alloca() : memref<3xindex>
  scf.parallel (%e) = (%c0) to (%c3) step (%c1) {
    memref.store %c0, %counts[%e] : memref<3xindex>
  }
  scf.for %t = %c0 to %n step %c1 {
    %id = memref.load %experts[%t] : memref<?xi64>
    %e = arith.index_cast %id : i64 to index
    %old = memref.load %counts[%e] : memref<3xindex>
    %new = arith.addi %old, %c1 : index
    memref.store %new, %counts[%e] : memref<3xindex>
  }
  %last = arith.subi %c3, %c1 : index
  memref.store %n, %counts[%last] : memref<3xindex>
  %y = memref.alloc(%n) : memref<?x4xf32>
  memref.copy %x, %y : memref<?x4xf32> to memref<?x4xf32>
  return %y : memref<?x4xf32>
}

// -----

// negative_: a plan that only allocates, computes indices and runs parallel
// loops is left as it is.

// CHECK-LABEL: func.func @negative_nothing_to_move(
// CHECK-NEXT: arith.constant 0
// CHECK-NEXT: arith.constant 1
// CHECK-NEXT: memref.alloc
// CHECK-NEXT: scf.parallel
// CHECK: return
func.func @negative_nothing_to_move(%n: index) -> memref<?xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %y = memref.alloc(%n) : memref<?xf32>
  scf.parallel (%i) = (%c0) to (%n) step (%c1) {
    %f = arith.constant 0.0 : f32
    memref.store %f, %y[%i] : memref<?xf32>
  }
  return %y : memref<?xf32>
}

// -----

// A value the plan reads from a buffer and then uses itself cannot move.
func.func @negative_result_used(%x: memref<4xindex>) -> index {
  %c0 = arith.constant 0 : index
  // expected-error @+1 {{'memref.load' op reads or writes a buffer in the plan and its result is used there: on a GPU the plan cannot read device memory}}
  %v = memref.load %x[%c0] : memref<4xindex>
  return %v : index
}

// -----

// negative_: scratch used inside one parallel loop stays on the stack: each
// kernel call gets its own copy of it.

// CHECK-LABEL: func.func @negative_loop_scratch(
// CHECK: memref.alloca() : memref<4xf32>
// CHECK-NOT: memref.alloc()
// CHECK-NOT: memref.dealloc
func.func @negative_loop_scratch(%y: memref<?xf32>, %n: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %scratch = memref.alloca() : memref<4xf32>
  scf.parallel (%i) = (%c0) to (%n) step (%c1) {
    %f = arith.constant 1.0 : f32
    memref.store %f, %scratch[%c0] : memref<4xf32>
    %v = memref.load %scratch[%c0] : memref<4xf32>
    memref.store %v, %y[%i] : memref<?xf32>
  }
  return
}

// -----

// A clone (which the deallocation pipeline adds where a buffer is returned)
// becomes an allocation and a copy loop.

// CHECK-LABEL: func.func @clone(
// CHECK-SAME: %[[X:.*]]: memref<?x4xf32>
// CHECK: %[[N:.*]] = memref.dim %[[X]], %c0
// CHECK: %[[Y:.*]] = memref.alloc(%[[N]]) : memref<?x4xf32>
// CHECK: scf.parallel
// CHECK: memref.load %[[X]]
// CHECK: memref.store %{{.*}}, %[[Y]]
// CHECK-NOT: bufferization.clone
// CHECK: return %[[Y]]
func.func @clone(%x: memref<?x4xf32>) -> memref<?x4xf32> {
  %y = bufferization.clone %x : memref<?x4xf32> to memref<?x4xf32>
  return %y : memref<?x4xf32>
}
