"""What Binance's USD-M futures and spot APIs share; each market's folder adds only what differs."""
