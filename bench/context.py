"""Benchmark, not a test: decode time per token against context length
(issue item 6c), for the Qwen3-Next-shaped benchmark model (bench/configs.py:
3 Gated DeltaNet layers per attention layer) and the same model with every
layer full attention.

The context is made without running a long prompt: a one-token run saves
its state (hybrid-run --save-state), bench/snapshot_at.cpp (compiled here
with clang++-22) moves the saved position to L and writes the snapshot's
checksum again, and the decode run loads it (--load-state), so every decode
step attends over L cached positions (all-zero weights and caches: the work
is the same as with real ones). Decode tokens/s is measured over --new
tokens after that.

With --plot FILE.png it also draws the table (needs matplotlib from PyPI);
README.md links the one in bench/context.png.

usage: python3 bench/context.py [--contexts 1024,4096,16384,32768] [--new 32]
           [--threads N] [--build build] [--plot FILE.png]
"""
import argparse
import os
import subprocess
import tempfile

from configs import CONFIGS
from zero_models import DEFAULT_BUILD, compile_artifact, hybrid_run, rates, zero_checkpoint

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--contexts", default="1024,4096,16384,32768")
    parser.add_argument("--new", type=int, default=32)
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--build", default=DEFAULT_BUILD)
    parser.add_argument("--plot", help="also draw the table into this PNG (needs matplotlib)")
    args = parser.parse_args()
    if args.plot:
        try:
            import matplotlib
        except ImportError:
            parser.error("--plot needs matplotlib (pip install matplotlib)")
        matplotlib.use("Agg")
    contexts = [int(c) for c in args.contexts.split(",")]
    hybrid = dict(CONFIGS["qwen3_next"], model_type="qwen3_next", dtype="float32")
    attention = dict(hybrid, layer_types=["full_attention"] * hybrid["num_hidden_layers"])
    ms_per_token = {}
    with tempfile.TemporaryDirectory() as scratch:
        snapshot_at = os.path.join(scratch, "snapshot_at")
        subprocess.run(["clang++-22", "-std=c++20", "-O2",
                        "-I", os.path.join(HERE, "..", "runtime", "schemas"),
                        os.path.join(HERE, "snapshot_at.cpp"), "-o", snapshot_at], check=True)
        for label, config in (("Qwen3-Next-shaped (GDN 3:1 attention)", hybrid),
                              ("all attention", attention)):
            ms_per_token[label] = decode_ms(args, config, contexts, snapshot_at)
    print(f"{args.threads} threads, {args.new} decode tokens per context, f32")
    print("| model | " + " | ".join(f"{c} ctx ms/token" for c in contexts) + " | growth |")
    print("|---|" + "---|" * (len(contexts) + 1))
    for label, ms in ms_per_token.items():
        print(f"| {label} | " + " | ".join(f"{m:.1f}" for m in ms) +
              f" | {ms[-1] / ms[0]:.2f}x |")
    if args.plot:
        plot(args.plot, contexts, ms_per_token, args.threads)


def decode_ms(args, config, contexts, snapshot_at):
    """Decode ms per token of the model `config` after each context."""
    with tempfile.TemporaryDirectory() as folder:
        zero_checkpoint(args.build, folder, config)
        artifact = compile_artifact(args.build, folder, max(contexts) + args.new + 2)
        state = os.path.join(folder, "one.state")
        hybrid_run(args.build, artifact, [1], 0, args.threads, "--save-state", state)
        at = os.path.join(folder, "at.state")
        ms = []
        for context in contexts:
            subprocess.run([snapshot_at, state, str(context), at], check=True)
            out = hybrid_run(args.build, artifact, [2], args.new, args.threads,
                             "--load-state", at)
            ms.append(1000.0 / rates(out)[1])
        return ms


def plot(path, contexts, ms_per_token, threads):
    import matplotlib.pyplot as plt
    figure, axes = plt.subplots(figsize=(7, 4.2))
    for label, ms in ms_per_token.items():
        axes.plot(contexts, ms, marker="o", label=label)
    axes.set_xscale("log", base=2)
    axes.set_xticks(contexts, [f"{c // 1024}k" for c in contexts])
    axes.set_xlabel("context (cached positions)")
    axes.set_ylabel("decode ms per token")
    axes.set_ylim(bottom=0)
    axes.set_title(f"HybridC decode time vs context, {threads} threads, f32")
    axes.grid(True, alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    print(f"plot: {path}")


if __name__ == "__main__":
    main()
