#!/bin/bash
# Where a real serving step's host time goes (device machine, repo root; wheels from .whl as for
# benchmarks/validation_real.sh). MODE=pyspy: each run under py-spy (sampling without pausing the
# process, 100 Hz; the py-spy wheel in runs/devprof/, carried) -> NAME.collapsed. MODE=shim: each run
# with tools/cudnn_timing_shim.c preloaded, one line per cuDNN Finalize/Execute -> NAME/cudnn-calls.
# PLAIN="a b" also runs those plainly (the same host's noise). Everything lands in $OUT/res.tgz.
# Usage: MODE=shim RUNS="1b-poisson-8rps ..." bash benchmarks/host_profile_real.sh
export PYTHONUNBUFFERED=1
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
export PYTHONPATH=/tmp/site:$PWD
W=/tmp/work; mkdir -p $W
python3 -m timekeeper.calibrate --repeats 5 > $W/calibrate.json 2>&1
python3 -c "import torch, transformers, sys; print(torch.__version__, transformers.__version__, sys.version)" > $W/versions.txt
case ${MODE:?MODE=pyspy or shim} in
  pyspy) python3 -m pip install -q --no-index --no-deps --target /tmp/spy runs/devprof/py_spy*.whl
         wrap="/tmp/spy/bin/py-spy record --nonblocking --subprocesses -r 100 --format raw -o";;
  shim) gcc -O2 -shared -fPIC -o /tmp/shim.so tools/cudnn_timing_shim.c -ldl || exit 1;;
esac
for name in ${RUNS:?}; do
  mkdir -p $W/$name
  cmd="python3 -m revati_search.cli emulate studies/runs/validation/$name.yaml --out $W/$name/run --real --no-trace --timeout 80"
  if [ $MODE = pyspy ]; then timeout -k 5 100 $wrap $W/$name.collapsed -- $cmd > $W/$name/log 2>&1
  else LD_PRELOAD=/tmp/shim.so CUDNN_SHIM_LOG=$W/$name/cudnn-calls timeout -k 5 100 $cmd > $W/$name/log 2>&1; fi
  echo "rc=$?" >> $W/$name/log; tail -3 $W/$name/log; rm -f $W/$name/run/workload.jsonl
done
for name in ${PLAIN:-}; do
  timeout -k 5 90 python3 -m revati_search.cli emulate studies/runs/validation/$name.yaml --out $W/plain-$name --real --no-trace --timeout 80 > $W/plain-$name.log 2>&1
  tail -2 $W/plain-$name.log; rm -f $W/plain-$name/workload.jsonl
done
tar -czf $OUT/res.tgz -C $W .; ls -la $OUT
