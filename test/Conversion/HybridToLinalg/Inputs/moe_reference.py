"""Reference for the execution test of hybrid.moe's lowering.

`emit` writes a program running three MoE blocks on the same 6 tokens:
  qwen:     softmax over 6 experts, top-2, renormalised, shared expert with a
            sigmoid gate (models.md 1.6);
  jamba:    softmax over 5 experts, top-2, not renormalised (2.6);
  deepseek: sigmoid over 8 experts with a selection-only bias, 4 groups
            scored by their top-2 sum, 2 kept, top-3, renormalised, x2.5,
            ungated shared expert (3.7);
  deepseek_negative: the same routing with a bias of about -1 on every
            expert, so that every selection score is negative: experts of
            dropped groups must never be chosen (transformers masks them
            with -inf; a mask of 0 would rank them first).
`check` computes the same in float64 and compares. It also reports the
smallest gap between the k-th and (k+1)-th selection score, so that a
routing decision never hangs on rounding. Standard library only.
"""
import math
import random
import re
import sys

T, H = 6, 8
CONFIGS = {
    "qwen": dict(E=6, k=2, inter=5, scoring="softmax", renorm=True, scale=1.0,
                 groups=1, kept=1, bias=False, shared=4, shared_gate=True),
    "jamba": dict(E=5, k=2, inter=7, scoring="softmax", renorm=False, scale=1.0,
                  groups=1, kept=1, bias=False, shared=0, shared_gate=False),
    "deepseek": dict(E=8, k=3, inter=3, scoring="sigmoid", renorm=True, scale=2.5,
                     groups=4, kept=2, bias=True, shared=6, shared_gate=False),
    "deepseek_negative": dict(E=8, k=3, inter=3, scoring="sigmoid", renorm=True,
                              scale=2.5, groups=4, kept=2, bias=True, shared=0,
                              shared_gate=False, bias_shift=-1.0),
}


def weights():
    rng = random.Random(5)
    mat = lambda r, c, s=0.8: [[rng.uniform(-s, s) for _ in range(c)] for _ in range(r)]
    w = {"x": mat(T, H, 1.0)}
    for name, c in CONFIGS.items():
        w[name] = dict(router=mat(c["E"], H, 1.5),
                       gate=[mat(c["inter"], H) for _ in range(c["E"])],
                       up=[mat(c["inter"], H) for _ in range(c["E"])],
                       down=[mat(H, c["inter"]) for _ in range(c["E"])],
                       bias=[rng.uniform(-0.3, 0.3) + c.get("bias_shift", 0.0)
                             for _ in range(c["E"])],
                       sgate=mat(c["shared"], H), sup=mat(c["shared"], H),
                       sdown=mat(H, c["shared"]), sg=mat(1, H))
    return w


def silu(v):
    return v / (1.0 + math.exp(-v))


def sigmoid(v):
    return 1.0 / (1.0 + math.exp(-v))


def linear(row, w):
    return [sum(a * b for a, b in zip(row, wr)) for wr in w]


def swiglu(x, g, u, d):
    return linear([silu(a) * b for a, b in zip(linear(x, g), linear(x, u))], d)


