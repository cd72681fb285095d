"""Benchmark, not a test: AVX512-BF16's dot product against f32 FMAs for
bf16 checkpoints on this CPU, in the same script. The benchmark models of
bench/configs.py with all-zero bf16 weights, compiled twice by hybridc
--cpu native: as it builds them by default on a CPU with AVX512-BF16
(--bf16-dot: linear layers and experts two inputs at a time, x rounded to
bf16) and with --bf16-dot=false (x in f32, the weights widened to f32 for
FMAs); the two artifacts alternate --reps times, the best prefill and
decode tokens/s of each and their ratio, and with --profile the prefill's
milliseconds in the kernels the dot products change: the linear layers
and experts, and prompt attention over the bf16 KV cache (scores and P V;
MLA's expanded form too). The rest of the model is the same code.

usage: python3 bench/bf16_dot.py [--build build]
           [--families qwen3_next,jamba,deepseek_v3] [--prompts 512,4000]
           [--new 17] [--reps 3] [--threads N]
"""
import argparse
import os
import subprocess
import sys
import tempfile

from configs import CONFIGS
from zero_models import (DEFAULT_BUILD, compile_artifact, families_and_prompts,
                         hybrid_run, kernel_times, rates, zero_checkpoint)

# Kernel names (after the layer prefix) of the linear layers and experts,
# and of prompt attention: what bf16-dot changes. The rest (decode
# attention, scans, norms, routing) is the same code in both artifacts.
PRODUCTS = ("proj", "expert_gate_up", "expert_down", "lm_head", "_bf16_input")
ATTENTION = ("attention_prompt",)


def kernels_ms(out, parts):
    """The prefill's total milliseconds in the kernels named by `parts`."""
    return sum(ms for name, (_, _, ms) in kernel_times(out).items()
               if any(part in name for part in parts))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--build", default=DEFAULT_BUILD)
    parser.add_argument("--families", default=",".join(CONFIGS))
    parser.add_argument("--prompts", default="512,4000")
    parser.add_argument("--new", type=int, default=17,
                        help="new tokens per run: the prompt, then new - 1 decode steps")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    args = parser.parse_args()
    families, prompts = families_and_prompts(parser, args, CONFIGS)
    if args.reps < 1 or args.new < 1 or args.threads < 1:
        parser.error("--reps, --new and --threads: must be at least 1")
    print(f"{args.threads} threads, bf16 weights, best of {args.reps} alternating runs; "
          "products: the prefill's linear-layer and expert kernels, attention: its "
          "prompt attention kernels, ms (--profile)")
    print("| model | prompt | prefill tok/s f32 FMAs | bf16 dot | ratio "
          "| products ms f32 FMAs | bf16 dot | ratio "
          "| attention ms f32 FMAs | bf16 dot | ratio "
          "| decode tok/s f32 FMAs | bf16 dot | ratio |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as scratch:
        for family in families:
            folder = os.path.join(scratch, family)
            zero_checkpoint(args.build, folder,
                            dict(CONFIGS[family], model_type=family, dtype="bfloat16"))
            length = max(prompts) + args.new + 2
            try:
                artifacts = [
                    compile_artifact(args.build, folder, length, "--bf16-dot=false",
                                     name="fma.hyb"),
                    compile_artifact(args.build, folder, length, "--bf16-dot",
                                     name="dot.hyb")]
            except subprocess.CalledProcessError:
                sys.exit("hybridc --cpu native --bf16-dot failed (above): this "
                         "benchmark needs a CPU with AVX512-BF16")
            for prompt in prompts:
                ids = [i % 1000 + 1 for i in range(prompt)]
                best = [[0.0, 0.0, float("inf"), float("inf")] for _ in artifacts]
                for _ in range(args.reps):
                    for which, artifact in enumerate(artifacts):
                        out = hybrid_run(args.build, artifact, ids, args.new, args.threads)
                        prefill, decode = rates(out)
                        # The prompt alone, profiled: its products' time.
                        profiled = hybrid_run(args.build, artifact, ids, 1, args.threads,
                                              "--profile")
                        b = best[which]
                        best[which] = [max(b[0], prefill), max(b[1], decode),
                                       min(b[2], kernels_ms(profiled, PRODUCTS)),
                                       min(b[3], kernels_ms(profiled, ATTENTION))]
                (p0, d0, m0, a0), (p1, d1, m1, a1) = best
                attention = (f"| {a0:.1f} | {a1:.1f} | {a0 / a1:.2f}x " if a1 > 0
                             else "| - | - | - ")
                print(f"| {family} | {prompt} | {p0:.1f} | {p1:.1f} | {p1 / p0:.2f}x "
                      f"| {m0:.1f} | {m1:.1f} | {m0 / m1:.2f}x "
                      + attention +
                      f"| {d0:.1f} | {d1:.1f} | {d1 / d0:.2f}x |", flush=True)


if __name__ == "__main__":
    main()
