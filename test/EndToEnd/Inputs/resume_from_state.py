"""Checks hybrid-run's --save-state / --load-state: a prompt run whole equals
the same prompt run as a saved prefix plus the rest (logits of the rest and
the greedy continuation). lit's shell cannot split a list, hence this script.

usage: resume_from_state.py HYBRID_RUN ARTIFACT IDS SPLIT NEW TMPDIR"""
import os
import struct
import subprocess
import sys

tool, artifact, ids, split, new, tmp = sys.argv[1:7]
ids, split = ids.split(","), int(split)


def run(prompt, *extra):
    out = subprocess.run([tool, artifact, "--prompt-ids", ",".join(prompt),
                          "--max-new-tokens", new, *extra],
                         capture_output=True, text=True)
    if out.returncode:
        sys.exit(out.stderr)
    return out.stdout.split("\n")[0]


def rows(path):
    data = open(path, "rb").read()
    header = data[10:10 + struct.unpack("<H", data[8:10])[0]].decode()
    shape = eval(header.split("'shape': ")[1].split(")")[0] + ")")
    body = data[10 + len(header):]
    values = struct.unpack("<%df" % (len(body) // 4), body)
    return [values[r * shape[1]:(r + 1) * shape[1]] for r in range(shape[0])]


state = os.path.join(tmp, "prefix.state")
whole_ids = run(ids, "--logits-out", os.path.join(tmp, "whole.npy"))
run(ids[:split], "--save-state", state)
rest_ids = run(ids[split:], "--load-state", state, "--logits-out",
               os.path.join(tmp, "rest.npy"))
whole, rest = rows(os.path.join(tmp, "whole.npy")), rows(os.path.join(tmp, "rest.npy"))
scale = max(abs(v) for r in whole for v in r)
err = max(abs(a - b) for ra, rb in zip(whole[split:], rest) for a, b in zip(ra, rb)) / scale
print("resumed logits: %d rows, max relative error %.3g" % (len(rest), err))
print("continuation:", "identical" if whole_ids == rest_ids else "DIFFERS")
# The two runs chunk the prompt differently (hybrid-tile-scans): equal up to
# the rounding of the chunked and step-by-step forms.
sys.exit(0 if err <= 1e-4 and whole_ids == rest_ids and len(rest) == len(ids) - split else 1)
