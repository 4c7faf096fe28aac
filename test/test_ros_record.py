"""rclpy tests of play-data recording: scripted teleop in simulation, faults, discard."""

import json
import os
import shutil
import signal

import numpy as np
import pytest
import yaml
from conftest import linked, wait_for

pytestmark = pytest.mark.ros
TIMEOUT = 120.0


def _status_watcher(ros):
    from rclpy.node import Node
    from std_msgs.msg import String

    from lumos_ros.qos import LATCHED

    node = ros.add(Node("status_watcher", context=ros.context))
    status = {}
    node.create_subscription(String, "/teleop_recorder/status",
                             lambda m: status.update(json.loads(m.data)), LATCHED)
    return node, status


def _record(tmp_path, script, **recorder):
    from lumos_ros.bringup import record_nodes

    path = tmp_path / "script.yaml"
    path.write_text(yaml.safe_dump(script))
    return record_nodes(str(tmp_path / "play" / "training"), use_sim=True, teleop_input="script",
                        script=str(path), recorder_parameters={"static_size": 64,
                                                               "gripper_size": 64, **recorder})


def test_scripted_teleop_records_two_episodes_that_train(ros, tmp_path):
    from lumos_core.config import load_config
    from lumos_core.data.calvin import read_episode_meta
    from lumos_core.data.dataset import PlayData
    from lumos_core.train_wm import WorldModelTrainer
    from lumos_ros.launcher import NodeGroup

    script = [{"wait": 4.0}, {"event": "start"},
              {"twist": [0, 0, -1, 0, 0, 0], "seconds": 1.0}, {"gripper": "close"},
              {"wait": 0.4}, {"event": "stop"}, {"event": "start"}, {"gripper": "open"},
              {"twist": [1, 0, 0.5, 0, 0, 0.5], "seconds": 1.0}, {"event": "stop"}]
    _, status = _status_watcher(ros)
    with NodeGroup(_record(tmp_path, script)) as group:
        done = wait_for(lambda: status.get("episodes") == 2 or group.poll(), TIMEOUT)
        assert not group.poll(), f"a node exited: {group.poll()}"
        assert done, f"recorder status: {status}"
    split = tmp_path / "play" / "training"
    data = PlayData(split, 64, progress=False)
    assert len(data.episodes) == 2
    lengths = data.episodes[:, 1] - data.episodes[:, 0] + 1
    assert np.all(lengths >= 8), lengths              # ~1.4 s and ~1 s at 15 Hz
    rel = data.arrays["rel_actions"]
    first = slice(data.segments[0][0], data.segments[0][1] + 1)
    assert np.any(rel[first][:, 2] < -0.4), "the first episode moves down (0.15 m/s)"
    assert np.any(rel[first][:, 6] < 0), "and closes the gripper"
    assert set(np.unique(rel[:, 6])) <= {-1.0, 1.0}
    robot = data.arrays["robot_obs"]
    z = robot[first][:, 2]
    assert z[-1] < z[0] - 0.05, f"tcp z goes down with the actions: {z}"
    metas = read_episode_meta(split)
    assert [m["source"] for m in metas] == ["teleop_recorder"] * 2
    cfg = load_config("debug", [f"data.dataset={tmp_path / 'play'}", "wm_train.seq_len=4",
                                "wm_train.batch_size=2", "wm_train.eval_every=1000",
                                "wm_train.checkpoint_every=1000"])
    trainer = WorldModelTrainer(cfg, tmp_path / "wm", progress=False)
    trainer.fit(3)
    assert trainer.step == 3


def _staged_frames(split):
    return sum(len(list(d.glob("episode_*.npz"))) for d in split.glob(".incoming-*"))


