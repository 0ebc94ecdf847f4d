"""A local exchange simulator that speaks the exchanges' real wire protocols.

The generic engine (market source, book, matching, accounts, faults) lives here; each exchange's
REST routes and message encoding live in ``hftctl/exchanges/<exchange>/sim_*.py`` so that adding
an exchange means adding one protocol adapter, never touching the engine.
"""
