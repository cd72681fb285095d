"""Benchmark, not a test: decode and prefill of the CUDA target against the
HBM-bandwidth and tensor-core rooflines measured on the same GPU (issue 4,
item 4).

Runs in two places:
  prepare (here; no GPU): the benchmark models of bench/configs.py with
    all-zero bf16 weights (zero weights do the same work), each compiled
    with --target=cuda and gzipped (the zeros shrink 600 MB to a few MB),
    its hybridc --report=json beside it, into OUT: <family>.hyb.gz for
    sm_90, <family>-<arch>.hyb.gz for the other --archs (sm_90a: the
    tiles as wgmma warpgroup products, against sm_90's mma.sync in the
    same run); with --max-batch B above 1, compiled with batch slots
    instead, as <family>[-<arch>]-b<B>.hyb.gz. Carry OUT and
    build/bin/hybrid-run (it needs only libstdc++).
  run (on a machine with an NVIDIA GPU and torch): first, in this process,
    the HBM bandwidth (a device-to-device copy of 2 GiB: bytes read and
    written per second) and the bf16 tensor-core peak (an 8192^3 product).
    Then per model, hybrid-run --device cuda on a --prompt-token prompt with
    --new tokens after it:
    - decode: bytes a step must move (the active bf16 weights without the
      embedding table, the LM head, the recurrent and conv state read and
      written; the KV cache's reads, about 1 % at these lengths, left out)
      x tokens/s, against the bandwidth;
    - prefill: the report's linear FLOPs per token x tokens/s, against the
      peak; and the prompt's kernels alone (hybrid-run --profile with no
      decode step: CUDA events around each launch), against the prompt's
      wall time, which also holds the first call's device allocations.
    - decode again with HYBRID_CUDA_PDL=0: each kernel launched only once
      the one before it has completed, against the default programmatic
      dependent launch (sm_90: the next kernel launched while the one
      before it runs, waiting for it in its first instruction).
    A -b<B> artifact runs B sequences of the prompt (hybrid-run --sequences),
    their decode steps batched: the bytes a step moves (the weights once,
    the state B times) x steps/s, against the bandwidth. The sequences
    share the prompt and, greedy, every token: an MoE step reads the
    experts of one token, the best case.

usage: python3 bench/gpu_roofline.py prepare [--out DIR]
           [--families qwen3_next,jamba,deepseek_v3] [--archs sm_90]
           [--max-len 4096] [--max-batch 1] [--build build]
       python3 bench/gpu_roofline.py run [--dir DIR] [--prompt 1024]
           [--new 64] [--reps 3] [--build build]
"""
import argparse
import ctypes
import json
import os
import re
import subprocess
import tempfile

from configs import CONFIGS
from zero_models import (DEFAULT_BUILD, HERE, cuda_ms, matmul_tflops, pack, rates, tool,
                         unpack, zero_checkpoint)

DEFAULT_DIR = os.path.join(HERE, "..", "build", "bench-gpu")


def prepare(args):
    families = args.families.split(",")
    unknown = [f for f in families if f not in CONFIGS]
    if unknown:
        raise SystemExit("prepare: --families: unknown %s (known: %s)"
                         % (", ".join(unknown), ",".join(CONFIGS)))
    out = os.path.abspath(args.out)
    os.makedirs(out, exist_ok=True)
    for family in families:
        config = dict(CONFIGS[family], model_type=family, dtype="bfloat16")
        with tempfile.TemporaryDirectory() as folder:
            zero_checkpoint(args.build, folder, config)
            report = subprocess.run(
                [tool(args.build, "hybridc"), os.path.join(folder, "config.json"),
                 "--report=json"], check=True, capture_output=True, text=True).stdout
            with open(os.path.join(out, family + ".json"), "w") as f:
                json.dump({"config": config, "report": json.loads(report)}, f)
            for arch in args.archs.split(","):
                artifact = os.path.join(folder, "model.hyb")
                subprocess.run([tool(args.build, "hybridc"), folder, "--target=cuda",
                                "--cuda-arch", arch, "-o", artifact,
                                "--max-seq-len", str(args.max_len),
                                "--max-batch", str(args.max_batch)], check=True)
                packed = os.path.join(
                    out, family + ("" if arch == "sm_90" else "-" + arch) +
                    ("-b%d" % args.max_batch if args.max_batch > 1 else "") + ".hyb.gz")
                pack(artifact, packed)
                print("wrote %s (%.1f MB)" % (packed, os.path.getsize(packed) / 1e6))
    print("on the GPU machine: python3 bench/gpu_roofline.py run --dir %s" % out)


def rooflines(torch, reps):
    """(HBM GB/s, bf16 TFLOP/s) measured on this GPU."""
    source = torch.empty(1 << 31, dtype=torch.uint8, device="cuda")
    target = torch.empty_like(source)
    bandwidth = 2 * source.numel() / cuda_ms(torch, lambda: target.copy_(source), reps) / 1e6
    del source, target
    return bandwidth, matmul_tflops(torch, torch.bfloat16, reps)


