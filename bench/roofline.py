"""Benchmark, not a test: roofline fractions on this machine (issue item 6e).

Compiles bench/probes.c (clang-22) to measure, in the same run and
interleaved with the kernels, the f32 FMA peak and the read bandwidth of
this machine with --threads threads (both move by 2x on shared VMs). Then,
for the benchmark models of bench/configs.py (all-zero weights written
without torch; zero weights do the same work) compiled with --cpu native:

- decode: bytes a decode step must read (active weights without the
  embedding table, from `hybridc --report=json`, plus the LM head and the
  recurrent and conv state read and written) x tokens/s, against the bandwidth probed just before and after,
  and against an OpenBLAS f32 GEMV (numpy's BLAS) over as many bytes, run
  right after with the same threads;
- prefill: the largest linear kernel's GFLOP/s (from hybrid-run --profile),
  the chunked Gated DeltaNet rule's useful GFLOP/s (6 dk dv + C (4 dk + 2 dv)
  per token and head), and the whole model's (report FLOPs x tokens / prefill
  time), against the probed peak.

usage: python3 bench/roofline.py [--families qwen3_next,jamba,deepseek_v3]
           [--prompt 512] [--new 32] [--threads N] [--build build]
"""
import argparse
import json
import os
import re
import subprocess
import tempfile

from configs import CONFIGS
from zero_models import (DEFAULT_BUILD, HERE, compile_artifact, hybrid_run, kernel_times,
                         rates, tool, zero_checkpoint)


def probe(binary, what, threads):
    out = subprocess.run([binary, what, str(threads)], check=True, capture_output=True,
                         text=True).stdout
    return float(out.split()[1])


# numpy's BLAS (OpenBLAS in the PyPI wheels): W x over `rows` x `cols` f32,
# in a fresh process so that its thread count is set before it starts.
GEMV = """
import sys, time
import numpy as np
rows, cols = int(sys.argv[1]), int(sys.argv[2])
w = np.ones((rows, cols), np.float32)
x = np.ones(cols, np.float32)
w @ x
times = []
for _ in range(7):
    start = time.perf_counter()
    w @ x
    times.append(time.perf_counter() - start)
times.sort()
print(rows * cols * 4 / times[len(times) // 2] / 1e9)
"""


def blas_name():
    import numpy
    try:
        blas = numpy.show_config(mode="dicts")["Build Dependencies"]["blas"]
        return f"{blas['name']} {blas.get('version', '')}".strip()
    except Exception:  # older numpy: no dict form
        return "numpy's BLAS"


