"""Contracts shared by several sub-packages, kept below all of them so no two sub-packages import each other.

``steps``: the CodeAct step format (written by the teacher's data generation, read by the agent loop, the
converter and the key-step reward). ``guidance``: what an instruction provider returns and the registry the agent
loop picks providers from (the static provider lives in ``episodes``, SMART in ``teacher``).

Nothing here imports another verl_score sub-package except ``verl_score.prompts`` and ``verl_score.registry``
(leaves). ``tests/test_import_graph.py`` keeps it that way.
"""
