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
import tempfile

from configs import CONFIGS
from zero_models import DEFAULT_BUILD, compile_artifact, hybrid_run, zero_checkpoint


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--families", default="qwen3_next,jamba,deepseek_v3")
    parser.add_argument("--prompt", type=int, default=512)
    parser.add_argument("--new", type=int, default=128)
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--build", default=DEFAULT_BUILD)
    args = parser.parse_args()
    print(f"| model | prefill tok/s, 1 thread | {args.threads} threads | speed-up "
          f"| decode tok/s, 1 thread | {args.threads} threads | speed-up |")
    print("|---|---|---|---|---|---|---|")
    for family in args.families.split(","):
        config = dict(CONFIGS[family], model_type=family, dtype="float32")
        prompt = [(7 * i) % config["vocab_size"] for i in range(args.prompt)]
        with tempfile.TemporaryDirectory() as folder:
            zero_checkpoint(args.build, folder, config)
            artifact = compile_artifact(args.build, folder, args.prompt + args.new)
            one, many = (json.loads(hybrid_run(args.build, artifact, prompt, args.new,
                                               threads, "--json"))
                         for threads in (1, args.threads))
        p1, pn = one["prefill_tokens_per_second"], many["prefill_tokens_per_second"]
        d1, dn = one["decode_tokens_per_second"], many["decode_tokens_per_second"]
        print(f"| {family} | {p1:.1f} | {pn:.1f} | {pn / p1:.2f}x | {d1:.1f} | {dn:.1f} "
              f"| {dn / d1:.2f}x |", flush=True)
    print(f"\nprompt {args.prompt} tokens, {args.new} new tokens.")


if __name__ == "__main__":
    main()
