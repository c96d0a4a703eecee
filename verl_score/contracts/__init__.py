"""Contracts shared by several sub-packages, kept below all of them so no two sub-packages import each other.

``steps``: the CodeAct step format (written by the teacher's data generation, read by the agent loop, the
converter and the key-step reward). ``guidance``: what an instruction provider returns and the registry the agent
loop picks providers from (the static provider lives in ``episodes``, SMART in ``teacher``).

``keys``: the string keys that cross the episode -> reward -> trainer boundary.

Nothing here imports another part of verl_score except the leaf ``verl_score.registry``; ``tests/test_import_graph.py``
keeps the layers acyclic.
"""
