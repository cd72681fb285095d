// RUN: hybrid-opt %s --hybrid-kernels-to-gpu="block-size=64" --split-input-file --verify-diagnostics | FileCheck %s
// RUN: not hybrid-opt %s --hybrid-kernels-to-gpu="block-size=64 shared-memory-bytes=48" --split-input-file 2>&1 | FileCheck %s --check-prefix=LIMIT

// A kernel over workgroups [begin, end) becomes a GPU kernel whose thread
// block_id * 64 + thread_id runs one workgroup (none past the count); the
// dispatch names it inside @hybrid_kernels and carries the block size. The
// constant global it reads is copied into the GPU module, and its
// per-workgroup temporary becomes one stack buffer at the kernel's entry.

// CHECK: module attributes {gpu.container_module}
// CHECK-LABEL: func.func @forward(
// CHECK: hybrid.dispatch @hybrid_kernels::@forward_dispatch workgroups(%{{.*}}) (%{{.*}}) : memref<?x4xf32> {hybrid.block_size = 64 : i64}
// CHECK-NOT: func.func private @forward_dispatch
// CHECK: gpu.module @hybrid_kernels
// CHECK: memref.global "private" constant @scale : memref<4xf32>
// CHECK: gpu.func @forward_dispatch(%[[COUNT:.*]]: index, %[[Y:.*]]: memref<?x4xf32>) kernel attributes {known_block_size = array<i32: 64, 1, 1>}
// CHECK: %[[TMP:.*]] = memref.alloca() {alignment = 64 : i64} : memref<4xf32>
// CHECK: %[[BLOCK:.*]] = gpu.block_id x
// CHECK: %[[THREAD:.*]] = gpu.thread_id x
// CHECK: %[[SIZE:.*]] = arith.constant 64 : index
// CHECK: %[[FIRST:.*]] = arith.muli %[[BLOCK]], %[[SIZE]]
// CHECK: %[[W:.*]] = arith.addi %[[FIRST]], %[[THREAD]]
// CHECK: %[[NEXT:.*]] = arith.addi %[[W]], %{{.*}}
// CHECK: %[[END:.*]] = arith.minui %[[NEXT]], %[[COUNT]]
// CHECK: scf.for %[[ROW:.*]] = %[[W]] to %[[END]]
// CHECK: memref.get_global @scale
// CHECK: memref.store %{{.*}}, %[[TMP]]
// CHECK-NOT: memref.dealloc
// CHECK: gpu.return
memref.global "private" constant @scale : memref<4xf32> = dense<[1.0, 2.0, 3.0, 4.0]>
func.func @forward(%y: memref<?x4xf32>, %n: index) {
  hybrid.dispatch @forward_dispatch workgroups(%n) (%y) : memref<?x4xf32>
  return
}
func.func private @forward_dispatch(%begin: index, %end: index, %y: memref<?x4xf32>) attributes {hybrid.kernel} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  scf.for %row = %begin to %end step %c1 {
    %s = memref.get_global @scale : memref<4xf32>
    %tmp = memref.alloc() {alignment = 64 : i64} : memref<4xf32>
    scf.for %j = %c0 to %c4 step %c1 {
      %v = memref.load %s[%j] : memref<4xf32>
      memref.store %v, %tmp[%j] : memref<4xf32>
    }
    scf.for %j = %c0 to %c4 step %c1 {
      %v = memref.load %tmp[%j] : memref<4xf32>
      memref.store %v, %y[%row, %j] : memref<?x4xf32>
    }
    memref.dealloc %tmp : memref<4xf32>
  }
  return
}

// -----

// negative_: a module without kernels gets no GPU module.

// CHECK-LABEL: module {
// CHECK-NOT: gpu.module
// CHECK: func.func @negative_no_kernels
func.func @negative_no_kernels(%n: index) {
  return
}

// -----

func.func @grow(%n: index) {
  hybrid.dispatch @grow_dispatch workgroups(%n) (%n) : index
  return
}
func.func private @grow_dispatch(%begin: index, %end: index, %n: index) attributes {hybrid.kernel} {
  // expected-error @+1 {{'memref.alloc' op allocates a dynamically sized buffer in a GPU kernel}}
  %tmp = memref.alloc(%n) : memref<?xf32>
  memref.dealloc %tmp : memref<?xf32>
  return
}

