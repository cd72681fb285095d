// RUN: hybrid-opt %s --split-input-file --hybrid-dealloc-after-last-use | FileCheck %s

// Each buffer is freed right after the last op that uses it or a value
// derived from it (here a subview), not at the end of the block.
// CHECK-LABEL: func.func @layers
// CHECK: %[[A:.*]] = memref.alloc
// CHECK: call @use(%[[A]])
// CHECK: %[[B:.*]] = memref.alloc
// CHECK: %[[VIEW:.*]] = memref.subview %[[B]]
// CHECK: call @use(%[[A]])
// CHECK-NEXT: memref.dealloc %[[A]]
// CHECK: %[[C:.*]] = memref.alloc
// CHECK: call @use_view(%[[VIEW]])
// CHECK-NEXT: memref.dealloc %[[B]]
// CHECK: call @use(%[[C]])
// An unused buffer is freed where it is allocated.
// CHECK-NEXT: %[[D:.*]] = memref.alloc
// CHECK-NEXT: memref.dealloc %[[D]]
// CHECK-NEXT: call @use(%[[C]])
// CHECK-NEXT: memref.dealloc %[[C]]
// CHECK-NEXT: return
func.func private @use(memref<8xf32>)
func.func private @use_view(memref<4xf32, strided<[1], offset: 2>>)
func.func @layers() {
  %a = memref.alloc() : memref<8xf32>
  call @use(%a) : (memref<8xf32>) -> ()
  %b = memref.alloc() : memref<8xf32>
  %view = memref.subview %b[2] [4] [1] : memref<8xf32> to memref<4xf32, strided<[1], offset: 2>>
  call @use(%a) : (memref<8xf32>) -> ()
  %c = memref.alloc() : memref<8xf32>
  call @use_view(%view) : (memref<4xf32, strided<[1], offset: 2>>) -> ()
  call @use(%c) : (memref<8xf32>) -> ()
  %d = memref.alloc() : memref<8xf32>
  call @use(%c) : (memref<8xf32>) -> ()
  memref.dealloc %a : memref<8xf32>
  memref.dealloc %b : memref<8xf32>
  memref.dealloc %c : memref<8xf32>
  memref.dealloc %d : memref<8xf32>
  return
}

// -----

// A use inside a loop of the block counts as the loop: freed after it.
// The buffer's size is not the buffer: its later uses do not keep it.
// CHECK-LABEL: func.func @nested
// CHECK: %[[A:.*]] = memref.alloc
// CHECK: %[[N:.*]] = memref.dim %[[A]]
// CHECK: scf.for
// CHECK: call @use(%[[A]])
// CHECK: }
// CHECK-NEXT: memref.dealloc %[[A]]
// CHECK-NEXT: %[[LATE:.*]] = arith.addi %[[N]]
// CHECK-NEXT: call @size(%[[LATE]])
// CHECK: return
func.func private @use(memref<?xf32>)
func.func private @size(index)
func.func @nested(%n: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %a = memref.alloc(%n) : memref<?xf32>
  %size = memref.dim %a, %c0 : memref<?xf32>
  scf.for %i = %c0 to %c1 step %c1 {
    func.call @use(%a) : (memref<?xf32>) -> ()
  }
  %late = arith.addi %size, %c1 : index
  memref.dealloc %a : memref<?xf32>
  call @size(%late) : (index) -> ()
  return
}

// -----

// Left where they are: a buffer whose view leaves a region through its
// terminator, and a dealloc in a nested block whose buffer the parent
// block uses.
// CHECK-LABEL: func.func @escapes
// CHECK: scf.if
// CHECK: call @use(%{{.*}})
// CHECK: memref.dealloc %[[A:.*]] :
// CHECK: scf.if
// CHECK: memref.dealloc %[[B:.*]] :
// CHECK: call @use(%[[B]])
// CHECK: return
func.func private @use(memref<8xf32>)
func.func @escapes(%flag: i1) {
  %a = memref.alloc() : memref<8xf32>
  %other = memref.alloc() : memref<8xf32>
  %picked = scf.if %flag -> memref<8xf32> {
    scf.yield %a : memref<8xf32>
  } else {
    scf.yield %other : memref<8xf32>
  }
  call @use(%picked) : (memref<8xf32>) -> ()
  memref.dealloc %a : memref<8xf32>
  memref.dealloc %other : memref<8xf32>
  %b = memref.alloc() : memref<8xf32>
  scf.if %flag {
    memref.dealloc %b : memref<8xf32>
  }
  call @use(%b) : (memref<8xf32>) -> ()
  return
}
