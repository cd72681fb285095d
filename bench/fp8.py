"""Benchmark, not a test: DeepSeek-V3's fp8 weights read packed against the
same model in bf16 and against reading them in the checkpoint's layout.

The DeepSeek-V3-shaped benchmark model of bench/configs.py (all-zero
weights written without torch; zero weights do the same work), compiled
with --cpu native in three forms and run on one prompt, then decode:

- fp8: `quantization_config` fp8 e4m3fn with blocks of 128 x 128 (the real
  model's), packed weights: every linear and expert kernel reads the fp8
  bytes and decodes, scales and rounds each weight as it loads it;
- fp8 unpacked (--pack-weights=false, the layout --weights=external maps):
  the dot-product kernels read the fp8 bytes of each [out, in] row and
  decode them the same way;
- bf16: the same model with bf16 weights, packed.

Printed: prefill and decode tokens/s of each, and the ratios fp8 / bf16
(decode reads half the weight bytes; the decode arithmetic is what it
costs) and fp8 / fp8 unpacked.

usage: python3 bench/fp8.py [--prompt 128] [--new 32] [--threads N] [--build build]
"""
import argparse
import os
import tempfile

from configs import CONFIGS
from zero_models import DEFAULT_BUILD, compile_artifact, hybrid_run, rates, zero_checkpoint

FP8 = dict(quant_method="fp8", fmt="e4m3", activation_scheme="dynamic",
           weight_block_size=[128, 128])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--prompt", type=int, default=128)
    parser.add_argument("--new", type=int, default=32)
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--build", default=DEFAULT_BUILD)
    args = parser.parse_args()
    base = dict(CONFIGS["deepseek_v3"], model_type="deepseek_v3", dtype="bfloat16")
    forms = {"fp8": (dict(base, quantization_config=FP8), ()),
             "fp8 unpacked": (dict(base, quantization_config=FP8), ("--pack-weights=false",)),
             "bf16": (base, ())}
    prompt = [(7 * i) % base["vocab_size"] for i in range(args.prompt)]
    results = {}
    for label, (config, flags) in forms.items():
        with tempfile.TemporaryDirectory() as folder:
            zero_checkpoint(args.build, folder, config)
            artifact = compile_artifact(args.build, folder, args.prompt + args.new + 1,
                                        *flags)
            results[label] = rates(hybrid_run(args.build, artifact, prompt, args.new,
                                              args.threads))
    print(f"DeepSeek-V3-shaped benchmark model, {args.threads} threads, "
          f"prompt {args.prompt} tokens, {args.new} decode steps")
    print("| weights | prefill tokens/s | decode tokens/s |")
    print("|---|---|---|")
    for label, (prefill, decode) in results.items():
        print(f"| {label} | {prefill:.1f} | {decode:.1f} |")
    for other in ("bf16", "fp8 unpacked"):
        print(f"fp8 / {other}: prefill {results['fp8'][0] / results[other][0]:.2f}x, "
              f"decode {results['fp8'][1] / results[other][1]:.2f}x")


if __name__ == "__main__":
    main()