def measure(args, artifact, config, batch):
    """(prefill, decode) tokens/s: the best of `reps` runs (of `batch`
    sequences); and, for one sequence, the prompt's kernels' total ms (one
    profiled run without decode steps) and decode's tokens/s with plain
    launches (HYBRID_CUDA_PDL=0, best of `reps`)."""
    prompt = ",".join(str((7 * i) % config["vocab_size"]) for i in range(args.prompt))
    run = lambda *flags, pdl="1": subprocess.run(
        [tool(args.build, "hybrid-run"), artifact, "--device", "cuda", "--prompt-ids",
         prompt, *flags], check=True, capture_output=True, text=True,
        env=dict(os.environ, HYBRID_CUDA_PDL=pdl)).stdout
    best = (0.0, 0.0)
    for _ in range(args.reps):
        prefill, decode = rates(run("--max-new-tokens", str(args.new),
                                    "--sequences", str(batch)))
        best = (max(best[0], prefill), max(best[1], decode))
    if batch > 1:
        return best + (None, None)
    profiled = re.search(r"\d+ dispatches of \d+ kernels, ([0-9.]+) ms",
                         run("--max-new-tokens", "1", "--profile"))
    if not profiled:
        raise SystemExit("run: no kernel total in hybrid-run --profile's output")
    plain = max(rates(run("--max-new-tokens", str(args.new), pdl="0"))[1]
                for _ in range(args.reps))
    return best + (float(profiled.group(1)), plain)


def run(args):
    import torch
    if not torch.cuda.is_available():
        raise SystemExit("run: torch sees no CUDA device")
    bandwidth, peak = rooflines(torch, args.reps)
    print("%s: HBM %.0f GB/s (2 GiB copy), bf16 tensor cores %.0f TFLOP/s (8192^3)"
          % (torch.cuda.get_device_name(), bandwidth, peak))
    # The runtime launches programmatically only on a 12.3 or later driver
    # (else both decode rows below are plain launches).
    version = ctypes.c_int(0)
    ctypes.CDLL("libcuda.so.1").cuDriverGetVersion(ctypes.byref(version))
    driver = version.value
    print("CUDA driver %d.%d: programmatic launches %s" % (
        driver // 1000, driver % 1000 // 10,
        "on (sm_90 artifacts)" if driver >= 12030 else "off (they need 12.3)"))
    print("| model | measured | value | roofline | fraction |")
    print("|---|---|---|---|---|")
    # Batch 1 first, the batched runs after (the longest, and the last to
    # lose to a timeout).
    models = sorted((f[:-len(".hyb.gz")] for f in os.listdir(args.dir)
                     if f.endswith(".hyb.gz")),
                    key=lambda m: (re.search(r"-b\d+$", m) is not None, m))
    if not models:
        raise SystemExit("run: no <family>.hyb.gz in %s (run prepare first)" % args.dir)
    with tempfile.TemporaryDirectory() as scratch:
        for model in models:
            family = model.split("-")[0]
            described_path = os.path.join(args.dir, family + ".json")
            if not os.path.exists(described_path):
                raise SystemExit("run: %s is missing (written by prepare next to %s.hyb.gz)"
                                 % (described_path, family))
            with open(described_path) as f:
                described = json.load(f)
            config, report = described["config"], described["report"]
            artifact = os.path.join(scratch, model + ".hyb")
            unpack(os.path.join(args.dir, model + ".hyb.gz"), artifact)
            batched = re.search(r"-b(\d+)$", model)
            batch = int(batched.group(1)) if batched else 1
            prefill, decode, kernels, plain = measure(args, artifact, config, batch)
            os.remove(artifact)
            # Decode reads every active weight once per step (of the
            # embedding table one row, of the head all of it) and each
            # sequence's state once, and writes it once.
            head = config["vocab_size"] * config["hidden_size"]
            step_bytes = 2 * (report["params_active_non_embedding"] + head) + \
                batch * 2 * report["state_bytes_per_seq"]
            moved = step_bytes * decode / batch / 1e9
            print("| %s | decode, batch %d | %.0f GB/s (%.0f tok/s) | %.0f GB/s HBM | %.0f%% |"
                  % (model, batch, moved, decode, bandwidth, 100 * moved / bandwidth))
            if batch > 1:
                continue
            print("| %s | decode, batch 1, plain launches (HYBRID_CUDA_PDL=0) | %.0f tok/s "
                  "| %.0f tok/s programmatic | %.2fx |"
                  % (model, plain, decode, decode / plain))
            flops = report["flops_per_token"] * prefill / 1e12
            print("| %s | prefill, %d tokens (linear FLOPs) | %.1f TFLOP/s (%.0f tok/s) "
                  "| %.0f TFLOP/s bf16 | %.1f%% |"
                  % (model, args.prompt, flops, prefill, peak, 100 * flops / peak))
            wall = 1000 * args.prompt / prefill
            print("| %s | prefill's kernels (--profile) | %.1f ms | %.1f ms wall | %.0f%% |"
                  % (model, kernels, wall, 100 * kernels / wall), flush=True)


def main():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("prepare")
    p.add_argument("--out", default=DEFAULT_DIR)
    p.add_argument("--families", default="qwen3_next,jamba,deepseek_v3")
    p.add_argument("--archs", default="sm_90",
                   help="comma-separated --cuda-arch values (sm_80, sm_90, sm_90a)")
    p.add_argument("--max-len", type=int, default=4096)
    p.add_argument("--max-batch", type=int, default=1,
                   help="above 1: artifacts with batch slots, run batched")
    p.add_argument("--build", default=DEFAULT_BUILD)
    r = sub.add_parser("run")
    r.add_argument("--dir", default=DEFAULT_DIR)
    r.add_argument("--prompt", type=int, default=1024)
    r.add_argument("--new", type=int, default=64)
    r.add_argument("--reps", type=int, default=3)
    r.add_argument("--build", default=DEFAULT_BUILD)
    args = parser.parse_args()
    {"prepare": prepare, "run": run}[args.command](args)


if __name__ == "__main__":
    main()
