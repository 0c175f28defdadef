"""Exception classes of the gis package.

Every message names what was wrong (the file, layer or argument), what was expected and
what was found, and how to fix it, so that the app can show it to a user as it is.
"""

from __future__ import annotations


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