def test_kill_9_keeps_earlier_episodes_and_discard_drops_only_the_current(ros, tmp_path):
    from lumos_core.data.calvin import read_episode_ids
    from lumos_core.data.dataset import PlayData
    from lumos_core.data.recording import EpisodeWriter
    from lumos_ros.launcher import NodeGroup

    script = [{"wait": 4.0}, {"event": "start"}, {"twist": [0, 0, -1, 0, 0, 0], "seconds": 1.0},
              {"event": "stop"}, {"event": "start"},
              {"twist": [0, 1, 0, 0, 0, 0], "seconds": 0.8}, {"event": "discard"},
              {"event": "start"}, {"twist": [1, 0, 0, 0, 0, 0], "seconds": 30.0}]
    _, status = _status_watcher(ros)
    split = tmp_path / "play" / "training"
    specs = _record(tmp_path, script)
    with NodeGroup(specs) as group:
        # one episode kept, one discarded, a third being recorded: then kill -9 the recorder
        assert wait_for(lambda: status.get("episodes") == 1 and status.get("discarded") == 1
                        and status.get("recording") and status.get("frames", 0) > 5
                        and _staged_frames(split) > 5, TIMEOUT), status
        recorder = group.procs[[s.executable for s in specs].index("teleop_recorder")]
        os.kill(recorder.pid, signal.SIGKILL)
        recorder.wait()
    assert _staged_frames(split) > 5, "the killed episode's frames are staged, not listed"
    ids = read_episode_ids(split)
    assert len(ids) == 1 and ids[0][0] == 0, ids
    data = PlayData(split, 64, progress=False)
    assert len(data) == ids[0][1] + 1
    # the next recorder on this split removes the staged frames and appends after episode 1
    writer = EpisodeWriter(split)
    assert _staged_frames(split) == 0 and writer.writer.next_index == ids[0][1] + 1


def test_sigterm_commits_the_current_episode(ros, tmp_path):
    from lumos_core.data.calvin import read_episode_ids
    from lumos_ros.launcher import NodeGroup

    script = [{"wait": 4.0}, {"event": "start"}, {"twist": [0, 0, -1, 0, 0, 0], "seconds": 30}]
    _, status = _status_watcher(ros)
    split = tmp_path / "play" / "training"
    specs = _record(tmp_path, script)
    with NodeGroup(specs) as group:
        assert wait_for(lambda: status.get("recording") and status.get("frames", 0) > 5,
                        TIMEOUT), status
        recorder = group.procs[[s.executable for s in specs].index("teleop_recorder")]
        recorder.send_signal(signal.SIGTERM)
        assert recorder.wait(timeout=30) == 0
    ids = read_episode_ids(split)
    assert len(ids) == 1 and ids[0][1] - ids[0][0] + 1 > 5
    assert _staged_frames(split) == 0


def test_recorder_services_discard_and_write_error(ros, tmp_path):
    """In-process recorder fed by this test with exact stamps."""
    from geometry_msgs.msg import PoseStamped
    from rclpy.node import Node
    from rclpy.parameter import Parameter
    from sensor_msgs.msg import Image, JointState
    from std_srvs.srv import Trigger

    from lumos_core.data.calvin import read_episode_ids
    from lumos_ros.conversions import rgb_to_image
    from lumos_ros.msg import RelativeAction
    from lumos_ros.qos import RELIABLE
    from lumos_ros.teleop_recorder import TeleopRecorder

    split = tmp_path / "training"
    rec = ros.add(TeleopRecorder(context=ros.context, parameter_overrides=[
        Parameter("output_dir", value=str(split)), Parameter("static_size", value=0),
        Parameter("gripper_size", value=0)]))
    node = ros.add(Node("feeder", context=ros.context))
    pubs = {"static": node.create_publisher(Image, "/static_cam/image_raw", RELIABLE),
            "wrist": node.create_publisher(Image, "/wrist_cam/image_raw", RELIABLE),
            "pose": node.create_publisher(PoseStamped, "/lumos/ee_pose", RELIABLE),
            "joints": node.create_publisher(JointState, "/joint_states", RELIABLE),
            "action": node.create_publisher(RelativeAction, "/lumos/executed_action", RELIABLE)}
    assert wait_for(lambda: all(linked(p, rec) for p in pubs.values()), 30)
    clients = {name: node.create_client(Trigger, f"/teleop_recorder/{name}")
               for name in ("start", "stop", "discard")}

    def call(name):
        assert clients[name].wait_for_service(timeout_sec=30)
        future = clients[name].call_async(Trigger.Request())
        assert wait_for(future.done, 30)
        return future.result()

    def feed(t0, n):
        for i in range(n):
            ns = t0 + i * 66_666_667
            stamp = PoseStamped().header.stamp
            stamp.sec, stamp.nanosec = divmod(ns, 10**9)
            pose = PoseStamped()
            pose.header.stamp = stamp
            pose.pose.position.x, pose.pose.orientation.x = 0.5 + 0.001 * i, 1.0
            pubs["pose"].publish(pose)
            pubs["joints"].publish(JointState(header=pose.header, position=[0.1] * 9))
            before = rec.pairs
            image = np.full((32, 32, 3), i, np.uint8)
            pubs["static"].publish(rgb_to_image(image, stamp))
            pubs["wrist"].publish(rgb_to_image(image, stamp))
            assert wait_for(lambda: rec.pairs == before + 1, 30)
            action = RelativeAction(delta=[0.05, 0, 0, 0, 0, 0], gripper=1.0)
            action.header.stamp.sec, action.header.stamp.nanosec = divmod(ns + 10_000_000,
                                                                          10**9)
            actions = rec.session.actions
            pubs["action"].publish(action)
            assert wait_for(lambda: rec.session.actions > actions, 30)

    assert not call("stop").success, "not recording"
    assert call("start").success
    assert not call("start").success, "already recording"
    feed(10**18, 6)
    res = call("stop")
    assert res.success and "6 frames" in res.message, res.message
    assert call("start").success
    feed(10**18 + 10**10, 4)
    assert call("discard").success
    assert read_episode_ids(split).tolist() == [[0, 5]]
    # a write error (as from a full disk): the staging directory vanishes under the recorder
    assert call("start").success
    shutil.rmtree(rec.writer.staged)
    feed(10**18 + 2 * 10**10, 3)
    assert wait_for(lambda: rec.error and not rec.writer.recording, 30), rec.status()
    assert "cannot write" in rec.error
    assert read_episode_ids(split).tolist() == [[0, 5]], "nothing partial is listed"


