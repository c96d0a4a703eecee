"""verl's per-episode "no Continuous Token builder" warning is kept once per process, its repeats dropped."""

from __future__ import annotations

import logging

from verl.utils.tokenizer.continuous_token_wiring import infer_continuous_token_model_family

import verl_score.register  # noqa: F401  installs the filters, as in every verl process
from verl_score.log_filters import OncePerProcess, install_log_filters

LOGGER = "verl.utils.tokenizer.continuous_token_wiring"


def test_repeated_fallback_warning_is_logged_once(caplog):
    caplog.set_level(logging.WARNING, logger=LOGGER)
    for _ in range(5):  # verl calls this once per episode (AgentLoopBase.__init__)
        assert infer_continuous_token_model_family(hf_model_type="llama").value == "default"
    infer_continuous_token_model_family(hf_model_type="gemma")  # a different model type is a different fact
    msgs = [r.getMessage() for r in caplog.records if r.name == LOGGER]
    assert sum("'llama'" in m for m in msgs) <= 1  # 0 if an earlier test in this process already logged it
    assert sum("'gemma'" in m for m in msgs) == 1


def test_other_messages_pass_and_install_is_idempotent():
    install_log_filters()
    install_log_filters()
    logger = logging.getLogger(LOGGER)
    filters = [f for f in logger.filters if isinstance(f, OncePerProcess)]
    assert len(filters) == 1
    rec = logging.LogRecord(LOGGER, logging.INFO, __file__, 1, "Resolved family %s", ("x",), None)
    assert all(filters[0].filter(rec) for _ in range(3))
