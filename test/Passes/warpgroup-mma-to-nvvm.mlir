// RUN: hybrid-opt %s --pass-pipeline='builtin.module(gpu.module(hybrid-warpgroup-mma-to-nvvm))' | FileCheck %s

// A warpgroup product over two steps of 16 inputs, its two column tiles
// stored after the loop. A [64, 32] K-major: core matrices 128 bytes apart
// along the inputs (the leading byte offset, 128 >> 4 = 8 at bit 16) and
// 4 x 128 = 512 bytes down 8 rows (the stride byte offset, 512 >> 4 = 32
// at bit 32): 8 << 16 | 32 << 32 = 137439477760. B [32, 128] N-major: 16 x
// 128 = 2048 bytes along the inputs (128 << 16), 128 across 8 columns
// (8 << 32): 34368126976. Each descriptor's address bits are the core
// matrix's shared-memory address, (address & 0x3FFFF) >> 4.

// CHECK-LABEL: gpu.func @tile(
// CHECK-SAME: %[[A:[^:]*]]: memref<16x4x8x8xbf16, #gpu.address_space<workgroup>>, %[[B:[^:]*]]: memref<8x16x8x8xbf16, #gpu.address_space<workgroup>>, %[[Y:[^:]*]]: memref<?x16xf32>, %{{[^:]*}}: index, %[[T:[^:]*]]: index)
// CHECK: %[[ZERO:.*]] = arith.constant dense<0.000000e+00> : vector<4xf32>
// CHECK: %[[ACC:.*]]:2 = scf.for {{.*}} iter_args(%[[X0:.*]] = %[[ZERO]], %[[X1:.*]] = %[[ZERO]]) -> (vector<4xf32>, vector<4xf32>)
// CHECK: %[[PA:.*]] = memref.extract_aligned_pointer_as_index %[[A]]
// CHECK: %[[ADDRA:.*]] = arith.addi %[[PA]], %{{.*}} : index
// CHECK: %[[IA:.*]] = arith.index_castui %[[ADDRA]] : index to i64
// CHECK: %[[MA:.*]] = arith.andi %[[IA]], %{{.*}} : i64
// CHECK: %[[EA:.*]] = arith.shrui %[[MA]], %{{.*}} : i64
// CHECK: %[[DA:.*]] = arith.ori %[[EA]], %c137439477760_i64 : i64
// CHECK: memref.extract_aligned_pointer_as_index %[[B]]
// CHECK: %[[DB:.*]] = arith.ori %{{.*}}, %c34368126976_i64 : i64
// CHECK: nvvm.fence.proxy {kind = #nvvm.proxy_kind<async.shared>, space = #nvvm.shared_space<cta>}
// CHECK-NEXT: nvvm.wgmma.fence.aligned
// The lanes' values in order: tile 0's four, then tile 1's.
// CHECK: vector.extract %[[X0]][0]
// CHECK: llvm.insertvalue %{{.*}}[0]
// CHECK: vector.extract %[[X1]][3]
// CHECK: %[[IN:.*]] = llvm.insertvalue %{{.*}}[7] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32)>
// CHECK: %[[OUT:.*]] = nvvm.wgmma.mma_async %[[DA]], %[[DB]], %[[IN]], <m = 64, n = 16, k = 16>, D[<f32>, <one>], A[<bf16>, <one>, <row>], B[<bf16>, <one>, <row>]
// CHECK-NEXT: nvvm.wgmma.commit.group.sync.aligned
// CHECK-NEXT: nvvm.wgmma.wait.group.sync.aligned 0
// CHECK: llvm.extractvalue %[[OUT]][0]
// CHECK: %[[D0:.*]] = vector.from_elements {{.*}} : vector<4xf32>
// CHECK: %[[D1:.*]] = vector.from_elements {{.*}} : vector<4xf32>
// CHECK: scf.yield %[[D0]], %[[D1]] : vector<4xf32>, vector<4xf32>
// The first tile's stores: lane / 4 and lane / 4 + 8 below the tile's row,
// 2 (lane % 4) and the next column right of its column.
// CHECK: %[[LANE:.*]] = gpu.lane_id
// CHECK: %[[R:.*]] = arith.divui %[[LANE]], %{{.*}} : index
// CHECK: %[[Q:.*]] = arith.remui %[[LANE]], %{{.*}} : index
// CHECK: %[[PAIR:.*]] = arith.muli %[[Q]], %{{.*}} : index
// CHECK: %[[ROW:.*]] = arith.addi %[[T]], %[[R]] : index
// CHECK: %[[COL:.*]] = arith.addi %{{.*}}, %[[PAIR]] : index
// CHECK: %[[V0:.*]] = vector.extract %[[ACC]]#0[0]
// CHECK: memref.store %[[V0]], %[[Y]][%[[ROW]], %[[COL]]]
// CHECK: %[[COL1:.*]] = arith.addi %[[COL]], %{{.*}} : index
// CHECK: %[[V1:.*]] = vector.extract %[[ACC]]#0[1]
// CHECK: memref.store %[[V1]], %[[Y]][%[[ROW]], %[[COL1]]]
// CHECK: %[[ROW8:.*]] = arith.addi %[[ROW]], %{{.*}} : index
// CHECK: %[[V2:.*]] = vector.extract %[[ACC]]#0[2]
// CHECK: memref.store %[[V2]], %[[Y]][%[[ROW8]], %[[COL]]]
// CHECK: vector.extract %[[ACC]]#0[3]
// CHECK: vector.extract %[[ACC]]#1[0]
// CHECK-NOT: vector.transfer_write
// CHECK-NOT: hybrid.warpgroup_mma
gpu.module @kernels {
  gpu.func @tile(%a: memref<16x4x8x8xbf16, #gpu.address_space<workgroup>>,
                 %b: memref<8x16x8x8xbf16, #gpu.address_space<workgroup>>,
                 %y: memref<?x16xf32>, %w: index, %t: index) kernel {
    %c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    %c2 = arith.constant 2 : index
    %c8 = arith.constant 8 : index
    %zero = arith.constant dense<0.0> : vector<16x8xf32>
    %r:2 = scf.for %i = %c0 to %c2 step %c1 iter_args(%x0 = %zero, %x1 = %zero) -> (vector<16x8xf32>, vector<16x8xf32>) {
      %k = arith.muli %i, %c2 : index
      %d:2 = hybrid.warpgroup_mma %a[%c0, %k], %b[%k, %c0] warp(%w) acc(%x0, %x1)
          : memref<16x4x8x8xbf16, #gpu.address_space<workgroup>>, memref<8x16x8x8xbf16, #gpu.address_space<workgroup>>, vector<16x8xf32>, vector<16x8xf32>
      scf.yield %d#0, %d#1 : vector<16x8xf32>, vector<16x8xf32>
    }
    vector.transfer_write %r#0, %y[%t, %c0] {in_bounds = [true, true]} : vector<16x8xf32>, memref<?x16xf32>
    vector.transfer_write %r#1, %y[%t, %c8] {in_bounds = [true, true]} : vector<16x8xf32>, memref<?x16xf32>
    gpu.return
  }
}

