"""Assemble a study area: source data, local CRS, walking network, homes and facilities.

:func:`load_study` is the one pipeline the command line and the app share: it loads the
OSM source, replaces buildings or facilities by the user's layers where given, projects
everything once to the area's UTM zone, builds the network, estimates households and
attaches homes to the network (the last two on first use when asked: street blocks and
grids need no network). Everything after it (coverage, circles) is cheap.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Generic, TypeVar

import geopandas as gpd
import numpy as np
import pandas as pd

from gis._errors import InputError, Msg, NoReachableFacilityError, guard_input
from gis.crs import StudyArea, choose_local_crs, looks_like_gcj02, to_local
from gis.data.facilities import facilities_from_osm
from gis.data.household_sources import AREA_RULE, SOURCE_FLOORS, count_households, source_mix
from gis.data.households import CHECKS, household_report, non_residential_areas
from gis.data.read import read_buildings, read_facilities
from gis.data.sources import SCREENED, Bbox, load_barriers, load_osm, reads_barriers_apart
from gis.network.access import Access, build_access
from gis.network.compounds import Compounds, compounds_from_osm
from gis.network.graph import Snap, WalkNetwork, network_from_streets
from gis.progress import Progress
from gis.settings import Settings

log = logging.getLogger(__name__)

T = TypeVar("T")


class Once(Generic[T]):
    """A value made on first use, once, however many threads ask at the same time.

    Parameters
    ----------
    make
        Makes the value (called at most once).
    """

    def __init__(self, make: Callable[[], T]) -> None:
        self._make: Callable[[], T] | None = make
        self._value: T | None = None
        self._lock = threading.Lock()

    def get(self) -> T:
        """Return the value, making it if this is the first call.

        Returns
        -------
        T
            The value.
        """
        if self._make is not None:
            with self._lock:
                if self._make is not None:
                    self._value, self._make = self._make(), None
        return self._value  # type: ignore[return-value]

    @classmethod
    def of(cls, value: T) -> Once[T]:
        """Return a value that is already made.

        Parameters
        ----------
        value
            The value.

        Returns
        -------
        Once
            It, made.
        """
        once = cls(lambda: value)
        once.get()
        return once

    @property
    def made(self) -> bool:
        """Return whether the value has been made."""
        return self._make is None

#: Checks reported only when their input was given: (count key, English text, message key).
CHECK_ROWS = (
    ("layer_dropped", "features of the buildings layer without a usable geometry (dropped)",
     "r_layer_dropped"),
    ("table_no_figure", "household table rows without a households figure (not used)",
     "r_table_no_figure"),
    ("table_implausible", "household table rows with an impossible figure (not used)",
     "r_table_implausible"),
)



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
        The walking network in the local CRS (built at load, or on first use when the
        study was loaded without it: see :func:`load_study`).
    buildings
        Every building with its household classification, local CRS.
    homes
        Residential buildings with households > 0, local CRS.
    home_snap
        Where each home attaches to the network (made with the network).
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
    household_table
        The street office's household table with ``matched_homes`` and ``matched_by`` per
        row, when one was given.
    raster_counts
        People in the population raster, spread over homes and left without a home, when
        a raster was given.
    checks
        What the plausibility checks dropped or replaced, as (key, count): features of
        the source (:data:`gis.data.sources.SCREENED`), rows of a user's layer or household
        table. Buildings whose floors or households were replaced carry ``hh_check``.
    compound_search
        The walled compounds: found at load, or found the first time :attr:`compounds`
        is asked for (a ``.osm.pbf``'s walls are read only then); None when the study
        was loaded without them.
    """

    name: str
    source: str
    area: StudyArea
    walk: Once[tuple[WalkNetwork, Snap]]
    buildings: gpd.GeoDataFrame
    homes: gpd.GeoDataFrame
    facilities: gpd.GeoDataFrame
    landuse: gpd.GeoDataFrame
    snap_max_m: float
    streets: gpd.GeoDataFrame | None = None
    poi_report: pd.DataFrame | None = None
    warnings: tuple[str, ...] = ()
    compound_search: Once[Compounds | None] = field(
        default_factory=lambda: Once.of(None))
    min_piece_m: float = 2000.0
    household_table: pd.DataFrame | None = None
    raster_counts: dict[str, float] | None = None
    checks: tuple[tuple[str, int], ...] = ()

    @property
    def network(self) -> WalkNetwork:
        """Return the walking network (built on first use if not at load).

        Returns
        -------
        WalkNetwork
            The network in the local CRS.
        """
        return self.walk.get()[0]

    @property
    def home_snap(self) -> Snap:
        """Return where each home attaches to the network (made with it).

        Returns
        -------
        Snap
            One row per home.
        """
        return self.walk.get()[1]

    @property
    def compounds(self) -> Compounds | None:
        """Return the walled compounds and their gates, found once (None: not searched).

        Where the study was loaded with compounds to be found on demand, the first call
        reads the walls and gates and finds them; sessions asking meanwhile wait for it.

        Returns
        -------
        Compounds or None
            The compounds, or None when the study was loaded without them.
        """
        return self.compound_search.get()

    @cached_property
    def facility_snap(self) -> Snap:
        """Return where the study's facilities attach, under its snap limit (made once).

        Returns
        -------
        Snap
            Where each facility attaches.
        """
        return self.network.snap(self.facilities, max_m=self.snap_max_m)

    def report(self) -> pd.DataFrame:
        """Return what was loaded and what was left out, as (item, value) rows (a copy).

        Returns
        -------
        pandas.DataFrame
            What was read and kept: streets, homes, households, facilities, checks, pieces.
        """
        return pd.concat([self._report, self._compound_rows()], ignore_index=True)

    @cached_property
    def _report(self) -> pd.DataFrame:
        too_far = ~self.home_snap.ok
        fac_snap = self.facility_snap
        limit = f"{self.snap_max_m:.0f}"
        mix = self._source_mix
        cells = self.buildings["hh_rule"].to_numpy(dtype=object) == AREA_RULE
        group = (self.homes["group_quarters"].to_numpy(dtype=bool)
                 if "group_quarters" in self.homes else np.zeros(len(self.homes), bool))
        rows = [
            ("network nodes kept", "r_nodes", {}, self.network.n_nodes),
            ("network edges kept", "r_edges", {}, self.network.n_edges),
            ("network pieces in the source", "r_pieces", {}, self.network.n_components),
            ("network pieces kept (each analysed on its own)", "r_pieces_kept", {},
             self.network.n_pieces),
            ("network pieces with homes", "r_pieces_homes", {},
             int((self.pieces()["homes"] > 0).sum())),
            (f"network nodes dropped (pieces under {self.min_piece_km:g} km of streets)",
             "r_dropped", {"min_km": f"{self.min_piece_km:g}"}, self.network.n_dropped_nodes),
            ("buildings", "r_buildings", {}, int((~cells).sum())),
            ("residential areas without buildings (households estimated from area)",
             "r_empty_areas", {}, int(self.buildings.loc[cells, "area_id"].nunique())
             if cells.any() else 0),
            ("residential buildings", "r_homes", {}, len(self.homes)),
            ("households", "r_households", {}, int(self.homes["households"].sum())),
            ("of which in group quarters (dormitories: residents / household size)",
             "r_households_group", {}, int(self.homes["households"].to_numpy()[group].sum())),
            ("residents of group quarters", "r_residents_group", {},
             int(self.homes["residents"].to_numpy()[group].sum()) if group.any() else 0),
            *[(f"households {src}", "r_hh_" + src.replace(" ", "_"), {}, int(n))
              for src, n in zip(mix["source"], mix["households"], strict=True)
              if src != SOURCE_FLOORS or len(mix) > 1],
            (f"homes farther than {limit} m from the network (left out)", "r_homes_far",
             {"limit": limit}, int(too_far.sum())),
            ("households in homes left out", "r_households_far", {},
             int(self.homes["households"].to_numpy()[too_far].sum())),
            ("facilities", "r_facilities", {}, len(self.facilities)),
            (f"facilities farther than {limit} m from the network (left out)",
             "r_facilities_far", {"limit": limit}, int((~fac_snap.ok).sum())),
        ]
        rows += self.check_rows()
        return _rows_frame(rows)

    def _compound_rows(self) -> pd.DataFrame:
        """Return the report's rows on walled compounds, once they have been searched."""
        # Never searched for a report: with gates off no wall is read.
        found = self.compound_search.get() if self.compound_search.made else None
        if found is None:
            return _rows_frame([])
        return _rows_frame([
            ("walled compounds found (landuse=residential inside walls or fences)",
             "r_compounds", {}, len(found)),
            ("gates of walled compounds", "r_gates", {}, len(found.gates))])

    def check_rows(self) -> list[tuple[str, str, dict[str, str], int]]:
        """Return the plausibility checks' rows of the load report (every check, even 0).

        A count of 0 is shown too, so that the report says the check was made.

        Returns
        -------
        list of tuple
            (English text, message key, parameters, count) per check.
        """
        counts = dict(self.checks)
        rows: list[tuple[str, str, dict[str, str], int]] = [
            (text, key, {}, int(counts.get(name, 0))) for name, text, key in SCREENED]
        for name, text, key in CHECK_ROWS:
            if name in counts:
                rows.append((text, key, {}, int(counts[name])))
        flagged = (self.buildings["hh_check"].to_numpy(dtype=object)
                   if "hh_check" in self.buildings else np.array([], dtype=object))
        for check, key in zip(CHECKS, ("r_check_levels", "r_check_given", "r_check_capped"),
                              strict=True):
            rows.append((f"buildings: {check}", key, {}, int((flagged == check).sum())))
        return rows

    @property
    def min_piece_km(self) -> float:
        """Return the smallest network piece kept, in km of streets."""
        return self.min_piece_m / 1000.0

    def pieces(self) -> pd.DataFrame:
        """Return every kept network piece with its streets, homes and facilities.

        Homes route only within the piece they attach to, so a piece with homes and no
        facility of a category leaves all of them uncovered; this table says so.

        Returns
        -------
        pandas.DataFrame
            ``piece`` (0: the largest), ``nodes``, ``street_km``, ``homes``,
            ``households`` (attached homes) and ``facilities`` (attached).
        """
        net = self.network
        k = net.n_pieces
        street_km = np.bincount(net.edge_piece, weights=net.edge_length_m, minlength=k) / 1000
        ok = self.home_snap.ok
        home_piece = net.edge_piece[self.home_snap.edge[ok]]
        hh = self.homes["households"].to_numpy()[ok]
        fsnap = self.facility_snap
        fac_piece = net.edge_piece[fsnap.edge[fsnap.ok]]
        return pd.DataFrame({
            "piece": np.arange(k),
            "nodes": np.bincount(net.node_piece, minlength=k),
            "street_km": np.round(street_km, 2),
            "homes": np.bincount(home_piece, minlength=k),
            "households": np.bincount(home_piece, weights=hh, minlength=k).astype(np.int64),
            "facilities": np.bincount(fac_piece, minlength=k)})

    def piece_warnings(self) -> list[Msg]:
        """Return a message for every piece with homes but no facility at all.

        Returns
        -------
        list of Msg
            One message per network piece with homes and no facility of some category.
        """
        out = []
        for row in self.pieces().itertuples(index=False):
            if row.homes > 0 and row.facilities == 0:
                out.append(Msg(
                    f"Network piece {row.piece} ({row.street_km:.1f} km of streets, "
                    f"{row.households} households) has no facility of any kind: its homes "
                    "walk only within it and none is covered.", "piece_no_facility",
                    piece=int(row.piece), km=f"{row.street_km:.1f}",
                    households=int(row.households)))
        return out

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

        Returns
        -------
        Access
            The access model (cached per options).
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

    @cached_property
    def _household_report(self) -> pd.DataFrame:
        return household_report(self.buildings)

    @cached_property
    def _source_mix(self) -> pd.DataFrame:
        return source_mix(self.homes)

    def source_mix(self) -> pd.DataFrame:
        """Return homes and households by where their figure came from (a copy).

        Returns
        -------
        pandas.DataFrame
            Homes and households by where their figure came from.
        """
        return self._source_mix.copy()

    def household_report(self) -> pd.DataFrame:
        """Return buildings and households by classification rule (a copy of one made once).

        The study never changes, so the table is grouped once (0.25 s a rerun on a
        street office before, in every session).

        Returns
        -------
        pandas.DataFrame
            Buildings and households per classification rule.
        """
        return self._household_report.copy()


