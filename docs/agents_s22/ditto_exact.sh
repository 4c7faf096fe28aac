#!/bin/bash
# DITTO with every fix from the shipped policy, and its BC control (1 min each), evaluated
c=docs/agents_s22/continue_shipped.sh
bash $c runs/s22/ditto_h8 runs/f5/features &
bash $c runs/s22/bc_ctl runs/f5/features --set agent.use_ditto=false &
wait
bash docs/agents_s22/evaluate_300.sh runs/s22/ditto_h8 runs/s22/bc_ctl
# the dose: the same runs' step_00000200 checkpoints evaluated likewise (eval_*_200)
