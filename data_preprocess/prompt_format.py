"""How each task's first-attempt prompt is laid out as a chat list (the paper texts come from ``verl_score.prompts``).

Math: SCoRe's zero-shot prompt (``MATH_ZERO_SHOT``) is an instruction about *every* answer the model gives (role +
the "Final Answer: ..." format), and the episode's later user turn is the self-correction instruction. So it goes in
the **system** message by default: it stays in force for attempt 2 without being repeated, the user turn holds only
the problem (what dedup/judges/teachers see), and with Qwen2.5's template it replaces the default "You are Qwen..."
system text instead of sitting beside it. ``--math-prompt prefix`` puts it in front of the problem in the user turn
instead, for models whose template has no system role or that were tuned without one.

Code: HumanEval is zero-shot; MBPP uses the canonical 3-shot ``[BEGIN]…[DONE]`` prompt (Austin et al. 2021; tasks 2,
3, 4 of the "prompt" split), laid out as three user/assistant turns so a chat model sees the exact answer format.
"""

from __future__ import annotations

from typing import Literal

from verl_score.prompts import MATH_ZERO_SHOT

MathPromptStyle = Literal["system", "prefix"]


def math_prompt(problem: str, style: MathPromptStyle = "system") -> list[dict[str, str]]:
    """Chat prompt for a math problem with the paper's zero-shot instruction."""
    problem = problem.strip()
    if style == "system":
        return [{"role": "system", "content": MATH_ZERO_SHOT}, {"role": "user", "content": problem}]
    if style == "prefix":
        return [{"role": "user", "content": f"{MATH_ZERO_SHOT}\n\n{problem}"}]
    raise ValueError(f"unknown math prompt style {style!r}; expected 'system' or 'prefix'")


# HumanEval --------------------------------------------------------------------------------------------------------
# The paper only says "zero-shot"; this wording is the project's. It asks for the whole function (not a body
# continuation) because the self-correction instruction asks to "rewrite the solution" as a full program, and the
# reward runs ``candidate + test + check(entry_point)`` either way.
HUMANEVAL_INSTRUCTION = (
    "Complete the following Python function. Output the complete function, including the signature and any "
    "imports it needs, in a single ```python code block."
)


def humaneval_prompt(code_prompt: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": f"{HUMANEVAL_INSTRUCTION}\n\n```python\n{code_prompt.rstrip()}\n```"}]


# MBPP -------------------------------------------------------------------------------------------------------------
# Canonical MBPP few-shot examples: task_ids 2, 3, 4 from mbpp.jsonl, verbatim except that the dataset's "\r\n" line
# endings are written as "\n" and trailing spaces are dropped (the same code; a chat template would otherwise carry
# stray carriage returns).
MBPP_FEWSHOT: tuple[dict[str, object], ...] = (
    {
        "task_id": 2,
        "text": "Write a function to find the similar elements from the given two tuple lists.",
        "code": (
            "def similar_elements(test_tup1, test_tup2):\n"
            "  res = tuple(set(test_tup1) & set(test_tup2))\n"
            "  return (res)"
        ),
        "test_list": [
            "assert similar_elements((3, 4, 5, 6),(5, 7, 4, 10)) == (4, 5)",
            "assert similar_elements((1, 2, 3, 4),(5, 4, 3, 7)) == (3, 4) ",
            "assert similar_elements((11, 12, 14, 13),(17, 15, 14, 13)) == (13, 14) ",
        ],
    },
    {
        "task_id": 3,
        "text": "Write a python function to identify non-prime numbers.",
        "code": (
            "import math\n"
            "def is_not_prime(n):\n"
            "    result = False\n"
            "    for i in range(2,int(math.sqrt(n)) + 1):\n"
            "        if n % i == 0:\n"
            "            result = True\n"
            "    return result"
        ),
        "test_list": [
            "assert is_not_prime(2) == False",
            "assert is_not_prime(10) == True",
            "assert is_not_prime(35) == True",
        ],
    },
    {
        "task_id": 4,
        "text": (
            "Write a function to find the largest integers from a given list of numbers using heap queue algorithm."
        ),
        "code": (
            "import heapq as hq\n"
            "def heap_queue_largest(nums,n):\n"
            "  largest_nums = hq.nlargest(n, nums)\n"
            "  return largest_nums"
        ),
        "test_list": [
            "assert heap_queue_largest( [25, 35, 22, 85, 14, 65, 75, 22, 58],3)==[85, 75, 65] ",
            "assert heap_queue_largest( [25, 35, 22, 85, 14, 65, 75, 22, 58],2)==[85, 75] ",
            "assert heap_queue_largest( [25, 35, 22, 85, 14, 65, 75, 22, 58],5)==[85, 75, 65, 58, 35]",
        ],
    },
)

#: Task ids used as shots; they are excluded from converted MBPP data so no row is its own demonstration.
MBPP_FEWSHOT_IDS = frozenset(int(ex["task_id"]) for ex in MBPP_FEWSHOT)  # type: ignore[arg-type]


def mbpp_task_text(text: str, test_list: list[str]) -> str:
    """The MBPP paper's task wording: 'You are an expert Python programmer, and here is your task: ...'."""
    tests = "\n".join(t.strip() for t in test_list)
    return (
        f"You are an expert Python programmer, and here is your task: {text.strip()} "
        f"Your code should pass these tests:\n\n{tests}"
    )


def mbpp_prompt(text: str, test_list: list[str]) -> list[dict[str, str]]:
    """3-shot chat prompt: each shot is (task, ``[BEGIN]\\ncode\\n[DONE]``), then the real task."""
    messages: list[dict[str, str]] = []
    for shot in MBPP_FEWSHOT:
        task = mbpp_task_text(str(shot["text"]), list(shot["test_list"]))  # type: ignore[arg-type]
        messages.append({"role": "user", "content": task})
        messages.append({"role": "assistant", "content": f"[BEGIN]\n{shot['code']}\n[DONE]"})
    messages.append({"role": "user", "content": mbpp_task_text(text, test_list)})
    return messages
