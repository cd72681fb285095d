#!/usr/bin/env bash
# Sets everything up, builds, and runs every test (lit + FileCheck suites
# under test/). Ends with "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >/dev/null || { echo "setup or build failed"; exit 1; }

log=build/test-results.log
/usr/lib/llvm-22/bin/lit -sv build/test 2>&1 | tee "$log"
status=${PIPESTATUS[0]}

# lit's summary lines look like "  Passed: 12 (100.00%)", padded as
# "  Passed     : 53" when an "Unsupported" line is among them.
count() { sed -n "s/^ *$1 *: *\([0-9]*\).*/\1/p" "$log" | tail -1; }
passed=$(( $(count Passed) + 0 ))
failed=$(( $(count Failed) + $(count Unresolved) + $(count 'Timed Out') + 0 ))
skipped=$(( $(count Unsupported) + 0 ))
echo "${passed} passed, ${failed} failed, ${skipped} skipped"
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
  echo "lit exited with status $status"
fi
exit "$status"
