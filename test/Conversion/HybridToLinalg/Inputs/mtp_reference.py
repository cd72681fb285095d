"""Reference for the execution test of hybrid.mtp's lowering (models.md 1.7,
3.8): y = concat(RMSNorm(e; enorm), RMSNorm(h; hnorm)) eh_proj^T, embedding
half first, for both norm kinds. Standard library only."""
import math
import random
import re
import sys

T, H, EPS = 4, 6, 1e-6


def weights():
    rng = random.Random(21)
    mat = lambda r, c: [[rng.uniform(-1, 1) for _ in range(c)] for _ in range(r)]
    return dict(h=mat(T, H), e=mat(T, H), enorm=[rng.uniform(-0.5, 1.5) for _ in range(H)],
                hnorm=[rng.uniform(-0.5, 1.5) for _ in range(H)], proj=mat(H, 2 * H))


def reference(w, zero_centered):
    def norm(v, g):
        inv = 1.0 / math.sqrt(sum(x * x for x in v) / len(v) + EPS)
        return [x * inv * ((1.0 + gg) if zero_centered else gg) for x, gg in zip(v, g)]
    rows = []
    for e, h in zip(w["e"], w["h"]):
        cat = norm(e, w["enorm"]) + norm(h, w["hnorm"])
        rows.append([sum(a * b for a, b in zip(cat, wr)) for wr in w["proj"]])
    return rows


def dense(rows):
    if not isinstance(rows[0], list):
        return "[" + ", ".join("%.9e" % v for v in rows) + "]"
    return "[" + ", ".join(dense(r) for r in rows) + "]"


def emit():
    w = weights()
    act = f"tensor<?x{H}xf32>"
    lines = ["func.func private @printMemrefF32(memref<*xf32>)", "func.func @main() {"]
    for name in ("h", "e"):
        lines += [f"  %{name}0 = arith.constant dense<{dense(w[name])}> : tensor<{T}x{H}xf32>",
                  f"  %{name} = tensor.cast %{name}0 : tensor<{T}x{H}xf32> to {act}"]
    lines += [f"  %en = arith.constant dense<{dense(w['enorm'])}> : tensor<{H}xf32>",
              f"  %hn = arith.constant dense<{dense(w['hnorm'])}> : tensor<{H}xf32>",
              f"  %p = arith.constant dense<{dense(w['proj'])}> : tensor<{H}x{2*H}xf32>"]
    for kind in ("plain", "zero_centered"):
        lines += [f"  %{kind} = hybrid.mtp {kind} %h, %e enorm(%en) hnorm(%hn) eh_proj(%p) {{epsilon = {EPS:.6e} : f64}} : ({act}, {act}, tensor<{H}xf32>, tensor<{H}xf32>, tensor<{H}x{2*H}xf32>) -> {act}",
                  f"  %{kind}_b = bufferization.to_buffer %{kind} : {act} to memref<?x{H}xf32>",
                  f"  %{kind}_u = memref.cast %{kind}_b : memref<?x{H}xf32> to memref<*xf32>",
                  f"  call @printMemrefF32(%{kind}_u) : (memref<*xf32>) -> ()"]
    print("\n".join(lines + ["  return", "}"]))


def check():
    blocks = [p.split("Unranked")[0] for p in sys.stdin.read().split("data =")[1:]]
    ok = len(blocks) == 2
    for block, zero in zip(blocks, (False, True)):
        got = [[float(v) for v in r.split(",")] for r in re.findall(r"\[([-0-9.e+, ]+)\]", block)]
        want = reference(weights(), zero)
        scale = max(abs(v) for r in want for v in r)
        err = max(abs(g - x) for gr, wr in zip(got, want) for g, x in zip(gr, wr)) / scale
        ok &= len(got) == T and err <= 1e-5
        print("%s max relative error %.3g" % ("zero_centered" if zero else "plain", err))
    print("PASS" if ok else "FAIL")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    {"emit": emit, "check": check}[sys.argv[1]]()
