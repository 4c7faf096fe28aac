#!/bin/bash
# Session 30: does the collapsed plan's noise cost LUMOS at test time? The Table I LUMOS
# policies of training seeds 2 (runs/tab30) and 42 (runs/tab28b), evaluated with the plan's
# probabilities as the actor's plan input instead of a one-hot sample (agent.plan_input=probs
# written into a copy of the checkpoint's meta.json; the weights are the same files, linked),
# on chains 0-199, paired with each policy's own evaluation.
# Usage (from the repository root): bash docs/agents_s30/plan_probs_at_test.sh
set -e
for run in tab30:2 tab28b:42; do
    s=${run%%:*}; seed=${run##*:}
    src=runs/$s/agents/lumos/checkpoints/step_00014232
    dst=runs/s30/lumos_${s}_probs
    rm -rf $dst && mkdir -p $dst
    ln $src/model.safetensors $src/training_state.pt $dst/
    python - "$src/meta.json" "$dst/meta.json" <<'PY'
import json, sys
meta = json.load(open(sys.argv[1]))
meta["config"]["agent"]["plan_input"] = "probs"
json.dump(meta, open(sys.argv[2], "w"), indent=1)
PY
    lumos evaluate --policy $dst --chains 200 --seeds 0 --workers 1 --out runs/s30/eval_probs_s$seed
    lumos compare runs/$s/eval/lumos runs/s30/eval_probs_s$seed \
        --names "LUMOS seed $seed" "plan probabilities at test time" \
        --out docs/agents_s30/plan_probs_at_test_s$seed.md
done
