"""Compares hybrid-run's --logits-out with transformers' reference logits and
its generated ids with transformers' greedy continuation.

usage: compare_logits.py FIXTURE_DIR OURS.npy HYBRID_RUN_OUTPUT [TOLERANCE]
                         [--bf16]
Prints the max |ours - transformers| / max |logit| over the prompt and
whether the greedy ids match; fails above TOLERANCE (1e-4 unless given:
f32 kernels) or on any differing id. --bf16, for kernels that round
activations to bf16: TOLERANCE bounds the median over prompt positions of
each position's largest error (a few positions may move more, as when
rounding flips an expert choice), and a differing continuation is
reported but not a failure (the rounding exceeds the fixtures' greedy
margins, reference/greedy_min_margin.txt). Standard library only."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fixture_program import load_npy  # noqa: E402

args = [a for a in sys.argv[1:] if a != "--bf16"]
bf16 = len(args) != len(sys.argv) - 1
if len(args) not in (3, 4) or any(a.startswith("--") for a in args):
    sys.exit(__doc__)
folder, ours, run_output = args[:3]
tolerance = float(args[3]) if len(args) > 3 else 1e-4
want = load_npy(os.path.join(folder, "reference", "prompt_logits.npy"))
got = load_npy(ours)
if len(got) != len(want) or any(len(g) != len(w) for g, w in zip(got, want)):
    sys.exit("shape mismatch: %d x %d vs %d x %d" % (len(got), len(got[0]), len(want), len(want[0])))
scale = max(abs(v) for r in want for v in r)
errors = sorted(max(abs(g - w) for g, w in zip(gr, wr)) / scale
                for gr, wr in zip(got, want))
err = errors[-1]
median = errors[len(errors) // 2]
reference = open(os.path.join(folder, "reference", "greedy_ids.txt")).read().strip()
generated = open(run_output).read().splitlines()[0].strip()
name = os.path.basename(folder.rstrip("/"))
print("%s: prompt logits max relative error %.3g%s; greedy continuation %s"
      % (name, err, " (median over positions %.3g)" % median if bf16 else "",
         "identical" if generated == reference else "DIFFERS"))
if (median if bf16 else err) > tolerance or (not bf16 and generated != reference):
    print("ours:         " + generated + "\ntransformers: " + reference)
    sys.exit("FAIL")
print("PASS")
