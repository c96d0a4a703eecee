"""Test instruments shared by ``tests/`` and ``benchmarks/``: scripted servers, corpora, the tiny-model fixtures.

Why a package of its own: benchmarks measure what the tests check, on the same instruments, and must not import the
test suite to get them (``tests/test_import_graph.py`` refuses that). It lives in the repository, not in the
``verl_score`` wheel: it holds corpora and data files, and builds fixtures through ``data_preprocess``.

``fault_server`` (a scripted OpenAI-compatible server with injected faults), ``llamacpp_server`` (a real llama.cpp
server on the SmolLM2 asset), ``scripted_teacher`` (the MPS student/teacher replies), ``verdict_corpus`` and
``math_corpus`` (labelled texts of the verdict screen and the math reward; ``data/``), ``first_token_reward`` (a
learnable stand-in reward), ``tiny_chat_model`` (the Stage I behaviour model) and ``actor`` (verl's actor config as
the worker builds it).
"""
