"""The plug-ins load in the workers of a Ray cluster started separately with `ray start`, as on a multi-node run.

Such workers inherit the environment of `ray start`, not of the launcher's shell, so ``VERL_USE_EXTERNAL_MODULES``
exported by a launcher never reached them. The launchers now pass it in the job's runtime_env
(scripts/lib/verl_entry.sh). This test starts a real head node with `ray start` from an environment WITHOUT the
variable, builds the runtime_env exactly as verl 0.9.1's ``main_ppo.run_ppo`` does from a launcher's composed
config, joins the cluster like the driver does, and asks a worker process what it has.
"""

from __future__ import annotations

import os
import pathlib
import socket
import subprocess
import sys

import pytest
from omegaconf import OmegaConf

from verl_score import config_check

REPO = pathlib.Path(__file__).resolve().parents[1]

WORKER = r"""
import json, os, sys
import ray
from omegaconf import OmegaConf
from verl.trainer.constants_ppo import get_ppo_ray_runtime_env

cfg = OmegaConf.load(sys.argv[1])
# verl 0.9.1 main_ppo.run_ppo: defaults merged with ray_kwargs.ray_init.runtime_env
runtime_env = OmegaConf.merge(get_ppo_ray_runtime_env(cfg), cfg.ray_kwargs.ray_init.get("runtime_env", {}))
ray.init(address=sys.argv[2], runtime_env=OmegaConf.to_container(runtime_env), log_to_driver=False)

@ray.remote(num_cpus=0)
def probe():
    import verl  # verl imports the modules named in VERL_USE_EXTERNAL_MODULES on import
    from verl.experimental.agent_loop.agent_loop import _agent_loop_registry
    return {"env": os.environ.get("VERL_USE_EXTERNAL_MODULES"), "pid": os.getpid(),
            "registered": "score_two_attempt" in _agent_loop_registry,
            "plugins_imported": "verl_score.register" in sys.modules}

print(json.dumps({**ray.get(probe.remote()), "driver_pid": os.getpid()}))
ray.shutdown()
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def ray_head(tmp_path):
    """A head node started by `ray start` in an environment without the plug-in variable."""
    env = {k: v for k, v in os.environ.items() if k != "VERL_USE_EXTERNAL_MODULES" and not k.startswith("RAY_")}
    env["RAY_AUTH_MODE"] = "disabled"  # a loopback test cluster; Ray 2.60's token auth is beside the point here
    port = _free_port()
    ray_bin = str(pathlib.Path(sys.executable).parent / "ray")
    tmp = pathlib.Path("/tmp") / f"ray_{port}"  # Ray's socket paths must stay short
    start = subprocess.run([ray_bin, "start", "--head", f"--port={port}", "--num-cpus=1", "--include-dashboard=false",
                            f"--temp-dir={tmp}", "--disable-usage-stats"],
                           env=env, capture_output=True, text=True, timeout=180)
    assert start.returncode == 0, start.stderr[-2000:]
    try:
        yield f"127.0.0.1:{port}", env
    finally:
        subprocess.run([ray_bin, "stop", "--force"], env={**env, "RAY_ADDRESS": f"127.0.0.1:{port}"},
                       capture_output=True, timeout=120)


def test_plugins_load_in_a_worker_of_a_ray_start_cluster(ray_head, tmp_path, assets):
    address, env = ray_head
    full = {**os.environ, "VERL_SCORE_COMPOSE_ONLY": "args", "MODEL": str(assets["tiny_qwen"]),
            "DATA_DIR": str(tmp_path / "data")}
    out = subprocess.run(["bash", "scripts/run_qwen2.5-7b_score.sh"], cwd=REPO, env=full, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    import json

    entry, *args = json.loads(out.stdout.strip().splitlines()[-1])
    cfg_path = tmp_path / "cfg.yaml"
    OmegaConf.save(config_check.compose(entry, args), cfg_path)
    probe = subprocess.run([sys.executable, "-c", WORKER, str(cfg_path), address], cwd=REPO, env=env,
                           capture_output=True, text=True, timeout=300)
    assert probe.returncode == 0, probe.stderr[-3000:]
    got = json.loads(probe.stdout.strip().splitlines()[-1])
    assert got["pid"] != got["driver_pid"]  # answered by a worker process of the cluster
    assert got["env"] == "verl_score.register"
    assert got["plugins_imported"] and got["registered"]
