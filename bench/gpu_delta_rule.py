"""Benchmark, not a test: the CUDA target's chunked Gated DeltaNet rule
against flash-linear-attention's Triton kernel (issue 4, item 4).

Runs in two places:
  prepare (here; no GPU): writes a one-layer Qwen3-Next Gated DeltaNet model
    at the real head shape (16 k-heads, 32 v-heads, dk = dv = 128; hidden
    256 keeps the artifact small, and the rule's work does not depend on
    it) with all-zero weights (zero weights do the same work) and compiles
    it with --target=cuda once per chunk size into OUT/gdn-c<C>.hyb.gz
    (gzipped: the zeros shrink 10 MB to its code; chunks of 16, 32 and 64:
    all the tensor-core form; past 16 their buffers take more than 48 KiB
    of a block's shared memory, which the runtime opts in to). Carry OUT
    and build/bin/hybrid-run (it needs only libstdc++).
  run (on a machine with an NVIDIA GPU and torch): for each length T and
    each artifact of OUT, hybrid-run --device cuda --profile on a T-token
    prompt gives the chunked rule's kernels' time (delta_rule_prepare,
    delta_rule_chunks -- the walk -- and delta_rule_outputs, CUDA events).
    In the same process,
    flash-linear-attention's chunk_gated_delta_rule (when importable; carry
    its wheel otherwise) on [1, T, 32, 128] bf16 inputs with q and k
    repeated to the 32 value heads and the L2 norm in the kernel, as
    transformers calls it, timed with CUDA events, and a bf16 and a tf32
    matrix product of 8192^3 (the tensor-core rooflines). Prints the
    kernels' times, ours over fla's for each chunk size, and the useful
    TFLOP/s (6 dk dv per token and head: the products with the state) of
    fla and of our fastest chunk size, against the rooflines; then each
    kernel's share.

usage: python3 bench/gpu_delta_rule.py prepare [--out DIR] [--max-len 32768]
           [--chunks 16,32,64] [--build build]
       python3 bench/gpu_delta_rule.py run [--dir DIR]
           [--lengths 4096,8192,16384,32768] [--reps 5] [--build build]
"""
import argparse
import glob
import os
import re
import subprocess
import tempfile

from zero_models import (DEFAULT_BUILD, HERE, cuda_ms, kernel_times, matmul_tflops, pack,
                         tool, unpack, zero_checkpoint)

HEADS, DK, DV = 32, 128, 128
CONFIG = dict(
    model_type="qwen3_next", vocab_size=1000, hidden_size=256, num_hidden_layers=1,
    layer_types=["linear_attention"], mlp_only_layers=[0], intermediate_size=256,
    num_attention_heads=16, num_key_value_heads=2, head_dim=256,
    linear_num_key_heads=16, linear_num_value_heads=HEADS, linear_key_head_dim=DK,
    linear_value_head_dim=DV, linear_conv_kernel_dim=4, num_experts=4,
    num_experts_per_tok=2, moe_intermediate_size=64, shared_expert_intermediate_size=64,
    dtype="bfloat16")
# The chunked rule's kernels: the parallel per-(head, chunk) preparation,
# the walk over the chunks, the parallel per-(head, chunk) outputs.
KERNELS = ("__delta_rule_prepare", "__delta_rule_chunks", "__delta_rule_outputs")


def prepare(args):
    out = os.path.abspath(args.out)
    os.makedirs(out, exist_ok=True)
    try:
        chunks = [int(c) for c in args.chunks.split(",")]
    except ValueError:
        raise SystemExit("prepare: --chunks: expected sizes like 16,32,64, got %r"
                         % args.chunks)
    with tempfile.TemporaryDirectory() as folder:
        zero_checkpoint(args.build, folder, CONFIG)
        for chunk in chunks:
            artifact = os.path.join(folder, "gdn.hyb")
            subprocess.run([tool(args.build, "hybridc"), folder, "--target=cuda", "-o",
                            artifact, "--max-seq-len", str(args.max_len + 1),
                            "--scan-chunk-size", str(chunk)], check=True)
            packed = os.path.join(out, "gdn-c%d.hyb.gz" % chunk)
            pack(artifact, packed)
            print("wrote %s (%.1f MB)" % (packed, os.path.getsize(packed) / 1e6))
    print("on the GPU machine: python3 bench/gpu_delta_rule.py run --dir %s" % out)


def artifacts(folder):
    """{chunk size: path} of the packed artifacts `prepare` wrote."""
    found = {}
    for path in glob.glob(os.path.join(folder, "gdn-c*.hyb.gz")):
        found[int(re.search(r"gdn-c(\d+)\.hyb\.gz$", path).group(1))] = path
    if not found:
        raise SystemExit("run: no gdn-c<chunk>.hyb.gz in %s (run prepare first)" % folder)
    return dict(sorted(found.items()))


