"""Evaluation of self-correction checkpoints: K-attempt inference (``python -m verl_score.eval``), the paper's
metrics table (``report``), and plots (``python -m verl_score.eval.plots``).

Modules: ``data`` (parquet rows), ``engines`` (OpenAI-compatible endpoint / local transformers via the real agent
loop), ``runner`` (episodes, scoring, failure accounting), ``report`` (aggregation, majority vote, markdown),
``plots`` (training history, edit-distance histograms, transition chart), ``cli``.
"""
