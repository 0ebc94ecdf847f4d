"""User-facing errors: raised by the library, printed by the CLI as one line and a non-zero exit."""


class HftctlError(Exception):
    """An error whose message is meant for the user as is (no traceback)."""

    exit_code = 1
