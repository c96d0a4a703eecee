"""The one plug-in registry (``verl_score.registry``) and the five kinds that use it: an unknown name gets the same
error everywhere, naming the kind and listing what is registered."""

from __future__ import annotations

import importlib.util
import sys

import pytest

from verl_score.contracts.guidance import GUIDANCE_PROVIDERS, get_guidance_provider_cls
from verl_score.registry import DuplicatePluginError, Registry, UnknownPluginError
from verl_score.rewards.registry import REWARDS, get_reward_cls
from verl_score.rewards.step_match import STEP_MATCHERS, get_step_matcher_cls
from verl_score.training.credit import SCORE_ADV_ESTIMATORS, get_score_adv_estimator, resolve_estimator
from verl_score.training.config import ScoreConfig
from verl_score.training.shaping import SHAPINGS, get_shaping_cls

ALL = {
    "reward module": (REWARDS, get_reward_cls, {"math", "exact_match", "code_tests", "llm_judge", "key_step"}),
    "step matcher": (STEP_MATCHERS, get_step_matcher_cls, {"rule", "llm_judge"}),
    "guidance provider": (GUIDANCE_PROVIDERS, get_guidance_provider_cls, {"static", "smart"}),
    "score.shaping.name": (SHAPINGS, get_shaping_cls, {"progress", "flip_bonus", "none"}),
    "SCoRe advantage estimator": (SCORE_ADV_ESTIMATORS, get_score_adv_estimator,
                                  {"rloo", "grpo", "reinforce", "gae", "gae_unwhitened"}),
}


def test_unknown_name_lists_the_registered_ones():
    reg: Registry[int] = Registry("widget", hint="set widget.name")
    reg.add("b", 2)
    reg.add("a", 1)
    with pytest.raises(UnknownPluginError) as err:
        reg.get("c")
    assert str(err.value) == "unknown widget 'c'; registered: ['a', 'b'] (set widget.name)"
    assert isinstance(err.value, KeyError) and isinstance(err.value, ValueError)


def test_duplicates_refused_same_object_allowed():
    reg: Registry[object] = Registry("widget")
    thing = object()
    reg.register("x")(thing)
    reg.register("x")(thing)  # a module imported twice registers the same object twice
    with pytest.raises(DuplicatePluginError, match="widget 'x' is already registered"):
        reg.add("x", object())
    assert reg.meta("x") == {} and "x" in reg and list(reg) == ["x"]


def test_builtins_imported_on_first_miss_and_retried_after_a_failure(tmp_path, monkeypatch):
    (tmp_path / "fake_plugin_mod.py").write_text(
        "import os\nif os.environ.get('FAIL_PLUGIN'):\n    raise ImportError('broken')\n"
        "from tests.test_registry import REG\nREG.add('late', 7)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    global REG
    REG = Registry("widget", builtins=("fake_plugin_mod",))
    REG.add("early", 1)
    assert REG.get("early") == 1 and "fake_plugin_mod" not in sys.modules  # a hit imports nothing
    monkeypatch.setenv("FAIL_PLUGIN", "1")
    with pytest.raises(ImportError):
        REG.get("late")
    monkeypatch.delenv("FAIL_PLUGIN")
    try:
        assert REG.get("late") == 7 and REG.names() == ["early", "late"]
    finally:
        sys.modules.pop("fake_plugin_mod", None)


@pytest.mark.parametrize("kind", sorted(ALL))
def test_every_kind_uses_the_one_registry(kind):
    registry, lookup, builtin = ALL[kind]
    assert registry.kind == kind and builtin <= set(registry.names())
    first = sorted(builtin)[0]
    with pytest.raises(UnknownPluginError, match=f"unknown {kind} 'no_such_name'; registered: .*'{first}'"):
        lookup("no_such_name")


@pytest.mark.parametrize("kind", sorted(ALL))
def test_registry_builtins_exist(kind):
    """A registry's ``builtins`` are module names kept as data (not import statements): keep them true."""
    for module in ALL[kind][0].builtins:
        assert importlib.util.find_spec(module) is not None, f"{kind}: built-in module {module} does not exist"


def test_unknown_estimator_is_the_same_error():
    with pytest.raises(UnknownPluginError, match=r"no per-attempt .* use one of \['gae'"):
        resolve_estimator(ScoreConfig(), "no_such_estimator")


def test_a_lookup_during_another_threads_builtin_import_waits_for_it(tmp_path, monkeypatch):
    """Two threads' first lookups: the second must wait for the first's import of the built-ins, not see a half-filled
    registry and raise UnknownPluginError for a valid built-in name."""
    import threading
    import time

    (tmp_path / "slow_builtin_mod.py").write_text(
        "import time\nfrom tests.test_registry import SLOW\ntime.sleep(0.5)\nSLOW.add('slow', object())\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    results: list[object] = []

    def look() -> None:
        try:
            results.append(SLOW.get("slow"))
        except Exception as exc:  # noqa: BLE001 - the failure under test
            results.append(exc)

    threads = [threading.Thread(target=look) for _ in range(2)]
    threads[0].start()
    time.sleep(0.1)  # the first thread is inside the slow import
    threads[1].start()
    for t in threads:
        t.join(10)
    assert len(results) == 2 and not [r for r in results if isinstance(r, Exception)], results


SLOW = Registry("slow plug-in", builtins=("slow_builtin_mod",))
