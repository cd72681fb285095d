// The checks run: accesses that reach the last element of their buffer
// pass (@edges returns), and of two accesses past the end the first is
// the one reported, before @past_the_end returns, on stderr; then the
// program aborts.
// RUN: hybrid-opt %s --hybrid-check-bounds --convert-scf-to-cf \
// RUN:   --convert-vector-to-scf --convert-vector-to-llvm \
// RUN:   --finalize-memref-to-llvm --convert-arith-to-llvm \
// RUN:   --convert-cf-to-llvm --convert-func-to-llvm --reconcile-unrealized-casts \
// RUN:   > %t.mlir
// RUN: mlir-runner %t.mlir -e edges -entry-point-result=void
// RUN: not --crash mlir-runner %t.mlir -e past_the_end -entry-point-result=void 2>&1 | FileCheck %s
// CHECK: hybrid-check-bounds: vector.load out of bounds of its buffer in @past_the_end at loc({{.*}}check-bounds-run.mlir":[[@LINE+24]]:{{[0-9]+}})
// CHECK-NOT: hybrid-check-bounds

func.func @edges() {
  %c0 = arith.constant 0 : index
  %c3 = arith.constant 3 : index
  %c4 = arith.constant 4 : index
  %c7 = arith.constant 7 : index
  %zero = arith.constant 0.0 : f32
  %buffer = memref.alloca() : memref<2x8xf32>
  %row = memref.alloca() : memref<8xf32>
  %last = vector.load %buffer[%c0, %c4] : memref<2x8xf32>, vector<4xf32>
  %tail = vector.transfer_read %buffer[%c0, %c7], %zero : memref<2x8xf32>, vector<4xf32>
  vector.store %tail, %row[%c4] : memref<8xf32>, vector<4xf32>
  memref.store %zero, %row[%c7] : memref<8xf32>
  %odd = memref.subview %row[%c3] [3] [2] : memref<8xf32> to memref<3xf32, strided<[2], offset: ?>>
  return
}

func.func @past_the_end() {
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %c5 = arith.constant 5 : index
  %buffer = memref.alloca() : memref<2x8xf32>
  %in = vector.load %buffer[%c1, %c5] : memref<2x8xf32>, vector<4xf32>
  vector.store %in, %buffer[%c2, %c1] : memref<2x8xf32>, vector<4xf32>
  return
}
