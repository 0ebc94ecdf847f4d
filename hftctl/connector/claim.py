"""Which orders a connector may touch, and one connector per account and order prefix per host.

Every client order id carries a 6-character instance tag (``connector/routing.py``): 4 characters
hashed from this host's name and the connector's NAME, then 2 counting this NAME's starts on this
host. That is what lets orphan handling prove ownership instead of guessing from the prefix:

- same tag: this instance's own order;
- same first 4, other count: an earlier run of this connector NAME on this host. A live one would
  hold NAME's shared-memory channels, which this process holds, so that run is gone: its orders
  are orphans;
- anything else with our prefix (another NAME, another host, an id from before tags): someone
  else's, never cancelled by orphan handling.

Two connectors on one account with one prefix on this host are refused (an exclusive lock on a
file named by the account and prefix, released by the kernel when the holder dies). Every
connector also holds a shared lock on the account's own file; at stop, only one that can take
that lock exclusively (no other hftctl connector of this host uses the account) deletes the
account's user-data session (Binance's listenKey is one per account: deleting it cuts the user
stream of every session using it).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import socket
from collections.abc import Iterable

from hftctl.errors import HftctlError
from hftctl.status import status_dir

log = logging.getLogger(__name__)

OWN, DEAD, OTHER, FOREIGN = "own", "dead", "other", "foreign"
_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"
HOST_CHARS, RUN_CHARS = 4, 2
TAG_LEN = HOST_CHARS + RUN_CHARS


def _base36(n: int, width: int) -> str:
    out = []
    for _ in range(width):
        n, r = divmod(n, 36)
        out.append(_DIGITS[r])
    return "".join(reversed(out))


def _digest(*parts: str) -> int:
    return int.from_bytes(hashlib.sha256("\0".join(parts).encode()).digest()[:8], "big")


def host_part(name: str, host: str | None = None) -> str:
    """This host's and connector NAME's part of the tag (stable across restarts)."""
    return _base36(_digest(host or socket.gethostname(), name), HOST_CHARS)


def next_run(name: str) -> int:
    """Count this start of connector NAME on this host (a small file next to the status files;
    call it while holding NAME's channels, so no other start of NAME races it)."""
    path = status_dir() / f".connector.{name}.runs"
    try:
        n = int(path.read_text().strip() or 0) + 1
    except (OSError, ValueError):
        n = 1
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(str(n))
        os.replace(tmp, path)
    except OSError as e:
        log.warning("cannot keep the run counter in %s (%s); using the process id", path, e)
        n = os.getpid()
    return n


def instance_tag(name: str, run: int, host: str | None = None) -> str:
    return host_part(name, host) + _base36(run, RUN_CHARS)


class Ownership:
    """Classifies client order ids by who may cancel them (see the module docstring)."""

    def __init__(self, prefix: str, tag: str) -> None:
        self.prefix = prefix
        self.tag = tag

    def of(self, tag: str | None, cid: str) -> str:
        """``tag``: the id's parsed tag (None if it is not in our format)."""
        if tag is None:
            return OTHER if cid.startswith(self.prefix + "-") else FOREIGN
        if tag == self.tag:
            return OWN
        if tag[:HOST_CHARS] == self.tag[:HOST_CHARS]:
            return DEAD
        return OTHER


def account_id(exchange: str, urls: Iterable[str], api_key: str) -> str:
    """A name for the account (exchange, where it is served, which key): never the key itself."""
    return f"{_digest(exchange, *sorted(urls), api_key):016x}"[:12]


class AccountClaim:
    """This connector's claim on (account, order prefix) on this host; see the module docstring."""

    def __init__(self, account: str, prefix: str, connector: str) -> None:
        self.account = account
        self.prefix = prefix
        d = status_dir()
        try:
            d.mkdir(mode=0o700, parents=True, exist_ok=True)
            self._prefix_fd = os.open(d / f"account.{account}.{prefix}.lock", os.O_RDWR | os.O_CREAT, 0o600)
            self._account_fd = os.open(d / f"account.{account}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as e:
            raise HftctlError(f"cannot claim the account in {d}: {e}") from None
        try:
            fcntl.flock(self._prefix_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(self._prefix_fd)
            self._close()
            raise HftctlError(
                f"another connector{holder} already trades this account with order_prefix "
                f"'{prefix}' on this host; stop it, or give this one another order_prefix "
                f"(two connectors with one prefix would take each other's orders for their own)") from None
        fcntl.flock(self._account_fd, fcntl.LOCK_SH)
        os.ftruncate(self._prefix_fd, 0)
        os.pwrite(self._prefix_fd, json.dumps({"connector": connector, "pid": os.getpid()}).encode(), 0)

    def sole_user(self) -> bool:
        """True if no other hftctl connector of this host uses the account (call at stop: on
        success this connector keeps the account's lock exclusively until it exits)."""
        try:
            fcntl.flock(self._account_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            return False

    def _close(self) -> None:
        for fd in (self._prefix_fd, self._account_fd):
            try:
                os.close(fd)
            except OSError:
                pass

    def release(self) -> None:
        self._close()


def _holder(fd: int) -> str:
    try:
        info = json.loads(os.pread(fd, 4096, 0) or b"{}")
        return f" ('{info['connector']}', pid {info['pid']})"
    except (OSError, ValueError, KeyError, TypeError):
        return ""

