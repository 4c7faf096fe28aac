#!/bin/bash
# Session 18: what ran, on a fresh machine (data re-collected and featurised with the session-6
# and session-11 commands; runs/bench16/features linked to runs/f5/features), all in fp32 as
# seed 0 on session 17's machine (this one has native bf16, which the default would use).
# Each script trains a fixed number of batches, so the three can share the two cores.
export EXTRA='--set agent_train.precision=fp32'
bash docs/agents_s17/long_warm_start.sh 1 > runs/s17/seed1.out 2>&1 &
bash docs/agents_s17/gcbc_long.sh 1 > runs/s17/gcbc_seed1.out 2>&1 &
bash docs/agents_s18/gcbc_anneal.sh 1 > runs/s17/gcbc_anneal_seed1.out 2>&1 &
wait
bash docs/agents_s18/compare.sh
