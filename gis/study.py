"""Assemble a study area: source data, local CRS, walking network, homes and facilities.

:func:`load_study` is the one pipeline the command line and the app share: it loads the
OSM source, replaces buildings or facilities by the user's layers where given, projects
everything once to the area's UTM zone, builds the network, estimates households and
attaches homes to the network. Everything after it (coverage, circles) is cheap.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from gis._errors import InputError, Msg, NoReachableFacilityError
from gis.access import Access, build_access
from gis.compounds import Compounds, compounds_from_osm
from gis.crs import StudyArea, choose_local_crs, looks_like_gcj02, to_local
from gis.facilities import facilities_from_osm
from gis.households import estimate_households, household_report
from gis.io import read_buildings, read_facilities
from gis.network import Snap, WalkNetwork, network_from_streets
from gis.settings import Settings
from gis.sources import load_osm

Progress = Callable[[str], None]


@dataclass(frozen=True, eq=False)
class Study:
    """A prepared study area; build with :func:`load_study`, then query many times.

    Attributes
    ----------
    name, source
        Display name and where the data came from.
    area
        Boundary (WGS-84) and the local metric CRS.
    network
        The walking network in the local CRS.
    buildings
        Every building with its household classification, local CRS.
    homes
        Residential buildings with households > 0, local CRS.
    home_snap
        Where each home attaches to the network.
    facilities
        Facilities with ``category``, local CRS.
    landuse
        Landuse polygons, local CRS.
    streets
        The walkable street lines with their ``highway`` type, local CRS (street blocks
        are cut from them).
    poi_report
        Rows of a POI export that could not be used, when facilities came from one.
    warnings
        Things the user should check (e.g. facilities that look like undeclared GCJ-02).
    """

    name: str
    source: str
    area: StudyArea
    network: WalkNetwork
    buildings: gpd.GeoDataFrame
    homes: gpd.GeoDataFrame
    home_snap: Snap
    facilities: gpd.GeoDataFrame
    landuse: gpd.GeoDataFrame
    snap_max_m: float
    streets: gpd.GeoDataFrame | None = None
    poi_report: pd.DataFrame | None = None
    warnings: tuple[str, ...] = ()
    compounds: Compounds | None = None

    def report(self) -> pd.DataFrame:
        """Return what was loaded and what was left out, as (item, value) rows."""
        too_far = ~self.home_snap.ok
        fac_snap = self.network.snap(self.facilities, max_m=self.snap_max_m)
        limit = f"{self.snap_max_m:.0f}"
        rows = [
            ("network nodes kept", "r_nodes", {}, self.network.n_nodes),
            ("network edges kept", "r_edges", {}, self.network.n_edges),
            ("network pieces in the source", "r_pieces", {}, self.network.n_components),
            ("network nodes dropped (outside the largest piece)", "r_dropped", {},
             self.network.n_dropped_nodes),
            ("buildings", "r_buildings", {}, len(self.buildings)),
            ("residential buildings", "r_homes", {}, len(self.homes)),
            ("households", "r_households", {}, int(self.homes["households"].sum())),
            (f"homes farther than {limit} m from the network (left out)", "r_homes_far",
             {"limit": limit}, int(too_far.sum())),
            ("households in homes left out", "r_households_far", {},
             int(self.homes["households"].to_numpy()[too_far].sum())),
            ("facilities", "r_facilities", {}, len(self.facilities)),
            (f"facilities farther than {limit} m from the network (left out)",
             "r_facilities_far", {"limit": limit}, int((~fac_snap.ok).sum())),
            ("walled compounds found (landuse=residential inside walls or fences)",
             "r_compounds", {}, len(self.compounds) if self.compounds is not None else 0),
            ("gates of walled compounds", "r_gates", {},
             len(self.compounds.gates) if self.compounds is not None else 0),
        ]
        return pd.DataFrame([(Msg(text, key, **params), value)
                             for text, key, params, value in rows], columns=["item", "value"])

    def access(self, *, gates: str = "off", compounds: Compounds | None = None,
               snap_max_m: float | None = None, progress: Progress | None = None) -> Access:
        """Return the access model of the study's homes: how they reach the streets.

        Parameters
        ----------
        gates
            ``"off"`` (compounds ignored), ``"day"`` (homes in walled compounds leave
            through the gates) or ``"night"`` (gates closed at night are shut too).
        compounds
            Compounds to honour instead of those found in the OSM data.
        snap_max_m
            Snap limit (default: the study's own, used for its home attachment).
        progress
            Called with a message per step.
        """
        if gates not in ("off", "day", "night"):
            msg = f"Unknown gate model {gates!r}; use off, day or night."
            raise InputError(msg)
        limit = self.snap_max_m if snap_max_m is None else float(snap_max_m)
        comp = None if gates == "off" else (compounds if compounds is not None
                                            else self.compounds)
        return build_access(self.network, self.homes, snap_max_m=limit, compounds=comp,
                            night=gates == "night",
                            home_snap=self.home_snap if limit == self.snap_max_m else None,
                            progress=progress)

    def household_report(self) -> pd.DataFrame:
        """Return buildings and households by classification rule."""
        return household_report(self.buildings)


def load_study(source: str | Path | None, settings: Settings, *,
               buildings_path: str | Path | None = None, buildings_crs: str | None = None,
               facilities_path: str | Path | None = None, facilities_crs: str | None = None,
               snap_max_m: float | None = None,
               progress: Progress | None = None) -> Study:
    """Load and prepare a study area.

    Parameters
    ----------
    source
        ``None``/``"default"`` (bundled Helsinki extract), an OSM file, or a place name.
    settings
        The settings.
    buildings_path, buildings_crs
        Optional user layer of residential buildings replacing the OSM buildings, and
        its declared coordinate system.
    facilities_path, facilities_crs
        Optional user layer of facilities replacing the OSM facilities, and its declared
        coordinate system (``gcj02`` and ``bd09`` are converted to WGS-84).
    snap_max_m
        Snap limit (default: settings).
    progress
        Called with a message at each step.

    Returns
    -------
    Study
    """
    say = progress or (lambda _m: None)
    snap_max = settings.snap_max_m if snap_max_m is None else snap_max_m
    poi_report = None
    osm = load_osm(source, settings, progress=say)
    buildings = osm.buildings
    if buildings_path is not None:
        say(f"reading buildings from {Path(buildings_path).name}")
        buildings = read_buildings(buildings_path, declared_crs=buildings_crs)
    if facilities_path is not None:
        say(f"reading facilities from {Path(facilities_path).name}")
        facilities = read_facilities(facilities_path, settings, declared_crs=facilities_crs)
        poi_report = facilities.attrs.get("poi_report")
    else:
        facilities = facilities_from_osm(osm.pois, settings)
    local_crs = choose_local_crs(osm.streets)
    say(f"projecting to {local_crs.name}")
    streets = to_local(osm.streets, local_crs)
    say("building the walking network")
    network = network_from_streets(streets)
    landuse = to_local(osm.landuse, local_crs)
    say("estimating households")
    classified = estimate_households(to_local(buildings, local_crs), settings.households,
                                     landuse=landuse)
    homes = classified[classified["residential"]]
    fac_local = to_local(facilities, local_crs)
    if facilities_path is not None and len(fac_local):
        fsnap = network.snap(fac_local, max_m=snap_max)
        if not fsnap.ok.any():
            median_km = float(np.median(fsnap.access_m[np.isfinite(fsnap.access_m)])) / 1000
            msg = (f"{Path(facilities_path).name}: none of the {len(fac_local)} facilities lies "
                   f"within {snap_max:.0f} m of the study area's walking network (median "
                   f"distance {median_km:.1f} km). Check that the layer covers this area; "
                   "if its points come from Amap or Tencent declare gcj02, from Baidu bd09.")
            raise NoReachableFacilityError(msg, key="facilities_far", where=Path(
                facilities_path).name, n=len(fac_local), limit=f"{snap_max:.0f}",
                km=f"{median_km:.1f}")
    warnings: list[str] = []
    declared = (facilities_crs or "").lower()
    if facilities_path is not None and declared not in ("gcj02", "gcj-02", "bd09", "bd-09"):
        def dist(pts: gpd.GeoDataFrame) -> np.ndarray:
            return network.snap(to_local(pts, local_crs), max_m=np.inf).access_m

        shifted, given_m, conv_m = looks_like_gcj02(facilities, dist)
        if shifted:
            name = Path(facilities_path).name
            warnings.append(Msg(
                f"{name}: its points lie a median {given_m:.0f} m from the streets, but "
                f"{conv_m:.0f} m if read as GCJ-02: they look like Amap or Tencent "
                "coordinates. Declare the layer gcj02 (or bd09 for Baidu).",
                "looks_gcj02", where=name, given=f"{given_m:.0f}", converted=f"{conv_m:.0f}"))
    compounds = None
    if osm.barriers is not None:
        say("finding walled compounds and their gates")
        compounds = compounds_from_osm(landuse, to_local(osm.barriers, local_crs))
    say("attaching homes to the network")
    home_snap = network.snap(homes, max_m=snap_max)
    return Study(name=osm.name, source=osm.source,
                 area=StudyArea(boundary=osm.bounds, local_crs=local_crs, name=osm.name),
                 network=network, buildings=classified, homes=homes, home_snap=home_snap,
                 facilities=fac_local, landuse=landuse, snap_max_m=snap_max,
                 streets=streets, poi_report=poi_report, warnings=tuple(warnings),
                 compounds=compounds)
