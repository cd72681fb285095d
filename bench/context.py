"""Benchmark, not a test: decode time per token against context length
(issue item 6c), for the Qwen3-Next-shaped benchmark model (bench/configs.py:
3 Gated DeltaNet layers per attention layer) and the same model with every
layer full attention.

The context is made without running a long prompt: a one-token run saves
its state (hybrid-run --save-state), the saved position is moved to L, and
the decode run loads it (--load-state), so every decode step attends over L
cached positions (all-zero weights and caches: the work is the same as with
real ones). Decode tokens/s is measured over --new tokens after that.

usage: python3 bench/context.py [--contexts 1024,4096,16384,32768] [--new 32]
           [--threads N] [--build build]
"""
import argparse
import json
import os
import re
import struct
import subprocess
import sys
import tempfile

from configs import CONFIGS

HERE = os.path.dirname(os.path.abspath(__file__))
MAKE_CHECKPOINT = os.path.join(HERE, "..", "test", "Frontends", "HF", "Inputs",
                               "make_checkpoint.py")
POSITION_OFFSET = 16  # runtime snapshot file: magic, version, state table, position


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--contexts", default="1024,4096,16384,32768")
    parser.add_argument("--new", type=int, default=32)
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--build", default=os.path.join(HERE, "..", "build"))
    args = parser.parse_args()
    contexts = [int(c) for c in args.contexts.split(",")]
    hybridc = os.path.join(args.build, "bin", "hybridc")
    run = os.path.join(args.build, "bin", "hybrid-run")
    hybrid = dict(CONFIGS["qwen3_next"], model_type="qwen3_next", dtype="float32")
    attention = dict(hybrid, layer_types=["full_attention"] * hybrid["num_hidden_layers"])
    rates = {}
    with tempfile.TemporaryDirectory() as scratch:
        for label, config in (("Qwen3-Next-shaped (GDN 3:1 attention)", hybrid),
                              ("all attention", attention)):
            folder = os.path.join(scratch, str(len(rates)))
            os.makedirs(folder)
            with open(os.path.join(folder, "config.json"), "w") as f:
                json.dump(config, f)
            ir = os.path.join(folder, "model.mlir")
            subprocess.run([hybridc, os.path.join(folder, "config.json"), "--emit=hybrid",
                            "-o", ir], check=True)
            subprocess.run([sys.executable, MAKE_CHECKPOINT, ir, folder, "valid"], check=True)
            artifact = os.path.join(folder, "model.hyb")
            subprocess.run([hybridc, folder, "-o", artifact, "--cpu", "native",
                            "--max-seq-len", str(max(contexts) + args.new + 2)], check=True)
            state = os.path.join(folder, "one.state")
            subprocess.run([run, artifact, "--prompt-ids", "1", "--max-new-tokens", "0",
                            "--save-state", state], check=True, capture_output=True)
            data = bytearray(open(state, "rb").read())
            rates[label] = []
            for context in contexts:
                data[POSITION_OFFSET:POSITION_OFFSET + 8] = struct.pack("<q", context)
                at = os.path.join(folder, "at.state")
                open(at, "wb").write(data)
                out = subprocess.run([run, artifact, "--prompt-ids", "2", "--load-state", at,
                                      "--max-new-tokens", str(args.new), "--threads",
                                      str(args.threads)],
                                     check=True, capture_output=True, text=True).stdout
                rates[label].append(
                    float(re.search(r"decode: \d+ tokens, ([0-9.]+) tokens/s", out).group(1)))
    print(f"{args.threads} threads, {args.new} decode tokens per context, f32")
    print("| model | " + " | ".join(f"{c} ctx ms/token" for c in contexts) + " | growth |")
    print("|---|" + "---|" * (len(contexts) + 1))
    for label, values in rates.items():
        ms = [1000.0 / v for v in values]
        print(f"| {label} | " + " | ".join(f"{m:.1f}" for m in ms) +
              f" | {ms[-1] / ms[0]:.2f}x |")


if __name__ == "__main__":
    main()
