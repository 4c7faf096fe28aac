"""`lumos annotate`: sampling, the terminal flow, stop and resume."""

import subprocess
import sys

import numpy as np
import pytest
from conftest import write_random_episodes

from lumos_core.annotate import AnnotationSession, run, sample_windows
from lumos_core.data.calvin import DatasetError, read_annotations


@pytest.fixture
def split(tmp_path):
    return write_random_episodes(tmp_path / "play" / "training", (40, 25, 12))


def test_windows_lie_inside_episodes_and_do_not_overlap():
    episodes = np.array([[0, 39], [40, 64], [65, 76]])
    windows = sample_windows(episodes, 4, 10, seed=1)
    assert len(windows) == 4
    for s, e in windows:
        assert e - s + 1 == 10
        assert any(a <= s and e <= b for a, b in episodes)
    for i, a in enumerate(windows):
        for b in windows[i + 1:]:
            assert a[1] < b[0] or b[1] < a[0]
    assert windows == sample_windows(episodes, 4, 10, seed=1), "fixed by the seed"
    with pytest.raises(DatasetError, match="no episode has 50 frames"):
        sample_windows(episodes, 1, 50, seed=0)


def test_flow_stop_and_resume(split, tmp_path, encoder):
    answers = iter(["open the drawer", "", "q"])
    first = run(split, 4, 10, 0, tmp_path / "gifs", encoder, lambda _: next(answers),
                out=open(tmp_path / "log1.txt", "w"))
    assert first == {"windows": 4, "answered": 2, "described": 1, "stopped": True,
                     "annotations": 1}
    assert len(list((tmp_path / "gifs").glob("*.gif"))) == 3
    ann = read_annotations(split)
    assert ann["language"]["ann"] == ["open the drawer"]
    assert np.allclose(ann["language"]["emb"][0, 0], encoder.encode_one("open the drawer"),
                       atol=1e-5)
    session = AnnotationSession(split, 4, 10, 0)
    window = session.windows[0]
    assert ann["info"]["indx"] == [window] and len(session.remaining()) == 2
    answers = iter(["push_button: press the blue button", "y", "turn on the light bulb"])
    second = run(split, 4, 10, 0, tmp_path / "gifs", encoder, lambda _: next(answers),
                 out=open(tmp_path / "log2.txt", "w"))
    assert second["answered"] == 4 and second["annotations"] == 3 and not second["stopped"]
    assert "resuming: 2 of 4" in (tmp_path / "log2.txt").read_text()
    ann = read_annotations(split)
    assert ann["language"]["task"] == ["annotated", "push_button", "annotated"]
    assert ann["language"]["ann"][1] == "press the blue button"
    assert len(set(ann["info"]["indx"])) == 3


def test_cli_reads_answers_from_stdin(split, tmp_path):
    cmd = [sys.executable, "-m", "lumos_core.cli", "annotate", str(split.parent), "--count", "2",
           "--length", "8", "--gif-dir", str(tmp_path / "gifs")]
    result = subprocess.run(cmd, input="stack the blocks\n", capture_output=True, text=True,
                            timeout=300, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "1/2 windows answered" in result.stdout and "resume" in result.stdout
    result = subprocess.run(cmd, input="lift the red block\n", capture_output=True, text=True,
                            timeout=300, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "2/2 windows answered (2 described)" in result.stdout
    assert read_annotations(split)["language"]["ann"] == ["stack the blocks",
                                                          "lift the red block"]
