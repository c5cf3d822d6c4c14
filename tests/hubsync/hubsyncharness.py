# SPDX-License-Identifier: LGPL-2.1-or-later
"""What the tests of provision-syncd's hub source (tests/hubsync/test-*.py) share: running named
cases with PASS/FAIL lines, and the end of a run (the summary line, the temporary directory kept
on failure). The hub and the host world come from tests/hub/hubharness.py, used read-only."""

import shutil

from hubharness import Failure  # noqa: F401  (the callers put tests/hub on sys.path)


class Cases:
    def __init__(self):
        self.passed = self.failed = 0

    def run(self, name, fn, detail=lambda: "", stop=False):
        """Runs fn; a Failure is a FAIL line with detail() after it, and is raised again when
        stop is set (cases that build on each other)."""
        try:
            fn()
        except Failure as e:
            print(f"FAIL: {name}: {e}" + (f"\n{detail()}" if detail else ""))
            self.failed += 1
            if stop:
                raise
            return
        print(f"PASS: {name}")
        self.passed += 1

    def finish(self, tmp, keep=False):
        """Removes tmp unless kept or something failed; prints the summary; the exit code."""
        if keep or self.failed:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
        print(f"{self.passed} passed, {self.failed} failed, 0 skipped")
        return 1 if self.failed else 0
