"""Shared fixtures: hand-made networks in a metric CRS with known answers."""

from __future__ import annotations

import os
from pathlib import Path

import geopandas as gpd
import hypothesis
import pytest
from shapely.geometry import LineString, Point

from gis.network.access import Access, build_access
from gis.network.compounds import Compounds
from gis.network.graph import WalkNetwork, network_from_streets
from gis.settings import Settings, load_settings

UTM = "EPSG:32633"

# Under CI the property-based tests replay a fixed set of examples, so a run is
# reproducible; on a developer's machine they explore new examples every time.
hypothesis.settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    hypothesis.settings.load_profile("ci")
ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("SHARED_DATA", ROOT.parent / "shared" / "data"))


def streets(*lines: list[tuple[float, float]]) -> gpd.GeoDataFrame:
    """Return street lines in EPSG:32633 from lists of (x, y) vertices."""
    return gpd.GeoDataFrame(geometry=[LineString(c) for c in lines], crs=UTM)


def points(rows: list[tuple[float, float]], **columns: list[object]) -> gpd.GeoDataFrame:
    """Return points in EPSG:32633 with the given attribute columns."""
    return gpd.GeoDataFrame(columns, geometry=[Point(xy) for xy in rows], crs=UTM)


def access_of(network: WalkNetwork, homes: gpd.GeoDataFrame, settings: Settings, *,
              snap_max_m: float | None = None, compounds: Compounds | None = None,
              night: bool = False) -> Access:
    """Return the access model of ``homes`` (snap limit from the settings by default)."""
    return build_access(network, homes,
                        snap_max_m=settings.snap_max_m if snap_max_m is None else snap_max_m,
                        compounds=compounds, night=night)


@pytest.fixture(scope="session")
def settings() -> Settings:
    """The project's settings: adult 80 m/min, 10 minutes, snap limit 250 m."""
    return load_settings()


@pytest.fixture
def straight_street() -> WalkNetwork:
    """One 2 km street along the x axis, in 100 m edges::

        (0,0)--(100,0)--(200,0)-- ... --(2000,0)
    """
    return network_from_streets(streets(*[[(x, 0), (x + 100, 0)] for x in range(0, 2000, 100)]))


@pytest.fixture
def diamond_graph() -> WalkNetwork:
    """Four 100 m edges around a diamond, plus a 100 m tail::

                 N (0,100)
                /        \\
        W (-100,0)        E (100,0) -- T (200,0)
                \\        /
                 S (0,-100)

    The diagonal edges are straight lines, each sqrt(2) * 100 m long.
    """
    n, e, s, w, t = (0, 100), (100, 0), (0, -100), (-100, 0), (200, 0)
    return network_from_streets(streets([w, n], [n, e], [e, s], [s, w], [e, t]))
