"""Which orders a connector may touch, and one connector per account and order prefix per host.

Every client order id carries a 6-character instance tag (``connector/routing.py``): 4 characters
hashed from this host's name and the connector's NAME, then 2 from the start time (seconds,
base 36, so a restart takes new ids; should a run part repeat after 21 minutes, the repeat is
harmless: a run cancels the orphans of earlier runs before it serves a bot). That is what lets
orphan handling prove ownership instead of guessing from the prefix:

- same tag: this instance's own order;
- same first 4, another run part: an earlier run of this connector NAME on this host. A live one would
  hold NAME's shared-memory channels, which this process holds, so that run is gone: its orders
  are orphans;
- anything else with our prefix (another NAME, another host, an id from before tags): someone
  else's, never cancelled by orphan handling.

Two connectors on one account with one prefix on this host are refused (an exclusive lock on a
file named by the account and prefix, released by the kernel when the holder dies). Every
connector also holds a shared lock on the account's own file; at stop, only one that can take
that lock exclusively (no other hftctl connector of this host uses the account) deletes the
account's user-data session (Binance's listenKey is one per account: deleting it cuts the user
stream of every session using it). The lock files live next to the status files and go with a
clean stop (a lock is taken only on the file still at its path, so removing one is safe).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import socket
import time
from collections.abc import Iterable
from pathlib import Path

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
        d = status_dir()
        self._prefix_path = d / f"account.{account}.{prefix}.lock"
        self._account_path = d / f"account.{account}.lock"
        self._sole = False
        try:
            d.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = _lock(self._prefix_path, fcntl.LOCK_EX)
            if isinstance(fd, str):
                raise HftctlError(
                    f"another connector{fd} already trades this account with order_prefix "
                    f"'{prefix}' on this host; stop it, or give this one another order_prefix "
                    f"(two connectors with one prefix would take each other's orders for their own)")
            self._prefix_fd = fd
        except OSError as e:
            raise HftctlError(f"cannot claim the account in {d}: {e}") from None
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps({"connector": connector, "pid": os.getpid()}).encode(), 0)
            # Shared with the account's other connectors; busy only for a moment, while the last
            # user of a previous session removes the file on its way out.
            deadline = time.monotonic() + 5
            while isinstance(acc := _lock(self._account_path, fcntl.LOCK_SH), str):
                if time.monotonic() > deadline:
                    raise HftctlError(f"the account's lock {self._account_path} stays busy")
                time.sleep(0.05)
            self._account_fd = acc
        except BaseException as e:
            self._prefix_path.unlink(missing_ok=True)
            os.close(fd)
            if isinstance(e, OSError):
                raise HftctlError(f"cannot claim the account in {d}: {e}") from None
            raise

    def sole_user(self) -> bool:
        """True if no other hftctl connector of this host uses the account (call at stop: on
        success this connector keeps the account's lock exclusively until it releases it)."""
        try:
            fcntl.flock(self._account_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            self._sole = True
        except BlockingIOError:
            self._sole = False
        return self._sole

    def release(self) -> None:
        """Remove the files this claim alone holds, then let go (unlink before close: a waiting
        claimant then finds its locked file gone from the path and takes the new one)."""
        for path, fd, mine in ((self._prefix_path, self._prefix_fd, True),
                               (self._account_path, self._account_fd, self._sole)):
            try:
                if mine:
                    path.unlink()
            except OSError:
                pass
            os.close(fd)


def _lock(path: Path, how: int) -> int | str:
    """An fd holding ``how`` (LOCK_EX/LOCK_SH) on the file now at ``path``, or, if someone else
    holds it, a description of the holder (" ('bf', pid 123)", or "")."""
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, how | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(fd)
            os.close(fd)
            return holder
        try:
            if os.fstat(fd).st_ino == os.stat(path).st_ino:
                return fd
        except FileNotFoundError:
            pass
        os.close(fd)        # removed (and maybe re-created) by its last holder: take the new one


def _holder(fd: int) -> str:
    try:
        info = json.loads(os.pread(fd, 4096, 0) or b"{}")
        return f" ('{info['connector']}', pid {info['pid']})"
    except (OSError, ValueError, KeyError, TypeError):
        return ""

