"""Fault-server behaviours for a SMART guide endpoint that also answers the verdict classifier's YES/NO call.

With ``verdict_classifier`` on (the default), one correction turn makes two requests to the same endpoint: the hint,
then -- when the rules pass it -- the classifier question. ``guide_reply`` answers each by what was asked, so a test
need not know how many requests a turn makes.
"""

from __future__ import annotations

from typing import Any

from testkit.fault_server import Ok
from verl_score.teacher.verdict_classifier import CLASSIFIER_SYSTEM


def is_classifier_request(body: Any) -> bool:
    messages = body.get("messages", []) if isinstance(body, dict) else []
    return bool(messages) and messages[0].get("content") == CLASSIFIER_SYSTEM


def guide_reply(hint: str, classifier: str = "NO") -> Ok:
    """``hint`` to the guide prompt, ``classifier`` to the classifier prompt."""
    return Ok(content_fn=lambda body: classifier if is_classifier_request(body) else hint)
