"""Writes OUT_DIR/config.json: the config CONFIG with the given keys set
(each value JSON), e.g. a published model's config cut to a few layers.

usage: cut_config.py CONFIG OUT_DIR KEY=VALUE...
"""
import json
import os
import sys


def main():
    source, out = sys.argv[1:3]
    with open(source) as f:
        config = json.load(f)
    for assignment in sys.argv[3:]:
        key, _, value = assignment.partition("=")
        if key not in config:
            sys.exit("%s: no key '%s' to set" % (source, key))
        config[key] = json.loads(value)
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(config, f, indent=2)


if __name__ == "__main__":
    main()
