"""The connector: one exchange account bridged to any number of bots over shared memory.

``run.run_connector`` is the process (CLI: ``hftctl connector``); ``service.Connector`` routes
requests and events; exchange specifics live in ``hftctl.exchanges.<exchange>``.
"""
