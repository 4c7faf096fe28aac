"""`lumos chains`: feasible 5-task evaluation chains for the simulator (CALVIN's protocol)."""

from __future__ import annotations

import argparse

from lumos_core.cli.common import POSITIVE


def register(sub) -> None:
    chains = sub.add_parser("chains", help="generate feasible 5-task evaluation chains")
    chains.add_argument("--count", type=POSITIVE, default=1000)
    chains.add_argument("--seed", type=int, default=0)
    chains.add_argument("--workers", type=POSITIVE, default=2)
    chains.add_argument("--out", default="config/sim_chains.json")
    chains.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from lumos_core.runs import writable_file
    from lumos_core.sim.chains import generate_chains, save_chains

    writable_file(args.out)
    chains = generate_chains(args.count, args.seed, args.workers)
    save_chains(args.out, chains, args.seed)
    print(f"wrote {len(chains)} chains to {args.out}")
    return 0
