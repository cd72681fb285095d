// RUN: hybrid-opt %s --pass-pipeline="builtin.module(gpu.module(hybrid-mma-tiles-to-nvgpu))" --split-input-file --verify-diagnostics | FileCheck %s

// A warp kernel's reduction loop of 16x8x8 f32 tiles (the mma form of a
// linear layer): every lane loads its fragment elements and each contract
// becomes one tf32 mma.sync; the kernel's index arithmetic stays arith.
// CHECK-LABEL: gpu.func @tile(
// CHECK: %[[W:.*]] = arith.divui %{{.*}}, %c32 : index
// CHECK: %[[T0:.*]] = arith.muli %[[W]], %c16 : index
// (The loop keeps the tiles' old accumulator as a dead constant until
// canonicalize.)
// CHECK: scf.for %{{.*}} = %c0 to %c64 step %c8 iter_args(%{{.*}} = %{{.*}}, %[[ACC:.*]] = %{{.*}}) -> (vector<16x8xf32>, vector<2x2xf32>)
// CHECK: %[[LANE:.*]] = gpu.lane_id
// CHECK: vector.load %{{.*}} : memref<?x64xf32>, vector<1xf32>
// CHECK: memref.load %{{.*}} : memref<2x64x32xf32>
// CHECK: %[[D:.*]] = nvgpu.mma.sync(%{{.*}}, %{{.*}}, %[[ACC]]) {mmaShape = [16, 8, 8], tf32Enabled} : (vector<4x1xf32>, vector<2x1xf32>, vector<2x2xf32>) -> vector<2x2xf32>
// CHECK: scf.yield %{{.*}}, %[[D]]
// CHECK: vector.store %{{.*}} : memref<?x32xf32>, vector<2xf32>
// CHECK-NOT: vector.contract
// CHECK: gpu.return
#a = affine_map<(m, n, k) -> (m, k)>
#b = affine_map<(m, n, k) -> (k, n)>
#c = affine_map<(m, n, k) -> (m, n)>
gpu.module @hybrid_kernels {
  gpu.func @tile(%count: index, %x: memref<?x64xf32>, %w: memref<2x64x32xf32>, %y: memref<?x32xf32>) kernel {
    %c0 = arith.constant 0 : index
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
      %a = vector.transfer_read %x[%t0, %k], %zero {in_bounds = [true, true]} : memref<?x64xf32>, vector<16x8xf32>
      %bt = vector.transfer_read %w[%c0, %k, %c8], %zero {in_bounds = [true, true]} : memref<2x64x32xf32>, vector<8x8xf32>
      %d = vector.contract {indexing_maps = [#a, #b, #c], iterator_types = ["parallel", "parallel", "reduction"], kind = #vector.kind<add>} %a, %bt, %sum : vector<16x8xf32>, vector<8x8xf32> into vector<16x8xf32>
      scf.yield %d : vector<16x8xf32>
    }
    vector.transfer_write %acc, %y[%t0, %c8] {in_bounds = [true, true]} : vector<16x8xf32>, memref<?x32xf32>
    gpu.return
  }
}

// -----

// bf16 weights: the lanes load bf16 elements and widen them in registers
// (no f32 view of the buffer is left).
// CHECK-LABEL: gpu.func @bf16_tile(
// CHECK-NOT: unrealized_conversion_cast
// CHECK: %[[E:.*]] = memref.load %{{.*}} : memref<2x64x32xbf16>
// CHECK: arith.extf %[[E]] : bf16 to f32
// CHECK: nvgpu.mma.sync({{.*}}) {mmaShape = [16, 8, 8], tf32Enabled}
// CHECK-NOT: unrealized_conversion_cast
// CHECK-NOT: vector.contract
#a = affine_map<(m, n, k) -> (m, k)>
#b = affine_map<(m, n, k) -> (k, n)>
#c = affine_map<(m, n, k) -> (m, n)>
gpu.module @hybrid_kernels {
  gpu.func @bf16_tile(%x: memref<?x64xf32>, %w: memref<2x64x32xbf16>, %y: memref<?x32xf32>) kernel {
    %c0 = arith.constant 0 : index
    %c8 = arith.constant 8 : index
    %c64 = arith.constant 64 : index
    %zero = arith.constant 0.0 : f32
    %zerob = arith.constant 0.0 : bf16
    %init = arith.constant dense<0.0> : vector<16x8xf32>
    %acc = scf.for %k = %c0 to %c64 step %c8 iter_args(%sum = %init) -> vector<16x8xf32> {
      %a = vector.transfer_read %x[%c0, %k], %zero {in_bounds = [true, true]} : memref<?x64xf32>, vector<16x8xf32>
      %raw = vector.transfer_read %w[%c0, %k, %c0], %zerob {in_bounds = [true, true]} : memref<2x64x32xbf16>, vector<8x8xbf16>
      %bt = arith.extf %raw : vector<8x8xbf16> to vector<8x8xf32>
      %d = vector.contract {indexing_maps = [#a, #b, #c], iterator_types = ["parallel", "parallel", "reduction"], kind = #vector.kind<add>} %a, %bt, %sum : vector<16x8xf32>, vector<8x8xf32> into vector<16x8xf32>
      scf.yield %d : vector<16x8xf32>
    }
    vector.transfer_write %acc, %y[%c0, %c0] {in_bounds = [true, true]} : vector<16x8xf32>, memref<?x32xf32>
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
    // expected-error @+1 {{in GPU kernel @ragged: a tile the tensor-core lowering did not take}}
    %d = vector.contract {indexing_maps = [#a, #b, #c], iterator_types = ["parallel", "parallel", "reduction"], kind = #vector.kind<add>} %a, %bt, %init : vector<16x8xf32>, vector<8x8xf32> into vector<16x8xf32>
    vector.transfer_write %d, %y[%c0, %c0] {in_bounds = [true, true]} : vector<16x8xf32>, memref<?x32xf32>
    gpu.return
  }
}
