"""Runs hybrid-run on a long synthetic prompt (lit's shell has no command
substitution), with the stack limited to 1 MiB: the generated code's stack
use must not grow with the prompt.
usage: long_prompt.py HYBRID_RUN ARTIFACT LENGTH VOCAB NEW"""
import resource
import subprocess
import sys

tool, artifact, length, vocab, new = sys.argv[1:6]
ids = ",".join(str((7 * i) % int(vocab)) for i in range(int(length)))

def small_stack():
    resource.setrlimit(resource.RLIMIT_STACK, (1 << 20, 1 << 20))


result = subprocess.run([tool, artifact, "--prompt-ids", ids, "--max-new-tokens", new],
                        capture_output=True, text=True, preexec_fn=small_stack)
sys.stdout.write(result.stdout)
sys.stderr.write(result.stderr)
sys.exit(result.returncode)
