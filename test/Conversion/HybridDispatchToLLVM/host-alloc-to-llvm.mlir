// RUN: hybrid-opt %s --hybrid-form-dispatches --convert-scf-to-cf \
// RUN:   --finalize-memref-to-llvm=use-generic-functions=1 --convert-arith-to-llvm \
// RUN:   --convert-cf-to-llvm --convert-func-to-llvm --convert-hybrid-dispatch-to-llvm \
// RUN:   --reconcile-unrealized-casts | FileCheck %s
// RUN: hybrid-opt %s --hybrid-form-dispatches --convert-scf-to-cf \
// RUN:   --finalize-memref-to-llvm=use-generic-functions=1 --convert-arith-to-llvm \
// RUN:   --convert-cf-to-llvm --convert-func-to-llvm --convert-hybrid-dispatch-to-llvm \
// RUN:   --reconcile-unrealized-casts \
// RUN:   | mlir-runner -e main -entry-point-result=void -shared-libs=%runner_libs \
// RUN:   | FileCheck %s --check-prefix=OUTPUT

// A CPU plan's buffers: the memref lowering's generic allocation functions
// call the allocator the runtime installed in @hybrid_host_alloc /
// @hybrid_host_free (with @hybrid_host_context: a pool that keeps freed
// buffers), or the C library's when there is none (mlir-runner here).
// CHECK-LABEL: llvm.func internal @_mlir_memref_to_llvm_free(
// CHECK-SAME: %[[BLOCK:.*]]: !llvm.ptr)
// CHECK: llvm.mlir.addressof @hybrid_host_free
// CHECK: llvm.call @free(%[[BLOCK]])
// CHECK: llvm.mlir.addressof @hybrid_host_context
// CHECK: llvm.call %{{.*}}(%{{.*}}, %[[BLOCK]]) : !llvm.ptr, (!llvm.ptr, !llvm.ptr) -> ()
// CHECK-LABEL: llvm.func internal @_mlir_memref_to_llvm_alloc(
// CHECK-SAME: %[[BYTES:.*]]: i64) -> !llvm.ptr
// CHECK: %[[HOOKAT:.*]] = llvm.mlir.addressof @hybrid_host_alloc
// CHECK: %[[HOOK:.*]] = llvm.load %[[HOOKAT]] : !llvm.ptr -> !llvm.ptr
// CHECK: %[[NONE:.*]] = llvm.icmp "eq" %[[HOOK]]
// CHECK: llvm.cond_br %[[NONE]], ^[[LIBC:.*]], ^[[POOL:.*]]
// CHECK: ^[[LIBC]]:
// CHECK: llvm.call @malloc(%[[BYTES]])
// CHECK: ^[[POOL]]:
// CHECK: %[[CONTEXTAT:.*]] = llvm.mlir.addressof @hybrid_host_context
// CHECK: %[[CONTEXT:.*]] = llvm.load %[[CONTEXTAT]] : !llvm.ptr -> !llvm.ptr
// CHECK: %[[ALIGN:.*]] = llvm.mlir.constant(16 : i64) : i64
// CHECK: llvm.call %[[HOOK]](%[[CONTEXT]], %[[ALIGN]], %[[BYTES]]) : !llvm.ptr, (!llvm.ptr, i64, i64) -> !llvm.ptr
// CHECK-LABEL: llvm.func @main(
// CHECK: llvm.call @_mlir_memref_to_llvm_alloc(
// CHECK: llvm.call @_mlir_memref_to_llvm_free(
// CHECK-DAG: llvm.mlir.global external @hybrid_host_alloc() {{.*}} : !llvm.ptr
// CHECK-DAG: llvm.mlir.global external @hybrid_host_free() {{.*}} : !llvm.ptr
// CHECK-DAG: llvm.mlir.global external @hybrid_host_context() {{.*}} : !llvm.ptr

// OUTPUT: [0,  2,  4,  6,  8,  10,  12]
func.func @double(%x: memref<?xf32>, %n: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  scf.parallel (%i) = (%c0) to (%n) step (%c1) {
    %v = memref.load %x[%i] : memref<?xf32>
    %d = arith.addf %v, %v : f32
    memref.store %d, %x[%i] : memref<?xf32>
  }
  return
}

func.func private @printMemrefF32(memref<*xf32>)

func.func @main() {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c7 = arith.constant 7 : index
  %x = memref.alloc(%c7) : memref<?xf32>
  scf.for %i = %c0 to %c7 step %c1 {
    %ii = arith.index_cast %i : index to i32
    %f = arith.sitofp %ii : i32 to f32
    memref.store %f, %x[%i] : memref<?xf32>
  }
  call @double(%x, %c7) : (memref<?xf32>, index) -> ()
  %u = memref.cast %x : memref<?xf32> to memref<*xf32>
  call @printMemrefF32(%u) : (memref<*xf32>) -> ()
  memref.dealloc %x : memref<?xf32>
  return
}
