// RUN: hybrid-opt %s --hybrid-merge-dispatches --split-input-file | FileCheck %s

// Two kernels that read the same buffer and write their own: one dispatch
// over n + m workgroups of a kernel that runs the first's workgroups below
// n, then the second's from n. The second's output buffer and its count
// (index arithmetic) move above the first dispatch; the frees stay.

// CHECK-LABEL: func.func private @forward__model_layers_0_mlp__gate__and__gate_proj_up(
// CHECK-SAME: %[[BEGIN:[^:]*]]: index, %[[END:[^:]*]]: index, %[[N:[^:]*]]: index, %[[X:[^:]*]]: memref<?xf32>, %[[Y:[^:]*]]: memref<?xf32>, %[[Z:[^:]*]]: memref<?xf32>)
// CHECK: %[[B1:.*]] = arith.minui %[[BEGIN]], %[[N]]
// CHECK: %[[E1:.*]] = arith.minui %[[END]], %[[N]]
// CHECK: scf.for %[[W:.*]] = %[[B1]] to %[[E1]]
// CHECK: memref.store %{{.*}}, %[[Y]][%[[W]]]
// CHECK: %[[MAXB:.*]] = arith.maxui %[[BEGIN]], %[[N]]
// CHECK: %[[B2:.*]] = arith.subi %[[MAXB]], %[[N]]
// CHECK: %[[MAXE:.*]] = arith.maxui %[[END]], %[[N]]
// CHECK: %[[E2:.*]] = arith.subi %[[MAXE]], %[[N]]
// CHECK: scf.for %[[V:.*]] = %[[B2]] to %[[E2]]
// CHECK: arith.addf
// CHECK: memref.store %{{.*}}, %[[Z]][%[[V]]]
// CHECK-NOT: func.func private @forward__model_layers_0_mlp__gate(
// CHECK-NOT: func.func private @forward__model_layers_0_mlp__gate_proj_up(

// CHECK-LABEL: func.func @independent(
// CHECK-SAME: %[[PX:.*]]: memref<?xf32>, %[[PN:.*]]: index)
// CHECK: %[[PY:.*]] = memref.alloc(%[[PN]])
// CHECK: %[[M:.*]] = arith.muli %[[PN]], %{{.*}}
// CHECK: %[[PZ:.*]] = memref.alloc(%[[M]])
// CHECK: %[[TOTAL:.*]] = arith.addi %[[PN]], %[[M]]
// CHECK: hybrid.dispatch @forward__model_layers_0_mlp__gate__and__gate_proj_up workgroups(%[[TOTAL]]) (%[[PN]], %[[PX]], %[[PY]], %[[PZ]])
// CHECK-NOT: hybrid.dispatch
// CHECK: memref.dealloc %[[PY]]
func.func private @forward__model_layers_0_mlp__gate(%begin: index, %end: index, %x: memref<?xf32>, %y: memref<?xf32>) attributes {hybrid.kernel} {
  %c1 = arith.constant 1 : index
  scf.for %w = %begin to %end step %c1 {
    %v = memref.load %x[%w] : memref<?xf32>
    memref.store %v, %y[%w] : memref<?xf32>
  }
  return
}
func.func private @forward__model_layers_0_mlp__gate_proj_up(%begin: index, %end: index, %x: memref<?xf32>, %z: memref<?xf32>) attributes {hybrid.kernel} {
  %c1 = arith.constant 1 : index
  scf.for %w = %begin to %end step %c1 {
    %v = memref.load %x[%w] : memref<?xf32>
    %d = arith.addf %v, %v : f32
    memref.store %d, %z[%w] : memref<?xf32>
  }
  return
}
func.func @independent(%x: memref<?xf32>, %n: index) -> memref<?xf32> {
  %y = memref.alloc(%n) : memref<?xf32>
  hybrid.dispatch @forward__model_layers_0_mlp__gate workgroups(%n) (%x, %y) : memref<?xf32>, memref<?xf32>
  %c2 = arith.constant 2 : index
  %m = arith.muli %n, %c2 : index
  %z = memref.alloc(%m) : memref<?xf32>
  hybrid.dispatch @forward__model_layers_0_mlp__gate_proj_up workgroups(%m) (%x, %z) : memref<?xf32>, memref<?xf32>
  memref.dealloc %y : memref<?xf32>
  return %z : memref<?xf32>
}

// -----

// A kernel that reads what the one before writes (through a view of it),
// or writes what the one before reads, waits for it: no merge. A plan op
// that touches memory stops the search too.

