import subprocess
import sys

import pytest

from tests.conftest import ROOT

COMMANDS = ["connector", "collect", "convert", "mm", "obi-mm", "health", "sim", "tui"]


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hftctl", *args], capture_output=True, text=True,
                          timeout=60, cwd=ROOT, stdin=subprocess.DEVNULL)


def test_help_lists_every_subcommand():
    out = run_cli("--help")
    assert out.returncode == 0, out.stderr
    for name in COMMANDS:
        assert f" {name} " in out.stdout, name
