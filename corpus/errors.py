"""The one error hierarchy of newsbot: every expected failure is a NewsbotError with a clear message."""

from __future__ import annotations


class NewsbotError(Exception):
    """Base of every error newsbot expects and reports as one clear line."""

    exit_code = 1


class ConfigError(NewsbotError):
    """A setting is missing or invalid."""

    exit_code = 2


class InputError(NewsbotError):
    """Bad user input: a path, a question, a date, a file that cannot be read."""

    exit_code = 2


class StoreError(NewsbotError):
    """The article store cannot be opened or written."""


class IndexMismatchError(NewsbotError):
    """The saved index was built with other settings (model, dimension, chunking)."""


class IndexBusyError(NewsbotError):
    """A rebuild is already running."""


class FetchError(NewsbotError):
    """A feed or page could not be fetched or parsed."""


class AnswerModelError(NewsbotError):
    """The answer model timed out, failed, or replied with something that is not a chat completion."""


class UnreachableError(NewsbotError):
    """A service newsbot needs (the Telegram Bot API) cannot be reached."""


class PartialFailure(NewsbotError):
    """Some of the work failed while the rest succeeded (feeds, digest deliveries); the summary says which."""

    exit_code = 3
