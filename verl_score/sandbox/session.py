"""A notebook-like Python tool for agents, replayed in a fresh sandbox per call.

Why replay instead of a long-lived interpreter: a persistent process would have to outlive one sandbox run (its
limits, its PID namespace) and would be shared state across rollouts. Replaying the earlier cells in a new
sandbox gives the same variables (for deterministic cells) with none of that, and it is how the SCoRe-B agent loop
restores the state of a verified prefix: "a variable defined in the prefix is visible to the rollout's first call".
Non-deterministic cells (random numbers, clocks) are re-executed, so their values can differ between calls.
"""

from __future__ import annotations

from typing import Sequence

from verl_score.sandbox.runner import CellResult, RunResult, Sandbox


class PythonSession:
    """``obs = await session.execute(code)`` runs the history plus ``code``; the new cell's result is returned.

    ``prefix_cells`` are cells that already ran (e.g. the teacher-verified prefix of a trajectory); they are
    replayed but their observations are not returned again. A trailing expression is echoed like in a REPL.
    """

    def __init__(self, sandbox: Sandbox, prefix_cells: Sequence[str] = (), echo_last_expr: bool = True):
        if isinstance(prefix_cells, str):
            raise TypeError("prefix_cells must be a sequence of code strings, not one string")
        self.sandbox = sandbox
        self.history: list[str] = list(prefix_cells)
        self.echo_last_expr = echo_last_expr

    async def execute(self, code: str) -> CellResult:
        """Run ``code`` after replaying the history; the cell joins the history whatever its outcome."""
        result = await self.replay(extra=[code])
        self.history.append(code)
        return result.cells[-1] if len(result.cells) == len(self.history) else _missing(result, len(self.history))

    async def replay(self, extra: Sequence[str] = ()) -> RunResult:
        """Run the whole history (plus ``extra``) once and return every cell's result."""
        return await self.sandbox.run_cells([*self.history, *extra], echo_last_expr=self.echo_last_expr)


def _missing(result: RunResult, n: int) -> CellResult:
    # The run ended early (timeout while replaying a prefix cell): report that as the new cell's observation.
    last = result.cells[-1]
    return CellResult(index=n - 1, exception=last.exception, stdout="", stderr="")
