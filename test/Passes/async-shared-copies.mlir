// RUN: hybrid-opt %s --pass-pipeline="builtin.module(gpu.module(hybrid-async-shared-copies))" --split-input-file | FileCheck %s

// A strided copy loop of the mma form: 16-byte rows of bf16 weights and
// 32-byte rows of f32 x (two pieces), both into views of the dynamic
// shared memory at 16-byte aligned shifts; a scalar f32 copy (4 bytes).
// Each becomes cp.async (16-byte pieces bypassing L1, the 32-byte row as
// two at columns c and c + 4), committed as one group after the loop; each
// barrier first waits for every group.
// CHECK-LABEL: gpu.func @stage(
// CHECK-SAME: %[[W:[^:]*]]: memref<4x64x32xbf16>, %[[X:[^:]*]]: memref<?x64xf32>, %[[S:[^:]*]]: memref<?xf32>
// CHECK: %[[WS:.*]] = memref.view {{.*}} to memref<32x40xbf16
// CHECK: %[[XS:.*]] = memref.view {{.*}} to memref<16x40xf32
// CHECK: %[[SS:.*]] = memref.view {{.*}} to memref<4xf32
// CHECK: nvvm.cp.async.wait.group 0
// CHECK-NEXT: gpu.barrier
// CHECK: scf.for %[[I:.*]] = %{{.*}} to
// CHECK: %[[ROW:.*]] = affine.apply
// CHECK: %[[COL:.*]] = affine.apply
// CHECK-NOT: vector.load
// CHECK: nvgpu.device_async_copy %[[W]][%{{.*}}, %[[ROW]], %[[COL]]], %[[WS]][%[[ROW]], %[[COL]]], 8 {bypassL1}
// CHECK: nvgpu.device_async_copy %[[X]][%[[ROW]], %[[COL]]], %[[XS]][%[[ROW]], %[[COL]]], 4 {bypassL1}
// CHECK: %[[FOUR:.*]] = arith.constant 4 : index
// CHECK: %[[SRC:.*]] = arith.addi %[[COL]], %[[FOUR]]
// CHECK: %[[DST:.*]] = arith.addi %[[COL]], %[[FOUR]]
// CHECK: nvgpu.device_async_copy %[[X]][%[[ROW]], %[[SRC]]], %[[XS]][%[[ROW]], %[[DST]]], 4 {bypassL1}
// CHECK: nvgpu.device_async_copy %[[S]][%[[I]]], %[[SS]][%[[ROW]]], 1 :
// CHECK-NOT: vector.store
// CHECK-NOT: memref.store
// CHECK: } {hybrid.block_strided}
// CHECK-NEXT: nvvm.cp.async.commit.group
// CHECK-NEXT: nvvm.cp.async.wait.group 0
// CHECK-NEXT: gpu.barrier
// CHECK-NEXT: vector.load %[[WS]]
gpu.module @hybrid_kernels {
  memref.global "public" @hybrid_dynamic_shared : memref<0xi8, #gpu.address_space<workgroup>> {alignment = 16 : i64}
  gpu.func @stage(%w: memref<4x64x32xbf16>, %x: memref<?x64xf32>, %s: memref<?xf32>) kernel {
    %c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    %c128 = arith.constant 128 : index
    %c256 = arith.constant 256 : index
    %c4096 = arith.constant 4096 : index
    %shared = memref.get_global @hybrid_dynamic_shared : memref<0xi8, #gpu.address_space<workgroup>>
    %ws = memref.view %shared[%c0][] : memref<0xi8, #gpu.address_space<workgroup>> to memref<32x40xbf16, #gpu.address_space<workgroup>>
    %xs = memref.view %shared[%c4096][] : memref<0xi8, #gpu.address_space<workgroup>> to memref<16x40xf32, #gpu.address_space<workgroup>>
    %ss = memref.view %shared[%c256][] : memref<0xi8, #gpu.address_space<workgroup>> to memref<4xf32, #gpu.address_space<workgroup>>
    %tid = gpu.thread_id x
    gpu.barrier
    scf.for %i = %tid to %c128 step %c128 {
      %row = affine.apply affine_map<(d0) -> (d0 floordiv 4)>(%i)
      %col = affine.apply affine_map<(d0) -> ((d0 mod 4) * 8)>(%i)
      %v = vector.load %w[%c1, %row, %col] {alignment = 16 : i64} : memref<4x64x32xbf16>, vector<8xbf16>
      vector.store %v, %ws[%row, %col] : memref<32x40xbf16, #gpu.address_space<workgroup>>, vector<8xbf16>
      %xv = vector.load %x[%row, %col] {alignment = 16 : i64} : memref<?x64xf32>, vector<8xf32>
      vector.store %xv, %xs[%row, %col] : memref<16x40xf32, #gpu.address_space<workgroup>>, vector<8xf32>
      %e = memref.load %s[%i] : memref<?xf32>
      memref.store %e, %ss[%row] : memref<4xf32, #gpu.address_space<workgroup>>
    } {hybrid.block_strided}
    gpu.barrier
    %r = vector.load %ws[%c0, %c0] : memref<32x40xbf16, #gpu.address_space<workgroup>>, vector<8xbf16>
    gpu.return
  }
}

