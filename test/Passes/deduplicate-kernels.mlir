// RUN: hybrid-opt %s --hybrid-deduplicate-kernels --split-input-file | FileCheck %s

// Layers 0 and 1 run the same router (their weights are operands), each
// with its own arrival counts: one kernel, with layer 0's counts; layer
// 1's dispatch calls it, labelled with the kernel it was formed for.
// Layer 1's norm scales by 2, not 1: a kernel of its own, as are kernels
// that read different globals the plan also writes (not their own).

// CHECK: memref.global "private" @forward__model_layers_0_mlp__router_arrivals
// CHECK-NOT: @forward__model_layers_1_mlp__router_arrivals
// CHECK: memref.global "private" @shared_a
// CHECK: memref.global "private" @shared_b
// CHECK-LABEL: func.func private @forward__model_layers_0_input_layernorm(
// CHECK-LABEL: func.func private @forward__model_layers_0_mlp__router(
// CHECK: memref.get_global @forward__model_layers_0_mlp__router_arrivals
// CHECK-LABEL: func.func private @forward__model_layers_0_reads_shared(
// CHECK-LABEL: func.func private @forward__model_layers_1_input_layernorm(
// CHECK: arith.constant 2.000000e+00
// CHECK-NOT: func.func private @forward__model_layers_1_mlp__router(
// CHECK-LABEL: func.func private @forward__model_layers_1_reads_shared(
// CHECK-LABEL: func.func @forward(
// CHECK: hybrid.dispatch @forward__model_layers_0_input_layernorm workgroups
// CHECK-NOT: hybrid.label
// CHECK: hybrid.dispatch @forward__model_layers_0_mlp__router workgroups
// CHECK-NOT: hybrid.label
// CHECK: hybrid.dispatch @forward__model_layers_0_reads_shared workgroups
// CHECK: hybrid.dispatch @forward__model_layers_1_input_layernorm workgroups
// CHECK-NOT: hybrid.label
// CHECK: hybrid.dispatch @forward__model_layers_0_mlp__router workgroups({{.*}}) ({{.*}}) : memref<?xf32>, memref<?xf32> {hybrid.label = "forward__model_layers_1_mlp__router"}
// CHECK: hybrid.dispatch @forward__model_layers_1_reads_shared workgroups
// CHECK-NOT: hybrid.label
// CHECK: memref.get_global @shared_a
memref.global "private" @forward__model_layers_0_mlp__router_arrivals : memref<4xi32> = dense<0>
memref.global "private" @forward__model_layers_1_mlp__router_arrivals : memref<4xi32> = dense<0>
memref.global "private" @shared_a : memref<4xi32> = dense<0>
memref.global "private" @shared_b : memref<4xi32> = dense<0>
func.func private @forward__model_layers_0_input_layernorm(%begin: index, %end: index, %x: memref<?xf32>, %y: memref<?xf32>) attributes {hybrid.kernel} {
  %c1 = arith.constant 1 : index
  %s = arith.constant 1.0 : f32
  scf.for %w = %begin to %end step %c1 {
    %v = memref.load %x[%w] : memref<?xf32>
    %d = arith.mulf %v, %s : f32
    memref.store %d, %y[%w] : memref<?xf32>
  }
  return
}
func.func private @forward__model_layers_0_mlp__router(%begin: index, %end: index, %x: memref<?xf32>, %y: memref<?xf32>) attributes {hybrid.kernel} {
  %c1 = arith.constant 1 : index
  %c0 = arith.constant 0 : index
  %one = arith.constant 1 : i32
  %counts = memref.get_global @forward__model_layers_0_mlp__router_arrivals : memref<4xi32>
  scf.for %w = %begin to %end step %c1 {
    %v = memref.load %x[%w] : memref<?xf32>
    memref.store %v, %y[%w] : memref<?xf32>
    %a = memref.atomic_rmw addi %one, %counts[%c0] : (i32, memref<4xi32>) -> i32
  }
  return
}
func.func private @forward__model_layers_0_reads_shared(%begin: index, %end: index, %x: memref<?xf32>, %y: memref<?xf32>) attributes {hybrid.kernel} {
  %c0 = arith.constant 0 : index
  %counts = memref.get_global @shared_a : memref<4xi32>
  %c = memref.load %counts[%c0] : memref<4xi32>
  %f = arith.sitofp %c : i32 to f32
  memref.store %f, %y[%c0] : memref<?xf32>
  return
}
func.func private @forward__model_layers_1_input_layernorm(%begin: index, %end: index, %x: memref<?xf32>, %y: memref<?xf32>) attributes {hybrid.kernel} {
  %c1 = arith.constant 1 : index
  %s = arith.constant 2.0 : f32
  scf.for %w = %begin to %end step %c1 {
    %v = memref.load %x[%w] : memref<?xf32>
    %d = arith.mulf %v, %s : f32
    memref.store %d, %y[%w] : memref<?xf32>
  }
  return
}
func.func private @forward__model_layers_1_mlp__router(%begin: index, %end: index, %x: memref<?xf32>, %y: memref<?xf32>) attributes {hybrid.kernel} {
  %c1 = arith.constant 1 : index
  %c0 = arith.constant 0 : index
  %one = arith.constant 1 : i32
  %counts = memref.get_global @forward__model_layers_1_mlp__router_arrivals : memref<4xi32>
  scf.for %w = %begin to %end step %c1 {
    %v = memref.load %x[%w] : memref<?xf32>
    memref.store %v, %y[%w] : memref<?xf32>
    %a = memref.atomic_rmw addi %one, %counts[%c0] : (i32, memref<4xi32>) -> i32
  }
  return
}
func.func private @forward__model_layers_1_reads_shared(%begin: index, %end: index, %x: memref<?xf32>, %y: memref<?xf32>) attributes {hybrid.kernel} {
  %c0 = arith.constant 0 : index
  %counts = memref.get_global @shared_b : memref<4xi32>
  %c = memref.load %counts[%c0] : memref<4xi32>
  %f = arith.sitofp %c : i32 to f32
  memref.store %f, %y[%c0] : memref<?xf32>
  return
}
func.func @forward(%x: memref<?xf32>, %y: memref<?xf32>, %n: index) {
  hybrid.dispatch @forward__model_layers_0_input_layernorm workgroups(%n) (%x, %y) : memref<?xf32>, memref<?xf32>
  hybrid.dispatch @forward__model_layers_0_mlp__router workgroups(%n) (%y, %x) : memref<?xf32>, memref<?xf32>
  hybrid.dispatch @forward__model_layers_0_reads_shared workgroups(%n) (%y, %x) : memref<?xf32>, memref<?xf32>
  hybrid.dispatch @forward__model_layers_1_input_layernorm workgroups(%n) (%x, %y) : memref<?xf32>, memref<?xf32>
  hybrid.dispatch @forward__model_layers_1_mlp__router workgroups(%n) (%y, %x) : memref<?xf32>, memref<?xf32>
  hybrid.dispatch @forward__model_layers_1_reads_shared workgroups(%n) (%y, %x) : memref<?xf32>, memref<?xf32>
  %a = memref.get_global @shared_a : memref<4xi32>
  %b = memref.get_global @shared_b : memref<4xi32>
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0 : i32
  memref.store %zero, %a[%c0] : memref<4xi32>
  memref.store %zero, %b[%c0] : memref<4xi32>
  return
}

// -----

// A kernel that something other than a dispatch refers to keeps its own
// dispatches: only kernels whose every use is a dispatch are merged.
// CHECK-LABEL: func.func private @k0(
// CHECK-LABEL: func.func private @k1(
// CHECK-LABEL: func.func @plan(
// CHECK: hybrid.dispatch @k0
// CHECK: hybrid.dispatch @k1
// CHECK-NOT: hybrid.label
func.func private @k0(%begin: index, %end: index, %x: memref<?xf32>) attributes {hybrid.kernel} {
  return
}
func.func private @k1(%begin: index, %end: index, %x: memref<?xf32>) attributes {hybrid.kernel} {
  return
}
func.func @plan(%x: memref<?xf32>, %n: index) {
  hybrid.dispatch @k0 workgroups(%n) (%x) : memref<?xf32>
  hybrid.dispatch @k1 workgroups(%n) (%x) : memref<?xf32>
  %f = func.constant @k1 : (index, index, memref<?xf32>) -> ()
  return
}
