// RUN: hybrid-opt %s --pass-pipeline='builtin.module(func.func(hybrid-fuse-elementwise),canonicalize,cse)' --split-input-file | FileCheck %s

#rows = affine_map<(d0, d1) -> (d0, d1)>
#row = affine_map<(d0, d1) -> (d0)>
#col = affine_map<(d0, d1) -> (d1)>

// A residual add, the norm's sum of squares and the normalisation become one
// loop over rows; the loop also yields the residual sum, which the caller
// keeps using. The add wrote into its input %x, which it never reads as an
// output: it gets a fresh output (bufferization would copy %x otherwise).
// CHECK-LABEL: func.func @add_rms_norm
// CHECK-SAME: (%[[X:.*]]: tensor<?x44xf32>, %[[R:.*]]: tensor<?x44xf32>, %[[W:.*]]: tensor<44xf32>)
// CHECK: %[[ROWS:.*]] = tensor.dim %[[X]], %c0
// CHECK: %[[EMPTY:.*]] = tensor.empty(%[[ROWS]]) : tensor<?x44xf32>
// CHECK: %[[LOOP:.*]]:2 = scf.forall (%[[I:.*]]) in (%[[ROWS]]) shared_outs(%[[SUM_OUT:.*]] = %[[EMPTY]], %[[NORM_OUT:.*]] = %{{.*}})
// CHECK:   %[[XR:.*]] = tensor.extract_slice %[[X]][%[[I]], 0] [1, 44] [1, 1]
// CHECK:   %[[RR:.*]] = tensor.extract_slice %[[R]][%[[I]], 0] [1, 44] [1, 1]
// CHECK:   %[[SUM:.*]] = linalg.generic {{.*}} ins(%[[XR]], %[[RR]] : tensor<1x44xf32>, tensor<1x44xf32>)
// CHECK:   %[[ACC:.*]] = bufferization.alloc_tensor() : tensor<1xf32>
// CHECK:   %[[ZERO:.*]] = linalg.fill {{.*}} outs(%[[ACC]] : tensor<1xf32>) -> tensor<1xf32>
// CHECK:   %[[SQ:.*]] = linalg.generic {{.*}}"reduction"{{.*}} ins(%[[SUM]] : tensor<1x44xf32>) outs(%[[ZERO]] : tensor<1xf32>)
// CHECK:   %[[NORM:.*]] = linalg.generic {{.*}} ins(%[[SUM]], %[[SQ]], %[[W]] : tensor<1x44xf32>, tensor<1xf32>, tensor<44xf32>)
// CHECK:   scf.forall.in_parallel
// CHECK:     tensor.parallel_insert_slice %[[SUM]] into %[[SUM_OUT]][%[[I]], 0] [1, 44] [1, 1]
// CHECK:     tensor.parallel_insert_slice %[[NORM]] into %[[NORM_OUT]][%[[I]], 0] [1, 44] [1, 1]
// CHECK-NOT: linalg.generic
// CHECK: return %[[LOOP]]#1, %[[LOOP]]#0
func.func @add_rms_norm(%x: tensor<?x44xf32>, %r: tensor<?x44xf32>, %w: tensor<44xf32>) -> (tensor<?x44xf32>, tensor<?x44xf32>) {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %n = tensor.dim %x, %c0 : tensor<?x44xf32>
  %sum = linalg.generic {indexing_maps = [#rows, #rows, #rows], iterator_types = ["parallel", "parallel"]} ins(%x, %r : tensor<?x44xf32>, tensor<?x44xf32>) outs(%x : tensor<?x44xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %s = arith.addf %a, %b : f32
    linalg.yield %s : f32
  } -> tensor<?x44xf32>
  %acc = tensor.empty(%n) : tensor<?xf32>
  %acc0 = linalg.fill ins(%zero : f32) outs(%acc : tensor<?xf32>) -> tensor<?xf32>
  %sq = linalg.generic {indexing_maps = [#rows, #row], iterator_types = ["parallel", "reduction"]} ins(%sum : tensor<?x44xf32>) outs(%acc0 : tensor<?xf32>) {
  ^bb0(%a: f32, %o: f32):
    %m = arith.mulf %a, %a : f32
    %s = arith.addf %o, %m : f32
    linalg.yield %s : f32
  } -> tensor<?xf32>
  %out = tensor.empty(%n) : tensor<?x44xf32>
  %norm = linalg.generic {indexing_maps = [#rows, #row, #col, #rows], iterator_types = ["parallel", "parallel"]} ins(%sum, %sq, %w : tensor<?x44xf32>, tensor<?xf32>, tensor<44xf32>) outs(%out : tensor<?x44xf32>) {
  ^bb0(%a: f32, %s: f32, %g: f32, %o: f32):
    %inv = math.rsqrt %s : f32
    %y = arith.mulf %a, %inv : f32
    %z = arith.mulf %y, %g : f32
    linalg.yield %z : f32
  } -> tensor<?x44xf32>
  return %norm, %sum : tensor<?x44xf32>, tensor<?x44xf32>
}

// -----

#rows = affine_map<(d0, d1) -> (d0, d1)>
#row = affine_map<(d0, d1) -> (d0)>
#col = affine_map<(d0, d1) -> (d1)>

// Two layers' norms on one residual stream: two loops. The first yields the
// residual sum h1 (read by the second layer's add after it), the second
// reads it from the first loop's result; no chain reaches across both, and
// h2, read only inside its loop, is not yielded.
// CHECK-LABEL: func.func @residual_stream
// CHECK: %[[FIRST:.*]]:2 = scf.forall
// CHECK: %[[SECOND:.*]] = scf.forall
// CHECK:   tensor.extract_slice %[[FIRST]]#0
// CHECK-NOT: linalg.generic {{.*}} -> tensor<?x
// CHECK: return %[[FIRST]]#1, %[[SECOND]]
func.func @residual_stream(%x: tensor<?x44xf32>, %a: tensor<?x44xf32>, %b: tensor<?x44xf32>, %w: tensor<44xf32>) -> (tensor<?x44xf32>, tensor<?x44xf32>) {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %n = tensor.dim %x, %c0 : tensor<?x44xf32>
  %acc = tensor.empty(%n) : tensor<?xf32>
  %acc0 = linalg.fill ins(%zero : f32) outs(%acc : tensor<?xf32>) -> tensor<?xf32>
  %out = tensor.empty(%n) : tensor<?x44xf32>
  %h1 = linalg.generic {indexing_maps = [#rows, #rows, #rows], iterator_types = ["parallel", "parallel"]} ins(%x, %a : tensor<?x44xf32>, tensor<?x44xf32>) outs(%x : tensor<?x44xf32>) {
  ^bb0(%p: f32, %q: f32, %o: f32):
    %s = arith.addf %p, %q : f32
    linalg.yield %s : f32
  } -> tensor<?x44xf32>
  %sq1 = linalg.generic {indexing_maps = [#rows, #row], iterator_types = ["parallel", "reduction"]} ins(%h1 : tensor<?x44xf32>) outs(%acc0 : tensor<?xf32>) {
  ^bb0(%p: f32, %o: f32):
    %m = arith.mulf %p, %p : f32
    %s = arith.addf %o, %m : f32
    linalg.yield %s : f32
  } -> tensor<?xf32>
  %n1 = linalg.generic {indexing_maps = [#rows, #row, #col, #rows], iterator_types = ["parallel", "parallel"]} ins(%h1, %sq1, %w : tensor<?x44xf32>, tensor<?xf32>, tensor<44xf32>) outs(%out : tensor<?x44xf32>) {
  ^bb0(%p: f32, %s: f32, %g: f32, %o: f32):
    %inv = math.rsqrt %s : f32
    %y = arith.mulf %p, %inv : f32
    %z = arith.mulf %y, %g : f32
    linalg.yield %z : f32
  } -> tensor<?x44xf32>
  %h2 = linalg.generic {indexing_maps = [#rows, #rows, #rows], iterator_types = ["parallel", "parallel"]} ins(%h1, %b : tensor<?x44xf32>, tensor<?x44xf32>) outs(%h1 : tensor<?x44xf32>) {
  ^bb0(%p: f32, %q: f32, %o: f32):
    %s = arith.addf %p, %q : f32
    linalg.yield %s : f32
  } -> tensor<?x44xf32>
  %sq2 = linalg.generic {indexing_maps = [#rows, #row], iterator_types = ["parallel", "reduction"]} ins(%h2 : tensor<?x44xf32>) outs(%acc0 : tensor<?xf32>) {
  ^bb0(%p: f32, %o: f32):
    %m = arith.mulf %p, %p : f32
    %s = arith.addf %o, %m : f32
    linalg.yield %s : f32
  } -> tensor<?xf32>
  %n2 = linalg.generic {indexing_maps = [#rows, #row, #col, #rows], iterator_types = ["parallel", "parallel"]} ins(%h2, %sq2, %w : tensor<?x44xf32>, tensor<?xf32>, tensor<44xf32>) outs(%out : tensor<?x44xf32>) {
  ^bb0(%p: f32, %s: f32, %g: f32, %o: f32):
    %inv = math.rsqrt %s : f32
    %y = arith.mulf %p, %inv : f32
    %z = arith.mulf %y, %g : f32
    linalg.yield %z : f32
  } -> tensor<?x44xf32>
  return %n1, %n2 : tensor<?x44xf32>, tensor<?x44xf32>
}

// -----

#rows = affine_map<(d0, d1) -> (d0, d1)>

// negative_: a lone elementwise op (SiLU times up) gains nothing from a
// loop of its own and is left alone.
// CHECK-LABEL: func.func @negative_lone_op
// CHECK-NOT: scf.forall
// CHECK: linalg.generic
func.func @negative_lone_op(%g: tensor<?x11xf32>, %u: tensor<?x11xf32>, %o: tensor<?x11xf32>) -> tensor<?x11xf32> {
  %y = linalg.generic {indexing_maps = [#rows, #rows, #rows], iterator_types = ["parallel", "parallel"]} ins(%g, %u : tensor<?x11xf32>, tensor<?x11xf32>) outs(%o : tensor<?x11xf32>) {
  ^bb0(%a: f32, %b: f32, %out: f32):
    %m = arith.mulf %a, %b : f32
    linalg.yield %m : f32
  } -> tensor<?x11xf32>
  return %y : tensor<?x11xf32>
}

// -----

#rows = affine_map<(d0, d1) -> (d0, d1)>
#tr = affine_map<(d0, d1) -> (d1, d0)>

// negative_: the consumer reads the producer column-wise (a transpose), so a
// row of the loop needs every row of the producer: nothing is fused.
// CHECK-LABEL: func.func @negative_transposed_read
// CHECK-NOT: scf.forall
// CHECK: linalg.generic
// CHECK: linalg.generic
func.func @negative_transposed_read(%x: tensor<8x8xf32>, %o: tensor<8x8xf32>) -> tensor<8x8xf32> {
  %sq = linalg.generic {indexing_maps = [#rows, #rows], iterator_types = ["parallel", "parallel"]} ins(%x : tensor<8x8xf32>) outs(%o : tensor<8x8xf32>) {
  ^bb0(%a: f32, %out: f32):
    %m = arith.mulf %a, %a : f32
    linalg.yield %m : f32
  } -> tensor<8x8xf32>
  %t = linalg.generic {indexing_maps = [#tr, #rows], iterator_types = ["parallel", "parallel"]} ins(%sq : tensor<8x8xf32>) outs(%o : tensor<8x8xf32>) {
  ^bb0(%a: f32, %out: f32):
    %n = arith.negf %a : f32
    linalg.yield %n : f32
  } -> tensor<8x8xf32>
  return %t : tensor<8x8xf32>
}

// -----

#rows = affine_map<(d0, d1) -> (d0, d1)>

// negative_: the producer is also read before the consumer by an op that is
// not part of the chain (here a call), so its rows could not be yielded to
// that reader in time: the two ops stay apart.
// CHECK-LABEL: func.func @negative_read_before
// CHECK-NOT: scf.forall
func.func private @use(tensor<?x11xf32>)
func.func @negative_read_before(%x: tensor<?x11xf32>, %o: tensor<?x11xf32>) -> tensor<?x11xf32> {
  %a = linalg.generic {indexing_maps = [#rows, #rows], iterator_types = ["parallel", "parallel"]} ins(%x : tensor<?x11xf32>) outs(%o : tensor<?x11xf32>) {
  ^bb0(%p: f32, %out: f32):
    %m = arith.mulf %p, %p : f32
    linalg.yield %m : f32
  } -> tensor<?x11xf32>
  func.call @use(%a) : (tensor<?x11xf32>) -> ()
  %b = linalg.generic {indexing_maps = [#rows, #rows], iterator_types = ["parallel", "parallel"]} ins(%a : tensor<?x11xf32>) outs(%o : tensor<?x11xf32>) {
  ^bb0(%p: f32, %out: f32):
    %n = arith.negf %p : f32
    linalg.yield %n : f32
  } -> tensor<?x11xf32>
  return %b : tensor<?x11xf32>
}

// -----

#slots = affine_map<(d0, d1, d2) -> (d0, d2)>
#outs = affine_map<(d0, d1, d2) -> (d0, d2, d1)>
#sum = affine_map<(d0, d1, d2) -> (d0, d1)>
#rows = affine_map<(d0, d1) -> (d0, d1)>
#gate = affine_map<(d0, d1) -> (0, d1)>
#row = affine_map<(d0, d1) -> (d0)>
#col = affine_map<(d0, d1) -> (d1)>

// An MoE layer's combine (convert-hybrid-to-linalg's form): the routed
// experts' outputs [tokens, slots, hidden] summed over the slots with their
// weights (a reduction over the innermost loop), plus the shared expert
// times sigmoid of its gate (a dot product of the layer's input row with a
// [1, hidden] weight), then the residual add and the next norm: one loop
// over rows, each row reading its own slice of every [tokens, ...] input.
// The gate's and the norm's accumulators are filled alike but each has a
// buffer of its own (cse would merge two tensor.empty, and bufferization
// then copy one).
// CHECK-LABEL: func.func @moe_combine_add_rms_norm
// CHECK-SAME: (%[[H:.*]]: tensor<?x44xf32>, %[[X:.*]]: tensor<?x44xf32>, %[[WT:.*]]: tensor<?x2xf32>, %[[EO:.*]]: tensor<?x2x44xf32>, %[[SH:.*]]: tensor<?x44xf32>, %[[GW:.*]]: tensor<1x44xf32>
// CHECK: scf.forall (%[[I:.*]]) in
// CHECK-DAG: tensor.extract_slice %[[WT]][%[[I]], 0] [1, 2] [1, 1]
// CHECK-DAG: tensor.extract_slice %[[EO]][%[[I]], 0, 0] [1, 2, 44] [1, 1, 1]
// CHECK: linalg.fill {{.*}} -> tensor<1x44xf32>
// CHECK: %[[ROUTED:.*]] = linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "reduction"]{{.*}} ins(%{{.*}}, %{{.*}} : tensor<1x2xf32>, tensor<1x2x44xf32>) outs(%{{.*}} : tensor<1x44xf32>)
// CHECK: %[[XR:.*]] = tensor.extract_slice %[[X]][%[[I]], 0] [1, 44] [1, 1]
// CHECK: %[[GACC:.*]] = bufferization.alloc_tensor() : tensor<1xf32>
// CHECK: %[[GZERO:.*]] = linalg.fill {{.*}} outs(%[[GACC]] : tensor<1xf32>)
// CHECK: %[[LOGIT:.*]] = linalg.generic {{.*}}"reduction"{{.*}} ins(%[[XR]], %[[GW]] : tensor<1x44xf32>, tensor<1x44xf32>) outs(%[[GZERO]] : tensor<1xf32>)
// CHECK: %[[MOE:.*]] = linalg.generic {{.*}} ins(%[[ROUTED]], %{{.*}}, %[[LOGIT]] : tensor<1x44xf32>, tensor<1x44xf32>, tensor<1xf32>)
// CHECK: math.exp
// CHECK: %[[ADDED:.*]] = linalg.generic {{.*}} ins(%{{.*}}, %[[MOE]] : tensor<1x44xf32>, tensor<1x44xf32>)
// CHECK: %[[NACC:.*]] = bufferization.alloc_tensor() : tensor<1xf32>
// CHECK: %[[NZERO:.*]] = linalg.fill {{.*}} outs(%[[NACC]] : tensor<1xf32>)
// CHECK: linalg.generic {{.*}}"reduction"{{.*}} ins(%[[ADDED]] : tensor<1x44xf32>) outs(%[[NZERO]] : tensor<1xf32>)
// CHECK: math.rsqrt
// CHECK: scf.forall.in_parallel
// CHECK-NOT: linalg.generic
// CHECK: return
func.func @moe_combine_add_rms_norm(%h: tensor<?x44xf32>, %x: tensor<?x44xf32>, %wt: tensor<?x2xf32>, %eo: tensor<?x2x44xf32>, %sh: tensor<?x44xf32>, %gw: tensor<1x44xf32>, %w: tensor<44xf32>) -> (tensor<?x44xf32>, tensor<?x44xf32>) {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %one = arith.constant 1.0 : f32
  %n = tensor.dim %h, %c0 : tensor<?x44xf32>
  %racc = tensor.empty(%n) : tensor<?x44xf32>
  %racc0 = linalg.fill ins(%zero : f32) outs(%racc : tensor<?x44xf32>) -> tensor<?x44xf32>
  %routed = linalg.generic {indexing_maps = [#slots, #outs, #sum], iterator_types = ["parallel", "parallel", "reduction"]} ins(%wt, %eo : tensor<?x2xf32>, tensor<?x2x44xf32>) outs(%racc0 : tensor<?x44xf32>) {
  ^bb0(%a: f32, %y: f32, %o: f32):
    %t = arith.mulf %a, %y : f32
    %s = arith.addf %o, %t : f32
    linalg.yield %s : f32
  } -> tensor<?x44xf32>
  %gacc = tensor.empty(%n) : tensor<?xf32>
  %gacc0 = linalg.fill ins(%zero : f32) outs(%gacc : tensor<?xf32>) -> tensor<?xf32>
  %logit = linalg.generic {indexing_maps = [#rows, #gate, #row], iterator_types = ["parallel", "reduction"]} ins(%x, %gw : tensor<?x44xf32>, tensor<1x44xf32>) outs(%gacc0 : tensor<?xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %m = arith.mulf %a, %b : f32
    %s = arith.addf %o, %m : f32
    linalg.yield %s : f32
  } -> tensor<?xf32>
  %mout = tensor.empty(%n) : tensor<?x44xf32>
  %moe = linalg.generic {indexing_maps = [#rows, #rows, #row, #rows], iterator_types = ["parallel", "parallel"]} ins(%routed, %sh, %logit : tensor<?x44xf32>, tensor<?x44xf32>, tensor<?xf32>) outs(%mout : tensor<?x44xf32>) {
  ^bb0(%r: f32, %s: f32, %gv: f32, %o: f32):
    %ng = arith.negf %gv : f32
    %e = math.exp %ng : f32
    %d = arith.addf %one, %e : f32
    %sig = arith.divf %one, %d : f32
    %gs = arith.mulf %s, %sig : f32
    %y = arith.addf %r, %gs : f32
    linalg.yield %y : f32
  } -> tensor<?x44xf32>
  %sum = linalg.generic {indexing_maps = [#rows, #rows, #rows], iterator_types = ["parallel", "parallel"]} ins(%h, %moe : tensor<?x44xf32>, tensor<?x44xf32>) outs(%h : tensor<?x44xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %s = arith.addf %a, %b : f32
    linalg.yield %s : f32
  } -> tensor<?x44xf32>
  %acc = tensor.empty(%n) : tensor<?xf32>
  %acc0 = linalg.fill ins(%zero : f32) outs(%acc : tensor<?xf32>) -> tensor<?xf32>
  %sq = linalg.generic {indexing_maps = [#rows, #row], iterator_types = ["parallel", "reduction"]} ins(%sum : tensor<?x44xf32>) outs(%acc0 : tensor<?xf32>) {
  ^bb0(%a: f32, %o: f32):
    %m = arith.mulf %a, %a : f32
    %s = arith.addf %o, %m : f32
    linalg.yield %s : f32
  } -> tensor<?xf32>
  %out = tensor.empty(%n) : tensor<?x44xf32>
  %norm = linalg.generic {indexing_maps = [#rows, #row, #col, #rows], iterator_types = ["parallel", "parallel"]} ins(%sum, %sq, %w : tensor<?x44xf32>, tensor<?xf32>, tensor<44xf32>) outs(%out : tensor<?x44xf32>) {
  ^bb0(%a: f32, %s: f32, %gw2: f32, %o: f32):
    %inv = math.rsqrt %s : f32
    %y = arith.mulf %a, %inv : f32
    %z = arith.mulf %y, %gw2 : f32
    linalg.yield %z : f32
  } -> tensor<?x44xf32>
  return %norm, %sum : tensor<?x44xf32>, tensor<?x44xf32>
}

// -----

#rows = affine_map<(d0, d1) -> (d0, d1)>
#row = affine_map<(d0, d1) -> (d0)>

// The rows that get logits (select_rows' gather) between the last residual
// add and the final norm: one loop over the gathered rows, the add computed
// only at row %sel[i] of its inputs; no [tokens, 44] sum is made.
// CHECK-LABEL: func.func @add_gather_norm
// CHECK-SAME: (%[[X:.*]]: tensor<?x44xf32>, %[[R:.*]]: tensor<?x44xf32>, %[[SEL:.*]]: tensor<?xi64>)
// CHECK: %[[N:.*]] = tensor.dim %[[SEL]], %c0
// CHECK: scf.forall (%[[I:.*]]) in (%[[N]])
// CHECK:   %[[T:.*]] = tensor.extract %[[SEL]][%[[I]]] : tensor<?xi64>
// CHECK:   %[[ROW:.*]] = arith.index_cast %[[T]] : i64 to index
// CHECK:   %[[XR:.*]] = tensor.extract_slice %[[X]][%[[ROW]], 0] [1, 44] [1, 1]
// CHECK:   %[[RR:.*]] = tensor.extract_slice %[[R]][%[[ROW]], 0] [1, 44] [1, 1]
// CHECK:   %[[SUM:.*]] = linalg.generic {{.*}} ins(%[[XR]], %[[RR]] : tensor<1x44xf32>, tensor<1x44xf32>)
// CHECK:   %[[SQ:.*]] = linalg.generic {{.*}}"reduction"{{.*}} ins(%[[SUM]] : tensor<1x44xf32>)
// CHECK:   scf.forall.in_parallel
// CHECK-NEXT: tensor.parallel_insert_slice %{{.*}} into %{{.*}}[%[[I]], 0] [1, 44] [1, 1]
// CHECK-NOT: linalg.generic
// CHECK-NOT: tensor.extract %
func.func @add_gather_norm(%x: tensor<?x44xf32>, %r: tensor<?x44xf32>, %sel: tensor<?xi64>) -> tensor<?x44xf32> {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %t = tensor.dim %x, %c0 : tensor<?x44xf32>
  %sum0 = tensor.empty(%t) : tensor<?x44xf32>
  %sum = linalg.generic {indexing_maps = [#rows, #rows, #rows], iterator_types = ["parallel", "parallel"]} ins(%x, %r : tensor<?x44xf32>, tensor<?x44xf32>) outs(%sum0 : tensor<?x44xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %s = arith.addf %a, %b : f32
    linalg.yield %s : f32
  } -> tensor<?x44xf32>
  %n = tensor.dim %sel, %c0 : tensor<?xi64>
  %picked0 = tensor.empty(%n) : tensor<?x44xf32>
  %picked = linalg.generic {indexing_maps = [#row, #rows], iterator_types = ["parallel", "parallel"]} ins(%sel : tensor<?xi64>) outs(%picked0 : tensor<?x44xf32>) {
  ^bb0(%i: i64, %o: f32):
    %row = arith.index_cast %i : i64 to index
    %col = linalg.index 1 : index
    %v = tensor.extract %sum[%row, %col] : tensor<?x44xf32>
    linalg.yield %v : f32
  } -> tensor<?x44xf32>
  %acc = tensor.empty(%n) : tensor<?xf32>
  %acc0 = linalg.fill ins(%zero : f32) outs(%acc : tensor<?xf32>) -> tensor<?xf32>
  %sq = linalg.generic {indexing_maps = [#rows, #row], iterator_types = ["parallel", "reduction"]} ins(%picked : tensor<?x44xf32>) outs(%acc0 : tensor<?xf32>) {
  ^bb0(%a: f32, %o: f32):
    %m = arith.mulf %a, %a : f32
    %s = arith.addf %o, %m : f32
    linalg.yield %s : f32
  } -> tensor<?xf32>
  %out = tensor.empty(%n) : tensor<?x44xf32>
  %norm = linalg.generic {indexing_maps = [#rows, #row, #rows], iterator_types = ["parallel", "parallel"]} ins(%picked, %sq : tensor<?x44xf32>, tensor<?xf32>) outs(%out : tensor<?x44xf32>) {
  ^bb0(%a: f32, %s: f32, %o: f32):
    %inv = math.rsqrt %s : f32
    %y = arith.mulf %a, %inv : f32
    linalg.yield %y : f32
  } -> tensor<?x44xf32>
  return %norm : tensor<?x44xf32>
}

// -----

#rows = affine_map<(d0, d1) -> (d0, d1)>
#row = affine_map<(d0, d1) -> (d0)>

// The sum is also returned, so its every row is needed: it is not computed
// at the gathered rows only; the gather reads it whole.
// CHECK-LABEL: func.func @negative_gathered_source_used_whole
// CHECK: %[[SUM:.*]] = linalg.generic
// CHECK: scf.forall
// CHECK:   linalg.generic {{.*}} ins(%{{.*}} : tensor<1xi64>)
// CHECK:     tensor.extract %[[SUM]]
// CHECK: return %{{.*}}, %[[SUM]]
func.func @negative_gathered_source_used_whole(%x: tensor<?x44xf32>, %r: tensor<?x44xf32>, %sel: tensor<?xi64>) -> (tensor<?x44xf32>, tensor<?x44xf32>) {
  %c0 = arith.constant 0 : index
  %t = tensor.dim %x, %c0 : tensor<?x44xf32>
  %sum0 = tensor.empty(%t) : tensor<?x44xf32>
  %sum = linalg.generic {indexing_maps = [#rows, #rows, #rows], iterator_types = ["parallel", "parallel"]} ins(%x, %r : tensor<?x44xf32>, tensor<?x44xf32>) outs(%sum0 : tensor<?x44xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %s = arith.addf %a, %b : f32
    linalg.yield %s : f32
  } -> tensor<?x44xf32>
  %n = tensor.dim %sel, %c0 : tensor<?xi64>
  %picked0 = tensor.empty(%n) : tensor<?x44xf32>
  %picked = linalg.generic {indexing_maps = [#row, #rows], iterator_types = ["parallel", "parallel"]} ins(%sel : tensor<?xi64>) outs(%picked0 : tensor<?x44xf32>) {
  ^bb0(%i: i64, %o: f32):
    %row = arith.index_cast %i : i64 to index
    %col = linalg.index 1 : index
    %v = tensor.extract %sum[%row, %col] : tensor<?x44xf32>
    linalg.yield %v : f32
  } -> tensor<?x44xf32>
  %out = tensor.empty(%n) : tensor<?x44xf32>
  %twice = linalg.generic {indexing_maps = [#rows, #rows], iterator_types = ["parallel", "parallel"]} ins(%picked : tensor<?x44xf32>) outs(%out : tensor<?x44xf32>) {
  ^bb0(%a: f32, %o: f32):
    %y = arith.addf %a, %a : f32
    linalg.yield %y : f32
  } -> tensor<?x44xf32>
  return %twice, %sum : tensor<?x44xf32>, tensor<?x44xf32>
}

// -----

#rows = affine_map<(d0, d1) -> (d0, d1)>
#row = affine_map<(d0, d1) -> (d0)>

// The gathered rows are also read after the loop (the next residual add, as
// after the last mixer): the loop yields them, still computing the add only
// at row %sel[i].
// CHECK-LABEL: func.func @gather_yielded
// CHECK-SAME: (%[[X:.*]]: tensor<?x44xf32>, %[[R:.*]]: tensor<?x44xf32>, %[[SEL:.*]]: tensor<?xi64>)
// CHECK: %[[LOOP:.*]]:2 = scf.forall (%[[I:.*]]) in
// CHECK:   %[[T:.*]] = tensor.extract %[[SEL]][%[[I]]] : tensor<?xi64>
// CHECK:   %[[ROW:.*]] = arith.index_cast %[[T]] : i64 to index
// CHECK:   %[[XR:.*]] = tensor.extract_slice %[[X]][%[[ROW]], 0] [1, 44] [1, 1]
// CHECK:   %[[SUM:.*]] = linalg.generic {{.*}} ins(%[[XR]], %{{.*}} : tensor<1x44xf32>, tensor<1x44xf32>)
// CHECK:   %[[TWICE:.*]] = linalg.generic {{.*}} ins(%[[SUM]] : tensor<1x44xf32>)
// CHECK:   scf.forall.in_parallel
// CHECK-DAG: tensor.parallel_insert_slice %[[SUM]] into %{{.*}}[%[[I]], 0] [1, 44] [1, 1]
// CHECK-DAG: tensor.parallel_insert_slice %[[TWICE]] into %{{.*}}[%[[I]], 0] [1, 44] [1, 1]
// CHECK-NOT: tensor.extract %
// CHECK: return %[[LOOP]]#1, %[[LOOP]]#0
func.func @gather_yielded(%x: tensor<?x44xf32>, %r: tensor<?x44xf32>, %sel: tensor<?xi64>) -> (tensor<?x44xf32>, tensor<?x44xf32>) {
  %c0 = arith.constant 0 : index
  %t = tensor.dim %x, %c0 : tensor<?x44xf32>
  %sum0 = tensor.empty(%t) : tensor<?x44xf32>
  %sum = linalg.generic {indexing_maps = [#rows, #rows, #rows], iterator_types = ["parallel", "parallel"]} ins(%x, %r : tensor<?x44xf32>, tensor<?x44xf32>) outs(%sum0 : tensor<?x44xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %s = arith.addf %a, %b : f32
    linalg.yield %s : f32
  } -> tensor<?x44xf32>
  %n = tensor.dim %sel, %c0 : tensor<?xi64>
  %picked0 = tensor.empty(%n) : tensor<?x44xf32>
  %picked = linalg.generic {indexing_maps = [#row, #rows], iterator_types = ["parallel", "parallel"]} ins(%sel : tensor<?xi64>) outs(%picked0 : tensor<?x44xf32>) {
  ^bb0(%i: i64, %o: f32):
    %row = arith.index_cast %i : i64 to index
    %col = linalg.index 1 : index
    %v = tensor.extract %sum[%row, %col] : tensor<?x44xf32>
    linalg.yield %v : f32
  } -> tensor<?x44xf32>
  %out = tensor.empty(%n) : tensor<?x44xf32>
  %twice = linalg.generic {indexing_maps = [#rows, #rows], iterator_types = ["parallel", "parallel"]} ins(%picked : tensor<?x44xf32>) outs(%out : tensor<?x44xf32>) {
  ^bb0(%a: f32, %o: f32):
    %y = arith.addf %a, %a : f32
    linalg.yield %y : f32
  } -> tensor<?x44xf32>
  return %twice, %picked : tensor<?x44xf32>, tensor<?x44xf32>
}
