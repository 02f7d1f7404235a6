#!/bin/bash
# The validation set emulated here, one run file after the other (run alone on the machine: the
# emulation's CPU time is the model's input). Usage: OUT=DIR [RUNS="a b"] [ARGS="--cpu-scale 1.3"]
#   bash benchmarks/validation_emulated.sh
# Writes OUT/NAME/ (summary.json, requests.csv.gz, ...) and OUT/NAME.log per run file under
# studies/runs/validation/ (all but the tensor-parallel one unless RUNS names it), and OUT/pass.log:
# the start of each run with the machine's load average.
OUT=${OUT:?}; mkdir -p "$OUT"
here=$(cd "$(dirname "$0")/.." && pwd)
bin=${REVATI:-$here/.venv/bin/revati-search}
runs=${RUNS:-$(cd "$here/studies/runs/validation" && ls *.yaml | sed 's/\.yaml$//' | grep -v -- '-tp[0-9]')}
for name in $runs; do
  echo "$name $(date -u +%T) load $(cut -d' ' -f1-3 /proc/loadavg)" >> "$OUT/pass.log"
  # shellcheck disable=SC2086
  "$bin" emulate "$here/studies/runs/validation/$name.yaml" --out "$OUT/$name" --no-trace $ARGS > "$OUT/$name.log" 2>&1
  echo "rc=$?" >> "$OUT/$name.log"
  gzip -9nf "$OUT/$name/requests.csv" 2>/dev/null   # archived gzipped: the tools read requests.csv.gz as it is
  tail -3 "$OUT/$name.log" | head -1
done
echo "done $(date -u +%T)" >> "$OUT/pass.log"
