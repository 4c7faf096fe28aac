"""The generated interfaces import and carry the fields the nodes rely on."""

import numpy as np


def test_messages_import_and_fields():
    from lumos_ros.msg import LanguageGoal, LatentState, RelativeAction
    from lumos_ros.srv import LanguageCommand

    state = LatentState(deterministic=np.zeros(8, np.float32).tolist(), step=3, is_first=True)
    assert state.is_first and state.step == 3 and len(state.deterministic) == 8
    goal = LanguageGoal(instruction="open the drawer", embedding=[0.1] * 384, active=True)
    assert len(goal.embedding) == 384 and goal.model_id == ""
    action = RelativeAction(gripper=-1.0)
    assert len(action.delta) == 6 and action.gripper == -1.0
    request = LanguageCommand.Request(instruction="open the drawer")
    response = LanguageCommand.Response(accepted=True, message="ok")
    assert request.instruction == "open the drawer" and response.accepted


def test_messages_serialize_round_trip():
    from rclpy.serialization import deserialize_message, serialize_message

    from lumos_ros.msg import RelativeAction

    msg = RelativeAction(delta=[0.1, -0.2, 0.3, 0.0, 0.5, -1.0], gripper=1.0, step=42)
    back = deserialize_message(serialize_message(msg), RelativeAction)
    assert np.allclose(back.delta, msg.delta) and back.step == 42
