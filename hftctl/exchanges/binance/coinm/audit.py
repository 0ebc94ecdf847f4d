"""What `hftctl audit` reads from Binance COIN-M recordings (USD-M's rules: ``pu`` chains)."""

from hftctl.exchanges.binance.coinm.collector import PROTOCOL
from hftctl.exchanges.binance.coinm.convert import MAPPER
from hftctl.exchanges.binance.common.audit import BinanceAudit

AUDIT = BinanceAudit(PROTOCOL, MAPPER)