def _stamped_messages(t0_ns, n):
    """(topic, message) of n steps: pose, joints, both images, then the executed action."""
    from geometry_msgs.msg import PoseStamped
    from sensor_msgs.msg import JointState

    from lumos_core.executor import quaternion_from_euler
    from lumos_ros.conversions import rgb_to_image
    from lumos_ros.msg import RelativeAction

    rng = np.random.default_rng(1)
    out = []
    for i in range(n):
        ns = t0_ns + i * 66_666_667
        pose = PoseStamped()
        pose.header.stamp.sec, pose.header.stamp.nanosec = divmod(ns - 3_000_000, 10**9)
        p = pose.pose.position
        p.x, p.y, p.z = 0.5 + 0.01 * i, 0.0, 0.3 - 0.005 * i
        o = pose.pose.orientation
        o.x, o.y, o.z, o.w = map(float, quaternion_from_euler(3.1, 0.0, 0.1 * i))
        joints = JointState(header=pose.header, position=rng.normal(size=9).tolist())
        static = rgb_to_image(rng.integers(0, 255, (48, 48, 3), np.uint8))
        static.header.stamp.sec, static.header.stamp.nanosec = divmod(ns, 10**9)
        wrist = rgb_to_image(rng.integers(0, 255, (24, 24, 3), np.uint8))
        wrist.header.stamp = static.header.stamp
        action = RelativeAction(delta=rng.uniform(-1, 1, 6).tolist(),
                                gripper=1.0 if i < n // 2 else -1.0)
        action.header.stamp.sec, action.header.stamp.nanosec = divmod(ns + 20_000_000, 10**9)
        out += [("/lumos/ee_pose", pose), ("/joint_states", joints),
                ("/static_cam/image_raw", static), ("/wrist_cam/image_raw", wrist),
                ("/lumos/executed_action", action)]
    return out


def _write_bag(path, messages, storage):
    from rclpy.serialization import serialize_message
    from rosbags.rosbag2 import StoragePlugin, Writer

    from lumos_ros.bag2dataset import typestore

    store = typestore()
    types = {}
    plugin = StoragePlugin.MCAP if storage == "mcap" else StoragePlugin.SQLITE3
    with Writer(path, version=9, storage_plugin=plugin) as writer:
        connections = {}
        for i, (topic, msg) in enumerate(messages):
            if topic not in connections:
                module = type(msg).__module__.split(".")[0]
                types[topic] = f"{module}/msg/{type(msg).__name__}"
                connections[topic] = writer.add_connection(topic, types[topic], typestore=store)
            writer.write(connections[topic], 10**18 + i * 1_000_000, serialize_message(msg))


def _split_content(split):
    from lumos_core.data.calvin import read_episode_ids

    ids = read_episode_ids(split)
    frames = []
    for start, end in ids:
        for index in range(start, end + 1):
            with np.load(split / f"episode_{index:07d}.npz") as f:
                frames.append({k: f[k] for k in f.files})
    return ids.tolist(), frames


@pytest.mark.parametrize("storage", ["mcap", "sqlite3"])
def test_a_bag_converts_to_what_the_recorder_wrote(ros, tmp_path, storage):
    from rclpy.node import Node
    from rclpy.parameter import Parameter
    from std_msgs.msg import String

    from lumos_core.data.recording import AssemblerConfig
    from lumos_ros.bag2dataset import convert
    from lumos_ros.qos import RELIABLE
    from lumos_ros.teleop_recorder import TeleopRecorder

    messages = _stamped_messages(10**18, 9)
    rec = ros.add(TeleopRecorder(context=ros.context, parameter_overrides=[
        Parameter("output_dir", value=str(tmp_path / "live" / "training")),
        Parameter("static_size", value=32), Parameter("gripper_size", value=16)]))
    node = ros.add(Node("feeder", context=ros.context))
    pubs = {topic: node.create_publisher(type(msg), topic, RELIABLE)
            for topic, msg in messages[:5]}
    events = node.create_publisher(String, "/lumos/episode_event", RELIABLE)
    assert wait_for(lambda: all(linked(p, rec) for p in list(pubs.values()) + [events]), 30)
    events.publish(String(data="start"))
    assert wait_for(lambda: rec.writer.recording, 30)
    for topic, msg in messages:
        counter = (lambda: rec.session.actions) if topic.endswith("action") else \
            (lambda: rec.session.pairs) if topic.startswith("/wrist") else None
        before = counter() if counter else None
        pubs[topic].publish(msg)
        if counter:                     # every message arrives before the next step
            assert wait_for(lambda: counter() > before, 30)
    assert wait_for(lambda: rec.session.assembler.pose.stamps, 30)
    events.publish(String(data="stop"))
    assert wait_for(lambda: not rec.writer.recording and rec.writer.episodes == 1, 30), \
        rec.status()

    bag = tmp_path / f"play_{storage}"
    _write_bag(bag, [("/lumos/episode_event", String(data="start"))] + messages
               + [("/lumos/episode_event", String(data="stop"))], storage)
    report = convert([bag], tmp_path / "bag" / "training",
                     cfg=AssemblerConfig(static_size=32, gripper_size=16))
    assert report.messages["/static_cam/image_raw"] == 9 and report.camera_pairs == 9
    assert len(report.episodes) == 1 and report.dropped == 0 and not report.gaps
    live_ids, live = _split_content(tmp_path / "live" / "training")
    bag_ids, converted = _split_content(tmp_path / "bag" / "training")
    assert live_ids == bag_ids == [[0, 8]]
    for a, b in zip(live, converted):
        assert a.keys() == b.keys()
        for key in a:
            assert np.array_equal(a[key], b[key]), key


def test_teleop_twist_and_buttons(ros):
    from geometry_msgs.msg import Twist
    from rclpy.node import Node
    from sensor_msgs.msg import Joy
    from std_msgs.msg import String

    from lumos_ros.msg import RelativeAction
    from lumos_ros.qos import RELIABLE
    from lumos_ros.teleop import Teleop

    teleop = ros.add(Teleop(context=ros.context))
    node = ros.add(Node("operator", context=ros.context))
    actions, events = [], []
    node.create_subscription(RelativeAction, "/lumos/action", actions.append, RELIABLE)
    node.create_subscription(String, "/lumos/episode_event", events.append, RELIABLE)
    twist_pub = node.create_publisher(Twist, "/spacenav/twist", RELIABLE)
    joy_pub = node.create_publisher(Joy, "/spacenav/joy", RELIABLE)
    assert wait_for(lambda: linked(twist_pub, teleop) and linked(joy_pub, teleop)
                    and linked(teleop.pub, node) and linked(teleop.event_pub, node), 30)
    assert wait_for(lambda: len(actions) > 3, 30)
    assert not any(actions[-1].delta), "no input: zero motion"
    twist = Twist()
    twist.linear.z = -1.0

    def moving():
        twist_pub.publish(twist)
        return actions and np.isclose(actions[-1].delta[2], -0.5)
    assert wait_for(moving, 30)
    joy_pub.publish(Joy(buttons=[1, 0]))        # gripper toggles on the press only
    joy_pub.publish(Joy(buttons=[1, 0]))
    joy_pub.publish(Joy(buttons=[0, 1]))        # record: start
    joy_pub.publish(Joy(buttons=[0, 0]))
    joy_pub.publish(Joy(buttons=[0, 1]))        # record: stop
    assert wait_for(lambda: [e.data for e in events] == ["start", "stop"], 30)
    assert wait_for(lambda: actions[-1].gripper == -1.0, 30)
    # input older than command_timeout: zero motion again
    assert wait_for(lambda: not any(actions[-1].delta), 30)
