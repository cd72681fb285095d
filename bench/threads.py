"""Benchmark, not a test: how HybridC's kernels scale with threads.

For each family it writes a checkpoint of the benchmark model (bench/
configs.py) with all-zero weights (standard library only: no torch needed),
compiles it, and runs hybrid-run at --prompt / --new tokens with one thread
and with --threads threads, printing prefill and decode tokens/s and the
speed-up. Zero weights do not change the work the kernels do: routing ties
still pick top-k experts.

usage: python3 bench/threads.py [--families qwen3_next,jamba,deepseek_v3]
           [--prompt 512] [--new 128] [--threads N] [--build build]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

from configs import CONFIGS

HERE = os.path.dirname(os.path.abspath(__file__))
MAKE_CHECKPOINT = os.path.join(HERE, "..", "test", "Frontends", "HF", "Inputs",
                               "make_checkpoint.py")


def run(args, threads, artifact, prompt):
    out = subprocess.run([os.path.join(args.build, "bin", "hybrid-run"), artifact,
                          "--prompt-ids", ",".join(map(str, prompt)),
                          "--max-new-tokens", str(args.new), "--json",
                          "--threads", str(threads)],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--families", default="qwen3_next,jamba,deepseek_v3")
    parser.add_argument("--prompt", type=int, default=512)
    parser.add_argument("--new", type=int, default=128)
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--build", default=os.path.join(HERE, "..", "build"))
    args = parser.parse_args()
    hybridc = os.path.join(args.build, "bin", "hybridc")
    print(f"| model | prefill tok/s, 1 thread | {args.threads} threads | speed-up "
          f"| decode tok/s, 1 thread | {args.threads} threads | speed-up |")
    print("|---|---|---|---|---|---|---|")
    for family in args.families.split(","):
        config = dict(CONFIGS[family], model_type=family, dtype="float32")
        prompt = [(7 * i) % config["vocab_size"] for i in range(args.prompt)]
        with tempfile.TemporaryDirectory() as folder:
            with open(os.path.join(folder, "config.json"), "w") as f:
                json.dump(config, f)
            ir = os.path.join(folder, "model.mlir")
            subprocess.run([hybridc, os.path.join(folder, "config.json"), "--emit=hybrid",
                            "-o", ir], check=True)
            subprocess.run([sys.executable, MAKE_CHECKPOINT, ir, folder, "valid"], check=True)
            artifact = os.path.join(folder, "model.hyb")
            subprocess.run([hybridc, folder, "-o", artifact, "--cpu", "native",
                            "--max-seq-len", str(args.prompt + args.new)], check=True)
            one = run(args, 1, artifact, prompt)
            many = run(args, args.threads, artifact, prompt)
        p1, pn = one["prefill_tokens_per_second"], many["prefill_tokens_per_second"]
        d1, dn = one["decode_tokens_per_second"], many["decode_tokens_per_second"]
        print(f"| {family} | {p1:.1f} | {pn:.1f} | {pn / p1:.2f}x | {d1:.1f} | {dn:.1f} "
              f"| {dn / d1:.2f}x |", flush=True)
    print(f"\nprompt {args.prompt} tokens, {args.new} new tokens.")


if __name__ == "__main__":
    main()
