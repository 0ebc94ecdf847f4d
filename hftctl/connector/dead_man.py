"""The dead man's switch: who cancels the bots' orders if this connector is killed.

A SIGKILLed (or crashed, or frozen) connector cannot cancel anything. Where the exchange offers
cancel-on-disconnect (``ExchangeClient.dead_man_mechanism``: Binance USD-M countdownCancelAll,
Bybit DCP) the switch arms it for the symbols the bots trade and refreshes it every third of
``dead_man_window_s``, so the exchange cancels them within the window of the connector's last
sign of life. Where there is none (Binance spot) or the exchange refuses it for the account,
``dead_man_fallback = "guardian"`` starts the guardian (connector/guardian.py), a process that
outlives the connector and cancels the connector's own orders when it dies; ``"none"`` leaves
them resting.

A failing refresh is retried every period and reported (log, ``hftctl health``), never fatal:
the connector keeps trading; the exchange may then cancel the orders, which the bots hear of
as for any cancel.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from hftctl.connector.guardian import Start
from hftctl.connector.guardian_link import GuardianLink
from hftctl.connector.settings import ConnectorSettings
from hftctl.exchanges.base import ExchangeClient
from hftctl.exchanges.errors import NotSupported

log = logging.getLogger("hftctl.connector")

GUARDIAN = "guardian"
# states (status file, `hftctl health`, ConnectorStatus.dead_man_state)
STARTING, ARMED, FAILING, OFF, UNPROTECTED = "starting", "armed", "failing", "off", "unprotected"


class DeadManSwitch:
    def __init__(self, exchange: ExchangeClient, settings: ConnectorSettings,
                 traded: Callable[[], set[str]], guardian: Start | None = None) -> None:
        self.exchange = exchange
        self.window_s = settings.dead_man_window_s
        self.fallback = settings.dead_man_fallback
        self.traded = traded                  # the symbols the bots trade, now
        self.guardian = guardian              # what a guardian needs (None: none can be started)
        self.link: GuardianLink | None = None
        self.mechanism = ""                   # the exchange's mechanism, GUARDIAN, or "" (nothing)
        self.state = STARTING if self.window_s > 0 else OFF
        self.armed: set[str] = set()          # symbols the exchange's timer may be running for
        self.last_refresh: float | None = None   # unix time of the last successful refresh
        self.error = ""
        self._lock = asyncio.Lock()
        self._task: asyncio.Task | None = None

    @property
    def interval_s(self) -> float:
        return self.window_s / 3

    # --- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        """Arm the exchange's mechanism (or the fallback) and keep it armed; one log line says which."""
        if self.state == OFF:
            log.info("Dead man's switch off (dead_man_window_s = 0): a killed connector leaves its orders "
                     "at the exchange")
            return
        why = f"{self.exchange.name} documents no exchange-side cancel-on-disconnect"
        if self.exchange.dead_man_mechanism:
            self.mechanism = self.exchange.dead_man_mechanism
            try:
                await self._refresh()
            except NotSupported as e:
                why = str(e)
                self.mechanism = ""
        if not self.mechanism:
            await self._fall_back(why)
        if self.state == UNPROTECTED:
            return
        self._task = asyncio.get_running_loop().create_task(self._run())
        if self.mechanism == GUARDIAN:
            what = (f"guardian process{f' (pid {self.link.pid})' if self.state == ARMED and self.link else ''} "
                    f"cancels this connector's orders if it is killed ({why})")
        else:
            what = (f"{self.mechanism} on every symbol the bots trade, window {self.window_s:.1f}s, "
                    f"refreshed every {self.interval_s:.1f}s")
        log.info("Dead man's switch: %s%s", what, "" if self.state == ARMED else " (not working yet, retrying)")

    async def cover(self, symbol: str) -> None:
        """A bot registered ``symbol``: have it covered before the bot can quote (errors are the
        refresh loop's to report)."""
        if self.state in (OFF, UNPROTECTED, STARTING):
            return
        covered = self.link.symbols if self.mechanism == GUARDIAN and self.link else self.armed
        if symbol not in (covered or ()):
            await self._refresh_quietly()

    async def stop(self, orders_left: bool, all_cancelled: bool) -> None:
        """A clean stop. ``orders_left``: cancel_on_stop leaves the orders resting on purpose, so
        the exchange must not cancel them: disarm. Else disarm once the connector's own cancels
        all went through; if some failed, the exchange's timer stays armed and cancels the rest."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        async with self._lock:
            if self.mechanism == GUARDIAN and self.link is not None:
                if orders_left or all_cancelled:
                    await self.link.stop()
                else:
                    log.warning("some orders may still be open: the guardian tries once more to cancel them")
                    self.link.release()
            elif self.mechanism and self.armed:
                if not (orders_left or all_cancelled):
                    log.warning("some orders may still be open: %s stays armed, the exchange cancels every "
                                "open order on %s within %.1fs", self.mechanism, ", ".join(sorted(self.armed)),
                                self.window_s)
                    return
                try:
                    await asyncio.wait_for(self.exchange.disarm_dead_man(sorted(self.armed)), 10)
                    log.info("%s disarmed on %s", self.mechanism, ", ".join(sorted(self.armed)))
                    self.armed = set()
                except Exception as e:
                    log.error("disarming %s failed (%s): the exchange cancels every open order on %s "
                              "within %.1fs", self.mechanism, e, ", ".join(sorted(self.armed)), self.window_s)

    # --- refreshing ---------------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                await self._refresh_quietly()
            except Exception as e:         # never let the switch take the connector down
                log.error("dead man's switch: %r", e, exc_info=e)

    async def _refresh_quietly(self) -> None:
        """A refresh where the exchange's refusal moves to the fallback instead of raising."""
        try:
            await self._refresh()
        except NotSupported as e:
            log.warning("%s refused (%s): falling back to dead_man_fallback = %r", self.mechanism, e,
                        self.fallback)
            self.armed = set()
            await self._fall_back(str(e))

    async def _refresh(self) -> None:
        """Arm the mechanism for the traded symbols now (and disarm the ones no longer traded)."""
        async with self._lock:
            want = self.traded()
            try:
                if self.mechanism == GUARDIAN:
                    await self._keep_guardian(want)
                else:
                    await self._disarm_gone(sorted(self.armed - want))
                    await self.exchange.arm_dead_man(sorted(want), self.window_s)
                    self.armed |= want
            except NotSupported:
                raise
            except Exception as e:
                self._failed(e)
                return
            if self.state == FAILING:
                log.info("dead man's switch %s working again", self.mechanism)
            self.state, self.error, self.last_refresh = ARMED, "", time.time()

    async def _disarm_gone(self, gone: list[str]) -> None:
        """No bot trades these any more: the exchange must not cancel whatever else rests there.
        A failure is retried at the next refresh and does not hold up the arming of the rest."""
        if not gone:
            return
        try:
            await self.exchange.disarm_dead_man(gone)
            self.armed -= set(gone)
        except NotSupported:
            raise
        except Exception as e:
            log.warning("disarming %s on %s failed (%s); retrying in %.1fs", self.mechanism, ", ".join(gone),
                        e, self.interval_s)

    def _failed(self, e: Exception) -> None:
        self.state, self.error = FAILING, str(e) or type(e).__name__
        age = f"last refreshed {time.time() - self.last_refresh:.1f}s ago" if self.last_refresh else "never armed"
        log.warning("dead man's switch %s failing (%s): %s; retrying in %.1fs", self.mechanism or "", age,
                    self.error, self.interval_s)

    async def _keep_guardian(self, want: set[str]) -> None:
        assert self.guardian is not None
        if self.link is None or not self.link.alive():
            if self.link is not None:
                log.warning("guardian pid %s exited (status %s); starting another", self.link.pid,
                            self.link.exit_code())
            self.link = GuardianLink(self.guardian)
            await self.link.launch()
        self.link.tell_symbols(want)

    async def _fall_back(self, why: str) -> None:
        if self.fallback == GUARDIAN and self.guardian is not None:
            self.mechanism = GUARDIAN
            await self._refresh()
            return
        self.mechanism, self.state = "", UNPROTECTED
        log.warning("No dead man's switch: %s, and dead_man_fallback = \"none\": if this connector is "
                    "killed its orders stay at the exchange", why)

    # --- status -------------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """For the status file (`hftctl health`)."""
        symbols = (self.link.symbols or []) if self.mechanism == GUARDIAN and self.link else sorted(self.armed)
        return {"mechanism": self.mechanism, "state": self.state, "window_s": self.window_s,
                "symbols": symbols, "last_refresh": self.last_refresh, "error": self.error,
                "guardian_pid": self.link.pid if self.mechanism == GUARDIAN and self.link else None}
