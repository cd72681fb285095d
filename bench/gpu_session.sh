#!/usr/bin/env bash
# The GPU checks of issue 4 (item 4) as one command for a machine with an
# NVIDIA GPU but no LLVM, MLIR or network (a lent device machine): every
# artifact is compiled here, and only hybrid-run (libstdc++ only) and
# Python run there.
#
#   bash bench/gpu_session.sh prepare   # here: build/gpu-session/
#   bash bench/gpu_session.sh run [STEPS] # there, from the repository
#                                       # root, carrying build/gpu-session
#                                       # and build/bin/hybrid-run
#
# run: the steps of STEPS (comma-separated; default all of
# fixtures,profile,gdn,roofline): the fixtures compiled with --target=cuda
# against transformers' reference logits (as
# EndToEnd/cuda-vs-transformers.test checks them where hybridc and a GPU
# are on one machine); each benchmark model's kernel times (hybrid-run
# --profile); then, when torch imports, bench/gpu_delta_rule.py and
# bench/gpu_roofline.py. Every step runs even when one before failed, each
# within a time limit; the exit status says whether all passed.
set -u
cd "$(dirname "$0")/.."
out=build/gpu-session
fixtures=test/fixtures

# fixture, hybridc flags, compare_logits.py arguments (tolerance, --bf16),
# and the artifact's name when it is not the fixture's
cases=(
  "qwen3_next_tiny||1e-2"
  "jamba_tiny||1e-2"
  "deepseek_v3_tiny||1e-2"
  "qwen3_next_wide_tiny||1e-2"
  "jamba_wide_tiny||1e-2"
  "qwen3_next_heads_tiny||1e-2"
  "deepseek_v3_heads_tiny||1e-2"
  # 3xtf32 tiles: about f32's precision (tf32's 1e-2 bound above)
  "qwen3_next_heads_tiny|--tile-precision=3xtf32|2e-4|qwen3_next_heads_3xtf32"
  "qwen3_next_bf16_tiles_tiny|--dtype=f32|2e-2 --bf16"
  # wgmma warpgroup products (sm_90a: H100/H200 only)
  "qwen3_next_bf16_tiles_tiny|--dtype=f32 --cuda-arch=sm_90a|2e-2 --bf16|qwen3_next_bf16_tiles_sm90a"
  # external weights: unpacked (the dot-product forms), each tensor copied
  # to the GPU, the experts stacked as they go
  "qwen3_next_tiny|--weights=external|1e-2|qwen3_next_external"
)

prepare() {
  set -e
  mkdir -p "$out"
  for case in "${cases[@]}"; do
    IFS='|' read -r name flags _ artifact <<<"$case"
    # shellcheck disable=SC2086 # flags are words
    build/bin/hybridc "$fixtures/$name" --target=cuda $flags --max-seq-len=128 \
      -o "$out/${artifact:-$name}.hyb" 2>/dev/null
  done
  python3 bench/gpu_delta_rule.py prepare --out "$out/gdn"
  python3 bench/gpu_roofline.py prepare --out "$out/models"
  # The Qwen3-Next-shaped model again with wgmma warpgroup products
  # (sm_90a), against sm_90's mma.sync in the same run.
  python3 bench/gpu_roofline.py prepare --out "$out/models" \
    --families qwen3_next --archs sm_90a
  # Batched decode: 8 sequences' steps in one call (hybrid-run --sequences).
  python3 bench/gpu_roofline.py prepare --out "$out/models" \
    --families qwen3_next,jamba --max-batch 8
  du -sh "$out"
  echo "on the GPU machine: bash bench/gpu_session.sh run (carry $out and build/bin/hybrid-run)"
}

# One fixture's artifact on CUDA device 0 against transformers' logits;
# the environment's HYBRID_CUDA_* settings apply.
check_fixture() {
  local name=$1 artifact=$2 compare=$3 flags=$4 weights=()
  # External weights: the fixture here, wherever it was compiled.
  [[ $flags == *--weights=external* ]] && weights=(--weights-dir "$fixtures/$name")
  # A hang is a failure too, not a lost session: each step has a limit.
  timeout 60 build/bin/hybrid-run "$out/$artifact.hyb" --device cuda "${weights[@]}" \
    --prompt-ids "$(cat "$fixtures/$name/reference/prompt_ids.txt")" \
    --max-new-tokens 33 --logits-out "$out/$artifact.npy" >"$out/$artifact.out" &&
    # shellcheck disable=SC2086 # compare holds separate arguments
    python3 test/EndToEnd/Inputs/compare_logits.py "$fixtures/$name" \
      "$out/$artifact.npy" "$out/$artifact.out" $compare
}

run() {
  local failed=0 steps=",${1:-fixtures,profile,gdn,roofline},"
  for step in ${steps//,/ }; do
    case "$step" in
      fixtures | profile | gdn | roofline) ;;
      *) echo "run: unknown step '$step' (fixtures, profile, gdn, roofline)" >&2; return 2 ;;
    esac
  done
  [[ $steps == *,fixtures,* ]] && for case in "${cases[@]}"; do
    IFS='|' read -r name flags compare artifact <<<"$case"
    artifact=${artifact:-$name}
    echo "== $artifact on CUDA device 0 against transformers"
    if ! check_fixture "$name" "$artifact" "$compare" "$flags"; then
      failed=1
      # Which launch mode is at fault: each kernel launched only once the
      # one before has completed, one by one.
      echo "== $artifact again with plain launches (HYBRID_CUDA_PDL=0 HYBRID_CUDA_GRAPHS=0)"
      HYBRID_CUDA_PDL=0 HYBRID_CUDA_GRAPHS=0 check_fixture "$name" "$artifact" "$compare" "$flags"
    fi
  done
  # Where the time goes: each benchmark model's kernels for a 1024-token
  # prompt alone, then with 16 decode steps after it, for the next speed
  # work.
  [[ $steps == *,profile,* ]] && for packed in "$out"/models/*.hyb.gz; do
    gunzip -c "$packed" >"$out/profiled.hyb"
    for new in 1 17; do
      echo "== hybrid-run --profile: $(basename "$packed" .hyb.gz), $((new - 1)) decode steps"
      timeout 60 build/bin/hybrid-run "$out/profiled.hyb" --device cuda --profile \
        --prompt-ids "$(seq -s, 1 1024)" --max-new-tokens $new || failed=1
    done
  done
  rm -f "$out/profiled.hyb"
  if [[ $steps != *,gdn,* && $steps != *,roofline,* ]]; then
    :
  elif python3 -c "import torch" 2>/dev/null; then
    if [[ $steps == *,gdn,* ]]; then
      echo "== chunked Gated DeltaNet rule against flash-linear-attention"
      timeout 240 python3 bench/gpu_delta_rule.py run --dir "$out/gdn" --reps 3 || failed=1
    fi
    if [[ $steps == *,roofline,* ]]; then
      echo "== decode and prefill against the HBM and tensor-core rooflines"
      timeout 300 python3 bench/gpu_roofline.py run --dir "$out/models" --reps 2 || failed=1
    fi
  else
    echo "== torch does not import: the benchmarks are skipped"
    failed=1
  fi
  return $failed
}

case "${1:-}" in
  prepare) prepare ;;
  run) run "${2:-}" ;;
  *) echo "usage: bash bench/gpu_session.sh prepare | run [STEPS]" >&2; exit 2 ;;
esac
