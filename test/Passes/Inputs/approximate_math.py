"""Inputs and check for approximate-math-accuracy.test (standard library).

`emit` writes a program that prints exp, log1p and log of fixed inputs;
`check` compares the print-out with Python's math module."""
import math
import re
import struct
import sys

INF = float("inf")


def f32(v):
    return struct.unpack("f", struct.pack("f", v))[0]


def inputs():
    grid = [f32(-30 + 0.37 * i) for i in range(180)]  # -30 .. 36
    exp = [-INF, -1e30, -104.0, -88.0, -87.0, -20.0, -1e-3, 0.0, 1e-7, 0.5, 19.9,
           20.1, 80.0, 88.5, 89.0, 1e30, INF] + grid
    log1p = [-0.999, -0.5, -1e-4, 0.0, 1e-8, 1e-3, 0.7, 1.0, 19.0, 1e3, 1e30, INF] + \
        [abs(g) for g in grid]
    log = [1e-30, 1e-6, 0.5, 1.0, 2.0, 1e6, 1e30, INF] + [abs(g) + 1e-3 for g in grid]
    return dict(exp=[f32(v) for v in exp], log1p=[f32(v) for v in log1p],
                log=[f32(v) for v in log])


def literal(v):
    if v == INF:
        return "0x7F800000"
    if v == -INF:
        return "0xFF800000"
    return "%.9e" % v


def emit():
    # Printed as bit patterns (printF32 keeps 6 digits only).
    lines = ["func.func private @printU64(i64)", "func.func private @printNewline()",
             "func.func @main() {"]
    for op, values in inputs().items():
        for i, v in enumerate(values):
            lines.append(f"  %{op}_in{i} = arith.constant {literal(v)} : f32")
            lines.append(f"  %{op}_out{i} = math.{op} %{op}_in{i} : f32")
            lines.append(f"  %{op}_bits{i} = arith.bitcast %{op}_out{i} : f32 to i32")
            lines.append(f"  %{op}_wide{i} = arith.extui %{op}_bits{i} : i32 to i64")
            lines.append(f"  call @printU64(%{op}_wide{i}) : (i64) -> ()")
            lines.append("  call @printNewline() : () -> ()")
    lines += ["  return", "}"]
    print("\n".join(lines))


def want(op, v):
    if op == "exp":
        try:
            return math.exp(v)
        except OverflowError:
            return INF
    if op == "log1p":
        return math.log1p(v) if v != INF else INF
    return math.log(v) if v != INF else INF


def check():
    got = []
    for token in sys.stdin.read().split():
        got.append(struct.unpack("f", struct.pack("I", int(token)))[0])
    cases = inputs()
    if len(got) != sum(len(v) for v in cases.values()):
        sys.exit("expected %d values, got %d" % (sum(len(v) for v in cases.values()), len(got)))
    ok = True
    at = 0
    for op, values in cases.items():
        worst = 0.0
        for v in values:
            g, w = got[at], want(op, v)
            at += 1
            wf = f32(w) if abs(w) < 3.4e38 else (INF if w > 0 else -INF)
            if math.isinf(wf) or wf == 0.0 or abs(wf) < 1.2e-38:
                # Edges: exact infinities; underflow to 0 (or a denormal).
                if not (g == wf or (abs(wf) < 1.2e-38 and abs(g) < 1.2e-38)):
                    print(f"{op}({v!r}) = {g!r}, want {wf!r}")
                    ok = False
                continue
            err = abs(g - w) / abs(w)
            worst = max(worst, err)
            if err > 5e-7:
                print(f"{op}({v!r}) = {g!r}, want {w!r} (relative error {err:.3g})")
                ok = False
        print("%s: %d inputs, max relative error %.3g" % (op, len(values), worst))
    if not ok:
        sys.exit("FAIL")
    print("PASS")


if __name__ == "__main__":
    {"emit": emit, "check": check}[sys.argv[1]]()
