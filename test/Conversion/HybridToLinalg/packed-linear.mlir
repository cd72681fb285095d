// RUN: hybrid-opt %s --split-input-file --convert-hybrid-to-linalg=pack-weights=16 | FileCheck %s
// RUN: hybrid-opt %s --split-input-file --convert-hybrid-to-linalg | FileCheck %s --check-prefix=UNPACKED
// RUN: hybrid-opt %s --split-input-file --convert-hybrid-to-linalg="pack-weights=16 column-workgroups=1" | FileCheck %s --check-prefix=COLUMNS
// RUN: hybrid-opt %s --split-input-file --convert-hybrid-to-linalg="pack-weights=16 column-workgroups=1 mma-tiles=1" | FileCheck %s --check-prefix=MMA
// RUN: not hybrid-opt %s --split-input-file --convert-hybrid-to-linalg="pack-weights=16 mma-tiles=1" 2>&1 | FileCheck %s --check-prefix=MMA-PANELS
// MMA-PANELS: convert-hybrid-to-linalg: mma-tiles refines the column form; give column-workgroups too
// RUN: hybrid-opt %s --split-input-file --convert-hybrid-to-linalg="pack-weights=16 column-workgroups=1 mma-tiles=1 warpgroup-tiles=1" | FileCheck %s --check-prefix=WARPGROUP
// RUN: not hybrid-opt %s --split-input-file --convert-hybrid-to-linalg="pack-weights=16 column-workgroups=1 warpgroup-tiles=1" 2>&1 | FileCheck %s --check-prefix=WARPGROUP-MMA
// WARPGROUP-MMA: convert-hybrid-to-linalg: warpgroup-tiles refines the mma form; give mma-tiles too
// RUN: not hybrid-opt %s --split-input-file --convert-hybrid-to-linalg=column-workgroups=1 2>&1 | FileCheck %s --check-prefix=COLUMNS-UNPACKED
// COLUMNS-UNPACKED: convert-hybrid-to-linalg: column-workgroups applies to packed linear weights; give pack-weights too
// RUN: not hybrid-opt %s --split-input-file --convert-hybrid-to-linalg=pack-weights=100000000 2>&1 | FileCheck %s --check-prefix=HUGE
// HUGE: convert-hybrid-to-linalg: pack-weights must be from 0 to 256, got 100000000

