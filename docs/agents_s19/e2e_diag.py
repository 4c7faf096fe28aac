"""Session 19: where the end-to-end learning test's policies lose the LED task, rung by rung.

    # the test's pipeline once (its data and models kept), every torch seed shifted by OFFSET:
    python docs/agents_s19/e2e_diag.py train OUT [--offset 0] [--frames 4000]
        [--episode-length 100] [--wm-steps 250] [--latents h,decoded]
        [--set agent_train.actor_lr=0.0002 ...]   # overrides after the test's own
    # any policy (checkpoint, `lumos ladder state-bc` directory) on the test's first N chains:
    python docs/agents_s19/e2e_diag.py trace POLICY [--chains 24]

``trace`` prints, per chain, where the gripper passed closest to the button and how low it got,
then the success rate (its own instruction draw, not evaluate()'s, so rates differ from the
test's by chance). The test's own figures come from docs/agents_s18/e2e_seeds.py.
"""

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "test"))

import test_learning_e2e as e2e  # noqa: E402


def train(args: argparse.Namespace) -> None:
    from lumos_core.language import LanguageEncoder

    seed = torch.manual_seed
    torch.manual_seed = lambda s: seed(int(s) + args.offset)
    torch.set_num_threads(1)
    torch.manual_seed(0)
    out = Path(args.out)
    feats = e2e.build_features(out, LanguageEncoder(), frames=args.frames,
                               episode_length=args.episode_length, wm_steps=args.wm_steps)
    for latent in args.latents.split(","):
        print("policy", e2e.train_policy(feats, out / f"agent_{latent}", latent, args.set))


def trace(args: argparse.Namespace) -> None:
    from lumos_core.config import SimConfig
    from lumos_core.evaluation import make_policy
    from lumos_core.instructions import load_instruction_file
    from lumos_core.paths import config_file
    from lumos_core.sim import scene
    from lumos_core.sim.env import PlayTableEnv
    from lumos_core.sim.tasks import SceneState, completed_tasks

    torch.set_num_threads(1)
    instructions = load_instruction_file(config_file("sim_instructions_eval.yaml"))
    chains = e2e._chains(args.chains, seed=3)
    rng = np.random.default_rng(0)
    done = 0
    with PlayTableEnv(SimConfig(render=False)) as env:
        policy = make_policy(args.policy, env, instructions, 0)
        for i, chain in enumerate(chains):
            obs, _ = env.reset(options={"scene_obs": np.asarray(chain["scene_obs"], np.float32),
                                        "robot_obs": np.asarray(chain["robot_obs"], np.float32)})
            task = chain["tasks"][0]
            goal = instructions[task][rng.integers(len(instructions[task]))]
            policy.seed(i)
            policy.reset()
            start = SceneState(env.scene_obs(), env.held_block())
            path, success = [], None
            for t in range(args.steps):
                obs, *_ = env.step(policy.step(obs, goal))
                path.append(obs["robot_obs"][:3].copy())
                if task in completed_tasks(start, SceneState(obs["scene_obs"],
                                                             env.held_block())):
                    success = t
                    break
            path = np.array(path)
            dist = np.linalg.norm(path[:, :2] - np.array(scene.BUTTON_XY), axis=1)
            k = int(dist.argmin())
            done += success is not None
            print(f"{i:2d} {task:13s} success at {success}, closest {dist[k]:.3f} m at step {k} "
                  f"(z {path[k, 2]:.3f}), lowest z {path[:, 2].min():.3f}  '{goal}'")
    print(f"success {done / len(chains):.2f} ({done}/{len(chains)})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("train")
    p.add_argument("out")
    p.add_argument("--offset", type=int, default=0)
    p.add_argument("--frames", type=int, default=4000)
    p.add_argument("--episode-length", type=int, default=100)
    p.add_argument("--wm-steps", type=int, default=e2e.WM_STEPS)
    p.add_argument("--latents", default="h,decoded")
    p.add_argument("--set", action="append", default=[])
    p = sub.add_parser("trace")
    p.add_argument("policy")
    p.add_argument("--chains", type=int, default=24)
    p.add_argument("--steps", type=int, default=150)
    args = parser.parse_args()
    {"train": train, "trace": trace}[args.command](args)


if __name__ == "__main__":
    main()
