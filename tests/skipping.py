"""What a Python test does when something from outside the project (the
data set, a tool) is not there: it says so, and ends "skipped" (exit 77,
meson's code), except under CI=true, where everything must be there and a
skip is a failure."""
import os
import sys


def exit_status_for_skip():
    return 1 if os.environ.get("CI") == "true" else 77


def skip(why):
    """Ends the test now: nothing of it could run."""
    print("SKIP:", why)
    sys.exit(exit_status_for_skip())
