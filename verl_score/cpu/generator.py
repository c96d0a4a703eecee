"""A transformers-based token generator that honours verl's rollout ``generate`` contract on CPU.

verl's agent loops talk to an inference server through ``generate(request_id, *, prompt_ids, sampling_params) ->
TokenOutput`` (token ids in, token ids + log-probs out; generated tokens are never re-encoded). SGLang/vLLM implement
it on GPU. ``HFGenerator`` implements the same contract with plain ``model.generate`` so that the *same* agent loops,
rewards and trainer run on a CPU machine: inside the ``hfcpu`` rollout backend (``verl_score.cpu.rollout``), behind
``LocalServerManager`` in tests, and as the local-model engine of the eval CLI.

Log-probs follow vLLM/SGLang's convention: ``log_softmax(raw_logits / T)`` at the sampled token, which is also what
verl's actor computes (it divides logits by the rollout temperature), so rollout and actor log-probs agree.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Mapping, Optional

import torch

from verl.workers.rollout.replica import TokenOutput

logger = logging.getLogger(__name__)

#: ``stop_reason`` values, as SGLang reports them (vLLM folds both into "completed"). Agent loops must not rely on
#: them to detect truncation: they check whether the last token is an EOS instead.
STOP = "completed"
LENGTH = "length"


def resolve_num_threads(default: int = 1) -> int:
    """Threads for CPU generation: ``VERL_SCORE_CPU_THREADS`` or ``default``.

    One thread is ~4x faster than two for the tiny decode kernels here (OpenMP overhead dominates), see
    shared/notes/offline-assets.md.
    """
    return int(os.environ.get("VERL_SCORE_CPU_THREADS", default))


class HFGenerator:
    """Serial, single-sequence generation with a causal LM held in fp32 on CPU.

    Args:
        model_path: HF directory (weights + tokenizer/generation config).
        prompt_length / response_length: verl's rollout budget; used for the vLLM-style default ``max_tokens``.
        num_threads: ``torch.set_num_threads`` value for the generation thread.
        model: an already-built model (tests); ``model_path`` is then only informative.
    """

    def __init__(
        self,
        model_path: str | None = None,
        *,
        prompt_length: int = 1024,
        response_length: int = 512,
        num_threads: int | None = None,
        model: torch.nn.Module | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        from transformers import AutoModelForCausalLM

        self.prompt_length = prompt_length
        self.response_length = response_length
        self.num_threads = num_threads if num_threads is not None else resolve_num_threads()
        torch.set_num_threads(self.num_threads)
        if model is None:
            if model_path is None:
                raise ValueError("HFGenerator needs model_path or model")
            model = AutoModelForCausalLM.from_pretrained(model_path, dtype=dtype, attn_implementation="sdpa")
        self.model = model.eval()
        eos = self.model.generation_config.eos_token_id
        if eos is None:
            eos = self.model.config.eos_token_id
        self.eos_token_ids: list[int] = [eos] if isinstance(eos, int) else list(eos or [])
        if not self.eos_token_ids:
            raise ValueError(f"model at {model_path!r} declares no eos_token_id; generation could never stop")
        self.global_steps: int | None = None
        self.num_generated_tokens = 0
        # One worker thread: generation and weight loads never overlap, and torch's thread setting sticks.
        self._executor = ThreadPoolExecutor(max_workers=1, initializer=torch.set_num_threads, initargs=(self.num_threads,))
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ generation
    def default_max_tokens(self, num_prompt_tokens: int) -> int:
        """vLLM's default: the response budget, clipped so prompt + response fits the total budget."""
        return max(0, min(self.response_length, self.prompt_length + self.response_length - num_prompt_tokens))

    def generate_sync(self, prompt_ids: list[int], sampling_params: Mapping[str, Any]) -> TokenOutput:
        """Generate one continuation of ``prompt_ids``; see the module docstring for log-prob semantics."""
        params = dict(sampling_params)
        max_tokens = params.get("max_tokens", params.get("max_new_tokens"))
        max_tokens = self.default_max_tokens(len(prompt_ids)) if max_tokens is None else int(max_tokens)
        if max_tokens <= 0:
            return TokenOutput(token_ids=[], log_probs=[], stop_reason=LENGTH, extra_fields=self._extra())

        temperature = float(params.get("temperature", 1.0))
        do_sample = temperature > 0
        top_k = int(params.get("top_k", -1))
        gen_kwargs: dict[str, Any] = dict(
            max_new_tokens=max_tokens,
            do_sample=do_sample,
            output_logits=True,
            return_dict_in_generate=True,
            pad_token_id=self.eos_token_ids[0],
            eos_token_id=None if params.get("ignore_eos") else self.eos_token_ids,
        )
        if do_sample:
            gen_kwargs.update(temperature=temperature, top_p=float(params.get("top_p", 1.0)), top_k=top_k if top_k > 0 else 0)
        else:  # greedy: make sure no sampling defaults from generation_config leak in
            gen_kwargs.update(temperature=None, top_p=None, top_k=None)
        if params.get("repetition_penalty", 1.0) not in (None, 1.0):
            gen_kwargs["repetition_penalty"] = float(params["repetition_penalty"])
        if params.get("seed") is not None:
            torch.manual_seed(int(params["seed"]))

        input_ids = torch.tensor([prompt_ids], dtype=torch.long)
        with self._lock, torch.inference_mode():
            out = self.model.generate(input_ids=input_ids, attention_mask=torch.ones_like(input_ids), **gen_kwargs)
        token_ids = out.sequences[0, len(prompt_ids) :].tolist()
        scale = temperature if do_sample else 1.0
        logits = torch.stack([step[0] for step in out.logits[: len(token_ids)]]).float() / scale
        log_probs = torch.log_softmax(logits, dim=-1).gather(-1, torch.tensor(token_ids)[:, None])[:, 0].tolist()
        self.num_generated_tokens += len(token_ids)
        stopped = bool(token_ids) and token_ids[-1] in self.eos_token_ids and not params.get("ignore_eos")
        return TokenOutput(
            token_ids=token_ids,
            log_probs=log_probs,
            stop_reason=STOP if stopped or len(token_ids) < max_tokens else LENGTH,
            num_preempted=0,
            extra_fields=self._extra(),
        )

    async def generate(
        self, request_id: str = "", *, prompt_ids: list[int], sampling_params: Mapping[str, Any], **_: Any
    ) -> TokenOutput:
        """verl's async contract; multimodal kwargs are accepted and ignored (text-only backend)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self.generate_sync, list(prompt_ids), dict(sampling_params))

    def _extra(self) -> dict[str, Any]:
        # verl's v1 trainer reads global_steps back to tag samples with the weight version that produced them.
        return {"global_steps": self.global_steps}

    # ------------------------------------------------------------------ weights
    def load_weights(self, named_tensors: Mapping[str, torch.Tensor]) -> dict[str, Any]:
        """Load the actor's full (unsharded) weights; every model parameter must be covered.

        ``strict=False`` alone would silently ignore LoRA-only or renamed tensors, so unexpected keys and missing
        non-tied parameters are errors.
        """
        with self._lock:
            own = self.model.state_dict()
            state = {k: v.to(dtype=own[k].dtype) for k, v in named_tensors.items() if k in own}
            unexpected = sorted(set(named_tensors) - set(own))
            result = self.model.load_state_dict(state, strict=False)
            tied = set(getattr(self.model, "_tied_weights_keys", None) or [])
            if isinstance(getattr(self.model, "_tied_weights_keys", None), dict):
                tied = set(self.model._tied_weights_keys)
            missing = [k for k in result.missing_keys if k not in tied and not k.endswith("lm_head.weight")]
            if unexpected or missing:
                raise ValueError(f"weight update does not match the rollout model: unexpected={unexpected[:5]} missing={missing[:5]}")
            self.model.tie_weights()
        return {"loaded": len(state), "missing": result.missing_keys}

    def set_global_steps(self, global_steps: int) -> None:
        self.global_steps = global_steps


class LocalServerManager:
    """In-process stand-in for verl's ``LLMServerClient`` over one ``HFGenerator`` (tests, eval CLI).

    It reproduces the one thing the real client adds to a ``TokenOutput``: ``min_global_steps`` /
    ``max_global_steps`` tags, which the v1 trainer requires on every sample.
    """

    def __init__(self, generator: HFGenerator) -> None:
        self.generator = generator
        self.calls = 0

    async def generate(
        self, request_id: str, *, prompt_ids: list[int], sampling_params: dict[str, Any], **kwargs: Any
    ) -> TokenOutput:
        self.calls += 1
        out = await self.generator.generate(request_id, prompt_ids=prompt_ids, sampling_params=sampling_params)
        steps: Optional[int] = out.extra_fields.get("global_steps")
        out.extra_fields.setdefault("min_global_steps", steps)
        out.extra_fields.setdefault("max_global_steps", steps)
        return out
