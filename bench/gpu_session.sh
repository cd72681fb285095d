#!/usr/bin/env bash
# The GPU checks of issue 4 (item 4) as one command for a machine with an
# NVIDIA GPU but no LLVM, MLIR or network (a lent device machine): every
# artifact is compiled here, and only hybrid-run (libstdc++ only) and
# Python run there.
#
#   bash bench/gpu_session.sh prepare   # here: build/gpu-session/
#   bash bench/gpu_session.sh run       # there, from the repository root,
#                                       # carrying build/gpu-session and
#                                       # build/bin/hybrid-run
#
# run: the fixtures compiled with --target=cuda against transformers'
# reference logits (as EndToEnd/cuda-vs-transformers.test checks them where
# hybridc and a GPU are on one machine), then, when torch imports,
# bench/gpu_delta_rule.py and bench/gpu_roofline.py. Every step runs even
# when one before failed; the exit status says whether all passed.
set -u
cd "$(dirname "$0")/.."
out=build/gpu-session
fixtures=test/fixtures

# fixture, hybridc flags, compare_logits.py arguments (tolerance, --bf16)
cases=(
  "qwen3_next_tiny||"
  "jamba_tiny||"
  "deepseek_v3_tiny||1e-2"
  "qwen3_next_bf16_tiles_tiny|--dtype=f32|2e-2 --bf16"
)

prepare() {
  set -e
  mkdir -p "$out"
  for case in "${cases[@]}"; do
    IFS='|' read -r name flags _ <<<"$case"
    # shellcheck disable=SC2086 # flags are words
    build/bin/hybridc "$fixtures/$name" --target=cuda $flags --max-seq-len=128 \
      -o "$out/$name.hyb" 2>/dev/null
  done
  python3 bench/gpu_delta_rule.py prepare --out "$out/gdn"
  python3 bench/gpu_roofline.py prepare --out "$out/models"
  du -sh "$out"
  echo "on the GPU machine: bash bench/gpu_session.sh run (carry $out and build/bin/hybrid-run)"
}

run() {
  local failed=0
  for case in "${cases[@]}"; do
    IFS='|' read -r name _ compare <<<"$case"
    echo "== $name on CUDA device 0 against transformers"
    if build/bin/hybrid-run "$out/$name.hyb" --device cuda \
        --prompt-ids "$(cat "$fixtures/$name/reference/prompt_ids.txt")" \
        --max-new-tokens 33 --logits-out "$out/$name.npy" >"$out/$name.out"; then
      # shellcheck disable=SC2086 # compare holds separate arguments
      python3 test/EndToEnd/Inputs/compare_logits.py "$fixtures/$name" \
        "$out/$name.npy" "$out/$name.out" $compare || failed=1
    else
      failed=1
    fi
  done
  if python3 -c "import torch" 2>/dev/null; then
    echo "== chunked Gated DeltaNet rule against flash-linear-attention"
    python3 bench/gpu_delta_rule.py run --dir "$out/gdn" || failed=1
    echo "== decode and prefill against the HBM and tensor-core rooflines"
    python3 bench/gpu_roofline.py run --dir "$out/models" || failed=1
  else
    echo "== torch does not import: the benchmarks are skipped"
    failed=1
  fi
  return $failed
}

case "${1:-}" in
  prepare) prepare ;;
  run) run ;;
  *) echo "usage: bash bench/gpu_session.sh prepare|run" >&2; exit 2 ;;
esac
