"""``python -m verl_score.eval``: see ``verl_score.eval.cli``."""

import sys

from verl_score.eval.cli import cli

if __name__ == "__main__":
    sys.exit(cli())
