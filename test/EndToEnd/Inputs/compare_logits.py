"""Compares hybrid-run's --logits-out with transformers' reference logits and
its generated ids with transformers' greedy continuation.

usage: compare_logits.py FIXTURE_DIR OURS.npy HYBRID_RUN_OUTPUT [TOLERANCE]
Prints the max |ours - transformers| / max |logit| over the prompt and
whether the greedy ids match; fails above TOLERANCE (1e-4 unless given:
f32 kernels) or on any differing id. Standard library only."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fixture_program import load_npy  # noqa: E402

folder, ours, run_output = sys.argv[1:4]
tolerance = float(sys.argv[4]) if len(sys.argv) > 4 else 1e-4
want = load_npy(os.path.join(folder, "reference", "prompt_logits.npy"))
got = load_npy(ours)
if len(got) != len(want) or any(len(g) != len(w) for g, w in zip(got, want)):
    sys.exit("shape mismatch: %d x %d vs %d x %d" % (len(got), len(got[0]), len(want), len(want[0])))
scale = max(abs(v) for r in want for v in r)
err = max(abs(g - w) for gr, wr in zip(got, want) for g, w in zip(gr, wr)) / scale
reference = open(os.path.join(folder, "reference", "greedy_ids.txt")).read().strip()
generated = open(run_output).read().splitlines()[0].strip()
name = os.path.basename(folder.rstrip("/"))
print("%s: prompt logits max relative error %.3g; greedy continuation %s"
      % (name, err, "identical" if generated == reference else "DIFFERS"))
if err > tolerance or generated != reference:
    print("ours:         " + generated + "\ntransformers: " + reference)
    sys.exit("FAIL")
print("PASS")
