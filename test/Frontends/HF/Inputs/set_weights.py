"""Sets single entries of 2-D tensors in a safetensors file in place (F32
or BF16), e.g. a few non-zero weights in a sparse all-zero checkpoint that
make_checkpoint.py wrote. Standard library only.

usage: set_weights.py FILE TENSOR:ROW:COLUMN=VALUE...
"""
import json
import struct
import sys


def main():
    path, assignments = sys.argv[1], sys.argv[2:]
    with open(path, "r+b") as f:
        length = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(length))
        for assignment in assignments:
            place, _, value = assignment.partition("=")
            name, row, column = place.rsplit(":", 2)
            entry = header.get(name)
            if entry is None:
                sys.exit("%s: no tensor '%s'" % (path, name))
            rows, columns = entry["shape"]
            row, column = int(row), int(column)
            if not (0 <= row < rows and 0 <= column < columns):
                sys.exit("%s: [%d, %d] is outside '%s' %s"
                         % (path, row, column, name, entry["shape"]))
            if entry["dtype"] == "F32":
                size, data = 4, struct.pack("<f", float(value))
            elif entry["dtype"] == "BF16":
                size, data = 2, struct.pack("<f", float(value))[2:]
            else:
                sys.exit("%s: '%s' is %s, not F32 or BF16" % (path, name, entry["dtype"]))
            f.seek(8 + length + entry["data_offsets"][0] + (row * columns + column) * size)
            f.write(data)


if __name__ == "__main__":
    main()
