#!/bin/bash
# The validation set on a real GPU (run on the device machine, repo root): every run file under
# studies/runs/validation/, cheapest first, each bounded, continuing past failures. Writes
# $OUT/real.tar.gz (one folder per run: summary.json, requests.csv.gz, harness.json, run.json, error.txt, log)
# and $OUT/real_summaries.json.  Usage: OUT=... BUDGET_S=500 bash benchmarks/validation_real.sh
# Also records which host it was: real/calibrate.json (python3 -m timekeeper.calibrate, the CPU benchmark
# that timekeeper/hosts.json holds for the reference hosts) first, and, if at least EAGER_STEP_S (default 45)
# seconds of the budget are left at the end, real/eager_step.json (tools/eager_step_real.py: a lone 1B
# eager decode step with and without cuDNN SDPA). EAGER_STEP_S=0 skips it. RUNS="a b" runs only those.
# KERNELS=1 profiles each replay's kernels into its kernels.json (CUPTI: the metrics are then not plain runs).
export PYTHONUNBUFFERED=1
OUT=${OUT:?}; BUDGET_S=${BUDGET_S:-500}
R=$OUT/real; mkdir -p $R
start=$(date +%s)
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv > $R/nvidia-smi.csv 2>&1
python3 -c "import torch, transformers, pydantic; print(torch.__version__, torch.version.cuda, transformers.__version__, pydantic.__version__)" | tee $R/versions.txt
{ echo "hostname $(hostname)"; echo "nproc $(nproc)"; grep -m1 'model name' /proc/cpuinfo; grep -m1 'cpu MHz' /proc/cpuinfo; grep -m1 'cache size' /proc/cpuinfo; uname -r; } | tee $R/host.txt
python3 -m timekeeper.calibrate --repeats 7 > $R/calibrate.json 2>&1; cat $R/calibrate.json
# cheapest first (real wall time per run on the first H100 host, build and warm-up included)
runs=${RUNS:-"1b-burst-32-page32 1b-burst-64-graph 1b-poisson-32rps-graph 1b-chunked-fifo 1b-chunked-prefill-first 1b-poisson-16rps-prefill-first 1b-shared-prefix 1b-shared-prefix-nosharing qwen3-1.7b-poisson-8rps 1b-poisson-8rps 8b-poisson-8rps-graph 8b-mooncake-sample 8b-burst-64 8b-poisson-4rps qwen3-moe-small-gamma-graph gemma2-2b-gamma phi3-mini-gamma-graph mistral-7b-gamma-graph"}
for name in $runs; do
  left=$(( BUDGET_S - ($(date +%s) - start) ))
  case $name in 8b-*) cap=100;; *) cap=60;; esac
  t=$(( left < cap ? left : cap ))
  if [ $t -lt 20 ]; then echo "SKIP $name (only ${left}s left)"; echo "skipped: budget" > $R/$name.skipped; continue; fi
  echo "=== $name (timeout ${t}s) $(date -u +%T)"
  timeout -k 5 $((t + 15)) python3 -m revati_search.cli emulate studies/runs/validation/$name.yaml --out $R/$name --real --no-trace ${KERNELS:+--kernels} --timeout $t > $R/$name.log 2>&1
  echo "rc=$?" >> $R/$name.log; tail -4 $R/$name.log
  rm -f $R/$name/workload.jsonl; gzip -9nf $R/$name/requests.csv 2>/dev/null
done
left=$(( BUDGET_S - ($(date +%s) - start) )); EAGER_STEP_S=${EAGER_STEP_S:-45}
if [ $EAGER_STEP_S -gt 0 ] && [ $left -ge $EAGER_STEP_S ]; then
  echo "=== eager_step (timeout ${left}s) $(date -u +%T)"
  timeout -k 5 $left python3 tools/eager_step_real.py --out $R --parts 1b --conditions default,no_cudnn > $R/eager_step.log 2>&1
  echo "rc=$?" >> $R/eager_step.log; tail -3 $R/eager_step.log
else echo "SKIP eager_step (${left}s left)"; fi
echo "wall $(( $(date +%s) - start )) s of BUDGET_S=$BUDGET_S" | tee $R/wall.txt
python3 - <<PY
import json, glob, os
out = {}
for d in sorted(glob.glob("$R/*/")):
    n = os.path.basename(d.rstrip("/")); p = os.path.join(d, "summary.json"); e = os.path.join(d, "error.txt")
    out[n] = json.load(open(p)) if os.path.exists(p) else {"error": open(e).read()[:2000] if os.path.exists(e) else "no summary"}
json.dump(out, open("$OUT/real_summaries.json", "w"), indent=1)
for n, s in out.items():
    print(n, {k: s.get(k) for k in ("completed", "duration", "output_throughput", "median_ttft_ms", "median_tpot_ms", "median_e2el_ms", "error")})
PY
tar -C $OUT -czf $OUT/real.tar.gz real && rm -rf $R
ls -la $OUT
