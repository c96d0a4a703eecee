"""Teacher/student/guide endpoints come from configs/teacher.yaml plus TEACHER_API_BASE-style env vars."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from verl_score.llm import LLMConfigError
from verl_score.sandbox import SandboxConfig
from verl_score.teacher.config import client_config_for_role, load_yaml_section
from verl_score.teacher.mps import MPSConfig

REPO = Path(__file__).resolve().parents[2]
YAML = REPO / "configs" / "teacher.yaml"


def test_yaml_and_env(monkeypatch):
    monkeypatch.setenv("TEACHER_API_BASE", "http://teacher.example:30000/v1")
    monkeypatch.setenv("TEACHER_API_KEY", "sk-teacher-secret")
    cfg = client_config_for_role("teacher", load_yaml_section(YAML, "teacher")["client"])
    assert cfg.resolved_base_url() == "http://teacher.example:30000/v1"
    assert cfg.resolved_api_key() == "sk-teacher-secret" and "sk-teacher-secret" not in repr(cfg)
    assert cfg.response_format_json and cfg.model == "Qwen2.5-72B-Instruct"
    # explicit values (CLI flags) beat env vars; env fills what YAML leaves out
    cfg = client_config_for_role("teacher", {"model": "m"}, base_url="http://cli:1/v1")
    assert cfg.resolved_base_url() == "http://cli:1/v1" and cfg.api_key_env == "TEACHER_API_KEY"
    monkeypatch.setenv("STUDENT_MODEL", "qwen-7b")
    assert client_config_for_role("student", {}).model == "qwen-7b"


def test_missing_endpoint_and_typos_are_errors(monkeypatch):
    monkeypatch.delenv("TEACHER_API_BASE", raising=False)
    with pytest.raises(LLMConfigError, match="TEACHER_API_BASE"):
        client_config_for_role("teacher", {}).resolved_base_url()
    with pytest.raises(LLMConfigError):
        client_config_for_role("teacher", {"base_ulr": "x"})
    with pytest.raises(ValueError, match="unknown mps config"):
        MPSConfig.from_dict({"max_intervention": 2})


def test_yaml_sections_are_valid():
    mps = MPSConfig.from_dict(load_yaml_section(YAML, "mps"))
    assert mps.max_interventions == 3
    SandboxConfig.from_mapping(mps.sandbox)
    for role in ("student", "guide"):
        client_config_for_role(role, load_yaml_section(YAML, role)["client"])


def test_launcher_script_requires_endpoints():
    res = subprocess.run(["bash", str(REPO / "scripts/run_mps_datagen.sh"), "in.parquet", "out.jsonl"],
                         capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"}, timeout=30)
    assert res.returncode != 0 and "TEACHER_API_BASE" in res.stderr