@guard_input("a study area", "check the files named in the load report, or export the area again")
def load_study(source: str | Path | None, settings: Settings, *,
               buildings_path: str | Path | None = None, buildings_crs: str | None = None,
               facilities_path: str | Path | None = None, facilities_crs: str | None = None,
               snap_max_m: float | None = None, bbox: Bbox | None = None,
               compounds: bool = True, households_table: str | Path | None = None,
               population_raster: str | Path | None = None,
               walk_network: bool = True, progress: Progress | None = None) -> Study:
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
    bbox
        (west, south, east, north) in degrees: analyse only this window of the source.
    compounds
        Find walled compounds and their gates (False skips reading walls and gates, for
        analyses that ignore gates). From a ``.osm.pbf`` they are found the first time
        :attr:`Study.compounds` is asked for (gates honoured), not at load.
    households_table
        The street office's household counts (CSV / XLSX; see
        :func:`gis.data.household_sources.read_household_table`); its figures win.
    population_raster
        A population GeoTIFF spread over homes whose figure is not given.
    walk_network
        Build the walking network and attach the homes now (True), or on first use of
        :attr:`Study.network` (False: for work on buildings and streets alone, such as
        street blocks and grids; Porto's network and homes' attachment take 1.2 s). A
        facilities layer is checked against the network at load either way.
    progress
        Called with a message at each step.

    Returns
    -------
    Study

    Examples
    --------
    >>> settings = load_settings()  # doctest: +SKIP
    >>> study = load_study("default", settings)  # doctest: +SKIP
    >>> len(study.homes), int(study.homes["households"].sum())  # doctest: +SKIP
    (159, 6034)
    """
    say = progress or (lambda _m: None)
    snap_max = settings.snap_max_m if snap_max_m is None else snap_max_m
    poi_report = None
    # The walls of a .osm.pbf are read only when gates are first honoured (a fifth of a
    # city's parse, for a model most sessions leave off).
    later = compounds and reads_barriers_apart(source)
    osm = load_osm(source, settings, bbox=bbox, barriers=compounds and not later,
                   progress=say)
    buildings = osm.buildings
    layer_checks: list[tuple[str, int]] = []
    if buildings_path is not None:
        say(f"reading buildings from {Path(buildings_path).name}")
        buildings = read_buildings(buildings_path, declared_crs=buildings_crs)
        layer_checks.append(("layer_dropped", int(buildings.attrs.get("dropped_empty", 0))
                             + int(buildings.attrs.get("dropped_coordinates", 0))))
    if facilities_path is not None:
        say(f"reading facilities from {Path(facilities_path).name}")
        facilities = read_facilities(facilities_path, settings, declared_crs=facilities_crs)
        poi_report = facilities.attrs.get("poi_report")
    else:
        facilities = facilities_from_osm(osm.pois, settings)
    local_crs = choose_local_crs(osm.streets)
    say(f"projecting to {local_crs.name}")
    streets = to_local(osm.streets, local_crs)

    def build_network() -> WalkNetwork:
        if not walk_network:
            log.info("building the walking network of %s on first use", osm.name)
        return network_from_streets(streets, min_piece_m=settings.min_piece_m)

    network = Once(build_network)
    if walk_network or facilities_path is not None:
        say("building the walking network")
        network.get()
    landuse = to_local(osm.landuse, local_crs)
    say("estimating households")
    areas = non_residential_areas(to_local(osm.pois, local_crs), settings.households)
    counted = count_households(to_local(buildings, local_crs), settings.households,
                               landuse=landuse, areas=areas,
                               estimate_areas=buildings_path is None,
                               table=households_table, raster=population_raster,
                               progress=say)
    classified = counted.buildings
    homes = classified[classified["residential"].to_numpy(dtype=bool)]
    fac_local = to_local(facilities, local_crs)
    if facilities_path is not None and len(fac_local):
        fsnap = network.get().snap(fac_local, max_m=snap_max)
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
            return network.get().snap(to_local(pts, local_crs), max_m=np.inf).access_m

        shifted, given_m, conv_m = looks_like_gcj02(facilities, dist)
        if shifted:
            name = Path(facilities_path).name
            warnings.append(Msg(
                f"{name}: its points lie a median {given_m:.0f} m from the streets, but "
                f"{conv_m:.0f} m if read as GCJ-02: they look like Amap or Tencent "
                "coordinates. Declare the layer gcj02 (or bd09 for Baidu).",
                "looks_gcj02", where=name, given=f"{given_m:.0f}", converted=f"{conv_m:.0f}"))
    found = reader = None
    if osm.barriers is not None:
        say("finding walled compounds and their gates")
        found = compounds_from_osm(landuse, to_local(osm.barriers, local_crs))
    elif later:
        def reader() -> Compounds:
            log.info("reading walls and gates of %s to find walled compounds", osm.name)
            return compounds_from_osm(landuse, to_local(load_barriers(source, bbox=bbox),
                                                        local_crs))

    def attach_homes() -> tuple[WalkNetwork, Snap]:
        return network.get(), network.get().snap(homes, max_m=snap_max)

    walk = Once(attach_homes)
    if walk_network:
        say("attaching homes to the network")
        walk.get()
    return Study(name=osm.name, source=osm.source,
                 area=StudyArea(boundary=osm.bounds, local_crs=local_crs, name=osm.name),
                 walk=walk, buildings=classified, homes=homes,
                 facilities=fac_local, landuse=landuse, snap_max_m=snap_max,
                 streets=streets, poi_report=poi_report, warnings=tuple(warnings),
                 compound_search=Once(reader) if reader is not None else Once.of(found),
                 min_piece_m=settings.min_piece_m,
                 household_table=counted.table_report,
                 raster_counts=counted.raster_counts,
                 checks=(*osm.checks, *layer_checks, *counted.checks))


def _rows_frame(rows: list[tuple[str, str, dict[str, str], int]]) -> pd.DataFrame:
    """Return report rows (English text, message key, its values, value) as a table."""
    # object dtype: pandas 3 would make the column strings and drop each Msg's key,
    # and the app would show the rows in English in a Chinese interface.
    return pd.DataFrame({
        "item": pd.Series([Msg(text, key, **params) for text, key, params, _v in rows],
                          dtype=object),
        "value": pd.Series([value for *_rest, value in rows], dtype="int64")})


class StudyCache:
    """Studies shared by every session of the app, loaded once each, the last few kept.

    Loading one area never blocks a session that asks for another: a lock per area
    makes sessions asking for the same area wait for one load, and a short lock guards
    the store itself. The studies are never mutated.

    Parameters
    ----------
    settings
        Returns the settings to load with (called at each load).
    size
        How many studies to keep.
    """

    def __init__(self, settings: Callable[[], Settings], size: int = 3) -> None:
        self.settings = settings
        self.size = size
        self.items: OrderedDict[tuple[Any, ...], Study] = OrderedDict()
        self.lock = threading.Lock()  # guards the two dicts only, never a load
        self.loading: dict[tuple[Any, ...], threading.Lock] = {}

    def peek(self, inputs: tuple[Any, ...]) -> Study | None:
        """Return the study of ``inputs`` if it is loaded already (never loads).

        Parameters
        ----------
        inputs
            The study's inputs (source, uploads and their CRS).

        Returns
        -------
        Study or None
            The loaded study, or None.
        """
        with self.lock:
            return self.items.get(inputs)

    def get(self, inputs: tuple[Any, ...], progress: Progress | None = None) -> Study:
        """Return the study of ``inputs``, loading it once.

        ``inputs`` is (source, facilities path, its CRS, buildings path, its CRS) and,
        optionally, the household table and the population raster.

        Parameters
        ----------
        inputs
            The study's inputs (source, uploads and their CRS).
        progress
            Told what is being loaded.

        Returns
        -------
        Study
            The study, loaded once for every session.
        """
        with self.lock:
            if inputs in self.items:
                self.items.move_to_end(inputs)
                return self.items[inputs]
            key_lock = self.loading.setdefault(inputs, threading.Lock())
        with key_lock:  # sessions asking for the same area wait for one load
            with self.lock:
                if inputs in self.items:
                    return self.items[inputs]
            source, fac, fac_crs, bld, bld_crs, *extra = inputs
            table, raster = (*extra, None, None)[:2]
            try:
                study = load_study(source, self.settings(), facilities_path=fac,
                                   facilities_crs=fac_crs, buildings_path=bld,
                                   buildings_crs=bld_crs, households_table=table,
                                   population_raster=raster, progress=progress)
            finally:
                with self.lock:
                    self.loading.pop(inputs, None)
            with self.lock:
                self.items[inputs] = study
                while len(self.items) > self.size:
                    self.items.popitem(last=False)
            return study
