"""Prints each LLVM IR function's allocas that are not in its entry block,
then their count: an alloca in a loop's body takes more stack at every
iteration, which LLVM does not give back until the function returns.

usage: allocas_outside_entry.py FILE.ll
"""
import re
import sys


def main():
    with open(sys.argv[1]) as f:
        text = f.read()
    found = 0
    for function in re.split(r"^define ", text, flags=re.M)[1:]:
        name = re.match(r"[^@]*@([\w.$]+)", function).group(1)
        # Blocks after the entry start with a label line.
        blocks = re.split(r"^[\w.$-]+:", function, flags=re.M)
        for block in blocks[1:]:
            for alloca in re.findall(r"= alloca [^,\n]*", block):
                print("%s: %s" % (name, alloca))
                found += 1
    print("allocas outside entry blocks: %d" % found)


if __name__ == "__main__":
    main()
