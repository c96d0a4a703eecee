"""Prompt texts used by every SCoRe component, verbatim from the papers (one copy, imported everywhere).

Sources: Kumar et al. 2024 (arXiv 2409.12917), Appendix C. The self-correction instructions never say whether the
first attempt was right: SCoRe measures *intrinsic* self-correction, so any hint of correctness would be a leak.
"""

from __future__ import annotations

MATH_ZERO_SHOT = (
    "You are a math expert. When you respond, respond only with the Solution of the final Problem, thinking step by "
    'step. At the end of the Solution, when you give your final answer, write it in the form "Final Answer: The final '
    'answer is $answer$. I hope it is correct."'
)

MATH_SELF_CORRECTION = (
    "There might be an error in the solution above because of lack of understanding of the question. Please correct "
    "the error, if any, and rewrite the solution. Only output the final solution! At the end of the Solution, when you "
    'give your final answer, write it in the form "Final Answer: The final answer is $answer$. I hope it is correct."'
)

CODE_SELF_CORRECTION = (
    "There might be an error in the code above because of lack of understanding of the question. Please correct the "
    "error, if any, and rewrite the solution. Only output the final correct Python program!"
)

#: Self-correction instruction per task kind (the dataset row's ``ability`` / ``extra_info.task`` selects it).
SELF_CORRECTION_INSTRUCTIONS: dict[str, str] = {
    "math": MATH_SELF_CORRECTION,
    "code": CODE_SELF_CORRECTION,
}


def self_correction_instruction(task: str) -> str:
    """Return the paper's static instruction for ``task`` ("math" or "code"); unknown tasks are an error."""
    try:
        return SELF_CORRECTION_INSTRUCTIONS[task]
    except KeyError:
        raise ValueError(
            f"no self-correction instruction for task {task!r}; known: {sorted(SELF_CORRECTION_INSTRUCTIONS)}"
        ) from None
