"""Binance COIN-M futures (dapi/dstream): collect, convert, audit and the sim's public side."""
