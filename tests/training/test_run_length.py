"""A run reaches its configured end: verl's epoch bound, the stage switch, and the GPU launchers' real schedules.

verl 0.9.1 ends its loop at min(total_training_steps, total_epochs × ⌊rows / batch⌋); with verl's default 30 epochs
the MATH launcher stopped at step 1,740 of 3,000 and the code launcher at 330, before Stage I ended. The GPU
launchers are dry-run here for real (bash, ``VERL_SCORE_COMPOSE_ONLY=1``) on parquet written by the real converter
at the public datasets' sizes: MATH 7,500 training problems, MBPP's official train split (task ids 601-974, 374 rows).
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import pytest
from omegaconf import OmegaConf

from verl_score import config_check
from verl_score.training.run_length import check_run_length, parquet_rows, run_length

REPO = pathlib.Path(__file__).resolve().parents[2]


def _cfg(batch=128, epochs=30, steps=3000, stage1=1000, stage2=2000, mode="sequential"):
    return OmegaConf.create(
        {
            "data": {"train_batch_size": batch},
            "trainer": {"total_epochs": epochs, "total_training_steps": steps},
            "score": {"schedule": {"mode": mode, "stage1_steps": stage1, "stage2_steps": stage2}},
        }
    )


def test_verl_arithmetic_and_the_old_defaults_stop_early():
    assert run_length(7500, 128, 30, 3000).last_step == 1740  # MATH under verl's default 30 epochs
    assert run_length(374, 32, 30, 1500).last_step == 330  # MBPP: before a 500-step Stage I ended
    assert run_length(7500, 128, 1000, 3000).last_step == 3000
    assert run_length(7500, 128, 2, None).last_step == 116  # no step count: the epochs decide
    with pytest.raises(ValueError, match=r"stop at step 1740, not trainer.total_training_steps=3000.*"
                       r"trainer.total_epochs>=52.*trainer.total_training_steps<=1740"):
        check_run_length(_cfg(), 7500)


def test_too_small_dataset_and_batch_larger_than_data_are_refused():
    with pytest.raises(ValueError, match=r"trainer.total_epochs=1 epochs of ⌊100 rows \(here\) / data.train_batch_size=8"):
        check_run_length(_cfg(batch=8, epochs=1, steps=20, stage1=5, stage2=15), 100, rows_from="here")
    with pytest.raises(ValueError, match=r"data.train_batch_size=128 is larger than the 100 training rows"):
        check_run_length(_cfg(), 100)


def test_stage_two_must_start_before_the_last_step():
    with pytest.raises(ValueError, match=r"score.schedule.stage1_steps=3000 >= the run's last step 3000.*Stage II"):
        check_run_length(_cfg(epochs=1000, stage1=3000, stage2=500), 7500)
    with pytest.raises(ValueError, match="stage1_steps=10 >= the run's last step 10"):
        check_run_length(_cfg(epochs=1000, steps=10, stage1=10, stage2=5, mode="interleave"), 7500)
    # a Stage I only run, on purpose (stage2_steps=0), is allowed
    assert check_run_length(_cfg(epochs=1000, steps=10, stage1=10, stage2=0), 7500).last_step == 10
    assert check_run_length(_cfg(epochs=1000, steps=10, stage1=9, stage2=1), 7500).last_step == 10
    # sequential Stage II runs to the end: the steps it would really get must be the configured ones
    with pytest.raises(ValueError, match=r"Stage II would run 1000 steps \(steps 501-1500\), not "
                                         r"score.schedule.stage2_steps=0"):
        check_run_length(_cfg(epochs=1000, steps=1500, stage1=500, stage2=0), 7500)
    with pytest.raises(ValueError, match=r"Stage II would run 2000 steps.*trainer.total_training_steps=6000"):
        check_run_length(_cfg(epochs=1000, steps=3000, stage1=1000, stage2=5000), 7500)


def _math_tree(root: pathlib.Path, n_train: int, n_test: int) -> None:
    for split, n in (("train", n_train), ("test", n_test)):
        folder = root / split / "algebra"
        folder.mkdir(parents=True)
        for i in range(n):
            q = f"What is ${i} + {split == 'test'}$ squared?"  # train and test problems distinct (the converter dedups)
            rec = {"problem": q, "level": "Level 1", "type": "Algebra", "solution": f"$\\boxed{{{i}}}$"}
            (folder / f"{i}.json").write_text(json.dumps(rec))


def _mbpp(path: pathlib.Path) -> None:
    with path.open("w") as f:
        for t in range(1, 975):  # the converter splits by task id: 601-974 is MBPP's train split
            f.write(json.dumps({
                "text": f"Write a function add_{t}(a) that returns a + {t}.", "task_id": t,
                "code": f"def add_{t}(a):\n    return a + {t}\n", "test_setup_code": "",
                "test_list": [f"assert add_{t}(1) == {t + 1}"], "challenge_test_list": [],
            }) + "\n")


def _convert(source: str, inp: pathlib.Path, out: pathlib.Path) -> None:
    subprocess.run([sys.executable, "data_preprocess/convert_parquet.py", source, "--input", str(inp), "--out-dir", str(out)],
                   cwd=REPO, check=True, capture_output=True, text=True, timeout=300)


def _dry_run(env: dict[str, str], *overrides: str) -> subprocess.CompletedProcess:
    """The launcher exactly as a user dry-runs it: real bash, VERL_SCORE_COMPOSE_ONLY=1, its own config check."""
    full = {**os.environ, "VERL_SCORE_COMPOSE_ONLY": "1", **env}
    return subprocess.run(["bash", "scripts/run_qwen2.5-7b_score.sh", *overrides], cwd=REPO, env=full,
                          capture_output=True, text=True, timeout=300)


def _composed(env: dict[str, str], *overrides: str):
    """The launcher's arguments (real bash, VERL_SCORE_COMPOSE_ONLY=args), composed in this process: the same config
    the dry run checks, without paying a fresh interpreter's verl import per case."""
    full = {**os.environ, "VERL_SCORE_COMPOSE_ONLY": "args", **env}
    out = subprocess.run(["bash", "scripts/run_qwen2.5-7b_score.sh", *overrides], cwd=REPO, env=full,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    entry, *args = json.loads(out.stdout.strip().splitlines()[-1])
    return entry, config_check.compose(entry, args)


@pytest.fixture(scope="module")
def gpu_datasets(tmp_path_factory):
    root = tmp_path_factory.mktemp("gpu_data")
    _math_tree(root / "MATH", 7500, 20)
    _convert("math", root / "MATH", root / "math")
    _mbpp(root / "mbpp.jsonl")
    _convert("mbpp", root / "mbpp.jsonl", root / "code")
    return root


def test_gpu_launchers_run_to_their_last_step_with_real_dataset_sizes(gpu_datasets, assets, capsys):
    """Both tasks, both algorithms: the composed launcher passes the schedule check and ends at its own
    total_training_steps (the code config's 1,500 with Stage I 500, not the math numbers)."""
    assert parquet_rows(str(gpu_datasets / "math" / "train.parquet")) == (7500, None)
    assert parquet_rows(str(gpu_datasets / "code" / "train.parquet")) == (374, None)
    model = str(assets["tiny_qwen"])
    for env, rows, per_epoch, last in [
        ({"TASK": "math"}, 7500, 58, 3000),
        ({"TASK": "code"}, 374, 11, 1500),
        ({"TASK": "code", "ALGO": "ppo"}, 374, 11, 1500),
    ]:
        task = env["TASK"]
        entry, cfg = _composed({**env, "MODEL": model, "DATA_DIR": str(gpu_datasets / task)})
        capsys.readouterr()
        checked = config_check.validate(cfg, entry)
        assert f"run_length:last_step={last}" in checked, env
        assert f"{rows} training rows / data.train_batch_size" in capsys.readouterr().err
        n = check_run_length(cfg, rows)
        assert (n.steps_per_epoch, n.last_step) == (per_epoch, last)
        assert cfg.trainer.total_training_steps == last
        assert cfg.score.schedule.stage1_steps == (1000 if task == "math" else 500)
    # a user's own step counts still reach the config
    entry, cfg = _composed({"MODEL": model, "DATA_DIR": str(gpu_datasets / "code"), "TASK": "code",
                            "STAGE1_STEPS": "300", "TOTAL_STEPS": "900"})
    assert "run_length:last_step=900" in config_check.validate(cfg, entry)


def test_gpu_launcher_refuses_a_run_that_would_stop_early(gpu_datasets, assets):
    env = {"MODEL": str(assets["tiny_qwen"]), "DATA_DIR": str(gpu_datasets / "code"), "TASK": "code"}
    proc = _dry_run(env, "trainer.total_epochs=30")  # verl's default, as before the fix: refused, exit != 0
    assert proc.returncode != 0
    assert "stop at step 330, not trainer.total_training_steps=1500" in proc.stderr
    assert "trainer.total_epochs>=137" in proc.stderr
    entry, cfg = _composed({**env, "STAGE1_STEPS": "1500", "TOTAL_STEPS": "1600"}, "trainer.total_training_steps=1500")
    with pytest.raises(ValueError, match="Stage II would never run"):
        config_check.validate(cfg, entry)
    entry, cfg = _composed(env, "actor_rollout_ref.actor.loss_agg_mode=seq-mean-token-mean")
    with pytest.raises(ValueError, match="loss_agg_mode='seq-mean-token-mean' is refused"):
        config_check.validate(cfg, entry)
