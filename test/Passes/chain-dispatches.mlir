// RUN: hybrid-opt %s --hybrid-chain-dispatches --split-input-file | FileCheck %s

// A block kernel of few workgroups (a norm: a block per token) after
// another block kernel (a GEMV) runs in its tail: the call whose
// workgroups complete the GEMV's count (an atomic add to the kernel's own
// arrival count, by one thread) sets the count back to 0 and runs the
// norm's workgroups [0, tail); a call with no workgroups of the GEMV
// (the other part of a merged kernel) does not arrive. The plan gives the tail the norm's count
// where that is 1 or 2 and the GEMV has workgroups, and the norm's own
// dispatch the rest: none then, all of them otherwise (a prompt). The
// norm's output buffer moves above the GEMV's dispatch; its scratch goes
// to the new kernel's entry.

// CHECK: memref.global "private" @forward__model_layers_0_out_proj_gemv__then__model_layers_0_post_attention_layernorm_arrivals : memref<1xi32> = dense<0>
// CHECK-LABEL: func.func private @forward__model_layers_0_out_proj_gemv__then__model_layers_0_post_attention_layernorm(
// CHECK-SAME: %[[BEGIN:[^:]*]]: index, %[[END:[^:]*]]: index, %[[N1:[^:]*]]: index, %[[TAIL:[^:]*]]: index, %[[X:[^:]*]]: memref<?x8xf32>, %[[Y:[^:]*]]: memref<?x8xf32>, %[[Z:[^:]*]]: memref<?x8xf32>)
// CHECK-NEXT: %[[SUM:.*]] = memref.alloca() : memref<1xf32>
// CHECK-NEXT: %[[ARRIVED:.*]] = memref.alloca() : memref<1xi32>
// CHECK: scf.for %[[W:.*]] = %[[BEGIN]] to %[[END]]
// CHECK: memref.store %{{.*}}, %[[Y]][%[[W]], %{{.*}}]
// CHECK: } {hybrid.cooperative}
// CHECK: %[[HAS_TAIL:.*]] = arith.cmpi ne, %[[TAIL]], %{{.*}}
// CHECK: %[[HAS_WORK:.*]] = arith.cmpi ugt, %[[END]], %[[BEGIN]]
// CHECK: %[[RUNS:.*]] = arith.andi %[[HAS_TAIL]], %[[HAS_WORK]]
// CHECK: scf.if %[[RUNS]] {
// CHECK: %[[SPAN:.*]] = arith.subi %[[END]], %[[BEGIN]]
// CHECK: %[[MINE:.*]] = arith.index_cast %[[SPAN]] : index to i32
// CHECK: scf.parallel
// CHECK: %[[COUNT:.*]] = memref.get_global @forward__model_layers_0_out_proj_gemv__then__model_layers_0_post_attention_layernorm_arrivals
// CHECK: %[[BEFORE:.*]] = memref.atomic_rmw addi %[[MINE]], %[[COUNT]]
// CHECK: memref.store %[[BEFORE]], %[[ARRIVED]]
// CHECK: } {hybrid.cooperative}
// CHECK: %[[READ:.*]] = memref.load %[[ARRIVED]]
// CHECK: %[[NOW:.*]] = arith.addi %[[READ]], %[[MINE]]
// CHECK: %[[ALL:.*]] = arith.index_cast %[[N1]] : index to i32
// CHECK: %[[LAST:.*]] = arith.cmpi eq, %[[NOW]], %[[ALL]]
// CHECK: scf.if %[[LAST]] {
// CHECK: memref.atomic_rmw assign
// CHECK: } {hybrid.cooperative}
// CHECK: scf.for %[[V:.*]] = %{{.*}} to %[[TAIL]]
// CHECK: memref.load %[[Y]][%[[V]]
// CHECK: memref.store %{{.*}}, %[[SUM]]
// CHECK: memref.store %{{.*}}, %[[Z]][%[[V]]