def moe(c, w, x):
    logits = linear(x, w["router"])
    if c["scoring"] == "softmax":
        m = max(logits)
        e = [math.exp(v - m) for v in logits]
        scores = [v / sum(e) for v in e]
    else:
        scores = [sigmoid(v) for v in logits]
    select = [s + (b if c["bias"] else 0.0) for s, b in zip(scores, w["bias"])]
    gaps = []
    if c["groups"] > 1:
        n = c["E"] // c["groups"]
        gs = [sum(sorted(select[g * n:(g + 1) * n])[-2:]) for g in range(c["groups"])]
        order = sorted(range(c["groups"]), key=lambda g: -gs[g])
        gaps.append(gs[order[c["kept"] - 1]] - gs[order[c["kept"]]])
        kept = set(order[:c["kept"]])
        select = [s if e // n in kept else -math.inf for e, s in enumerate(select)]
    order = sorted(range(c["E"]), key=lambda e: -select[e])
    if c.get("bias_shift", 0.0) < 0:
        assert select[order[c["k"] - 1]] < 0, "the case needs negative selection scores"
    gaps.append(select[order[c["k"] - 1]] - select[order[c["k"]]])
    chosen = order[:c["k"]]
    ws = [scores[e] for e in chosen]
    if c["renorm"]:
        ws = [v / sum(ws) for v in ws]
    out = [0.0] * H
    for e, wt in zip(chosen, ws):
        y = swiglu(x, w["gate"][e], w["up"][e], w["down"][e])
        out = [o + wt * c["scale"] * v for o, v in zip(out, y)]
    if c["shared"]:
        s = swiglu(x, w["sgate"], w["sup"], w["sdown"])
        g = sigmoid(linear(x, w["sg"])[0]) if c["shared_gate"] else 1.0
        out = [o + g * v for o, v in zip(out, s)]
    return out, min(gaps)


def dense(rows):
    if not isinstance(rows[0], list):
        return "[" + ", ".join("%.9e" % v for v in rows) + "]"
    return "[" + ", ".join(dense(r) for r in rows) + "]"


def emit():
    w = weights()
    act = f"tensor<?x{H}xf32>"
    lines = ["func.func private @printMemrefF32(memref<*xf32>)", "func.func @main() {",
             f"  %x0 = arith.constant dense<{dense(w['x'])}> : tensor<{T}x{H}xf32>",
             f"  %x = tensor.cast %x0 : tensor<{T}x{H}xf32> to {act}"]
    for name, c in CONFIGS.items():
        p, v = name, w[name]
        E, I, S = c["E"], c["inter"], c["shared"]
        types = [act, f"tensor<{E}x{H}xf32>", f"tensor<{E}x{I}x{H}xf32>",
                 f"tensor<{E}x{I}x{H}xf32>", f"tensor<{E}x{H}x{I}xf32>"]
        lines += [f"  %{p}_r = arith.constant dense<{dense(v['router'])}> : {types[1]}",
                  f"  %{p}_g = arith.constant dense<{dense(v['gate'])}> : {types[2]}",
                  f"  %{p}_u = arith.constant dense<{dense(v['up'])}> : {types[3]}",
                  f"  %{p}_d = arith.constant dense<{dense(v['down'])}> : {types[4]}"]
        ops = f"router(%{p}_r) experts_gate(%{p}_g) experts_up(%{p}_u) experts_down(%{p}_d)"
        if c["bias"]:
            lines.append(f"  %{p}_b = arith.constant dense<{dense(v['bias'])}> : tensor<{E}xf32>")
            ops += f" selection_bias(%{p}_b)"
            types.append(f"tensor<{E}xf32>")
        if S:
            lines += [f"  %{p}_sg = arith.constant dense<{dense(v['sgate'])}> : tensor<{S}x{H}xf32>",
                      f"  %{p}_su = arith.constant dense<{dense(v['sup'])}> : tensor<{S}x{H}xf32>",
                      f"  %{p}_sd = arith.constant dense<{dense(v['sdown'])}> : tensor<{H}x{S}xf32>"]
            ops += f" shared_gate(%{p}_sg) shared_up(%{p}_su) shared_down(%{p}_sd)"
            types += [f"tensor<{S}x{H}xf32>", f"tensor<{S}x{H}xf32>", f"tensor<{H}x{S}xf32>"]
            if c["shared_gate"]:
                lines.append(f"  %{p}_gg = arith.constant dense<{dense(v['sg'])}> : tensor<1x{H}xf32>")
                ops += f" shared_expert_gate(%{p}_gg)"
                types.append(f"tensor<1x{H}xf32>")
        attrs = (f"n_group = {c['groups']} : i64, norm_topk_prob = {str(c['renorm']).lower()}, "
                 f"num_experts = {E} : i64, routed_scaling_factor = {c['scale']} : f64, "
                 f"top_k = {c['k']} : i64, topk_group = {c['kept']} : i64")
        lines += [f"  %{p}_y = hybrid.moe {c['scoring']} %x {ops} {{{attrs}}} : ({', '.join(types)}) -> {act}",
                  f"  %{p}_buf = bufferization.to_buffer %{p}_y : {act} to memref<?x{H}xf32>",
                  f"  %{p}_un = memref.cast %{p}_buf : memref<?x{H}xf32> to memref<*xf32>",
                  f"  call @printMemrefF32(%{p}_un) : (memref<*xf32>) -> ()"]
    lines += ["  return", "}"]
    print("\n".join(lines))


def check():
    w = weights()
    blocks = [part.split("Unranked")[0] for part in sys.stdin.read().split("data =")[1:]]
    if len(blocks) != len(CONFIGS):
        sys.exit("expected %d outputs, got %d" % (len(CONFIGS), len(blocks)))
    ok = True
    for (name, c), block in zip(CONFIGS.items(), blocks):
        got = [[float(v) for v in r.split(",")] for r in re.findall(r"\[([-0-9.e+, ]+)\]", block)]
        want, gaps = zip(*(moe(c, w[name], x) for x in w["x"]))
        scale = max(abs(v) for r in want for v in r)
        err = max(abs(g - v) for gr, wr in zip(got, want) for g, v in zip(gr, wr)) / scale
        ok &= len(got) == T and err <= 1e-5
        print("%-8s max relative error %.3g, smallest routing gap %.3g" % (name, err, min(gaps)))
    print("PASS" if ok else "FAIL")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    {"emit": emit, "check": check}[sys.argv[1]]()
