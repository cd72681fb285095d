#!/usr/bin/env bash
# Sets everything up, then runs HybridC's main job on the bundled example: a
# tiny Qwen3-Next checkpoint written by transformers. Until the CPU backend
# lands, the main job is import + checks + report + the IR of each stage.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >/dev/null

model=examples/tiny-qwen3-next
mkdir -p build/examples
echo "== hybridc $model --report"
build/bin/hybridc "$model" --report
echo
echo "== hybridc $model --emit=hybrid -o build/examples/tiny-qwen3-next.hybrid.mlir"
build/bin/hybridc "$model" --emit=hybrid -o build/examples/tiny-qwen3-next.hybrid.mlir
grep -c 'hybrid\.' build/examples/tiny-qwen3-next.hybrid.mlir \
  | xargs printf '   %s lines with hybrid ops written\n'
echo "== hybrid-opt ... --convert-hybrid-to-linalg -o build/examples/tiny-qwen3-next.linalg.mlir"
build/bin/hybrid-opt build/examples/tiny-qwen3-next.hybrid.mlir --convert-hybrid-to-linalg \
  -o build/examples/tiny-qwen3-next.linalg.mlir
grep -c 'linalg.generic' build/examples/tiny-qwen3-next.linalg.mlir \
  | xargs printf '   %s linalg.generic ops (embedding, norms, dense MLP, every mixer with its state, MoE, head)\n'
echo
for config in examples/configs/*.json; do
  echo "== hybridc $config --report=json (totals)"
  build/bin/hybridc "$config" --report=json | grep -E '^  "params_(total|active|active_non_embedding|mtp)"'
done
