// RUN: hybrid-opt %s --hybrid-kernels-to-gpu="block-size=128" --split-input-file --verify-diagnostics | FileCheck %s
// RUN: not hybrid-opt %s --hybrid-kernels-to-gpu="block-size=64" --split-input-file 2>&1 | FileCheck %s --check-prefix=SMALL-BLOCK

// A warps loop (4 iterations, the mma form's block of warps) makes a block
// kernel: each warp runs its iteration (thread_id / 32), its lanes
// together on the contract tiles; the cooperative copy inside is the
// block's, strided over its 128 threads between barriers (its 128
// iterations a loop of one per thread, thread_id + 128 j: a constant trip
// count, marked hybrid.block_strided); the staged tile
// the copy writes and the warps read is shared memory; the warp's own
// stores stay, and a barrier follows. The dispatch runs a workgroup per
// block.
// CHECK-LABEL: func.func @warps(
// CHECK: hybrid.dispatch @hybrid_kernels::@warps_dispatch workgroups(%{{.*}}) (%{{.*}}, %{{.*}}) : memref<?x32xf32>, memref<?x8xf32> {hybrid.block_size = 128 : i64, hybrid.shared_bytes = 512 : i64, hybrid.workgroup_threads = 128 : i64}
// CHECK: gpu.func @warps_dispatch(%{{.*}}: index, %[[X:.*]]: memref<?x32xf32>, %[[Y:.*]]: memref<?x8xf32>) kernel
// CHECK: %[[BLOCK:.*]] = gpu.block_id x
// CHECK: %[[STAGE:.*]] = memref.view %{{.*}}[%{{.*}}][] : memref<0xi8, #gpu.address_space<workgroup>> to memref<16x8xf32, #gpu.address_space<workgroup>>
// CHECK: scf.for %[[W:.*]] = %[[BLOCK]] to
// CHECK: %[[T:.*]] = gpu.thread_id x
// CHECK: %[[WARP:.*]] = arith.divui %[[T]], %c32
// CHECK: %[[STEP:.*]] = arith.muli %[[WARP]], %c1
// CHECK: %[[ITERATION:.*]] = arith.addi %c0{{[_0-9]*}}, %[[STEP]]
// CHECK: %[[T0:.*]] = arith.muli %[[ITERATION]], %c16
// CHECK: scf.for %[[K:.*]] = %{{.*}} to %c32{{[_0-9]*}} step %c8
// CHECK: gpu.barrier
// CHECK: %[[TID:.*]] = gpu.thread_id x
// CHECK: scf.for %[[J:.*]] = %c0{{[_0-9]*}} to %c1{{[_0-9]*}} step %c1
// CHECK: %[[STRIDE:.*]] = arith.muli %[[J]], %c128
// CHECK: arith.addi %[[STRIDE]], %[[TID]]
// CHECK: memref.store %{{.*}}, %[[STAGE]]
// CHECK: } {hybrid.block_strided}
// CHECK: gpu.barrier
// CHECK: vector.transfer_read %[[STAGE]]
// CHECK: vector.contract
// CHECK: vector.transfer_write %{{.*}}, %[[Y]][%[[T0]], %c0{{[_0-9]*}}]
// The warps meet after the loop (a next phase may read any warp's tiles).
// CHECK-NEXT: gpu.barrier
// CHECK-NOT: scf.parallel
// SMALL-BLOCK: error: 'func.func' op hybrid-kernels-to-gpu: has a warps loop, a warp per iteration of 4, so block-size must be 128, got 64
#a = affine_map<(m, n, k) -> (m, k)>
#b = affine_map<(m, n, k) -> (k, n)>
#c = affine_map<(m, n, k) -> (m, n)>
func.func @warps(%x: memref<?x32xf32>, %y: memref<?x8xf32>, %n: index) {
  hybrid.dispatch @warps_dispatch workgroups(%n) (%x, %y) : memref<?x32xf32>, memref<?x8xf32>
  return
}
func.func private @warps_dispatch(%begin: index, %end: index, %x: memref<?x32xf32>, %y: memref<?x8xf32>) attributes {hybrid.kernel} {
  %stage = memref.alloca() : memref<16x8xf32>
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %c8 = arith.constant 8 : index
  %c16 = arith.constant 16 : index
  %c32 = arith.constant 32 : index
  %c128 = arith.constant 128 : index
  %pad = arith.constant 0.0 : f32
  %zero = arith.constant dense<0.0> : vector<16x8xf32>
  %eye = arith.constant dense<1.0> : vector<8x8xf32>
  scf.for %g = %begin to %end step %c1 {
    scf.parallel (%w) = (%c0) to (%c4) step (%c1) {
      %t0 = arith.muli %w, %c16 : index
      %acc = scf.for %k = %c0 to %c32 step %c8 iter_args(%sum = %zero) -> vector<16x8xf32> {
        scf.parallel (%i) = (%c0) to (%c128) step (%c1) {
          %r = arith.divui %i, %c8 : index
          %j = arith.remui %i, %c8 : index
          %kj = arith.addi %k, %j : index
          %v = memref.load %x[%r, %kj] : memref<?x32xf32>
          memref.store %v, %stage[%r, %j] : memref<16x8xf32>
          scf.reduce
        } {hybrid.cooperative}
        %a = vector.transfer_read %stage[%c0, %c0], %pad {in_bounds = [true, true]} : memref<16x8xf32>, vector<16x8xf32>
        %d = vector.contract {indexing_maps = [#a, #b, #c], iterator_types = ["parallel", "parallel", "reduction"], kind = #vector.kind<add>} %a, %eye, %sum : vector<16x8xf32>, vector<8x8xf32> into vector<16x8xf32>
        scf.yield %d : vector<16x8xf32>
      }
      vector.transfer_write %acc, %y[%t0, %c0] {in_bounds = [true, true]} : vector<16x8xf32>, memref<?x8xf32>
      scf.reduce
    } {hybrid.warps}
  }
  return
}

// -----

// Double buffering: a copy marked hybrid.prefetch (into the slot the warps
// do not read this step) gets a barrier before it, none after: the tiles
// are read from the other slot right after it. The loop it becomes keeps
// the mark (hybrid-async-shared-copies leaves its copies in flight). Its 96 iterations do not
// divide among 128 threads: a loop from thread_id, strided by 128.
// CHECK-LABEL: gpu.func @prefetch_dispatch(
// CHECK: scf.for %[[K:.*]] = %{{.*}} to %c32{{[_0-9]*}} step %c8
// CHECK-NEXT: gpu.barrier
// CHECK: %[[TID:.*]] = gpu.thread_id x
// CHECK: scf.for %{{.*}} = %[[TID]] to %{{.*}} step %c128
// CHECK: memref.store
// CHECK: } {hybrid.block_strided, hybrid.prefetch}
// CHECK-NOT: gpu.barrier
// CHECK: vector.contract
// CHECK: scf.yield
#a = affine_map<(m, n, k) -> (m, k)>
#b = affine_map<(m, n, k) -> (k, n)>
#c = affine_map<(m, n, k) -> (m, n)>
func.func @prefetch(%x: memref<?x32xf32>, %y: memref<?x8xf32>, %n: index) {
  hybrid.dispatch @prefetch_dispatch workgroups(%n) (%x, %y) : memref<?x32xf32>, memref<?x8xf32>
  return
}
func.func private @prefetch_dispatch(%begin: index, %end: index, %x: memref<?x32xf32>, %y: memref<?x8xf32>) attributes {hybrid.kernel} {
  %stage = memref.alloca() : memref<32x8xf32>
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %c8 = arith.constant 8 : index
  %c16 = arith.constant 16 : index
  %c32 = arith.constant 32 : index
  %c96 = arith.constant 96 : index
  %pad = arith.constant 0.0 : f32
  %zero = arith.constant dense<0.0> : vector<16x8xf32>
  %eye = arith.constant dense<1.0> : vector<8x8xf32>
  scf.for %g = %begin to %end step %c1 {
    scf.parallel (%w) = (%c0) to (%c4) step (%c1) {
      %t0 = arith.muli %w, %c16 : index
      %acc = scf.for %k = %c0 to %c32 step %c8 iter_args(%sum = %zero) -> vector<16x8xf32> {
        scf.parallel (%i) = (%c0) to (%c96) step (%c1) {
          %r = arith.divui %i, %c8 : index
          %j = arith.remui %i, %c8 : index
          %kj = arith.addi %k, %j : index
          %v = memref.load %x[%r, %kj] : memref<?x32xf32>
          %r16 = arith.addi %r, %c16 : index
          memref.store %v, %stage[%r16, %j] : memref<32x8xf32>
          scf.reduce
        } {hybrid.cooperative, hybrid.prefetch}
        %a = vector.transfer_read %stage[%c0, %c0], %pad {in_bounds = [true, true]} : memref<32x8xf32>, vector<16x8xf32>
        %d = vector.contract {indexing_maps = [#a, #b, #c], iterator_types = ["parallel", "parallel", "reduction"], kind = #vector.kind<add>} %a, %eye, %sum : vector<16x8xf32>, vector<8x8xf32> into vector<16x8xf32>
        scf.yield %d : vector<16x8xf32>
      }
      vector.transfer_write %acc, %y[%t0, %c0] {in_bounds = [true, true]} : vector<16x8xf32>, memref<?x8xf32>
      scf.reduce
    } {hybrid.warps}
  }
  return
}

// -----

// Contract tiles are a warp's: outside a warps loop they are an error.
func.func @lone_tile(%y: memref<?x8xf32>, %n: index) {
  hybrid.dispatch @lone_tile_dispatch workgroups(%n) (%y) : memref<?x8xf32>
  return
}
#a = affine_map<(m, n, k) -> (m, k)>
#b = affine_map<(m, n, k) -> (k, n)>
#c = affine_map<(m, n, k) -> (m, n)>
func.func private @lone_tile_dispatch(%begin: index, %end: index, %y: memref<?x8xf32>) attributes {hybrid.kernel} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %zero = arith.constant dense<0.0> : vector<16x8xf32>
  %eye = arith.constant dense<1.0> : vector<8x8xf32>
  scf.for %g = %begin to %end step %c1 {
    // expected-error @+1 {{'vector.contract' op hybrid-kernels-to-gpu: a contract tile (a warp's work) outside a warps loop}}
    %d = vector.contract {indexing_maps = [#a, #b, #c], iterator_types = ["parallel", "parallel", "reduction"], kind = #vector.kind<add>} %zero, %eye, %zero : vector<16x8xf32>, vector<8x8xf32> into vector<16x8xf32>
    vector.transfer_write %d, %y[%g, %c0] {in_bounds = [true, true]} : vector<16x8xf32>, memref<?x8xf32>
  }
  return
}

// -----

// A warps loop has exactly one iteration per warp of the block.
func.func @three_warps(%y: memref<?xf32>, %n: index) {
  hybrid.dispatch @three_warps_dispatch workgroups(%n) (%y) : memref<?xf32>
  return
}
func.func private @three_warps_dispatch(%begin: index, %end: index, %y: memref<?xf32>) attributes {hybrid.kernel} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c3 = arith.constant 3 : index
  %one = arith.constant 1.0 : f32
  scf.for %g = %begin to %end step %c1 {
    // expected-error @+1 {{'scf.parallel' op hybrid-kernels-to-gpu: a warps loop must have one dimension of 4 iterations and no results}}
    scf.parallel (%w) = (%c0) to (%c3) step (%c1) {
      memref.store %one, %y[%w] : memref<?xf32>
      scf.reduce
    } {hybrid.warps}
  }
  return
}

// -----

// A warps loop inside a cooperative loop would split one thread's
// iteration over warps.
func.func @nested_warps(%y: memref<?xf32>, %n: index) {
  hybrid.dispatch @nested_warps_dispatch workgroups(%n) (%y) : memref<?xf32>
  return
}
func.func private @nested_warps_dispatch(%begin: index, %end: index, %y: memref<?xf32>) attributes {hybrid.kernel} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %one = arith.constant 1.0 : f32
  scf.for %g = %begin to %end step %c1 {
    scf.parallel (%i) = (%c0) to (%c4) step (%c1) {
      // expected-error @+1 {{'scf.parallel' op hybrid-kernels-to-gpu: a warps loop inside a warps or cooperative loop}}
      scf.parallel (%w) = (%c0) to (%c4) step (%c1) {
        memref.store %one, %y[%w] : memref<?xf32>
        scf.reduce
      } {hybrid.warps}
      scf.reduce
    } {hybrid.cooperative}
  }
  return
}
