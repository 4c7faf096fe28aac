#!/bin/bash
# usage: bash docs/agents_s23/lumos_rel.sh OUT SEED
# LUMOS given the shipped GCBC's recipe as in docs/agents_s22/lumos_ship.sh (decoded actor,
# language windows only, plans and the masked alignment loss, 13 232 BC batches at 1e-3) with
# the block geometry as extra input (agent.relative_inputs=true); then 1 000 batches at 3e-5
# from copies of that warm start: BC alone (LUMOS without DITTO) into OUT_bc, or DITTO (the
# exact objective, H = 8) with a BC term 100x the default (agent.ditto_bc_scale=100;
# session 22) into OUT_ditto.
# (the same commands as docs/agents_s24/lumos_variant.sh with DITTO=1 and no extra settings)
DITTO=1 exec bash docs/agents_s24/lumos_variant.sh "$1" "$2"
