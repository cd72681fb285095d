// RUN: hybrid-opt %s --hybrid-cuda-pipeline="max-seq-len=64 cuda-arch=sm_80" | FileCheck %s

// The whole CUDA pipeline on one layer: the kernels end as PTX for sm_80
// (PTX ISA 7.0) in a gpu.binary; the host function is the plan in the LLVM
// dialect, launching each kernel by name through the runtime's launcher.
// CHECK-LABEL: llvm.func @layer(
// CHECK-NOT: {{hybrid\.[a-z_]+ }}
// CHECK: llvm.call @_mlir_memref_to_llvm_alloc
// CHECK: llvm.call @hybrid_run_gpu_dispatch
// CHECK: llvm.return
// CHECK: gpu.binary @hybrid_kernels
// CHECK-SAME: #nvvm.target<O = 3, chip = "sm_80", features = "+ptx70">
// CHECK-SAME: .version 7.0
// CHECK-SAME: .target sm_80
// CHECK-SAME: .visible .entry layer__attention
// CHECK: llvm.func internal @hybrid_run_gpu_dispatch(
// CHECK-NOT: hybrid_run_dispatch

// With packed weights, o_proj (8 -> 8) fits the tensor-core tiles: its full
// tiles of 16 tokens run as a warp kernel of tf32 mma.sync, the other
// tokens by columns.
// RUN: hybrid-opt %s --hybrid-cuda-pipeline="max-seq-len=64 cuda-arch=sm_80 pack-weights=32" | FileCheck %s --check-prefix=MMA
// MMA: gpu.binary @hybrid_kernels
// MMA-SAME: .visible .entry layer__o_mma(
// MMA-SAME: mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32
// MMA-SAME: .visible .entry layer__o(
// tile-precision=3xtf32: the tiles' operands also as their remainders'
// tf32 rounding (the operand less its rounding, sub.rn.f32, then
// cvt.rna), three mma.sync for each of tf32's (12 here, 4 above).
// RUN: hybrid-opt %s --hybrid-cuda-pipeline="max-seq-len=64 cuda-arch=sm_80 pack-weights=32 tile-precision=3xtf32" | FileCheck %s --check-prefix=MMA3
// MMA3: gpu.binary @hybrid_kernels
// MMA3-SAME: .visible .entry layer__o_mma(
// MMA3-SAME: sub.rn.f32
// MMA3-SAME: cvt.rna.tf32.f32
// MMA3-SAME: mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32
// MMA3-SAME: .visible .entry layer__o(
// RUN: hybrid-opt %s --hybrid-cuda-pipeline="max-seq-len=64 cuda-arch=sm_80 pack-weights=32 tile-precision=3xtf32" | sed -n 's/.*entry layer__o_mma(\(.*\)entry layer__o(.*/\1/p' | grep -o "mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32" | count 12
// RUN: hybrid-opt %s --hybrid-cuda-pipeline="max-seq-len=64 cuda-arch=sm_80 pack-weights=32" | sed -n 's/.*entry layer__o_mma(\(.*\)entry layer__o(.*/\1/p' | grep -o "mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32" | count 4
func.func @layer(%x: tensor<?x8xf32>, %pos: tensor<?xi64>, %kv: !hybrid.kv_cache<1x4xf32>) -> tensor<?x8xf32> {
  %q = hybrid.weight "q" : tensor<8x8xf32>
  %k = hybrid.weight "k" : tensor<4x8xf32>
  %o = hybrid.weight "o" : tensor<8x8xf32>
  %n = hybrid.weight "n" : tensor<8xf32>
  %h = hybrid.rms_norm plain %x, %n {epsilon = 1.0e-06 : f64} : (tensor<?x8xf32>, tensor<8xf32>) -> tensor<?x8xf32>
  %a = hybrid.attention %h, %pos, %kv q_proj(%q) k_proj(%k) v_proj(%k) o_proj(%o) {head_dim = 4 : i64, num_heads = 2 : i64, num_kv_heads = 1 : i64, rope_theta = 1.0e+04 : f64, rotary_dim = 4 : i64, scale = 5.0e-01 : f64} : (tensor<?x8xf32>, tensor<?xi64>, !hybrid.kv_cache<1x4xf32>, tensor<8x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>, tensor<8x8xf32>) -> tensor<?x8xf32>
  %r = arith.addf %x, %a : tensor<?x8xf32>
  return %r : tensor<?x8xf32>
}