// -----

// Copies that stay as they are: the loop also reads its buffer back
// (through another view of the same bytes: the thread could read its own
// store before the barrier); a value converted on the way (x rounded to
// bf16); a 2-byte element (cp.async moves 4, 8 or 16); a shared column
// not known to be aligned to the piece; a loop not strided over a block
// (no hybrid.block_strided). With nothing converted, no waits either.
// CHECK-LABEL: gpu.func @kept(
// CHECK-NOT: nvgpu.device_async_copy
// CHECK-NOT: nvvm.cp.async
// CHECK: gpu.return
gpu.module @hybrid_kernels {
  memref.global "public" @hybrid_dynamic_shared : memref<0xi8, #gpu.address_space<workgroup>> {alignment = 16 : i64}
  gpu.func @kept(%w: memref<64x32xf32>, %x: memref<?x64xf32>, %h: memref<?xbf16>, %o: memref<?xf32>) kernel {
    %c0 = arith.constant 0 : index
    %c128 = arith.constant 128 : index
    %c4096 = arith.constant 4096 : index
    %c8192 = arith.constant 8192 : index
    %shared = memref.get_global @hybrid_dynamic_shared : memref<0xi8, #gpu.address_space<workgroup>>
    %ws = memref.view %shared[%c0][] : memref<0xi8, #gpu.address_space<workgroup>> to memref<32x36xf32, #gpu.address_space<workgroup>>
    %wi = memref.view %shared[%c128][] : memref<0xi8, #gpu.address_space<workgroup>> to memref<4xi32, #gpu.address_space<workgroup>>
    %xs = memref.view %shared[%c4096][] : memref<0xi8, #gpu.address_space<workgroup>> to memref<16x40xbf16, #gpu.address_space<workgroup>>
    %hs = memref.view %shared[%c8192][] : memref<0xi8, #gpu.address_space<workgroup>> to memref<64xbf16, #gpu.address_space<workgroup>>
    %tid = gpu.thread_id x
    scf.for %i = %tid to %c128 step %c128 {
      %row = affine.apply affine_map<(d0) -> (d0 floordiv 4)>(%i)
      %col = affine.apply affine_map<(d0) -> ((d0 mod 4) * 8)>(%i)
      %v = vector.load %w[%row, %col] {alignment = 16 : i64} : memref<64x32xf32>, vector<4xf32>
      vector.store %v, %ws[%row, %col] : memref<32x36xf32, #gpu.address_space<workgroup>>, vector<4xf32>
      %back = memref.load %wi[%c0] : memref<4xi32, #gpu.address_space<workgroup>>
      %xv = vector.load %x[%row, %col] {alignment = 16 : i64} : memref<?x64xf32>, vector<8xf32>
      %rounded = arith.truncf %xv : vector<8xf32> to vector<8xbf16>
      vector.store %rounded, %xs[%row, %col] : memref<16x40xbf16, #gpu.address_space<workgroup>>, vector<8xbf16>
      %e = memref.load %h[%i] : memref<?xbf16>
      memref.store %e, %hs[%row] : memref<64xbf16, #gpu.address_space<workgroup>>
    } {hybrid.block_strided}
    scf.for %i = %tid to %c128 step %c128 {
      %row = affine.apply affine_map<(d0) -> (d0 floordiv 4)>(%i)
      %odd = affine.apply affine_map<(d0) -> ((d0 mod 4) * 8 + 1)>(%i)
      %v = vector.load %x[%row, %c0] {alignment = 16 : i64} : memref<?x64xf32>, vector<4xf32>
      vector.store %v, %ws[%row, %odd] : memref<32x36xf32, #gpu.address_space<workgroup>>, vector<4xf32>
    } {hybrid.block_strided}
    scf.for %i = %tid to %c128 step %c128 {
      %e = memref.load %o[%i] : memref<?xf32>
      memref.store %e, %ws[%c0, %c0] : memref<32x36xf32, #gpu.address_space<workgroup>>
    }
    gpu.barrier
    gpu.return
  }
}

