"""Which code rows the strict test harness cannot carry, decided statically at conversion.

Why: ``code_tests`` runs the tests and the program in two processes by default (strict harness) and only plain
data (numbers, strings, lists, dicts…) crosses between them. A test that builds the program's objects cannot be
carried: MBPP task 601 asserts ``max_chain_length([Pair(5, 24), …], 4) == 3`` with the ``Pair`` class the solution
defines, so ``Pair(5, 24)`` comes back as an instance and the test fails with ``unsupported_type``; the tree tasks
(a ``Node`` class and ``root = Node(1)`` in ``test_setup_code``) pass harness-built instances to the program and
fail with ``unsupported_argument``. Even the dataset's reference solution scores 0 on such rows.

What the converter does with the answer: it always records it (``extra_info.harness_reason``, counted in the
summary); only with ``--shared-process-rows`` does it also put ``"harness": "shared_process"`` in the row's spec.
Not by default, because in that one-interpreter harness a WRONG program is paid: on task 601 a
``max_chain_length`` returning an object whose ``__eq__`` is always True scores 1.0, and other programs forge the
driver's records from its stack frame (``tests/rewards/hack_corpus.py``), which no rewrite of the asserts can stop.
A row every program fails is noise for RL; a row a wrong program passes teaches the policy to cheat.

The check reads the code (``ast``), it never runs it, so conversion needs no sandbox and gives the same output on
every machine. ``tests/data/test_mbpp_harness_mark.py`` runs the real reference solutions of such rows in the sandbox
to show the mark is needed and sufficient, and the always-equal hack on the default output to show it pays nothing.
What it does not catch: a test that needs shared state through a *returned* non-plain value (an ``OrderedDict``, a
generator) or an argument mutated in place; those rows score 0 in strict mode and show up in training as
``strict_unsupported_tests``.
"""
from __future__ import annotations

import ast


def _classes(source: str) -> set[str]:
    """Names of the classes ``source`` defines at any depth (empty when it does not parse)."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return set()
    return {node.name for node in ast.walk(tree) if isinstance(node, ast.ClassDef)}


def _loaded_names(sources: list[str]) -> set[str]:
    names: set[str] = set()
    for source in sources:
        try:
            tree = ast.parse(source)
        except (SyntaxError, ValueError):
            continue
        names |= {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    return names


def shared_process_reason(tests: list[str], setup: str, reference_solution: str) -> str | None:
    """Why the strict harness cannot carry these tests, or ``None`` when it can.

    * the tests use a class the reference solution defines (they construct the program's objects);
    * the test setup defines a class (the tests hand the program instances built in the harness).
    """
    used = _classes(reference_solution) & _loaded_names(tests)
    if used:
        return f"tests construct the solution's class(es) {', '.join(sorted(used))}"
    built = _classes(setup)
    if built:
        return f"test setup builds instances of {', '.join(sorted(built))}"
    return None
