"""Benchmark, not a test: one build of HybridC against another (a baseline
commit's) on the CPU, in the same script: the benchmark models of
bench/configs.py (all-zero f32 weights, --cpu native) compiled by each
build's hybridc and run by this build's hybrid-run, the two artifacts
alternating --reps times, the best prefill and decode tokens/s of each and
their ratio. This VM's speed moves by tens of percent within minutes;
alternating runs see the same machine.

Make the baseline build from a worktree of the commit:
    git worktree add /tmp/base <commit>
    cmake -G Ninja -S /tmp/base -B /tmp/base/build -DCMAKE_BUILD_TYPE=Release \\
        -DCMAKE_CXX_COMPILER_LAUNCHER=ccache && ninja -C /tmp/base/build hybridc

usage: python3 bench/builds.py --baseline BUILD [--build build]
           [--families qwen3_next,jamba,deepseek_v3] [--prompts 512,4000]
           [--new 17] [--reps 3] [--threads N] [--batch B]

--batch B builds both artifacts with --max-batch B and runs B sequences of
the prompt (hybrid-run --sequences B): their decode steps batched.
"""
import argparse
import os
import tempfile

from configs import CONFIGS
from zero_models import (DEFAULT_BUILD, compile_artifact, families_and_prompts, hybrid_run,
                         rates, tool, zero_checkpoint)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--baseline", required=True, help="the baseline's build folder")
    parser.add_argument("--build", default=DEFAULT_BUILD)
    parser.add_argument("--families", default=",".join(CONFIGS))
    parser.add_argument("--prompts", default="512,4000")
    parser.add_argument("--new", type=int, default=17,
                        help="new tokens per run: the prompt, then new - 1 decode steps")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--batch", type=int, default=1,
                        help="sequences of the prompt, their decode steps batched")
    args = parser.parse_args()
    for build in (args.baseline, args.build):
        if not os.path.exists(tool(build, "hybridc")):
            parser.error(f"{tool(build, 'hybridc')}: not built")
    families, prompts = families_and_prompts(parser, args, CONFIGS)
    if args.reps < 1 or args.new < 1 or args.threads < 1 or args.batch < 1:
        parser.error("--reps, --new, --threads and --batch: must be at least 1")
    batched = ([f"--max-batch={args.batch}"], ["--sequences", str(args.batch)]) \
        if args.batch > 1 else ([], [])
    print(f"{args.threads} threads, f32 weights, {args.batch} sequence(s), "
          f"best of {args.reps} alternating runs")
    print("| model | prompt | prefill tok/s baseline | this build | ratio "
          "| decode tok/s baseline | this build | ratio |")
    print("|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as scratch:
        for family in families:
            folder = os.path.join(scratch, family)
            zero_checkpoint(args.build, folder,
                            dict(CONFIGS[family], model_type=family, dtype="float32"))
            length = max(prompts) + args.new + 2
            artifacts = [compile_artifact(build, folder, length, *batched[0], name=name)
                         for build, name in ((args.baseline, "baseline.hyb"),
                                             (args.build, "build.hyb"))]
            for prompt in prompts:
                ids = [i % 1000 + 1 for i in range(prompt)]
                best = [[0.0, 0.0], [0.0, 0.0]]
                for _ in range(args.reps):
                    for which, artifact in enumerate(artifacts):
                        out = hybrid_run(args.build, artifact, ids, args.new, args.threads,
                                         *batched[1])
                        best[which] = [max(b, r) for b, r in zip(best[which], rates(out))]
                (p0, d0), (p1, d1) = best
                print(f"| {family} | {prompt} | {p0:.1f} | {p1:.1f} | {p1 / p0:.2f}x "
                      f"| {d0:.1f} | {d1:.1f} | {d1 / d0:.2f}x |", flush=True)


if __name__ == "__main__":
    main()
