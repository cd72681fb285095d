#!/usr/bin/env bash
# Sets everything up, then runs HybridC's main job on the bundled example (a
# tiny Qwen3-Next checkpoint written by transformers): compile it into a .hyb
# artifact, run it with hybrid-run on the prompt transformers was given and
# compare with transformers' greedy continuation; then the report and the IR
# of each stage.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >/dev/null

model=examples/tiny-qwen3-next
mkdir -p build/examples
prompt=$(cat $model/reference/prompt_ids.txt)
echo "== hybridc $model -o build/examples/tiny-qwen3-next.hyb"
build/bin/hybridc "$model" -o build/examples/tiny-qwen3-next.hyb --max-seq-len=256
echo "== hybrid-run build/examples/tiny-qwen3-next.hyb --prompt-ids <the 67 reference ids> --max-new-tokens 33"
build/bin/hybrid-run build/examples/tiny-qwen3-next.hyb --prompt-ids "$prompt" \
  --max-new-tokens 33 | tee build/examples/tiny-qwen3-next.out
if [ "$(head -1 build/examples/tiny-qwen3-next.out)" = "$(cat $model/reference/greedy_ids.txt)" ]; then
  echo "   = transformers' greedy continuation"
else
  echo "   differs from transformers' greedy continuation: $(cat $model/reference/greedy_ids.txt)"
  exit 1
fi
echo
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
printf '   %s linalg.generic ops (embedding, norms, activations) and %s parallel loop nests (projections, mixers with their state, MoE)\n' \
  "$(grep -c 'linalg.generic' build/examples/tiny-qwen3-next.linalg.mlir)" \
  "$(grep -c 'scf.parallel' build/examples/tiny-qwen3-next.linalg.mlir)"
build/bin/hybridc "$model" --emit=linalg -o build/examples/tiny-qwen3-next.linalg.mlir
build/bin/hybridc "$model" --emit=llvm -o build/examples/tiny-qwen3-next.ll
echo "   hybridc --emit=linalg / --emit=llvm wrote build/examples/tiny-qwen3-next.{linalg.mlir,ll}"
echo
for config in examples/configs/*.json; do
  echo "== hybridc $config --report=json (totals)"
  build/bin/hybridc "$config" --report=json | grep -E '^  "params_(total|active|active_non_embedding|mtp)"'
done
