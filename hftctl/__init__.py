"""hftctl: live trading, recording and conversion tools around hftbacktest, in Python."""

__version__ = "0.1.0"
