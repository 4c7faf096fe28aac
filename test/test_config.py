"""Typed configs: presets, overrides and clear errors for bad input."""

import dataclasses

import pytest

from lumos_core.config import (SECTIONS, ConfigError, LumosConfig, describe, load_config,
                               load_presets, merge, parse_override)


def test_defaults_are_the_official_numbers():
    cfg = LumosConfig()
    assert (cfg.world_model.deter, cfg.world_model.hidden, cfg.world_model.cnn_depth) == \
        (1024, 1000, 48)
    assert cfg.world_model.feat_dim == 2048
    assert (cfg.world_model.kl_scale, cfg.world_model.kl_balance) == (0.3, 0.8)
    assert (cfg.agent.gamma, cfg.agent.lambda_, cfg.agent.horizon) == (0.995, 0.95, 32)
    assert cfg.agent.plan_dim == 1024
    assert cfg.agent.replan_every == 30


@pytest.mark.parametrize("preset", ["paper", "cpu", "state", "debug"])
def test_every_preset_loads_and_round_trips(preset):
    cfg = load_config(preset)
    assert LumosConfig.from_dict(cfg.to_dict()) == cfg


def test_presets_change_what_they_say():
    assert load_config("state").world_model.obs_mode == "state"
    assert load_config("debug").world_model.deter < load_config("cpu").world_model.deter
    assert set(load_presets()) >= {"paper", "cpu", "state", "debug"}


def test_override_from_cli_text():
    cfg = load_config("cpu", ["world_model.deter=256", "agent.reward_latent=hz",
                              "wm_train.lr=1e-3", "data.cameras=[rgb_static]"])
    assert cfg.world_model.deter == 256
    assert cfg.agent.reward_latent == "hz"
    assert cfg.wm_train.lr == 1e-3
    assert cfg.data.cameras == ("rgb_static",)
    assert cfg.world_model.feat_dim == 256 + 32 * 32


def test_int_is_accepted_for_float():
    assert load_config("paper", ["wm_train.lr=1"]).wm_train.lr == 1.0


@pytest.mark.parametrize("override, words", [
    ("world_model.detr=256", ["world_model.detr", "allowed keys", "deter"]),
    ("wrld.deter=256", ["wrld", "allowed sections", "world_model"]),
    ("world_model.deter=big", ["world_model.deter", "integer", "big"]),
    ("world_model.deter=0", ["world_model.deter", ">= 1"]),
    ("world_model.kl_balance=1.5", ["world_model.kl_balance", "<= 1.0"]),
    ("world_model.obs_mode=depth", ["world_model.obs_mode", "'vision'", "'state'"]),
    ("world_model.use_proprio=3", ["world_model.use_proprio", "true or false"]),
    ("agent.min_window=40", ["agent.min_window", "agent.max_window"]),
    ("deter=256", ["section.key"]),
    ("world_model.deter", ["section.key=value"]),
])
def test_bad_overrides_name_the_key_and_what_is_allowed(override, words):
    with pytest.raises(ConfigError) as err:
        load_config("paper", [override])
    for word in words:
        assert word in str(err.value)


def test_unknown_preset_lists_the_available_ones():
    with pytest.raises(ConfigError, match="unknown preset 'tiny'.*debug"):
        load_config("tiny")


def test_bad_preset_file(tmp_path):
    bad = tmp_path / "presets.yaml"
    bad.write_text("fast:\n  world_model: {deter: -3}\n")
    with pytest.raises(ConfigError, match="world_model.deter"):
        load_config("fast", presets_file=bad)
    bad.write_text("fast: [1, 2\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config("fast", presets_file=bad)
    with pytest.raises(ConfigError, match="does not exist"):
        load_config("fast", presets_file=tmp_path / "missing.yaml")


def test_configs_are_immutable():
    cfg = LumosConfig()
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.world_model.deter = 3
    assert merge(cfg, {"world_model": {"deter": 3}}).world_model.deter == 3
    assert cfg.world_model.deter == 1024


def test_every_field_is_documented():
    text = describe(LumosConfig())
    for name, cls in SECTIONS.items():
        for f in dataclasses.fields(cls):
            assert f.metadata.get("doc"), f"{name}.{f.name} has no docstring"
            assert f"  {f.name}: " in text


def test_parse_override_reads_yaml_values():
    assert parse_override("agent.use_plan=false") == {"agent": {"use_plan": False}}
    assert parse_override("data.dataset=/tmp/x") == {"data": {"dataset": "/tmp/x"}}
