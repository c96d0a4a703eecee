"""A stand-in ``sglang`` package for testing ``scripts/eval_qwen2.5-7b_score.sh`` on a CPU machine (never installed;
tests put its parent folder first on ``PYTHONPATH``)."""
