"""Reference for the execution test of hybrid.attention's lowering.

`emit [HEAD_DIM ROTARY FIRST SECOND CAPACITY [STEPS]]` writes a program
that runs one gated attention layer (GQA 4 query / 2 kv heads, head_dim 6,
rotary on the first 4 dims, zero-centred q/k norms, sigmoid output gate,
models.md 1.4) twice on the same KV cache (of 16 positions): a prompt of 5
tokens, then 2 more tokens continuing from the cache; then STEPS calls of
one token each (decode steps, none by default). `check` with the same
arguments runs the tokens through the same layer in one causal pass, in
float64, and compares both print-outs with it. Standard library only.
"""
import math
import random
import re
import sys

H, NH, KV, D, ROT, THETA, EPS = 10, 4, 2, 6, 4, 10000.0, 1e-6
FIRST, SECOND, STEPS = 5, 2, 0
CAPACITY = 16


def weights():
    rng = random.Random(99)
    mat = lambda r, c: [[rng.uniform(-0.6, 0.6) for _ in range(c)] for _ in range(r)]
    vec = lambda n: [rng.uniform(-0.3, 0.3) for _ in range(n)]
    return dict(x=mat(FIRST + SECOND + STEPS, H), q=mat(2 * NH * D, H), k=mat(KV * D, H),
                v=mat(KV * D, H), o=mat(H, NH * D), qn=vec(D), kn=vec(D))


def linear(row, w):
    return [sum(a * b for a, b in zip(row, wr)) for wr in w]


def norm(v, w):
    inv = 1.0 / math.sqrt(sum(e * e for e in v) / len(v) + EPS)
    return [e * inv * (1.0 + g) for e, g in zip(v, w)]


def rope(v, pos):
    out = list(v)
    half = ROT // 2
    for j in range(half):
        angle = pos * THETA ** (-2.0 * j / ROT)
        c, s = math.cos(angle), math.sin(angle)
        x1, x2 = v[j], v[j + half]
        out[j], out[j + half] = x1 * c - x2 * s, x2 * c + x1 * s
    return out


def reference(w):
    keys, values, outputs = [], [], []
    for t, x in enumerate(w["x"]):
        qa, k, v = linear(x, w["q"]), linear(x, w["k"]), linear(x, w["v"])
        keys.append([rope(norm(k[h * D:(h + 1) * D], w["kn"]), t) for h in range(KV)])
        values.append([v[h * D:(h + 1) * D] for h in range(KV)])
        o = []
        for h in range(NH):
            q = rope(norm(qa[h * 2 * D:h * 2 * D + D], w["qn"]), t)
            gate = qa[h * 2 * D + D:(h + 1) * 2 * D]
            g = h // (NH // KV)
            scores = [sum(a * b for a, b in zip(q, keys[j][g])) / math.sqrt(D) for j in range(t + 1)]
            m = max(scores)
            p = [math.exp(s - m) for s in scores]
            z = sum(p)
            head = [sum(p[j] * values[j][g][d] for j in range(t + 1)) / z for d in range(D)]
            o += [e / (1.0 + math.exp(-gv)) for e, gv in zip(head, gate)]
        outputs.append(linear(o, w["o"]))
    return outputs


def dense(rows):
    return "[" + ", ".join("[" + ", ".join("%.9e" % v for v in r) + "]" for r in rows) + "]"