// A checkpoint weight of a linear layer is read packed in panels of 16
// outputs: 40 outputs make 3 panels, the last one 8 rows short (masked
// store). Workgroups are (panel, tile of 6 tokens); a full tile keeps 6
// vector<16xf32> accumulators, one broadcast FMA per token and input.
// CHECK-LABEL: func.func @lm_head
// CHECK: %[[W:.*]] = hybrid.weight "lm_head.weight" packed(16) : tensor<3x32x16xbf16>
// CHECK: %[[TILES:.*]] = arith.ceildivui %{{.*}}, %c6
// CHECK: scf.parallel (%[[P:[a-z0-9]+]], %{{[a-z0-9]+}}) = ({{.*}}) to (%c3, %[[TILES]])
// CHECK: scf.if
// CHECK: scf.for %[[K:[a-z0-9]+]] = {{.*}} iter_args({{.*}}) -> (vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>)
// CHECK: %[[PANEL:.*]] = vector.transfer_read %[[W]][%[[P]], %[[K]], %{{.*}}], %{{.*}} {in_bounds = [true]} : tensor<3x32x16xbf16>, vector<16xbf16>
// CHECK: arith.extf %[[PANEL]] : vector<16xbf16> to vector<16xf32>
// CHECK: vector.broadcast %{{.*}} : f32 to vector<16xf32>
// CHECK: vector.fma
// CHECK: vector.transfer_write %{{[^{]*}} : vector<16xf32>, memref<?x40xf32>
// CHECK: } else {
// CHECK: scf.for
// CHECK: -> (vector<16xf32>)
// UNPACKED-LABEL: func.func @lm_head
// UNPACKED: hybrid.weight "lm_head.weight" : tensor<40x32xbf16>
// The mma form (bf16 weights: 32 inputs, a multiple of the 16 of a bf16
// tile; 40 outputs, of 8): workgroups are (up to 4 full tiles of 16
// tokens, group of 4 panels: one group here, not a dimension of the
// loop), each a block of 4 warps (the
// warps loop), a panel per warp. The full tiles' rows of x are rounded to
// bf16 first, by a kernel of their own; the column form's rows past them
// round x as they read it. For each step of 32 inputs the block
// copies its panels' weights (the 4th panel, past the last, reads the
// last) and x's 64 bf16 rows (rows past the full tiles read as
// the last full one), to buffers with rows padded by 16 bytes, in
// cooperative loops of 8 elements per iteration; then each warp runs
// 16x8x16 tiles from them (bf16 products, f32 sums), a 16x8 accumulator
// per (token tile, 8 outputs of its panel), and stores those inside the 40
// outputs and the full tiles. The buffers hold two slots (rows 0-31 and
// 32-63 of the weights', 0-63 and 64-127 of x's): the first step's copies
// go to slot 0 before the loop over steps; each step first copies the next
// step's into the other slot (hybrid.prefetch; nothing past the last
// step: one step here), then multiplies its own.
// MMA-LABEL: func.func @lm_head
// MMA-DAG: %[[SX:.*]] = memref.alloca() : memref<128x40xbf16>
// MMA-DAG: %[[SW:.*]] = memref.alloca() : memref<64x72xbf16>
// MMA-DAG: %[[W:.*]] = hybrid.weight "lm_head.weight" packed(16) : tensor<3x32x16xbf16>
// MMA: %[[TOKENS:.*]] = tensor.dim %[[X:[a-z0-9]+]]
// MMA: %[[FULL:.*]] = arith.divui %[[TOKENS]], %c16
// MMA: %[[START:.*]] = arith.muli %[[FULL]], %c16
// MMA: %[[XT:.*]] = tensor.extract_slice %[[X]][0, 0] [%[[START]], 32] [1, 1]
// MMA: %[[XB:.*]] = linalg.generic {{.*}} ins(%[[XT]] : tensor<?x32xf32>) outs(%{{.*}} : tensor<?x32xbf16>)
// MMA: arith.truncf %{{.*}} : f32 to bf16
// MMA: %[[GROUPS:.*]] = arith.ceildivui %[[FULL]], %c4
// MMA: scf.parallel (%[[T:[a-z0-9]+]]) = ({{.*}}) to (%[[GROUPS]])
// MMA: %[[T0:.*]] = affine.apply #{{.*}}(%[[T]])
// MMA: scf.parallel (%[[WARP:[a-z0-9]+]]) = ({{.*}}) to (%c4{{[_0-9]*}})
// MMA: scf.parallel ({{.*}}) = ({{.*}}) to (%c256{{[_0-9]*}})
// MMA: %[[PANEL:.*]] = arith.minui %{{.*}}, %c2
// MMA: %[[WROW:.*]] = vector.transfer_read %[[W]][%[[PANEL]], {{.*}} : tensor<3x32x16xbf16>, vector<8xbf16>
// MMA: vector.store %[[WROW]], %[[SW]]
// MMA: } {hybrid.cooperative}
// MMA: scf.parallel ({{.*}}) = ({{.*}}) to (%c256{{[_0-9]*}})
// MMA: %[[LAST:.*]] = arith.subi %[[START]], %c1
// MMA: %[[ROW:.*]] = arith.minui %{{.*}}, %[[LAST]]
// MMA: %[[XROW:.*]] = vector.transfer_read %[[XB]][%[[ROW]], {{.*}} : tensor<?x32xbf16>, vector<8xbf16>
// MMA-NOT: arith.truncf
// MMA: vector.store %[[XROW]], %[[SX]]
// MMA: } {hybrid.cooperative}
// MMA: scf.for %[[K:[a-z0-9]+]] = %{{.*}} to %c32{{[_0-9]*}} step %c32{{.*}} -> (vector<16x8xf32>, vector<16x8xf32>, vector<16x8xf32>, vector<16x8xf32>, vector<16x8xf32>, vector<16x8xf32>, vector<16x8xf32>, vector<16x8xf32>)
// MMA: %[[SLOT:.*]] = affine.apply #{{.*}}(%[[K]], %[[K]])
// MMA-NEXT: %[[NEXT:.*]] = affine.apply #{{.*}}(%[[K]], %[[K]])
// MMA: %[[LIVE:.*]] = arith.cmpi ult, %[[NEXT]], %c32
// MMA: scf.parallel ({{.*}}) = ({{.*}}) to (%c256{{[_0-9]*}})
// MMA-NEXT: scf.if %[[LIVE]]
// MMA: vector.transfer_read %[[W]]
// MMA: vector.store {{.*}}, %[[SW]]
// MMA: } {hybrid.cooperative, hybrid.prefetch}
// MMA: scf.parallel ({{.*}}) = ({{.*}}) to (%c256{{[_0-9]*}})
// MMA-NEXT: scf.if %[[LIVE]]
// MMA: vector.transfer_read %[[XB]]
// MMA-NOT: arith.truncf
// MMA: vector.store {{.*}}, %[[SX]]
// MMA: } {hybrid.cooperative, hybrid.prefetch}
// MMA-COUNT-4: vector.transfer_read %[[SX]]{{.*}} : memref<128x40xbf16>, vector<16x16xbf16>
// MMA: vector.transfer_read %[[SW]]{{.*}} : memref<64x72xbf16>, vector<16x8xbf16>
// MMA-COUNT-4: vector.contract {{.*}} : vector<16x16xf32>, vector<16x8xf32> into vector<16x8xf32>
// MMA: vector.transfer_read %[[SW]]{{.*}} : memref<64x72xbf16>, vector<16x8xbf16>
// MMA-COUNT-4: vector.contract
// MMA: scf.yield
// MMA: %[[COL:.*]] = affine.apply #{{.*}}(%{{.*}}, %[[WARP]])
// MMA: %[[ROW0:.*]] = affine.apply #{{.*}}(%[[T0]], %[[T0]])
// MMA: %[[IN:.*]] = arith.cmpi ult, %[[COL]], %c40
// MMA: %[[FULLTILE:.*]] = arith.cmpi ult, %[[ROW0]], %[[START]]
// MMA: %[[STORE:.*]] = arith.andi %[[IN]], %[[FULLTILE]]
// MMA: scf.if %[[STORE]]
// MMA: vector.transfer_write %{{.*}}, %{{.*}}[%[[ROW0]], %[[COL]]] {in_bounds = [true, true]} : vector<16x8xf32>, memref<?x40xf32>
// MMA-COUNT-7: scf.if
// MMA: } {hybrid.warps}
// Each form writes only its rows of y: marked for hybrid-merge-dispatches.
// MMA: } {hybrid.row_form}
// MMA: %[[REST:.*]] = arith.subi %[[TOKENS]], %[[START]]
// MMA: %[[TILES:.*]] = arith.ceildivui %[[REST]], %c8
// MMA: scf.parallel ({{.*}}) to (%[[TILES]], %c40{{[_0-9]*}})
// MMA: %[[XR:.*]] = tensor.extract %[[X]]
// MMA-NEXT: %[[XR16:.*]] = arith.truncf %[[XR]] : f32 to bf16
// MMA-NEXT: %[[XR32:.*]] = arith.extf %[[XR16]] : bf16 to f32
// MMA-NEXT: math.fma %[[XR32]]
// MMA-NOT: vector.contract
// UNPACKED-NOT: packed
// The warpgroup form of the same tiles (sm_90a): 64 tokens (4 token tiles)
// x 4 panels of 16 per workgroup, staged as 8x8 core matrices: x's [2
// slots x 8 row groups, 32 / 8 input groups, 8, 8], the weights' [2 slots
// x 4 input groups, 64 / 8 column groups, 8, 8], each 8-element copy one
// row of a core matrix. Warp w takes token tile w across the 4 panels:
// 8 accumulator tiles, two warpgroup products (16 inputs each) a step.
// WARPGROUP-LABEL: func.func @lm_head
// WARPGROUP-DAG: %[[SX:.*]] = memref.alloca() : memref<16x4x8x8xbf16>
// WARPGROUP-DAG: %[[SW:.*]] = memref.alloca() : memref<8x8x8x8xbf16>
// WARPGROUP: %[[START:.*]] = arith.muli %{{.*}}, %c16
// WARPGROUP: scf.parallel (%[[T:[a-z0-9]+]]) = ({{.*}}) to (%{{.*}})
// WARPGROUP: %[[T0:.*]] = affine.apply #{{.*}}(%[[T]])
// WARPGROUP: scf.parallel (%[[WARP:[a-z0-9]+]]) = ({{.*}}) to (%c4{{[_0-9]*}})
// WARPGROUP: vector.store %{{.*}}, %[[SW]][%{{.*}}, %{{.*}}, %{{.*}}, %c0{{[_0-9]*}}] : memref<8x8x8x8xbf16>, vector<8xbf16>
// WARPGROUP: vector.store %{{.*}}, %[[SX]][%{{.*}}, %{{.*}}, %{{.*}}, %c0{{[_0-9]*}}] : memref<16x4x8x8xbf16>, vector<8xbf16>
// WARPGROUP: scf.for {{.*}} -> (vector<16x8xf32>, vector<16x8xf32>, vector<16x8xf32>, vector<16x8xf32>, vector<16x8xf32>, vector<16x8xf32>, vector<16x8xf32>, vector<16x8xf32>)
// WARPGROUP: } {hybrid.cooperative, hybrid.prefetch}
// WARPGROUP: } {hybrid.cooperative, hybrid.prefetch}
// WARPGROUP: %[[D:.*]]:8 = hybrid.warpgroup_mma %[[SX]][%[[XG:.*]], %c0{{[_0-9]*}}], %[[SW]][%{{.*}}, %c0{{[_0-9]*}}] warp(%[[WARP]])
// WARPGROUP: hybrid.warpgroup_mma %[[SX]][%[[XG]], %c2{{[_0-9]*}}], %[[SW]][%{{.*}}, %c0{{[_0-9]*}}] warp(%[[WARP]]) acc(%[[D]]#0, %[[D]]#1, %[[D]]#2, %[[D]]#3, %[[D]]#4, %[[D]]#5, %[[D]]#6, %[[D]]#7)
// WARPGROUP-NOT: vector.contract
// WARPGROUP: scf.yield
// WARPGROUP: %[[WROWS:.*]] = arith.muli %[[WARP]], %c16
// WARPGROUP: %[[ROW0:.*]] = arith.addi %[[T0]], %[[WROWS]]
// WARPGROUP: %[[FULLTILE:.*]] = arith.cmpi ult, %[[ROW0]], %[[START]]
// WARPGROUP: %[[IN:.*]] = arith.cmpi ult, %{{.*}}, %c40
// WARPGROUP: %[[STORE:.*]] = arith.andi %[[FULLTILE]], %[[IN]]
// WARPGROUP: scf.if %[[STORE]]
// WARPGROUP: vector.transfer_write %{{.*}}, %{{.*}}[%[[ROW0]], %{{.*}}] {in_bounds = [true, true]} : vector<16x8xf32>, memref<?x40xf32>
// WARPGROUP-COUNT-7: vector.transfer_write %{{.*}}, %{{.*}}[%[[ROW0]], %{{.*}}] {in_bounds = [true, true]} : vector<16x8xf32>, memref<?x40xf32>
// WARPGROUP: } {hybrid.warps}
// WARPGROUP: } {hybrid.row_form}
func.func @lm_head(%x: tensor<?x32xf32>) -> tensor<?x40xf32> {
  %w = hybrid.weight "lm_head.weight" : tensor<40x32xbf16>
  %l = hybrid.lm_head %x, %w : (tensor<?x32xf32>, tensor<40x32xbf16>) -> tensor<?x40xf32>
  return %l : tensor<?x40xf32>
}

