"""K and guidance have one home, the run config (``score.num_attempts``, the ``guidance`` block), and the agent loop
reads them from there (verl_score/contracts/run_settings.py): a composed SCoRe config reaches the real loop built
from configs/agent_loops.yaml the way verl's worker builds it, and a loop entry that disagrees is refused by the loop,
by the trainer's start-up check and by the ``VERL_SCORE_COMPOSE_ONLY`` dry run alike."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hydra import compose, initialize_config_dir
from hydra.errors import InstantiationException
from omegaconf import OmegaConf

from tests.episodes.conftest import GREEDY, PROBLEM, CannedServerManager
from verl_score import config_check
from verl_score.contracts.run_settings import MIN_ATTEMPTS, SCORE_LOOP_TARGETS, episode_settings
from verl_score.episodes.two_attempt import ScoreTwoAttemptAgentLoop
from verl_score.episodes.worker_build import instantiate_agent_loop
from verl_score.training.validate import check_run_settings, validate_score

REPO = Path(__file__).resolve().parents[2]
CONFIGS = REPO / "configs"
LOOPS = CONFIGS / "agent_loops.yaml"


def _compose(*overrides: str, name: str = "score_math"):
    with initialize_config_dir(config_dir=str(CONFIGS), version_base=None):
        return compose(config_name=name, overrides=[
            "actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu=1", "data.max_response_length=1024",
            f"actor_rollout_ref.rollout.agent.agent_loop_config_path={LOOPS}", *overrides])


def _build(entry, cfg, tokenizer, replies=(7, 8)):
    """As verl's AgentLoopWorker builds a loop: hydra.utils.instantiate of the entry plus the worker's arguments."""
    return instantiate_agent_loop(entry, cfg, CannedServerManager(list(replies),
                                                                  stop=tokenizer.convert_tokens_to_ids("<|im_end|>")),
                                  tokenizer)


def _entries(path: Path = LOOPS) -> dict[str, dict]:
    return {e["name"]: e for e in OmegaConf.load(path)}


def _pinned(tmp_path: Path, name: str, **pins) -> Path:
    """configs/agent_loops.yaml with ``pins`` added to entry ``name`` (an old-style file that sets K or guidance)."""
    entries = yaml.safe_load(LOOPS.read_text())
    for e in entries:
        if e["name"] == name:
            e.update(pins)
    path = tmp_path / "agent_loops.yaml"
    path.write_text(yaml.safe_dump(entries))
    return path


def test_agent_loops_yaml_only_names_the_loops():
    entries = _entries()
    score_loops = [e for e in entries.values() if e["_target_"] in SCORE_LOOP_TARGETS]
    assert {e["name"] for e in score_loops} == {"score_two_attempt", "score_k_attempt"}
    for e in score_loops:
        assert not {"num_attempts", "guidance", "guidance_kwargs"} & set(e), e
    assert ScoreTwoAttemptAgentLoop.__module__ + "." + ScoreTwoAttemptAgentLoop.__qualname__ in SCORE_LOOP_TARGETS


@pytest.mark.asyncio
async def test_k_from_the_score_block_reaches_both_loop_names(tokenizer):
    cfg = _compose("score.num_attempts=3")
    entries = _entries()
    for name in ("score_two_attempt", "score_k_attempt"):  # score_k_attempt: an alias, K from the score block too
        loop = _build(entries[name], cfg, tokenizer)
        assert isinstance(loop, ScoreTwoAttemptAgentLoop) and loop.num_attempts == 3
        assert loop.guidance_name == "static"  # no guidance block: the paper's instruction
    out = await loop.run(dict(GREEDY), raw_prompt=PROBLEM)
    assert out.extra_fields["num_attempts"] == 3 and len(out.extra_fields["attempt_texts"]) == 3
    assert out.extra_fields["guidance"] == ["static"] * 2
    assert sorted(set(out.attempt_index)) == [0, 1, 2, 3]

    default = _build(entries["score_k_attempt"], _compose(), tokenizer)
    assert default.num_attempts == 2  # it used to pin 4; now the run's K (score_math: 2)


def test_guidance_comes_from_the_run_config(tokenizer):
    import verl_score.teacher.guidance  # noqa: F401  registers "smart"

    smart = _compose("+guidance=smart", "guidance.kwargs.on_unreachable=fallback")
    assert episode_settings(smart).guidance == "smart"
    assert episode_settings(smart).guidance_kwargs["temperature"] == 0.7  # the block's kwargs, resolved
    assert episode_settings(_compose()).guidance == "static"


def _rows(tmp_path: Path, *agent_names: str) -> Path:
    """A training parquet whose rows name these agent loops (only the column the check reads)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "train.parquet"
    pq.write_table(pa.table({"agent_name": list(agent_names)}), path)
    return path


