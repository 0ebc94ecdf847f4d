"""What `hftctl audit` reads from Binance USD-M (and COIN-M) futures recordings."""

from hftctl.exchanges.binance.common.audit import BinanceAudit
from hftctl.exchanges.binance.futures.collector import PROTOCOL
from hftctl.exchanges.binance.futures.convert import MAPPER

AUDIT = BinanceAudit(PROTOCOL, MAPPER)