// -----

// A panel-aligned output count is stored unmasked (and in the mma form,
// whose workgroups take 4 panels, a count of whole groups of 4 panels: its
// stores test only that their token tile is a full one).
// MMA-LABEL: func.func @aligned
// f32 weights have no warpgroup form (tf32 wgmma would need B K-major).
// WARPGROUP-LABEL: func.func @aligned
// WARPGROUP-NOT: hybrid.warpgroup_mma
// WARPGROUP: vector.contract
// WARPGROUP-NOT: hybrid.warpgroup_mma
// WARPGROUP-LABEL: func.func @negative_argument_weight
// MMA: vector.contract
// MMA-NOT: arith.andi
// MMA: %[[FULLTILE:.*]] = arith.cmpi ult
// MMA-NOT: arith.andi
// MMA: scf.if %[[FULLTILE]]
// MMA: vector.transfer_write {{.*}} : vector<16x8xf32>, memref<?x64xf32>
// MMA-NOT: arith.andi
// CHECK-LABEL: func.func @aligned
// CHECK: hybrid.weight "h.weight" packed(16) : tensor<4x8x16xf32>
// CHECK: vector.transfer_write %{{.*}} {in_bounds = [true]} : vector<16xf32>, memref<?x64xf32>
func.func @aligned(%x: tensor<?x8xf32>) -> tensor<?x64xf32> {
  %w = hybrid.weight "h.weight" : tensor<64x8xf32>
  %l = hybrid.lm_head %x, %w : (tensor<?x8xf32>, tensor<64x8xf32>) -> tensor<?x64xf32>
  return %l : tensor<?x64xf32>
}

