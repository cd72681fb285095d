// RUN: hybrid-opt %s --hybrid-round-tiles-to-tf32 --split-input-file | FileCheck %s
// RUN: hybrid-opt %s --hybrid-round-tiles-to-tf32 --canonicalize --split-input-file | FileCheck %s --check-prefix=FOLD
// RUN: hybrid-opt %s --hybrid-round-tiles-to-tf32=split=1 --split-input-file | FileCheck %s --check-prefix=SPLIT
// RUN: hybrid-opt %s --hybrid-round-tiles-to-tf32=split=1 --canonicalize --split-input-file | FileCheck %s --check-prefix=SPLIT-FOLD

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

// With split (3xtf32): each operand also as the rounding of its remainder
// (the operand less its rounding), once for both tiles; each tile three
// contracts on one accumulator, the remainders' products first.
// SPLIT-LABEL: func.func @warp_tiles(
// SPLIT: %[[X:.*]] = vector.transfer_read %{{.*}} : memref<16x8xf32>, vector<16x8xf32>
// SPLIT: %[[XHI:.*]] = arith.bitcast %{{.*}} : vector<16x8xi32> to vector<16x8xf32>
// SPLIT: %[[XREST:.*]] = arith.subf %[[X]], %[[XHI]] : vector<16x8xf32>
// SPLIT: arith.bitcast %[[XREST]] : vector<16x8xf32> to vector<16x8xi32>
// SPLIT: %[[XROUNDED:.*]] = arith.bitcast %{{.*}} : vector<16x8xi32> to vector<16x8xf32>
// SPLIT: %[[ZERO:.*]] = arith.constant dense<0.000000e+00> : vector<16x8xf32>
// SPLIT: %[[EXP:.*]] = arith.constant dense<2139095040> : vector<16x8xi32>
// SPLIT: %[[RESTBITS:.*]] = arith.bitcast %[[XREST]] : vector<16x8xf32> to vector<16x8xi32>
// SPLIT: %[[E:.*]] = arith.andi %[[RESTBITS]], %[[EXP]]
// SPLIT: %[[FINITE:.*]] = arith.cmpi ne, %[[E]], %[[EXP]]
// SPLIT: %[[XLO:.*]] = arith.select %[[FINITE]], %[[XROUNDED]], %[[ZERO]] : vector<16x8xi1>, vector<16x8xf32>
// SPLIT: %[[W0:.*]] = vector.transfer_read %{{.*}} : memref<8x16xf32>, vector<8x8xf32>
// SPLIT: %[[W0HI:.*]] = arith.bitcast %{{.*}} : vector<8x8xi32> to vector<8x8xf32>
// SPLIT: arith.subf %[[W0]], %[[W0HI]]
// SPLIT: %[[W0LO:.*]] = arith.select %{{.*}} : vector<8x8xi1>, vector<8x8xf32>
// SPLIT: %[[W1HI:.*]] = arith.bitcast %{{.*}} : vector<8x8xi32> to vector<8x8xf32>
// SPLIT: %[[W1LO:.*]] = arith.select %{{.*}} : vector<8x8xi1>, vector<8x8xf32>
// SPLIT: %[[A0:.*]] = vector.contract {{.*}} %[[XLO]], %[[W0HI]], %[[INIT:[^ ]*]] :
// SPLIT: %[[B0:.*]] = vector.contract {{.*}} %[[XHI]], %[[W0LO]], %[[A0]] :
// SPLIT: %[[D0:.*]] = vector.contract {{.*}} %[[XHI]], %[[W0HI]], %[[B0]] :
// SPLIT: %[[A1:.*]] = vector.contract {{.*}} %[[XLO]], %[[W1HI]], %[[INIT]] :
// SPLIT: %[[B1:.*]] = vector.contract {{.*}} %[[XHI]], %[[W1LO]], %[[A1]] :
// SPLIT: %[[D1:.*]] = vector.contract {{.*}} %[[XHI]], %[[W1HI]], %[[B1]] :
// SPLIT-NOT: vector.contract
// SPLIT: vector.transfer_write %[[D0]]
// SPLIT: vector.transfer_write %[[D1]]
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

// Split, the parts' values (folded): each value's remainder after its
// rounding, itself a tf32 value here: 1 + 2^-11 is 1 + 2^-10 - 2^-11, 1 +
// 2^-12 is 1 + 2^-12, 1 + 3 2^-12 is 1 + 2^-10 - 2^-12, 1 + 2^-10 has
// none. Infinity, NaN and the largest f32 (rounded to infinity) get a
// remainder of 0, not inf - inf: they give what tf32 gives. The weights'
// parts are 1 and 0. The tile: remainders first, acc + x_lo w_hi + x_hi
// w_lo + x_hi w_hi.
// SPLIT-FOLD-LABEL: func.func @values(
// SPLIT-FOLD-SAME: %[[ACC:[^:]*]]: vector<1x1xf32>
// SPLIT-FOLD: %[[XHI:.*]] = arith.constant dense<{{\[\[}}1.00097656, 1.000000e+00, -1.00097656, 1.00097656, 1.00097656, 0x7F800000, 0x7FC00000, 0x7F800000]]> : vector<1x8xf32>
// SPLIT-FOLD: %[[XLO:.*]] = arith.constant dense<{{\[\[}}-4.8828125E-4, 2.44140625E-4, 4.8828125E-4, -2.44140625E-4, 0.000000e+00, 0.000000e+00, 0.000000e+00, 0.000000e+00]]> : vector<1x8xf32>
// SPLIT-FOLD: %[[WHI:.*]] = arith.constant dense<1.000000e+00> : vector<8x1xf32>
// SPLIT-FOLD: %[[WLO:.*]] = arith.constant dense<0.000000e+00> : vector<8x1xf32>
// SPLIT-FOLD: %[[P1:.*]] = vector.contract {{.*}} %[[XLO]], %[[WHI]], %[[ACC]]
// SPLIT-FOLD: %[[P2:.*]] = vector.contract {{.*}} %[[XHI]], %[[WLO]], %[[P1]]
// SPLIT-FOLD: vector.contract {{.*}} %[[XHI]], %[[WHI]], %[[P2]]
// SPLIT-FOLD-NOT: vector.contract
// SPLIT-FOLD: memref.store
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
// Split: the widened operand has no remainder, so the tile is two
// contracts (its products with w's remainder, then with w's rounding);
// the contract outside warps loops stays one.
// SPLIT-LABEL: func.func @negative_not_rounded(
// SPLIT-SAME: %[[X:[^:]*]]: vector<16x8xf32>, %{{[^:]*}}: vector<16x8xbf16>, %[[W:[^:]*]]: vector<8x8xf32>
// SPLIT: %[[WHI:.*]] = arith.bitcast %{{.*}} : vector<8x8xi32> to vector<8x8xf32>
// SPLIT: %[[WLO:.*]] = arith.select %{{.*}} : vector<8x8xi1>, vector<8x8xf32>
// SPLIT: vector.contract {{.*}} %[[X]], %[[W]], %{{.*}} : vector<16x8xf32>, vector<8x8xf32>
// SPLIT: %[[WIDE:.*]] = arith.extf
// SPLIT: %[[P:.*]] = vector.contract {{.*}} %[[WIDE]], %[[WLO]], %{{.*}}
// SPLIT: vector.contract {{.*}} %[[WIDE]], %[[WHI]], %[[P]]
// SPLIT-NOT: vector.contract
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
