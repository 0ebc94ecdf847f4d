"""Bot API with live, dry-run and backtest back-ends (see docs/bots.md)."""

from hftctl.bot.api import Bot, BotError
from hftctl.bot.models import ExecutionModel
from hftctl.bot.types import BUY, FOK, GTC, GTX, IOC, LIMIT, MARKET, SELL, Instrument, Order, TradeTick

__all__ = ["Bot", "BotError", "ExecutionModel", "Instrument", "Order", "TradeTick",
           "BUY", "SELL", "GTC", "GTX", "IOC", "FOK", "LIMIT", "MARKET"]
