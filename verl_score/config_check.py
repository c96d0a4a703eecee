"""Compose a launcher's hydra config exactly as verl would, validate it against verl's schema, and exit.

Every launcher in ``scripts/`` calls verl through ``scripts/lib/verl_entry.sh``; with ``VERL_SCORE_COMPOSE_ONLY=1``
that function runs this module with the same arguments instead of training. It is how a test (and a user, before
booking a GPU node) checks that every override names a real key of verl 0.9.1's config with a valid value:

    VERL_SCORE_COMPOSE_ONLY=1 bash scripts/run_qwen2.5-7b_score.sh

Checks: hydra composition in struct mode (an unknown or mistyped key fails), every node with a ``_target_`` that is
one of verl's config dataclasses is built the way verl builds it (types and ``__post_init__`` checks), and the
``score:`` block passes the trainer's own start-up checks (:func:`verl_score.training.validate.validate_score`), a
LoRA rank fits the model and the rollout backend (:func:`verl_score.training.lora.check_lora`), and,
when the training parquet is on this machine, the run reaches ``trainer.total_training_steps`` and Stage II
(:mod:`verl_score.training.run_length`).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from omegaconf import DictConfig, ListConfig, OmegaConf

#: entry point -> verl's default (config dir inside the package, config name)
ENTRY_POINTS: dict[str, tuple[str, str]] = {
    "main_ppo": ("verl.trainer", "config/ppo_trainer"),
    "sft_trainer": ("verl.trainer", "config/sft_trainer_engine"),
}


def _split_args(argv: list[str]) -> tuple[str | None, str | None, list[str]]:
    config_path = config_name = None
    overrides: list[str] = []
    it = iter(argv)
    for arg in it:
        if arg.startswith("--config-path"):
            config_path = arg.split("=", 1)[1] if "=" in arg else next(it)
        elif arg.startswith("--config-name"):
            config_name = arg.split("=", 1)[1] if "=" in arg else next(it)
        elif arg.startswith("-"):
            raise SystemExit(f"config_check: unsupported hydra flag {arg!r}")
        elif arg.startswith("hydra."):
            continue  # hydra's own run settings (output dir ...), not part of the job config
        else:
            overrides.append(arg)
    return config_path, config_name, overrides


def compose(entry: str, argv: list[str]) -> DictConfig:
    """The config ``python -m verl.trainer.<entry> *argv`` would run with."""
    import importlib

    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    config_path, config_name, overrides = _split_args(argv)
    package, default = ENTRY_POINTS[entry]
    if config_path is None:
        pkg_dir = Path(importlib.import_module(package).__file__).parent
        config_path = str(pkg_dir / Path(default).parent)
    config_name = config_name or Path(default).name
    with initialize_config_dir(config_dir=str(Path(config_path).resolve()), version_base=None):
        return hydra_compose(config_name=config_name, overrides=overrides)


#: the sub-configs verl 0.9.1's PPO workers build into dataclasses with ``omega_conf_to_dataclass`` (others, such as
#: ``actor_rollout_ref.ref`` or ``reward``, are merged or migrated first, so their raw node is not a valid dataclass).
BUILT_NODES: dict[str, tuple[str, ...]] = {
    "main_ppo": ("actor_rollout_ref.actor", "actor_rollout_ref.rollout", "actor_rollout_ref.model", "algorithm", "critic"),
    "sft_trainer": ("model", "engine", "optim"),
}


def validate(cfg: DictConfig, entry: str = "main_ppo") -> list[str]:
    """Run verl's own ``validate_config`` (main_ppo), build verl's dataclasses from ``cfg`` (and ours from
    ``score``); return the checked paths."""
    from verl.utils.config import omega_conf_to_dataclass

    checked = []
    nodes = list(BUILT_NODES[entry])
    if entry == "main_ppo":
        # ours first: they name the key and the fix where verl's asserts (node shape, batch sizes) do not
        checked.extend(check_score(cfg))
        if "lora" not in checked:  # score_sync runs it inside validate_score
            from verl_score.training.lora import check_lora

            checked.extend(check_lora(cfg))
        from verl.trainer.ppo.utils import need_critic, need_reference_policy
        from verl.utils.config import validate_config

        use_critic = need_critic(cfg)
        try:
            validate_config(config=cfg, use_reference_policy=need_reference_policy(cfg), use_critic=use_critic)
            checked.append("<verl.utils.config.validate_config>")
        except Exception as exc:  # with a critic, verl reads its model's config.json here
            if _vllm_not_installed(cfg, exc):
                # verl's last check (LoRA rank vs vLLM's max_lora_rank) imports vllm; check_lora enforced the limit
                print(
                    "config_check: verl's vLLM LoRA-rank check not run: vllm is not installed here (ours, "
                    "actor_rollout_ref.model.lora_rank <= 512, was); the rest of validate_config passed",
                    file=sys.stderr,
                )
                checked.append("<verl.utils.config.validate_config>")
            else:
                model = OmegaConf.select(cfg, "critic.model.path") if use_critic else None
                if model is None or not _unreachable_model(str(model), exc):
                    raise
                _note_unreachable(
                    "verl.utils.config.validate_config (all of it: with a critic it reads the model)", str(model)
                )
                nodes.remove("critic")
        if not use_critic:
            nodes.remove("critic")  # verl builds no critic then; its placeholder model path is never read
    OmegaConf.resolve(cfg)
    for path in nodes:
        node = OmegaConf.select(cfg, path)
        if not isinstance(node, DictConfig) or "_target_" not in node:
            continue
        try:
            omega_conf_to_dataclass(node)
        except Exception as exc:  # name the node: hydra's message alone does not say where it came from
            model = node.get("path", None) or OmegaConf.select(node, "model.path")
            if model is not None and _unreachable_model(str(model), exc):
                _note_unreachable(path, str(model))
                continue
            raise SystemExit(f"config_check: {path}: {type(exc).__name__}: {exc}") from exc
        checked.append(path)
    return checked


def _vllm_not_installed(cfg: DictConfig, exc: Exception) -> bool:
    """``exc`` is verl's ``validate_config`` importing vllm for its LoRA-rank check (its last check) on a machine
    without vllm: a dry run of a vLLM LoRA launch on a login node or a CPU box."""
    import importlib.util

    return (
        OmegaConf.select(cfg, "actor_rollout_ref.rollout.name") == "vllm"
        and "vllm version None not supported" in str(exc)
        and importlib.util.find_spec("vllm") is None
    )


def _unreachable_model(model_path: str, exc: Exception) -> bool:
    """``exc`` came from reading a hub model's config.json on a machine that cannot reach the hub (a dry run on a
    laptop or a login node without network): nothing about the config is wrong, so the dry run says so and goes on."""
    if Path(model_path).exists():
        return False
    text = f"{exc!r} {exc.__cause__!r}"
    return any(s in text for s in ("couldn't connect", "offline mode", "ConnectionError", "LocalEntryNotFoundError"))


def _note_unreachable(what: str, model_path: str) -> None:
    print(
        f"config_check: {what} not checked: {model_path} is not a local folder and the hub is unreachable from here "
        "(its config.json is needed); the rest is checked. Point MODEL at a local copy to check it too.",
        file=sys.stderr,
    )


def check_score(cfg: DictConfig) -> list[str]:
    """The ``score_sync`` trainer's own start-up checks (:func:`verl_score.training.validate.validate_score`: the
    ``score:`` block, K and guidance against the agent loops, the estimator, the KL and the loss aggregation), plus the run-length check
    (:func:`check_schedule`). Returns the checked paths."""
    if "score" not in cfg:
        return []
    from verl_score.training.config import ScoreConfig

    from verl_score.training.validate import check_run_settings, validate_score

    if OmegaConf.select(cfg, "trainer.v1.trainer_mode") != "score_sync":
        ScoreConfig.from_config(cfg.score)
        check_run_settings(cfg)
        return ["score", "score.num_attempts+guidance+agent_loops"]
    validate_score(cfg)
    return ["score", "score.num_attempts+guidance+agent_loops", "score.adv_estimator+score.shaping",
            "actor.loss_agg_mode", "lora", *check_schedule(cfg)]


def check_schedule(cfg: DictConfig) -> list[str]:
    """Where verl's loop will really end, from the training parquet's row count (its metadata only): refuses a run
    that would stop before ``trainer.total_training_steps`` or before Stage II. Files not on this machine are
    reported on stderr and left to the trainer's own start-up check."""
    from verl_score.training.run_length import check_run_length, parquet_rows

    files = cfg.data.train_files
    rows, why = parquet_rows(files if isinstance(files, str) else list(files))
    if rows is None:
        print(f"config_check: run length not checked ({why}); the trainer checks it at start-up", file=sys.stderr)
        return []
    cap = int(cfg.data.get("train_max_samples", -1) or -1)
    if cap > 0:
        rows = min(rows, cap)
    n = check_run_length(cfg, rows, rows_from=f"data.train_files={files}")
    print(
        f"config_check: {n.train_rows} training rows / data.train_batch_size={n.train_batch_size} = "
        f"{n.steps_per_epoch} steps per epoch; the run ends at step {n.last_step}",
        file=sys.stderr,
    )
    return [f"run_length:last_step={n.last_step}"]