// CHECK-LABEL: func.func @decode(
// CHECK-SAME: %[[PX:[^:]*]]: memref<?x8xf32>, %[[T:[^:]*]]: index, %[[FEW:[^:]*]]: i1)
// CHECK: %[[PY:.*]] = memref.alloc(%[[T]])
// CHECK: %[[G:.*]] = arith.select %[[FEW]], %{{.*}}, %{{.*}} : index
// CHECK: %[[PZ:.*]] = memref.alloc(%[[T]])
// CHECK: %[[HAS:.*]] = arith.cmpi ugt, %[[G]], %{{.*}}
// CHECK: %[[SMALL:.*]] = arith.cmpi ule, %[[T]], %{{.*}}
// CHECK: %[[BOTH:.*]] = arith.andi %[[HAS]], %[[SMALL]]
// CHECK: %[[PTAIL:.*]] = arith.select %[[BOTH]], %[[T]], %{{.*}}
// CHECK: hybrid.dispatch @forward__model_layers_0_out_proj_gemv__then__model_layers_0_post_attention_layernorm workgroups(%[[G]]) (%[[G]], %[[PTAIL]], %[[PX]], %[[PY]], %[[PZ]]) : index, index, memref<?x8xf32>, memref<?x8xf32>, memref<?x8xf32>{{$}}
// CHECK: %[[REST:.*]] = arith.subi %[[T]], %[[PTAIL]]
// CHECK: hybrid.dispatch @forward__model_layers_0_post_attention_layernorm workgroups(%[[REST]]) (%[[PY]], %[[PZ]]) : memref<?x8xf32>, memref<?x8xf32> {hybrid.tail_remainder}
// CHECK: memref.dealloc %[[PY]]
func.func private @forward__model_layers_0_out_proj_gemv(%begin: index, %end: index, %x: memref<?x8xf32>, %y: memref<?x8xf32>) attributes {hybrid.kernel} {
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
func.func private @forward__model_layers_0_post_attention_layernorm(%begin: index, %end: index, %y: memref<?x8xf32>, %z: memref<?x8xf32>) attributes {hybrid.kernel} {
  %sum = memref.alloca() : memref<1xf32>
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c8 = arith.constant 8 : index
  scf.for %w = %begin to %end step %c1 {
    scf.parallel (%j) = (%c0) to (%c8) step (%c1) {
      %v = memref.load %y[%w, %j] : memref<?x8xf32>
      memref.store %v, %sum[%c0] : memref<1xf32>
      memref.store %v, %z[%w, %j] : memref<?x8xf32>
    } {hybrid.cooperative}
  }
  return
}
func.func @decode(%x: memref<?x8xf32>, %tokens: index, %few: i1) -> memref<?x8xf32> {
  %y = memref.alloc(%tokens) : memref<?x8xf32>
  %c0 = arith.constant 0 : index
  %c64 = arith.constant 64 : index
  %gemv = arith.select %few, %c64, %c0 : index
  hybrid.dispatch @forward__model_layers_0_out_proj_gemv workgroups(%gemv) (%x, %y) : memref<?x8xf32>, memref<?x8xf32>
  %z = memref.alloc(%tokens) : memref<?x8xf32>
  hybrid.dispatch @forward__model_layers_0_post_attention_layernorm workgroups(%tokens) (%y, %z) : memref<?x8xf32>, memref<?x8xf32>
  memref.dealloc %y : memref<?x8xf32>
  return %z : memref<?x8xf32>
}

// -----

// Not chained: a count that is never 1 or 2 (a GEMV's, 0 or 64; a
// product with a factor of 4); a thread kernel, before or after; a plan op
// that touches memory between them; and a dispatch after one that gave
// its small counts to a tail (that one launches only for many rows) and
// that it depends on, when that tail is not the last one's (a thread
// kernel between them).

// CHECK-LABEL: func.func @unchained(
// CHECK: hybrid.dispatch @block_a workgroups
// CHECK-NEXT: hybrid.dispatch @block_b workgroups
// CHECK-NEXT: arith.constant 4
// CHECK-NEXT: arith.muli
// CHECK-NEXT: hybrid.dispatch @block_c workgroups
// CHECK-NEXT: hybrid.dispatch @thread_d workgroups
// CHECK-NEXT: hybrid.dispatch @block_e workgroups({{[^)]*}}) ({{[^)]*}}) : memref<?x8xf32>{{$}}
// CHECK-NEXT: arith.constant 0.0
// CHECK-NEXT: memref.store
// CHECK: hybrid.dispatch @block_f__then__block_g workgroups({{[^)]*}}) ({{[^)]*}}) : index, index, memref<?x8xf32>{{$}}
// CHECK: hybrid.dispatch @block_g workgroups({{.*}} {hybrid.tail_remainder}
// CHECK-NEXT: hybrid.dispatch @thread_d workgroups
// CHECK-NEXT: hybrid.dispatch @block_h workgroups({{[^)]*}}) ({{[^)]*}}) : memref<?x8xf32>{{$}}
// CHECK-NOT: hybrid.tail_remainder
func.func private @block_a(%begin: index, %end: index, %x: memref<?x8xf32>) attributes {hybrid.kernel} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c8 = arith.constant 8 : index
  %one = arith.constant 1.0 : f32
  scf.for %w = %begin to %end step %c1 {
    scf.parallel (%j) = (%c0) to (%c8) step (%c1) {
      memref.store %one, %x[%w, %j] : memref<?x8xf32>
    } {hybrid.cooperative}
  }
  return
}
func.func private @block_b(%begin: index, %end: index, %x: memref<?x8xf32>) attributes {hybrid.kernel} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c8 = arith.constant 8 : index
  %one = arith.constant 2.0 : f32
  scf.for %w = %begin to %end step %c1 {
    scf.parallel (%j) = (%c0) to (%c8) step (%c1) {
      memref.store %one, %x[%w, %j] : memref<?x8xf32>
    } {hybrid.cooperative}
  }
  return
}
func.func private @block_c(%begin: index, %end: index, %x: memref<?x8xf32>) attributes {hybrid.kernel} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c8 = arith.constant 8 : index
  %one = arith.constant 3.0 : f32
  scf.for %w = %begin to %end step %c1 {
    scf.parallel (%j) = (%c0) to (%c8) step (%c1) {
      memref.store %one, %x[%w, %j] : memref<?x8xf32>
    } {hybrid.cooperative}
  }
  return
}
func.func private @thread_d(%begin: index, %end: index, %x: memref<?x8xf32>) attributes {hybrid.kernel} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %one = arith.constant 4.0 : f32
  scf.for %w = %begin to %end step %c1 {
    memref.store %one, %x[%w, %c0] : memref<?x8xf32>
  }
  return
}
func.func private @block_e(%begin: index, %end: index, %x: memref<?x8xf32>) attributes {hybrid.kernel} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c8 = arith.constant 8 : index
  %one = arith.constant 5.0 : f32
  scf.for %w = %begin to %end step %c1 {
    scf.parallel (%j) = (%c0) to (%c8) step (%c1) {
      memref.store %one, %x[%w, %j] : memref<?x8xf32>
    } {hybrid.cooperative}
  }
  return
}
func.func private @block_f(%begin: index, %end: index, %x: memref<?x8xf32>) attributes {hybrid.kernel} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c8 = arith.constant 8 : index
  %one = arith.constant 6.0 : f32
  scf.for %w = %begin to %end step %c1 {
    scf.parallel (%j) = (%c0) to (%c8) step (%c1) {
      memref.store %one, %x[%w, %j] : memref<?x8xf32>
    } {hybrid.cooperative}
  }
  return
}
func.func private @block_g(%begin: index, %end: index, %x: memref<?x8xf32>) attributes {hybrid.kernel} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c8 = arith.constant 8 : index
  %one = arith.constant 7.0 : f32
  scf.for %w = %begin to %end step %c1 {
    scf.parallel (%j) = (%c0) to (%c8) step (%c1) {
      memref.store %one, %x[%w, %j] : memref<?x8xf32>
    } {hybrid.cooperative}
  }
  return
}
func.func private @block_h(%begin: index, %end: index, %x: memref<?x8xf32>) attributes {hybrid.kernel} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c8 = arith.constant 8 : index
  %one = arith.constant 8.0 : f32
  scf.for %w = %begin to %end step %c1 {
    scf.parallel (%j) = (%c0) to (%c8) step (%c1) {
      memref.store %one, %x[%w, %j] : memref<?x8xf32>
    } {hybrid.cooperative}
  }
  return
}
func.func @unchained(%x: memref<?x8xf32>, %tokens: index, %few: i1, %u: memref<8xf32>) {
  %c0 = arith.constant 0 : index
  %c64 = arith.constant 64 : index
  %gemv = arith.select %few, %c64, %c0 : index
  hybrid.dispatch @block_a workgroups(%tokens) (%x) : memref<?x8xf32>
  hybrid.dispatch @block_b workgroups(%gemv) (%x) : memref<?x8xf32>
  %c4 = arith.constant 4 : index
  %heads = arith.muli %tokens, %c4 : index
  hybrid.dispatch @block_c workgroups(%heads) (%x) : memref<?x8xf32>
  hybrid.dispatch @thread_d workgroups(%tokens) (%x) : memref<?x8xf32>
  hybrid.dispatch @block_e workgroups(%tokens) (%x) : memref<?x8xf32>
  %zero = arith.constant 0.0 : f32
  memref.store %zero, %u[%c0] : memref<8xf32>
  hybrid.dispatch @block_f workgroups(%tokens) (%x) : memref<?x8xf32>
  hybrid.dispatch @block_g workgroups(%tokens) (%x) : memref<?x8xf32>
  hybrid.dispatch @thread_d workgroups(%tokens) (%x) : memref<?x8xf32>
  hybrid.dispatch @block_h workgroups(%tokens) (%x) : memref<?x8xf32>
  return
}

