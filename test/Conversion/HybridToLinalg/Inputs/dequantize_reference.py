"""Reference for the execution test of hybrid.dequantize's lowering.

`emit` writes an MLIR program dequantizing every one of the 256 fp8 e4m3fn
bit patterns (in a 16x16 tensor, shuffled) with block scales of 4x8 blocks
that do not divide the tensor; `check` compares the printed result with a
decoding done here from the format's definition (1 sign, 4 exponent bits
with bias 7, 3 mantissa bits, subnormals, no infinities, S.1111.111 = NaN).
Standard library only.
"""
import math
import random
import re
import sys

ROWS, COLS, BLOCK = 16, 16, (5, 6)


def decode(bits):
    sign = -1.0 if bits & 0x80 else 1.0
    exponent, mantissa = (bits >> 3) & 0xF, bits & 0x7
    if exponent == 0xF and mantissa == 0x7:
        return math.nan
    if exponent == 0:
        return sign * mantissa / 8.0 * 2.0 ** -6
    return sign * (1.0 + mantissa / 8.0) * 2.0 ** (exponent - 7)


def data():
    rng = random.Random(7)
    bits = list(range(256))
    rng.shuffle(bits)
    scale_rows = -(-ROWS // BLOCK[0])
    scale_cols = -(-COLS // BLOCK[1])
    scales = [[rng.choice([0.5, -2.0, 3.0, 0.125, 10.0]) for _ in range(scale_cols)]
              for _ in range(scale_rows)]
    return bits, scales


def emit():
    bits, scales = data()
    hexdata = "0x" + "".join("%02X" % b for b in bits)
    sr, sc = len(scales), len(scales[0])
    scale_text = "[" + ", ".join("[" + ", ".join(repr(v) for v in r) + "]" for r in scales) + "]"
    print(f'''func.func private @printMemrefF32(memref<*xf32>)
func.func @main() {{
  %q = arith.constant dense<"{hexdata}"> : tensor<{ROWS}x{COLS}xf8E4M3FN>
  %s = arith.constant dense<{scale_text}> : tensor<{sr}x{sc}xf32>
  %w = hybrid.dequantize %q, %s block [{BLOCK[0]}, {BLOCK[1]}] : (tensor<{ROWS}x{COLS}xf8E4M3FN>, tensor<{sr}x{sc}xf32>) -> tensor<{ROWS}x{COLS}xf32>
  %b = bufferization.to_buffer %w : tensor<{ROWS}x{COLS}xf32> to memref<{ROWS}x{COLS}xf32>
  %u = memref.cast %b : memref<{ROWS}x{COLS}xf32> to memref<*xf32>
  call @printMemrefF32(%u) : (memref<*xf32>) -> ()
  return
}}''')


def check():
    bits, scales = data()
    text = sys.stdin.read().split("data =", 1)[-1]
    got = [float(v) for v in re.findall(r"-?nan|-?inf|-?[0-9][0-9.e+-]*", text)]
    if len(got) != ROWS * COLS:
        sys.exit("expected %d values, got %d" % (ROWS * COLS, len(got)))
    bad = 0
    for i, value in enumerate(got):
        r, c = divmod(i, COLS)
        want = decode(bits[i]) * scales[r // BLOCK[0]][c // BLOCK[1]]
        same = (math.isnan(want) and math.isnan(value)) or \
            abs(value - want) <= 1e-5 * abs(want)  # printMemref keeps 6 digits
        bad += not same
    print("%d of %d values differ" % (bad, len(got)))
    if bad:
        sys.exit("FAIL")
    print("PASS")


if __name__ == "__main__":
    {"emit": emit, "check": check}[sys.argv[1]]()
