// RUN: hybrid-opt %s --pass-pipeline="builtin.module(gpu.module(hybrid-mma-tiles-to-nvgpu))" --split-input-file --verify-diagnostics | FileCheck %s
// RUN: hybrid-opt %s --pass-pipeline="builtin.module(gpu.module(hybrid-mma-tiles-to-nvgpu{split-tf32=1}))" --split-input-file --verify-diagnostics | FileCheck %s --check-prefix=SPLIT

// A block kernel's tf32 tiles (the mma form of a linear layer with f32
// weights, after hybrid-kernels-to-gpu): x's tile staged in shared memory
// is loaded with ldmatrix, the weights' tile element by element; each
// contract becomes one tf32 mma.sync, its fragments' elements rounded to
// tf32 (cvt.rna) as loaded, the accumulator carried as the lane's 2x2
// fragment; the kernel's index arithmetic stays arith.
// CHECK-LABEL: gpu.func @tile(
// CHECK: %[[W:.*]] = arith.divui %{{.*}}, %c32 : index
// CHECK: %[[T0:.*]] = arith.muli %[[W]], %c16 : index
// (The loop keeps the tiles' old accumulator as a dead constant until
// canonicalize.)
// CHECK: scf.for %{{.*}} = %c0 to %c64 step %c8 iter_args(%{{.*}} = %{{.*}}, %[[ACC:.*]] = %{{.*}}) -> (vector<16x8xf32>, vector<2x2xf32>)
// CHECK: gpu.barrier
// CHECK: %[[LANE:.*]] = gpu.lane_id
// CHECK: %[[XF:.*]] = nvgpu.ldmatrix %{{.*}} {numTiles = 4 : i32, transpose = false} : memref<16x12xf32, #gpu.address_space<workgroup>> -> vector<4x1xf32>
// CHECK: %[[X3:.*]] = vector.extract %[[XF]][3, 0] : f32 from vector<4x1xf32>
// CHECK: %[[X3R:.*]] = nvvm.convert.float.to.tf32 %[[X3]] {rnd = #nvvm.fp_rnd_mode<rna>}
// CHECK: %[[X3F:.*]] = arith.bitcast %[[X3R]] : i32 to f32
// CHECK: %[[XT:.*]] = vector.from_elements %{{.*}}, %{{.*}}, %{{.*}}, %[[X3F]] : vector<4x1xf32>
// CHECK: memref.load %{{.*}} : memref<8x16xf32, #gpu.address_space<workgroup>>
// CHECK: %[[WF:.*]] = vector.insert %{{.*}} [1, 0] : f32 into vector<2x1xf32>
// CHECK-COUNT-2: nvvm.convert.float.to.tf32 %{{.*}} {rnd = #nvvm.fp_rnd_mode<rna>}
// CHECK: %[[WT:.*]] = vector.from_elements %{{.*}}, %{{.*}} : vector<2x1xf32>
// CHECK: %[[D:.*]] = nvgpu.mma.sync(%[[XT]], %[[WT]], %[[ACC]]) {mmaShape = [16, 8, 8], tf32Enabled} : (vector<4x1xf32>, vector<2x1xf32>, vector<2x2xf32>) -> vector<2x2xf32>
// CHECK: scf.yield %{{.*}}, %[[D]]
// CHECK: vector.store %{{.*}} : memref<?x32xf32>, vector<2xf32>
// CHECK-NOT: vector.contract
// CHECK: gpu.return