// -----

// The nearest block kernel before a small one may lie past up to two other
// dispatches that may run before it instead: here the experts' scatter of
// their full tiles (a thread kernel), a form of the same output as the
// GEMV (hybrid.row_form on both: they write different rows). The scatter
// moves above the GEMV, whose kernel then runs the norm in its tail. A
// dispatch that the GEMV orders is not passed.

// CHECK-LABEL: func.func @passing(
// CHECK: hybrid.dispatch @scatter workgroups
// CHECK-NOT: hybrid.dispatch
// CHECK: hybrid.dispatch @gemv__then__norm workgroups
// CHECK-NEXT: arith.subi
// CHECK-NEXT: hybrid.dispatch @norm workgroups({{.*}} {hybrid.tail_remainder}
// CHECK: hybrid.dispatch @gemv2 workgroups
// CHECK-NEXT: hybrid.dispatch @reader workgroups
// CHECK-NEXT: hybrid.dispatch @norm2 workgroups({{[^)]*}}) ({{[^)]*}}) : memref<?x8xf32>, memref<?x8xf32>{{$}}
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
func.func private @scatter(%begin: index, %end: index, %t: memref<?x8xf32>, %y: memref<?x8xf32>) attributes {hybrid.kernel} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  scf.for %w = %begin to %end step %c1 {
    %v = memref.load %t[%w, %c0] : memref<?x8xf32>
    memref.store %v, %y[%w, %c0] : memref<?x8xf32>
  }
  return
}
func.func private @reader(%begin: index, %end: index, %y: memref<?x8xf32>, %u: memref<?x8xf32>) attributes {hybrid.kernel} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  scf.for %w = %begin to %end step %c1 {
    %v = memref.load %y[%w, %c0] : memref<?x8xf32>
    memref.store %v, %u[%w, %c0] : memref<?x8xf32>
  }
  return
}
func.func private @norm(%begin: index, %end: index, %y: memref<?x8xf32>, %z: memref<?x8xf32>) attributes {hybrid.kernel} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c8 = arith.constant 8 : index
  scf.for %w = %begin to %end step %c1 {
    scf.parallel (%j) = (%c0) to (%c8) step (%c1) {
      %v = memref.load %y[%w, %j] : memref<?x8xf32>
      memref.store %v, %z[%w, %j] : memref<?x8xf32>
    } {hybrid.cooperative}
  }
  return
}
func.func private @norm2(%begin: index, %end: index, %y: memref<?x8xf32>, %z: memref<?x8xf32>) attributes {hybrid.kernel} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c8 = arith.constant 8 : index
  scf.for %w = %begin to %end step %c1 {
    scf.parallel (%j) = (%c0) to (%c8) step (%c1) {
      %v = memref.load %y[%w, %j] : memref<?x8xf32>
      %d = arith.mulf %v, %v : f32
      memref.store %d, %z[%w, %j] : memref<?x8xf32>
    } {hybrid.cooperative}
  }
  return
}
func.func @passing(%x: memref<?x8xf32>, %t: memref<?x8xf32>, %y: memref<?x8xf32>, %z: memref<?x8xf32>, %u: memref<?x8xf32>, %tokens: index, %few: index, %tiles: index) {
  hybrid.dispatch @gemv workgroups(%few) (%x, %y) : memref<?x8xf32>, memref<?x8xf32> {hybrid.row_form}
  hybrid.dispatch @scatter workgroups(%tiles) (%t, %y) : memref<?x8xf32>, memref<?x8xf32> {hybrid.row_form}
  hybrid.dispatch @norm workgroups(%tokens) (%y, %z) : memref<?x8xf32>, memref<?x8xf32>
  %c4 = arith.constant 4 : index
  %panels = arith.muli %few, %c4 : index
  hybrid.dispatch @gemv2 workgroups(%panels) (%x, %y) : memref<?x8xf32>, memref<?x8xf32>
  hybrid.dispatch @reader workgroups(%tiles) (%y, %u) : memref<?x8xf32>, memref<?x8xf32>
  hybrid.dispatch @norm2 workgroups(%tokens) (%y, %z) : memref<?x8xf32>, memref<?x8xf32>
  return
}