@pytest.mark.parametrize(
    "pins,needle",
    [
        ({"num_attempts": 4}, r"score_k_attempt' is given num_attempts=4 but the run's score.num_attempts=2"),
        ({"guidance": "smart"}, r"score_k_attempt' is given guidance='smart' .* the run config says guidance='static'"),
    ],
)
def test_a_loop_entry_that_disagrees_is_refused_everywhere(tmp_path, tokenizer, pins, needle):
    path = _pinned(tmp_path, "score_k_attempt", **pins)
    rows = _rows(tmp_path, "score_two_attempt", "score_k_attempt")  # parquets in the wild name the alias
    cfg = _compose(f"actor_rollout_ref.rollout.agent.agent_loop_config_path={path}", f"data.train_files={rows}",
                   f"data.val_files={rows}")
    with pytest.raises(ValueError, match=needle):  # the dry run (VERL_SCORE_COMPOSE_ONLY=1)
        config_check.check_score(cfg)
    with pytest.raises(ValueError, match=needle):  # the trainer's start-up
        validate_score(cfg)
    with pytest.raises(InstantiationException, match=needle):  # the loop itself, in the worker (hydra wraps it)
        _build(_entries(path)["score_k_attempt"], cfg, tokenizer)


def test_a_stale_pin_on_a_loop_no_row_uses_is_not_an_error(tmp_path):
    """An old agent_loops.yaml (score_k_attempt pinned K = 4) with rows that all name score_two_attempt: the pinned
    loop is never built, so the run is accepted; once a row names it, it is refused."""
    path = _pinned(tmp_path, "score_k_attempt", num_attempts=4)
    loops = f"actor_rollout_ref.rollout.agent.agent_loop_config_path={path}"
    rows = _rows(tmp_path, "score_two_attempt")
    cfg = _compose(loops, f"data.train_files={rows}", f"data.val_files={rows}")
    assert check_run_settings(cfg) == ["score_two_attempt"]  # the loops in use, resolved as the workers will
    validate_score(cfg)  # start-up accepts it (the dry run adds the run length, which one row cannot satisfy)
    (tmp_path / "val").mkdir()
    val = _rows(tmp_path / "val", "score_k_attempt")
    with pytest.raises(ValueError, match="num_attempts=4"):
        config_check.check_score(_compose(loops, f"data.train_files={rows}", f"data.val_files={val}"))


def test_dry_run_cli_refuses_a_k_mismatch(tmp_path, capsys):
    path = _pinned(tmp_path, "score_two_attempt", num_attempts=4)
    argv = ["main_ppo", f"--config-path={CONFIGS}", "--config-name=score_math",
            "actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu=1",
            f"actor_rollout_ref.rollout.agent.agent_loop_config_path={path}"]
    with pytest.raises(SystemExit, match="config_check: refused: .*num_attempts=4 .*score.num_attempts=2"):
        config_check.main(argv)


