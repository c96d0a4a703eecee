"""``hfcpu``: a transformers rollout backend for verl 0.9.1, registered through verl's rollout registries.

It is the CPU counterpart of verl's SGLang backend and has the same three parts, wired the way verl's extend guide
("inference framework developer") describes:

* ``HFCpuServer`` — the server, one Ray actor per replica: ``generate`` (token ids in, token ids + log-probs out,
  via ``HFGenerator``, which decodes concurrent requests together), weight loading, aborts, and the lifecycle calls
  the trainer fans out (no-ops on CPU: there is no GPU memory to release; the KV cache lives only while a request
  runs).
* ``HFCpuReplica(RolloutReplica)`` — launches the server; verl's ``LLMServerManager`` routes agent-loop requests to it.
* ``HFCpuServerAdapter(BaseRollout)`` — lives in the actor worker (hybrid engine) and pushes the actor's new weights
  to the server after every step, through verl's default ``naive`` checkpoint engine: full weights, or with LoRA
  (``actor_rollout_ref.model.lora_rank``) verl's adapter mode — the base once, then only ``lora_A`` / ``lora_B``,
  which the server merges exactly into its fp32 copy of the base (``verl_score.contracts.lora``).

Limits, on purpose: one server per replica, tensor parallel 1; only the ``sync`` trainer mode is tested (aborts
return partial tokens with ``stop_reason="aborted"``, but partial-rollout resume is not exercised). This backend
exists to run the real trainer end to end on a CPU machine.
"""

from __future__ import annotations

import logging
import os
from typing import Any, Generator, Optional

import ray
import torch

from verl.utils.config import omega_conf_to_dataclass
from verl.workers.config import HFModelConfig, RolloutConfig
from verl.workers.rollout.base import BaseRollout
from verl.workers.rollout.replica import RolloutReplica, TokenOutput

from verl_score.cpu.generator import HFGenerator
from verl_score.contracts.lora import lora_rank_of, lora_spec, model_lora_config

logger = logging.getLogger(__name__)

ROLLOUT_NAME = "hfcpu"
# Weight sync streams the actor's tensors to the server in chunks of about this size (fp32 bytes): big enough that
# Ray's per-call overhead is negligible (SmolLM2-135M: ~9 calls), small enough that no process holds a model copy.
WEIGHT_CHUNK_BYTES = 64 * 2**20


#: ``rollout.dtype`` values the CPU backend computes in (verl_score/cpu/precision.py chooses one per machine)
ROLLOUT_DTYPES = {"float32": torch.float32, "fp32": torch.float32, "bfloat16": torch.bfloat16, "bf16": torch.bfloat16}


def rollout_dtype(name: str) -> torch.dtype:
    """The torch dtype of ``actor_rollout_ref.rollout.dtype``; fp16 and anything else are refused (torch has no fast
    fp16 CPU kernels, and a silent fallback would change the numbers)."""
    try:
        return ROLLOUT_DTYPES[str(name)]
    except KeyError:
        raise ValueError(
            f"actor_rollout_ref.rollout.dtype={name!r} is not supported by the hfcpu rollout; use one of "
            f"{sorted(ROLLOUT_DTYPES)} (scripts/lib/cpu_env.sh sets it from VERL_SCORE_CPU_PRECISION)"
        ) from None


def server_actor_name(replica_rank: int) -> str:
    return f"{ROLLOUT_NAME}_server_{replica_rank}_0"


