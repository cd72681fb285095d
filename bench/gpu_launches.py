"""Kernel launches of the CUDA target per decode step and per prompt, on
any machine: the benchmark models of bench/configs.py (all-zero bf16
weights) compiled with --target=cuda --cuda-arch=sm_80 (PTX, which the
stand-in driver reads) and run by hybrid-run through the stand-in
libcuda.so.1 of the tests (build/test/fake-cuda, test/Runtime/fake_cuda.c),
which checks every launch and counts them. Not a timing: at batch 1 each
launch costs a GPU some microseconds however small its kernel, so the count
bounds decode's speed on small models.

A call with N new tokens is the prompt plus N - 1 decode steps; a step's
launches are the difference between N = 2 and N = 1. With --batch B the
models are compiled with --max-batch B and run B sequences of the prompt
(hybrid-run --sequences B): "prompt" is then the B prompts' launches, and a
step is one decode call advancing all B sequences.

usage: python3 bench/gpu_launches.py [--families qwen3_next,jamba,deepseek_v3]
           [--prompt 8] [--batch 1] [--build build]
"""
import argparse
import os
import re
import subprocess
import tempfile

from configs import CONFIGS
from zero_models import DEFAULT_BUILD, tool, zero_checkpoint


def launches(build, artifact, prompt, new, batch):
    """The fake driver's count of checked launches for one hybrid-run."""
    env = dict(os.environ, LD_LIBRARY_PATH=os.path.join(build, "test", "fake-cuda"))
    ids = ",".join(str(i + 1) for i in range(prompt))
    run = subprocess.run([tool(build, "hybrid-run"), artifact, "--device", "cuda",
                          "--prompt-ids", ids, "--max-new-tokens", str(new),
                          "--sequences", str(batch)],
                         env=env, capture_output=True, text=True)
    found = re.search(r"fake-cuda: (\d+) launches checked", run.stderr)
    if run.returncode != 0 or not found:
        raise SystemExit("%s: hybrid-run through the stand-in driver failed:\n%s"
                         % (artifact, run.stderr))
    return int(found.group(1))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--families", default=",".join(CONFIGS))
    parser.add_argument("--prompt", type=int, default=8)
    parser.add_argument("--batch", type=int, default=1,
                        help="sequences per decode call (--max-batch)")
    parser.add_argument("--build", default=DEFAULT_BUILD)
    args = parser.parse_args()
    if args.batch < 1:
        raise SystemExit("--batch: %d is not a number of sequences" % args.batch)
    families = args.families.split(",")
    unknown = [f for f in families if f not in CONFIGS]
    if unknown:
        raise SystemExit("--families: unknown %s (known: %s)"
                         % (", ".join(unknown), ",".join(CONFIGS)))
    if not os.path.exists(os.path.join(args.build, "test", "fake-cuda", "libcuda.so.1")):
        raise SystemExit("%s/test/fake-cuda/libcuda.so.1: not built (ninja -C %s)"
                         % (args.build, args.build))
    print("%-12s %8s %12s" % ("model", "prompt", "decode step"))
    for family in families:
        config = dict(CONFIGS[family], model_type=family, dtype="bfloat16")
        with tempfile.TemporaryDirectory() as folder:
            zero_checkpoint(args.build, folder, config)
            artifact = os.path.join(folder, "model.hyb")
            subprocess.run([tool(args.build, "hybridc"), folder, "--target=cuda",
                            "--cuda-arch=sm_80", "-o", artifact, "--max-seq-len",
                            str(max(64, 2 * args.prompt)), "--max-batch",
                            str(args.batch)], check=True)
            prompt = launches(args.build, artifact, args.prompt, 1, args.batch)
            step = launches(args.build, artifact, args.prompt, 2, args.batch) - prompt
        print("%-12s %8d %12d" % (family, prompt, step))


if __name__ == "__main__":
    main()