// -----

// A weight that is not a checkpoint tensor (here an argument) keeps the
// [out, in] dot-product kernels (no mma form either).
// MMA-LABEL: func.func @negative_argument_weight
// MMA-NOT: vector.contract
// CHECK-LABEL: func.func @negative_argument_weight
// CHECK-NOT: packed
// CHECK: vector.reduction <add>
func.func @negative_argument_weight(%x: tensor<?x24xf32>, %w: tensor<40x24xf32>) -> tensor<?x40xf32> {
  %l = hybrid.lm_head %x, %w : (tensor<?x24xf32>, tensor<40x24xf32>) -> tensor<?x40xf32>
  return %l : tensor<?x40xf32>
}

// -----

// A SwiGLU MLP's gate and up projections are one kernel: each workgroup
// applies both weights' panels to a tile of 6 tokens and stores only
// silu(gate) * up; no separate activation pass is left. A full tile runs a
// loop over the inputs per weight (6 accumulators each, as for one weight:
// 12 in one loop overflow AVX-512's registers at panels of 64); the gate's
// sums wait in the rows of the output between the loops and are read back
// for the epilogue. A single token runs both weights in one loop (2
// accumulators). The down projection reads that.
// CHECK-LABEL: func.func @mlp_gate_up_fused
// CHECK-DAG: %[[G:.*]] = hybrid.weight "mlp.gate_proj.weight" packed(16) : tensor<2x8x16xf32>
// CHECK-DAG: %[[U:.*]] = hybrid.weight "mlp.up_proj.weight" packed(16) : tensor<2x8x16xf32>
// CHECK-DAG: %[[D:.*]] = hybrid.weight "mlp.down_proj.weight" packed(16) : tensor<1x24x16xf32>
// CHECK: %[[Y:.*]] = memref.alloc(%{{.*}}) : memref<?x24xf32>
// CHECK: %[[TILES:.*]] = arith.ceildivui %{{.*}}, %c6
// CHECK: scf.parallel (%[[P:[a-z0-9]+]], %{{[a-z0-9]+}}) = ({{.*}}) to (%c2, %[[TILES]])
// CHECK: scf.if
// CHECK: scf.for %[[K:[a-z0-9]+]] = {{.*}} -> (vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>)
// CHECK-NOT: vector.transfer_read %[[U]]
// CHECK: vector.transfer_read %[[G]][%[[P]], %[[K]]
// CHECK-NOT: vector.transfer_read %[[U]]
// CHECK: scf.yield
// CHECK-COUNT-6: vector.transfer_write %{{.*}}, %[[Y]]
// CHECK: scf.for %[[K2:[a-z0-9]+]] = {{.*}} -> (vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>)
// CHECK-NOT: vector.transfer_read %[[G]]
// CHECK: vector.transfer_read %[[U]][%[[P]], %[[K2]]
// CHECK-NOT: vector.transfer_read %[[G]]
// CHECK: scf.yield
// CHECK-COUNT-6: vector.transfer_read %[[Y]]
// CHECK: math.exp {{.*}} : vector<16xf32>
// CHECK: arith.mulf {{.*}} : vector<16xf32>
// CHECK: vector.transfer_write {{.*}}, %[[Y]]{{.*}} : vector<16xf32>, memref<?x24xf32>
// CHECK: } else {
// CHECK: scf.for %[[K1:[a-z0-9]+]] = {{.*}} -> (vector<16xf32>, vector<16xf32>)
// CHECK: vector.transfer_read %[[G]][%[[P]], %[[K1]]
// CHECK: vector.transfer_read %[[U]][%[[P]], %[[K1]]
// CHECK-NOT: linalg.generic
// CHECK: vector.transfer_read %[[D]]
// UNPACKED-LABEL: func.func @mlp_gate_up_fused
// UNPACKED: linalg.generic
// The mma form: gate and up tiles share each tile of x and store their
// products to buffers of the full tiles' rows; an elementwise kernel
// applies SwiGLU to them (its exp does not run on tensor-core fragments);
// the other tokens run the fused column kernel; then down, on tiles too.
// MMA-LABEL: func.func @mlp_gate_up_fused
// MMA: %[[START:.*]] = arith.muli %{{.*}}, %c16
// MMA-DAG: %[[G:.*]] = memref.alloc(%[[START]]) : memref<?x24xf32>
// MMA-DAG: %[[U:.*]] = memref.alloc(%[[START]]) : memref<?x24xf32>
// MMA: scf.parallel
// MMA-COUNT-4: vector.contract
// MMA: vector.transfer_write %{{.*}}, %[[G]]
// MMA: vector.transfer_write %{{.*}}, %[[U]]
// MMA: scf.parallel (%[[T:.*]], %[[O:.*]]) = ({{.*}}) to (%[[START]], %c24{{[_0-9]*}})
// MMA: memref.load %[[G]][%[[T]], %[[O]]]
// MMA: memref.load %[[U]][%[[T]], %[[O]]]
// MMA: math.exp
// MMA: memref.store
// MMA: scf.parallel
// MMA: math.fma
// MMA: vector.contract {{.*}} : vector<16x8xf32>, vector<8x8xf32> into vector<16x8xf32>
func.func @mlp_gate_up_fused(%x: tensor<?x8xf32>) -> tensor<?x8xf32> {
  %g = hybrid.weight "mlp.gate_proj.weight" : tensor<24x8xf32>
  %u = hybrid.weight "mlp.up_proj.weight" : tensor<24x8xf32>
  %d = hybrid.weight "mlp.down_proj.weight" : tensor<8x24xf32>
  %y = hybrid.mlp %x gate_proj(%g) up_proj(%u) down_proj(%d) : (tensor<?x8xf32>, tensor<24x8xf32>, tensor<24x8xf32>, tensor<8x24xf32>) -> tensor<?x8xf32>
  return %y : tensor<?x8xf32>
}

