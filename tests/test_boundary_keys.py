"""The keys that cross the episode -> reward -> trainer boundary are spelled once, in ``verl_score.contracts.keys``.

A second spelling is how the attempt index came to be ``"attempt_index"`` in one module and ``"score_attempt_index"``
in another (two fields now, named apart). The check is static: no string literal outside ``keys.py`` spells a
boundary key, and no f-string builds a per-attempt key (``score_t{k}`` ...). Keys whose spelling is also an ordinary
word of another namespace (``score`` the config block, ``guidance`` the eval record field, ...) are left out: for
them the rule is kept by review, not by this test.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from verl_score.contracts import keys

REPO = Path(__file__).resolve().parents[1]
#: constants spelled like a word another namespace uses for something else
SHARED_SPELLINGS = {"SCORE", "ACC", "GUIDANCE", "NUM_ATTEMPTS", "REWARD_FAILED", "ANSWER_FOUND", "ANSWER_CHANGED",
                    "STOP_REASON", "SCORE_T_PREFIX"}
#: reward functions loaded by file path in the behaviour tests (outside testkit)
REWARD_STAND_INS = [REPO / "tests" / "cpu" / "varying_score_reward.py"]
PER_ATTEMPT = re.compile(r"(score_t|failed_t|acc_t|guidance_t2_|guidance_t2_rejected_)\{")


def _constants() -> dict[str, str]:
    return {name: value for name, value in vars(keys).items() if name.isupper() and isinstance(value, str)}


def test_each_key_has_one_name():
    values = list(_constants().values())
    assert len(values) == len(set(values)), "two constants of contracts.keys spell the same key"


def test_no_second_spelling_in_the_package():
    guarded = {value: name for name, value in _constants().items() if name not in SHARED_SPELLINGS}
    found = []
    # testkit's stand-in rewards write the same keys (they build them with verl_score.rewards.attempts)
    paths = [*(REPO / "verl_score").rglob("*.py"), *(REPO / "testkit").rglob("*.py"), *REWARD_STAND_INS]
    for path in sorted(paths):
        if path == REPO / "verl_score" / "contracts" / "keys.py":
            continue
        tree = ast.parse(path.read_text())
        docstrings = {id(n.value) for n in ast.walk(tree)
                      if isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant)}
        for node in ast.walk(tree):
            where = f"{path.relative_to(REPO)}:{getattr(node, 'lineno', '?')}"
            if isinstance(node, ast.Constant) and node.value in guarded and id(node) not in docstrings:
                found.append(f"{where} spells {node.value!r}: use keys.{guarded[node.value]}")
            elif isinstance(node, ast.JoinedStr) and PER_ATTEMPT.search(ast.unparse(node)):
                found.append(f"{where} builds {ast.unparse(node)}: use the function in contracts.keys")
    assert not found, "\n".join(found)


def test_per_attempt_keys_keep_their_spelling():
    """What configs, dashboards and saved validation dumps already name (``val-core/…/score_t1/mean@N``)."""
    assert (keys.score_t(2), keys.acc_t(2), keys.failed_t(2)) == ("score_t2", "acc_t2", "failed_t2")
    assert keys.guidance_t2("smart") == "guidance_t2_smart"
    assert keys.guidance_t2_rejected("verdict") == "guidance_t2_rejected_verdict"
    assert (keys.EPISODE_ATTEMPT_INDEX, keys.LOSS_ATTEMPT_INDEX, keys.STAGE) == (
        "attempt_index", "score_attempt_index", "score_stage")
