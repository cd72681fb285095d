"""Runs hybrid-run on a long synthetic prompt (lit's shell has no command
substitution). usage: long_prompt.py HYBRID_RUN ARTIFACT LENGTH VOCAB NEW"""
import subprocess
import sys

tool, artifact, length, vocab, new = sys.argv[1:6]
ids = ",".join(str((7 * i) % int(vocab)) for i in range(int(length)))
result = subprocess.run([tool, artifact, "--prompt-ids", ids, "--max-new-tokens", new],
                        capture_output=True, text=True)
sys.stdout.write(result.stdout)
sys.stderr.write(result.stderr)
sys.exit(result.returncode)
