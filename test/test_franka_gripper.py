"""FrankaGripper goal logic against a scripted action client (franka_msgs is not installable
here; the executor falls back to the topic then, which test_ros_executor.py covers)."""

from types import SimpleNamespace

from lumos_ros.franka_gripper import FrankaGripper, GripperSettings


class Future:
    def __init__(self):
        self.callbacks, self.value = [], None

    def add_done_callback(self, cb):
        self.callbacks.append(cb)

    def result(self):
        return self.value

    def finish(self, value):
        self.value = value
        for cb in self.callbacks:
            cb(self)


class Client:
    """Records goals; the test finishes them in order."""

    def __init__(self, log, node, action_type, name):
        self.log, self.name, self.ready = log, name, True

    def server_is_ready(self):
        return self.ready

    def send_goal_async(self, goal):
        future = Future()
        self.log.append((self.name, goal, future))
        return future


def _goal_type(**fields):
    class Goal(SimpleNamespace):
        def __init__(self):
            super().__init__(**fields)
    return SimpleNamespace(Goal=Goal)


ACTIONS = SimpleNamespace(Move=_goal_type(width=0.0, speed=0.0), Homing=_goal_type(),
                          Grasp=_goal_type(width=0.0, speed=0.0, force=0.0,
                                           epsilon=SimpleNamespace(inner=0.005, outer=0.005)))


class Node:
    def get_logger(self):
        return SimpleNamespace(warning=lambda *a, **k: None, error=lambda *a, **k: None,
                               info=lambda *a, **k: None)


def _finish(entry, success=True):
    """Accept the goal, then complete it."""
    _, _, accept = entry
    result = Future()
    accept.finish(SimpleNamespace(accepted=True, get_result_async=lambda: result))
    result.finish(SimpleNamespace(result=SimpleNamespace(success=success, error="")))


def _gripper(log, **settings):
    return FrankaGripper(Node(), GripperSettings(**settings), ACTIONS,
                         lambda *a: Client(log, *a))


def test_homing_first_then_move_and_grasp_goals():
    log = []
    g = _gripper(log, namespace="/fr3/franka_gripper/", force=25.0)
    assert [name for name, _, _ in log] == ["/fr3/franka_gripper/homing"]
    g.command(False)                     # homing still running: remembered, not sent
    assert len(log) == 1 and g.pending is False
    _finish(log[0])
    name, goal, _ = log[1]
    assert name == "/fr3/franka_gripper/grasp"
    assert (goal.width, goal.force, goal.epsilon.inner, goal.epsilon.outer) == (0.0, 25.0,
                                                                                0.08, 0.08)
    _finish(log[1])
    g.command(True)
    name, goal, _ = log[2]
    assert name == "/fr3/franka_gripper/move" and (goal.width, goal.speed) == (0.08, 0.1)


def test_one_goal_in_flight_and_only_the_latest_wish_is_sent():
    log = []
    g = _gripper(log, homing=False)
    g.command(False)
    g.command(True)
    g.command(False)                     # the wish while the grasp runs is "closed" again
    assert len(log) == 1
    _finish(log[0])
    assert len(log) == 1, "already closed: nothing more to send"
    g.command(True)
    g.command(False)
    _finish(log[1])
    assert [name.rsplit("/", 1)[1] for name, _, _ in log] == ["grasp", "move", "grasp"]
    assert g.sent == [False, True, False]


def test_failures_are_counted_and_do_not_block():
    log = []
    g = _gripper(log, homing=False)
    g.command(False)
    _finish(log[0], success=False)
    assert g.failures == 1 and g.in_flight is None
    rejected = Future()
    g.command(True)
    log[1][2].finish(SimpleNamespace(accepted=False))
    assert g.failures == 2 and g.in_flight is None
    del rejected


def test_server_missing_drops_the_command():
    log = []
    g = _gripper(log, homing=False)
    g.move.ready = g.grasp.ready = False
    g.command(False)
    assert not log and g.failures == 1 and g.in_flight is None
