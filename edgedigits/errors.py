"""The error type for everything a user can get wrong."""


class EdgeDigitsError(Exception):
    """An expected failure: the CLI prints its message on one line and exits non-zero."""