// -----

memref.global "private" @counter : memref<1xf32> = dense<0.0>
func.func @shared(%n: index) {
  %h = memref.get_global @counter : memref<1xf32>
  hybrid.dispatch @shared_dispatch workgroups(%n)
  return
}
func.func private @shared_dispatch(%begin: index, %end: index) attributes {hybrid.kernel} {
  // expected-error @+1 {{'memref.get_global' op uses a global that is not constant and that the host also uses: a GPU kernel cannot share it with the host}}
  %g = memref.get_global @counter : memref<1xf32>
  return
}

// -----

// A global only kernels use (the GEMVs' arrival counts) moves to the GPU
// module; its atomic read-modify-write gets an acquire-release fence at
// GPU scope on either side (NVPTX emits the atomic itself as relaxed).

// CHECK-LABEL: module attributes {gpu.container_module}
// CHECK-NOT: memref.global
// CHECK: gpu.module @hybrid_kernels
// CHECK: memref.global "private" @arrivals : memref<4xi32> = dense<0>
// CHECK: gpu.func @count_dispatch(
// CHECK: %[[COUNTS:.*]] = memref.get_global @arrivals
// CHECK: llvm.fence syncscope("device") acq_rel
// CHECK-NEXT: memref.atomic_rmw addi %{{.*}}, %[[COUNTS]]
// CHECK-NEXT: llvm.fence syncscope("device") acq_rel
memref.global "private" @arrivals : memref<4xi32> = dense<0>
func.func @count(%n: index) {
  hybrid.dispatch @count_dispatch workgroups(%n)
  return
}
func.func private @count_dispatch(%begin: index, %end: index) attributes {hybrid.kernel} {
  %c1 = arith.constant 1 : index
  %one = arith.constant 1 : i32
  scf.for %w = %begin to %end step %c1 {
    %counts = memref.get_global @arrivals : memref<4xi32>
    %before = memref.atomic_rmw addi %one, %counts[%w] : (i32, memref<4xi32>) -> i32
  }
  return
}

// -----

// A kernel with cooperative loops (a block form) runs a workgroup per
// block: block_id * 64 + thread_id divided by the block's 64 threads is the
// block. Each cooperative loop runs strided over the threads (thread_id,
// thread_id + 64, ..., the last dimension fastest) between barriers (one
// where two loops meet); the scratch two loops share becomes the block's,
// a view of the GPU module's dynamic shared memory (whose 96 bytes the
// dispatch gives), the scratch one loop uses alone stays each thread's, on
// its stack.
// CHECK-LABEL: func.func @block(
// CHECK: hybrid.dispatch @hybrid_kernels::@block_dispatch workgroups(%{{.*}}) (%{{.*}}) : memref<?x8xf32> {hybrid.block_size = 64 : i64, hybrid.shared_bytes = 96 : i64, hybrid.workgroup_threads = 64 : i64}
// CHECK: memref.global "public" @hybrid_dynamic_shared : memref<0xi8, #gpu.address_space<workgroup>> {alignment = 16 : i64}
// CHECK: gpu.func @block_dispatch(%[[COUNT:.*]]: index, %[[Y:.*]]: memref<?x8xf32>) kernel
// CHECK: %[[DYNAMIC:.*]] = memref.get_global @hybrid_dynamic_shared
// CHECK: %[[BLOCK:.*]] = gpu.block_id x
// CHECK: %[[SHARED:.*]] = memref.view %[[DYNAMIC]][%c0{{.*}}][] : memref<0xi8, #gpu.address_space<workgroup>> to memref<24xf32, #gpu.address_space<workgroup>>
// CHECK: %[[OWN:.*]] = memref.alloca() : memref<2xf32>
// CHECK-NOT: memref.alloca
// CHECK: scf.for %[[W:.*]] = %[[BLOCK]] to
// CHECK: gpu.barrier
// CHECK: %[[TID:.*]] = gpu.thread_id x
// CHECK: scf.for %[[IT:.*]] = %[[TID]] to %{{.*}} step %c64
// CHECK: arith.remui %[[IT]], %[[COLUMNS:.*]] : index
// CHECK: arith.divui %[[IT]], %[[COLUMNS]] : index
// CHECK: memref.store %{{.*}}, %[[OWN]]
// CHECK: memref.store %{{.*}}, %[[SHARED]]
// CHECK: gpu.barrier
// CHECK-NOT: gpu.barrier
// CHECK: gpu.thread_id x
// CHECK: scf.for %{{.*}} = %{{.*}} to %{{.*}} step %c64
// CHECK: memref.load %[[SHARED]]
// CHECK: memref.store %{{.*}}, %[[Y]]
// CHECK: gpu.barrier
// CHECK-NEXT: }
// CHECK: gpu.return
func.func @block(%y: memref<?x8xf32>, %n: index) {
  hybrid.dispatch @block_dispatch workgroups(%n) (%y) : memref<?x8xf32>
  return
}
func.func private @block_dispatch(%begin: index, %end: index, %y: memref<?x8xf32>) attributes {hybrid.kernel} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c3 = arith.constant 3 : index
  %c8 = arith.constant 8 : index
  %shared = memref.alloca() : memref<24xf32>
  %own = memref.alloca() : memref<2xf32>
  %one = arith.constant 1.0 : f32
  scf.for %w = %begin to %end step %c1 {
    scf.parallel (%r, %j) = (%c0, %c0) to (%c3, %c8) step (%c1, %c1) {
      memref.store %one, %own[%c0] : memref<2xf32>
      %v = memref.load %own[%c0] : memref<2xf32>
      %at = arith.addi %j, %r : index
      memref.store %v, %shared[%at] : memref<24xf32>
      scf.reduce
    } {hybrid.cooperative}
    scf.parallel (%j) = (%c0) to (%c8) step (%c1) {
      %v = memref.load %shared[%j] : memref<24xf32>
      memref.store %v, %y[%w, %j] : memref<?x8xf32>
      scf.reduce
    } {hybrid.cooperative}
  }
  return
}