// -----

// Projections of one input with weights of different shapes (Gated
// DeltaNet's in_proj_qkvz and in_proj_ba here) share one kernel: workgroups
// over the panels of both (7 + 1), each running the tile of its weight.
// The grouped projections (several weights of one input) keep the column
// form.
// MMA-LABEL: func.func @grouped_projections
// MMA-NOT: vector.contract
// CHECK-LABEL: func.func @grouped_projections
// CHECK-DAG: %[[QKVZ:.*]] = hybrid.weight "l.in_proj_qkvz.weight" packed(16) : tensor<7x44x16xf32>
// CHECK-DAG: %[[BA:.*]] = hybrid.weight "l.in_proj_ba.weight" packed(16) : tensor<1x44x16xf32>
// CHECK-NOT: to (%c7{{[_0-9]*}}, %
// CHECK: scf.parallel (%[[P:[a-z0-9]+]], %{{[a-z0-9]+}}) = ({{.*}}) to (%c8{{[_0-9]*}}, %{{.*}})
// CHECK: %[[MINE:.*]] = arith.cmpi ult, %[[P]], %c7
// CHECK: scf.if %[[MINE]]
// CHECK: vector.transfer_read %[[QKVZ]]
// CHECK: } else {
// CHECK: %[[LOCAL:.*]] = arith.subi %[[P]], %c7
// CHECK: vector.transfer_read %[[BA]][%[[LOCAL]]
// The column form (the GPU's): workgroups over (tiles of 8 tokens, the
// 104 + 8 output columns), columns fastest; column c of in_proj_qkvz is
// column c % 16 of panel c / 16, one scalar FMA per input and token.
// COLUMNS-LABEL: func.func @grouped_projections
// COLUMNS: %[[TILES:.*]] = arith.ceildivui %{{.*}}, %c8
// COLUMNS: scf.parallel (%{{[a-z0-9]+}}, %[[C:[a-z0-9]+]]) = ({{.*}}) to (%[[TILES]], %c112{{[_0-9]*}})
// COLUMNS: %[[MINE:.*]] = arith.cmpi ult, %[[C]], %c104
// COLUMNS: scf.if %[[MINE]]
// COLUMNS: arith.divui %{{.*}}, %c16
// COLUMNS: arith.remui %{{.*}}, %c16
// COLUMNS: tensor.extract
// COLUMNS: math.fma
// COLUMNS: } else {
// COLUMNS: arith.subi %[[C]], %c104
func.func @grouped_projections(%x: tensor<?x44xf32>, %conv: !hybrid.conv_state<64x3xf32>, %rec: !hybrid.recurrent_state<4x6x10xf32>) -> tensor<?x44xf32> {
  %qkvz = hybrid.weight "l.in_proj_qkvz.weight" : tensor<104x44xf32>
  %ba = hybrid.weight "l.in_proj_ba.weight" : tensor<8x44xf32>
  %c = hybrid.weight "l.conv1d.weight" : tensor<64x1x4xf32>
  %dtb = hybrid.weight "l.dt_bias" : tensor<4xf32>
  %alog = hybrid.weight "l.A_log" : tensor<4xf32>
  %n = hybrid.weight "l.norm.weight" : tensor<10xf32>
  %out = hybrid.weight "l.out_proj.weight" : tensor<44x40xf32>
  %y = hybrid.gated_delta_net %x, %conv, %rec in_proj_qkvz(%qkvz) in_proj_ba(%ba) conv1d(%c) dt_bias(%dtb) a_log(%alog) norm(%n) out_proj(%out) {conv_kernel = 4 : i64, k_head_dim = 6 : i64, norm_epsilon = 1.0e-06 : f64, num_k_heads = 2 : i64, num_v_heads = 4 : i64, v_head_dim = 10 : i64} : (tensor<?x44xf32>, !hybrid.conv_state<64x3xf32>, !hybrid.recurrent_state<4x6x10xf32>, tensor<104x44xf32>, tensor<8x44xf32>, tensor<64x1x4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<10xf32>, tensor<44x40xf32>) -> tensor<?x44xf32>
  return %y : tensor<?x44xf32>
}