def ours_ms(args, artifact, length):
    """The chunked rule's kernels' time for a `length`-token prefill, the
    fastest of `reps` runs (each a fresh process: its first call), and
    that run's {kernel: ms}."""
    prompt = ",".join(str((7 * i) % 1000) for i in range(length))
    best = None
    for _ in range(args.reps):
        out = subprocess.run([tool(args.build, "hybrid-run"), artifact, "--device",
                              "cuda", "--prompt-ids", prompt, "--max-new-tokens", "1",
                              "--profile"], check=True, capture_output=True,
                             text=True).stdout
        split = {kernel: sum(t for name, (_, _, t) in kernel_times(out).items()
                             if name.endswith(kernel)) for kernel in KERNELS}
        ms = sum(split.values())
        if ms == 0:
            raise SystemExit("no %s kernels in hybrid-run --profile's output"
                             % " or ".join(KERNELS))
        if best is None or ms < best[0]:
            best = (ms, split)
    return best


def rooflines(torch, reps):
    """{'bf16': TFLOP/s, 'tf32': TFLOP/s} of 8192^3 products on random data."""
    return {"bf16": matmul_tflops(torch, torch.bfloat16, reps),
            "tf32": matmul_tflops(torch, torch.float32, reps, tf32=True)}


def fla_kernel():
    try:
        from fla.ops.gated_delta_rule import chunk_gated_delta_rule
        return chunk_gated_delta_rule
    except ImportError:
        return None


def fla_ms(torch, kernel, length, reps):
    rng = torch.Generator(device="cuda").manual_seed(0)
    shape = (1, length, HEADS, DK)
    q = torch.randn(shape, device="cuda", dtype=torch.bfloat16, generator=rng)
    k = torch.randn(shape, device="cuda", dtype=torch.bfloat16, generator=rng)
    v = torch.randn((1, length, HEADS, DV), device="cuda", dtype=torch.bfloat16, generator=rng)
    # Log decays in (-1, 0) and betas in (0, 1), as the layer's gates give.
    decay = -torch.rand((1, length, HEADS), device="cuda", generator=rng)
    beta = torch.rand((1, length, HEADS), device="cuda", generator=rng).to(torch.bfloat16)
    return cuda_ms(torch, lambda: kernel(q, k, v, g=decay, beta=beta,
                                         output_final_state=True,
                                         use_qk_l2norm_in_kernel=True), reps)


def run(args):
    import torch
    if not torch.cuda.is_available():
        raise SystemExit("run: torch sees no CUDA device")
    peaks = rooflines(torch, args.reps)
    print("tensor-core rooflines (8192^3 products): bf16 %.0f TFLOP/s, tf32 %.0f TFLOP/s"
          % (peaks["bf16"], peaks["tf32"]))
    kernel = fla_kernel()
    if kernel is None:
        print("flash-linear-attention is not importable: ours only")
    scratch = tempfile.TemporaryDirectory()
    chunks = {}
    for chunk, packed in artifacts(args.dir).items():
        chunks[chunk] = os.path.join(scratch.name, "gdn-c%d.hyb" % chunk)
        unpack(packed, chunks[chunk])
    print("%7s %9s" % ("tokens", "fla ms") +
          "".join(" %18s" % ("chunk %d ms (/fla)" % c) for c in chunks) +
          " %13s %13s" % ("fla TFLOP/s", "best TFLOP/s"))
    splits = []
    for length in [int(n) for n in args.lengths.split(",")]:
        useful = 6 * DK * DV * HEADS * length / 1e9  # GFLOP
        theirs = fla_ms(torch, kernel, length, args.reps) if kernel else float("nan")
        ours = {c: ours_ms(args, path, length) for c, path in chunks.items()}
        print("%7d %9.3f" % (length, theirs) +
              "".join(" %9.3f (%5.2fx)" % (ms, ms / theirs) for ms, _ in ours.values()) +
              " %13.2f %13.2f" % (useful / theirs,
                                  useful / min(ms for ms, _ in ours.values())))
        splits += [(length, c, split) for c, (_, split) in ours.items()]
    print("each kernel's ms (prepare / walk / outputs):")
    for length, c, split in splits:
        print("%7d tokens, chunks of %d: %s" % (
            length, c, " / ".join("%.3f" % split[k] for k in KERNELS)))


def main():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("prepare")
    p.add_argument("--out", default=os.path.join(HERE, "..", "build", "bench-gdn"))
    p.add_argument("--max-len", type=int, default=32768)
    p.add_argument("--chunks", default="16,32,64")
    p.add_argument("--build", default=DEFAULT_BUILD)
    r = sub.add_parser("run")
    r.add_argument("--dir", default=os.path.join(HERE, "..", "build", "bench-gdn"))
    r.add_argument("--lengths", default="4096,8192,16384,32768")
    r.add_argument("--reps", type=int, default=5)
    r.add_argument("--build", default=DEFAULT_BUILD)
    args = parser.parse_args()
    {"prepare": prepare, "run": run}[args.command](args)


if __name__ == "__main__":
    main()
