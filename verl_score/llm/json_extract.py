"""Pull exactly one JSON object out of a model's reply.

Models wrap JSON in prose or Markdown fences even when asked not to. Extraction is tolerant about that wrapping but
strict about the content: the first decodable ``{...}`` object is returned, and text with no decodable object raises
``JSONExtractError`` — the caller decides it is a failure, never a default value.
"""

from __future__ import annotations

import json
from typing import Any

_DECODER = json.JSONDecoder()


class JSONExtractError(ValueError):
    """No JSON object could be decoded from the text."""


def extract_json_object(text: str) -> dict[str, Any]:
    """The first JSON object in ``text`` (bare, fenced, or embedded in prose)."""
    if not isinstance(text, str):
        raise JSONExtractError(f"expected text, got {type(text).__name__}")
    stripped = text.strip()
    start = stripped.find("{")
    while start != -1:
        try:
            obj, _ = _DECODER.raw_decode(stripped, start)
        except json.JSONDecodeError:
            start = stripped.find("{", start + 1)
            continue
        if isinstance(obj, dict):
            return obj
        start = stripped.find("{", start + 1)
    preview = stripped[:80].replace("\n", " ")
    raise JSONExtractError(f"no JSON object in model output: {preview!r}")
