"""Bubblewrap sandbox for untrusted (model-written) Python: ``Sandbox``, ``SandboxConfig``, ``PythonSession``."""

from verl_score.sandbox.config import SandboxConfig
from verl_score.sandbox.runner import CellResult, RunResult, Sandbox, SandboxUnavailableError
from verl_score.sandbox.session import PythonSession

__all__ = ["CellResult", "PythonSession", "RunResult", "Sandbox", "SandboxConfig", "SandboxUnavailableError"]
