"""The root of every Winback exception; each package subclasses it in its own errors.py.

This module imports nothing so core packages can depend on it without pulling in a front door.
"""


class WinbackError(Exception):
    """An error a user can act on; the CLI prints its message as one line, without a traceback."""
