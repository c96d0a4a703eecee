"""OpenAI-compatible client shared by the LLM judge, SMART guidance, the teacher and the eval CLI."""

from verl_score.llm.client import ChatResult, LLMCallError, LLMClient
from verl_score.llm.config import LLMClientConfig, LLMConfigError, redact_url
from verl_score.llm.failure_monitor import FailureRateExceeded, FailureRateMonitor, MonitorConfig, get_monitor
from verl_score.llm.json_extract import JSONExtractError, extract_json_object
from verl_score.llm.stats import CallStats

__all__ = [
    "CallStats",
    "ChatResult",
    "FailureRateExceeded",
    "FailureRateMonitor",
    "JSONExtractError",
    "LLMCallError",
    "LLMClient",
    "LLMClientConfig",
    "LLMConfigError",
    "MonitorConfig",
    "extract_json_object",
    "get_monitor",
    "redact_url",
]
