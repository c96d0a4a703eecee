"""A transformers-based token generator that honours verl's rollout ``generate`` contract on CPU, with continuous batching.

verl's agent loops talk to an inference server through ``generate(request_id, *, prompt_ids, sampling_params) ->
TokenOutput`` (token ids in, token ids + log-probs out; generated tokens are never re-encoded). SGLang/vLLM implement
it on GPU. ``HFGenerator`` implements the same contract on CPU so that the *same* agent loops, rewards and trainer run
on a CPU machine: inside the ``hfcpu`` rollout backend (``verl_score.cpu.rollout``), behind ``LocalServerManager`` in
tests, and as the local-model engine of the eval CLI.

Why batching: the agent loops send all of a step's requests concurrently. Decoding one token for 16 sequences costs
little more than for one on CPU (the weights are read once per step), so an engine thread decodes every running
request together (continuous batching, as vLLM/SGLang do): a request is prefilled when it arrives and joins the
running batch at the next step; one that stops (EOS, a stop token, its ``max_tokens``) leaves at once and its slot
goes to the next waiting request. The KV cache layout is in ``verl_score.cpu.kv_cache``, sampling in
``verl_score.cpu.sampling``.

Log-probs follow vLLM/SGLang's convention: ``log_softmax(raw_logits / T)`` at the chosen token, which is also what
verl's actor computes (it divides logits by the rollout temperature), so rollout and actor log-probs agree.

Errors stay per request: a prompt longer than the context or an unsupported sampling parameter fails that request's
``generate`` call with a ``ValueError``; a cancelled caller or ``abort_request`` removes only that request from the
batch (an aborted request returns its tokens so far with ``stop_reason="aborted"``, as SGLang does).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional

import torch

from verl.workers.rollout.replica import TokenOutput

from verl_score.cpu.kv_cache import SlotCache
from verl_score.contracts.lora import LoraSpec, adapter_tensor_key, base_tensor_key, lora_spec
from verl_score.cpu.sampling import SamplingSpec, choose_tokens, parse_sampling_params

logger = logging.getLogger(__name__)

#: ``stop_reason`` values, as SGLang reports them (vLLM folds both into "completed"). Agent loops must not rely on
#: them to detect truncation: they check whether the last token is an EOS instead.
STOP = "completed"
LENGTH = "length"
ABORTED = "aborted"

#: Default cap on sequences decoded together (``rollout.max_num_seqs`` overrides it in the hfcpu server).
DEFAULT_MAX_BATCH = 32


def resolve_num_threads(default: int = 1) -> int:
    """Threads for CPU generation: ``VERL_SCORE_CPU_THREADS`` or ``default`` (see docs/design.md, CPU threads)."""
    return int(os.environ.get("VERL_SCORE_CPU_THREADS", default))


@dataclass
class _Request:
    request_id: str
    prompt_ids: list[int]
    spec: SamplingSpec
    future: concurrent.futures.Future
    token_ids: list[int] = field(default_factory=list)
    log_probs: list[float] = field(default_factory=list)
    aborted: bool = False

    @property
    def position(self) -> int:
        """Position id of the next token to feed (= number of tokens in the sequence so far, minus one)."""
        return len(self.prompt_ids) + len(self.token_ids) - 1


class HFGenerator:
    """Continuous-batching generation with a causal LM held in fp32 on CPU.

    Args:
        model_path: HF directory (weights + tokenizer/generation config).
        prompt_length / response_length: verl's rollout budget; their sum is the context (vLLM's ``max_model_len``)
            and gives the vLLM-style default ``max_tokens``.
        num_threads: ``torch.set_num_threads`` value for the engine thread.
        max_batch_size: most sequences decoded together; later requests wait for a free slot.
        model: an already-built model (tests); ``model_path`` is then only informative.
    """

    def __init__(
        self,
        model_path: str | None = None,
        *,
        prompt_length: int = 1024,
        response_length: int = 512,
        num_threads: int | None = None,
        max_batch_size: int = DEFAULT_MAX_BATCH,
        model: torch.nn.Module | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        from transformers import AutoModelForCausalLM

        self.prompt_length = prompt_length
        self.response_length = response_length
        self.num_threads = num_threads if num_threads is not None else resolve_num_threads()
        if max_batch_size < 1:
            raise ValueError(f"max_batch_size must be >= 1, got {max_batch_size}")
        self.max_batch_size = max_batch_size
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
        self.max_model_len = prompt_length + response_length
        self.global_steps: int | None = None
        self.num_generated_tokens = 0
        self.max_batch_seen = 0  # largest number of sequences decoded in one step (tests, benchmarks)
        # Engine state: touched only by the engine thread, except the waiting queue (under _cond).
        self._cond = threading.Condition()
        self._waiting: deque[_Request] = deque()
        self._requests: dict[int, _Request] = {}  # submitted, unfinished (under _cond): what abort() sees
        self._running: list[_Request] = []
        self._cache: Optional[SlotCache] = None
        self._mask: Optional[torch.Tensor] = None  # [rows, columns] 1 = real token
        self._step_lock = threading.Lock()  # one forward at a time; weight loads wait for the step boundary
        self._update_names: Optional[set[str]] = None  # names loaded since begin_weight_update (None: no update)
        self._update_mode: str = "full"  # "full" | "base" | "adapter" (LoRA, verl_score.contracts.lora)
        self._update_spec: Optional[LoraSpec] = None
        self._pending_base: dict[str, torch.Tensor] = {}
        self._pending_adapter: dict[str, dict[str, torch.Tensor]] = {}
        # LoRA state after a base sync: the adapter's spec and the fp32 base weight W0 of every targeted layer
        self._lora: Optional[LoraSpec] = None
        self._lora_base: dict[str, torch.Tensor] = {}
        self.adapter_updates = 0
        self._thread: Optional[threading.Thread] = None

    # ------------------------------------------------------------------ public API
    def default_max_tokens(self, num_prompt_tokens: int) -> int:
        """vLLM's default: the response budget, clipped so prompt + response fits the total budget."""
        return max(0, min(self.response_length, self.max_model_len - num_prompt_tokens))

    def submit(self, request_id: str, prompt_ids: list[int], sampling_params: Mapping[str, Any]) -> concurrent.futures.Future:
        """Queue one request; its future resolves to a ``TokenOutput``. Bad input raises here, for this request only."""
        prompt_ids = [int(t) for t in prompt_ids]
        if not prompt_ids:
            raise ValueError(f"request {request_id!r}: empty prompt")
        if len(prompt_ids) > self.max_model_len:
            raise ValueError(
                f"request {request_id!r}: prompt has {len(prompt_ids)} tokens, more than the context of "
                f"{self.max_model_len} (rollout prompt_length {self.prompt_length} + response_length "
                f"{self.response_length})"
            )
        spec = parse_sampling_params(sampling_params, self.default_max_tokens(len(prompt_ids)), request_id)
        spec.max_tokens = min(spec.max_tokens, self.max_model_len - len(prompt_ids))
        future: concurrent.futures.Future = concurrent.futures.Future()
        req = _Request(request_id, prompt_ids, spec, future)
        if spec.max_tokens <= 0:
            future.set_result(self._output(req, LENGTH))
            return future
        with self._cond:
            self._waiting.append(req)
            self._requests[id(req)] = req
            self._ensure_thread()
            self._cond.notify()
        return future

    def generate_sync(self, prompt_ids: list[int], sampling_params: Mapping[str, Any], request_id: str = "") -> TokenOutput:
        """Blocking form of ``generate`` (one request; concurrent callers are still batched together)."""
        return self.submit(request_id, list(prompt_ids), dict(sampling_params)).result()

    async def generate(
        self, request_id: str = "", *, prompt_ids: list[int], sampling_params: Mapping[str, Any], **_: Any
    ) -> TokenOutput:
        """verl's async contract; multimodal kwargs are accepted and ignored (text-only backend).

        Cancelling the awaiting task cancels the request: the engine drops it from the batch at the next step.
        """
        return await asyncio.wrap_future(self.submit(request_id, list(prompt_ids), dict(sampling_params)))

    def abort(self, request_id: Optional[str] = None) -> list[str]:
        """Abort one request (or all, ``None``): it returns its tokens so far with ``stop_reason="aborted"``."""
        aborted = []
        with self._cond:  # every unfinished request, whether waiting, being admitted or running
            for req in self._requests.values():
                if request_id is None or req.request_id == request_id:
                    req.aborted = True
                    aborted.append(req.request_id)
            self._cond.notify()
        return aborted

    def num_pending(self) -> int:
        with self._cond:
            return len(self._requests)

    # ------------------------------------------------------------------ engine
    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._engine_loop, name="hfcpu-engine", daemon=True)
            self._thread.start()

    def _engine_loop(self) -> None:
        torch.set_num_threads(self.num_threads)
        while True:
            with self._cond:
                while not self._waiting and not self._running:
                    self._cond.wait()
                admitted = []
                while self._waiting and len(self._running) + len(admitted) < self.max_batch_size:
                    admitted.append(self._waiting.popleft())
                aborted_waiting = [r for r in self._waiting if r.aborted or r.future.cancelled()]
                for r in aborted_waiting:
                    self._waiting.remove(r)
            for r in aborted_waiting:
                self._finish(r, ABORTED)
            try:
                with self._step_lock, torch.inference_mode():
                    for req in admitted:
                        self._prefill(req)
                    if self._running:
                        self._decode_step()
            except Exception as exc:  # a model failure fails the requests in flight, not the server
                logger.exception("hfcpu engine step failed")
                for req in self._running + [r for r in admitted if r not in self._running]:
                    with self._cond:
                        self._requests.pop(id(req), None)
                    if not req.future.done():
                        req.future.set_exception(exc)
                self._running, self._cache, self._mask = [], None, None

    def _prefill(self, req: _Request) -> None:
        """Run the prompt alone (no padding to mask), pick its first token, and add it to the running batch."""
        if req.aborted or req.future.cancelled():
            self._finish(req, ABORTED)
            return
        ids = torch.tensor([req.prompt_ids], dtype=torch.long)
        out = self.model(input_ids=ids, use_cache=True, logits_to_keep=1)  # lm_head on the last position only
        tokens, logps = choose_tokens(out.logits[:, -1].float(), [req.spec], [req.prompt_ids])
        cache = SlotCache.from_cache(out.past_key_values)
        mask = torch.ones(1, len(req.prompt_ids), dtype=torch.long)
        if self._cache is None:
            self._cache, self._mask = cache, mask
        else:
            width = max(self._mask.shape[1], mask.shape[1])
            self._mask = torch.cat([_pad_mask(self._mask, width), _pad_mask(mask, width)])
            self._cache = SlotCache.concat(self._cache, cache)
        self._running.append(req)
        self._append(req, tokens[0], logps[0])
        self._retire()

    def _decode_step(self) -> None:
        """Feed every running request its last token; one new token each."""
        rows = self._running
        self.max_batch_seen = max(self.max_batch_seen, len(rows))
        input_ids = torch.tensor([[r.token_ids[-1]] for r in rows], dtype=torch.long)
        position_ids = torch.tensor([[r.position] for r in rows], dtype=torch.long)
        self._mask = torch.cat([self._mask, self._mask.new_ones(len(rows), 1)], dim=1)
        out = self.model(
            input_ids=input_ids, attention_mask=self._mask, position_ids=position_ids,
            past_key_values=self._cache, use_cache=True,
        )
        histories = [r.prompt_ids + r.token_ids if r.spec.repetition_penalty != 1.0 else [] for r in rows]
        tokens, logps = choose_tokens(out.logits[:, -1].float(), [r.spec for r in rows], histories)
        for req, tok, lp in zip(rows, tokens, logps):
            self._append(req, tok, lp)
        self._retire()

    def _append(self, req: _Request, token: int, log_prob: float) -> None:
        req.token_ids.append(token)
        req.log_probs.append(log_prob)
        self.num_generated_tokens += 1

    def _stop_reason(self, req: _Request) -> Optional[str]:
        if req.aborted or req.future.cancelled():
            return ABORTED
        last = req.token_ids[-1]
        if not req.spec.ignore_eos and last in self.eos_token_ids or last in req.spec.stop_token_ids:
            return STOP
        if len(req.token_ids) >= req.spec.max_tokens:
            return LENGTH
        return None

    def _retire(self) -> None:
        """Finish requests that stopped and drop their rows (and padding columns no one needs) from the cache."""
        keep: list[int] = []
        done: list[tuple[_Request, str]] = []
        for i, req in enumerate(self._running):
            reason = self._stop_reason(req)
            if reason is None:
                keep.append(i)
            else:
                done.append((req, reason))
        if not done:
            return
        for req, reason in done:
            self._finish(req, reason)
        if not keep:
            self._running, self._cache, self._mask = [], None, None
            return
        rows = torch.tensor(keep, dtype=torch.long)
        mask = self._mask[rows]
        drop = int(mask.any(dim=0).long().argmax())  # leftmost column some kept row still uses
        self._running = [self._running[i] for i in keep]
        self._mask = mask[:, drop:]
        self._cache = self._cache.select(rows, drop)

    def _finish(self, req: _Request, reason: str) -> None:
        with self._cond:
            self._requests.pop(id(req), None)
        if not req.future.done():
            req.future.set_result(self._output(req, reason))

    def _output(self, req: _Request, reason: str) -> TokenOutput:
        return TokenOutput(
            token_ids=list(req.token_ids),
            log_probs=list(req.log_probs),
            stop_reason=reason,
            num_preempted=0,
            extra_fields=self._extra(),
        )

    def _extra(self) -> dict[str, Any]:
        # verl's v1 trainer reads global_steps back to tag samples with the weight version that produced them.
        return {"global_steps": self.global_steps}

    # ------------------------------------------------------------------ weights
    def load_weights(
        self, named_tensors: Mapping[str, torch.Tensor], peft_config: Any = None, *, base_sync_done: bool = False
    ) -> dict[str, Any]:
        """One whole update in one call (see :meth:`begin_weight_update` for the three kinds): the actor's full
        (unsharded) weights, a LoRA base sync, or a LoRA adapter."""
        self.begin_weight_update(peft_config, base_sync_done=base_sync_done)
        ok = False
        try:
            self.load_weight_chunk(named_tensors)
            ok = True
        finally:
            info = self.end_weight_update(check=ok)
        return info

    def begin_weight_update(self, peft_config: Any = None, *, base_sync_done: bool = False) -> None:
        """Hold decoding at the next step boundary until :meth:`end_weight_update`.

        The actor streams its weights in chunks (``HFCpuServerAdapter.update_weights``) so that no process holds a
        second full copy of the model at once; the engine must not decode with a model that is half old, half new.

        Three kinds of update, as verl sends them (``verl_score.contracts.lora``):

        * ``peft_config=None``: full weights (full fine-tuning, or LoRA with ``model.lora.merge=True``);
        * ``peft_config`` and ``base_sync_done=False``: LoRA **base sync**, every base tensor once (targeted layers'
          weights named ``<module>.base_layer.weight``); the fp32 base weight of each targeted layer is kept;
        * ``peft_config`` and ``base_sync_done=True``: LoRA **adapter sync**, only ``lora_A`` / ``lora_B``; each
          targeted layer becomes ``W0 + (B @ A) * scaling`` in fp32, cast to the rollout dtype.

        Bad input (an adapter this backend cannot apply exactly, an adapter before any base sync, a different adapter
        than the base sync announced) raises here, before decoding is held.
        """
        mode, spec = "full", None
        if peft_config is not None:
            spec = lora_spec(self.model, peft_config)
            mode = "adapter" if base_sync_done else "base"
            if mode == "adapter":
                if self._lora is None:
                    raise RuntimeError(
                        "LoRA adapter update before any base sync: hfcpu holds the base weights only from the actor's "
                        "base sync, which verl sends when actor_rollout_ref.rollout.load_format=dummy (the default). "
                        "Fix: actor_rollout_ref.rollout.load_format=dummy (and rollout.layered_summon=False)"
                    )
                if not spec.same_adapter(self._lora):
                    raise ValueError(
                        f"LoRA adapter update does not match the base sync: got {spec}, the base sync announced "
                        f"{self._lora}"
                    )
        self._step_lock.acquire()
        self._update_names = set()
        self._update_mode, self._update_spec = mode, spec
        self._pending_base = {}
        self._pending_adapter = {}

    def load_weight_chunk(self, named_tensors: Mapping[str, torch.Tensor]) -> int:
        """Copy some of the weights in place (inside a begin/end pair). Foreign or mis-shaped tensors are errors:
        ``strict=False`` loading would silently ignore LoRA-only or renamed tensors."""
        names = self._update_names
        if names is None:
            raise RuntimeError("load_weight_chunk outside begin_weight_update / end_weight_update")
        if self._update_mode == "adapter":
            return self._load_adapter_chunk(named_tensors)
        if self._update_mode == "base":
            named_tensors = {base_tensor_key(k): v for k, v in named_tensors.items()}
        own = self.model.state_dict()
        unexpected = sorted(set(named_tensors) - set(own))
        if unexpected:
            raise ValueError(f"weight update does not match the rollout model: unexpected={unexpected[:5]}")
        bad = [k for k, v in named_tensors.items() if tuple(v.shape) != tuple(own[k].shape)]
        if bad:
            raise ValueError(
                f"weight update does not match the rollout model: shape of {bad[0]!r} is "
                f"{tuple(named_tensors[bad[0]].shape)}, the rollout model's is {tuple(own[bad[0]].shape)}"
            )
        targets = self._update_spec.targets if self._update_mode == "base" else {}
        with torch.no_grad():
            for k, v in named_tensors.items():
                own[k].copy_(v)
                module = k[: -len(".weight")] if k.endswith(".weight") else None
                if module in targets:  # the exact base weight W0, kept in fp32 for every later adapter sync
                    self._pending_base[module] = v.detach().to(torch.float32).clone()
        names.update(named_tensors)
        return len(named_tensors)

    def _load_adapter_chunk(self, named_tensors: Mapping[str, torch.Tensor]) -> int:
        spec = self._update_spec
        for name, tensor in named_tensors.items():
            module, kind = adapter_tensor_key(name)
            layer = spec.targets.get(module)
            if layer is None:
                raise ValueError(
                    f"adapter sync sent {name!r} for {module!r}, which is not a LoRA target of the rollout model "
                    f"(targets: {sorted(spec.targets)[:3]}...)"
                )
            want = (spec.r, layer.in_features) if kind == "A" else (layer.out_features, spec.r)
            if tuple(tensor.shape) != want:
                raise ValueError(
                    f"adapter sync: shape of {name!r} is {tuple(tensor.shape)}, expected {want} (lora_{kind} of "
                    f"rank {spec.r} for {layer.in_features}->{layer.out_features})"
                )
            self._pending_adapter.setdefault(module, {})[kind] = tensor.detach().to(torch.float32).clone()
        self._update_names.update(named_tensors)
        return len(named_tensors)

    def end_weight_update(self, check: bool = True) -> dict[str, Any]:
        """Release decoding; with ``check``, every non-tied parameter (a base sync: also every targeted layer; an
        adapter sync: both LoRA factors of every targeted layer) must have been loaded since the begin. An adapter
        sync changes the model only here, after that check, so a refused one leaves the served weights as they were."""
        names = self._update_names or set()
        mode, spec = self._update_mode, self._update_spec
        try:
            if mode == "adapter":
                if check:
                    missing = [m for m in spec.targets if set(self._pending_adapter.get(m, {})) != {"A", "B"}]
                    if missing:
                        raise ValueError(f"adapter sync does not cover the LoRA targets: missing lora_A/B of {missing[:5]}")
                    self._apply_adapter(spec, self._pending_adapter)
                    self.adapter_updates += 1
            elif check:
                tied = set(getattr(self.model, "_tied_weights_keys", None) or [])  # a list, or a dict keyed by name
                missing = [
                    k
                    for k in self.model.state_dict()
                    if k not in names and k not in tied and not k.endswith("lm_head.weight")
                ]
                if missing:
                    raise ValueError(f"weight update does not match the rollout model: missing={missing[:5]}")
                self.model.tie_weights()
                # a base sync starts the LoRA state; full weights (merged LoRA, full fine-tuning) end it
                self._lora, self._lora_base = (spec, self._pending_base) if mode == "base" else (None, {})
            elif mode in ("base", "full"):
                # a failed full or base load may have overwritten some weights: no adapter may build on them
                self._lora, self._lora_base = None, {}
        finally:
            self._update_names = None
            self._update_mode, self._update_spec = "full", None
            self._pending_base, self._pending_adapter = {}, {}
            self._step_lock.release()
        return {"loaded": len(names), "mode": mode}

    def _apply_adapter(self, spec: LoraSpec, factors: Mapping[str, Mapping[str, torch.Tensor]]) -> None:
        """Each targeted layer's weight := W0 + (B @ A) * scaling, in fp32 (peft's merge), cast to the model's dtype."""
        scaling = spec.scaling
        with torch.no_grad():
            for module, layer in spec.targets.items():
                delta = (factors[module]["B"] @ factors[module]["A"]) * scaling
                layer.weight.copy_(self._lora_base[module] + delta)

    def set_global_steps(self, global_steps: int) -> None:
        self.global_steps = global_steps


def _pad_mask(mask: torch.Tensor, width: int) -> torch.Tensor:
    if mask.shape[1] == width:
        return mask
    return torch.cat([mask.new_zeros(mask.shape[0], width - mask.shape[1]), mask], dim=1)


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
