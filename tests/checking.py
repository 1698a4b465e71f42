"""What the Python tests share: named checks that are counted, and what a
test does when something from outside the project (the data set, a tool) is
not there: it says so, and ends "skipped" (exit 77, meson's code), except
under CI=true, where everything must be there and a skip is a failure."""
import os
import sys

failures = []
skipped = []


def check(what, ok, detail=""):
    """Prints one check's outcome, with what it saw."""
    print(("ok   " if ok else "FAIL ") + what + (f" ({detail})" if detail else ""))
    if not ok:
        failures.append(what)


def exit_status_for_skip():
    return 1 if os.environ.get("CI") == "true" else 77


def skip(why):
    """Ends the test now: nothing of it could run."""
    print("SKIP:", why)
    sys.exit(exit_status_for_skip())


def skip_part(what, why):
    """One part could not run; the rest goes on, and the test ends skipped."""
    print(f"SKIP: {what} ({why})")
    skipped.append(what)


def finish(name):
    """Ends the test with the checks' outcome."""
    if failures:
        print(f"{len(failures)} failed: " + "; ".join(failures))
        sys.exit(1)
    if skipped:
        print("every check that ran passed; skipped: " + "; ".join(skipped))
        sys.exit(exit_status_for_skip())
    print(f"all {name} checks passed")
