"""Teacher in the loop: SMART guidance for the two-attempt episode, and Mentored Problem Solving data generation.

Modules (small on purpose): ``config`` (endpoints from YAML / ``TEACHER_API_BASE``-style env vars), ``backends``
(endpoint or policy as the guide), ``leakage`` + ``numwords`` (the answer-leak filter), ``guidance`` (the ``smart``
GuidanceProvider; importing it registers it), ``mps_schema`` (student step parser, teacher verdict, trajectory
record; the step format itself is ``verl_score.contracts.steps``), ``jsonl_writer`` (crash-safe resumable output)
and ``mps`` (the datagen runner and CLI).

Nothing is imported here eagerly: ``verl_score.register`` imports ``verl_score.teacher.guidance`` explicitly.
"""
