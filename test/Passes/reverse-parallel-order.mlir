// RUN: hybrid-opt %s --hybrid-reverse-parallel-order | FileCheck %s
// RUN: hybrid-opt %s --hybrid-reverse-parallel-order --canonicalize | FileCheck %s --check-prefix=FOLDED

// A kernel's workgroups [begin, end) and its block's phase over [0, 32)
// by 1 and over [2, 11) by 3 (iterations 2, 5, 8) run last first: every
// use of an induction variable takes lb + last - (iv - lb), last = lb +
// (ub - lb - 1) / step * step. The plan's function is left alone.

// CHECK-LABEL: func.func private @kernel(
// CHECK-SAME: %[[BEGIN:[^:]*]]: index, %[[END:[^:]*]]: index
// CHECK: scf.for %[[W:.*]] = %[[BEGIN]] to %[[END]] step %[[STEP:[^ ]*]] {
// CHECK:   %[[SPAN:.*]] = arith.subi %[[END]], %[[BEGIN]]
// CHECK:   %[[SPAN1:.*]] = arith.subi %[[SPAN]], %{{.*}}
// CHECK:   %[[STEPS:.*]] = arith.divui %[[SPAN1]], %[[STEP]]
// CHECK:   %[[LAST:.*]] = arith.muli %[[STEPS]], %[[STEP]]
// CHECK:   %[[OFFSET:.*]] = arith.subi %[[W]], %[[BEGIN]]
// CHECK:   %[[FIRST_LAST:.*]] = arith.addi %[[BEGIN]], %[[LAST]]
// CHECK:   %[[MIRRORED:.*]] = arith.subi %[[FIRST_LAST]], %[[OFFSET]]
// CHECK:   memref.load %{{.*}}[%[[MIRRORED]]]

// FOLDED-LABEL: func.func private @kernel(
// FOLDED: scf.parallel (%[[T:.*]]) = (%c0) to (%c32) step (%c1) {
// FOLDED:   %[[R:.*]] = arith.subi %c31, %[[T]]
// FOLDED:   memref.store %{{.*}}, %{{.*}}[%[[R]]]
// FOLDED: scf.parallel (%[[U:.*]]) = (%c2) to (%c11) step (%c3) {
// FOLDED:   %[[S:.*]] = arith.subi %c10, %[[U]]
// FOLDED:   memref.store %{{.*}}, %{{.*}}[%[[S]]]

// A merged kernel's workgroup loops over its kernels' shares of [begin,
// end) run last first too; a chained tail's loop (under scf.if: its
// workgroups run one after another on a GPU as well) keeps its order.
// FOLDED-LABEL: func.func private @merged(
// FOLDED-SAME: %[[B:[^:]*]]: index, %[[E:[^:]*]]: index, %[[N:[^:]*]]: index
// FOLDED: %[[LO:.*]] = arith.minui %[[B]], %[[N]]
// FOLDED: %[[HI:.*]] = arith.minui %[[E]], %[[N]]
// FOLDED: scf.for %[[W0:.*]] = %[[LO]] to %[[HI]]
// FOLDED:   arith.subi %[[HI]], %[[LO]]
// FOLDED:   memref.store
// FOLDED: scf.for %[[W1:.*]] = %[[N]] to %[[E]]
// FOLDED:   arith.subi %[[E]], %[[N]]
// FOLDED:   memref.store
// FOLDED: scf.if
// FOLDED-NEXT: scf.for %[[T:.*]] = %c0 to %c2 step %c1 {
// FOLDED-NEXT: memref.store %{{.*}}, %{{.*}}[%[[T]]]
// FOLDED-LABEL: func.func @forward(
// FOLDED-NOT: arith.subi
// FOLDED: hybrid.dispatch
func.func private @kernel(%begin: index, %end: index, %x: memref<?xf32>, %y: memref<32xf32>) attributes {hybrid.kernel} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %c3 = arith.constant 3 : index
  %c11 = arith.constant 11 : index
  %c32 = arith.constant 32 : index
  scf.for %w = %begin to %end step %c1 {
    %v = memref.load %x[%w] : memref<?xf32>
    scf.parallel (%t) = (%c0) to (%c32) step (%c1) {
      memref.store %v, %y[%t] : memref<32xf32>
      scf.reduce
    }
    scf.parallel (%u) = (%c2) to (%c11) step (%c3) {
      memref.store %v, %y[%u] : memref<32xf32>
      scf.reduce
    }
  }
  return
}
func.func private @merged(%begin: index, %end: index, %n: index, %last: i1, %y: memref<?xf32>) attributes {hybrid.kernel} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %v = arith.constant 1.0 : f32
  %lo = arith.minui %begin, %n : index
  %hi = arith.minui %end, %n : index
  scf.for %w = %lo to %hi step %c1 {
    memref.store %v, %y[%w] : memref<?xf32>
  }
  scf.for %w = %n to %end step %c1 {
    memref.store %v, %y[%w] : memref<?xf32>
  }
  scf.if %last {
    scf.for %t = %c0 to %c2 step %c1 {
      memref.store %v, %y[%t] : memref<?xf32>
    }
  }
  return
}
func.func @forward(%x: memref<?xf32>, %y: memref<32xf32>) {
  %c4 = arith.constant 4 : index
  hybrid.dispatch @kernel workgroups(%c4) (%x, %y) : memref<?xf32>, memref<32xf32>
  return
}
