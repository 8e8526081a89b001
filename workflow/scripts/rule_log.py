"""The one logging convention of the rule scripts (imported by them; not a rule script itself)."""

import sys
from contextlib import contextmanager


@contextmanager
def rule_log(path, expected=()):
    """Send stdout and stderr to the rule's log, line by line.

    An ``expected`` error ends the script with ``error: <message>`` in the log; any other error
    leaves its traceback there. Snakemake prints a failed job's log on the console
    (``show-failed-logs`` in profiles/default and the SLURM profile).
    """
    log = open(path, "w", buffering=1)
    sys.stdout = sys.stderr = log
    try:
        yield
    except expected as err:
        print(f"error: {err}")
        raise SystemExit(1) from None