#: the score.shaping keys before shapings owned their kwargs (issue #26), and the override that replaces each
OLD_SHAPING_KEYS = {
    "alpha": "score.shaping.kwargs.alpha={v}",
    "flip_bonus": "~score.shaping.kwargs score.shaping.name=flip_bonus +score.shaping.kwargs.bonus={v}",
}


def old_shaping_hint(exc: Exception, args: list[str]) -> str | None:
    """hydra's "Could not override 'score.shaping.alpha'. To append ... use +score.shaping.alpha=5" for an old
    shaping key, whose suggestion fails a second time: the exact override of the {name, kwargs} form instead."""
    m = re.search(r"Could not override 'score\.shaping\.(alpha|flip_bonus)'", str(exc))
    if not m:
        return None
    key = m.group(1)
    value = next((a.split("=", 1)[1] for a in args if re.fullmatch(rf"\+*score\.shaping\.{key}=.*", a)), "<value>")
    return (f"score.shaping.{key} is no longer a key: shapings are score.shaping: {{name, kwargs}} "
            f"(verl_score/training/shaping.py). Use: {OLD_SHAPING_KEYS[key].format(v=value)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("entry", choices=sorted(ENTRY_POINTS))
    parser.add_argument("args", nargs=argparse.REMAINDER, help="the arguments the launcher passes to verl")
    ns = parser.parse_args(argv)
    from hydra.errors import HydraException

    try:
        cfg = compose(ns.entry, ns.args)
    except HydraException as exc:  # e.g. a group option that does not exist: hydra's message lists the valid ones
        why = old_shaping_hint(exc, ns.args) or exc
        raise SystemExit(f"config_check: the config does not compose: {why}") from None
    try:
        checked = validate(cfg, ns.entry)
    except (ValueError, TypeError) as exc:  # our start-up refusals: the message names the key, the value and the fix
        raise SystemExit(f"config_check: refused: {exc}") from None
    print(json.dumps({"entry": ns.entry, "validated": checked, "config": OmegaConf.to_container(cfg)}, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
