// RUN: hybrid-opt %s --hybrid-merge-dispatches --split-input-file | FileCheck %s --check-prefix=ALL
// RUN: hybrid-opt %s --hybrid-merge-dispatches="small-blocks=0" --split-input-file | FileCheck %s --check-prefix=SMALL

// A block kernel whose count may be 1 or 2 at run time (the MoE grouping:
// one workgroup) joins an independent block kernel before it (a GEMV) by
// default; with small-blocks=0 it is left alone, for
// hybrid-chain-dispatches to run in a tail. A GEMV's count (select(few,
// panels, 0)) is never that small: it still merges.

// ALL-LABEL: func.func @moe(
// ALL: hybrid.dispatch @gemv__and__grouping__and__gemv2 workgroups
// ALL-NOT: hybrid.dispatch
// SMALL-LABEL: func.func @moe(
// SMALL: hybrid.dispatch @gemv__and__gemv2 workgroups
// SMALL-NEXT: hybrid.dispatch @grouping workgroups
// SMALL-NOT: hybrid.dispatch
func.func private @gemv(%begin: index, %end: index, %x: memref<?x8xf32>, %y: memref<?x8xf32>) attributes {hybrid.kernel} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c8 = arith.constant 8 : index
  scf.for %w = %begin to %end step %c1 {
    scf.parallel (%j) = (%c0) to (%c8) step (%c1) {
      %v = memref.load %x[%w, %j] : memref<?x8xf32>
      memref.store %v, %y[%w, %j] : memref<?x8xf32>
    } {hybrid.cooperative}
  }
  return
}
func.func private @grouping(%begin: index, %end: index, %r: memref<?x8xf32>, %g: memref<8xf32>) attributes {hybrid.kernel} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c8 = arith.constant 8 : index
  scf.for %w = %begin to %end step %c1 {
    scf.parallel (%j) = (%c0) to (%c8) step (%c1) {
      %v = memref.load %r[%c0, %j] : memref<?x8xf32>
      memref.store %v, %g[%j] : memref<8xf32>
    } {hybrid.cooperative}
  }
  return
}
func.func private @gemv2(%begin: index, %end: index, %x: memref<?x8xf32>, %y: memref<?x8xf32>) attributes {hybrid.kernel} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c8 = arith.constant 8 : index
  scf.for %w = %begin to %end step %c1 {
    scf.parallel (%j) = (%c0) to (%c8) step (%c1) {
      %v = memref.load %x[%w, %j] : memref<?x8xf32>
      %d = arith.addf %v, %v : f32
      memref.store %d, %y[%w, %j] : memref<?x8xf32>
    } {hybrid.cooperative}
  }
  return
}
func.func @moe(%x: memref<?x8xf32>, %y: memref<?x8xf32>, %r: memref<?x8xf32>, %g: memref<8xf32>, %u: memref<?x8xf32>, %few: i1) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c64 = arith.constant 64 : index
  %panels = arith.select %few, %c64, %c0 : index
  hybrid.dispatch @gemv workgroups(%panels) (%x, %y) : memref<?x8xf32>, memref<?x8xf32>
  hybrid.dispatch @grouping workgroups(%c1) (%r, %g) : memref<?x8xf32>, memref<8xf32>
  hybrid.dispatch @gemv2 workgroups(%panels) (%x, %u) : memref<?x8xf32>, memref<?x8xf32>
  return
}
