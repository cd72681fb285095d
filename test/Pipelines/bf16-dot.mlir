// RUN: hybrid-opt %s --hybrid-cpu-pipeline="max-seq-len=64 pack-weights=64 native-bf16=1 bf16-dot=1" | FileCheck %s
// RUN: hybrid-opt %s --hybrid-cpu-pipeline="max-seq-len=64 pack-weights=64 native-bf16=1" | FileCheck %s --check-prefix=FMA
// RUN: not hybrid-opt %s --hybrid-cuda-pipeline="bf16-dot=1" 2>&1 | FileCheck %s --check-prefix=CUDA
// CUDA: error: hybrid-cuda-pipeline: bf16-dot applies to hybrid-cpu-pipeline (AVX512-BF16 is an x86 instruction set)
// RUN: not hybrid-opt %s --hybrid-cpu-pipeline="pack-weights=32 gpu-kernel-forms=1 bf16-dot=1" 2>&1 | FileCheck %s --check-prefix=FORMS
// FORMS: error: hybrid-cpu-pipeline: bf16-dot applies to the CPU's own forms, not to gpu-kernel-forms

// The bf16 head with bf16-dot: convert-vector-to-llvm (enable-x86vector)
// turns the dot products into AVX512-BF16's intrinsic, 16 lanes each, and
// x's rounding kernel rounds with fptrunc (native-bf16); without it, FMAs.
// CHECK-LABEL: llvm.func @head__lm_head_bf16_input(
// CHECK: llvm.fptrunc {{.*}} : vector<16xf32> to vector<16xbf16>
// CHECK-LABEL: llvm.func @head__lm_head(
// CHECK: llvm.call_intrinsic "llvm.x86.avx512bf16.dpbf16ps.512"({{.*}}) : (vector<16xf32>, vector<32xbf16>, vector<32xbf16>) -> vector<16xf32>
// FMA-LABEL: llvm.func @head__lm_head(
// FMA-NOT: dpbf16ps
// FMA: llvm.intr.fmuladd
func.func @head(%x: tensor<?x32xf32>) -> tensor<?x64xf32> {
  %w = hybrid.weight "lm_head.weight" : tensor<64x32xbf16>
  %l = hybrid.lm_head %x, %w : (tensor<?x32xf32>, tensor<64x32xbf16>) -> tensor<?x64xf32>
  return %l : tensor<?x64xf32>
}
