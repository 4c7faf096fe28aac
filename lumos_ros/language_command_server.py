"""language_command_server: turn `ros2 service call` language commands into a latched goal.

    ros2 service call /lumos/command lumos_ros/srv/LanguageCommand \
        "{instruction: 'open the drawer'}"

Validates the instruction (lumos_core.instructions.InstructionGate), embeds it with
all-MiniLM-L6-v2 and publishes ``LanguageGoal`` on a transient-local topic, so a subscriber that
starts later still receives the current goal. A rejected instruction leaves the goal unchanged.
``~/clear`` (std_srvs/Trigger) cancels the goal: an inactive ``LanguageGoal`` is published.

``dry_run: true`` imagines the command in the world model and answers with the predicted outcome,
executing nothing. With ``min_predicted_success`` > 0 every command is imagined first and
executed only if the predicted success reaches the threshold (refused, goal unchanged, when it
does not or when no prediction can be made).
"""

from __future__ import annotations

import sys

from rcl_interfaces.msg import SetParametersResult
from rclpy.node import Node
from std_srvs.srv import Trigger

from lumos_core.instructions import InstructionGate, load_instruction_file
from lumos_core.language import LanguageEncoder
from lumos_ros.msg import LanguageGoal
from lumos_ros.launcher import run_node
from lumos_ros.params import TORCH_THREADS, Param, apply_torch_threads, declare
from lumos_ros.qos import LATCHED, SERVICE_QUEUE
from lumos_ros.srv import LanguageCommand


def known_instructions(checkpoint: str, instructions_file: str) -> dict[str, list[str]]:
    """Instructions the policy was trained on: from a checkpoint's metadata, else a YAML file."""
    if checkpoint:
        from lumos_core.checkpoint import read_meta

        instructions = read_meta(checkpoint).get("extra", {}).get("instructions")
        if not instructions:
            raise ValueError(f"checkpoint {checkpoint} stores no training instructions "
                             "(meta.json extra.instructions)")
        return instructions
    if instructions_file:
        return load_instruction_file(instructions_file)
    return {}


#: the node's parameters; ``ros2 param set`` refuses values outside a number's range
PARAMETERS = (
    Param("service", "lumos/command", "LanguageCommand service name"),
    Param("goal_topic", "lumos/goal", "Topic of the latched LanguageGoal"),
    Param("checkpoint", "", "Policy checkpoint whose training instructions define the domain"),
    Param("instructions_file", "", "YAML task -> [instructions], used when no checkpoint is "
                                   "given"),
    Param("max_length", 256, "Longest accepted instruction, in characters", 1, None,
          dynamic=True),
    Param("min_similarity", 0.5, "Reject instructions whose cosine similarity to every known "
                                 "instruction is below this", -1.0, 1.0, dynamic=True),
    Param("grounding", "task", "task: an accepted instruction's goal is the training "
                               "instruction of the task a classifier over its MiniLM token "
                               "embeddings names; off: the instruction's own embedding"),
    Param("min_task_confidence", 0.0, "With grounding: reject instructions whose task the "
                                      "classifier gives less than this probability, naming "
                                      "the two tasks they could mean (0 = never)", 0.0, 1.0,
          dynamic=True),
    Param("hold_service", "action_executor/hold", "std_srvs/Trigger called on a stop command "
                                                  "('stop', 'halt', 'freeze', ...) after the "
                                                  "goal is cleared"),
    Param("latent_topic", "lumos/latent_state", "LatentState input: dry runs imagine from the "
                                                "latest one"),
    Param("state_topic", "lumos/sim_state", "robot_obs + scene_obs input (state mode): the "
                                            "start state a dry run's predicted outcome is "
                                            "judged from ('' to disable)"),
    Param("min_predicted_success", 0.0, "Execute a command only if its dry run predicts "
                                        "success with at least this probability (0 = no dry "
                                        "run before executing)", 0.0, 1.0, dynamic=True),
    TORCH_THREADS,
)

#: the dynamic parameters the instruction gate holds, as its attributes of the same names
GATE_PARAMS = ("max_length", "min_similarity", "min_task_confidence")


