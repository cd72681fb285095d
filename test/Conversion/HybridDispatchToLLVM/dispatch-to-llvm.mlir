// RUN: hybrid-opt %s --hybrid-form-dispatches --convert-scf-to-cf \
// RUN:   --finalize-memref-to-llvm --convert-arith-to-llvm --convert-cf-to-llvm \
// RUN:   --convert-func-to-llvm --convert-hybrid-dispatch-to-llvm \
// RUN:   --reconcile-unrealized-casts | FileCheck %s
// RUN: hybrid-opt %s --hybrid-form-dispatches --convert-scf-to-cf \
// RUN:   --finalize-memref-to-llvm --convert-arith-to-llvm --convert-cf-to-llvm \
// RUN:   --convert-func-to-llvm --convert-hybrid-dispatch-to-llvm \
// RUN:   --reconcile-unrealized-casts \
// RUN:   | mlir-runner -e main -entry-point-result=void -shared-libs=%runner_libs \
// RUN:   | FileCheck %s --check-prefix=OUTPUT

// The host stores the dispatch's operands (a memref<?xf32> is 5 scalars,
// then the index bound) into 8-byte slots allocated in its entry block and
// calls @hybrid_run_dispatch with the packed kernel, the workgroup count
// and the kernel's name (for profiles).
// CHECK-LABEL: llvm.func @double(
// CHECK: %[[SIX:.*]] = llvm.mlir.constant(6 : i64) : i64
// CHECK: %[[SLOTS:.*]] = llvm.alloca %[[SIX]] x i64 : (i64) -> !llvm.ptr
// CHECK-COUNT-6: llvm.store
// CHECK: %[[KERNEL:.*]] = llvm.mlir.addressof @double_dispatch_packed : !llvm.ptr
// CHECK: %[[NAME:.*]] = llvm.mlir.addressof @double_dispatch_name : !llvm.ptr
// CHECK: llvm.call @hybrid_run_dispatch(%[[KERNEL]], %[[SLOTS]], %{{.*}}, %[[NAME]]) : (!llvm.ptr, !llvm.ptr, i64, !llvm.ptr) -> ()

// The packed kernel reads the scalars back with the kernel's parameter
// types and calls it for [begin, end).
// CHECK-LABEL: llvm.func internal @double_dispatch_packed(
// CHECK-SAME: %[[S:.*]]: !llvm.ptr, %[[B:.*]]: i64, %[[E:.*]]: i64)
// CHECK-COUNT-2: llvm.load %{{.*}} : !llvm.ptr -> !llvm.ptr
// CHECK-COUNT-4: llvm.load %{{.*}} : !llvm.ptr -> i64
// CHECK: llvm.call @double_dispatch(%[[B]], %[[E]],
// CHECK: llvm.mlir.global internal constant @double_dispatch_name("double_dispatch\00")

// The executor hooks the runtime sets, and the serial fallback.
// CHECK: llvm.mlir.global external @hybrid_executor() {{.*}} : !llvm.ptr
// CHECK: llvm.mlir.global external @hybrid_executor_context() {{.*}} : !llvm.ptr
// CHECK-LABEL: llvm.func internal @hybrid_run_dispatch(
// CHECK: llvm.load {{.*}} : !llvm.ptr -> !llvm.ptr
// CHECK: llvm.icmp "eq"
// CHECK: llvm.cond_br
// CHECK: llvm.call %{{.*}}(%{{.*}}, %{{.*}}, %{{.*}}) : !llvm.ptr, (!llvm.ptr, i64, i64) -> ()
// CHECK: llvm.call %{{.*}}(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}) : !llvm.ptr, (!llvm.ptr, !llvm.ptr, !llvm.ptr, i64, !llvm.ptr) -> ()

// Without an executor every workgroup runs in the calling thread.
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