// CHECK-LABEL: func.func @dependent(
// CHECK: hybrid.dispatch @produce workgroups
// CHECK-NEXT: memref.subview
// CHECK-NEXT: hybrid.dispatch @consume workgroups
// CHECK-NEXT: hybrid.dispatch @overwrite workgroups
// CHECK-NEXT: arith.constant
// CHECK-NEXT: memref.store
// CHECK-NEXT: hybrid.dispatch @copy workgroups
func.func private @produce(%begin: index, %end: index, %y: memref<8xf32>) attributes {hybrid.kernel} {
  %c1 = arith.constant 1 : index
  %one = arith.constant 1.0 : f32
  scf.for %w = %begin to %end step %c1 {
    memref.store %one, %y[%w] : memref<8xf32>
  }
  return
}
func.func private @consume(%begin: index, %end: index, %y: memref<4xf32, strided<[1], offset: 4>>, %z: memref<4xf32>) attributes {hybrid.kernel} {
  %c1 = arith.constant 1 : index
  scf.for %w = %begin to %end step %c1 {
    %v = memref.load %y[%w] : memref<4xf32, strided<[1], offset: 4>>
    memref.store %v, %z[%w] : memref<4xf32>
  }
  return
}
func.func private @overwrite(%begin: index, %end: index, %y: memref<4xf32, strided<[1], offset: 4>>) attributes {hybrid.kernel} {
  %c1 = arith.constant 1 : index
  %two = arith.constant 2.0 : f32
  scf.for %w = %begin to %end step %c1 {
    memref.store %two, %y[%w] : memref<4xf32, strided<[1], offset: 4>>
  }
  return
}
func.func private @copy(%begin: index, %end: index, %x: memref<8xf32>, %u: memref<8xf32>) attributes {hybrid.kernel} {
  %c1 = arith.constant 1 : index
  scf.for %w = %begin to %end step %c1 {
    %v = memref.load %x[%w] : memref<8xf32>
    memref.store %v, %u[%w] : memref<8xf32>
  }
  return
}
func.func @dependent(%x: memref<8xf32>, %u: memref<8xf32>) -> memref<4xf32> {
  %c4 = arith.constant 4 : index
  %c8 = arith.constant 8 : index
  %y = memref.alloc() : memref<8xf32>
  %z = memref.alloc() : memref<4xf32>
  hybrid.dispatch @produce workgroups(%c8) (%y) : memref<8xf32>
  %tail = memref.subview %y[4] [4] [1] : memref<8xf32> to memref<4xf32, strided<[1], offset: 4>>
  hybrid.dispatch @consume workgroups(%c4) (%tail, %z) : memref<4xf32, strided<[1], offset: 4>>, memref<4xf32>
  hybrid.dispatch @overwrite workgroups(%c4) (%tail) : memref<4xf32, strided<[1], offset: 4>>
  %zero = arith.constant 0.0 : f32
  memref.store %zero, %u[%c4] : memref<8xf32>
  hybrid.dispatch @copy workgroups(%c8) (%x, %u) : memref<8xf32>, memref<8xf32>
  memref.dealloc %y : memref<8xf32>
  return %z : memref<4xf32>
}

// -----

// The forms of one linear layer write different rows of its output
// (hybrid.row_form): a GEMV passes the layer's other forms that write the
// same buffer and joins a block kernel before them. Without the mark on
// both, the shared output orders them. A tensor-core kernel (warps loop)
// is passed but never merged.

