"""Writes a safetensors checkpoint for the tensors that `hybridc --emit=hybrid`
lists, then breaks it the way VARIANT says. Standard library only: the tests
that use it run in CI without numpy or torch.

usage: make_checkpoint.py IR_FILE OUT_DIR VARIANT

The IR names every tensor the importer expects: `hybrid.weight "NAME" :
tensor<AxBxT>`, and `hybrid.weight "P.{e}.S" experts(N) : tensor<NxAxBxT>`
for the N tensors P.0.S ... P.(N-1).S of shape AxB. OUT_DIR should already
hold the config.json the IR came from.

Variants (the broken tensor is the first one the IR names, normally
model.embed_tokens.weight, unless said otherwise):
  valid                   every tensor, as the IR says, in model.safetensors
  sparse                  the same, its zero data not written: the file is
                          extended past the header (a sparse file, where the
                          file system has them), so that a checkpoint of a
                          published model's shapes takes no disk or time
  f16                     the same in F16 (the IR's element type is not binding)
  short-file              a 3-byte file
  header-past-end         header length 2^40 in a 10-byte file
  header-not-json         header '{oops'
  header-not-object       header '[1, 2]'
  deep-header             header nested 100000 lists deep
  entry-not-object        the first tensor's entry is the number 3
  missing-dtype           the first tensor's entry has no dtype
  missing-shape           the first tensor's entry has no shape
  negative-dim            the first tensor's shape has a negative size
  bad-offsets             data_offsets [10, 5]
  span-mismatch           data_offsets 2 bytes shorter than shape x dtype
  truncated               the file lacks its last 3 bytes
  overlap                 every tensor starts 2 bytes before the previous ends
  unknown-dtype           dtype 'F7'
  shape-too-large         an extra tensor of shape [2^40, 2^40]
  byte-count-overflow     an extra F32 tensor of shape [2^62] stored in 0
                          bytes (2^62 x 4 bytes wraps to 0 in 64 bits)
  wrong-shape             the first tensor's shape reversed, plus a 1
  wrong-dtype             the first tensor in I32
  mixed-expert-dtypes     expert 1 of the first expert group in F16, the
                          others BF16
  missing-tensor          the first tensor left out
  without:PREFIX          every tensor whose name starts with PREFIX left out
  extra-tensor            plus an unused tensor 'mtp.fc.weight'
  bf16-instead-of-fp8     every F8_E4M3 tensor stored as BF16
  bf16-scales             every F32 *_scale_inv tensor stored as BF16
  safetensors-is-folder   model.safetensors is a folder
  sharded                 two shards and model.safetensors.index.json
  sharded-missing-shard   the second shard not written
  sharded-index-lies      the second shard lacks the first tensor the index
                          places in it
  sharded-index-not-json  the index is '{weight_map'
  sharded-deep-index      the index nested 100000 lists deep
  sharded-tensor-twice    the second shard also holds the first tensor
  sharded-no-weight-map   the index has no weight_map
  sharded-shard-not-string  the index maps the first tensor to 3
  sharded-shard-outside   the index maps the first tensor to '../x.safetensors'
  sharded-shard-dot       the index maps the first tensor to '.'
  sharded-empty-weight-map  the index's weight_map is {} (shards written)
  sharded-bad-shard       the second shard is a 3-byte file
  sharded-wrong-shape     the last tensor (in the second shard) has a wrong shape
"""
import json
import os
import re
import struct
import sys

DTYPES = {"bf16": ("BF16", 2), "f16": ("F16", 2), "f32": ("F32", 4),
          "f8E4M3FN": ("F8_E4M3", 1)}
BYTES = {"BOOL": 1, "U8": 1, "I8": 1, "F8_E4M3": 1, "F8_E5M2": 1,
         "U16": 2, "I16": 2, "F16": 2, "BF16": 2,
         "U32": 4, "I32": 4, "F32": 4, "U64": 8, "I64": 8, "F64": 8}
WEIGHT = re.compile(r'hybrid\.weight "([^"]+)"(?: experts\((\d+)\))? : tensor<([0-9x]+)x(\w+)>')
FIRST_SHARD = "model-00001-of-00002.safetensors"
SECOND_SHARD = "model-00002-of-00002.safetensors"
DEEP = 100000


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
    size = BYTES.get(dtype, 4)
    for d in shape:
        size *= max(d, 0)
    return size


def entries(tensors, overlap=False):
    """The header entries of `tensors` laid out one after another, and the
    size of their data."""
    header, offset = {}, 0
    for name, shape, dtype in tensors:
        size = nbytes(shape, dtype)
        start = max(0, offset - 2) if overlap and offset else offset
        header[name] = {"dtype": dtype, "shape": shape,
                        "data_offsets": [start, start + size]}
        offset = start + size
    return header, offset


def pack(header, data_size):
    """A safetensors file: `header` (a dict, or raw bytes) and zero data."""
    text = header if isinstance(header, bytes) else json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + bytes(data_size)


def encode(tensors, overlap=False):
    return pack(*entries(tensors, overlap))


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)


