"""pyproject.toml's requirement sets agree with the pinned CPU files, the README and verl's own metadata, and an
unsupported Python / torch / verl is named at start-up instead of failing deep inside an import."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

from verl_score import versions

REPO = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
EXTRAS: dict[str, list[str]] = PROJECT["optional-dependencies"]


def _pins(path: Path) -> dict[str, str]:
    out = {}
    for line in path.read_text().splitlines():
        m = re.match(r"([A-Za-z0-9_.\-]+)(\[[^\]]*\])?==(\S+)", line)
        if m:
            out[canonicalize_name(m[1])] = m[3]
    return out


def _requirements(*extras: str) -> list[Requirement]:
    """The project's requirements with these extras, self-references (``verl-score[data]``) expanded."""
    reqs, todo, seen = [Requirement(r) for r in PROJECT["dependencies"]], list(extras), set()
    while todo:
        extra = todo.pop()
        if extra in seen:
            continue
        seen.add(extra)
        for r in map(Requirement, EXTRAS[extra]):
            if canonicalize_name(r.name) == "verl-score":
                todo += sorted(r.extras)
            else:
                reqs.append(r)
    return reqs


def test_cpu_lock_satisfies_the_cpu_extras():
    """What CI installs (requirements.lock) is a solution of `verl-score[cpu,test]`: the extras do not drift."""
    lock = _pins(REPO / "requirements.lock")
    for req in _requirements("cpu", "test"):
        name = canonicalize_name(req.name)
        assert name in lock, f"requirements.lock lacks {req} (pyproject.toml)"
        assert req.specifier.contains(lock[name], prereleases=True), f"requirements.lock {name}=={lock[name]} vs {req}"


def test_every_cpu_top_level_pin_is_declared_in_pyproject():
    """A package added to requirements.txt must also be declared for pip users (runtime or an extra)."""
    declared = {canonicalize_name(r.name) for r in _requirements(*EXTRAS)}
    for name in _pins(REPO / "requirements.txt"):
        assert name in declared, f"requirements.txt pins {name}, which pyproject.toml declares nowhere"


def test_gpu_extras_pin_torch_and_transformers_runtime_does_not_pin_torch():
    runtime = {canonicalize_name(Requirement(r).name): Requirement(r) for r in PROJECT["dependencies"]}
    assert not any(s.operator == "==" for s in runtime["torch"].specifier), "torch must not be pinned at runtime"
    assert runtime["torch"].specifier == SpecifierSet(f">={versions.TORCH_MIN}")
    sglang = {canonicalize_name(Requirement(r).name): str(Requirement(r).specifier) for r in EXTRAS["sglang"]}
    assert sglang["torch"] == "==2.11.0" and sglang["transformers"] == "==5.8.1" and sglang["sglang"] == "==0.5.14"
    assert EXTRAS["vllm"] == ["verl[vllm]==0.9.1"]


def test_requires_python_is_verls_and_the_start_up_checks():
    """pip refuses an unsupported Python by this metadata; the start-up check names the same range."""
    ours = SpecifierSet(PROJECT["requires-python"])
    assert ours == SpecifierSet(metadata.metadata("verl")["Requires-Python"])
    (lo_major, lo_minor), (hi_major, hi_minor) = versions.PYTHON_RANGE
    assert ours.contains(f"{lo_major}.{lo_minor}.0") and ours.contains(f"{hi_major}.{hi_minor}.9")
    assert not ours.contains(f"{lo_major}.{lo_minor - 1}.9") and not ours.contains(f"{hi_major}.{hi_minor + 1}.0")


def test_readme_gpu_commands_are_the_checked_ones():
    sys.path.insert(0, str(REPO / "scripts"))
    try:
        import check_gpu_install
    finally:
        sys.path.pop(0)
    section = (REPO / "README.md").read_text().split("## On a GPU cluster", 1)[1].split("\n## ", 1)[0]
    for extras in check_gpu_install.COMMANDS.values():
        assert f'pip install -e ".[{extras}]"' in section, extras
        assert extras in EXTRAS


# -- start-up check -------------------------------------------------------------------------------------------------

def _versions(**over):
    have = {"torch": "2.13.0+cpu", "verl": "0.9.1", **over}

    def version_of(name):
        if have.get(name) is None:
            raise metadata.PackageNotFoundError(name)
        return have[name]
    return version_of


def test_this_environment_is_supported():
    assert versions.problems() == []


@pytest.mark.parametrize("python,over,expected", [
    ((3, 13), {}, "Python 3.13: supported 3.10 to 3.12"),
    ((3, 9), {}, "Python 3.9: supported 3.10 to 3.12"),
    ((3, 11), {"torch": "2.9.1+cu128"}, "torch 2.9.1+cu128: supported torch>=2.11"),
    ((3, 11), {"torch": None}, "torch: not installed; supported torch>=2.11"),
    ((3, 11), {"verl": "0.8.0"}, "verl 0.8.0: supported verl==0.9.1"),
    ((3, 11), {"torch": "not-a-version"}, "torch not-a-version: supported torch>=2.11"),
])
def test_unsupported_versions_are_named(python, over, expected):
    assert versions.problems(python=python, version_of=_versions(**over)) == [expected]
    with pytest.raises(versions.UnsupportedEnvironment, match=re.escape(expected)) as err:
        versions.check(python=python, version_of=_versions(**over))
    assert "Tested: torch 2.11.0" in str(err.value) and versions.SKIP_ENV in str(err.value)


def test_cuda_and_cpu_builds_of_a_supported_torch_pass():
    for build in ("2.11.0", "2.11.0+cu130", "2.13.0+cpu", "2.14.1"):
        assert versions.problems(python=(3, 11), version_of=_versions(torch=build)) == []


def test_skip_env_turns_the_error_into_a_warning(monkeypatch):
    monkeypatch.setenv(versions.SKIP_ENV, "1")
    with pytest.warns(UserWarning, match="torch 2.10.0: supported torch>=2.11"):
        versions.check(python=(3, 11), version_of=_versions(torch="2.10.0"))


def test_plugin_import_with_an_old_torch_fails_with_the_message(tmp_path):
    """What verl does in every process (import verl_score.register) with torch 2.10 installed: our message, first."""
    dist = tmp_path / "torch-2.10.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: torch\nVersion: 2.10.0\n")
    env = {k: v for k, v in os.environ.items() if k != versions.SKIP_ENV}
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), str(REPO)])
    proc = subprocess.run([sys.executable, "-c", "import verl_score.register"], env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode != 0
    assert "UnsupportedEnvironment: verl-score does not support this environment" in proc.stderr
    assert "torch 2.10.0: supported torch>=2.11" in proc.stderr


def test_pyproject_names_only_files_that_exist():
    """Its comments point a reader at files (the start-up check, the CI resolver, ...): each must be there (issue #26
    found two that were not)."""
    text = (REPO / "pyproject.toml").read_text()
    cited = set(re.findall(r"[A-Za-z0-9_][A-Za-z0-9_./-]*\.(?:py|txt|lock|sh|md|toml)\b", text))
    assert "verl_score/versions.py" in cited
    assert sorted(p for p in cited if not (REPO / p).exists()) == []