def emit():
    w = weights()
    act = f"tensor<?x{H}xf32>"
    cache = f"!hybrid.kv_cache<{KV}x{D}xf32>"
    buffer = f"memref<2x{CAPACITY}x{KV}x{D}xf32>"
    sig = (f"({act}, tensor<?xi64>, {cache}, tensor<{2*NH*D}x{H}xf32>, tensor<{KV*D}x{H}xf32>, "
           f"tensor<{KV*D}x{H}xf32>, tensor<{H}x{NH*D}xf32>, tensor<{D}xf32>, tensor<{D}xf32>) -> {act}")
    def call(name, rows, first):
        n = len(rows)
        return f"""  %{name}_x = arith.constant dense<{dense(rows)}> : tensor<{n}x{H}xf32>
  %{name}_xd = tensor.cast %{name}_x : tensor<{n}x{H}xf32> to {act}
  %{name}_p = arith.constant dense<{list(range(first, first + n))}> : tensor<{n}xi64>
  %{name}_pd = tensor.cast %{name}_p : tensor<{n}xi64> to tensor<?xi64>
  %{name}_o = call @layer(%{name}_xd, %{name}_pd, %cache) : ({act}, tensor<?xi64>, {cache}) -> {act}
  %{name}_b = bufferization.to_buffer %{name}_o : {act} to memref<?x{H}xf32>
  %{name}_u = memref.cast %{name}_b : memref<?x{H}xf32> to memref<*xf32>
  call @printMemrefF32(%{name}_u) : (memref<*xf32>) -> ()"""
    print(f"""func.func private @printMemrefF32(memref<*xf32>)
func.func @layer(%x: {act}, %pos: tensor<?xi64>, %kv: {cache}) -> {act} {{
  %wq = arith.constant dense<{dense(w["q"])}> : tensor<{2*NH*D}x{H}xf32>
  %wk = arith.constant dense<{dense(w["k"])}> : tensor<{KV*D}x{H}xf32>
  %wv = arith.constant dense<{dense(w["v"])}> : tensor<{KV*D}x{H}xf32>
  %wo = arith.constant dense<{dense(w["o"])}> : tensor<{H}x{NH*D}xf32>
  %qn = arith.constant dense<{dense([w["qn"]])[1:-1]}> : tensor<{D}xf32>
  %kn = arith.constant dense<{dense([w["kn"]])[1:-1]}> : tensor<{D}xf32>
  %a = hybrid.attention %x, %pos, %kv q_proj(%wq) k_proj(%wk) v_proj(%wv) o_proj(%wo) q_norm(%qn) k_norm(%kn) qk_norm zero_centered {{head_dim = {D} : i64, norm_epsilon = {EPS:.6e} : f64, num_heads = {NH} : i64, num_kv_heads = {KV} : i64, output_gate, rope_theta = {THETA} : f64, rotary_dim = {ROT} : i64, scale = {1/math.sqrt(D)!r} : f64}} : {sig}
  return %a : {act}
}}
func.func @main() {{
  %buffer = memref.alloc() : {buffer}
  %cache = builtin.unrealized_conversion_cast %buffer : {buffer} to {cache}
{call("first", weights()["x"][:FIRST], 0)}
{call("second", weights()["x"][FIRST:FIRST + SECOND], FIRST)}
{"".join(call(f"step{i}", weights()["x"][FIRST + SECOND + i:][:1], FIRST + SECOND + i) + chr(10)
         for i in range(STEPS))}  memref.dealloc %buffer : {buffer}
  return
}}""")


def check():
    text = sys.stdin.read()
    got = []
    for block in (part.split("Unranked")[0] for part in text.split("data =")[1:]):
        got += [[float(v) for v in r.split(",")] for r in re.findall(r"\[([-0-9.e+, ]+)\]", block)]
    want = reference(weights())
    if len(got) != len(want):
        sys.exit("expected %d rows, got %d\n%s" % (len(want), len(got), text))
    scale = max(abs(v) for r in want for v in r)
    err = max(abs(g - w) for gr, wr in zip(got, want) for g, w in zip(gr, wr)) / scale
    steps = ", %d decode steps" % STEPS if STEPS else ""
    print("max relative error %.3g over %d tokens (%d prefilled, %d continued%s)"
          % (err, len(want), FIRST, SECOND, steps))
    if err > 1e-5:
        sys.exit("FAIL")
    print("PASS")


if __name__ == "__main__":
    if len(sys.argv) > 2:
        D, ROT, FIRST, SECOND, CAPACITY = map(int, sys.argv[2:7])
        STEPS = int(sys.argv[7]) if len(sys.argv) > 7 else 0
    {"emit": emit, "check": check}[sys.argv[1]]()
