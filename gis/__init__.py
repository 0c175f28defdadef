"""Pure computation of the service-circle tool: sources, network, coverage.

Nothing in this package imports streamlit or folium.
"""

from __future__ import annotations

from gis._errors import (
    CRSMismatchError,
    EmptyInputError,
    GisError,
    InputError,
    NoReachableFacilityError,
    SettingsError,
)

__all__ = [
    "CRSMismatchError",
    "EmptyInputError",
    "GisError",
    "InputError",
    "NoReachableFacilityError",
    "SettingsError",
]
