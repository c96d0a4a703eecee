"""``python -m sglang.launch_server`` stand-in: takes SGLang's flags and serves SmolLM2 with the real llama.cpp
server instead (same OpenAI-compatible ``/v1/chat/completions`` and ``/health``), so the eval script's start / wait /
eval / stop sequence runs for real without a GPU. The received argv is written to ``$FAKE_SGLANG_ARGV`` for the test.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from testkit.llamacpp_server import main as llamacpp_main, smollm2_gguf_path


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    if os.environ.get("FAKE_SGLANG_ARGV"):
        with open(os.environ["FAKE_SGLANG_ARGV"], "w") as f:
            json.dump(argv, f)
    p = argparse.ArgumentParser()
    p.add_argument("--model-path", required=True)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--tp", type=int, default=1)
    p.add_argument("--served-model-name", default="default")
    args, _ = p.parse_known_args(argv)
    llamacpp_main(["--model", str(smollm2_gguf_path()), "--port", str(args.port), "--alias", args.served_model_name,
                   "--n-ctx", "2048", "--n-parallel", "2", "--threads", "1"])


if __name__ == "__main__":
    main()
