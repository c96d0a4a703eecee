"""The CodeAct step format: one definition for the teacher's data generation, the agent loop, the converter and the
key-step reward.

Why here and not in ``teacher``: the agent loop (``episodes.codeact``) renders the prefix with it and the teacher
writes trajectories with it; a shared contract below both keeps ``episodes`` and ``teacher`` from importing each
other. The rendering must stay byte-identical to ``data_preprocess/sources/mps.py``'s (it imports these names),
because the SFT/RL data is rendered there and the student must see the same format; a test pins that.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

__all__ = ["MPS_SYSTEM", "Step", "render_step", "steps_to_messages"]

# Project text (SCoRe-B's own agent prompt is not public), the one definition: the converter renders SFT/RL data
# with it (data_preprocess/sources/mps.py imports it), so the student is prompted exactly as its data is rendered.
MPS_SYSTEM = (
    "You solve problems step by step with a Python interpreter. In each step write your reasoning after "
    "'Thought:' and, when you need to compute something, Python code in a ```python block after 'Code:'. The "
    "interpreter's output comes back as 'Observation:'. When you know the answer, write 'Final Answer: <answer>'."
)


@dataclass
class Step:
    """One CodeAct step. ``code``/``observation`` are ``""`` when absent (the converter's convention)."""

    thought: str
    code: str = ""
    observation: str = ""

    def to_dict(self) -> dict[str, str]:
        return {"thought": self.thought, "code": self.code, "observation": self.observation}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Step":
        return cls(str(d.get("thought") or ""), str(d.get("code") or ""), str(d.get("observation") or ""))


def render_step(step: Mapping[str, str]) -> str:
    """The assistant text of one step (used by the datagen, the converter and the key-step reward)."""
    text = f"Thought: {step['thought'].strip()}"
    if step.get("code", "").strip():
        text += f"\nCode:\n```python\n{step['code'].strip()}\n```"
    return text


def steps_to_messages(steps: list[Mapping[str, str]]) -> list[dict[str, str]]:
    """One assistant turn per run of steps up to an observation, then the observation as a user turn.

    Observations are user turns so verl's MultiTurnSFTDataset puts no loss on them; consecutive steps without an
    observation share one assistant turn (roles must alternate for LLaMA-Factory's sharegpt).
    """
    out: list[dict[str, str]] = []
    for step in steps:
        text = render_step(step)
        if out and out[-1]["role"] == "assistant":
            out[-1] = {"role": "assistant", "content": f"{out[-1]['content']}\n\n{text}"}
        else:
            out.append({"role": "assistant", "content": text})
        obs = step.get("observation", "")
        if obs.strip():
            out.append({"role": "user", "content": f"Observation:\n{obs.rstrip()}"})
    return out
