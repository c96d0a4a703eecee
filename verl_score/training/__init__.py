"""verl plug-ins. ``import verl`` comes first on purpose.

``verl/__init__`` imports ``verl_score.register`` (``VERL_USE_EXTERNAL_MODULES``), which imports this package's
modules. When a fresh Ray worker unpickles one of our classes, it imports this package *before* verl: importing verl
here, ahead of every submodule, lets registration finish before any submodule is half-initialised (otherwise the
worker dies with a circular-import error).
"""

import verl  # noqa: F401