def blas_gemv(step_bytes, cols, threads):
    """GB/s of a median numpy GEMV reading about step_bytes (at most 1 GB)."""
    rows = max(1, min(step_bytes, 1 << 30) // (4 * cols))
    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(threads),
               OMP_NUM_THREADS=str(threads))
    out = subprocess.run(["python3", "-c", GEMV, str(rows), str(cols)], check=True,
                         capture_output=True, text=True, env=env).stdout
    return float(out)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--families", default="qwen3_next,jamba,deepseek_v3")
    parser.add_argument("--prompt", type=int, default=512)
    parser.add_argument("--new", type=int, default=32)
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--build", default=DEFAULT_BUILD)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        probes = os.path.join(scratch, "probes")
        subprocess.run(["clang-22", "-O2", "-march=native", os.path.join(HERE, "probes.c"),
                        "-o", probes, "-lpthread"], check=True)
        print(f"{args.threads} threads; prompt {args.prompt}, {args.new} new tokens; "
              "f32 weights")
        print("| model | measured | value | machine now | fraction |")
        print("|---|---|---|---|---|")
        for family in args.families.split(","):
            config = dict(CONFIGS[family], model_type=family, dtype="float32")
            folder = os.path.join(scratch, family)
            ir = zero_checkpoint(args.build, folder, config)
            report = json.loads(subprocess.run(
                [tool(args.build, "hybridc"), os.path.join(folder, "config.json"),
                 "--report=json"], check=True, capture_output=True, text=True).stdout)
            artifact = compile_artifact(args.build, folder, args.prompt + args.new)
            prompt = [(7 * i) % config["vocab_size"] for i in range(args.prompt)]

            before = probe(probes, "bandwidth", args.threads)
            out = hybrid_run(args.build, artifact, prompt, args.new, args.threads, "--profile")
            after = probe(probes, "bandwidth", args.threads)
            (prefill, decode), kernels = rates(out), kernel_times(out)
            peak = probe(probes, "peak", args.threads)
            bandwidth = (before + after) / 2

            # Decode reads every active weight once per token (of the
            # embedding table one row, of the head all of it), and the state
            # (recurrent and conv) once and writes it once.
            head = config["vocab_size"] * config["hidden_size"]
            step_bytes = 4 * (report["params_active_non_embedding"] + head) + \
                2 * report["state_bytes_per_seq"]
            print(f"| {family} | decode, batch 1 | {step_bytes * decode / 1e9:.1f} GB/s "
                  f"({decode:.1f} tok/s) | {bandwidth:.1f} GB/s read "
                  f"({before:.0f}, {after:.0f}) | {step_bytes * decode / 1e9 / bandwidth:.0%} |")
            gemv = blas_gemv(step_bytes, config["hidden_size"], args.threads)
            print(f"| {family} | decode, batch 1, against {blas_name()} GEMV "
                  f"({config['hidden_size']} columns, same bytes) | "
                  f"{step_bytes * decode / 1e9:.1f} GB/s | {gemv:.1f} GB/s GEMV | "
                  f"{step_bytes * decode / 1e9 / gemv:.0%} |")

            # The largest linear kernel of the prompt: its first call is the
            # prefill; later calls (decode) are subtracted by their mean.
            linears = [(name, c) for name, c in kernels.items()
                       if name.endswith(("proj", "proj_qkvz", "lm_head"))]
            name, (calls, _, total_ms) = max(linears, key=lambda item: item[1][2])
            module = name.split("__")[1].replace("_", ".")
            weight = name.split("__")[-1]
            shape = None
            for line in open(ir):
                m = re.search(r'hybrid.weight "([^"]+)" : tensor<(\d+)x(\d+)x', line)
                if m and m.group(1).endswith(weight + ".weight") and \
                        m.group(1).replace("_", ".").startswith(module.split(".weight")[0]):
                    shape = (int(m.group(2)), int(m.group(3)))
                    break
            if shape:
                # Total time minus the decode calls at the per-token cost of
                # a one-token call, estimated from the weight bytes.
                flops = 2.0 * args.prompt * shape[0] * shape[1]
                decode_ms = (calls - 1) * 4 * shape[0] * shape[1] / (bandwidth * 1e6)
                gflops = flops / max(total_ms - decode_ms, 1e-3) / 1e6
                print(f"| {family} | prefill linear {weight} {shape[0]}x{shape[1]} "
                      f"| {gflops:.0f} GFLOP/s | {peak:.0f} GFLOP/s peak | {gflops / peak:.0%} |")

            rules = [c for name, c in kernels.items() if name.endswith("__delta_rule")]
            if rules:
                dk, dv = config["linear_key_head_dim"], config["linear_value_head_dim"]
                heads, chunk = config["linear_num_value_heads"], 64
                per_token = heads * (6 * dk * dv + chunk * (4 * dk + 2 * dv))
                layers = len(rules)
                ms = sum(c[2] for c in rules)
                gflops = layers * per_token * args.prompt / (ms * 1e6)
                print(f"| {family} | chunked Gated DeltaNet rule (incl. {args.new} decode "
                      f"steps) | {gflops:.1f} GFLOP/s | {peak:.0f} GFLOP/s peak "
                      f"| {gflops / peak:.1%} |")

            whole = report["flops_per_token"] * prefill / 1e9
            print(f"| {family} | whole-model prefill (linear FLOPs) | {whole:.0f} GFLOP/s "
                  f"({prefill:.0f} tok/s) | {peak:.0f} GFLOP/s peak | {whole / peak:.0%} |",
                  flush=True)


if __name__ == "__main__":
    main()
