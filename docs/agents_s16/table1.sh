#!/bin/bash
# Session 16: Table I's paired comparison (chains 0-199, grounded) and the benchmark's own
# report, from runs/bench16 (the command in docs/agents_s16/table.sh); run from the repository
# root. Rows whose evaluation has not finished are left out.
source .venv/bin/activate
rows=(); names=()
for pair in "lumos:LUMOS" "no_ditto_bc:no DITTO (BC)" "no_latent_plan:no latent plan" \
            "no_alignment:no alignment" "mcil:MCIL" "gcbc:GCBC"; do
    slug=${pair%%:*}; name=${pair#*:}
    [ -f runs/bench16/eval/$slug/results.json ] || continue
    rows+=("runs/bench16/eval/$slug"); names+=("$name")
done
lumos compare "${rows[@]}" --names "${names[@]}" --out docs/agents_s16/table1_paired.md
mkdir -p docs/agents_cpu16
[ -f runs/bench16/report.md ] && cp runs/bench16/report.md runs/bench16/success.png docs/agents_cpu16/