// -----

// A block's buffers one after another in the dynamic shared memory, each
// at a multiple of 16 bytes (an index is 8 bytes, as the NVVM lowering
// makes it): 3 x index at 0, 5 x f32 at 32; the dispatch gives 52 bytes.
// A block that needs more than shared-memory-bytes (the GPU's limit) is an
// error.
// CHECK-LABEL: func.func @layout(
// CHECK: hybrid.dispatch @hybrid_kernels::@layout_dispatch {{.*}}hybrid.shared_bytes = 52 : i64
// CHECK: gpu.func @layout_dispatch(
// CHECK: %[[DYNAMIC:.*]] = memref.get_global @hybrid_dynamic_shared
// CHECK: memref.view %[[DYNAMIC]][%c0{{[_0-9]*}}][] : memref<0xi8, #gpu.address_space<workgroup>> to memref<3xindex, #gpu.address_space<workgroup>>
// CHECK: memref.view %[[DYNAMIC]][%c32{{[_0-9]*}}][] : memref<0xi8, #gpu.address_space<workgroup>> to memref<5xf32, #gpu.address_space<workgroup>>
// LIMIT: error: 'func.func' op hybrid-kernels-to-gpu: a block needs 52 bytes of shared memory, more than the 48 the target's blocks may have (shared-memory-bytes)
func.func @layout(%y: memref<?x5xf32>, %n: index) {
  hybrid.dispatch @layout_dispatch workgroups(%n) (%y) : memref<?x5xf32>
  return
}
func.func private @layout_dispatch(%begin: index, %end: index, %y: memref<?x5xf32>) attributes {hybrid.kernel} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c3 = arith.constant 3 : index
  %c5 = arith.constant 5 : index
  %picks = memref.alloca() : memref<3xindex>
  %sums = memref.alloca() : memref<5xf32>
  scf.for %w = %begin to %end step %c1 {
    scf.parallel (%i) = (%c0) to (%c3) step (%c1) {
      memref.store %i, %picks[%i] : memref<3xindex>
      scf.reduce
    } {hybrid.cooperative}
    scf.parallel (%j) = (%c0) to (%c5) step (%c1) {
      %p = memref.load %picks[%c1] : memref<3xindex>
      %i = arith.index_cast %p : index to i32
      %f = arith.sitofp %i : i32 to f32
      memref.store %f, %sums[%j] : memref<5xf32>
      scf.reduce
    } {hybrid.cooperative}
    scf.parallel (%j) = (%c0) to (%c5) step (%c1) {
      %v = memref.load %sums[%j] : memref<5xf32>
      memref.store %v, %y[%w, %j] : memref<?x5xf32>
      scf.reduce
    } {hybrid.cooperative}
  }
  return
}

