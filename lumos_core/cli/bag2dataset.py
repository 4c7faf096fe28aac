"""`lumos bag2dataset`: rosbag2 recordings of a robot into a CALVIN-format dataset split."""

from __future__ import annotations

import argparse
from pathlib import Path

from lumos_core.cli.common import NON_NEGATIVE, SECONDS, number

TOPICS = (("static-topic", "/static_cam/image_raw"), ("gripper-topic", "/wrist_cam/image_raw"),
          ("pose-topic", "/lumos/ee_pose"), ("joints-topic", "/joint_states"),
          ("action-topic", "/lumos/executed_action"), ("state-topic", "/lumos/sim_state"),
          ("episode-topic", "/lumos/episode_event"))


def register(sub) -> None:
    bag = sub.add_parser("bag2dataset", help="convert rosbag2 bags (MCAP/sqlite3) of the camera, "
                         "state and action topics into a CALVIN-format dataset split")
    bag.add_argument("bags", nargs="+", help="bag directories (or .mcap files), in order")
    bag.add_argument("--out", required=True, help="dataset root (episodes are appended)")
    bag.add_argument("--split", default="training", choices=["training", "validation"])
    for name, default in TOPICS:
        bag.add_argument(f"--{name}", default=default)
    bag.add_argument("--rate", type=SECONDS, default=15.0, help="frames per second written")
    bag.add_argument("--max-age", type=SECONDS, default=0.2,
                     help="s: a frame whose robot state is older is dropped")
    bag.add_argument("--slop", type=number(0.0), default=0.02, help="s: camera pairing")
    bag.add_argument("--static-size", type=NON_NEGATIVE, default=200, help="0: as recorded")
    bag.add_argument("--gripper-size", type=NON_NEGATIVE, default=84, help="0: as recorded")
    bag.add_argument("--gap", type=SECONDS, default=0.5,
                     help="s: without episode events, a camera gap this long ends an episode")
    bag.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from lumos_core.data.recording import AssemblerConfig
    from lumos_core.runs import writable_dir
    from lumos_ros.bag2dataset import BagTopics, convert, write_report

    topics = BagTopics(args.static_topic, args.gripper_topic, args.pose_topic,
                       args.joints_topic, args.action_topic, args.state_topic,
                       args.episode_topic)
    cfg = AssemblerConfig(args.rate, args.max_age, args.static_size, args.gripper_size)
    split = Path(args.out) / args.split
    writable_dir(split)
    report = convert(args.bags, split, topics, cfg, args.slop, args.gap)
    write_report(report, split / "bag2dataset_report.json")
    print(report.text())
    print(f"report: {split / 'bag2dataset_report.json'}")
    return 0 if report.episodes else 1