class LanguageCommandServer(Node):
    """Serves LanguageCommand and publishes the current LanguageGoal (latched)."""

    def __init__(self, encoder: LanguageEncoder | None = None, **kwargs) -> None:
        super().__init__("language_command_server", **kwargs)
        declare(self, PARAMETERS)
        apply_torch_threads(self)
        self.add_on_set_parameters_callback(self._apply_parameters)

        known = known_instructions(self.get_parameter("checkpoint").value,
                                   self.get_parameter("instructions_file").value)
        self.encoder = encoder if encoder is not None else LanguageEncoder()
        self.gate = InstructionGate(self.encoder, known,
                                    max_length=self.get_parameter("max_length").value,
                                    min_similarity=self.get_parameter("min_similarity").value,
                                    grounding=self.get_parameter("grounding").value,
                                    min_task_confidence=self.get_parameter(
                                        "min_task_confidence").value)
        self.goal_id = 0
        self.goal_pub = self.create_publisher(
            LanguageGoal, self.get_parameter("goal_topic").value, LATCHED)
        # a deep request queue: a burst of calls is answered, not dropped (the default depth
        # of 10 answered ~21 of 200 concurrent calls)
        self.create_service(LanguageCommand, self.get_parameter("service").value,
                            self._on_command, qos_profile=SERVICE_QUEUE)
        self.hold_client = self.create_client(Trigger, self.get_parameter("hold_service").value)
        from lumos_ros.imaginer import Imaginer

        self.imaginer = Imaginer(self, self.get_parameter("checkpoint").value,
                                 self.get_parameter("latent_topic").value,
                                 self.get_parameter("state_topic").value)
        self.create_service(Trigger, "~/clear", self._on_clear)
        grounding = (f"grounding off ({self.gate.grounding_note})" if self.gate.grounder is None
                     else "instructions grounded on their task")
        self.get_logger().info(
            f"ready: {len(self.gate.known_tasks)} known tasks, model {self.encoder.model_id}, "
            f"{grounding}")

    def _apply_parameters(self, params) -> SetParametersResult:
        """Hand a changed gate parameter to the gate (types and ranges were checked by the
        parameters' descriptors before this is called)."""
        for param in params:
            if param.name in GATE_PARAMS:
                setattr(self.gate, param.name, param.value)
        return SetParametersResult(successful=True)

    def _publish(self, instruction: str, embedding, active: bool) -> None:
        self.goal_id += 1
        msg = LanguageGoal()
        msg.header.stamp = self.get_clock().now().to_msg()
        msg.instruction = instruction
        msg.embedding = [] if embedding is None else embedding.tolist()
        msg.model_id = self.encoder.model_id
        msg.active = active
        msg.goal_id = self.goal_id
        self.goal_pub.publish(msg)

    def _on_command(self, request, response):
        decision = self.gate.check(request.instruction)
        if decision.stop:
            self._publish("", None, active=False)
            held = self.hold_client.service_is_ready()
            if held:
                self.hold_client.call_async(Trigger.Request())
            message = decision.message + ("" if held else
                                          f" (no {self.hold_client.srv_name} service: the "
                                          "executor holds when the actions stop)")
            self.get_logger().info(message)
            response.accepted, response.message = True, message
            response.closest_task, response.similarity = "", 0.0
            response.goal_id = self.goal_id
            return response
        response.predicted_success, response.predicted = -1.0, ""
        if request.dry_run:
            return self._dry_run(decision, response)
        accepted, message = decision.accepted, decision.message
        threshold = self.get_parameter("min_predicted_success").value
        if accepted and threshold > 0.0:
            refusal, prediction = self._gate_on_prediction(decision, response, threshold)
            accepted = refusal is None
            message = refusal or f"{message} ({prediction})"
        if accepted:
            self._publish(decision.instruction, decision.embedding, active=True)
            self.get_logger().info(message)
        else:
            self.get_logger().warning(message)
        response.accepted = accepted
        response.message = message
        response.closest_task = decision.closest_task
        response.similarity = decision.similarity
        response.goal_id = self.goal_id
        return response

    def _predict(self, decision, response) -> str | None:
        """Imagine ``decision``'s instruction from the latest latent state and fill the
        response's prediction; the reason when it cannot (None: it did)."""
        from lumos_ros.imaginer import summary

        why = self.imaginer.ready()
        if why:
            return why
        try:
            result = self.imaginer.imagine(decision.embedding, decision.closest_task)
        except ValueError as exc:
            return str(exc)
        response.predicted = summary(result["tasks"], self.imaginer.samples)
        if result["probability"] is not None:
            response.predicted_success = float(result["probability"])
        return None

    def _gate_on_prediction(self, decision, response, threshold: float
                            ) -> tuple[str | None, str]:
        """(the refusal message of a command whose predicted success is below ``threshold``
        or cannot be predicted -- None lets it execute --, the prediction in words)."""
        why = self._predict(decision, response)
        if why:
            return (f"not executed: min_predicted_success {threshold:g} needs a dry run, "
                    f"which is not possible: {why}"), ""
        p = response.predicted_success
        if p < 0.0:
            return (f"not executed: min_predicted_success {threshold:g} needs a predicted "
                    "success probability, which needs a state-mode world model and the "
                    f"simulator state (predicted: {response.predicted})"), ""
        if p < threshold:
            return (f"not executed: predicted success {p:.2f} < min_predicted_success "
                    f"{threshold:g} ({response.predicted})"), ""
        return None, f"predicted success {p:.2f} >= {threshold:g}: {response.predicted}"

    def _dry_run(self, decision, response):
        """Imagine the instruction from the latest latent state; the goal stays as it is."""
        response.accepted = False
        response.closest_task = decision.closest_task
        response.similarity = decision.similarity
        response.goal_id = self.goal_id
        if not decision.accepted or decision.stop:
            response.message = f"dry run: {decision.message}"
            return response
        why = self._predict(decision, response)
        if why:
            response.message = f"dry run not possible: {why}"
            return response
        response.accepted = True
        response.message = (f"dry run of '{decision.instruction}' ({self.imaginer.samples} "
                            f"imagined futures of {self.imaginer.horizon} steps; nothing "
                            f"executed): {response.predicted}")
        self.get_logger().info(response.message)
        return response

    def _on_clear(self, request, response):
        self._publish("", None, active=False)
        response.success = True
        response.message = f"goal cleared (goal_id {self.goal_id})"
        self.get_logger().info(response.message)
        return response


def main(args=None) -> int:
    """Run the node until shutdown."""
    return run_node(LanguageCommandServer, "language_command_server", args)


if __name__ == "__main__":
    sys.exit(main())