// -----

// In a block kernel every thread runs the code outside the cooperative
// loops: a write there is a race.
func.func @racy(%y: memref<?x8xf32>, %n: index) {
  hybrid.dispatch @racy_dispatch workgroups(%n) (%y) : memref<?x8xf32>
  return
}
func.func private @racy_dispatch(%begin: index, %end: index, %y: memref<?x8xf32>) attributes {hybrid.kernel} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c8 = arith.constant 8 : index
  %one = arith.constant 1.0 : f32
  scf.for %w = %begin to %end step %c1 {
    // expected-error @+1 {{'memref.store' op hybrid-kernels-to-gpu: writes memory outside the cooperative and warps loops of a block kernel, where every thread of the block runs it}}
    memref.store %one, %y[%w, %c0] : memref<?x8xf32>
    scf.parallel (%j) = (%c0) to (%c8) step (%c1) {
      memref.store %one, %y[%w, %j] : memref<?x8xf32>
      scf.reduce
    } {hybrid.cooperative}
  }
  return
}

// -----

func.func @nested(%y: memref<?x8xf32>, %n: index) {
  hybrid.dispatch @nested_dispatch workgroups(%n) (%y) : memref<?x8xf32>
  return
}
func.func private @nested_dispatch(%begin: index, %end: index, %y: memref<?x8xf32>) attributes {hybrid.kernel} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c8 = arith.constant 8 : index
  %one = arith.constant 1.0 : f32
  scf.for %w = %begin to %end step %c1 {
    // expected-error @+1 {{'scf.parallel' op hybrid-kernels-to-gpu: a cooperative loop inside another}}
    scf.parallel (%i) = (%c0) to (%c8) step (%c1) {
      scf.parallel (%j) = (%c0) to (%c8) step (%c1) {
        memref.store %one, %y[%i, %j] : memref<?x8xf32>
        scf.reduce
      } {hybrid.cooperative}
      scf.reduce
    } {hybrid.cooperative}
  }
  return
}

// -----

// A cooperative reduction: each thread adds its strided iterations' terms
// from 0, then gpu.all_reduce adds the threads' sums across the block (and
// gives every thread the total), which the next cooperative loop stores.
// CHECK-LABEL: gpu.func @sum_dispatch
// CHECK: gpu.barrier
// CHECK: %[[TID:.*]] = gpu.thread_id x
// CHECK: %[[PARTIAL:.*]] = scf.for %[[IT:.*]] = %[[TID]] to %{{.*}} step %c64{{.*}} iter_args(%[[S:.*]] = %{{.*}}) -> (f32)
// CHECK: %[[X:.*]] = memref.load
// CHECK: %[[NEXT:.*]] = arith.addf %[[S]], %[[X]] : f32
// CHECK: scf.yield %[[NEXT]] : f32
// CHECK: %[[TOTAL:.*]] = gpu.all_reduce add %[[PARTIAL]] uniform {
// CHECK: gpu.barrier
// CHECK: memref.store %[[TOTAL]]
// Its lowering's static buffer (an f32 per warp, up to 32) counts against
// the block's shared memory.
// LIMIT: error: 'func.func' op hybrid-kernels-to-gpu: a block needs 128 bytes of shared memory, more than the 48 the target's blocks may have (shared-memory-bytes)
func.func @sum(%y: memref<?x8xf32>, %n: index) {
  hybrid.dispatch @sum_dispatch workgroups(%n) (%y) : memref<?x8xf32>
  return
}
func.func private @sum_dispatch(%begin: index, %end: index, %y: memref<?x8xf32>) attributes {hybrid.kernel} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c8 = arith.constant 8 : index
  %zero = arith.constant 0.0 : f32
  scf.for %w = %begin to %end step %c1 {
    %s = scf.parallel (%j) = (%c0) to (%c8) step (%c1) init (%zero) -> f32 {
      %v = memref.load %y[%w, %j] : memref<?x8xf32>
      scf.reduce(%v : f32) {
      ^bb0(%l: f32, %r: f32):
        %t = arith.addf %l, %r : f32
        scf.reduce.return %t : f32
      }
    } {hybrid.cooperative}
    scf.parallel (%j) = (%c0) to (%c8) step (%c1) {
      memref.store %s, %y[%w, %j] : memref<?x8xf32>
      scf.reduce
    } {hybrid.cooperative}
  }
  return
}