// -----

// 36 outputs are no multiple of 8 (an 8-wide output block would straddle
// the end): the mma form is not taken and every token runs by columns.
// MMA-LABEL: func.func @negative_mma_ragged_outputs
// MMA-NOT: vector.contract
// MMA: math.fma
// MMA-NOT: vector.contract
func.func @negative_mma_ragged_outputs(%x: tensor<?x24xf32>) -> tensor<?x36xf32> {
  %w = hybrid.weight "lm_head.weight" : tensor<36x24xf32>
  %l = hybrid.lm_head %x, %w : (tensor<?x24xf32>, tensor<36x24xf32>) -> tensor<?x36xf32>
  return %l : tensor<?x36xf32>
}

// -----

// A call of at most 15 rows takes the GEMV form. 512 f32 inputs, 24
// outputs: a workgroup per (panel of 16, split of 256 inputs) sums its
// split into a buffer [rows, 1 weight, 2 splits, 32 columns]; then one
// thread of each counts its arrival in the panel's entry of a zeroed i32
// global (an atomic add; the last, which saw 1, sets it back to 0) and
// keeps the count in the block's buffer, and the last of the two sums
// both splits per (row, column of the panel), storing the columns inside
// the 24 outputs. No kernel after it sums the splits. Before anything
// else a workgroup prefetches the start of its slice of the weights (the
// panel's rows of its 256 inputs, contiguous in the packed layout), a
// 128-byte line (32 f32: two inputs' rows of the panel) per iteration, up
// to 128 lines: all of the slice's 16 KiB here.
// MMA-LABEL: func.func @wide_gemv
// COLUMNS: memref.global "private" @g_arrivals : memref<2xi32> = dense<0>
// COLUMNS-LABEL: func.func @wide_gemv
// COLUMNS: %[[ARRIVED:.*]] = memref.alloca() : memref<1xi32>
// COLUMNS: %[[SUMS:.*]] = memref.alloc(%{{.*}}) : memref<?x1x2x32xf32>
// COLUMNS: scf.parallel (%[[P:[a-z0-9]+]], %[[SPLIT:[a-z0-9]+]]) = ({{.*}}) to (%{{.*}}, %c2{{[_0-9]*}})
// COLUMNS: %[[WB:.*]] = bufferization.to_buffer %{{.*}} read_only : tensor<2x512x16xf32> to memref<2x512x16xf32>
// COLUMNS: scf.parallel (%[[LINE:[a-z0-9]+]]) = (%{{.*}}) to (%c128{{[_0-9]*}})
// COLUMNS: %[[FIRST:.*]] = arith.muli %[[LINE]], %c32
// COLUMNS: %[[ROW:.*]] = arith.divui %[[FIRST]], %c16
// COLUMNS: arith.muli %[[SPLIT]], %c256
// COLUMNS: %[[K:.*]] = arith.addi
// COLUMNS: %[[J:.*]] = arith.remui %[[FIRST]], %c16
// COLUMNS-NEXT: memref.prefetch %[[WB]][%{{.*}}, %[[K]], %[[J]]], read, locality<1>, data
// COLUMNS-NOT: memref.load
// COLUMNS: } {hybrid.cooperative}
// COLUMNS: memref.store %{{.*}}, %[[SUMS]][%{{.*}}, %{{.*}}, %[[SPLIT]], %{{.*}}]
// COLUMNS: } {hybrid.cooperative}
// COLUMNS: %[[COUNTS:.*]] = memref.get_global @g_arrivals
// COLUMNS: %[[BEFORE:.*]] = memref.atomic_rmw addi %{{.*}}, %[[COUNTS]][%[[P]]]
// COLUMNS-NEXT: memref.store %[[BEFORE]], %[[ARRIVED]]
// COLUMNS: %[[WASLAST:.*]] = arith.cmpi eq, %[[BEFORE]], %c1_i32
// COLUMNS-NEXT: scf.if %[[WASLAST]]
// COLUMNS: memref.atomic_rmw assign %{{.*}}, %[[COUNTS]][%[[P]]]
// COLUMNS: } {hybrid.cooperative}
// COLUMNS: %[[SEEN:.*]] = memref.load %[[ARRIVED]]
// COLUMNS-NEXT: %[[LAST:.*]] = arith.cmpi eq, %[[SEEN]], %c1_i32
// COLUMNS-NEXT: scf.if %[[LAST]]
// COLUMNS: %[[OUTPUT:.*]] = arith.cmpi ult, %{{.*}}, %c24
// COLUMNS-NEXT: scf.if %[[OUTPUT]]
// COLUMNS: scf.for %[[S:[a-z0-9]+]] = %{{.*}} to %c2{{[_0-9]*}}
// COLUMNS: memref.load %[[SUMS]][%{{.*}}, %{{.*}}, %[[S]], %{{.*}}]
// COLUMNS: memref.store
// COLUMNS: } {hybrid.cooperative}
// COLUMNS: } {hybrid.row_form}
// COLUMNS-NEXT: arith.select
func.func @wide_gemv(%x: tensor<?x512xf32>) -> tensor<?x24xf32> {
  %w = hybrid.weight "g.weight" : tensor<24x512xf32>
  %l = hybrid.lm_head %x, %w : (tensor<?x512xf32>, tensor<24x512xf32>) -> tensor<?x24xf32>
  return %l : tensor<?x24xf32>
}
