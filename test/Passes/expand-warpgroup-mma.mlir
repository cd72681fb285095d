// RUN: hybrid-opt %s --hybrid-expand-warpgroup-mma | FileCheck %s

// A warp's share of a warpgroup product on the CPU: its rows of A are A's
// core matrices (a_row + 2 warp + i, a_column + j), B's column tile c the
// core matrices (b_row + j, b_column + c), each widened to f32 as it is
// read; one [16, 16] x [16, 8] contract per accumulator tile.

// CHECK-LABEL: func.func @warp_share(
// CHECK-SAME: %[[A:[^:]*]]: memref<16x4x8x8xbf16>, %[[B:[^:]*]]: memref<8x16x8x8xbf16>, %[[R:[^:]*]]: index, %[[K:[^:]*]]: index, %[[W:[^:]*]]: index, %[[ACC0:[^:]*]]: vector<16x8xf32>, %[[ACC1:[^:]*]]: vector<16x8xf32>)
// CHECK: %[[TWO:.*]] = arith.constant 2 : index
// CHECK: %[[WARP2:.*]] = arith.muli %[[W]], %[[TWO]]
// CHECK: %[[ROW:.*]] = arith.addi %[[R]], %[[WARP2]]
// A's four core matrices: (row, k), (row, k + 1), (row + 1, k), (row + 1, k + 1).
// CHECK: %[[A00:.*]] = vector.transfer_read %[[A]][%[[ROW]], %[[K]], %{{.*}}, %{{.*}}]{{.*}} : memref<16x4x8x8xbf16>, vector<8x8xbf16>
// CHECK: %[[W00:.*]] = arith.extf %[[A00]] : vector<8x8xbf16> to vector<8x8xf32>
// CHECK: vector.insert_strided_slice %[[W00]], %{{.*}} {offsets = [0, 0], strides = [1, 1]} : vector<8x8xf32> into vector<16x16xf32>
// CHECK: vector.insert_strided_slice %{{.*}} {offsets = [0, 8], strides = [1, 1]} : vector<8x8xf32> into vector<16x16xf32>
// CHECK: vector.insert_strided_slice %{{.*}} {offsets = [8, 0], strides = [1, 1]} : vector<8x8xf32> into vector<16x16xf32>
// CHECK: %[[AT:.*]] = vector.insert_strided_slice %{{.*}} {offsets = [8, 8], strides = [1, 1]} : vector<8x8xf32> into vector<16x16xf32>
// B's column tile 0: core matrices (k2, 3) and (k2 + 1, 3).
// CHECK: %[[C0:.*]] = arith.addi %{{.*}}, %{{.*}} : index
// CHECK: vector.transfer_read %[[B]][%{{.*}}, %[[C0]], %{{.*}}, %{{.*}}]{{.*}} : memref<8x16x8x8xbf16>, vector<8x8xbf16>
// CHECK: vector.insert_strided_slice %{{.*}} {offsets = [0, 0], strides = [1, 1]} : vector<8x8xf32> into vector<16x8xf32>
// CHECK: %[[BT0:.*]] = vector.insert_strided_slice %{{.*}} {offsets = [8, 0], strides = [1, 1]} : vector<8x8xf32> into vector<16x8xf32>
// CHECK: %[[D0:.*]] = vector.contract {{.*}} %[[AT]], %[[BT0]], %[[ACC0]] : vector<16x16xf32>, vector<16x8xf32> into vector<16x8xf32>
// CHECK: %[[BT1:.*]] = vector.insert_strided_slice %{{.*}} {offsets = [8, 0], strides = [1, 1]} : vector<8x8xf32> into vector<16x8xf32>
// CHECK: %[[D1:.*]] = vector.contract {{.*}} %[[AT]], %[[BT1]], %[[ACC1]]
// CHECK: return %[[D0]], %[[D1]]
// CHECK-NOT: hybrid.warpgroup_mma
func.func @warp_share(%a: memref<16x4x8x8xbf16>, %b: memref<8x16x8x8xbf16>,
                      %r: index, %k: index, %w: index,
                      %acc0: vector<16x8xf32>, %acc1: vector<16x8xf32>)
    -> (vector<16x8xf32>, vector<16x8xf32>) {
  %c3 = arith.constant 3 : index
  %d:2 = hybrid.warpgroup_mma %a[%r, %k], %b[%k, %c3] warp(%w)
      acc(%acc0, %acc1) : memref<16x4x8x8xbf16>, memref<8x16x8x8xbf16>,
      vector<16x8xf32>, vector<16x8xf32>
  return %d#0, %d#1 : vector<16x8xf32>, vector<16x8xf32>
}