// -----

// Only reductions whose init is the identity spread over threads: each
// thread starts from it.
func.func @max(%y: memref<?x8xf32>, %n: index) {
  hybrid.dispatch @max_dispatch workgroups(%n) (%y) : memref<?x8xf32>
  return
}
func.func private @max_dispatch(%begin: index, %end: index, %y: memref<?x8xf32>) attributes {hybrid.kernel} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c8 = arith.constant 8 : index
  %zero = arith.constant 0.0 : f32
  scf.for %w = %begin to %end step %c1 {
    // expected-error @+1 {{'scf.parallel' op hybrid-kernels-to-gpu: a cooperative reduction must be f32 addf from 0, f32 maximumf from -inf or i32 minui from all ones}}
    %s = scf.parallel (%j) = (%c0) to (%c8) step (%c1) init (%zero) -> f32 {
      %v = memref.load %y[%w, %j] : memref<?x8xf32>
      scf.reduce(%v : f32) {
      ^bb0(%l: f32, %r: f32):
        %t = arith.maximumf %l, %r : f32
        scf.reduce.return %t : f32
      }
    } {hybrid.cooperative}
    scf.parallel (%j) = (%c0) to (%c8) step (%c1) {
      memref.store %s, %y[%w, %j] : memref<?x8xf32>
      scf.reduce
    } {hybrid.cooperative}
  }
  return
}

// -----

// A 1-D vector read from a kernel argument's buffer (identity layout: the
// base of a device allocation) at an index known to be a multiple of its
// length, in rows of a multiple of it, is an aligned vector.load (one
// 128-bit load); a read at an index not known to be one, or from a view
// with an offset, keeps its transfer_read.
// CHECK-LABEL: gpu.func @reads_dispatch(
// CHECK: %[[COLUMN:.*]] = affine.apply
// CHECK: vector.load %{{.*}}[%{{.*}}, %[[COLUMN]]] {alignment = 16 : i64} : memref<?x32xbf16>, vector<8xbf16>
// CHECK: vector.transfer_read %{{.*}} : memref<?x32xbf16>, vector<8xbf16>
// CHECK: vector.transfer_read %{{.*}} : memref<?x32xbf16, strided<[32, 1], offset: ?>>, vector<8xbf16>
#column = affine_map<(d0) -> ((d0 mod 4) * 8)>
func.func @reads(%w: memref<?x32xbf16>, %v: memref<?x32xbf16, strided<[32, 1], offset: ?>>, %y: memref<?x8xbf16>, %n: index, %k: index) {
  hybrid.dispatch @reads_dispatch workgroups(%n) (%w, %v, %y, %k) : memref<?x32xbf16>, memref<?x32xbf16, strided<[32, 1], offset: ?>>, memref<?x8xbf16>, index
  return
}
func.func private @reads_dispatch(%begin: index, %end: index, %w: memref<?x32xbf16>, %v: memref<?x32xbf16, strided<[32, 1], offset: ?>>, %y: memref<?x8xbf16>, %k: index) attributes {hybrid.kernel} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %pad = arith.constant 0.0 : bf16
  scf.for %i = %begin to %end step %c1 {
    %column = affine.apply #column(%i)
    %a = vector.transfer_read %w[%i, %column], %pad {in_bounds = [true]} : memref<?x32xbf16>, vector<8xbf16>
    %b = vector.transfer_read %w[%i, %k], %pad {in_bounds = [true]} : memref<?x32xbf16>, vector<8xbf16>
    %c = vector.transfer_read %v[%i, %column], %pad {in_bounds = [true]} : memref<?x32xbf16, strided<[32, 1], offset: ?>>, vector<8xbf16>
    %ab = arith.addf %a, %b : vector<8xbf16>
    %abc = arith.addf %ab, %c : vector<8xbf16>
    vector.store %abc, %y[%i, %c0] : memref<?x8xbf16>, vector<8xbf16>
  }
  return
}