class HFCpuServer:
    """Token-in/token-out generation server for one replica (wrapped with ``ray.remote`` at launch)."""

    def __init__(self, config: RolloutConfig, model_config: HFModelConfig, replica_rank: int) -> None:
        self.replica_rank = replica_rank
        config = omega_conf_to_dataclass(config)
        model_config = omega_conf_to_dataclass(model_config, dataclass_type=HFModelConfig)
        self.generator = HFGenerator(
            model_config.local_path,
            prompt_length=config.prompt_length,
            response_length=config.response_length,
            # vLLM's knob for the same thing: sequences decoded together (the CPU launchers set it, see cpu_env.sh).
            max_batch_size=config.max_num_seqs,
            dtype=rollout_dtype(config.dtype),
        )
        self.weight_updates = 0
        self.lora = check_rollout_lora(self.generator.model, config, model_config)

    async def generate(
        self,
        prompt_ids: list[int],
        sampling_params: dict[str, Any],
        request_id: str,
        image_data: Optional[list[Any]] = None,
        video_data: Optional[list[Any]] = None,
        **kwargs: Any,
    ) -> TokenOutput:
        if image_data or video_data:
            raise NotImplementedError("the hfcpu rollout backend is text-only")
        return await self.generator.generate(request_id, prompt_ids=prompt_ids, sampling_params=sampling_params)

    # The actor streams its weights (HFCpuServerAdapter.update_weights): begin, load_weight_chunk..., end.
    async def begin_weight_update(self, peft_config: Any = None, base_sync_done: bool = False) -> None:
        self.generator.begin_weight_update(peft_config, base_sync_done=base_sync_done)

    async def load_weight_chunk(self, named_tensors: dict[str, torch.Tensor]) -> int:
        return self.generator.load_weight_chunk(named_tensors)

    async def end_weight_update(self, global_steps: Optional[int], check: bool = True) -> dict[str, Any]:
        info = self.generator.end_weight_update(check=check)
        if check:
            if global_steps is not None:
                self.generator.set_global_steps(global_steps)
            self.weight_updates += 1
            logger.info(
                "hfcpu replica %d: weights v%s loaded (%s, %d tensors)",
                self.replica_rank, global_steps, info["mode"], info["loaded"],
            )
        return info

    async def set_global_steps(self, global_steps: int) -> None:
        self.generator.set_global_steps(global_steps)

    async def stats(self) -> dict[str, Any]:
        """Counters for tests and benchmarks: weight versions received and tokens generated."""
        return {
            "weight_updates": self.weight_updates,
            "global_steps": self.generator.global_steps,
            "generated_tokens": self.generator.num_generated_tokens,
            "max_batch_seen": self.generator.max_batch_seen,
            "adapter_updates": self.generator.adapter_updates,
        }

    async def state_dict_checksum(self) -> float:
        """Sum of all parameters: lets tests check that the served weights are the actor's."""
        with torch.no_grad():
            return float(sum(p.double().sum() for p in self.generator.model.parameters()))

    # Lifecycle calls verl fans out to every server. CPU has no device memory to free and no KV cache to keep
    # between requests.
    async def wake_up(self) -> None: ...
    async def sleep(self) -> None: ...
    async def clear_kv_cache(self) -> None: ...
    async def release_kv_cache(self) -> None: ...
    async def resume_kv_cache(self) -> None: ...
    async def resume_generation(self) -> None: ...
    async def wait_for_requests_to_drain(self) -> None: ...
    async def start_profile(self, **kwargs: Any) -> None: ...
    async def stop_profile(self) -> None: ...

    async def abort_all_requests(self, reject_request: bool = False) -> dict[str, Any]:
        """Every waiting/running request returns its tokens so far with ``stop_reason="aborted"``."""
        ids = self.generator.abort()
        return {"aborted_count": len(ids), "request_ids": ids}

    async def abort_request(self, request_id: str) -> dict[str, Any]:
        return {"aborted": bool(self.generator.abort(request_id)), "request_id": request_id}


class HFCpuReplica(RolloutReplica):
    """One ``HFCpuServer`` per replica; the worker processes keep training, the server does the generation."""

    def rollout_worker_use_gpu(self) -> bool:
        return False

    async def launch_servers(self) -> None:
        if self.world_size != 1:
            raise ValueError(
                f"the hfcpu backend serves one process per replica (tensor/data/pipeline parallel 1); got world size "
                f"{self.world_size}"
            )
        name = server_actor_name(self.replica_rank) + self.name_suffix
        server = (
            ray.remote(HFCpuServer)
            .options(name=name, num_cpus=0, max_concurrency=self.max_concurrency)
            .remote(config=self.config, model_config=self.model_config, replica_rank=self.replica_rank)
        )
        self.servers = [server]
        self._server_handle = server
        # Only a routing key for verl's load balancer: the server speaks Ray, not HTTP.
        self._server_address = f"{ROLLOUT_NAME}://{name}"


