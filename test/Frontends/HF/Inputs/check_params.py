"""Checks a `hybridc --report=json` against the checkpoint it came from:
params_total must equal the element count of every tensor in the
safetensors files (read here from their headers, standard library only).

usage: check_params.py CHECKPOINT_DIR REPORT_JSON
"""
import json
import os
import struct
import sys

folder, report_file = sys.argv[1:3]
total = 0
for name in sorted(os.listdir(folder)):
    if name.endswith(".safetensors"):
        with open(os.path.join(folder, name), "rb") as f:
            size = struct.unpack("<Q", f.read(8))[0]
            header = json.loads(f.read(size))
        for key, entry in header.items():
            if key != "__metadata__":
                n = 1
                for d in entry["shape"]:
                    n *= d
                total += n
report = json.load(open(report_file))
print("checkpoint elements %d, params_total %d" % (total, report["params_total"]))
if total != report["params_total"]:
    sys.exit("MISMATCH")
print("MATCH")
