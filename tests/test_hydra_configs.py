"""How configs/ composes: the search-path plugin, the shared SCoRe base, the CPU platform group, SMART-SCoRe under its
authors' name, and a clear error for a group option that does not exist. Composition only (no Ray, no model)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from testkit.compose_launchers import _resolved, diff
from verl_score import config_check

REPO = Path(__file__).resolve().parents[1]
CONFIGS = REPO / "configs"


def _compose(*args: str) -> dict:
    return _resolved(config_check.compose("main_ppo", list(args)))


def test_no_config_sets_the_search_path():
    """verl's config directory comes from hydra_plugins/verl_score_searchpath, so configs can extend each other
    (hydra 1.3 accepts hydra.searchpath only in the primary config)."""
    for path in CONFIGS.rglob("*.yaml"):
        cfg = yaml.safe_load(path.read_text())
        assert not (isinstance(cfg, dict) and "searchpath" in (cfg.get("hydra") or {})), path


def test_plugin_is_found_from_another_directory():
    """From any working directory with the repository importable (what `pip install -e .` gives): verl's
    ppo_trainer under our score_math, and our configs under verl's own primary config."""
    code = ("from verl_score import config_check as c; "
            "print(c.compose('main_ppo', ['--config-name=smart_score_math']).guidance.name, "
            "c.compose('main_ppo', ['+platform=cpu']).actor_rollout_ref.rollout.name)")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = subprocess.run([sys.executable, "-c", code], cwd="/", env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split()[-2:] == ["smart", "hfcpu"]


def test_task_configs_keep_only_what_differs():
    """score_math / score_code extend score_base; what they set is the per-task part of the paper's Table 5 (the
    critic's mini-batch follows the batch by interpolation)."""
    shared = _compose(f"--config-path={CONFIGS}", "--config-name=score_base")
    for task, expected in {"math": (128, 5e-6, 3000, 0.1, 1000, 2000), "code": (32, 1e-5, 1500, 0.25, 500, 1000)}.items():
        cfg = _compose(f"--config-path={CONFIGS}", f"--config-name=score_{task}")
        s = cfg["score"]
        assert (cfg["data"]["train_batch_size"], cfg["actor_rollout_ref"]["actor"]["optim"]["lr"],
                cfg["trainer"]["total_training_steps"], s["beta2"], s["schedule"]["stage1_steps"],
                s["schedule"]["stage2_steps"]) == expected
        own = {line.split(":")[0][2:] for line in diff(shared, cfg)}
        assert {k.split(".")[0] for k in own} <= {"data", "actor_rollout_ref", "critic", "reward", "trainer", "score"}, own
        assert cfg["score"]["shaping"] == shared["score"]["shaping"] and cfg["actor_rollout_ref"]["actor"]["kl_loss_coef"] == 0.01


def test_smart_score_math_is_score_math_with_smart_guidance():
    overlay = _compose(f"--config-path={CONFIGS}", "--config-name=score_math", "+guidance=smart")
    named = _compose(f"--config-path={CONFIGS}", "--config-name=smart_score_math")
    assert diff(overlay, named) == ["+ correction_model_path: None (new)"]
    assert named["guidance"]["kwargs"]["backend"] == "auto"  # null: the policy guides itself (no GUIDE_API_BASE)


def test_correction_model_path_names_the_guide(monkeypatch):
    monkeypatch.delenv("GUIDE_MODEL", raising=False)
    cfg = _compose(f"--config-path={CONFIGS}", "--config-name=smart_score_math", "correction_model_path=/ckpt/guide")
    kw = cfg["guidance"]["kwargs"]
    assert kw["backend"] == "endpoint" and kw["client"]["model"] == "/ckpt/guide"


@pytest.mark.parametrize("override,group,valid", [("+platform=tpu", "platform", "cpu"),
                                                  ("+guidance=smartt", "guidance", "smart")])
def test_unknown_group_option_lists_the_valid_names(override, group, valid, tmp_path):
    """A launcher asked for a group option that does not exist: its dry run stops at composition with hydra's
    message naming the group and its options."""
    env = {**os.environ, "VERL_SCORE_COMPOSE_ONLY": "1", "DATA_DIR": str(tmp_path / "data")}
    out = subprocess.run(["bash", "scripts/run_qwen2.5-7b_score.sh", override], cwd=REPO, env=env, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode != 0
    assert f"config_check: the config does not compose: In 'score_math': Could not find '{group}/" in out.stderr
    assert f"Available options in '{group}':" in out.stderr and f"\t{valid}" in out.stderr
    assert "Traceback" not in out.stderr


@pytest.mark.parametrize("override,fix", [
    ("score.shaping.alpha=5", "Use: score.shaping.kwargs.alpha=5"),
    ("score.shaping.flip_bonus=2",
     "Use: ~score.shaping.kwargs score.shaping.name=flip_bonus +score.shaping.kwargs.bonus=2"),
])
def test_an_old_shaping_override_names_the_new_one(override, fix):
    """hydra's own hint ("append with +score.shaping.alpha=5") fails a second time; the dry run names the override
    of the {name, kwargs} form instead."""
    with pytest.raises(SystemExit) as exc:
        config_check.main(["main_ppo", f"--config-path={CONFIGS}", "--config-name=score_math", override])
    assert str(exc.value).endswith(fix), str(exc.value)


def test_a_derived_yaml_switches_shaping_with_kwargs_null(tmp_path):
    """YAML merges a derived file's kwargs into the base's (alpha stays and `none` refuses it, the message names
    the YAML form); `kwargs: null` replaces them."""
    from verl_score.training.config import ScoreConfig

    for kwargs, ok in (("", False), (", kwargs: null", True)):
        (tmp_path / "derived.yaml").write_text(
            f"defaults:\n  - score_math\n  - _self_\nscore:\n  shaping: {{name: none{kwargs}}}\n")
        cfg = config_check.compose("main_ppo", [f"--config-path={tmp_path}", "--config-name=derived"])
        if ok:
            assert not ScoreConfig.from_config(cfg.score).shaping.active
        else:
            with pytest.raises(ValueError, match=r"\['alpha'\].*`shaping: \{name: \.\.\., kwargs: null\}`"):
                ScoreConfig.from_config(cfg.score)


def test_a_type_error_at_start_up_is_reported_without_a_traceback():
    """A registered shaping whose constructor needs a parameter the config does not give: a TypeError from the
    class, reported as a refusal like the ValueErrors."""
    from dataclasses import dataclass

    from verl_score.training.shaping import SHAPINGS, Shaping, register_shaping

    @dataclass(frozen=True)
    class NeedsFactor(Shaping):
        factor: float

        def __call__(self, r_prev, r_cur, correct_threshold):
            return self.factor * r_cur

    if "test_needs_factor" not in SHAPINGS:
        register_shaping("test_needs_factor")(NeedsFactor)
    with pytest.raises(SystemExit, match="config_check: refused: .*factor"):
        config_check.main(["main_ppo", f"--config-path={CONFIGS}", "--config-name=score_math", "~score.shaping.kwargs",
                           "score.shaping.name=test_needs_factor"])
