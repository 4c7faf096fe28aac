#!/bin/bash
# The same DITTO continuation with a BC term 100 times heavier; training seed 42 (the
# default) beside ditto_exact.sh's control, and seed 1 with its own control
c=docs/agents_s22/continue_shipped.sh
bash $c runs/s22/ditto_bc100 runs/f5/features --set agent.ditto_bc_scale=100 &
bash $c runs/s22/ditto_bc100_s1 runs/f5/features --set agent.ditto_bc_scale=100 \
  --set agent_train.seed=1 &
bash $c runs/s22/bc_ctl_s1 runs/f5/features --set agent.use_ditto=false \
  --set agent_train.seed=1 &
wait
bash docs/agents_s22/evaluate_300.sh runs/s22/ditto_bc100 runs/s22/ditto_bc100_s1 \
  runs/s22/bc_ctl_s1
# 600 chains for seed 42: lumos evaluate ... --chains 600 --resume (its control likewise)
