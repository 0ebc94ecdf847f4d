"""What `hftctl audit` reads from Binance spot recordings."""

from hftctl.exchanges.binance.common.audit import BinanceAudit
from hftctl.exchanges.binance.spot.collector import PROTOCOL
from hftctl.exchanges.binance.spot.convert import MAPPER

AUDIT = BinanceAudit(PROTOCOL, MAPPER)
