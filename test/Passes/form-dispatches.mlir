// RUN: hybrid-opt %s --hybrid-form-dispatches --split-input-file | FileCheck %s

// A 2-D parallel loop becomes a kernel over rows x columns workgroups: the
// host computes the count and dispatches; the kernel maps a workgroup back
// to (i, j), last dimension fastest. Constants are recreated in the kernel,
// buffers and dynamic bounds are passed.

// CHECK-LABEL: func.func @scale(
// CHECK-SAME: %[[X:.*]]: memref<?x8xf32>, %[[Y:.*]]: memref<?x8xf32>, %[[N:.*]]: index
// CHECK-NOT: scf.parallel
// CHECK: %[[ROWS:.*]] = arith.ceildivui
// CHECK: %[[COUNT0:.*]] = arith.muli %{{.*}}, %[[ROWS]]
// CHECK: %[[COUNT:.*]] = arith.muli %[[COUNT0]], %{{.*}}
// CHECK: hybrid.dispatch @scale_dispatch workgroups(%[[COUNT]]) (%[[X]], %[[Y]], %[[N]]) : memref<?x8xf32>, memref<?x8xf32>, index
// CHECK: return

// CHECK-LABEL: func.func private @scale_dispatch(
// CHECK-SAME: %[[BEGIN:.*]]: index, %[[END:.*]]: index, %[[KX:.*]]: memref<?x8xf32>, %[[KY:.*]]: memref<?x8xf32>, %[[KN:.*]]: index)
// CHECK-SAME: attributes {hybrid.kernel}
// CHECK-DAG: %[[TWO:.*]] = arith.constant 2.0
// CHECK: scf.for %[[W:.*]] = %[[BEGIN]] to %[[END]]
// CHECK: %[[J:.*]] = arith.remui %[[W]]
// CHECK: %[[I:.*]] = arith.divui %[[W]]
// CHECK: memref.load %[[KX]]
// CHECK: arith.mulf %{{.*}}, %[[TWO]]
// CHECK: memref.store %{{.*}}, %[[KY]]
func.func @scale(%x: memref<?x8xf32>, %y: memref<?x8xf32>, %n: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c8 = arith.constant 8 : index
  %two = arith.constant 2.0 : f32
  scf.parallel (%i, %j) = (%c0, %c0) to (%n, %c8) step (%c1, %c1) {
    %v = memref.load %x[%i, %j] : memref<?x8xf32>
    %d = arith.mulf %v, %two : f32
    memref.store %d, %y[%i, %j] : memref<?x8xf32>
  }
  return
}

// -----

// Scratch used only inside the loop becomes the kernel's own; scratch also
// used outside is passed (shared). Nested parallel loops stay in the kernel,
// and each top-level loop gets its own kernel.

// CHECK-LABEL: func.func @scratch(
// CHECK-NOT: memref.alloca() : memref<2xf32>
// CHECK: %[[SHARED:.*]] = memref.alloca() : memref<4xf32>
// CHECK-NOT: memref.alloca
// CHECK: hybrid.dispatch @scratch_dispatch workgroups(%{{.*}}) (%{{.*}}, %[[SHARED]], %{{.*}})
// CHECK: hybrid.dispatch @scratch_dispatch_0 workgroups(
// CHECK: memref.load %[[SHARED]]

// CHECK-LABEL: func.func private @scratch_dispatch(
// CHECK: memref.alloca() : memref<2xf32>
// CHECK: scf.for
// CHECK: scf.parallel
// CHECK-LABEL: func.func private @scratch_dispatch_0(
func.func @scratch(%x: memref<?xf32>, %n: index) -> f32 {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %own = memref.alloca() : memref<2xf32>
  %shared = memref.alloca() : memref<4xf32>
  scf.parallel (%i) = (%c0) to (%n) step (%c1) {
    %v = memref.load %x[%i] : memref<?xf32>
    scf.parallel (%k) = (%c0) to (%c2) step (%c1) {
      memref.store %v, %own[%k] : memref<2xf32>
    }
    %w = memref.load %own[%c1] : memref<2xf32>
    memref.store %w, %shared[%c0] : memref<4xf32>
  }
  scf.parallel (%i) = (%c0) to (%n) step (%c1) {
    %v = memref.load %x[%i] : memref<?xf32>
    memref.store %v, %x[%i] : memref<?xf32>
  }
  %r = memref.load %shared[%c0] : memref<4xf32>
  return %r : f32
}

// -----

// Loops with reductions, and loops nested in other ops, stay as they are.

// CHECK-LABEL: func.func @untouched(
// CHECK: scf.parallel
// CHECK: scf.reduce
// CHECK: scf.for
// CHECK: scf.parallel
// CHECK-NOT: hybrid.dispatch
func.func @untouched(%x: memref<?xf32>, %n: index) -> f32 {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %zero = arith.constant 0.0 : f32
  %sum = scf.parallel (%i) = (%c0) to (%n) step (%c1) init (%zero) -> f32 {
    %v = memref.load %x[%i] : memref<?xf32>
    scf.reduce(%v : f32) {
    ^bb0(%a: f32, %b: f32):
      %s = arith.addf %a, %b : f32
      scf.reduce.return %s : f32
    }
  }
  scf.for %t = %c0 to %n step %c1 {
    scf.parallel (%i) = (%c0) to (%n) step (%c1) {
      memref.store %sum, %x[%i] : memref<?xf32>
    }
  }
  return %sum : f32
}

// -----

// A loop whose location names the checkpoint module it computes gives the
// kernel that name (profiles list it): @<function>__<module>.

// CHECK-LABEL: func.func @named(
// CHECK: hybrid.dispatch @named__model_layers_3_mlp workgroups(
// CHECK: func.func private @named__model_layers_3_mlp(
func.func @named(%x: memref<?xf32>, %n: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  scf.parallel (%i) = (%c0) to (%n) step (%c1) {
    %v = memref.load %x[%i] : memref<?xf32>
    memref.store %v, %x[%i] : memref<?xf32>
  } loc("model.layers.3.mlp")
  return
}

// -----

// A stage of a module's lowering (a name around the module's location) is
// appended: @<function>__<module>__<stage>.

// CHECK-LABEL: func.func @staged(
// CHECK: hybrid.dispatch @staged__model_layers_0_linear_attn__delta_rule workgroups(
// CHECK: func.func private @staged__model_layers_0_linear_attn__delta_rule(
func.func @staged(%x: memref<?xf32>, %n: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  scf.parallel (%i) = (%c0) to (%n) step (%c1) {
    %v = memref.load %x[%i] : memref<?xf32>
    memref.store %v, %x[%i] : memref<?xf32>
  } loc("delta_rule"("model.layers.0.linear_attn"))
  return
}

// -----

// A linear layer's form (hybrid.row_form: it writes rows of its output
// that the layer's other forms do not) keeps the mark on its dispatch, for
// hybrid-merge-dispatches.

// CHECK-LABEL: func.func @row_form(
// CHECK: hybrid.dispatch @row_form_dispatch workgroups({{.*}}) : memref<?xf32>, index {hybrid.row_form}
// CHECK: hybrid.dispatch @row_form_dispatch_0 workgroups({{.*}}) : memref<?xf32>, index{{$}}
func.func @row_form(%x: memref<?xf32>, %n: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %two = arith.constant 2.0 : f32
  scf.parallel (%i) = (%c0) to (%n) step (%c1) {
    memref.store %two, %x[%i] : memref<?xf32>
  } {hybrid.row_form}
  scf.parallel (%i) = (%c0) to (%n) step (%c1) {
    memref.store %two, %x[%i] : memref<?xf32>
  }
  return
}
