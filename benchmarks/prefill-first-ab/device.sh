#!/bin/bash
# prefill_first vs fifo on one real GPU host (run on the device machine, repo root), alternately:
# before each run the host's CPU benchmark (python3 -m timekeeper.calibrate --repeats 3), then the run
# with tools/cudnn_timing_shim.c preloaded and CUDNN_SHIM_LOG set (one line per cuDNN Finalize/Execute,
# CLOCK_MONOTONIC ns). After each run everything so far is packed into $OUT/ab.tar.gz, so a run cut by
# the call's limit still leaves the earlier ones. Usage: OUT=... BUDGET_S=210 bash benchmarks/prefill-first-ab/device.sh
export PYTHONUNBUFFERED=1
OUT=${OUT:?}; BUDGET_S=${BUDGET_S:-210}; ORDER=${ORDER:-"pf fifo pf fifo"}
R=$OUT/ab; mkdir -p $R
start=$(date +%s)
gcc -O2 -shared -fPIC -o /tmp/shim.so tools/cudnn_timing_shim.c -ldl || exit 1
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv > $R/nvidia-smi.csv 2>&1
python3 -c "import torch, transformers; print(torch.__version__, torch.version.cuda, torch.backends.cudnn.version(), transformers.__version__)" | tee $R/versions.txt
{ echo "hostname $(hostname)"; echo "nproc $(nproc)"; grep -m1 'model name' /proc/cpuinfo; grep -m1 'cpu MHz' /proc/cpuinfo; uname -r; } | tee $R/host.txt
pack() { tar -C $OUT -czf $OUT/ab.tmp ab && mv $OUT/ab.tmp $OUT/ab.tar.gz; }
i=0
for s in $ORDER; do
  i=$((i + 1))
  case $s in pf) file=studies/runs/validation/1b-poisson-16rps-prefill-first.yaml;; *) file=benchmarks/prefill-first-ab/1b-poisson-16rps-fifo.yaml;; esac
  timeout 25 python3 -m timekeeper.calibrate --repeats 3 > $R/calibrate$i.json 2>&1
  echo "calibrate$i $(tr -d '\n ' < $R/calibrate$i.json | grep -o '"python_loop_s":[0-9.]*,"torch_ops_s":[0-9.]*')"
  left=$(( BUDGET_S - ($(date +%s) - start) ))
  if [ $left -lt 45 ]; then echo "SKIP $i-$s (only ${left}s left)"; pack; continue; fi
  t=$(( left < 60 ? left : 60 ))
  echo "=== $i-$s (timeout ${t}s) $(date -u +%T)"
  CUDNN_SHIM_LOG=$R/shim-$i-$s LD_PRELOAD=/tmp/shim.so timeout -k 5 $((t + 15)) \
    python3 -m revati_search.cli emulate $file --out $R/$i-$s --real --no-trace --timeout $t > $R/$i-$s.log 2>&1
  echo "rc=$?" >> $R/$i-$s.log; tail -3 $R/$i-$s.log
  rm -f $R/$i-$s/workload.jsonl
  pack
done
echo "wall $(( $(date +%s) - start )) s of BUDGET_S=$BUDGET_S" | tee $R/wall.txt
pack; ls -la $OUT
