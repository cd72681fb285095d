// RUN: hybrid-opt %s --hybrid-round-tiles-to-tf32 --split-input-file | FileCheck %s
// RUN: hybrid-opt %s --hybrid-round-tiles-to-tf32 --canonicalize --split-input-file | FileCheck %s --check-prefix=FOLD

// A warp's f32 tiles (in a warps loop): each operand is rounded to tf32 in
// integer arithmetic where it is read, once for the two tiles that share
// x's tile: half of the 13 dropped bits' unit added, those bits cleared,
// infinities and NaNs (exponent all ones) kept.
// CHECK-LABEL: func.func @warp_tiles(
// CHECK: scf.parallel
// CHECK: %[[X:.*]] = vector.transfer_read %{{.*}} : memref<16x8xf32>, vector<16x8xf32>
// CHECK: %[[XB:.*]] = arith.bitcast %[[X]] : vector<16x8xf32> to vector<16x8xi32>
// CHECK: %[[EXP:.*]] = arith.constant dense<2139095040> : vector<16x8xi32>
// CHECK: %[[E:.*]] = arith.andi %[[XB]], %[[EXP]]
// CHECK: %[[FINITE:.*]] = arith.cmpi ne, %[[E]], %[[EXP]]
// CHECK: %[[HALF:.*]] = arith.constant dense<4096> : vector<16x8xi32>
// CHECK: %[[UP:.*]] = arith.addi %[[XB]], %[[HALF]]
// CHECK: %[[KEEP:.*]] = arith.constant dense<-8192> : vector<16x8xi32>
// CHECK: %[[CUT:.*]] = arith.andi %[[UP]], %[[KEEP]]
// CHECK: %[[SEL:.*]] = arith.select %[[FINITE]], %[[CUT]], %[[XB]]
// CHECK: %[[XR:.*]] = arith.bitcast %[[SEL]] : vector<16x8xi32> to vector<16x8xf32>
// CHECK: %[[W0:.*]] = vector.transfer_read %{{.*}} : memref<8x16xf32>, vector<8x8xf32>
// CHECK: %[[W0R:.*]] = arith.bitcast %{{.*}} : vector<8x8xi32> to vector<8x8xf32>
// CHECK: %[[W1:.*]] = vector.transfer_read %{{.*}} : memref<8x16xf32>, vector<8x8xf32>
// CHECK: %[[W1R:.*]] = arith.bitcast %{{.*}} : vector<8x8xi32> to vector<8x8xf32>
// CHECK: vector.contract {{.*}} %[[XR]], %[[W0R]], %{{.*}}
// CHECK: vector.contract {{.*}} %[[XR]], %[[W1R]], %{{.*}}
// CHECK-NOT: arith.bitcast
// CHECK: scf.reduce
#a = affine_map<(m, n, k) -> (m, k)>
#b = affine_map<(m, n, k) -> (k, n)>
#c = affine_map<(m, n, k) -> (m, n)>
func.func @warp_tiles(%xs: memref<16x8xf32>, %ws: memref<8x16xf32>, %y: memref<4x16x16xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %c8 = arith.constant 8 : index
  %zero = arith.constant 0.0 : f32
  %init = arith.constant dense<0.0> : vector<16x8xf32>
  scf.parallel (%warp) = (%c0) to (%c4) step (%c1) {
    %x = vector.transfer_read %xs[%c0, %c0], %zero {in_bounds = [true, true]} : memref<16x8xf32>, vector<16x8xf32>
    %w0 = vector.transfer_read %ws[%c0, %c0], %zero {in_bounds = [true, true]} : memref<8x16xf32>, vector<8x8xf32>
    %w1 = vector.transfer_read %ws[%c0, %c8], %zero {in_bounds = [true, true]} : memref<8x16xf32>, vector<8x8xf32>
    %d0 = vector.contract {indexing_maps = [#a, #b, #c], iterator_types = ["parallel", "parallel", "reduction"], kind = #vector.kind<add>} %x, %w0, %init : vector<16x8xf32>, vector<8x8xf32> into vector<16x8xf32>
    %d1 = vector.contract {indexing_maps = [#a, #b, #c], iterator_types = ["parallel", "parallel", "reduction"], kind = #vector.kind<add>} %x, %w1, %init : vector<16x8xf32>, vector<8x8xf32> into vector<16x8xf32>
    vector.transfer_write %d0, %y[%warp, %c0, %c0] {in_bounds = [true, true]} : vector<16x8xf32>, memref<4x16x16xf32>
    vector.transfer_write %d1, %y[%warp, %c0, %c8] {in_bounds = [true, true]} : vector<16x8xf32>, memref<4x16x16xf32>
    scf.reduce
  } {hybrid.warps}
  return
}

// -----

// The rounding's values (folded): cvt.rna.tf32.f32's. 1 + 2^-11, half way
// between two tf32 values, rounds away from zero on either sign; 1 +
// 2^-12 down and 1 + 3 2^-12 up to 1 + 2^-10, which stays; infinity and
// NaN stay; the largest f32 rounds past the largest tf32, to infinity.
// FOLD-LABEL: func.func @values(
// FOLD: %[[R:.*]] = arith.constant dense<{{\[\[}}1.00097656, 1.000000e+00, -1.00097656, 1.00097656, 1.00097656, 0x7F800000, 0x7FC00000, 0x7F800000]]> : vector<1x8xf32>
// FOLD: vector.contract {{.*}} %[[R]], %{{.*}}, %{{.*}}
#a = affine_map<(m, n, k) -> (m, k)>
#b = affine_map<(m, n, k) -> (k, n)>
#c = affine_map<(m, n, k) -> (m, n)>
func.func @values(%acc: vector<1x1xf32>, %r: memref<vector<1x1xf32>>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %x = arith.constant dense<[[1.00048828125, 1.000244140625, -1.00048828125, 1.000732421875, 1.0009765625, 0x7F800000, 0x7FC00000, 0x7F7FFFFF]]> : vector<1x8xf32>
  %w = arith.constant dense<1.0> : vector<8x1xf32>
  scf.parallel (%warp) = (%c0) to (%c4) step (%c1) {
    %d = vector.contract {indexing_maps = [#a, #b, #c], iterator_types = ["parallel", "parallel", "reduction"], kind = #vector.kind<add>} %x, %w, %acc : vector<1x8xf32>, vector<8x1xf32> into vector<1x1xf32>
    memref.store %d, %r[] : memref<vector<1x1xf32>>
    scf.reduce
  } {hybrid.warps}
  return
}

// -----

// Left alone: a contract outside warps loops (not a tensor-core tile),
// and a tile's operand widened from bf16, which tf32 holds exactly (its
// f32 operand, a function argument, is still rounded: at the function's
// start).
// CHECK-LABEL: func.func @negative_not_rounded(
// CHECK-SAME: %[[X:[^:]*]]: vector<16x8xf32>, %{{[^:]*}}: vector<16x8xbf16>, %[[W:[^:]*]]: vector<8x8xf32>
// CHECK: %[[WR:.*]] = arith.bitcast %{{.*}} : vector<8x8xi32> to vector<8x8xf32>
// CHECK-NOT: arith.bitcast
// CHECK: vector.contract {{.*}} %[[X]], %[[W]], %{{.*}} : vector<16x8xf32>, vector<8x8xf32>
// CHECK: scf.parallel
// CHECK: %[[WIDE:.*]] = arith.extf %{{.*}} : vector<16x8xbf16> to vector<16x8xf32>
// CHECK: vector.contract {{.*}} %[[WIDE]], %[[WR]], %{{.*}}
#a = affine_map<(m, n, k) -> (m, k)>
#b = affine_map<(m, n, k) -> (k, n)>
#c = affine_map<(m, n, k) -> (m, n)>
func.func @negative_not_rounded(%x: vector<16x8xf32>, %xb: vector<16x8xbf16>, %w: vector<8x8xf32>, %y: memref<4x16x8xf32>) -> vector<16x8xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %init = arith.constant dense<0.0> : vector<16x8xf32>
  %outside = vector.contract {indexing_maps = [#a, #b, #c], iterator_types = ["parallel", "parallel", "reduction"], kind = #vector.kind<add>} %x, %w, %init : vector<16x8xf32>, vector<8x8xf32> into vector<16x8xf32>
  scf.parallel (%warp) = (%c0) to (%c4) step (%c1) {
    %wide = arith.extf %xb : vector<16x8xbf16> to vector<16x8xf32>
    %d = vector.contract {indexing_maps = [#a, #b, #c], iterator_types = ["parallel", "parallel", "reduction"], kind = #vector.kind<add>} %wide, %w, %init : vector<16x8xf32>, vector<8x8xf32> into vector<16x8xf32>
    vector.transfer_write %d, %y[%warp, %c0, %c0] {in_bounds = [true, true]} : vector<16x8xf32>, memref<4x16x8xf32>
    scf.reduce
  } {hybrid.warps}
  return %outside : vector<16x8xf32>
}
