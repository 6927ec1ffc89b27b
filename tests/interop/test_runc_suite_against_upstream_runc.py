"""The runc end-to-end suite, run against Debian's runc: what passes for pyrunc must pass for
the real runc too, or the tests check pyrunc's quirks rather than runc's behaviour. Tests of
pyrunc's own words and extensions (marked pyrunc_only) are left out of this run."""
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.root, pytest.mark.interop]

REPO = Path(__file__).resolve().parents[2]


def test_runc_e2e_suite_passes_with_upstream_runc(tmp_path):
    runc = shutil.which("runc")
    assert runc, "runc is not installed: scripts/install.sh installs Debian's runc"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--run-root", "--runtime", runc,
         "--basetemp", str(tmp_path / "inner"), "tests/e2e/runc"],
        cwd=REPO, capture_output=True, text=True, timeout=900, stdin=subprocess.DEVNULL,
    )
    summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    passed = int(summary.split(" passed")[0].split()[-1])
    assert passed >= 60, summary
