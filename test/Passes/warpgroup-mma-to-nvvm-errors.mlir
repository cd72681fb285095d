// RUN: hybrid-opt %s --pass-pipeline='builtin.module(gpu.module(hybrid-warpgroup-mma-to-nvvm))' --verify-diagnostics

// A tile of a warpgroup product stored with a bounds check: the lanes'
// stores would need one per value; the forms never make one.
gpu.module @kernels {
  gpu.func @masked(%a: memref<8x2x8x8xbf16, #gpu.address_space<workgroup>>,
                   %b: memref<2x1x8x8xbf16, #gpu.address_space<workgroup>>,
                   %y: memref<?x8xf32>, %w: index) kernel {
    %c0 = arith.constant 0 : index
    %zero = arith.constant dense<0.0> : vector<16x8xf32>
    %d = hybrid.warpgroup_mma %a[%c0, %c0], %b[%c0, %c0] warp(%w) acc(%zero)
        : memref<8x2x8x8xbf16, #gpu.address_space<workgroup>>, memref<2x1x8x8xbf16, #gpu.address_space<workgroup>>, vector<16x8xf32>
    // expected-error @+1 {{a warpgroup product's tile must be stored whole, unmasked and in bounds}}
    vector.transfer_write %d, %y[%c0, %c0] {in_bounds = [false, true]} : vector<16x8xf32>, memref<?x8xf32>
    gpu.return
  }
}
