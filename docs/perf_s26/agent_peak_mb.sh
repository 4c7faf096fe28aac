#!/bin/bash
# usage: bash docs/perf_s26/agent_peak_mb.sh > docs/perf_s26/agent_peak_mb.txt
# each path's peak memory over two agent updates, a fresh process each (measured beside a
# training: memory, not time)
source .venv/bin/activate
for p in state cpu; do for prec in fp32 bf16; do for t in 1 2; do
  echo "$p $prec threads=$t: $(python -c "from lumos_core.benchmarks.policy import update_peak_mb
print(round(update_peak_mb('$p', $t, '$prec')))")"
done; done; done
