"""Every launcher variant composes to the config it composed when its snapshot was written, key by key.

The snapshots (tests/data/compositions/<launcher>__<variant>.yaml) are the fully composed hydra configs of
scripts/*.sh under the environment-variable variants they document (testkit/compose_launchers.py: the launcher's own
dry run, composed in-process like verl, resolved and made machine independent). A refactor of configs/ or
scripts/ must leave them identical; an intended change is rewritten with ``python -m testkit.compose_launchers
--write`` and listed, with its reason, in the commit message. No Ray, no model: ~1-2 s a variant.
"""

from __future__ import annotations

import pytest

from testkit import compose_launchers as cl


@pytest.mark.parametrize("script,variant", cl.variants(), ids=[f"{s.removesuffix('.sh')}:{v}" for s, v in cl.variants()])
def test_composition_is_unchanged(script, variant):
    why = cl.available(script, variant)
    if why:
        pytest.skip(why)
    assert cl.snapshot_path(script, variant).exists(), f"no snapshot: python -m testkit.compose_launchers --write"
    lines = cl.diff(cl.load_snapshot(script, variant), cl.compose_variant(script, variant))
    assert not lines, f"{script} [{variant}] composes differently ({len(lines)} keys):\n" + "\n".join(lines)


def test_every_launcher_has_a_snapshot():
    """A new launcher (anything tests/test_launchers.py composes) gets snapshots too."""
    from tests.test_launchers import LAUNCHERS

    assert set(LAUNCHERS) <= set(cl.VARIANTS), sorted(set(LAUNCHERS) - set(cl.VARIANTS))


def test_diff_names_the_keys():
    old = {"a": {"b": 1, "c": [1, 2]}, "d": "x"}
    new = {"a": {"b": 1.0, "c": [1, 2], "e": None}}
    assert cl.diff(old, new) == ["~ a.b: 1 -> 1.0", "+ a.e: None (new)", "- d: 'x' (missing now)"]