// -----

// Cooperative loops that only index arithmetic separates need no barrier
// between them when neither touches what the other writes and both write
// only the block's shared buffers (the mma form's copies of x's tile and
// of the weights): the first two loops here run back to back; the third
// reads both buffers (a barrier before it) and writes the global output,
// which the fourth reads (a barrier between them too).
// CHECK-LABEL: gpu.func @copies_dispatch(
// CHECK: gpu.barrier
// CHECK: scf.for
// CHECK: memref.store %{{.*}}, %[[A:.*]][%{{.*}}] : memref<64xf32, #gpu.address_space<workgroup>>
// CHECK-NOT: gpu.barrier
// CHECK: scf.for
// CHECK: memref.store %{{.*}}, %[[B:.*]][%{{.*}}] : memref<64xf32, #gpu.address_space<workgroup>>
// CHECK: gpu.barrier
// CHECK: scf.for
// CHECK: memref.store %{{.*}}, %[[Y:.*]][%{{.*}}] : memref<?x64xf32>
// CHECK: gpu.barrier
// CHECK: scf.for
// CHECK: memref.load %[[Y]]
// CHECK: gpu.barrier
func.func @copies(%x: memref<?x64xf32>, %y: memref<?x64xf32>, %n: index) {
  hybrid.dispatch @copies_dispatch workgroups(%n) (%x, %y) : memref<?x64xf32>, memref<?x64xf32>
  return
}
func.func private @copies_dispatch(%begin: index, %end: index, %x: memref<?x64xf32>, %y: memref<?x64xf32>) attributes {hybrid.kernel} {
  %a = memref.alloca() : memref<64xf32>
  %b = memref.alloca() : memref<64xf32>
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c64 = arith.constant 64 : index
  scf.for %w = %begin to %end step %c1 {
    scf.parallel (%i) = (%c0) to (%c64) step (%c1) {
      %v = memref.load %x[%w, %i] : memref<?x64xf32>
      memref.store %v, %a[%i] : memref<64xf32>
      scf.reduce
    } {hybrid.cooperative}
    %next = arith.addi %w, %c1 : index
    scf.parallel (%i) = (%c0) to (%c64) step (%c1) {
      %v = memref.load %x[%next, %i] : memref<?x64xf32>
      memref.store %v, %b[%i] : memref<64xf32>
      scf.reduce
    } {hybrid.cooperative}
    scf.parallel (%i) = (%c0) to (%c64) step (%c1) {
      %u = memref.load %a[%i] : memref<64xf32>
      %v = memref.load %b[%i] : memref<64xf32>
      %s = arith.addf %u, %v : f32
      memref.store %s, %y[%w, %i] : memref<?x64xf32>
      scf.reduce
    } {hybrid.cooperative}
    scf.parallel (%i) = (%c0) to (%c64) step (%c1) {
      %j = arith.subi %c64, %i : index
      %k = arith.subi %j, %c1 : index
      %u = memref.load %y[%w, %k] : memref<?x64xf32>
      memref.store %u, %a[%i] : memref<64xf32>
      scf.reduce
    } {hybrid.cooperative}
  }
  return
}

// -----

