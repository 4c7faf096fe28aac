"""InstructionGate: every rejection kind, with a deterministic stand-in encoder."""

import numpy as np
import pytest

from lumos_core.instructions import InstructionGate, load_instruction_file

KNOWN = {"open_drawer": ["open the drawer"], "turn_on_led": ["turn on the led"]}


class WordEncoder:
    """Bag-of-words embedding: similarity = shared words."""

    model_id = "test/words"
    vocab = ["open", "the", "drawer", "turn", "on", "led", "coffee", "make"]

    def encode(self, texts):
        out = np.zeros((len(texts), len(self.vocab)), np.float32)
        for i, text in enumerate(texts):
            for word in text.lower().split():
                if word in self.vocab:
                    out[i, self.vocab.index(word)] = 1.0
            norm = np.linalg.norm(out[i])
            out[i] /= norm if norm else 1.0
        return out


@pytest.fixture
def gate():
    return InstructionGate(WordEncoder(), KNOWN, max_length=40, min_similarity=0.5)


def test_accepts_known_instruction(gate):
    d = gate.check("  open the drawer ")
    assert d.accepted and d.instruction == "open the drawer"
    assert d.closest_task == "open_drawer" and d.similarity == pytest.approx(1.0)
    assert d.embedding.shape == (8,)


@pytest.mark.parametrize("text, reason", [
    ("", "empty"), ("   \t ", "empty"), ("x" * 41, "41 characters, the limit is 40"),
    ("open the\x07 drawer", "control characters (U+0007)"),
    ("open\nthe drawer", "control characters (U+000A)"),
    ("open the\u200b drawer", "U+200B"),
])
def test_rejections_explain_themselves(gate, text, reason):
    d = gate.check(text)
    assert not d.accepted and reason in d.message


def test_out_of_domain_names_closest_task(gate):
    d = gate.check("make coffee drawer")
    assert not d.accepted
    assert "out of domain" in d.message and d.closest_task == "open_drawer"
    assert 0 < d.similarity < 0.5 and f"{d.similarity:.3f}" in d.message


def test_non_string(gate):
    assert not gate.check(None).accepted


def test_no_known_instructions_accepts_everything():
    d = InstructionGate(WordEncoder(), {}).check("make coffee")
    assert d.accepted and "check disabled" in d.message


def test_bad_gate_arguments():
    with pytest.raises(ValueError, match="max_length"):
        InstructionGate(WordEncoder(), KNOWN, max_length=0)
    with pytest.raises(ValueError, match="min_similarity"):
        InstructionGate(WordEncoder(), KNOWN, min_similarity=2.0)


def test_instruction_files(tmp_path):
    from lumos_core.paths import config_file

    train = load_instruction_file(config_file("sim_instructions_train.yaml"))
    evaluation = load_instruction_file(config_file("sim_instructions_eval.yaml"))
    assert len(train) >= 20 and set(train) == set(evaluation)
    for task in train:
        assert len(train[task]) >= 3 and len(evaluation[task]) >= 2
        assert not set(train[task]) & set(evaluation[task]), task
    bad = tmp_path / "bad.yaml"
    bad.write_text("open_drawer: open the drawer\n")
    with pytest.raises(ValueError, match="bad.yaml must map task names"):
        load_instruction_file(bad)
    with pytest.raises(ValueError, match="does not exist"):
        load_instruction_file(tmp_path / "nope.yaml")


@pytest.mark.parametrize("text", ["stop", "STOP!", "halt", "freeze", "stop the robot now",
                                  "please stop", "don't move", "emergency stop", "hold it"])
def test_stop_commands_stop(gate, text):
    """Fault: "stop" was matched to the nearest task instead of stopping the robot."""
    d = gate.check(text)
    assert d.stop and d.accepted and d.embedding is None and "holds its pose" in d.message


@pytest.mark.parametrize("text", ["do not open the drawer", "don't turn on the led",
                                  "never open the drawer", "open the drawer, not the led",
                                  "stop opening the drawer"])
def test_negated_instructions_are_rejected(gate, text):
    """Fault: "do not open the drawer" was accepted as open_drawer (similarity 0.87)."""
    d = gate.check(text)
    assert not d.accepted and not d.stop and "negated" in d.message


def test_the_response_says_the_match_is_only_a_domain_check(gate):
    d = gate.check("open the drawer")
    assert "nearest training instruction 'open the drawer'" in d.message
    assert "not on this match" in d.message
