"""The self-correction study (issue #25): units of (arm, seed), their per-problem held-out dumps, and the analysis that
recomputes every table from those dumps alone.

* :mod:`verl_score.study.units` -- where a unit's files live, its configuration fingerprint, skip / refuse, atomic
  commit (a killed unit leaves nothing the analysis reads).
* :mod:`verl_score.study.grading` -- both graders (``anchored`` and the format-agnostic ``math_verify``) on an
  attempt's text, and the per-problem dump record.
* :mod:`verl_score.study.analysis` -- the study's statistics (per arm, attempt, family; paired differences; problem
  bootstrap pooled over seeds) and their markdown.

The task (canonical-group split) is built by ``data_preprocess/study_task.py`` (the converter's code; the package
does not import ``data_preprocess``), the units are run by ``scripts/experiments/study.py`` and the tables by
``scripts/experiments/study_analysis.py``.
"""