def single_file(tensors, variant):
    """The bytes of model.safetensors for a single-file variant, or None."""
    first, rest = tensors[0], tensors[1:]
    header, size = entries(tensors)
    name = first[0]
    if variant == "valid":
        return encode(tensors)
    if variant == "f16":
        return encode([(n, s, "F16") for n, s, _ in tensors])
    if variant == "short-file":
        return b"\x01\x02\x03"
    if variant == "header-past-end":
        return struct.pack("<Q", 1 << 40) + b"{}"
    if variant == "header-not-json":
        return pack(b"{oops", 0)
    if variant == "header-not-object":
        return pack(b"[1, 2]", 0)
    if variant == "deep-header":
        return pack(b'{"x": ' + b"[" * DEEP + b"]" * DEEP + b"}", 0)
    if variant == "entry-not-object":
        header[name] = 3
        return pack(header, size)
    if variant == "missing-dtype":
        del header[name]["dtype"]
        return pack(header, size)
    if variant == "missing-shape":
        del header[name]["shape"]
        return pack(header, size)
    if variant == "negative-dim":
        header[name]["shape"] = [-d for d in header[name]["shape"]]
        return pack(header, size)
    if variant == "bad-offsets":
        header[name]["data_offsets"] = [10, 5]
        return pack(header, size)
    if variant == "span-mismatch":
        header[name]["data_offsets"][1] -= 2
        return pack(header, size)
    if variant == "truncated":
        return encode(tensors)[:-3]
    if variant == "overlap":
        return encode(tensors, overlap=True)
    if variant == "unknown-dtype":
        return encode([(name, first[1], "F7")] + rest)
    if variant == "shape-too-large":
        header["zzz.huge"] = {"dtype": "F32", "shape": [1 << 40, 1 << 40],
                              "data_offsets": [0, 0]}
        return pack(header, size)
    if variant == "byte-count-overflow":
        header["zzz.huge"] = {"dtype": "F32", "shape": [1 << 62],
                              "data_offsets": [0, 0]}
        return pack(header, size)
    if variant == "wrong-shape":
        return encode([(name, first[1][::-1] + [1], first[2])] + rest)
    if variant == "wrong-dtype":
        return encode([(name, first[1], "I32")] + rest)
    if variant == "mixed-expert-dtypes":
        expert = next(n for n, _, _ in tensors if ".experts.1." in n)
        return encode([(n, s, "F16" if n == expert else d) for n, s, d in tensors])
    if variant == "missing-tensor":
        return encode(rest)
    if variant.startswith("without:"):
        prefix = variant.split(":", 1)[1]
        return encode([t for t in tensors if not t[0].startswith(prefix)])
    if variant == "extra-tensor":
        return encode(tensors + [("mtp.fc.weight", [2, 2], "F32")])
    if variant == "bf16-instead-of-fp8":
        return encode([(n, s, "BF16" if d == "F8_E4M3" else d) for n, s, d in tensors])
    if variant == "bf16-scales":
        return encode([(n, s, "BF16" if n.endswith("_scale_inv") else d)
                       for n, s, d in tensors])
    return None


def sharded(tensors, variant, out):
    half = len(tensors) // 2
    shards = {FIRST_SHARD: tensors[:half], SECOND_SHARD: tensors[half:]}
    weight_map = {n: f for f, ts in shards.items() for n, _, _ in ts}
    first = tensors[0][0]
    files = {f: encode(ts) for f, ts in shards.items()}
    index = {"metadata": {"total_size": 0}, "weight_map": weight_map}
    if variant == "sharded-missing-shard":
        del files[SECOND_SHARD]
    elif variant == "sharded-index-lies":
        files[SECOND_SHARD] = encode(tensors[half + 1:])
    elif variant == "sharded-tensor-twice":
        files[SECOND_SHARD] = encode(tensors[half:] + [tensors[0]])
    elif variant == "sharded-no-weight-map":
        del index["weight_map"]
    elif variant == "sharded-shard-not-string":
        weight_map[first] = 3
    elif variant == "sharded-shard-outside":
        weight_map[first] = "../x.safetensors"
    elif variant == "sharded-shard-dot":
        weight_map[first] = "."
    elif variant == "sharded-empty-weight-map":
        index["weight_map"] = {}
    elif variant == "sharded-bad-shard":
        files[SECOND_SHARD] = b"\x01\x02\x03"
    elif variant == "sharded-wrong-shape":
        name, shape, dtype = tensors[-1]
        files[SECOND_SHARD] = encode(tensors[half:-1] + [(name, shape + [1], dtype)])
    elif variant != "sharded" and variant not in ("sharded-index-not-json",
                                                  "sharded-deep-index"):
        sys.exit("unknown variant " + variant)
    for f, data in files.items():
        write(os.path.join(out, f), data)
    text = json.dumps(index).encode()
    if variant == "sharded-index-not-json":
        text = b"{weight_map"
    elif variant == "sharded-deep-index":
        text = b'{"weight_map": ' + b"[" * DEEP + b"]" * DEEP + b"}"
    write(os.path.join(out, "model.safetensors.index.json"), text)


def main():
    ir_file, out, variant = sys.argv[1:4]
    with open(ir_file) as f:
        tensors = tensors_of(f.read())
    if not tensors:
        sys.exit(ir_file + ": no hybrid.weight ops")
    os.makedirs(out, exist_ok=True)
    if variant == "safetensors-is-folder":
        os.makedirs(os.path.join(out, "model.safetensors"), exist_ok=True)
        return
    if variant.startswith("sharded"):
        sharded(tensors, variant, out)
        return
    if variant == "sparse":
        header, size = entries(tensors)
        with open(os.path.join(out, "model.safetensors"), "wb") as f:
            f.write(pack(header, 0))
            f.truncate(f.tell() + size)
        return
    data = single_file(tensors, variant)
    if data is None:
        sys.exit("unknown variant " + variant)
    write(os.path.join(out, "model.safetensors"), data)


if __name__ == "__main__":
    main()
