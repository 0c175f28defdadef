"""Exception classes of the gis package.

Every message names what was wrong (the file, layer or argument), what was expected and
what was found, and how to fix it, so that the app can show it to a user as it is.
"""

from __future__ import annotations


class GisError(ValueError):
    """Base class of every error the app shows to the user as a message."""


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
