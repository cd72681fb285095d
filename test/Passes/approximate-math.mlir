// RUN: hybrid-opt %s --hybrid-approximate-math | FileCheck %s

// f32 exp, log1p and log, scalar or vector, become polynomials (fma chains
// and exponent bit manipulation): no math call is left.
// CHECK-LABEL: func.func @approximated
// CHECK-NOT: math.exp
// CHECK-NOT: math.log
// CHECK: math.fma
// CHECK: arith.bitcast
// CHECK: return
func.func @approximated(%x: f32, %v: vector<8xf32>) -> (f32, f32, f32, vector<8xf32>) {
  %e = math.exp %x : f32
  %l = math.log1p %x : f32
  %n = math.log %x : f32
  %ev = math.exp %v : vector<8xf32>
  return %e, %l, %n, %ev : f32, f32, f32, vector<8xf32>
}

// Other element types and other functions are left alone.
// CHECK-LABEL: func.func @negative_other_ops
// CHECK: math.exp %{{.*}} : f64
// CHECK: math.tanh %{{.*}} : f32
// CHECK: math.cos %{{.*}} : f32
func.func @negative_other_ops(%d: f64, %x: f32) -> (f64, f32, f32) {
  %e = math.exp %d : f64
  %t = math.tanh %x : f32
  %c = math.cos %x : f32
  return %e, %t, %c : f64, f32, f32
}
