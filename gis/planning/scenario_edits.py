"""A planner's scenario as map clicks: add, move, close and delete stations by clicking.

The app keeps a scenario as a list of plain rows in WGS-84 (``{"action", "category",
"lon", "lat", "name"}`` plus ``"facility"`` for a closed or moved facility and
``"from_lon"``, ``"from_lat"`` where a moved one stood), so that it survives reruns and
goes to JSON unchanged. This module turns those rows into :class:`~gis.planning.scenarios.Change`
objects and back, and applies one map click to them.

Examples
--------
>>> rows, moving = [], None
>>> outcome = apply_click(rows, moving, "add", 24.94, 60.17, category="health",
...                       facilities=result.facilities, access=result.access,
...                       new_name="Added station")  # doctest: +SKIP
>>> outcome.key, len(outcome.rows)  # doctest: +SKIP
('click_added', 1)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gis.network.access import Access
from gis.planning.scenarios import Change, snap_point
from gis.settings import WGS84

#: What a click on the gaps map may do (the first only looks).
CLICK_MODES = ("look", "add", "move", "close", "delete")
#: How far from a click (metres) a station or facility is picked up by it.
PICK_RADIUS_M = 150.0


@dataclass(frozen=True)
class ClickOutcome:
    """What one click did.

    Attributes
    ----------
    rows
        The scenario's rows after the click (a new list; the given one is not changed).
    moving
        The station or facility picked by a first "move" click, waiting for its new
        place (None otherwise).
    key, params
        The message to show (a key of ``layers.i18n`` and its values).
    """

    rows: list[dict[str, Any]]
    moving: dict[str, Any] | None
    key: str
    params: dict[str, Any] = field(default_factory=dict)


def as_changes(rows: Sequence[dict[str, Any]], crs: object,
               facility_index: pd.Index) -> list[Change]:
    """Return the rows as Changes in ``crs`` (the study area's local CRS).

    A closed or moved facility's id is given back its type from ``facility_index``.

    Parameters
    ----------
    rows
        The scenario's rows (WGS-84).
    crs
        The study area's local CRS.
    facility_index
        The facilities' index.

    Returns
    -------
    list of Change
        The changes, in order.
    """
    pts = gpd.GeoSeries.from_xy([c["lon"] for c in rows], [c["lat"] for c in rows],
                                crs=WGS84).to_crs(crs)
    ids = {str(i): i for i in facility_index}
    out = []
    for c, p in zip(rows, pts, strict=True):
        action = c.get("action", "add")
        facility = ids.get(str(c.get("facility")), c.get("facility"))
        if action == "remove":
            out.append(Change("remove", c["category"], facility=facility,
                              name=c.get("name", "")))
        else:
            out.append(Change(action, c["category"],
                              facility=facility if action == "move" else None,
                              x=float(p.x), y=float(p.y), name=c.get("name", "")))
    return out


def as_rows(changes: Iterable[Change], facilities: gpd.GeoDataFrame) -> list[dict[str, Any]]:
    """Return Changes (in the facilities' CRS) as rows, the inverse of :func:`as_changes`.

    A closed facility is placed where it stands; a moved one keeps where it stood
    (``from_lon``, ``from_lat``). Changes of facilities no longer in ``facilities`` (a
    scenario saved on another version of the data) are left out.

    Parameters
    ----------
    changes
        Changes in the facilities' CRS.
    facilities
        The facilities they act on.

    Returns
    -------
    list of dict
        Rows in WGS-84.
    """
    where = {str(i): g for i, g in zip(facilities.index, facilities.geometry, strict=True)}
    rows = []
    for ch in changes:
        known = where.get(str(ch.facility))
        if ch.action != "add" and known is None:
            continue
        here = known if ch.action == "remove" else shapely.Point(ch.x, ch.y)
        if here is None or here.is_empty:
            continue
        lon_lat = gpd.GeoSeries([here, known if known is not None else here],
                                crs=facilities.crs).to_crs(WGS84)
        row = {"action": ch.action, "category": ch.category, "lon": float(lon_lat.iloc[0].x),
               "lat": float(lon_lat.iloc[0].y), "name": ch.name}
        if ch.action != "add":
            row["facility"] = str(ch.facility)
        if ch.action == "move":
            row["from_lon"] = float(lon_lat.iloc[1].x)
            row["from_lat"] = float(lon_lat.iloc[1].y)
        rows.append(row)
    return rows


def added_rows(sites: gpd.GeoDataFrame, category: str,
               names: Sequence[str]) -> list[dict[str, Any]]:
    """Return new stations at ``sites`` as scenario rows in WGS-84 (accepted proposals).

    Parameters
    ----------
    sites
        Points in any CRS (a proposal's sites, in the local CRS).
    category
        The stations' category.
    names
        A name per site.

    Returns
    -------
    list of dict
        ``{"action": "add", "category", "lon", "lat", "name"}`` per site, in order.
    """
    lonlat = sites.geometry.to_crs(WGS84)
    return [{"action": "add", "category": category, "lon": float(p.x), "lat": float(p.y),
             "name": str(name)} for p, name in zip(lonlat, names, strict=True)]


def map_points(rows: Sequence[dict[str, Any]], category: str
               ) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
    """Return (added, closed) (lon, lat) points of a category for the map.

    Added: new stations and where moved facilities went; closed: closed facilities and
    where moved ones stood.

    Parameters
    ----------
    rows
        The scenario's rows.
    category
        The category shown.

    Returns
    -------
    tuple of list
        Added and closed (lon, lat) points.
    """
    mine = [c for c in rows if c["category"] == category]
    added = [(c["lon"], c["lat"]) for c in mine if c.get("action", "add") in ("add", "move")]
    closed = ([(c["lon"], c["lat"]) for c in mine if c.get("action") == "remove"]
              + [(c["from_lon"], c["from_lat"]) for c in mine if c.get("action") == "move"])
    return added, closed


def _local_xy(lon: Sequence[float], lat: Sequence[float], crs: object) -> np.ndarray:
    if not len(lon):
        return np.empty((0, 2))
    pts = gpd.GeoSeries.from_xy(list(lon), list(lat), crs=WGS84).to_crs(crs)
    return np.column_stack([pts.x.to_numpy(), pts.y.to_numpy()])


def _nearest(xy: np.ndarray, here: np.ndarray) -> tuple[int | None, float]:
    """Return the index of the point nearest ``here`` within the pick radius, and its distance."""
    if not len(xy):
        return None, np.inf
    d = np.hypot(xy[:, 0] - here[0], xy[:, 1] - here[1])
    i = int(np.argmin(d))
    return (i, float(d[i])) if d[i] <= PICK_RADIUS_M else (None, np.inf)


def apply_click(rows: Sequence[dict[str, Any]], moving: dict[str, Any] | None, mode: str,
                lon: float, lat: float,
                *, category: str, facilities: gpd.GeoDataFrame, access: Access,
                new_name: str) -> ClickOutcome:
    """Apply one click at (lon, lat) in ``mode`` to the scenario's rows.

    Parameters
    ----------
    rows
        The scenario's rows (every category); not changed.
    moving
        What a previous "move" click picked, or None.
    mode
        One of ``CLICK_MODES``: "add" a station here; "delete" the added station nearest
        the click; "close" the existing facility of ``category`` nearest it; "move"
        picks a station or facility on the first click and puts it here on the second.
        Picks reach ``PICK_RADIUS_M``.
    lon, lat
        Where the click fell (WGS-84).
    category
        The category the scenario is edited for.
    facilities
        The analysis' facilities (the study area's local CRS, as ``access``).
    access
        The access model a new place must attach to.
    new_name
        The name of a station added by the click.

    Returns
    -------
    ClickOutcome
        The rows after the click, what waits to be moved, and the message.

    Raises
    ------
    GisError
        When a new place is too far from the streets (key ``point_far``); nothing is
        changed then.
    """
    rows = [dict(r) for r in rows]
    crs = access.crs
    here = _local_xy([lon], [lat], crs)[0]
    radius = {"m": f"{PICK_RADIUS_M:.0f}"}
    mine = [c for c in rows if c["category"] == category]
    added = [c for c in mine if c.get("action", "add") in ("add", "move")]
    gone = {str(c.get("facility")) for c in mine if c.get("action") in ("remove", "move")}
    fac = facilities[facilities["category"] == category]
    fac = fac[[str(i) not in gone for i in fac.index]]
    fac_xy = np.column_stack([fac.geometry.x.to_numpy(), fac.geometry.y.to_numpy()])
    added_xy = _local_xy([c["lon"] for c in added], [c["lat"] for c in added], crs)

    def facility_row(j: int) -> dict[str, Any]:
        where = gpd.GeoSeries([fac.geometry.iloc[j]], crs=fac.crs).to_crs(WGS84).iloc[0]
        name = fac["name"].iloc[j] if "name" in fac.columns else ""
        return {"facility": str(fac.index[j]), "lon": float(where.x), "lat": float(where.y),
                "name": "" if pd.isna(name) else str(name)}

    if mode == "add":
        snap_point(access, float(here[0]), float(here[1]))
        rows.append({"action": "add", "category": category, "lon": lon, "lat": lat,
                     "name": new_name})
        return ClickOutcome(rows, None, "click_added")
    if mode == "delete":
        i, _ = _nearest(added_xy, here)
        if i is None:
            return ClickOutcome(rows, None, "click_nothing_added", radius)
        rows.remove(added[i])
        return ClickOutcome(rows, None, "click_deleted", {"name": added[i].get("name", "")})
    if mode == "close":
        j, _ = _nearest(fac_xy, here)
        if j is None:
            return ClickOutcome(rows, None, "click_nothing_facility", radius)
        rows.append({"action": "remove", "category": category, **facility_row(j)})
        return ClickOutcome(rows, None, "click_closed", {"name": rows[-1]["name"] or "—"})
    if mode != "move":
        return ClickOutcome(rows, moving, "")
    if moving is None or moving.get("category") != category:
        (i, di), (j, dj) = _nearest(added_xy, here), _nearest(fac_xy, here)
        if i is not None and di <= dj:
            picked = {"kind": "added", "lon": added[i]["lon"], "lat": added[i]["lat"],
                      "name": added[i].get("name", "")}
        elif j is not None:
            picked = {"kind": "facility", **facility_row(j)}
        else:
            return ClickOutcome(rows, None, "click_nothing_to_move", radius)
        picked["category"] = category
        return ClickOutcome(rows, picked, "click_move_picked", {"name": picked["name"] or "—"})
    snap_point(access, float(here[0]), float(here[1]))
    if moving["kind"] == "added":
        for c in added:
            if (c["lon"], c["lat"]) == (moving["lon"], moving["lat"]):
                c["lon"], c["lat"] = lon, lat
                break
    else:
        rows.append({"action": "move", "category": category, "facility": moving["facility"],
                     "lon": lon, "lat": lat, "from_lon": moving["lon"],
                     "from_lat": moving["lat"], "name": moving["name"]})
    return ClickOutcome(rows, None, "click_moved", {"name": moving["name"] or "—"})
