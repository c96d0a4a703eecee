"""verl-score: SCoRe self-correction training as plug-ins of stock verl 0.9.1.

Importing this package is cheap and registers nothing; ``verl_score.register`` wires every plug-in into verl's
registries and is what ``VERL_USE_EXTERNAL_MODULES`` names, so it runs in every Ray worker.
"""

__version__ = "0.1.0"
