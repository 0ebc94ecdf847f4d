"""The sim's listenKeys: Binance's user-data sessions, created, kept alive and expired by REST.

USD-M (user-data-streams "Start User Data Stream"): a POST for an account that already has a
live key returns that key and extends it; keys lapse 60 minutes after the last keepalive and the
stream then sends ``listenKeyExpired``. The engine knows nothing of this: it is how Binance
authorises a user-data websocket, so it lives with the Binance adapter.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

from hftctl.sim.accounts import Account


class ListenKeys:
    def __init__(self, ttl_s: float) -> None:
        self.ttl_s = ttl_s
        self.owner: dict[str, Account] = {}
        self.expiry: dict[str, float] = {}              # key -> monotonic deadline
        self.on_expired: list[Callable[[Account, str], None]] = []

    def create(self, account: Account, now_s: float) -> str:
        """The account's live key (extended), or a new one."""
        for key, acct in self.owner.items():
            if acct is account and self.expiry[key] > now_s:
                self.expiry[key] = now_s + self.ttl_s
                return key
        key = secrets.token_urlsafe(48).replace("-", "a").replace("_", "b")[:64]
        self.owner[key] = account
        self.expiry[key] = now_s + self.ttl_s
        return key

    def keepalive(self, key: str, account: Account, now_s: float) -> bool:
        if self.owner.get(key) is not account or self.expiry.get(key, 0) <= now_s:
            return False
        self.expiry[key] = now_s + self.ttl_s
        return True

    def live(self, account: Account, now_s: float) -> list[str]:
        return [k for k, a in self.owner.items() if a is account and self.expiry[k] > now_s]

    def account(self, key: str, now_s: float) -> Account | None:
        """The owner of a key that is still alive."""
        if self.expiry.get(key, 0) <= now_s:
            return None
        return self.owner.get(key)

    def close(self, key: str) -> bool:
        self.expiry.pop(key, None)
        return self.owner.pop(key, None) is not None

    def expire(self, now_s: float, only: str | None = None, everything: bool = False) -> list[str]:
        """Expire keys past their deadline (or ``only``, or all) and tell the listeners."""
        out = []
        for key in list(self.owner):
            if everything or key == only or (only is None and self.expiry[key] <= now_s):
                account = self.owner.pop(key)
                self.expiry.pop(key, None)
                out.append(key)
                for fn in self.on_expired:
                    fn(account, key)
        return out