class HFCpuServerAdapter(BaseRollout):
    """Runs in each hybrid actor worker; ships the actor's weights (full, or LoRA base + adapters) to its replica's
    server."""

    def __init__(
        self, config: RolloutConfig, model_config: HFModelConfig, device_mesh: Any, replica_rank: int = -1
    ) -> None:
        super().__init__(config, model_config, device_mesh)
        rank = int(os.environ.get("RANK", 0))
        rollout_world_size = (
            self.config.tensor_model_parallel_size
            * self.config.data_parallel_size
            * self.config.pipeline_model_parallel_size
        )
        self.replica_rank = rank // rollout_world_size if replica_rank == -1 else replica_rank
        self.rollout_rank = rank % rollout_world_size
        self._server: Any = None

    def _server_handle(self) -> Any:
        if self._server is None:
            self._server = ray.get_actor(server_actor_name(self.replica_rank))
        return self._server

    async def resume(self, tags: list[str]) -> None:
        pass  # weights never leave CPU memory

    async def release(self) -> None:
        pass

    async def update_weights(
        self,
        weights: Generator[tuple[str, torch.Tensor], None, None],
        global_steps: Optional[int] = None,
        wire_format: str = "named_tensors",
        peft_config: Any = None,
        base_sync_done: bool = False,
        **kwargs: Any,
    ) -> None:
        """Full weights (``peft_config=None``), or verl's LoRA adapter mode: the base once (``base_sync_done=False``),
        then only ``lora_A`` / ``lora_B`` every step, which the server merges exactly (``verl_score.contracts.lora``)."""
        if wire_format != "named_tensors":
            raise NotImplementedError(f"hfcpu accepts full named tensors only, not {wire_format!r}")
        # Streamed in chunks of WEIGHT_CHUNK_BYTES: the old way (one dict of every tensor) held three extra copies of
        # the model at once (the actor's dict, Ray's object store, the server's deserialised dict), 1.6 GB for
        # SmolLM2-135M at the step's memory peak. The server holds decoding from begin to end.
        # Every rank must drain the generator: full_tensor() on a DTensor is a collective.
        server = self._server_handle() if self.rollout_rank == 0 else None
        if server is not None:
            await server.begin_weight_update.remote(peft_config, base_sync_done=bool(base_sync_done))
        ok = False
        try:
            chunk: dict[str, torch.Tensor] = {}
            size = 0
            for name, tensor in weights:
                if hasattr(tensor, "full_tensor"):
                    tensor = tensor.full_tensor()
                if server is None:
                    continue
                chunk[name] = tensor.detach().to("cpu", torch.float32).clone()
                size += chunk[name].numel() * 4
                if size >= WEIGHT_CHUNK_BYTES:
                    await server.load_weight_chunk.remote(chunk)
                    chunk, size = {}, 0
            if server is not None and chunk:
                await server.load_weight_chunk.remote(chunk)
            ok = True
        finally:
            if server is not None:
                await server.end_weight_update.remote(global_steps, check=ok)


def check_rollout_lora(model: torch.nn.Module, config: RolloutConfig, model_config: HFModelConfig) -> Any:
    """Start-up check of a LoRA run on the hfcpu rollout, against the model it really serves (every trainer mode
    passes here): the rank and target modules fit the model, and in adapter mode the actor will send the base
    weights (``rollout.load_format=dummy``, no ``layered_summon``). Returns the :class:`LoraSpec` or None."""
    rank = lora_rank_of(model_config)
    if rank <= 0:
        return None
    spec = lora_spec(model, model_lora_config(model_config))
    if model_config.lora.get("merge", False) and rollout_dtype(config.dtype) == torch.float32:
        logger.warning(
            "LoRA with actor_rollout_ref.model.lora.merge=True on an fp32 hfcpu rollout: verl casts the merged weights "
            "to bf16 before sending them (FSDPEngine._merged_lora_per_tensor_param), so the rollout serves bf16-rounded "
            "weights and small adapter updates vanish (docs/cpu.md, LoRA). Fix for exact weights: "
            "actor_rollout_ref.model.lora.merge=False (adapter mode, the launchers' default)"
        )
    if not model_config.lora.get("merge", False):
        if "dummy" not in str(config.load_format):
            raise ValueError(
                f"actor_rollout_ref.rollout.load_format={config.load_format!r} with LoRA in adapter mode: verl then "
                "never sends the base weights, and hfcpu merges each adapter into the exact fp32 base it received. "
                "Fix: actor_rollout_ref.rollout.load_format=dummy (the default)"
            )
        if config.layered_summon:
            raise ValueError(
                "actor_rollout_ref.rollout.layered_summon=True needs a base model preloaded by the rollout; hfcpu "
                "takes the base from the actor. Fix: actor_rollout_ref.rollout.layered_summon=False"
            )
    return spec


def _load_replica() -> type[RolloutReplica]:
    return HFCpuReplica


def register_hfcpu_rollout() -> None:
    """Make ``actor_rollout_ref.rollout.name=hfcpu`` resolvable, exactly as verl registers SGLang and vLLM."""
    from verl.workers.rollout import base as rollout_base
    from verl.workers.rollout.replica import RolloutReplicaRegistry

    RolloutReplicaRegistry.register(ROLLOUT_NAME, _load_replica)
    # verl keeps the worker-side adapters in a module-level dict; its extend guide documents adding to it.
    rollout_base._ROLLOUT_REGISTRY[(ROLLOUT_NAME, "async")] = f"{__name__}.HFCpuServerAdapter"