// -----

// Double buffering: per step, a prefetch (the next step's rows into the
// other slot) after the barrier that opens it, then two phases between
// barriers. The opening barrier waits for every group (the step reads the
// rows prefetched a step before); the phases' barriers leave the step's
// prefetch group in flight (wait_group 1). A copy committed after the
// prefetch (the second step loop's ordinary copy) must be complete at the
// next barrier: that one waits for all.
// CHECK-LABEL: gpu.func @double_buffered(
// CHECK: scf.for
// CHECK-NEXT: nvvm.cp.async.wait.group 0
// CHECK-NEXT: gpu.barrier
// CHECK: nvgpu.device_async_copy
// CHECK: } {hybrid.block_strided, hybrid.prefetch}
// CHECK-NEXT: nvvm.cp.async.commit.group
// CHECK-NEXT: vector.load
// CHECK-NEXT: nvvm.cp.async.wait.group 1
// CHECK-NEXT: gpu.barrier
// CHECK-NEXT: vector.load
// CHECK-NEXT: nvvm.cp.async.wait.group 1
// CHECK-NEXT: gpu.barrier
// CHECK: scf.for
// CHECK-NEXT: nvvm.cp.async.wait.group 0
// CHECK-NEXT: gpu.barrier
// CHECK: } {hybrid.block_strided, hybrid.prefetch}
// CHECK-NEXT: nvvm.cp.async.commit.group
// CHECK: } {hybrid.block_strided}
// CHECK-NEXT: nvvm.cp.async.commit.group
// CHECK-NEXT: nvvm.cp.async.wait.group 0
// CHECK-NEXT: gpu.barrier
gpu.module @hybrid_kernels {
  memref.global "public" @hybrid_dynamic_shared : memref<0xi8, #gpu.address_space<workgroup>> {alignment = 16 : i64}
  gpu.func @double_buffered(%x: memref<?x64xf32>) kernel {
    %c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    %c4 = arith.constant 4 : index
    %c8 = arith.constant 8 : index
    %c128 = arith.constant 128 : index
    %c4096 = arith.constant 4096 : index
    %shared = memref.get_global @hybrid_dynamic_shared : memref<0xi8, #gpu.address_space<workgroup>>
    %xs = memref.view %shared[%c0][] : memref<0xi8, #gpu.address_space<workgroup>> to memref<64x16xf32, #gpu.address_space<workgroup>>
    %ys = memref.view %shared[%c4096][] : memref<0xi8, #gpu.address_space<workgroup>> to memref<32x16xf32, #gpu.address_space<workgroup>>
    %tid = gpu.thread_id x
    scf.for %k = %c0 to %c8 step %c1 {
      gpu.barrier
      scf.for %i = %tid to %c128 step %c128 {
        %row = affine.apply affine_map<(d0) -> (d0 floordiv 4)>(%i)
        %col = affine.apply affine_map<(d0) -> ((d0 mod 4) * 4)>(%i)
        %v = vector.load %x[%row, %col] {alignment = 16 : i64} : memref<?x64xf32>, vector<4xf32>
        vector.store %v, %xs[%row, %col] : memref<64x16xf32, #gpu.address_space<workgroup>>, vector<4xf32>
      } {hybrid.block_strided, hybrid.prefetch}
      %a = vector.load %xs[%c0, %c0] : memref<64x16xf32, #gpu.address_space<workgroup>>, vector<4xf32>
      gpu.barrier
      %b = vector.load %xs[%c4, %c0] : memref<64x16xf32, #gpu.address_space<workgroup>>, vector<4xf32>
      gpu.barrier
    }
    scf.for %k = %c0 to %c8 step %c1 {
      gpu.barrier
      scf.for %i = %tid to %c128 step %c128 {
        %row = affine.apply affine_map<(d0) -> (d0 floordiv 4)>(%i)
        %col = affine.apply affine_map<(d0) -> ((d0 mod 4) * 4)>(%i)
        %v = vector.load %x[%row, %col] {alignment = 16 : i64} : memref<?x64xf32>, vector<4xf32>
        vector.store %v, %xs[%row, %col] : memref<64x16xf32, #gpu.address_space<workgroup>>, vector<4xf32>
      } {hybrid.block_strided, hybrid.prefetch}
      scf.for %i = %tid to %c128 step %c128 {
        %row = affine.apply affine_map<(d0) -> (d0 floordiv 4)>(%i)
        %col = affine.apply affine_map<(d0) -> ((d0 mod 4) * 4)>(%i)
        %v = vector.load %x[%row, %col] {alignment = 16 : i64} : memref<?x64xf32>, vector<4xf32>
        vector.store %v, %ys[%row, %col] : memref<32x16xf32, #gpu.address_space<workgroup>>, vector<4xf32>
      } {hybrid.block_strided}
      gpu.barrier
      %c = vector.load %ys[%c0, %c0] : memref<32x16xf32, #gpu.address_space<workgroup>>, vector<4xf32>
    }
    gpu.return
  }
}

