"""User-facing errors: every one names the thing, the cause and the fix."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class BenchbedError(Exception):
    """An error a user can act on; the CLI prints it as one line without a traceback."""

    def __init__(self, message: str, fix: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix

    def __str__(self) -> str:
        return f"{self.message} (fix: {self.fix})" if self.fix else self.message


class UnknownPluginError(BenchbedError):
    """A name that no registered plugin provides."""


class DuplicatePluginError(BenchbedError):
    """Two providers registered the same name for one kind."""


class SuiteError(BenchbedError):
    """A suite file that cannot be read or does not validate."""


class DataError(BenchbedError):
    """Missing, corrupt or inconsistent input data."""


class DataRootError(DataError):
    """BENCHBED_DATA is unset or not a folder: the shared datasets are not available here."""


class PluginOutputError(BenchbedError):
    """A plugin returned something that breaks its contract (NaN, wrong shape, wrong dtype)."""


class WeightsError(BenchbedError):
    """Missing weights file or checksum mismatch."""


class ItemTimeoutError(BenchbedError):
    """An item ran past the run's ``--timeout`` (not deterministic: a rerun may finish)."""


DETERMINISTIC = (DataError, PluginOutputError, SuiteError, UnknownPluginError)
"""Failures that a rerun of the same code on the same input repeats."""


def failure_kind(exc: BaseException) -> str:
    """``deterministic`` (the input or the plugin's contract: a rerun fails again) or
    ``transient`` (time, memory, the OS, an unexpected exception: a rerun may succeed)."""
    return "deterministic" if isinstance(exc, DETERMINISTIC) else "transient"


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """``"did you mean 'a' or 'b'?"`` for the known names close to ``name`` (case-insensitive
    matches first, then difflib's close matches), or ``""`` when none is close."""
    known = [str(k) for k in known]
    lowered = [k for k in known if k.lower() == str(name).lower()]
    close = list(dict.fromkeys(lowered + difflib.get_close_matches(str(name), known, n=3, cutoff=0.5)))
    return ("did you mean " + " or ".join(repr(c) for c in close) + "?") if close else ""
