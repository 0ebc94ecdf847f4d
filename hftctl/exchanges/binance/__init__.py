"""Binance: ``common/`` holds what its markets share (REST client, streams, book sync, signing,
the sim's REST/websocket machinery); ``futures/`` (USD-M) and ``spot/`` hold only what differs."""