// -----

// Zero fills: rows past the call's tokens staged as zeros (`scf.if %inside
// {copy} else {zeros}`) become one cp.async that reads the piece where the
// row is inside and nothing elsewhere (src-size 0: all zeros), from the
// buffer's start (an address that exists); the branch's index arithmetic
// moves before it. A branch that stores anything but zero bytes (ones,
// -0.0), whose copy branch also writes elsewhere, or whose arithmetic the
// guard protects (a division by rows - row, zero past the rows), stays.
// CHECK-LABEL: gpu.func @zero_fill(
// CHECK-SAME: %[[X:[^:]*]]: memref<?x64xf32>
// CHECK: %[[XS:.*]] = memref.view {{.*}} to memref<16x20xf32
// CHECK: scf.for
// CHECK: %[[ROW:.*]] = affine.apply
// CHECK: %[[COL:.*]] = affine.apply
// CHECK: %[[INSIDE:.*]] = arith.cmpi ult, %[[ROW]]
// CHECK-NOT: scf.if
// CHECK: %[[TOKEN:.*]] = arith.addi
// CHECK: %[[ZERO:.*]] = arith.constant 0 : index
// CHECK: %[[FOUR:.*]] = arith.constant 4 : index
// CHECK: %[[READ:.*]] = arith.select %[[INSIDE]], %[[FOUR]], %[[ZERO]]
// CHECK: %[[AT:.*]] = arith.select %[[INSIDE]], %[[TOKEN]], %[[ZERO]]
// CHECK: %[[ATC:.*]] = arith.select %[[INSIDE]], %[[COL]], %[[ZERO]]
// CHECK: nvgpu.device_async_copy %[[X]][%[[AT]], %[[ATC]]], %[[XS]][%[[ROW]], %[[COL]]], 4, %[[READ]] {bypassL1}
// CHECK-NOT: vector.store
// CHECK: } {hybrid.block_strided}
// CHECK-NEXT: nvvm.cp.async.commit.group
// CHECK: scf.for
// CHECK: scf.if
// CHECK: vector.load
// CHECK: vector.store
// CHECK: } else {
// CHECK: vector.store
// CHECK: } {hybrid.block_strided}
// CHECK: scf.for
// CHECK: scf.if
// CHECK: vector.load
// CHECK: vector.store
// CHECK: memref.store
// CHECK: } else {
// CHECK: vector.store
// CHECK: } {hybrid.block_strided}
// CHECK: scf.for
// CHECK: scf.if
// CHECK: vector.load
// CHECK: vector.store
// CHECK: } else {
// CHECK: vector.store
// CHECK: } {hybrid.block_strided}
// CHECK: scf.for
// CHECK: scf.if
// CHECK: arith.divui
// CHECK: vector.load
// CHECK: vector.store
// CHECK: } else {
// CHECK: vector.store
// CHECK: } {hybrid.block_strided}
gpu.module @hybrid_kernels {
  memref.global "public" @hybrid_dynamic_shared : memref<0xi8, #gpu.address_space<workgroup>> {alignment = 16 : i64}
  gpu.func @zero_fill(%x: memref<?x64xf32>, %first: index, %rows: index, %o: memref<?xf32>) kernel {
    %c0 = arith.constant 0 : index
    %c64 = arith.constant 64 : index
    %c128 = arith.constant 128 : index
    %c2048 = arith.constant 2048 : index
    %c4096 = arith.constant 4096 : index
    %c6144 = arith.constant 6144 : index
    %c8192 = arith.constant 8192 : index
    %zeros = arith.constant dense<0.0> : vector<4xf32>
    %ones = arith.constant dense<1.0> : vector<4xf32>
    %negative_zeros = arith.constant dense<-0.0> : vector<4xf32>
    %one = arith.constant 1.0 : f32
    %shared = memref.get_global @hybrid_dynamic_shared : memref<0xi8, #gpu.address_space<workgroup>>
    %xs = memref.view %shared[%c0][] : memref<0xi8, #gpu.address_space<workgroup>> to memref<16x20xf32, #gpu.address_space<workgroup>>
    %ys = memref.view %shared[%c2048][] : memref<0xi8, #gpu.address_space<workgroup>> to memref<16x20xf32, #gpu.address_space<workgroup>>
    %zs = memref.view %shared[%c4096][] : memref<0xi8, #gpu.address_space<workgroup>> to memref<16x20xf32, #gpu.address_space<workgroup>>
    %ws = memref.view %shared[%c6144][] : memref<0xi8, #gpu.address_space<workgroup>> to memref<16x20xf32, #gpu.address_space<workgroup>>
    %vs = memref.view %shared[%c8192][] : memref<0xi8, #gpu.address_space<workgroup>> to memref<16x20xf32, #gpu.address_space<workgroup>>
    %tid = gpu.thread_id x
    scf.for %i = %tid to %c64 step %c128 {
      %row = affine.apply affine_map<(d0) -> (d0 floordiv 4)>(%i)
      %col = affine.apply affine_map<(d0) -> ((d0 mod 4) * 4)>(%i)
      %inside = arith.cmpi ult, %row, %rows : index
      scf.if %inside {
        %token = arith.addi %first, %row : index
        %v = vector.load %x[%token, %col] {alignment = 16 : i64} : memref<?x64xf32>, vector<4xf32>
        vector.store %v, %xs[%row, %col] : memref<16x20xf32, #gpu.address_space<workgroup>>, vector<4xf32>
      } else {
        vector.store %zeros, %xs[%row, %col] : memref<16x20xf32, #gpu.address_space<workgroup>>, vector<4xf32>
      }
    } {hybrid.block_strided}
    scf.for %i = %tid to %c64 step %c128 {
      %row = affine.apply affine_map<(d0) -> (d0 floordiv 4)>(%i)
      %col = affine.apply affine_map<(d0) -> ((d0 mod 4) * 4)>(%i)
      %inside = arith.cmpi ult, %row, %rows : index
      scf.if %inside {
        %token = arith.addi %first, %row : index
        %v = vector.load %x[%token, %col] {alignment = 16 : i64} : memref<?x64xf32>, vector<4xf32>
        vector.store %v, %ys[%row, %col] : memref<16x20xf32, #gpu.address_space<workgroup>>, vector<4xf32>
      } else {
        vector.store %ones, %ys[%row, %col] : memref<16x20xf32, #gpu.address_space<workgroup>>, vector<4xf32>
      }
    } {hybrid.block_strided}
    scf.for %i = %tid to %c64 step %c128 {
      %row = affine.apply affine_map<(d0) -> (d0 floordiv 4)>(%i)
      %col = affine.apply affine_map<(d0) -> ((d0 mod 4) * 4)>(%i)
      %inside = arith.cmpi ult, %row, %rows : index
      scf.if %inside {
        %token = arith.addi %first, %row : index
        %v = vector.load %x[%token, %col] {alignment = 16 : i64} : memref<?x64xf32>, vector<4xf32>
        vector.store %v, %zs[%row, %col] : memref<16x20xf32, #gpu.address_space<workgroup>>, vector<4xf32>
        memref.store %one, %o[%row] : memref<?xf32>
      } else {
        vector.store %zeros, %zs[%row, %col] : memref<16x20xf32, #gpu.address_space<workgroup>>, vector<4xf32>
      }
    } {hybrid.block_strided}
    scf.for %i = %tid to %c64 step %c128 {
      %row = affine.apply affine_map<(d0) -> (d0 floordiv 4)>(%i)
      %col = affine.apply affine_map<(d0) -> ((d0 mod 4) * 4)>(%i)
      %inside = arith.cmpi ult, %row, %rows : index
      scf.if %inside {
        %token = arith.addi %first, %row : index
        %v = vector.load %x[%token, %col] {alignment = 16 : i64} : memref<?x64xf32>, vector<4xf32>
        vector.store %v, %ws[%row, %col] : memref<16x20xf32, #gpu.address_space<workgroup>>, vector<4xf32>
      } else {
        vector.store %negative_zeros, %ws[%row, %col] : memref<16x20xf32, #gpu.address_space<workgroup>>, vector<4xf32>
      }
    } {hybrid.block_strided}
    scf.for %i = %tid to %c64 step %c128 {
      %row = affine.apply affine_map<(d0) -> (d0 floordiv 4)>(%i)
      %col = affine.apply affine_map<(d0) -> ((d0 mod 4) * 4)>(%i)
      %inside = arith.cmpi ult, %row, %rows : index
      scf.if %inside {
        %left = arith.subi %rows, %row : index
        %token = arith.divui %first, %left : index
        %v = vector.load %x[%token, %col] {alignment = 16 : i64} : memref<?x64xf32>, vector<4xf32>
        vector.store %v, %vs[%row, %col] : memref<16x20xf32, #gpu.address_space<workgroup>>, vector<4xf32>
      } else {
        vector.store %zeros, %vs[%row, %col] : memref<16x20xf32, #gpu.address_space<workgroup>>, vector<4xf32>
      }
    } {hybrid.block_strided}
    gpu.barrier
    gpu.return
  }
}