def test_an_entry_that_agrees_is_accepted(tmp_path):
    path = _pinned(tmp_path, "score_two_attempt", num_attempts=4)
    cfg = _compose(f"actor_rollout_ref.rollout.agent.agent_loop_config_path={path}", "score.num_attempts=4")
    assert "score.num_attempts+guidance+agent_loops" in config_check.check_score(cfg)


def test_unknown_guidance_is_refused_by_the_dry_run():
    cfg = _compose("+guidance=static", "guidance.name=smrt")
    with pytest.raises(ValueError, match=r"unknown guidance provider 'smrt'; registered: .*'smart', 'static'"):
        config_check.check_score(cfg)


@pytest.mark.parametrize("overrides,name,needle", [
    (("+guidance=smart", "guidance.kwargs.backend=endpint"), "score_math", "backend must be 'endpoint', 'policy'"),
    (("guidance=static",), "smart_score_math", r"guidance 'static' does not take guidance.kwargs \['backend'"),
    (("correction_model_path=/x",), "smart_score_math", "needs a guide endpoint .*GUIDE_API_BASE=<url>/v1"),
    (("+guidance=smart", "guidance.kwargs.backend=endpoint"), "score_math", "needs a guide endpoint"),
])
def test_bad_guidance_settings_are_refused_by_the_dry_run(monkeypatch, overrides, name, needle):
    """What the rollout worker would raise on building the provider, refused before Ray starts (no network call)."""
    monkeypatch.delenv("GUIDE_API_BASE", raising=False)
    with pytest.raises(ValueError, match=needle):
        config_check.check_score(_compose(*overrides, name=name))


def test_smart_guidance_is_built_without_probing_the_endpoint(monkeypatch):
    """An endpoint that is named but down (port 9) is the worker's start-up probe's business, not the dry run's."""
    monkeypatch.setenv("GUIDE_API_BASE", "http://127.0.0.1:9/v1")
    import urllib.request

    def no_network(*a, **k):
        raise AssertionError("the dry run made a network call")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    cfg = _compose("correction_model_path=/x", name="smart_score_math")
    assert "score.num_attempts+guidance+agent_loops" in config_check.check_score(cfg)


def test_correction_model_path_is_refused_where_nothing_maps_it():
    with pytest.raises(ValueError, match="correction_model_path=/models/guide is not what the guidance block uses"):
        config_check.check_score(_compose("+guidance=smart", "+correction_model_path=/models/guide"))
    with pytest.raises(ValueError, match="correction_model_path"):
        config_check.check_score(_compose("+correction_model_path=/models/guide"))


def test_one_range_for_k():
    with pytest.raises(ValueError, match=f"score.num_attempts must be >= {MIN_ATTEMPTS}"):
        config_check.check_score(_compose("score.num_attempts=1"))
    with pytest.raises(ValueError, match=f"num_attempts must be >= {MIN_ATTEMPTS}"):
        episode_settings(None, num_attempts=1)  # the loop without a run config (eval's local engine) too
    assert episode_settings(None, num_attempts=5).num_attempts == 5


def test_score_k_attempt_at_the_default_k_warns_once(monkeypatch, caplog):
    """score_k_attempt used to mean K = 4; under a run config at the default K it now runs 2 attempts: said once."""
    import logging

    from verl_score.contracts import run_settings

    monkeypatch.setattr(run_settings, "_WARNED_K_ALIAS", set())
    cfg = {"score": {}}
    with caplog.at_level(logging.WARNING, logger="verl_score.contracts.run_settings"):
        episode_settings(cfg, loop="score_two_attempt")
        assert not caplog.records
        for _ in range(3):
            assert episode_settings(cfg, loop="score_k_attempt").num_attempts == 2
    assert len(caplog.records) == 1 and "score.num_attempts=4" in caplog.records[0].getMessage()
    caplog.clear()
    episode_settings({"score": {"num_attempts": 4}}, loop="score_k_attempt")
    assert not caplog.records
