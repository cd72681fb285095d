"""Writes a safetensors checkpoint for the tensors that `hybridc --emit=hybrid`
lists, then breaks it the way VARIANT says. Standard library only: the tests
that use it run in CI without numpy or torch.

usage: make_checkpoint.py IR_FILE OUT_DIR VARIANT
"""
import json
import os
import re
import struct
import sys

DTYPES = {"bf16": ("BF16", 2), "f16": ("F16", 2), "f32": ("F32", 4),
          "f8E4M3FN": ("F8_E4M3", 1)}
WEIGHT = re.compile(r'hybrid\.weight "([^"]+)"(?: experts\((\d+)\))? : tensor<([0-9x]+)x(\w+)>')


def tensors_of(ir_text):
    """(name, shape, dtype) of every checkpoint tensor the IR names."""
    seen, result = set(), []
    for name, experts, dims, element in WEIGHT.findall(ir_text):
        shape = [int(d) for d in dims.split("x")]
        names = [name]
        if experts:
            names = [name.replace("{e}", str(e)) for e in range(int(experts))]
            shape = shape[1:]
        for n in names:
            if n not in seen:
                seen.add(n)
                result.append((n, shape, DTYPES[element][0]))
    return result


def nbytes(shape, dtype):
    size = dict(DTYPES.values())[dtype] if dtype in dict(DTYPES.values()) else 4
    for d in shape:
        size *= d
    return size


def encode(tensors, overlap=False):
    """The bytes of a safetensors file holding `tensors` (zero data)."""
    header, offset = {}, 0
    for name, shape, dtype in tensors:
        size = nbytes(shape, dtype)
        start = max(0, offset - 2) if overlap and offset else offset
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [start, start + size]}
        offset = start + size
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + bytes(offset)


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)


def main():
    ir_file, out, variant = sys.argv[1:4]
    tensors = tensors_of(open(ir_file).read())
    os.makedirs(out, exist_ok=True)
    single = os.path.join(out, "model.safetensors")
    first, rest = tensors[0], tensors[1:]
    if variant == "valid":
        write(single, encode(tensors))
    elif variant == "short-file":
        write(single, b"\x01\x02\x03")
    elif variant == "header-past-end":
        write(single, struct.pack("<Q", 1 << 40) + b"{}")
    elif variant == "header-not-json":
        write(single, struct.pack("<Q", 5) + b"{oops")
    elif variant == "truncated":
        write(single, encode(tensors)[:-3])
    elif variant == "overlap":
        write(single, encode(tensors, overlap=True))
    elif variant == "unknown-dtype":
        write(single, encode([(first[0], first[1], "F7")] + rest))
    elif variant == "wrong-shape":
        write(single, encode([(first[0], first[1][::-1] + [1], first[2])] + rest))
    elif variant == "wrong-dtype":
        write(single, encode([(first[0], first[1], "I32")] + rest))
    elif variant == "missing-tensor":
        write(single, encode(rest))
    elif variant == "extra-tensor":
        write(single, encode(tensors + [("mtp.fc.weight", [2, 2], "F32")]))
    elif variant.startswith("without:"):
        prefix = variant.split(":", 1)[1]
        write(single, encode([t for t in tensors if not t[0].startswith(prefix)]))
    elif variant == "bf16-instead-of-fp8":
        write(single, encode([(n, s, "BF16" if d == "F8_E4M3" else d) for n, s, d in tensors]))
    elif variant.startswith("sharded"):
        half = len(tensors) // 2
        shards = {"model-00001-of-00002.safetensors": tensors[:half],
                  "model-00002-of-00002.safetensors": tensors[half:]}
        weight_map = {n: f for f, ts in shards.items() for n, _, _ in ts}
        if variant == "sharded-tensor-twice":
            shards["model-00002-of-00002.safetensors"] = tensors[half:] + [tensors[0]]
        for f, ts in shards.items():
            if not (variant == "sharded-missing-shard" and f.startswith("model-00002")):
                write(os.path.join(out, f), encode(ts if variant != "sharded-index-lies" or f.startswith("model-00001") else ts[1:]))
        index = json.dumps({"metadata": {}, "weight_map": weight_map})
        if variant == "sharded-index-not-json":
            index = "{weight_map"
        write(os.path.join(out, "model.safetensors.index.json"), index.encode())
    else:
        sys.exit("unknown variant " + variant)


if __name__ == "__main__":
    main()
