"""The verdict classifier, SMART's optional second pass, against the real loopback fault server (real HTTP).

Only a clear NO lets a hint through; YES, an unparseable answer and a failed call (after the client's retries, or past
the deadline) all give the static instruction, each counted under its own reason. The classifier sees the hint only.
"""

from __future__ import annotations

import asyncio
import json

import pytest

from testkit.fault_server import Hang, Malformed, Ok, Status
from tests.teacher.guide_replies import guide_reply, is_classifier_request
from tests.teacher.test_guidance import ATTEMPT, GOLD, PROBLEM, _instruction, _provider
from verl_score.prompts import MATH_SELF_CORRECTION
from verl_score.teacher.guidance import SmartGuidance
from verl_score.teacher.verdict_classifier import (
    CLASSIFIER_REASONS,
    CLASSIFIER_SYSTEM,
    VerdictClassifierConfig,
    parse_yes_no,
)

HINT = "Re-check how many she sold at the red house."  # passes the rules: only the classifier can stop it


def _with_classifier(server, **kw):
    return _provider(server, verdict_classifier=kw.pop("verdict_classifier", {"timeout_s": 5.0}), **kw)


@pytest.mark.parametrize(
    "reply,parsed",
    [("NO", "no"), ("No.", "no"), ("**YES**", "yes"), ("yes, it does", "yes"), ("  no\n", "no"),
     ("<think>the text says correct</think>YES", "yes"), ("<think>still thinking", None), ("", None),
     ("The text does not reveal it.", None), ("Maybe", None), ("N0", None), ("1. NO", None),
     ("NO, but it's close", None), ("No - though it hints", None), ("**No**.", "no")],
)  # fmt: skip
def test_parse_is_strict(reply, parsed):
    assert parse_yes_no(reply) == parsed


def test_no_keeps_the_hint_and_the_classifier_sees_only_the_hint(fault_server):
    fault_server.set_default(guide_reply(HINT, classifier="NO"))
    p = _with_classifier(fault_server)
    g = _instruction(p)
    assert g.source == "smart" and g.text.endswith(HINT) and g.reason == ""
    guide_req, check_req = fault_server.requests
    assert not is_classifier_request(guide_req.body) and is_classifier_request(check_req.body)
    sent = json.dumps(check_req.body["messages"])
    assert HINT in sent and "Does this text reveal or imply whether the answer is right or wrong?" in sent
    assert "YES or NO" in sent and "Melanie" not in sent and ATTEMPT[:20] not in sent and GOLD not in sent
    assert check_req.body["max_tokens"] == 8 and check_req.body["temperature"] == 0.0
    assert p.metrics()["guidance/smart_rate"] == 1.0


@pytest.mark.parametrize(
    "classifier_reply,reason",
    [(Ok("YES"), "classifier_verdict"), (Ok("It implies nothing."), "classifier_doubt"), (Ok(""), "classifier_doubt"),
     (Malformed(), "classifier_failed"), (Status(400), "classifier_failed")],
)  # fmt: skip
def test_anything_but_a_clear_no_is_a_counted_rejection(fault_server, classifier_reply, reason):
    # the provider's client retries once (max_retries=1): a failure is scripted for both tries
    fault_server.script_requests(Ok(HINT), classifier_reply, classifier_reply)
    p = _with_classifier(fault_server)
    g = _instruction(p)
    assert (g.text, g.source, g.reason) == (MATH_SELF_CORRECTION, "smart_rejected", reason)
    m = p.metrics()
    assert m[f"guidance/rejected/{reason}"] == 1.0 and m["guidance/rejected_rate"] == 1.0
    assert m["guidance/smart_rate"] == 0.0


def test_a_failing_classifier_call_is_retried_then_falls_back_never_passes(fault_server):
    """The guide answers; the classifier call gets HTTP 500 on every try: the shared client retries (max_retries=2),
    then the turn gets the static instruction, counted as ``classifier_failed`` -- never a silent pass."""
    fault_server.script_requests(Ok(HINT), Status(500), Status(500), Status(500))
    p = _with_classifier(fault_server, max_retries=2)
    g = _instruction(p)
    assert (g.source, g.reason, g.text) == ("smart_rejected", "classifier_failed", MATH_SELF_CORRECTION)
    assert len(fault_server.requests) == 4  # 1 guide call + 3 classifier tries
    assert p.metrics()["guidance/rejected/classifier_failed"] == 1.0


def test_a_hanging_classifier_times_out_and_falls_back(fault_server):
    fault_server.script_requests(Ok(HINT), Hang(5.0))
    p = _with_classifier(fault_server, max_retries=0, verdict_classifier={"timeout_s": 0.3})
    g = _instruction(p)
    assert (g.source, g.reason) == ("smart_rejected", "classifier_failed")


def test_rules_run_first_and_a_rule_rejection_costs_no_classifier_call(fault_server):
    fault_server.set_default(guide_reply("Check again — your final total is wrong.", classifier="NO"))
    p = _with_classifier(fault_server)
    g = _instruction(p)
    assert (g.source, g.reason) == ("smart_rejected", "verdict")
    assert len(fault_server.requests) == 1  # the classifier was never asked: its NO could not have saved it


def test_separate_classifier_endpoint(fault_server):
    """``client`` points the check at another server; here a second real loopback server that says YES."""
    from testkit.fault_server import FaultServer

    fault_server.set_default(Ok(HINT))
    with FaultServer(default=Ok("YES")) as judge:
        p = _with_classifier(fault_server, verdict_classifier={"client": {"base_url": judge.base_url,
                                                                          "max_retries": 0}})
        g = _instruction(p)
        assert (g.source, g.reason) == ("smart_rejected", "classifier_verdict")
        assert len(fault_server.requests) == 1 and len(judge.requests) == 1
        assert judge.requests[0].body["messages"][0]["content"] == CLASSIFIER_SYSTEM


def test_config_defaults_and_switch():
    assert VerdictClassifierConfig.from_dict(None).enabled is True  # on by default (see the module docstring)
    assert VerdictClassifierConfig.from_dict(False).enabled is False
    assert VerdictClassifierConfig.from_dict({"enabled": "false"}).enabled is False
    with pytest.raises(ValueError, match="unknown keys"):
        VerdictClassifierConfig.from_dict({"enable": True})
    assert SmartGuidance(backend="policy").classifier is not None
    assert SmartGuidance(backend="policy", verdict_classifier={"enabled": False}).classifier is None
    assert set(CLASSIFIER_REASONS) == {"classifier_verdict", "classifier_doubt", "classifier_failed"}


def test_reference_screen_still_runs_after_the_classifier(fault_server):
    fault_server.set_default(guide_reply("Maybe she started with eighteen of them.", classifier="NO"))
    p = _with_classifier(fault_server)
    g = asyncio.run(p.screen(_instruction(p), reference=GOLD))
    assert (g.source, g.reason) == ("smart_rejected", "reference_answer")
