"""Writes a JSON object whose field "x" is nested DEPTH lists deep, e.g. to
check that a parser refuses it instead of overflowing its stack.

usage: deep_json.py OUT_FILE DEPTH [FIRST_FIELDS]
FIRST_FIELDS is JSON object text whose fields come first (default
{"model_type": "llama"}).
"""
import json
import sys

out, depth = sys.argv[1], int(sys.argv[2])
first = json.loads(sys.argv[3]) if len(sys.argv) > 3 else {"model_type": "llama"}
text = json.dumps(first)[:-1] + (", " if first else "")
with open(out, "w") as f:
    f.write(text + '"x": ' + "[" * depth + "]" * depth + "}")
