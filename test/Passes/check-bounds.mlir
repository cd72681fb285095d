// RUN: hybrid-opt %s --hybrid-check-bounds --split-input-file | FileCheck %s

// Every access of a memref gets a check before it: each index at least 0
// and, with the vector's extent along the dimensions it covers, at most
// the buffer's size there (a transfer's dimensions that are not in bounds
// are masked by the transfer itself: only its unmapped index is checked).
// The first check to fail keeps its message in a slot made at the
// function's entry (a select: nothing branches), and the function reports
// it before it returns.
// CHECK-DAG: llvm.mlir.global private constant @[[LOAD:hybrid_check_bounds_[0-9]+]]("hybrid-check-bounds: vector.load out of bounds of its buffer in @accesses at loc({{.*}}check-bounds.mlir{{.*}})\0A\00")
// CHECK-LABEL: func.func @accesses(
// CHECK-SAME: %[[A:[^:]*]]: memref<?x8xf32>, %[[S:[^:]*]]: memref<16xf32>, %[[I:[^:]*]]: index, %[[J:[^:]*]]: index
// CHECK: %[[SLOT:.*]] = llvm.alloca %{{.*}} x !llvm.ptr
// CHECK: llvm.store %{{.*}}, %[[SLOT]]
// CHECK: memref.load %[[A]][%[[I]], %[[J]]]
// CHECK: memref.store %{{.*}}, %[[S]][%[[J]]]
// CHECK: %[[ROWS:.*]] = memref.dim %[[A]], %{{.*}} : memref<?x8xf32>
// CHECK: %[[AFTER_ROW:.*]] = arith.addi %[[I]], %[[C1:.*]] : index
// CHECK: arith.cmpi sle, %[[AFTER_ROW]], %[[ROWS]] : index
// CHECK: arith.cmpi sge, %[[I]], %{{.*}} : index
// CHECK: %[[COLS:.*]] = memref.dim %[[A]], %{{.*}} : memref<?x8xf32>
// CHECK: %[[C4:.*]] = arith.constant 4 : index
// CHECK: %[[AFTER_VEC:.*]] = arith.addi %[[J]], %[[C4]] : index
// CHECK: arith.cmpi sle, %[[AFTER_VEC]], %[[COLS]] : index
// CHECK: arith.andi
// CHECK: %[[OK:.*]] = arith.andi
// CHECK-NEXT: %[[FIRST:.*]] = llvm.load %[[SLOT]] : !llvm.ptr -> !llvm.ptr
// CHECK: %[[NONE_YET:.*]] = llvm.icmp "eq" %[[FIRST]], %{{.*}} : !llvm.ptr
// CHECK: %[[FAILED_BEFORE:.*]] = arith.xori %[[NONE_YET]], %{{.*}} : i1
// CHECK: %[[KEEP:.*]] = arith.ori %[[OK]], %[[FAILED_BEFORE]] : i1
// CHECK: %[[MESSAGE:.*]] = llvm.mlir.addressof @[[LOAD]]
// CHECK: %[[KEPT:.*]] = llvm.select %[[KEEP]], %[[FIRST]], %[[MESSAGE]]
// CHECK: llvm.store %[[KEPT]], %[[SLOT]]
// CHECK: vector.load %[[A]][%[[I]], %[[J]]]
// CHECK: vector.transfer_read %[[A]][%[[I]], %[[J]]], %{{.*}} {in_bounds = [true]}
// (The masked transfer: the row index alone.)
// CHECK: %[[ROW_END:.*]] = arith.addi %[[I]]
// CHECK-NEXT: arith.cmpi sle, %[[ROW_END]]
// CHECK-NOT: memref.dim
// CHECK: llvm.store
// CHECK-NEXT: vector.transfer_read %[[A]][%[[I]], %[[J]]], %{{.*}} :
// CHECK: memref.subview %[[S]][%[[I]]] [4] [2]
// CHECK: %[[REPORTED:.*]] = llvm.load %[[SLOT]] : !llvm.ptr -> !llvm.ptr
// CHECK: %[[ANY:.*]] = llvm.icmp "ne" %[[REPORTED]]
// CHECK: scf.if %[[ANY]] {
// CHECK:   %[[LENGTH:.*]] = llvm.call @strlen(%[[REPORTED]])
// CHECK:   llvm.call @write(%{{.*}}, %[[REPORTED]], %[[LENGTH]])
// CHECK:   llvm.call @abort()
// CHECK: }
// CHECK-NEXT: return
func.func @accesses(%a: memref<?x8xf32>, %s: memref<16xf32>, %i: index, %j: index) -> vector<4xf32> {
  %zero = arith.constant 0.0 : f32
  %x = memref.load %a[%i, %j] : memref<?x8xf32>
  memref.store %x, %s[%j] : memref<16xf32>
  %v = vector.load %a[%i, %j] : memref<?x8xf32>, vector<4xf32>
  %t = vector.transfer_read %a[%i, %j], %zero {in_bounds = [true]} : memref<?x8xf32>, vector<4xf32>
  %u = vector.transfer_read %a[%i, %j], %zero : memref<?x8xf32>, vector<4xf32>
  %view = memref.subview %s[%i] [4] [2] : memref<16xf32> to memref<4xf32, strided<[2], offset: ?>>
  return %t : vector<4xf32>
}
// CHECK: llvm.func @write(i32, !llvm.ptr, i64) -> i64
// CHECK: llvm.func @strlen(!llvm.ptr) -> i64
// CHECK: llvm.func @abort()

// -----

// A prefetch's element is checked as a load's is: on a GPU the GEMVs'
// prefetch.L2 asks for that address.
// CHECK-DAG: llvm.mlir.global private constant @[[PREFETCH:hybrid_check_bounds_[0-9]+]]("hybrid-check-bounds: memref.prefetch out of bounds of its buffer in @prefetching at loc({{.*}}check-bounds.mlir{{.*}})\0A\00")
// CHECK-LABEL: func.func @prefetching(
// CHECK-SAME: %[[W:[^:]*]]: memref<4x64xbf16>, %[[K:[^:]*]]: index
// CHECK: memref.dim %[[W]], %{{.*}} : memref<4x64xbf16>
// CHECK: %[[COLS:.*]] = memref.dim %[[W]], %{{.*}} : memref<4x64xbf16>
// CHECK: %[[AFTER:.*]] = arith.addi %[[K]], %{{.*}} : index
// CHECK: arith.cmpi sle, %[[AFTER]], %[[COLS]] : index
// CHECK: arith.cmpi sge, %[[K]]
// CHECK: llvm.mlir.addressof @[[PREFETCH]]
// CHECK: memref.prefetch %[[W]][%{{.*}}, %[[K]]], read, locality<1>, data
func.func @prefetching(%w: memref<4x64xbf16>, %k: index) {
  %c1 = arith.constant 1 : index
  memref.prefetch %w[%c1, %k], read, locality<1>, data : memref<4x64xbf16>
  return
}

// -----

// A function without accesses, or with a 0-d buffer's one element, is
// left as it was.
// CHECK-LABEL: func.func @negative_nothing_to_check(
// CHECK-NOT: llvm.
// CHECK: return
func.func @negative_nothing_to_check(%cell: memref<f32>) -> f32 {
  %x = memref.load %cell[] : memref<f32>
  return %x : f32
}
// CHECK-NOT: llvm.func