// A loop runs without a barrier before it only when it is independent of
// every loop since the last barrier, which other threads may still be
// running: the third loop here touches nothing of the second's, but reads
// the first's buffer (a barrier before it: one, no second where the
// second loop's closing barrier and its opening one meet).
// CHECK-LABEL: gpu.func @chained_dispatch(
// CHECK: memref.store %{{.*}}, %[[A:.*]][%{{.*}}] : memref<64xf32, #gpu.address_space<workgroup>>
// CHECK-NOT: gpu.barrier
// CHECK: memref.store %{{.*}}, %[[B:.*]][%{{.*}}] : memref<64xf32, #gpu.address_space<workgroup>>
// CHECK: } {hybrid.block_strided}
// CHECK-NEXT: gpu.barrier
// CHECK-NOT: gpu.barrier
// CHECK: memref.load %[[A]]
func.func @chained(%x: memref<?x64xf32>, %n: index) {
  hybrid.dispatch @chained_dispatch workgroups(%n) (%x) : memref<?x64xf32>
  return
}
func.func private @chained_dispatch(%begin: index, %end: index, %x: memref<?x64xf32>) attributes {hybrid.kernel} {
  %a = memref.alloca() : memref<64xf32>
  %b = memref.alloca() : memref<64xf32>
  %c = memref.alloca() : memref<64xf32>
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c64 = arith.constant 64 : index
  scf.for %w = %begin to %end step %c1 {
    scf.parallel (%i) = (%c0) to (%c64) step (%c1) {
      %v = memref.load %x[%w, %i] : memref<?x64xf32>
      memref.store %v, %a[%i] : memref<64xf32>
      scf.reduce
    } {hybrid.cooperative}
    scf.parallel (%i) = (%c0) to (%c64) step (%c1) {
      %v = memref.load %x[%w, %i] : memref<?x64xf32>
      memref.store %v, %b[%i] : memref<64xf32>
      scf.reduce
    } {hybrid.cooperative}
    scf.parallel (%i) = (%c0) to (%c64) step (%c1) {
      %j = arith.subi %c64, %i : index
      %k = arith.subi %j, %c1 : index
      %u = memref.load %a[%k] : memref<64xf32>
      memref.store %u, %c[%i] : memref<64xf32>
      scf.reduce
    } {hybrid.cooperative}
    scf.parallel (%i) = (%c0) to (%c64) step (%c1) {
      %u = memref.load %b[%i] : memref<64xf32>
      %v = memref.load %c[%i] : memref<64xf32>
      %s = arith.addf %u, %v : f32
      memref.store %s, %x[%w, %i] : memref<?x64xf32>
      scf.reduce
    } {hybrid.cooperative}
  }
  return
}

// -----

// A cooperative loop that only prefetches (a GEMV block's weights) reads
// and writes nothing another thread uses: no barrier before or after it,
// so the kernel's first barrier is the next phase's.
// CHECK-LABEL: func.func @prefetching(
// CHECK: gpu.func @prefetching_dispatch(%{{.*}}: index, %[[W:.*]]: memref<4x64xbf16>, %[[Y:.*]]: memref<?x64xf32>)
// CHECK: scf.for %[[WG:.*]] = %{{.*}} to
// CHECK-NOT: gpu.barrier
// CHECK: scf.for %[[LINE:.*]] = %{{.*}} to %{{.*}} step %c64
// CHECK-NOT: gpu.barrier
// CHECK: memref.prefetch %[[W]][%[[WG]], %{{.*}}], read, locality<1>, data
// CHECK-NOT: gpu.barrier
// CHECK: } {hybrid.block_strided}
// CHECK-NEXT: gpu.barrier
// CHECK: memref.store %{{.*}}, %[[Y]]
func.func @prefetching(%w: memref<4x64xbf16>, %y: memref<?x64xf32>, %n: index) {
  hybrid.dispatch @prefetching_dispatch workgroups(%n) (%w, %y) : memref<4x64xbf16>, memref<?x64xf32>
  return
}
func.func private @prefetching_dispatch(%begin: index, %end: index, %w: memref<4x64xbf16>, %y: memref<?x64xf32>) attributes {hybrid.kernel} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %c64 = arith.constant 64 : index
  %shared = memref.alloca() : memref<64xf32>
  scf.for %wg = %begin to %end step %c1 {
    scf.parallel (%line) = (%c0) to (%c2) step (%c1) {
      %k = arith.muli %line, %c64 : index
      memref.prefetch %w[%wg, %k], read, locality<1>, data : memref<4x64xbf16>
      scf.reduce
    } {hybrid.cooperative}
    scf.parallel (%j) = (%c0) to (%c64) step (%c1) {
      %v = memref.load %w[%wg, %j] : memref<4x64xbf16>
      %f = arith.extf %v : bf16 to f32
      memref.store %f, %shared[%j] : memref<64xf32>
      scf.reduce
    } {hybrid.cooperative}
    scf.parallel (%j) = (%c0) to (%c64) step (%c1) {
      %v = memref.load %shared[%j] : memref<64xf32>
      memref.store %v, %y[%wg, %j] : memref<?x64xf32>
      scf.reduce
    } {hybrid.cooperative}
  }
  return
}
