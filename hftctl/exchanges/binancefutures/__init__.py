"""Binance USD-M futures: REST, market/user streams, book sync and order mapping for the connector."""
