"""Log filters for messages verl repeats once per episode (installed in every process by ``verl_score.register``).

Each filter names the message and says why it may be cut. Nothing is dropped the first time: a filter lets the first
occurrence of each distinct message through per process, so the fact stays in the log, and drops the repeats.
"""

from __future__ import annotations

import logging

# verl's agent loop builds a Continuous Token builder per episode (``AgentLoopBase.__init__``) and, for a model type
# it has no dedicated builder for (SmolLM2 is ``llama``), warns "falling back to default" every time: ~1,000 identical
# lines in a short SmolLM2 run. The default builder is the right one for a plain chat template, and verl offers no
# config key to name the family, so the first warning is kept and its repeats are dropped.
_ONCE_PER_PROCESS = {
    "verl.utils.tokenizer.continuous_token_wiring": ("No model-specific Continuous Token builder",),
}


class OncePerProcess(logging.Filter):
    """Pass the first record of each distinct message starting with one of ``prefixes``; drop its repeats."""

    def __init__(self, prefixes: tuple[str, ...]):
        super().__init__()
        self.prefixes = prefixes
        self.seen: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        if not isinstance(record.msg, str) or not record.msg.startswith(self.prefixes):
            return True
        text = record.getMessage()
        if text in self.seen:
            return False
        self.seen.add(text)
        return True


def install_log_filters() -> None:
    """Attach the filters (idempotent: a logger gets at most one ``OncePerProcess``)."""
    for name, prefixes in _ONCE_PER_PROCESS.items():
        logger = logging.getLogger(name)
        if not any(isinstance(f, OncePerProcess) for f in logger.filters):
            logger.addFilter(OncePerProcess(prefixes))
