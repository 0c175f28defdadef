"""Exception classes of the gis package.

Every message names what was wrong (the file, layer or argument), what was expected and
what was found, and how to fix it, so that the app can show it to a user as it is.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

log = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable[..., object])


class GisError(ValueError):
    """Base class of every error the app shows to the user as a message.

    ``key`` and ``params`` let the interface show the message in the user's language
    (layers/i18n.py holds a template per key); the English text is the exception's own.
    """

    def __init__(self, message: str, *, key: str | None = None, **params: object) -> None:
        super().__init__(message)
        self.key = key
        self.params = params


class InputError(GisError):
    """A file or layer the user gave cannot be used as it is."""


class SettingsError(GisError):
    """The settings file is missing a key or holds a value of the wrong kind."""


class EmptyInputError(InputError):
    """A layer or network has no usable features."""


class CRSMismatchError(GisError):
    """Inputs to a measuring function are not projected or not in one CRS."""


class NoReachableFacilityError(GisError):
    """No facility of a category lies within reach of the walking network."""


class Msg(str):
    """An English message that also carries a key and parameters for translation.

    It is a plain ``str`` (the English text) everywhere; the interface may show
    ``TEXT["msg_" + key]`` formatted with ``params`` instead.
    """

    key: str
    params: dict[str, object]

    def __new__(cls, text: str, key: str, **params: object) -> Msg:
        obj = super().__new__(cls, text)
        obj.key = key
        obj.params = params
        return obj


def guard_input(what: str, fix: str) -> Callable[[F], F]:
    """Make any exception a loader raises on a user's file the project's clear message.

    Parsers and GEOS raise their own kinds on a malformed file (protobuf DecodeError,
    GEOSException, pandas ParserError, AttributeError on a number where text was
    expected, RecursionError, MemoryError): the wrapped loader raises :class:`InputError`
    naming the file (its first argument), what it should have been (``what``) and the
    fix, with the original exception chained and logged for developers. The project's
    own :class:`GisError` passes unchanged.

    Parameters
    ----------
    what
        What the file should have been ("a facilities layer").
    fix
        What the user should do about it.

    Returns
    -------
    Callable
        A decorator for a loader whose first argument is the file's path.

    Examples
    --------
    >>> @guard_input("a facilities layer", "save it again as GeoPackage or GeoJSON")
    ... def read(path):
    ...     return int("not a number")
    >>> read("shops.geojson")
    Traceback (most recent call last):
    ...
    gis._errors.InputError: shops.geojson: cannot be read as a facilities layer (ValueError: ...
    """
    def decorate(fn: F) -> F:
        @functools.wraps(fn)
        def guarded(*args: object, **kwargs: object) -> object:
            try:
                return fn(*args, **kwargs)
            except GisError:
                raise
            except Exception as err:  # noqa: BLE001 - the point of the guard
                source = args[0] if args else kwargs.get("path", kwargs.get("source", ""))
                name = Path(str(source)).name or str(source)
                detail = " ".join(str(err).split())[:160] or "no detail"
                # For developers (logging at DEBUG): the user sees the message only.
                log.debug("input refused: %s (%s)", name, type(err).__name__, exc_info=True)
                msg = (f"{name}: cannot be read as {what} ({type(err).__name__}: {detail}); "
                       f"{fix}.")
                raise InputError(msg, key="unreadable", where=name, what=what,
                                 detail=f"{type(err).__name__}: {detail}") from err
        return guarded  # type: ignore[return-value]
    return decorate
