"""Configuration of an OpenAI-compatible endpoint, shared by the judge, SMART guidance, the teacher and eval.

One flat dataclass so it maps 1:1 onto a YAML/hydra block (``client: {base_url: ..., api_key_env: JUDGE_API_KEY}``).
Secrets are normally named by environment variable (``api_key_env``) rather than written into YAML, and the key is
masked in ``repr``/``str`` because configs get printed by hydra, logged by verl and pasted into bug reports.
(Masking covers this class only: a key written literally into YAML is still shown by hydra's own config dump, which
is why ``api_key_env`` is the recommended form.)
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from typing import Any, Mapping
from urllib.parse import urlsplit, urlunsplit

_MASK = "***"


class LLMConfigError(ValueError):
    """The endpoint configuration is incomplete or inconsistent (raised early, before any request)."""


@dataclass
class LLMClientConfig:
    """Where to send chat requests and how hard to try.

    ``max_retries`` counts re-attempts after the first request (so ``max_retries=2`` means at most 3 requests).
    ``backoff_base_s * 2**k`` (capped at ``backoff_max_s``, with jitter) is the wait before retry ``k``; a server's
    ``Retry-After`` replaces it, capped at ``retry_after_max_s`` so a hostile header cannot stall a training step.
    """

    base_url: str | None = None
    model: str = "default"
    api_key: str | None = field(default=None, repr=False)
    api_key_env: str | None = None
    base_url_env: str | None = None
    timeout_s: float = 60.0
    max_retries: int = 4
    backoff_base_s: float = 0.5
    backoff_max_s: float = 16.0
    retry_after_max_s: float = 60.0
    concurrency: int = 32
    temperature: float | None = 0.0
    max_tokens: int | None = 512
    response_format_json: bool = False
    extra_body: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if self.timeout_s <= 0:
            raise LLMConfigError(f"timeout_s must be > 0, got {self.timeout_s}")
        if self.max_retries < 0:
            raise LLMConfigError(f"max_retries must be >= 0, got {self.max_retries}")
        if self.concurrency < 1:
            raise LLMConfigError(f"concurrency must be >= 1, got {self.concurrency}")
        if self.backoff_base_s < 0 or self.backoff_max_s < 0 or self.retry_after_max_s < 0:
            raise LLMConfigError("backoff_base_s, backoff_max_s and retry_after_max_s must be >= 0")

    @classmethod
    def from_dict(cls, cfg: Mapping[str, Any] | "LLMClientConfig" | None = None, **overrides: Any) -> "LLMClientConfig":
        """Build from a dict / OmegaConf ``DictConfig``; unknown keys are an error (a typo must not be ignored)."""
        if isinstance(cfg, LLMClientConfig):
            return dataclasses.replace(cfg, **overrides)
        data: dict[str, Any] = {}
        if cfg is not None:
            try:  # OmegaConf containers resolve interpolations here; plain dicts pass through.
                from omegaconf import DictConfig, OmegaConf

                if isinstance(cfg, DictConfig):
                    cfg = OmegaConf.to_container(cfg, resolve=True)  # type: ignore[assignment]
            except ImportError:  # pragma: no cover - omegaconf ships with verl
                pass
            data.update(dict(cfg))  # type: ignore[arg-type]
        data.update(overrides)
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise LLMConfigError(f"unknown LLM client option(s) {unknown}; known: {sorted(known)}")
        return cls(**data)

    def resolved_base_url(self) -> str:
        """``base_url``, else ``$base_url_env``; a missing endpoint is a config error, not a silent default."""
        url = self.base_url or (os.environ.get(self.base_url_env) if self.base_url_env else None)
        if not url:
            where = f" or ${self.base_url_env}" if self.base_url_env else ""
            raise LLMConfigError(f"no endpoint configured: set base_url{where}")
        return url

    def resolved_api_key(self) -> str:
        """``api_key``, else ``$api_key_env``, else a placeholder (local servers such as llama.cpp need none)."""
        if self.api_key:
            return self.api_key
        if self.api_key_env:
            key = os.environ.get(self.api_key_env)
            if key:
                return key
        return "EMPTY"

    def safe_endpoint(self) -> str:
        """The endpoint for messages and logs: no userinfo, no query string (either could carry a credential)."""
        try:
            url = self.resolved_base_url()
        except LLMConfigError:
            return "<unset>"
        return redact_url(url)

    def __repr__(self) -> str:
        parts = []
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name == "api_key":
                value = _MASK if value else None
            parts.append(f"{f.name}={value!r}")
        return f"{type(self).__name__}({', '.join(parts)})"

    __str__ = __repr__


def redact_url(url: str) -> str:
    """Drop userinfo and query from a URL so it can be printed."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))
