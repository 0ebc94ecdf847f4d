"""HFTCTL_REQUIRE_SHARED / HFTCTL_REQUIRE_HFTBACKTEST turn the suite's skips for missing shared
data or a missing hftbacktest into failures (CI sets both in .ci/run). Checked by running pytest
on one real test of each kind in a subprocess, without the dependency, with and without the
setting."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT

SHARED_TEST = "tests/test_convert.py::test_detects_exchange"                      # needs ../shared
HBT_TEST = "tests/test_convert.py::test_event_flags_match_hftbacktest"           # needs hftbacktest
HBT_MODULE_TEST = "tests/test_backtest_hftbacktest.py"                           # imports it at module level


def run_pytest(test: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith("HFTCTL_REQUIRE_")}
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-rsfE", "-p", "no:cacheprovider", test],
                          env={**base, **env}, cwd=ROOT, capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL)


def no_hftbacktest(tmp_path) -> dict[str, str]:
    """A PYTHONPATH whose first entry shadows hftbacktest with a package that cannot be imported."""
    pkg = tmp_path / "hftbacktest"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("raise ImportError('hftbacktest hidden by the test')\n")
    return {"PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}


@pytest.mark.parametrize("kind", ["shared", "hftbacktest", "hftbacktest_module"])
def test_missing_dependency_skips_unless_required(tmp_path, kind):
    if kind == "shared":
        test, env, var = SHARED_TEST, {"HFTCTL_SHARED_DATA": str(tmp_path / "nowhere")}, "HFTCTL_REQUIRE_SHARED"
    else:
        test = HBT_TEST if kind == "hftbacktest" else HBT_MODULE_TEST
        env, var = no_hftbacktest(tmp_path), "HFTCTL_REQUIRE_HFTBACKTEST"
    skipped = run_pytest(test, env)
    # 5: pytest's "no tests ran" when a whole module is skipped at import
    assert skipped.returncode in (0, 5) and " skipped" in skipped.stdout and "failed" not in skipped.stdout, \
        skipped.stdout
    required = run_pytest(test, {**env, var: "1"})
    assert required.returncode != 0, required.stdout
    assert f"{var}=1 makes that a failure" in required.stdout and " skipped" not in required.stdout, required.stdout