// CHECK-LABEL: func.func @row_forms(
// CHECK-SAME: %[[X:[^:]*]]: memref<?x8xf32>, %[[N:[^:]*]]: index, %{{[^:]*}}: index, %[[FEW:[^:]*]]: index)
// CHECK: %[[R:.*]] = memref.alloc(%[[N]])
// CHECK: %[[Y:.*]] = memref.alloc(%[[N]])
// CHECK: %[[TOTAL:.*]] = arith.addi %[[N]], %[[FEW]]
// CHECK: hybrid.dispatch @router__and__gemv workgroups(%[[TOTAL]]) (%[[N]], %[[X]], %[[R]], %[[Y]]) : index, memref<?x8xf32>, memref<?x8xf32>, memref<?x8xf32>{{$}}
// CHECK: hybrid.dispatch @tiles workgroups({{.*}} {hybrid.row_form}{{$}}
// CHECK-NEXT: hybrid.dispatch @columns workgroups({{.*}} {hybrid.row_form}{{$}}
// CHECK-NEXT: hybrid.dispatch @unmarked_gemv workgroups
// CHECK-NOT: hybrid.dispatch
func.func private @router(%begin: index, %end: index, %x: memref<?x8xf32>, %r: memref<?x8xf32>) attributes {hybrid.kernel} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c8 = arith.constant 8 : index
  scf.for %w = %begin to %end step %c1 {
    scf.parallel (%j) = (%c0) to (%c8) step (%c1) {
      %v = memref.load %x[%w, %j] : memref<?x8xf32>
      memref.store %v, %r[%w, %j] : memref<?x8xf32>
    } {hybrid.cooperative}
  }
  return
}
func.func private @tiles(%begin: index, %end: index, %x: memref<?x8xf32>, %y: memref<?x8xf32>) attributes {hybrid.kernel} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  scf.for %w = %begin to %end step %c1 {
    scf.parallel (%warp) = (%c0) to (%c4) step (%c1) {
      %v = memref.load %x[%w, %warp] : memref<?x8xf32>
      memref.store %v, %y[%w, %warp] : memref<?x8xf32>
    } {hybrid.warps}
  }
  return
}
func.func private @columns(%begin: index, %end: index, %x: memref<?x8xf32>, %y: memref<?x8xf32>) attributes {hybrid.kernel} {
  %c1 = arith.constant 1 : index
  %c3 = arith.constant 3 : index
  scf.for %w = %begin to %end step %c1 {
    %v = memref.load %x[%w, %c3] : memref<?x8xf32>
    memref.store %v, %y[%w, %c3] : memref<?x8xf32>
  }
  return
}
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
func.func private @unmarked_gemv(%begin: index, %end: index, %x: memref<?x8xf32>, %y: memref<?x8xf32>) attributes {hybrid.kernel} {
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
func.func @row_forms(%x: memref<?x8xf32>, %n: index, %tiles: index, %few: index) -> (memref<?x8xf32>, memref<?x8xf32>) {
  %r = memref.alloc(%n) : memref<?x8xf32>
  hybrid.dispatch @router workgroups(%n) (%x, %r) : memref<?x8xf32>, memref<?x8xf32>
  %y = memref.alloc(%n) : memref<?x8xf32>
  hybrid.dispatch @tiles workgroups(%tiles) (%x, %y) : memref<?x8xf32>, memref<?x8xf32> {hybrid.row_form}
  hybrid.dispatch @columns workgroups(%n) (%x, %y) : memref<?x8xf32>, memref<?x8xf32> {hybrid.row_form}
  hybrid.dispatch @gemv workgroups(%few) (%x, %y) : memref<?x8xf32>, memref<?x8xf32> {hybrid.row_form}
  hybrid.dispatch @unmarked_gemv workgroups(%few) (%x, %y) : memref<?x8xf32>, memref<?x8xf32>
  return %r, %y : memref<?x8xf32>, memref<?x8xf32>
}

// -----

// Thread kernels whose scratch both pass 256 bytes (a GPU thread's local
// memory) stay apart; one with little scratch joins one with a lot.

// CHECK-LABEL: func.func @scratch(
// CHECK: hybrid.dispatch @scratch_a__and__little workgroups
// CHECK-NEXT: hybrid.dispatch @scratch_b workgroups
func.func private @scratch_a(%begin: index, %end: index, %y: memref<8xf32>) attributes {hybrid.kernel} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %s = memref.alloca() : memref<80xf32>
  scf.for %w = %begin to %end step %c1 {
    %v = memref.load %s[%c0] : memref<80xf32>
    memref.store %v, %y[%w] : memref<8xf32>
  }
  return
}
func.func private @scratch_b(%begin: index, %end: index, %y: memref<8xf32>) attributes {hybrid.kernel} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %s = memref.alloca() : memref<80xf32>
  scf.for %w = %begin to %end step %c1 {
    %v = memref.load %s[%c0] : memref<80xf32>
    memref.store %v, %y[%w] : memref<8xf32>
  }
  return
}
func.func private @little(%begin: index, %end: index, %y: memref<8xf32>) attributes {hybrid.kernel} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %s = memref.alloca() : memref<2xf32>
  scf.for %w = %begin to %end step %c1 {
    %v = memref.load %s[%c0] : memref<2xf32>
    memref.store %v, %y[%w] : memref<8xf32>
  }
  return
}
func.func @scratch(%n: index) -> (memref<8xf32>, memref<8xf32>, memref<8xf32>) {
  %y = memref.alloc() : memref<8xf32>
  %z = memref.alloc() : memref<8xf32>
  %u = memref.alloc() : memref<8xf32>
  hybrid.dispatch @scratch_a workgroups(%n) (%y) : memref<8xf32>
  hybrid.dispatch @scratch_b workgroups(%n) (%z) : memref<8xf32>
  hybrid.dispatch @little workgroups(%n) (%u) : memref<8xf32>
  return %y, %z, %u : memref<8xf32>, memref<8xf32>, memref<8xf32>
}

// -----

// Kernels that share a non-constant global (a GEMV's arrival counts) stay
// apart.

// CHECK-LABEL: func.func @counters(
// CHECK: hybrid.dispatch @count_a workgroups
// CHECK-NEXT: hybrid.dispatch @count_b workgroups
memref.global "private" @arrivals : memref<4xi32> = dense<0>
func.func private @count_a(%begin: index, %end: index) attributes {hybrid.kernel} {
  %c1 = arith.constant 1 : index
  %one = arith.constant 1 : i32
  %counts = memref.get_global @arrivals : memref<4xi32>
  scf.for %w = %begin to %end step %c1 {
    %old = memref.atomic_rmw addi %one, %counts[%w] : (i32, memref<4xi32>) -> i32
  }
  return
}
func.func private @count_b(%begin: index, %end: index) attributes {hybrid.kernel} {
  %c1 = arith.constant 1 : index
  %one = arith.constant 1 : i32
  %counts = memref.get_global @arrivals : memref<4xi32>
  scf.for %w = %begin to %end step %c1 {
    %old = memref.atomic_rmw addi %one, %counts[%w] : (i32, memref<4xi32>) -> i32
  }
  return
}
func.func @counters(%n: index) {
  hybrid.dispatch @count_a workgroups(%n)
  hybrid.dispatch @count_b workgroups(%n)
  return
}
