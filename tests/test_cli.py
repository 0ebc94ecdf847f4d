import subprocess
import sys


from tests.conftest import ROOT

COMMANDS = ["connector", "collect", "convert", "audit", "mm", "obi-mm", "health", "sim", "tui"]


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hftctl", *args], capture_output=True, text=True,
                          timeout=60, cwd=ROOT, stdin=subprocess.DEVNULL)


def test_help_lists_every_subcommand():
    out = run_cli("--help")
    assert out.returncode == 0, out.stderr
    for name in COMMANDS:
        assert f" {name} " in out.stdout, name


def test_cli_imports_no_machinery_until_a_command_runs():
    """Each command imports what it needs when it runs: a `hftctl health --json` in a script loop
    must not load the network stack, numpy and the TUI first."""
    code = ("import sys, hftctl.cli; "
            "print(' '.join(m for m in ('aiohttp', 'textual', 'trogon', 'numpy', 'orjson', 'posix_ipc') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == ""


def test_tui_opens_and_lists_the_commands():
    """`hftctl tui` in a real pseudo-terminal: trogon renders the command tree (it needs typer's
    click to be the real click, see pyproject.toml), no traceback."""
    import os
    import pty
    import select
    import signal
    import time

    pid, fd = pty.fork()
    if pid == 0:                                     # child: the TUI on the pty
        os.chdir(ROOT)
        os.environ.update(TERM="xterm-256color", COLUMNS="120", LINES="40")
        os.execv(sys.executable, [sys.executable, "-m", "hftctl", "tui"])
    out = b""
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not (b"obi-mm" in out and b"connector" in out):
            ready, _, _ = select.select([fd], [], [], 0.5)
            if ready:
                try:
                    out += os.read(fd, 1 << 16)
                except OSError:                      # the child exited: pty closed
                    break
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        os.close(fd)
    assert b"Traceback" not in out, out[-2000:]
    assert b"obi-mm" in out and b"connector" in out