// Runs of products issued together. A step's four products (two weights,
// two steps of 16 inputs, an index computed between them) are one run:
// the fences before the first, one commit and wait after the last, the
// accumulators of each weight passed from product to product in flight.
// CHECK-LABEL: gpu.func @runs(
// CHECK: nvvm.fence.proxy
// CHECK-NEXT: nvvm.wgmma.fence.aligned
// CHECK-NOT: {{nvvm.wgmma.(commit|wait|fence)|nvvm.fence.proxy}}
// CHECK: nvvm.wgmma.mma_async
// CHECK-NOT: {{nvvm.wgmma.(commit|wait|fence)|nvvm.fence.proxy}}
// CHECK: nvvm.wgmma.mma_async
// CHECK-NOT: {{nvvm.wgmma.(commit|wait|fence)|nvvm.fence.proxy}}
// CHECK: nvvm.wgmma.mma_async
// CHECK-NOT: {{nvvm.wgmma.(commit|wait|fence)|nvvm.fence.proxy}}
// CHECK: nvvm.wgmma.mma_async
// CHECK-NEXT: nvvm.wgmma.commit.group.sync.aligned
// CHECK-NEXT: nvvm.wgmma.wait.group.sync.aligned 0
// A store between two products ends the run (the commit and wait above
// come before it); the next product is fenced again, and a product of
// another shape (1 column tile against 2) is a run of its own.
// CHECK: memref.store
// CHECK: nvvm.fence.proxy
// CHECK-NEXT: nvvm.wgmma.fence.aligned
// CHECK: nvvm.wgmma.mma_async {{.*}} <m = 64, n = 16, k = 16>
// CHECK-NEXT: nvvm.wgmma.commit.group.sync.aligned
// CHECK-NEXT: nvvm.wgmma.wait.group.sync.aligned 0
// CHECK: nvvm.fence.proxy
// CHECK-NEXT: nvvm.wgmma.fence.aligned
// CHECK: nvvm.wgmma.mma_async {{.*}} <m = 64, n = 8, k = 16>
// CHECK-NEXT: nvvm.wgmma.commit.group.sync.aligned
// CHECK-NEXT: nvvm.wgmma.wait.group.sync.aligned 0
// CHECK: gpu.return
gpu.module @runs {
  gpu.func @runs(%a: memref<16x4x8x8xbf16, #gpu.address_space<workgroup>>,
                 %g: memref<4x2x8x8xbf16, #gpu.address_space<workgroup>>,
                 %u: memref<4x2x8x8xbf16, #gpu.address_space<workgroup>>,
                 %y: memref<?x16xf32>, %w: index, %t: index) kernel {
    %c0 = arith.constant 0 : index
    %c2 = arith.constant 2 : index
    %c8 = arith.constant 8 : index
    %zero = arith.constant dense<0.0> : vector<16x8xf32>
    %g0:2 = hybrid.warpgroup_mma %a[%c0, %c0], %g[%c0, %c0] warp(%w) acc(%zero, %zero)
        : memref<16x4x8x8xbf16, #gpu.address_space<workgroup>>, memref<4x2x8x8xbf16, #gpu.address_space<workgroup>>, vector<16x8xf32>, vector<16x8xf32>
    %u0:2 = hybrid.warpgroup_mma %a[%c0, %c0], %u[%c0, %c0] warp(%w) acc(%zero, %zero)
        : memref<16x4x8x8xbf16, #gpu.address_space<workgroup>>, memref<4x2x8x8xbf16, #gpu.address_space<workgroup>>, vector<16x8xf32>, vector<16x8xf32>
    %k = arith.addi %c0, %c2 : index
    %g1:2 = hybrid.warpgroup_mma %a[%c0, %k], %g[%k, %c0] warp(%w) acc(%g0#0, %g0#1)
        : memref<16x4x8x8xbf16, #gpu.address_space<workgroup>>, memref<4x2x8x8xbf16, #gpu.address_space<workgroup>>, vector<16x8xf32>, vector<16x8xf32>
    %u1:2 = hybrid.warpgroup_mma %a[%c0, %k], %u[%k, %c0] warp(%w) acc(%u0#0, %u0#1)
        : memref<16x4x8x8xbf16, #gpu.address_space<workgroup>>, memref<4x2x8x8xbf16, #gpu.address_space<workgroup>>, vector<16x8xf32>, vector<16x8xf32>
    vector.transfer_write %g1#0, %y[%t, %c0] {in_bounds = [true, true]} : vector<16x8xf32>, memref<?x16xf32>
    %g2:2 = hybrid.warpgroup_mma %a[%c0, %c0], %g[%c0, %c0] warp(%w) acc(%g1#0, %u1#1)
        : memref<16x4x8x8xbf16, #gpu.address_space<workgroup>>, memref<4x2x8x8xbf16, #gpu.address_space<workgroup>>, vector<16x8xf32>, vector<16x8xf32>
    %one = hybrid.warpgroup_mma %a[%c0, %c0], %g[%c0, %c0] warp(%w) acc(%g2#1)
        : memref<16x4x8x8xbf16, #gpu.address_space<workgroup>>, memref<4x2x8x8xbf16, #gpu.address_space<workgroup>>, vector<16x8xf32>
    vector.transfer_write %g2#0, %y[%t, %c8] {in_bounds = [true, true]} : vector<16x8xf32>, memref<?x16xf32>
    vector.transfer_write %one, %y[%t, %c0] {in_bounds = [true, true]} : vector<16x8xf32>, memref<?x16xf32>
    gpu.return
  }
}