// Option values the pipelines cannot use are errors, not ignored.
// RUN: not hybrid-opt %s --hybrid-cuda-pipeline="cuda-arch=sm_70" 2>&1 | FileCheck %s --check-prefix=BAD-ARCH
// BAD-ARCH: error: hybrid-cuda-pipeline: cuda-arch must be sm_80, sm_90 or sm_90a, got 'sm_70'
// RUN: not hybrid-opt %s --hybrid-cpu-pipeline="cuda-arch=sm_80" 2>&1 | FileCheck %s --check-prefix=CPU-ARCH
// CPU-ARCH: error: hybrid-cpu-pipeline: cuda-arch applies to hybrid-cuda-pipeline and to gpu-kernel-forms
// RUN: not hybrid-opt %s --hybrid-cpu-pipeline="gpu-kernel-forms=1 pack-weights=16 cuda-arch=sm_70" 2>&1 | FileCheck %s --check-prefix=FORMS-ARCH
// FORMS-ARCH: error: hybrid-cpu-pipeline: cuda-arch must be sm_80, sm_90 or sm_90a, got 'sm_70'
// RUN: not hybrid-opt %s --hybrid-cuda-pipeline="gpu-kernel-forms=1" 2>&1 | FileCheck %s --check-prefix=CUDA-FORMS
// CUDA-FORMS: error: hybrid-cuda-pipeline: gpu-kernel-forms applies to hybrid-cpu-pipeline (the CUDA pipeline builds those forms anyway)
// RUN: not hybrid-opt %s --hybrid-cuda-pipeline="reverse-parallel-order=1" 2>&1 | FileCheck %s --check-prefix=CUDA-ORDER
// CUDA-ORDER: error: hybrid-cuda-pipeline: reverse-parallel-order applies to hybrid-cpu-pipeline (a GPU has no order)
// RUN: not hybrid-opt %s --hybrid-cuda-pipeline="native-bf16=1" 2>&1 | FileCheck %s --check-prefix=CUDA-BF16
// CUDA-BF16: error: hybrid-cuda-pipeline: native-bf16 applies to hybrid-cpu-pipeline (NVPTX selects the GPU's conversions itself)
// RUN: not hybrid-opt %s --hybrid-cuda-pipeline="tile-precision=f32" 2>&1 | FileCheck %s --check-prefix=CUDA-F32
// CUDA-F32: error: hybrid-cuda-pipeline: tile-precision must be tf32 or 3xtf32 (a GPU's tensor cores take f32 operands only as tf32), got 'f32'
// RUN: not hybrid-opt %s --hybrid-cpu-pipeline="gpu-kernel-forms=1 pack-weights=16 tile-precision=bf16" 2>&1 | FileCheck %s --check-prefix=CPU-BAD-PRECISION
// CPU-BAD-PRECISION: error: hybrid-cpu-pipeline: tile-precision must be f32, tf32 or 3xtf32, got 'bf16'
// RUN: not hybrid-opt %s --hybrid-cpu-pipeline="tile-precision=tf32" 2>&1 | FileCheck %s --check-prefix=CPU-TF32
// CPU-TF32: error: hybrid-cpu-pipeline: tile-precision needs gpu-kernel-forms on hybrid-cpu-pipeline (the CPU forms have no tensor-core tiles)
// RUN: not hybrid-opt %s --hybrid-cpu-pipeline="gpu-kernel-forms=1" 2>&1 | FileCheck %s --check-prefix=FORMS-UNPACKED
// FORMS-UNPACKED: error: hybrid-cpu-pipeline: gpu-kernel-forms needs pack-weights

// The CPU pipeline with the GPU's kernel forms (hybridc --gpu-kernel-forms):
// the same kernels as above, o_proj's tensor-core tiles among them, built
// for the CPU (the tiles' 2-D transfers as loops, their contracts as FMAs;
// the long calls' attention, a block per (token, head) of its 2 heads, in
// the tail of decode's split kernel: hybrid-chain-dispatches).
// RUN: hybrid-opt %s --hybrid-cpu-pipeline="max-seq-len=64 pack-weights=32 gpu-kernel-forms=1" | FileCheck %s --check-prefix=CPU-FORMS
// CPU-FORMS-DAG: llvm.func @layer__o_mma(
// CPU-FORMS-DAG: llvm.func @layer__attention_split__then__attention(
// CPU-FORMS-DAG: llvm.intr.fma
// CPU-FORMS-NOT: vector.contract
// CPU-FORMS-NOT: gpu.
