"""Start-up check of a launcher's ``MODEL``: a Hugging Face checkpoint with weights whose tokenizer has a chat template.

    python -m verl_score.model_check /path/to/model

Every SCoRe episode is a chat (problem → attempt 1 → self-correction instruction → attempt 2), rendered with the
tokenizer's chat template by verl's agent loop. A path that is missing, holds no config/tokenizer, or whose
tokenizer has no template would otherwise fail minutes later inside a Ray worker with a long traceback (or, for a
template-less base model, train on whatever ``apply_chat_template`` falls back to). A verl checkpoint's
``huggingface/`` folder without weights (saved without ``hf_model``) is the common way to get there. This runs in a
second, before Ray or torchrun start, and exits 2 with one line that names the path and what is missing.
"""

from __future__ import annotations

import argparse
import sys
import json
from pathlib import Path


class ModelCheckError(ValueError):
    """The model path cannot drive a chat episode (the message names the path and the missing piece)."""


def check_chat_model(path: str | Path) -> str:
    """Return the model's ``model_type`` when ``path`` is a local HF checkpoint with a chat template; else raise."""
    p = Path(path)
    if not p.exists():
        raise ModelCheckError(f"MODEL={p}: no such file or directory")
    if not p.is_dir():
        raise ModelCheckError(f"MODEL={p}: not a directory (expected a Hugging Face checkpoint folder)")
    if not (p / "config.json").is_file():
        raise ModelCheckError(f"MODEL={p}: no config.json (expected a Hugging Face checkpoint folder)")
    try:
        model_type = json.loads((p / "config.json").read_text()).get("model_type", "?")
    except (OSError, json.JSONDecodeError) as e:
        raise ModelCheckError(f"MODEL={p}: config.json is unreadable: {e}") from None
    # Read the files transformers reads, without importing it (tens of seconds on a loaded 2-core machine).
    tok_files = ("tokenizer.json", "tokenizer_config.json", "tokenizer.model", "vocab.json")
    if not any((p / f).is_file() for f in tok_files):
        raise ModelCheckError(f"MODEL={p}: no tokenizer files (none of {', '.join(tok_files)})")
    if not _has_weights(p):
        raise ModelCheckError(
            f"MODEL={p}: no model weights (no *.safetensors, no pytorch_model*.bin). A verl checkpoint's "
            "huggingface/ folder holds only config and tokenizer unless the run saved 'hf_model' "
            "(checkpoint.save_contents, as the SFT launchers do); otherwise merge the FSDP shards first: "
            "python -m verl.model_merger merge --backend fsdp --local_dir <checkpoints>/global_step_<N>[/actor] "
            "--target_dir <hf dir>"
        )
    if not _has_chat_template(p):
        raise ModelCheckError(
            f"MODEL={p}: its tokenizer has no chat template (no chat_template.jinja / chat_template.json, no "
            "'chat_template' in tokenizer_config.json); SCoRe episodes are chats, so use an instruct/chat model "
            "or add a template"
        )
    return str(model_type)


def _has_weights(p: Path) -> bool:
    """Weights transformers can load: safetensors (single or sharded) or PyTorch ``.bin`` files."""
    return any(p.glob("*.safetensors")) or any(p.glob("pytorch_model*.bin"))


def _has_chat_template(p: Path) -> bool:
    """Where transformers looks: ``chat_template.jinja``, ``chat_template.json``, ``tokenizer_config.json``."""
    jinja = p / "chat_template.jinja"
    if jinja.is_file() and jinja.read_text(errors="replace").strip():
        return True
    for name in ("chat_template.json", "tokenizer_config.json"):
        f = p / name
        if f.is_file():
            try:
                if json.loads(f.read_text()).get("chat_template"):
                    return True
            except (OSError, json.JSONDecodeError, AttributeError):
                continue
    return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", help="Hugging Face checkpoint folder")
    args = parser.parse_args(argv)
    try:
        check_chat_model(args.model)
    except ModelCheckError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