// -----

// A small block kernel right after the remainder of a tail (and what it
// depends on: the MoE grouping after the routing, which runs in the tail
// of the router's GEMV) goes at the end of that tail: the last call runs
// the routing's workgroups, then the grouping's. The plan gives the
// grouping's part of the tail its count (1 or 2) only where the tail ran
// all of the routing's workgroups; else the grouping's own dispatch runs
// them all, after the routing's remainder. A dispatch that neither orders
// with the grouping (the shared expert's down GEMV) may lie between: the
// grouping's dispatch moves above it. And as the grouping's count is a
// constant (one workgroup, however many rows), what the first tail leaves
// of it runs in the tail of the routing's remainder, which launches where
// the first tail did not run all the routing's rows (a batch of several
// sequences' decode steps, a prompt): there the remainder's last
// workgroup to finish runs the grouping, and the grouping's own dispatch
// has none left. The joined remainder stays a remainder.

// CHECK-LABEL: func.func private @router_gemv__then__routing__then__grouping(
// CHECK-SAME: %{{[^:]*}}: index, %{{[^:]*}}: index, %[[N1:[^:]*]]: index, %[[GTAIL:[^:]*]]: index, %[[RTAIL:[^:]*]]: index, %{{[^:]*}}: memref<?x8xf32>, %[[L:[^:]*]]: memref<?x8xf32>, %[[R:[^:]*]]: memref<?x8xf32>, %[[G:[^:]*]]: memref<8xf32>)
// CHECK: memref.store %{{.*}}, %[[L]]
// CHECK: scf.if
// CHECK: memref.atomic_rmw addi
// CHECK: scf.if
// CHECK: memref.atomic_rmw assign
// CHECK: scf.for %[[W:.*]] = %{{.*}} to %[[RTAIL]]
// CHECK: memref.store %{{.*}}, %[[R]][%[[W]]
// CHECK: scf.for %[[V:.*]] = %{{.*}} to %[[GTAIL]]
// CHECK: memref.load %[[R]]
// CHECK: memref.store %{{.*}}, %[[G]]
// CHECK-LABEL: func.func private @routing__then__grouping(
// CHECK-SAME: %{{[^:]*}}: index, %{{[^:]*}}: index, %[[RN:[^:]*]]: index, %[[RGTAIL:[^:]*]]: index, %[[RL:[^:]*]]: memref<?x8xf32>, %[[RR:[^:]*]]: memref<?x8xf32>, %[[RG:[^:]*]]: memref<8xf32>)
// CHECK: memref.store %{{.*}}, %[[RR]]
// CHECK: memref.get_global @routing__then__grouping_arrivals
// CHECK: memref.atomic_rmw addi
// CHECK: %[[RALL:.*]] = arith.index_cast %[[RN]] : index to i32
// CHECK: scf.if
// CHECK: memref.atomic_rmw assign
// CHECK: scf.for %{{.*}} = %{{.*}} to %[[RGTAIL]]
// CHECK: memref.load %[[RR]]
// CHECK: memref.store %{{.*}}, %[[RG]]
// CHECK-NOT: hybrid.tail
// CHECK-LABEL: func.func @moe(
// CHECK-SAME: %{{[^:]*}}: memref<?x8xf32>, %{{[^:]*}}: memref<?x8xf32>, %{{[^:]*}}: memref<?x8xf32>, %{{[^:]*}}: memref<8xf32>, %[[T:[^:]*]]: index, %[[FEW:[^:]*]]: i1, %{{[^:]*}}: memref<?x8xf32>)
// CHECK: %[[ONE:.*]] = arith.constant 1 : index
// CHECK: %[[GEMV:.*]] = arith.select %[[FEW]]
// CHECK: %[[PRTAIL:.*]] = arith.select %{{.*}}, %[[T]], %{{.*}}
// CHECK: %[[RAN:.*]] = arith.cmpi ne, %[[PRTAIL]], %{{.*}}
// CHECK: %[[WHOLE:.*]] = arith.cmpi eq, %[[T]], %[[PRTAIL]]
// CHECK: %[[SMALL:.*]] = arith.cmpi ule, %[[ONE]], %{{.*}}
// CHECK: %[[BOTH:.*]] = arith.andi %[[RAN]], %[[WHOLE]]
// CHECK: %[[ALL3:.*]] = arith.andi %[[BOTH]], %[[SMALL]]
// CHECK: %[[PGTAIL:.*]] = arith.select %[[ALL3]], %[[ONE]], %{{.*}}
// CHECK: hybrid.dispatch @router_gemv__then__routing__then__grouping workgroups(%[[GEMV]]) (%[[GEMV]], %[[PGTAIL]], %[[PRTAIL]],
// CHECK: %[[RREST:.*]] = arith.subi %[[T]], %[[PRTAIL]]
// CHECK: %[[GREST:.*]] = arith.subi %[[ONE]], %[[PGTAIL]]
// CHECK: %[[RRUNS:.*]] = arith.cmpi ugt, %[[RREST]], %{{.*}}
// CHECK: %[[GSMALL:.*]] = arith.cmpi ule, %[[GREST]], %{{.*}}
// CHECK: %[[RBOTH:.*]] = arith.andi %[[RRUNS]], %[[GSMALL]]
// CHECK: %[[RGTAIL:.*]] = arith.select %[[RBOTH]], %[[GREST]], %{{.*}}
// CHECK: hybrid.dispatch @routing__then__grouping workgroups(%[[RREST]]) (%[[RREST]], %[[RGTAIL]], {{.*}} {hybrid.tail_remainder}
// CHECK: %[[GLEFT:.*]] = arith.subi %[[GREST]], %[[RGTAIL]]
// CHECK-NEXT: hybrid.dispatch @grouping workgroups(%[[GLEFT]]) {{.*}} {hybrid.tail_remainder}
// CHECK-NEXT: hybrid.dispatch @shared_down workgroups
func.func private @router_gemv(%begin: index, %end: index, %x: memref<?x8xf32>, %l: memref<?x8xf32>) attributes {hybrid.kernel} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c8 = arith.constant 8 : index
  scf.for %w = %begin to %end step %c1 {
    scf.parallel (%j) = (%c0) to (%c8) step (%c1) {
      %v = memref.load %x[%w, %j] : memref<?x8xf32>
      memref.store %v, %l[%w, %j] : memref<?x8xf32>
    } {hybrid.cooperative}
  }
  return
}
func.func private @routing(%begin: index, %end: index, %l: memref<?x8xf32>, %r: memref<?x8xf32>) attributes {hybrid.kernel} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c8 = arith.constant 8 : index
  scf.for %w = %begin to %end step %c1 {
    scf.parallel (%j) = (%c0) to (%c8) step (%c1) {
      %v = memref.load %l[%w, %j] : memref<?x8xf32>
      memref.store %v, %r[%w, %j] : memref<?x8xf32>
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
func.func private @shared_down(%begin: index, %end: index, %x: memref<?x8xf32>, %s: memref<?x8xf32>) attributes {hybrid.kernel} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c8 = arith.constant 8 : index
  scf.for %w = %begin to %end step %c1 {
    scf.parallel (%j) = (%c0) to (%c8) step (%c1) {
      %v = memref.load %x[%w, %j] : memref<?x8xf32>
      %d = arith.mulf %v, %v : f32
      memref.store %d, %s[%w, %j] : memref<?x8xf32>
    } {hybrid.cooperative}
  }
  return
}
func.func @moe(%x: memref<?x8xf32>, %l: memref<?x8xf32>, %r: memref<?x8xf32>, %g: memref<8xf32>, %tokens: index, %few: i1, %s: memref<?x8xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c64 = arith.constant 64 : index
  %gemv = arith.select %few, %c64, %c0 : index
  hybrid.dispatch @router_gemv workgroups(%gemv) (%x, %l) : memref<?x8xf32>, memref<?x8xf32>
  hybrid.dispatch @routing workgroups(%tokens) (%l, %r) : memref<?x8xf32>, memref<?x8xf32>
  hybrid.dispatch @shared_down workgroups(%gemv) (%x, %s) : memref<?x8xf32>, memref<?x8xf32>
  hybrid.dispatch @grouping workgroups(%c1) (%r, %g) : memref<?x8xf32>, memref<8xf32>
  return
}
