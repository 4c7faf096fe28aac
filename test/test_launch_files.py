"""Launch files stay in sync with the executables and parameter files (launch itself is not
installable on pip-only machines, so the files are checked statically)."""

import ast
from pathlib import Path

import yaml

from lumos_ros.executables import NODES

REPO = Path(__file__).resolve().parent.parent
LAUNCH_FILES = sorted((REPO / "launch").glob("*.launch.py"))


def _nodes(tree):
    for call in ast.walk(tree):
        name = getattr(call.func, "id", "") if isinstance(call, ast.Call) else ""
        if name in ("Node", "LifecycleNode"):
            yield {kw.arg: kw.value for kw in call.keywords}


def test_there_are_launch_files():
    assert LAUNCH_FILES


def test_every_node_names_an_executable_and_existing_parameter_files():
    for launch in LAUNCH_FILES:
        tree = ast.parse(launch.read_text())
        assert any(isinstance(n, ast.FunctionDef) and n.name == "generate_launch_description"
                   for n in tree.body), launch.name
        nodes = list(_nodes(tree))
        assert nodes, f"{launch.name} starts no node"
        for kwargs in nodes:
            assert ast.literal_eval(kwargs["package"]) == "lumos_ros"
            executable = ast.literal_eval(kwargs["executable"])
            assert executable in NODES, f"{launch.name}: unknown executable {executable}"
            files = [c.args[-1].value for c in ast.walk(kwargs["parameters"])
                     if isinstance(c, ast.Call) and getattr(c.func, "attr", "") == "join"
                     and isinstance(c.args[-1], ast.Constant)]
            assert files, f"{launch.name}: {executable} has no parameter file"
            for name in files:
                path = REPO / "config" / name
                assert path.is_file(), f"{launch.name}: missing config/{name}"
                params = yaml.safe_load(path.read_text())
                # '/**': applies to a namespaced or renamed node too (a bare node-name key
                # is silently ignored then, dropping the workspace box)
                assert list(params) == ["/**"] and "ros__parameters" in params["/**"], \
                    f"config/{name}: expected only '/**: ros__parameters'"


def _launched(name):
    tree = ast.parse((REPO / "launch" / name).read_text())
    launched = set()
    for kwargs in _nodes(tree):
        files = [c.args[-1].value for c in ast.walk(kwargs["parameters"])
                 if isinstance(c, ast.Call) and getattr(c.func, "attr", "") == "join"
                 and isinstance(c.args[-1], ast.Constant)]
        launched.add((ast.literal_eval(kwargs["executable"]), files[0]))
    return launched


def test_bringup_starts_what_policy_launch_starts():
    from lumos_ros.bringup import policy_nodes

    specs = {(s.executable, s.params_file) for s in policy_nodes("ckpt", use_sim=True)}
    assert specs == _launched("policy.launch.py")
    assert "sim_robot" not in {s.executable for s in policy_nodes("ckpt", use_sim=False)}
    for spec in policy_nodes("ckpt"):
        assert spec.command()[2] == NODES[spec.executable].split(":")[0]


def test_record_bringup_starts_what_record_launch_starts():
    from lumos_ros.bringup import record_nodes

    specs = {(s.executable, s.params_file) for s in record_nodes("out", use_sim=True)}
    assert specs == _launched("record.launch.py")
    real = record_nodes("out", use_sim=False, backend="impedance")
    assert "sim_robot" not in {s.executable for s in real}
    recorder = next(s for s in real if s.executable == "teleop_recorder")
    assert "state_topic" not in recorder.parameters, "no simulator state on a real robot"


def test_every_launch_argument_is_described():
    """`ros2 launch ... --show-args` shows a description for every argument."""
    for launch in LAUNCH_FILES:
        for call in ast.walk(ast.parse(launch.read_text())):
            if isinstance(call, ast.Call) and getattr(call.func, "id", "") == \
                    "DeclareLaunchArgument":
                keywords = {kw.arg for kw in call.keywords}
                assert "description" in keywords, \
                    f"{launch.name}: {ast.literal_eval(call.args[0])} has no description"


def test_record_launch_ends_when_teleop_or_the_recorder_ends():
    tree = ast.parse((REPO / "launch" / "record.launch.py").read_text())
    ends = {ast.literal_eval(kw["executable"]) for kw in _nodes(tree)
            if "on_exit" in kw and "Shutdown" in ast.dump(kw["on_exit"])}
    assert ends == {"teleop", "teleop_recorder"}


def test_topic_and_service_defaults_are_relative():
    """Absolute names ignore namespace:=, so two robots' stacks collided on /lumos/...."""
    for path in (REPO / "config").glob("*.yaml"):
        data = yaml.safe_load(path.read_text())
        if not (isinstance(data, dict) and "/**" in data):
            continue
        for key, value in data["/**"]["ros__parameters"].items():
            if key.endswith(("_topic", "service", "_namespace")) and value:
                assert not str(value).startswith("/"), f"{path.name}: {key}: {value}"


def test_launch_files_give_sim_nodes_their_sim_files():
    """use_sim:=true: config/<node>_sim.yaml over <node>.yaml (the executor: the simulator's
    box; the policy: one action per observation), as the bringups do; use_sim:=false: the
    robot's file alone."""
    sim_files = {f"{node}_sim.yaml" for node in NODES
                 if (REPO / "config" / f"{node}_sim.yaml").is_file()}
    assert sim_files == {"action_executor_sim.yaml", "policy_publisher_sim.yaml"}
    for name in ("policy.launch.py", "record.launch.py"):
        tree = ast.parse((REPO / "launch" / name).read_text())
        seen = {}
        for kwargs in _nodes(tree):
            executable = ast.literal_eval(kwargs["executable"])
            if f"{executable}_sim.yaml" not in sim_files:
                continue
            condition = kwargs["condition"]
            assert ast.unparse(condition.args[0]) == "arg('use_sim')", name
            files = [c.args[-1].value for c in ast.walk(kwargs["parameters"])
                     if isinstance(c, ast.Call) and getattr(c.func, "attr", "") == "join"
                     and isinstance(c.args[-1], ast.Constant)]
            seen[(executable, condition.func.id)] = files
        for executable in {e for e, _ in seen}:
            assert seen.pop((executable, "UnlessCondition")) == [f"{executable}.yaml"], name
            assert seen.pop((executable, "IfCondition")) == [f"{executable}.yaml",
                                                             f"{executable}_sim.yaml"], name
        assert not seen, name
    assert "action_executor" in {ast.literal_eval(k["executable"]) for k in _nodes(
        ast.parse((REPO / "launch" / "record.launch.py").read_text()))}