// With split-tf32 (3xtf32): each fragment also as its remainder's tf32
// rounding (the fragment less its rounding, rounded), and the tile as
// three mma.sync on one accumulator, the remainders' products first.
// SPLIT-LABEL: gpu.func @tile(
// SPLIT: %[[XF:.*]] = nvgpu.ldmatrix
// SPLIT-COUNT-4: nvvm.convert.float.to.tf32 %{{.*}} {rnd = #nvvm.fp_rnd_mode<rna>}
// SPLIT: %[[XHI:.*]] = vector.from_elements %{{.*}} : vector<4x1xf32>
// SPLIT: %[[XREST:.*]] = arith.subf %[[XF]], %[[XHI]] : vector<4x1xf32>
// SPLIT: vector.extract %[[XREST]][0, 0]
// SPLIT-COUNT-4: nvvm.convert.float.to.tf32 %{{.*}} {rnd = #nvvm.fp_rnd_mode<rna>}
// SPLIT: %[[XROUNDED:.*]] = vector.from_elements %{{.*}} : vector<4x1xf32>
// SPLIT: %[[ZERO:.*]] = arith.constant dense<0.000000e+00> : vector<4x1xf32>
// SPLIT: %[[RESTBITS:.*]] = arith.bitcast %[[XREST]] : vector<4x1xf32> to vector<4x1xi32>
// SPLIT: %[[E:.*]] = arith.andi %[[RESTBITS]], %[[EXP:[^ ]*]] : vector<4x1xi32>
// SPLIT: %[[FINITE:.*]] = arith.cmpi ne, %[[E]], %[[EXP]] : vector<4x1xi32>
// SPLIT: %[[XLO:.*]] = arith.select %[[FINITE]], %[[XROUNDED]], %[[ZERO]] : vector<4x1xi1>, vector<4x1xf32>
// SPLIT: %[[WF:.*]] = vector.insert %{{.*}} [1, 0] : f32 into vector<2x1xf32>
// SPLIT-COUNT-2: nvvm.convert.float.to.tf32
// SPLIT: %[[WHI:.*]] = vector.from_elements %{{.*}} : vector<2x1xf32>
// SPLIT: %[[WREST:.*]] = arith.subf %[[WF]], %[[WHI]] : vector<2x1xf32>
// SPLIT-COUNT-2: nvvm.convert.float.to.tf32
// SPLIT: %[[WLO:.*]] = arith.select %{{.*}} : vector<2x1xi1>, vector<2x1xf32>
// SPLIT: %[[P1:.*]] = nvgpu.mma.sync(%[[XLO]], %[[WHI]], %[[ACC:.*]]) {mmaShape = [16, 8, 8], tf32Enabled}
// SPLIT: %[[P2:.*]] = nvgpu.mma.sync(%[[XHI]], %[[WLO]], %[[P1]]) {mmaShape = [16, 8, 8], tf32Enabled}
// SPLIT: %[[D:.*]] = nvgpu.mma.sync(%[[XHI]], %[[WHI]], %[[P2]]) {mmaShape = [16, 8, 8], tf32Enabled}
// SPLIT-NOT: nvgpu.mma.sync
// SPLIT: scf.yield %{{.*}}, %[[D]]
#a = affine_map<(m, n, k) -> (m, k)>
#b = affine_map<(m, n, k) -> (k, n)>
#c = affine_map<(m, n, k) -> (m, n)>
gpu.module @hybrid_kernels {
  memref.global "public" @hybrid_dynamic_shared : memref<0xi8, #gpu.address_space<workgroup>> {alignment = 16 : i64}
  gpu.func @tile(%count: index, %y: memref<?x32xf32>) kernel {
    %c0 = arith.constant 0 : index
    %c768 = arith.constant 768 : index
    %shared = memref.get_global @hybrid_dynamic_shared : memref<0xi8, #gpu.address_space<workgroup>>
    %xs = memref.view %shared[%c0][] : memref<0xi8, #gpu.address_space<workgroup>> to memref<16x12xf32, #gpu.address_space<workgroup>>
    %ws = memref.view %shared[%c768][] : memref<0xi8, #gpu.address_space<workgroup>> to memref<8x16xf32, #gpu.address_space<workgroup>>
    %c8 = arith.constant 8 : index
    %c16 = arith.constant 16 : index
    %c32 = arith.constant 32 : index
    %c64 = arith.constant 64 : index
    %zero = arith.constant 0.0 : f32
    %init = arith.constant dense<0.0> : vector<16x8xf32>
    %thread = gpu.thread_id x
    %warp = arith.divui %thread, %c32 : index
    %t0 = arith.muli %warp, %c16 : index
    %acc = scf.for %k = %c0 to %c64 step %c8 iter_args(%sum = %init) -> vector<16x8xf32> {
      gpu.barrier
      %a = vector.transfer_read %xs[%c0, %c0], %zero {in_bounds = [true, true]} : memref<16x12xf32, #gpu.address_space<workgroup>>, vector<16x8xf32>
      %bt = vector.transfer_read %ws[%c0, %c8], %zero {in_bounds = [true, true]} : memref<8x16xf32, #gpu.address_space<workgroup>>, vector<8x8xf32>
      %d = vector.contract {indexing_maps = [#a, #b, #c], iterator_types = ["parallel", "parallel", "reduction"], kind = #vector.kind<add>} %a, %bt, %sum : vector<16x8xf32>, vector<8x8xf32> into vector<16x8xf32>
      scf.yield %d : vector<16x8xf32>
    }
    vector.transfer_write %acc, %y[%t0, %c8] {in_bounds = [true, true]} : vector<16x8xf32>, memref<?x32xf32>
    gpu.return
  }
}

// -----

// A block kernel with scalar phases beside its tiles (the delta rule's
// chunked form): the upstream conversion would take the scalar float and
// index arithmetic for matrix arithmetic and fail on it, so it runs on
// stand-ins; after it the scalar ops are arith again, flags and all, and
// the tile is one tf32 mma.sync.
// CHECK-LABEL: gpu.func @scalar_phases(
// CHECK: %[[W:.*]] = arith.extf %{{.*}} : bf16 to f32
// CHECK: %[[N:.*]] = arith.negf %[[W]] fastmath<contract> : f32
// CHECK: %[[S:.*]] = arith.addf %[[N]], %{{.*}} : f32
// CHECK: arith.muli %{{.*}}, %{{.*}} overflow<nsw> : i32
// CHECK: memref.store %[[S]]
// CHECK: nvgpu.mma.sync
// CHECK-NOT: llvm.f
// CHECK-NOT: hybrid.twin
// CHECK: gpu.return
#a = affine_map<(m, n, k) -> (m, k)>
#b = affine_map<(m, n, k) -> (k, n)>
#c = affine_map<(m, n, k) -> (m, n)>
gpu.module @hybrid_kernels {
  memref.global "public" @hybrid_dynamic_shared : memref<0xi8, #gpu.address_space<workgroup>> {alignment = 16 : i64}
  gpu.func @scalar_phases(%w: memref<4xbf16>, %o: memref<16xf32>, %io: memref<4xi32>) kernel {
    %c0 = arith.constant 0 : index
    %c1280 = arith.constant 1280 : index
    %c2304 = arith.constant 2304 : index
    %shared = memref.get_global @hybrid_dynamic_shared : memref<0xi8, #gpu.address_space<workgroup>>
    %q = memref.view %shared[%c0][] : memref<0xi8, #gpu.address_space<workgroup>> to memref<16x20xf32, #gpu.address_space<workgroup>>
    %kt = memref.view %shared[%c1280][] : memref<0xi8, #gpu.address_space<workgroup>> to memref<16x16xf32, #gpu.address_space<workgroup>>
    %sc = memref.view %shared[%c2304][] : memref<0xi8, #gpu.address_space<workgroup>> to memref<16x20xf32, #gpu.address_space<workgroup>>
    %c8 = arith.constant 8 : index
    %c16 = arith.constant 16 : index
    %c32 = arith.constant 32 : index
    %zero = arith.constant 0.0 : f32
    %init = arith.constant dense<0.0> : vector<16x8xf32>
    %thread = gpu.thread_id x
    %x = memref.load %w[%c0] : memref<4xbf16>
    %y = arith.extf %x : bf16 to f32
    %neg = arith.negf %y fastmath<contract> : f32
    %sum = arith.addf %neg, %zero : f32
    %i = memref.load %io[%c0] : memref<4xi32>
    %ii = arith.muli %i, %i overflow<nsw> : i32
    memref.store %ii, %io[%c0] : memref<4xi32>
    memref.store %sum, %o[%thread] : memref<16xf32>
    %warp = arith.divui %thread, %c32 : index
    %n = arith.muli %warp, %c8 : index
    %acc = scf.for %k = %c0 to %c16 step %c8 iter_args(%part = %init) -> vector<16x8xf32> {
      %a = vector.transfer_read %q[%c0, %k], %zero {in_bounds = [true, true]} : memref<16x20xf32, #gpu.address_space<workgroup>>, vector<16x8xf32>
      %bt = vector.transfer_read %kt[%k, %n], %zero {in_bounds = [true, true]} : memref<16x16xf32, #gpu.address_space<workgroup>>, vector<8x8xf32>
      %d = vector.contract {indexing_maps = [#a, #b, #c], iterator_types = ["parallel", "parallel", "reduction"], kind = #vector.kind<add>} %a, %bt, %part : vector<16x8xf32>, vector<8x8xf32> into vector<16x8xf32>
      scf.yield %d : vector<16x8xf32>
    }
    vector.transfer_write %acc, %sc[%c0, %n] {in_bounds = [true, true]} : vector<16x8xf32>, memref<16x20xf32, #gpu.address_space<workgroup>>
    gpu.return
  }
}

// -----

// bf16 tiles (bf16 weights): the tiles of the staged bf16 buffers are
// read through f16 views of the same bytes (an f16 zero pads) while the
// block's copies still store bf16 into the bf16 views, the contracts take
// the f16 reads without widening, the upstream conversion loads x's
// fragments with ldmatrix and the weights' with a transposing ldmatrix,
// and each f16 mma.sync it makes becomes NVVM's m16n8k16 bf16 mma on the
// same registers (four and two i32 of bf16 pairs, four f32 accumulators),
// its results the lane's 2x2 fragment; bf16 needs no rounding. (The
// staged buffers are views of the dynamic shared memory, as
// hybrid-kernels-to-gpu makes them.)
// CHECK-LABEL: gpu.func @bf16_tile(
// CHECK: %[[SHARED:.*]] = memref.get_global @hybrid_dynamic_shared
// CHECK: %[[XB:.*]] = memref.view %[[SHARED]][%[[C0:.*]]][] : memref<0xi8, #gpu.address_space<workgroup>> to memref<16x24xbf16, #gpu.address_space<workgroup>>
// CHECK: %[[XS:.*]] = memref.view %[[SHARED]][%[[C0]]][] : memref<0xi8, #gpu.address_space<workgroup>> to memref<16x24xf16, #gpu.address_space<workgroup>>
// CHECK: %[[WB:.*]] = memref.view %[[SHARED]][%[[C768:.*]]][] : memref<0xi8, #gpu.address_space<workgroup>> to memref<16x16xbf16, #gpu.address_space<workgroup>>
// CHECK: %[[WS:.*]] = memref.view %[[SHARED]][%[[C768]]][] : memref<0xi8, #gpu.address_space<workgroup>> to memref<16x16xf16, #gpu.address_space<workgroup>>
// CHECK: %[[ROUNDED:.*]] = arith.truncf %{{.*}} : vector<8xf32> to vector<8xbf16>
// CHECK: vector.store %[[ROUNDED]], %[[XB]]
// CHECK: nvgpu.ldmatrix %[[XS]][{{.*}}] {numTiles = 4 : i32, transpose = false} : memref<16x24xf16, #gpu.address_space<workgroup>> -> vector<4x2xf16>
// CHECK: nvgpu.ldmatrix %[[WS]][{{.*}}] {numTiles = 2 : i32, transpose = true} : memref<16x16xf16, #gpu.address_space<workgroup>> -> vector<2x2xf16>
// CHECK-NOT: nvvm.convert.float.to.tf32
// CHECK-COUNT-6: vector.bitcast %{{.*}} : vector<2xf16> to vector<1xi32>
// CHECK: %[[D:.*]] = nvvm.mma.sync A[%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}] B[%{{.*}}, %{{.*}}] C[%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}] {layoutA = #nvvm.mma_layout<row>, layoutB = #nvvm.mma_layout<col>, multiplicandAPtxType = #nvvm.mma_type<bf16>, multiplicandBPtxType = #nvvm.mma_type<bf16>, shape = #nvvm.shape<m = 16, n = 8, k = 16>}
// CHECK: llvm.extractvalue %[[D]][3]
// CHECK: vector.from_elements {{.*}} : vector<2x2xf32>
// CHECK-NOT: nvgpu.mma.sync
// CHECK-NOT: vector.contract
#a = affine_map<(m, n, k) -> (m, k)>
#b = affine_map<(m, n, k) -> (k, n)>
#c = affine_map<(m, n, k) -> (m, n)>
gpu.module @hybrid_kernels {
  memref.global "public" @hybrid_dynamic_shared : memref<0xi8, #gpu.address_space<workgroup>> {alignment = 16 : i64}
  gpu.func @bf16_tile(%x: memref<?x64xf32>, %y: memref<?x8xf32>) kernel {
    %c0 = arith.constant 0 : index
    %c768 = arith.constant 768 : index
    %shared = memref.get_global @hybrid_dynamic_shared : memref<0xi8, #gpu.address_space<workgroup>>
    %xs = memref.view %shared[%c0][] : memref<0xi8, #gpu.address_space<workgroup>> to memref<16x24xbf16, #gpu.address_space<workgroup>>
    %ws = memref.view %shared[%c768][] : memref<0xi8, #gpu.address_space<workgroup>> to memref<16x16xbf16, #gpu.address_space<workgroup>>
    %c16 = arith.constant 16 : index
    %c64 = arith.constant 64 : index
    %zero = arith.constant 0.0 : f32
    %zerob = arith.constant 0.0 : bf16
    %init = arith.constant dense<0.0> : vector<16x8xf32>
    %acc = scf.for %k = %c0 to %c64 step %c16 iter_args(%sum = %init) -> vector<16x8xf32> {
      %row = vector.transfer_read %x[%c0, %k], %zero {in_bounds = [true]} : memref<?x64xf32>, vector<8xf32>
      %rounded = arith.truncf %row : vector<8xf32> to vector<8xbf16>
      vector.store %rounded, %xs[%c0, %c0] : memref<16x24xbf16, #gpu.address_space<workgroup>>, vector<8xbf16>
      %raw = vector.transfer_read %xs[%c0, %c0], %zerob {in_bounds = [true, true]} : memref<16x24xbf16, #gpu.address_space<workgroup>>, vector<16x16xbf16>
      %a = arith.extf %raw : vector<16x16xbf16> to vector<16x16xf32>
      %rawb = vector.transfer_read %ws[%c0, %c0], %zerob {in_bounds = [true, true]} : memref<16x16xbf16, #gpu.address_space<workgroup>>, vector<16x8xbf16>
      %bt = arith.extf %rawb : vector<16x8xbf16> to vector<16x8xf32>
      %d = vector.contract {indexing_maps = [#a, #b, #c], iterator_types = ["parallel", "parallel", "reduction"], kind = #vector.kind<add>} %a, %bt, %sum : vector<16x16xf32>, vector<16x8xf32> into vector<16x8xf32>
      scf.yield %d : vector<16x8xf32>
    }
    vector.transfer_write %acc, %y[%c0, %c0] {in_bounds = [true, true]} : vector<16x8xf32>, memref<?x8xf32>
    gpu.return
  }
}

// -----

// A kernel without contract tiles (a thread per workgroup) is left alone.
// CHECK-LABEL: gpu.func @negative_no_tiles(
// CHECK-NOT: gpu.lane_id
// CHECK: arith.addi
// CHECK-NOT: index.add
gpu.module @hybrid_kernels {
  gpu.func @negative_no_tiles(%x: memref<?xf32>, %i: index) kernel {
    %c1 = arith.constant 1 : index
    %j = arith.addi %i, %c1 : index
    %v = memref.load %x[%j] : memref<?xf32>
    memref.store %v, %x[%i] : memref<?xf32>
    gpu.return
  }
}

// -----

// A tile read that may run out of bounds (a ragged edge) is not something
// the tensor-core lowering takes: an error naming the kernel, not a
// silently scalar kernel.
#a = affine_map<(m, n, k) -> (m, k)>
#b = affine_map<(m, n, k) -> (k, n)>
#c = affine_map<(m, n, k) -> (m, n)>
gpu.module @hybrid_kernels {
  gpu.func @ragged(%x: memref<?x64xf32>, %w: memref<2x64x32xf32>, %y: memref<?x32xf32>) kernel {
    %c0 = arith.constant 0 : index
    %zero = arith.constant 0.0 : f32
    %init = arith.constant dense<0.0> : vector<16x8xf32>
    %a = vector.transfer_read %x[%c0, %c0], %zero {in_bounds = [false, true]} : memref<?x64xf32>, vector<16x8xf32>
    %bt = vector.transfer_read %w[%c0, %c0, %c0], %zero {in_bounds = [true, true]} : memref<2x64x32xf32>, vector<8x8xf32>
    // expected-error @+1 {{in GPU kernel @ragged: a tile the tensor-core lowering did not take (it needs 16x8x8 f32 or 16x8x16 bf16 tiles with f32 accumulators, read in bounds from memory)}}
    %d = vector.contract {indexing_maps = [#a, #b, #c], iterator_types = ["parallel", "parallel", "reduction"], kind = #vector.kind<add>} %a, %bt, %init : vector<16x8xf32>, vector<8x8xf32> into vector<16x8xf32>
    vector.transfer_write %d, %y[%c0, %c0] {in_bounds = [true, true]} : vector<16x8xf32>, memref<?x32xf32>
    gpu.return
  }
}

// -----

// f16 tiles are not made by convert-hybrid-to-linalg (f16 weights are
// staged as f32), and the bf16 rewrite takes every f16 mma for bf16 bits:
// an f16 contract is an error, not a silently bf16 product.
#a = affine_map<(m, n, k) -> (m, k)>
#b = affine_map<(m, n, k) -> (k, n)>
#c = affine_map<(m, n, k) -> (m, n)>
gpu.module @hybrid_kernels {
  gpu.func @f16_tile(%ws : memref<16x16xf16, #gpu.address_space<workgroup>>, %y: memref<?x8xf32>) kernel {
    %c0 = arith.constant 0 : index
    %zero = arith.constant 0.0 : f16
    %init = arith.constant dense<0.0> : vector<16x8xf32>
    %a = vector.transfer_read %ws[%c0, %c0], %zero {in_bounds = [true, true]} : memref<16x16xf16, #gpu.address_space<workgroup>>, vector<16x16xf16>
    %bt = vector.transfer_read %ws[%c0, %c0], %zero {in_bounds = [true, true]} : memref<16x16xf16, #gpu.address_space<workgroup>>, vector<16x8xf16>
    // expected-error @+1 {{in GPU kernel @f16_tile: f16 contract tiles are not lowered (tiles are f32 or bf16 staged in shared memory)}}
    %d = vector.contract {indexing_maps = [#a, #b, #c], iterator_types = ["parallel", "parallel", "reduction"], kind = #vector.kind<add>} %a, %bt, %init : vector<16x16xf16>, vector<16x8xf16> into vector<16x8xf32>
    vector.transfer_write %d, %y[%c0, %c0] {in_bounds = [true, true]} : vector<16x8xf32>, memref<?x8xf32>
    gpu.return
  }
}

// -----

// The f16 twin takes only the reads that feed contract tiles: a store
// through a subview of the bf16 buffer stays as it is, on bf16.
// CHECK-LABEL: gpu.func @viewed(
// CHECK: %[[WB:.*]] = memref.view %{{.*}} to memref<16x16xbf16, #gpu.address_space<workgroup>>
// CHECK: %[[WS:.*]] = memref.view %{{.*}} to memref<16x16xf16, #gpu.address_space<workgroup>>
// CHECK: %[[ROW:.*]] = memref.subview %[[WB]][1, 0] [1, 16] [1, 1]
// CHECK: memref.store %{{.*}}, %[[ROW]][%{{.*}}] : memref<16xbf16
// CHECK: nvgpu.ldmatrix %[[WS]]
#a = affine_map<(m, n, k) -> (m, k)>
#b = affine_map<(m, n, k) -> (k, n)>
#c = affine_map<(m, n, k) -> (m, n)>
gpu.module @hybrid_kernels {
  memref.global "public" @hybrid_dynamic_shared : memref<0xi8, #gpu.address_space<workgroup>> {alignment = 16 : i64}
  gpu.func @viewed(%y: memref<?x8xf32>) kernel {
    %c0 = arith.constant 0 : index
    %shared = memref.get_global @hybrid_dynamic_shared : memref<0xi8, #gpu.address_space<workgroup>>
    %ws = memref.view %shared[%c0][] : memref<0xi8, #gpu.address_space<workgroup>> to memref<16x16xbf16, #gpu.address_space<workgroup>>
    %zero = arith.constant 0.0 : bf16
    %init = arith.constant dense<0.0> : vector<16x8xf32>
    %row = memref.subview %ws[1, 0] [1, 16] [1, 1] : memref<16x16xbf16, #gpu.address_space<workgroup>> to memref<16xbf16, strided<[1], offset: 16>, #gpu.address_space<workgroup>>
    memref.store %zero, %row[%c0] : memref<16xbf16, strided<[1], offset: 16>, #gpu.address_space<workgroup>>
    %raw = vector.transfer_read %ws[%c0, %c0], %zero {in_bounds = [true, true]} : memref<16x16xbf16, #gpu.address_space<workgroup>>, vector<16x16xbf16>
    %a = arith.extf %raw : vector<16x16xbf16> to vector<16x16xf32>
    %rawb = vector.transfer_read %ws[%c0, %c0], %zero {in_bounds = [true, true]} : memref<16x16xbf16, #gpu.address_space<workgroup>>, vector<16x8xbf16>
    %bt = arith.extf %rawb : vector<16x8xbf16> to vector<16x8xf32>
    %d = vector.contract {indexing_maps = [#a, #b, #c], iterator_types = ["parallel", "parallel", "reduction"], kind = #vector.kind<add>} %a, %bt, %init : vector<16x16xf32>, vector<16x8xf32> into vector<16x8xf32>
    vector.transfer_write %d, %y[%c0, %c0] {in_bounds = [true, true]} : vector<16x8xf32>, memref<?x8xf32>
    gpu.return
  }
}
