"""What-if changes to facilities (add, move, remove) and named scenarios of them.

A change to one facility only alters coverage within one threshold of it, so
:class:`WhatIf` updates only that part: adding a station at P is one search from P bounded
by the threshold; removing facility F is one search from F bounded by twice the threshold
(to find the other facilities that may take over) and one search from those, bounded by
the threshold, for the homes F used to serve. Nothing is recomputed for the rest of the
city. A scenario (a named list of changes) is saved in the project GeoPackage atomically
and reopened exactly; two scenarios are compared by full recomputation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gis._errors import InputError
from gis.analysis.coverage import CoverageResult, zone_summary
from gis.data.write import sweep_temporary
from gis.network.access import Access
from gis.network.graph import Snap
from gis.settings import WGS84, Settings

Action = Literal["add", "remove", "move"]
SCENARIO_LAYER = "scenario_changes"


@dataclass(frozen=True)
class Change:
    """One change to the facilities of a category.

    Attributes
    ----------
    action
        ``"add"`` a new facility at (x, y); ``"remove"`` facility ``facility``;
        ``"move"`` facility ``facility`` to (x, y).
    category
        The category of the facility.
    facility
        Index label of an existing facility (remove, move), in the coverage result.
    x, y
        New position in the study area's local CRS (add, move).
    name
        A label for the new or moved facility.
    """

    action: Action
    category: str
    facility: object = None
    x: float = float("nan")
    y: float = float("nan")
    name: str = ""


@dataclass(frozen=True)
class Scenario:
    """A named set of changes, applied in order."""

    name: str
    changes: tuple[Change, ...] = field(default_factory=tuple)

    def with_change(self, change: Change) -> Scenario:
        """Return a copy with ``change`` appended.

        Parameters
        ----------
        change
            The change to add.

        Returns
        -------
        Scenario
            A new scenario.
        """
        return Scenario(self.name, (*self.changes, change))


@dataclass(frozen=True)
class Delta:
    """What one change did: households newly covered and no longer covered.

    ``gained`` and ``lost`` are index labels of homes; ``by_zone`` gives households
    gained and lost per zone when zones were given.
    """

    households_gained: int
    households_lost: int
    gained: pd.Index
    lost: pd.Index
    by_zone: pd.DataFrame | None = None

    @property
    def net(self) -> int:
        """Return households gained minus lost."""
        return self.households_gained - self.households_lost


class WhatIf:
    """Incremental coverage of one category under a sequence of facility changes.

    Homes reach the streets and new stations attach as the result's access model says
    (snap limit, compound gates), so every delta equals a full recompute.

    Parameters
    ----------
    result
        The base coverage result.
    category
        The category whose facilities change.
    settings
        Settings.
    zones
        Optional polygons with a ``name`` column (communities or grids) for per-zone
        deltas.
    """

    def __init__(self, result: CoverageResult, category: str, settings: Settings, *,
                 zones: gpd.GeoDataFrame | None = None) -> None:
        if category not in result.categories:
            msg = f"Category `{category}` was not analysed; run coverage for it first."
            raise InputError(msg)
        access = result.access
        self.network = access.network
        self.category = category
        self.settings = settings
        self.threshold_m = result.thresholds[category].metres
        attached = result.homes["attached"].to_numpy(dtype=bool)
        homes = result.homes[attached]
        self.access = access.subset(access.home_positions(homes.index))
        self.homes_index = homes.index
        self.households = homes["households"].to_numpy(dtype=np.int64)
        dist = homes[f"dist_m_{category}"].to_numpy(dtype=float)
        # Distances are kept exact up to the threshold; beyond it only "not covered" counts.
        self.dist = np.where(dist <= self.threshold_m, dist, np.inf)
        fac = result.facilities[result.facilities["category"] == category]
        snap = access.snap(fac)
        self.fac_labels: list[object] = list(fac.index)
        self.fac_edge = list(snap.edge)
        self.fac_offset = list(snap.offset_m)
        self.fac_access = list(snap.access_m)
        self.fac_active = list(snap.ok)
        self.zone_of: np.ndarray | None = None
        if zones is not None:
            from gis.zones import zone_of_homes

            self.zone_of = zone_of_homes(homes, zones).to_numpy()

    # -- state ------------------------------------------------------------------------

    @property
    def covered(self) -> np.ndarray:
        """Return the covered flag of every attached home in the current state."""
        return self.dist <= self.threshold_m

    @property
    def households_covered(self) -> int:
        """Return households covered in the current state."""
        return int(self.households[self.covered].sum())

    def _snap_one(self, x: float, y: float) -> Snap:
        return snap_point(self.access, x, y)

    def _facility_snap(self, positions: Sequence[int]) -> Snap:
        pos = np.asarray(positions, dtype=np.int64)
        return Snap(pd.Index(pos), np.asarray(self.fac_edge, dtype=np.int64)[pos],
                    np.asarray(self.fac_offset)[pos], np.asarray(self.fac_access)[pos],
                    np.zeros(pos.size, dtype=bool))

    def _position(self, label: object) -> int:
        try:
            pos = self.fac_labels.index(label)
        except ValueError:
            msg = f"No {self.category} facility with id {label!r} in the study area."
            raise InputError(msg) from None
        if not self.fac_active[pos]:
            msg = f"Facility {label!r} was already removed (or is too far from the network)."
            raise InputError(msg)
        return pos

    # -- changes ----------------------------------------------------------------------

    def add(self, x: float, y: float, *, name: str = "") -> Delta:
        """Add a facility at (x, y) in the local CRS; return the change in coverage.

        Parameters
        ----------
        x, y
            Where, in the local CRS.
        name
            The new facility's name.

        Returns
        -------
        Delta
            Households newly covered and the homes whose flags changed.
        """
        snap = self._snap_one(x, y)
        before = self.covered
        d = self.access.distances(snap, limit_m=self.threshold_m)
        self.dist = np.minimum(self.dist, np.where(d <= self.threshold_m, d, np.inf))
        self.fac_labels.append(("new", len(self.fac_labels), name))
        self.fac_edge.append(int(snap.edge[0]))
        self.fac_offset.append(float(snap.offset_m[0]))
        self.fac_access.append(float(snap.access_m[0]))
        self.fac_active.append(True)
        return self._delta(before)

    def remove(self, facility: object) -> Delta:
        """Remove a facility (by its index label); return the change in coverage.

        Parameters
        ----------
        facility
            The facility's index label.

        Returns
        -------
        Delta
            Households no longer covered and the homes whose flags changed.
        """
        pos = self._position(facility)
        before = self.covered
        gone = self._facility_snap([pos])
        t = self.threshold_m
        # Homes the facility reached within the threshold may lose coverage.
        nd = self.network.node_distances(gone, limit_m=2 * t)
        d_gone = self.access.home_distances(nd, gone)[0]
        affected = np.flatnonzero(d_gone <= t)
        self.fac_active[pos] = False
        others = [i for i, a in enumerate(self.fac_active) if a]
        # Only facilities within 2 * threshold of the removed one can take those homes.
        if others:
            osnap = self._facility_snap(others)
            reach = self.network.distances_to(osnap, nd, gone)
            near = [others[i] for i in np.flatnonzero(reach <= 2 * t)]
        else:
            near = []
        new = np.full(affected.size, np.inf)
        if near and affected.size:
            nsnap = self._facility_snap(near)
            new = self.access.subset(affected).distances(nsnap, limit_m=t)
        self.dist[affected] = np.where(new <= t, new, np.inf)
        return self._delta(before)

    def move(self, facility: object, x: float, y: float) -> Delta:
        """Move a facility to (x, y); return the combined change in coverage.

        Parameters
        ----------
        facility
            The facility's index label.
        x, y
            Its new place, in the local CRS.

        Returns
        -------
        Delta
            The net change.
        """
        before = self.covered
        self._snap_one(x, y)  # refuse before changing anything
        self.remove(facility)
        self.add(x, y, name=str(facility))
        return self._delta(before)

    def apply(self, change: Change) -> Delta:
        """Apply a :class:`Change`.

        Parameters
        ----------
        change
            An addition, closure or move.

        Returns
        -------
        Delta
            The change in coverage.
        """
        if change.category != self.category:
            msg = f"The change is for `{change.category}`, this what-if for `{self.category}`."
            raise InputError(msg)
        if change.action == "add":
            return self.add(change.x, change.y, name=change.name)
        if change.action == "remove":
            return self.remove(change.facility)
        if change.action == "move":
            return self.move(change.facility, change.x, change.y)
        msg = f"Unknown change {change.action!r}; use add, remove or move."
        raise InputError(msg)

    def _delta(self, before: np.ndarray) -> Delta:
        after = self.covered
        gained = after & ~before
        lost = before & ~after
        by_zone = None
        if self.zone_of is not None:
            frame = pd.DataFrame({"name": self.zone_of,
                                  "households_gained": self.households * gained,
                                  "households_lost": self.households * lost})
            by_zone = frame.groupby("name", as_index=False).sum()
            by_zone = by_zone[(by_zone["households_gained"] > 0)
                              | (by_zone["households_lost"] > 0)].reset_index(drop=True)
        return Delta(int(self.households[gained].sum()), int(self.households[lost].sum()),
                     self.homes_index[gained], self.homes_index[lost], by_zone)


def snap_point(access: Access, x: float, y: float) -> Snap:
    """Attach one point (local CRS) under the access model's snap limit, or refuse it.

    Parameters
    ----------
    access
        The access model (its snap limit).
    x, y
        The point, in the local CRS.

    Returns
    -------
    Snap
        Where the point attaches.

    Raises
    ------
    InputError
        With key ``point_far`` when the point lies farther than the limit from every
        street; nothing has been changed or stored.
    """
    if not (np.isfinite(x) and np.isfinite(y)):
        msg = f"The point ({x}, {y}) has no valid coordinates; click on the map again."
        raise InputError(msg, key="point_invalid")
    pt = gpd.GeoSeries([shapely.Point(x, y)], crs=access.crs)
    snap = access.snap(pt)
    if not snap.ok[0]:
        dist = snap.access_m[0]
        shown = f"{dist:.0f}" if np.isfinite(dist) else "?"
        msg = (f"The point ({x:.0f}, {y:.0f}) lies {shown} m from the walking "
               f"network (limit {access.snap_max_m:.0f} m); place it by a street.")
        raise InputError(msg, key="point_far", dist=shown, limit=f"{access.snap_max_m:.0f}")
    return snap


# -- scenarios: apply, save, reopen, compare -------------------------------------------


def apply_scenario(facilities: gpd.GeoDataFrame, scenario: Scenario) -> gpd.GeoDataFrame:
    """Return the facilities after the scenario's changes (local CRS kept).

    Parameters
    ----------
    facilities
        The facilities (local CRS).
    scenario
        The changes.

    Returns
    -------
    geopandas.GeoDataFrame
        A new layer.
    """
    fac = facilities.copy()
    added = []
    for ch in scenario.changes:
        if ch.action in ("remove", "move"):
            if ch.facility not in fac.index:
                msg = (f"Scenario {scenario.name!r}: facility {ch.facility!r} is not in the "
                       "study area (was it removed twice?).")
                raise InputError(msg)
            fac = fac.drop(index=ch.facility)
        if ch.action in ("add", "move"):
            added.append({"category": ch.category, "name": ch.name or str(ch.facility or ""),
                          "franchise": False, "geometry": shapely.Point(ch.x, ch.y)})
    if added:
        new = gpd.GeoDataFrame(added, crs=facilities.crs)
        new.index = [f"{scenario.name}:{i}" for i in range(len(new))]
        fac = gpd.GeoDataFrame(pd.concat([fac, new]), crs=facilities.crs)
    return fac


def result_after(result: CoverageResult, what: WhatIf,
                 scenario: Scenario) -> CoverageResult:
    """Return the coverage result as the what-if's changes leave it, for one category.

    The category's ``covered_`` flags and distances come from ``what`` (a distance beyond
    the threshold that a closed facility made unknown is NaN); the facilities are those
    of :func:`apply_scenario`. Gaps found on it are the gaps that remain after the
    scenario, so the gap map follows the stations a planner adds or closes.

    Parameters
    ----------
    result
        The coverage result before the scenario.
    what
        The what-if with the scenario's changes applied.
    scenario
        The scenario.

    Returns
    -------
    CoverageResult
        A new result.
    """
    from dataclasses import replace as _replace

    cat = what.category
    homes = result.homes.copy()
    base = homes.loc[what.homes_index, f"dist_m_{cat}"].to_numpy(dtype=float)
    dist = np.where(np.isfinite(what.dist), what.dist,
                    np.where(base > what.threshold_m, base, np.nan))
    homes.loc[what.homes_index, f"covered_{cat}"] = what.covered
    homes.loc[what.homes_index, f"dist_m_{cat}"] = dist
    return _replace(result, homes=homes,
                    facilities=apply_scenario(result.facilities, scenario))


def scenarios_frame(scenarios: Sequence[Scenario], crs: object,
                    study: str = "") -> gpd.GeoDataFrame:
    """Return the changes of all scenarios as one layer (in ``crs``, one row a change).

    ``study`` names the study area the scenarios belong to (column ``study``).

    Parameters
    ----------
    scenarios
        The scenarios.
    crs
        The CRS of the changes' x, y.
    study
        The study area's name.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per change, in WGS-84.
    """
    rows = []
    for sc in scenarios:
        for seq, ch in enumerate(sc.changes):
            rows.append({"study": study, "scenario": sc.name, "seq": seq, "action": ch.action,
                         "category": ch.category,
                         "facility": None if ch.facility is None else str(ch.facility),
                         "name": ch.name,
                         "geometry": shapely.Point(ch.x, ch.y) if np.isfinite(ch.x) else None})
    if not rows:
        return gpd.GeoDataFrame({"study": [], "scenario": [], "seq": [], "action": [],
                                 "category": [], "facility": [], "name": []},
                                geometry=gpd.GeoSeries([], crs=crs), crs=crs)
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=crs)


def _stored(path: Path) -> gpd.GeoDataFrame | None:
    """Return the scenario layer of a project file in WGS-84 (None: no such layer)."""
    import pyogrio

    sweep_temporary(path)  # what killed saves left beside it
    if not path.exists():
        return None
    try:
        layers = [name for name, _ in pyogrio.list_layers(path)]
    except Exception as err:  # pyogrio DataSourceError for a corrupt file
        msg = f"{path.name}: cannot be opened as a project GeoPackage ({err}); nothing loaded."
        raise InputError(msg, key="bad_project", where=path.name) from err
    if SCENARIO_LAYER not in layers:
        return None
    frame = gpd.read_file(path, layer=SCENARIO_LAYER)
    if frame.crs is None:
        frame = frame.set_crs(WGS84)
    frame = frame.to_crs(WGS84)
    if "study" not in frame:  # saved before scenarios belonged to a study area
        frame["study"] = ""
    frame["study"] = frame["study"].fillna("").astype(str)
    return frame


def _rewrite(path: Path, study: str, scenarios: Sequence[Scenario], crs: object,
             drop: set[str], rename: tuple[str, str] | None = None) -> Path:
    """Replace this study's scenarios named in ``drop`` by ``scenarios``; keep the rest.

    Runs under the project's lock, so what another planner saved a moment ago is read
    here and kept.
    """
    from gis.data.write import project_lock, update_gpkg_atomic

    with project_lock(path):
        stored = _stored(path)
        mine = scenarios_frame(scenarios, crs, study).to_crs(WGS84)
        if stored is not None and len(stored):
            here = stored["study"].isin([study, ""])
            if rename is not None:
                hit = here & (stored["scenario"] == rename[0])
                stored.loc[hit, "scenario"] = rename[1]
                stored.loc[hit, "study"] = study
            stored = stored[~(here & stored["scenario"].isin(drop))]
            frame = gpd.GeoDataFrame(pd.concat([stored, mine], ignore_index=True),
                                     geometry="geometry", crs=WGS84)
        else:
            frame = mine
        return update_gpkg_atomic(path, {SCENARIO_LAYER: frame})


def save_scenarios(path: str | Path, scenarios: Sequence[Scenario], *,
                   crs: object, study: str = "") -> Path:
    """Save scenarios into the project GeoPackage, keeping every other writer's work.

    Under the project file's lock (:func:`gis.data.write.project_lock`), the stored scenarios are
    read, those of ``study`` with the names of ``scenarios`` replaced, every other one
    kept (another planner's, another study area's), and the file written atomically.
    Positions are stored in WGS-84; ``crs`` is the CRS the changes' x, y are in.

    Parameters
    ----------
    path
        The project GeoPackage.
    scenarios
        The scenarios to store.
    crs
        The CRS of the changes' x, y.
    study
        The study area's name.

    Returns
    -------
    pathlib.Path
        ``path``, written.

    Examples
    --------
    >>> save_scenarios("projects/project.gpkg", [Scenario("two stations", changes)],
    ...                crs=study.area.local_crs, study="Helsinki")  # doctest: +SKIP
    """
    return _rewrite(Path(path), study, scenarios, crs, {sc.name for sc in scenarios})


def delete_scenario(path: str | Path, name: str, *, study: str = "") -> Path:
    """Remove the scenario ``name`` of ``study`` from the project file (under its lock).

    Parameters
    ----------
    path
        The project GeoPackage.
    name
        The scenario.
    study
        The study area's name.

    Returns
    -------
    pathlib.Path
        ``path``, written.
    """
    return _rewrite(Path(path), study, [], WGS84, {name})


def rename_scenario(path: str | Path, old: str, new: str, *, study: str = "") -> Path:
    """Rename a scenario of ``study`` in the project file (under its lock).

    A scenario already named ``new`` in that study area is refused, not overwritten.

    Parameters
    ----------
    path
        The project GeoPackage.
    old
        The scenario's name.
    new
        Its new name.
    study
        The study area's name.

    Returns
    -------
    pathlib.Path
        ``path``, written.
    """
    p = Path(path)
    stored = _stored(p)
    if stored is not None and ((stored["study"].isin([study, ""])) &
                               (stored["scenario"] == new)).any() and new != old:
        msg = f"{p.name}: a scenario named {new!r} exists already; choose another name."
        raise InputError(msg, key="scenario_name_taken", where=p.name, name=new)
    return _rewrite(p, study, [], WGS84, set(), rename=(old, new))


def load_scenarios(path: str | Path, *, crs: object,
                   facility_index: pd.Index | None = None,
                   study: str | None = None) -> list[Scenario]:
    """Reopen the scenarios saved in a project GeoPackage, in the local ``crs``.

    ``facility_index`` restores facility ids to their original type (e.g. integers).
    ``study``: only the scenarios of this study area (and those saved before scenarios
    named their area); None: every scenario.

    Parameters
    ----------
    path
        The project GeoPackage.
    crs
        The study area's local CRS.
    facility_index
        The facilities' index, or None.
    study
        The study area's name, or None.

    Returns
    -------
    list of Scenario
        The scenarios, in the order saved.
    """
    frame = _stored(Path(path))
    if frame is None:
        return []
    if study is not None:
        frame = frame[frame["study"].isin([study, ""])]
    frame = frame.to_crs(crs)
    lookup = {str(v): v for v in facility_index} if facility_index is not None else {}
    out: list[Scenario] = []
    for name, part in frame.groupby("scenario", sort=False):
        changes = []
        for _, row in part.sort_values("seq").iterrows():
            geom = row.geometry
            fac = row["facility"]
            fac = None if fac is None or (isinstance(fac, float) and np.isnan(fac)) else fac
            changes.append(Change(
                action=row["action"], category=row["category"],
                facility=lookup.get(str(fac), fac) if fac is not None else None,
                x=geom.x if geom is not None and not geom.is_empty else float("nan"),
                y=geom.y if geom is not None and not geom.is_empty else float("nan"),
                name=row["name"] or ""))
        out.append(Scenario(str(name), tuple(changes)))
    return out


def compare_scenarios(result: CoverageResult, settings: Settings, a: Scenario, b: Scenario,
                      *, zones: gpd.GeoDataFrame | None = None) -> pd.DataFrame:
    """Compare households covered per category (and per zone) under two scenarios.

    Each scenario is recomputed in full with the coverage engine, on the result's access
    model (same snap limit and gates). Returns one row per (zone, category) with
    ``households_a``, ``households_b`` and ``difference`` (b - a); without zones the
    zone is ``"all"``.

    Parameters
    ----------
    result
        The coverage result both scenarios start from.
    settings
        Settings.
    a, b
        The two scenarios.
    zones
        Communities or grids with ``name``, or None.

    Returns
    -------
    pandas.DataFrame
        One row per (zone, category).
    """
    rows = []
    for label, sc in (("a", a), ("b", b)):
        res = result.with_facilities(apply_scenario(result.facilities, sc), settings)
        hh = res.homes["households"]
        if zones is not None:
            table = zone_summary(res, zones)
            for _, z in table.iterrows():
                for cid in res.categories:
                    share = z[f"share_{cid}"] if z["households"] else 0.0
                    rows.append({"zone": z["name"], "category": cid, "scenario": label,
                                 "households": round(z["households"] * share)})
        else:
            for cid in res.categories:
                rows.append({"zone": "all", "category": cid, "scenario": label,
                             "households": int(hh[res.homes[f"covered_{cid}"]].sum())})
    frame = pd.DataFrame(rows)
    wide = frame.pivot_table(index=["zone", "category"], columns="scenario",
                             values="households", aggfunc="sum").reset_index()
    wide = wide.rename(columns={"a": "households_a", "b": "households_b"})
    wide["difference"] = wide["households_b"] - wide["households_a"]
    return wide
