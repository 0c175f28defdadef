"""Walking time from every home to the nearest facility of each category, and circles.

For each category one multi-source search from all its facilities at once gives every
network node its distance to the nearest facility; each home then reads the better of its
edge's two nodes plus the walk along its edge and its access leg (see gis.network.graph). No
search runs per facility, except to draw each facility's own service circle.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import scipy.sparse as sp
import shapely
from scipy.sparse.csgraph import connected_components

from gis._errors import CRSMismatchError, InputError, NoReachableFacilityError
from gis.cores import on_cores
from gis.crs import require_projected
from gis.network.access import Access
from gis.network.graph import WalkNetwork
from gis.progress import Progress
from gis.settings import Settings
from gis.zones import WHOLE_AREA, zone_of_homes

log = logging.getLogger(__name__)


FULL_CIRCLE = "full_circle"


@dataclass(frozen=True)
class Threshold:
    """A walk threshold, as metres and as minutes at one walking speed."""

    metres: float
    speed_m_per_min: float

    @property
    def minutes(self) -> float:
        """Return the threshold in minutes at the speed."""
        return self.metres / self.speed_m_per_min


def resolve_thresholds(settings: Settings, categories: Sequence[str], *,
                       minutes: float | None = None, metres: float | None = None,
                       profile: str | None = None) -> dict[str, Threshold]:
    """Return the threshold of each category.

    ``metres`` wins over ``minutes``; with neither, each category's own ``threshold_min``
    from the catalogue applies. Minutes become metres at the profile's walking speed.

    Parameters
    ----------
    settings
        Settings: the catalogue and walking speeds.
    categories
        Category ids.
    minutes
        One walking time for every category, or None.
    metres
        One walking distance for every category (wins over ``minutes``), or None.
    profile
        Walking profile whose speed turns minutes into metres (None: the default).

    Returns
    -------
    dict
        Category id to its :class:`Threshold` (metres, minutes, where it came from).
    """
    speed = settings.speed(profile)
    if metres is not None and metres <= 0 or minutes is not None and minutes <= 0:
        msg = f"The walk threshold must be positive, found minutes={minutes}, metres={metres}."
        raise InputError(msg)
    out = {}
    for cid in categories:
        if metres is not None:
            out[cid] = Threshold(float(metres), speed)
        else:
            mins = minutes if minutes is not None else settings.category(cid).threshold_min
            out[cid] = Threshold(float(mins) * speed, speed)
    return out


@dataclass(frozen=True, eq=False)
class CoverageResult:
    """Walking access of every home to each service category.

    Attributes
    ----------
    homes
        Residential buildings in the local CRS, indexed like the input, with
        ``households``, ``snap_m`` (access leg), ``attached`` (False when farther than the
        snap limit from the network), ``reason``, and for each category id ``c``:
        ``dist_m_c``, ``time_min_c`` and ``covered_c``; then ``n_covered`` and
        ``full_circle`` (every category covered).
    facilities
        The facilities used, local CRS, with ``attached`` and ``snap_m``.
    thresholds
        The threshold of each category.
    profile
        Name of the walking profile.
    access
        How the homes reach the streets (network, snap limit, gates); every analysis
        that starts from this result asks it for distances, so all of them agree.
    """

    homes: gpd.GeoDataFrame
    facilities: gpd.GeoDataFrame
    thresholds: dict[str, Threshold]
    profile: str
    access: Access

    @property
    def network(self) -> WalkNetwork:
        """Return the walking network of the result."""
        return self.access.network

    @property
    def categories(self) -> tuple[str, ...]:
        """Return the category ids analysed, in order."""
        return tuple(self.thresholds)

    @property
    def local_crs(self) -> pyproj.CRS:
        """Return the metric CRS of the result."""
        return pyproj.CRS(self.homes.crs)

    @property
    def no_data(self) -> tuple[str, ...]:
        """Return the categories with no facility attached in the study area.

        Their coverage is unknown, not zero: they are reported as "no data" and left out
        of the full circle.
        """
        fac = self.facilities
        have = set(fac.loc[fac["attached"].to_numpy(dtype=bool), "category"])
        return tuple(c for c in self.categories if c not in have)

    @property
    def share_covered(self) -> pd.Series:
        """Return the share of attached households covered, per category and full circle."""
        return area_summary(self).set_index("category")["share_covered"]

    def with_facilities(self, facilities: gpd.GeoDataFrame, settings: Settings) -> CoverageResult:
        """Return the result recomputed for other facilities (same homes, access, thresholds).

        Parameters
        ----------
        facilities
            The other facilities, in the network's CRS, with ``category``.
        settings
            Settings: speeds and the catalogue.

        Returns
        -------
        CoverageResult
            A new result; this one is not changed.
        """
        return compute_coverage(self.access, facilities, settings,
                                CoverageOptions(thresholds=self.thresholds, profile=self.profile))

    def with_thresholds(self, settings: Settings,
                        options: CoverageOptions) -> CoverageResult:
        """Return the result at other thresholds or another walking profile, no search.

        Every search of :func:`compute_coverage` is unbounded, so the homes' distances
        hold for any threshold: only the times, the covered flags and the full circle
        change (Malta's six categories: 0.3 s of searches spared). The categories stay
        this result's; ``options.categories`` is not read.

        Parameters
        ----------
        settings
            Settings: speeds and the catalogue.
        options
            The thresholds and walking profile (as for :func:`compute_coverage`).

        Returns
        -------
        CoverageResult
            A new result, equal to a new :func:`compute_coverage` with ``options``; this
            one is not changed.
        """
        thresholds = (dict(options.thresholds) if options.thresholds is not None else
                      resolve_thresholds(settings, self.categories, minutes=options.minutes,
                                         metres=options.metres, profile=options.profile))
        unknown = [c for c in thresholds if c not in self.thresholds]
        if unknown:
            msg = (f"Categories {', '.join(unknown)} were not part of this coverage run; "
                   "run compute_coverage for them.")
            raise InputError(msg)
        homes = self.homes
        no_data = set(self.no_data)
        columns = _threshold_columns(
            {c: homes[f"dist_m_{c}"].to_numpy() for c in thresholds}, thresholds,
            {c: c not in no_data for c in thresholds}, homes["attached"].to_numpy(dtype=bool))
        decided = [c for c in homes.columns if c in ("n_covered", FULL_CIRCLE)
                   or c.startswith(("dist_m_", "time_min_", "covered_"))]
        out = pd.concat([homes.drop(columns=decided), pd.DataFrame(columns, index=homes.index)],
                        axis=1)
        return CoverageResult(homes=gpd.GeoDataFrame(out, geometry=homes.geometry.name,
                                                     crs=homes.crs),
                              facilities=self.facilities, thresholds=thresholds,
                              profile=options.profile or settings.default_profile,
                              access=self.access)


@dataclass(frozen=True)
class CoverageOptions:
    """What a coverage run computes: which categories, how far, at whose pace.

    Attributes
    ----------
    categories
        Category ids to analyse (None: every category of the catalogue).
    minutes, metres
        Override every category's threshold (see :func:`resolve_thresholds`).
    profile
        Walking profile name (``adult``, ``elderly``, ...; None: the default).
    thresholds
        The thresholds of an earlier result, to rerun with exactly the same ones
        (overrides ``minutes``, ``metres`` and ``categories``).

    Examples
    --------
    >>> opts = CoverageOptions(categories=("health",), minutes=15, profile="elderly")
    >>> opts.metres is None
    True
    """

    categories: Sequence[str] | None = None
    minutes: float | None = None
    metres: float | None = None
    profile: str | None = None
    thresholds: Mapping[str, Threshold] | None = None


def compute_coverage(access: Access, facilities: gpd.GeoDataFrame, settings: Settings,
                     options: CoverageOptions | None = None, *,
                     progress: Progress | None = None) -> CoverageResult:
    """Compute walking distance and time from every home to each category's nearest facility.

    Parameters
    ----------
    access
        The homes and how they reach the network (:func:`gis.network.access.build_access`):
        the snap limit and the gate model hold for every later analysis of the result.
    facilities
        Points in the network's CRS with a ``category`` column.
    settings
        Settings: speeds and thresholds.
    options
        Categories, thresholds and walking profile (None: every category at its own
        threshold, default profile).
    progress
        Called with a message per step.

    Returns
    -------
    CoverageResult
        Per home and category: distance, time and covered; the facilities as attached;
        the thresholds used; the access model.

    Examples
    --------
    >>> access = build_access(study.network, study.homes, snap_max_m=250)  # doctest: +SKIP
    >>> result = compute_coverage(access, study.facilities, settings,
    ...                           CoverageOptions(profile="elderly"))  # doctest: +SKIP
    >>> result.share_covered["health"]  # doctest: +SKIP
    0.83
    """
    opts = options or CoverageOptions()
    categories, minutes, metres = opts.categories, opts.minutes, opts.metres
    profile = opts.profile
    thresholds = dict(opts.thresholds) if opts.thresholds is not None else None
    say = progress or (lambda _m: None)
    network = access.network
    require_projected(("facilities", facilities))
    if not pyproj.CRS(facilities.crs).equals(network.crs):
        msg = (f"`facilities` are in {facilities.crs} but the network is in "
               f"{network.crs.to_string()}; project them with "
               "gis.crs.to_local(facilities, network.crs).")
        raise CRSMismatchError(msg)
    if "category" not in facilities:
        msg = "`facilities` has no `category` column; name each facility's service category."
        raise InputError(msg)
    if thresholds is not None:
        cats = tuple(thresholds)
    else:
        cats = tuple(categories) if categories is not None else settings.category_ids
        for cid in cats:
            settings.category(cid)  # raises for an unknown id
        thresholds = resolve_thresholds(settings, cats, minutes=minutes, metres=metres,
                                        profile=profile)
    homes = access.homes
    hsnap = access.home_snap
    facilities = facilities[facilities["category"].isin(cats)]
    say(f"attaching {len(facilities)} facilities to the network")
    fsnap = access.snap(facilities)

    # Columns of an earlier result are recomputed, not duplicated.
    stale = [c for c in homes.columns
             if c in ("snap_m", "attached", "reason", "n_covered", FULL_CIRCLE)
             or c.startswith(("dist_m_", "time_min_", "covered_"))]
    out = homes.drop(columns=stale)
    out["snap_m"] = hsnap.access_m
    out["attached"] = hsnap.ok
    reason = np.full(len(out), "", dtype=object)
    far = np.flatnonzero(~hsnap.ok)
    reason[far] = [f"farther than {access.snap_max_m:.0f} m from the walking network "
                   f"({a:.0f} m)" if np.isfinite(a) else "no geometry"
                   for a in hsnap.access_m[far]]
    out["reason"] = reason
    fac = facilities.copy()
    fac["snap_m"] = fsnap.access_m
    fac["attached"] = fsnap.ok
    fac_cat = fac["category"].to_numpy()

    dists: dict[str, np.ndarray] = {}
    has_data: dict[str, bool] = {}
    for cid in cats:
        src = fsnap.subset(fac_cat == cid)
        say(f"searching walking distances to {cid} ({int(src.ok.sum())} facilities)")
        # Unbounded: the distances hold for every threshold (see with_thresholds).
        dists[cid] = access.home_distances(network.node_distances(src), src)[0]
        has_data[cid] = bool(src.ok.any())
    columns = _threshold_columns(dists, thresholds, has_data, hsnap.ok)
    out = pd.concat([out, pd.DataFrame(columns, index=out.index)], axis=1)
    return CoverageResult(homes=gpd.GeoDataFrame(out, geometry=homes.geometry.name,
                                                 crs=homes.crs),
                          facilities=fac, thresholds=thresholds,
                          profile=profile or settings.default_profile, access=access)


def _threshold_columns(dists: Mapping[str, np.ndarray], thresholds: Mapping[str, Threshold],
                       has_data: Mapping[str, bool], attached: np.ndarray
                       ) -> dict[str, np.ndarray]:
    """Return the homes' columns a threshold decides, from their distances.

    Per category ``dist_m_c``, ``time_min_c`` and ``covered_c``; then ``n_covered`` and
    the full circle (every category with a facility in the data covered; a category
    without one is left out of it).
    """
    columns: dict[str, np.ndarray] = {}
    covered_all = np.ones(attached.size, dtype=bool)
    n_covered = np.zeros(attached.size, dtype=np.int64)
    with_data = 0
    for cid, dist in dists.items():
        thr = thresholds[cid]
        cov = np.nan_to_num(dist, nan=np.inf) <= thr.metres
        columns[f"dist_m_{cid}"] = dist
        columns[f"time_min_{cid}"] = dist / thr.speed_m_per_min
        columns[f"covered_{cid}"] = cov
        if has_data[cid]:
            covered_all &= cov
            with_data += 1
        n_covered += cov
    columns["n_covered"] = n_covered
    columns[FULL_CIRCLE] = covered_all & attached & (with_data > 0)
    return columns


def area_summary(result: CoverageResult) -> pd.DataFrame:
    """Return households covered per category and for the full circle, whole area.

    Parameters
    ----------
    result
        A coverage result.

    Returns
    -------
    pandas.DataFrame
        One row per category and a last ``full_circle`` row: ``threshold_m``,
        ``threshold_min``, ``households`` (attached), ``households_covered``,
        ``share_covered``, ``households_left_out`` (homes too far from the network),
        ``no_data`` (no facility of the category in the data: its share is NaN, not 0, and
        it is left out of the full circle), ``left_out_of_full_circle`` (those
        categories, on the full circle's row) and ``households_estimated`` (of the
        households, those estimated from the area of a residential area without mapped
        buildings).
    """
    h = result.homes
    no_data = result.no_data
    att = h["attached"].to_numpy()
    hh = h["households"].to_numpy()
    total = int(hh[att].sum())
    estimated = int(hh[att & _from_area(h)].sum())
    left_out = int(hh[~att].sum())
    rows = []
    for cid, thr in result.thresholds.items():
        cov = int(hh[h[f"covered_{cid}"].to_numpy()].sum())
        rows.append({"category": cid, "threshold_m": thr.metres, "threshold_min": thr.minutes,
                     "facilities": int(((result.facilities["category"] == cid)
                                        & result.facilities["attached"]).sum()),
                     "households": total, "households_covered": cov,
                     "share_covered": cov / total if total and cid not in no_data
                     else np.nan,
                     "households_left_out": left_out, "no_data": cid in no_data,
                     "left_out_of_full_circle": "", "households_estimated": estimated})
    cov = int(hh[h[FULL_CIRCLE].to_numpy()].sum())
    all_missing = len(no_data) == len(result.categories)
    rows.append({"category": FULL_CIRCLE, "threshold_m": np.nan, "threshold_min": np.nan,
                 "facilities": int(result.facilities["attached"].sum()),
                 "households": total, "households_covered": cov,
                 "share_covered": cov / total if total and not all_missing else np.nan,
                 "households_left_out": left_out, "no_data": all_missing,
                 "left_out_of_full_circle": ",".join(no_data),
                 "households_estimated": estimated})
    return pd.DataFrame(rows)


def _from_area(homes: pd.DataFrame) -> np.ndarray:
    """Return which homes have households estimated from an area's size."""
    if "hh_source" not in homes:
        return np.zeros(len(homes), dtype=bool)
    return np.asarray(homes["hh_source"].to_numpy(dtype=object) == "estimated from area")


def zone_summary(result: CoverageResult, zones: gpd.GeoDataFrame, *,
                 name_col: str = "name") -> pd.DataFrame:
    """Return households and share covered per zone (community or grid) and category.

    Homes belong to the zone containing their centroid.

    Parameters
    ----------
    result
        A coverage result.
    zones
        Polygons in the result's CRS with a ``name_col`` column.
    name_col
        Column naming each zone.

    Returns
    -------
    pandas.DataFrame
        One row per zone: ``households``, ``households_estimated`` (estimated from the
        area of residential areas without mapped buildings), then ``share_<category>``
        for each category (NaN for a category with no facility in the data) and
        ``share_full_circle``. Homes
        outside every zone are counted in a row named ``""`` only if there are any.
    """
    require_projected(("homes", result.homes), ("zones", zones))
    joined = result.homes[result.homes["attached"]]
    zone = zone_of_homes(joined, zones, name_col=name_col)
    hh = joined["households"].astype(float)
    frame = pd.DataFrame({"zone": zone, "households": hh,
                          "households_estimated": hh * _from_area(joined)})
    for cid in (*result.categories, FULL_CIRCLE):
        col = f"covered_{cid}" if cid != FULL_CIRCLE else FULL_CIRCLE
        frame[f"hh_{cid}"] = hh * joined[col].astype(bool)
    agg = frame.groupby("zone", sort=True).sum()
    out = pd.DataFrame({"households": agg["households"].astype(int),
                        "households_estimated": agg["households_estimated"].astype(int)})
    no_data = set(result.no_data)
    for cid in (*result.categories, FULL_CIRCLE):
        share = agg[f"hh_{cid}"] / agg["households"].where(agg["households"] > 0)
        out[f"share_{cid}"] = np.nan if cid in no_data else share  # unknown, not 0
    return out.reset_index().rename(columns={"zone": name_col})


def households_served(result: CoverageResult, category: str) -> pd.Series:
    """Return, per facility of ``category``, the households within its threshold.

    One bounded search per facility (compiled, in chunks); a home counts for every
    facility that reaches it, so the numbers can add up to more than the households.
    Homes reach the streets as the result's access model says (snap limit, gates).

    Parameters
    ----------
    result
        A coverage result.
    category
        The category id.

    Returns
    -------
    pandas.Series
        Households, indexed like the category's rows of ``result.facilities`` (0 for
        facilities too far from the network).
    """
    fac = result.facilities[result.facilities["category"] == category]
    out = pd.Series(0, index=fac.index, dtype=np.int64)
    if len(fac) == 0:
        return out
    access = result.access
    thr = result.thresholds[category].metres
    fsnap = access.snap(fac)
    hh = access.homes["households"].to_numpy()
    f_pos, h_pos, _d = access.pair_distances(fsnap, limit_m=thr)
    out[:] = np.bincount(f_pos, weights=hh[h_pos], minlength=len(fac)).astype(np.int64)
    return out


def service_circles(result: CoverageResult, settings: Settings, *,
                    facilities: gpd.GeoDataFrame | None = None,
                    categories: Sequence[str] | None = None,
                    buffer_m: float | None = None,
                    progress: Progress | None = None) -> gpd.GeoDataFrame:
    """Return the area each facility serves: the streets it is the nearest facility for.

    One multi-source search per category (the same as the coverage engine's) gives every
    street point its nearest facility; each reachable street part (cut at the exact point
    where the threshold runs out, and where the walks of two facilities meet) goes to
    that facility, and each facility's parts are buffered by ``buffer_m`` and unioned.
    So the circles of a category tile its combined circle (:func:`category_circle`),
    with no search and no union per facility over the whole area: the cost grows with
    the streets reached, not with facilities x streets. Each row also gives
    ``hull_area_m2``, the convex hull of the same streets, to show how much a hull would
    overstate.

    Parameters
    ----------
    result
        The coverage result: each category's threshold, and the access model that
        attaches facilities and homes (so ``households`` agrees with the homes layer).
    settings
        Settings (buffer width).
    facilities
        Facilities with ``category`` in the network CRS (default ``result.facilities``).
    categories
        Categories to draw (default: every category of the result).
    buffer_m
        Half-width of the band around reachable streets (default: settings).
    progress
        Called with a message per step.

    Returns
    -------
    geopandas.GeoDataFrame
        One polygon per attached facility that reaches a street, with ``facility`` (its
        index label), ``category``, ``name``, ``threshold_m``, ``area_m2``,
        ``hull_area_m2`` and ``households`` (households whose nearest facility of the
        category it is, within the threshold).
    """
    say = progress or (lambda _m: None)
    access = result.access
    network = access.network
    buf = settings.circle_buffer_m if buffer_m is None else buffer_m
    facilities = result.facilities if facilities is None else facilities
    cats = tuple(categories) if categories is not None else result.categories
    fac = facilities[facilities["category"].isin(cats)]
    hh = access.homes["households"].to_numpy()

    def one_category(cid: str) -> gpd.GeoDataFrame | None:
        thr = result.thresholds[cid].metres
        mine = fac[fac["category"] == cid]
        fsnap = access.snap(mine)
        if not fsnap.ok.any():
            return None
        node_dist, node_src = network.nearest_sources(fsnap, limit_m=thr, with_source=True)
        lines, owner = network.reachable_parts(node_dist, thr, fsnap, node_src)
        keep = owner >= 0
        lines, owner = lines[keep], owner[keep]
        if lines.size == 0:
            return None
        dist, which = access.home_distances(node_dist, fsnap, node_src)
        assert which is not None  # asked for with node_src
        served = np.nan_to_num(dist, nan=np.inf) <= thr
        households = np.bincount(which[served], weights=hh[served], minlength=len(mine))
        polys, hulls, ids = _bands_by_owner(lines, owner, buf)
        rows = [(mine.index[pos], mine["name"].iloc[pos] if "name" in mine else None,
                 int(households[pos])) for pos in ids]
        area = shapely.area(np.asarray(polys, dtype=object))
        return gpd.GeoDataFrame({
            "facility": [r[0] for r in rows], "category": cid, "name": [r[1] for r in rows],
            "threshold_m": thr, "area_m2": area,
            "hull_area_m2": shapely.area(np.asarray(hulls, dtype=object)),
            "households": np.asarray([r[2] for r in rows], dtype=np.int64)},
            geometry=polys, crs=network.crs)

    say(f"drawing the service circles of {len(fac)} facilities in {len(cats)} categories")
    frames = [f for f in on_cores(one_category, cats) if f is not None]
    if not frames:
        return gpd.GeoDataFrame(
            {"facility": [], "category": [], "name": [], "threshold_m": [], "area_m2": [],
             "hull_area_m2": [], "households": []},
            geometry=gpd.GeoSeries([], crs=network.crs), crs=network.crs)
    return gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs=network.crs)


def category_circles(result: CoverageResult, settings: Settings, *,
                     buffer_m: float | None = None,
                     circles: gpd.GeoDataFrame | None = None) -> gpd.GeoDataFrame:
    """Return one combined service circle per category (one search and one union each).

    Parameters
    ----------
    result
        The coverage result.
    settings
        Settings (buffer width).
    buffer_m
        Half-width of the band around reachable streets (default: settings).
    circles
        The per-facility circles of :func:`service_circles` with the same buffer, when
        already drawn: they tile each category's circle, so their union is it (and much
        cheaper than unioning the streets again).

    Returns
    -------
    geopandas.GeoDataFrame
        ``category``, ``threshold_m``, ``area_m2``; categories with no facility near the
        network are left out.
    """
    def one_category(cid: str) -> shapely.Geometry | None:
        thr = result.thresholds[cid].metres
        if circles is not None:
            mine = circles.geometry[(circles["category"] == cid).to_numpy()]
            return shapely.union_all(np.asarray(mine.values)) if len(mine) else None
        try:
            return category_circle(result.access, result.facilities, cid, thr, settings,
                                   buffer_m=buffer_m)
        except NoReachableFacilityError:
            return None

    rows, geoms = [], []
    for cid, geom in zip(result.categories, on_cores(one_category, result.categories),
                         strict=True):
        if geom is None:
            continue
        thr = result.thresholds[cid].metres
        rows.append({"category": cid, "threshold_m": thr, "area_m2": float(shapely.area(geom))})
        geoms.append(geom)
    return gpd.GeoDataFrame(rows or {"category": [], "threshold_m": [], "area_m2": []},
                            geometry=gpd.GeoSeries(geoms, crs=result.local_crs),
                            crs=result.local_crs)


def category_circle(access: Access, facilities: gpd.GeoDataFrame, category: str,
                    threshold_m: float, settings: Settings, *,
                    buffer_m: float | None = None) -> shapely.Geometry:
    """Return the union of the service circles of one category, from one search.

    Facilities attach under the access model's snap limit.

    Parameters
    ----------
    access
        How homes and facilities reach the network.
    facilities
        The category's facilities (network CRS).
    category
        The category id (for messages).
    threshold_m
        Walking distance of the circle.
    settings
        Settings: the circle's default buffer.
    buffer_m
        Width of the band around the reachable streets (None: ``circle_buffer_m``).

    Returns
    -------
    shapely.Geometry
        The category's service circle: the reachable streets, cut at the exact point, buffered
        once and unioned.
    """
    buf = settings.circle_buffer_m if buffer_m is None else buffer_m
    fac = facilities[facilities["category"] == category]
    snap = access.snap(fac)
    if not snap.ok.any():
        msg = (f"No facility of category `{category}` lies within {access.snap_max_m:.0f} m "
               "of the walking network; check the facilities layer and its coordinate system.")
        raise NoReachableFacilityError(msg)
    node_dist = access.network.node_distances(snap, limit_m=threshold_m)
    lines = access.network.reachable_lines(node_dist, threshold_m, snap)
    return _band(lines, buf)


def _band(lines: np.ndarray, buffer_m: float) -> shapely.Geometry:
    """Return the union of a band of ``buffer_m`` around each line.

    Street parts that continue one another are joined first (fewer, longer lines, see
    :func:`_trails`), then each is buffered and the bands unioned: in GEOS this is about
    a hundred times faster than buffering one MultiLineString of thousands of parts.

    The union is GEOS's disjoint-subset union: the bands fall apart into the separate
    pieces of the circle (dozens to hundreds of islands around a district's facilities),
    each unioned alone. The same polygon as ``union_all``, in 60 % of its time for
    Porto's six categories and 80 % for Malta's. (Unions in west-to-east strips, one per
    core, then joined, gained less, and cost more where categories are drawn side by
    side.)
    """
    if lines.size == 0:
        return shapely.Polygon()
    trails, _group = _trails(lines, np.zeros(lines.size, dtype=np.int64))
    bands = shapely.buffer(trails, buffer_m, quad_segs=4)
    return shapely.disjoint_subset_union_all(bands)


def _trails(lines: np.ndarray, group: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Join lines of one group through the nodes where two or more of them meet.

    ``line_merge`` stops at every junction: a street grid stays one line per block side.
    Here the ends meeting at any node are paired (two by two, within a group) and each
    chain of paired lines becomes one line, which may cross itself. The band around it is
    the union of the bands around its parts (but for where GEOS puts the vertices of the
    arcs at the joints: within 1.5 m at a 25 m band, 0.0003 % of a Malta circle's area),
    in GEOS one buffer instead of several bands to union: 40 % of a Malta category
    circle's time, 25 % of Porto's largest. Plain bends are joined here too: a
    ``line_merge`` before this, for them alone, only doubled the work (0.99 s against
    0.54 s for Porto's largest circle).

    Returns the joined lines, sorted by group, and each one's group.
    """
    keep = ~shapely.is_empty(lines)
    lines, group = lines[keep], group[keep]
    m = lines.size
    if m < 2:
        return lines, group
    # Each line's first and last point from one pass over the coordinates (get_point
    # made a geometry of each end first: 0.24 s against 0.02 s for Porto's catering).
    coords, of = shapely.get_coordinates(lines, return_index=True)
    last = np.cumsum(np.bincount(of, minlength=m)) - 1
    first = np.r_[0, last[:-1] + 1]
    ends = np.vstack([coords[first], coords[last]])
    key = np.column_stack([np.tile(group, 2), np.round(ends, 2)])
    order = np.lexsort((key[:, 2], key[:, 1], key[:, 0]))
    k = key[order]
    new = np.ones(2 * m, dtype=bool)
    new[1:] = np.any(k[1:] != k[:-1], axis=1)
    node = np.cumsum(new) - 1
    rank = np.arange(2 * m) - np.flatnonzero(new)[node]  # place of the end at its node
    line_of = order % m
    pair = np.flatnonzero((rank[:-1] % 2 == 0) & (node[1:] == node[:-1]))
    u, v = line_of[pair], line_of[pair + 1]
    joined = sp.coo_matrix((np.ones(u.size), (u, v)), shape=(m, m))
    _n, chain = connected_components(joined, directed=False)
    by_chain = np.argsort(chain, kind="stable")
    multi = shapely.multilinestrings(lines[by_chain], indices=chain[by_chain])
    out, which = shapely.get_parts(shapely.line_merge(multi), return_index=True)
    chain_group = np.empty(int(chain.max()) + 1, dtype=group.dtype)
    chain_group[chain] = group
    out_group = chain_group[which]
    again = np.argsort(out_group, kind="stable")
    return out[again], out_group[again]


def _bands_by_owner(lines: np.ndarray, owner: np.ndarray, buffer_m: float
                    ) -> tuple[list[shapely.Geometry], list[shapely.Geometry], list[int]]:
    """Return, per owner, the band around its lines, the buffered hull, and the owners.

    Lines are merged per owner in one vectorised call, buffered in one call, and unioned
    per owner (each union only over that owner's bands).
    """
    order = np.argsort(owner, kind="stable")
    owner_s, lines_s = owner[order], lines[order]
    ids, group = np.unique(owner_s, return_inverse=True)
    multi = shapely.multilinestrings(lines_s, indices=group)
    merged, which = _trails(lines_s, group)
    bands = shapely.buffer(merged, buffer_m, quad_segs=4)
    hulls = shapely.buffer(shapely.convex_hull(multi), buffer_m)
    cuts = np.flatnonzero(np.diff(which)) + 1
    polys = [shapely.union_all(b) for b in np.split(bands, cuts)]
    return polys, list(hulls), [int(i) for i in ids]


def gate_effect(plain: CoverageResult, gated: CoverageResult,
                zones: gpd.GeoDataFrame | None = None) -> pd.DataFrame:
    """Return households covered without and with the gates honoured, per zone and category.

    Parameters
    ----------
    plain, gated
        Two gis.analysis.coverage.CoverageResult of the same homes, without and with compounds.
    zones
        Polygons with ``name`` in the results' CRS; without them, the whole area.

    Returns
    -------
    pandas.DataFrame
        ``zone``, ``category``, ``covered_without_gates``, ``covered_with_gates`` and
        ``households_changed`` (the homes whose covered flag differs, by households).
    """
    homes = plain.homes[plain.homes["attached"]]
    other = gated.homes.loc[homes.index]
    if zones is not None and len(zones):
        zone = zone_of_homes(homes, zones).to_numpy()
    else:
        zone = np.full(len(homes), WHOLE_AREA, dtype=object)
    hh = homes["households"].to_numpy()
    rows = []
    for cid in plain.categories:
        a = homes[f"covered_{cid}"].to_numpy(dtype=bool)
        b = other[f"covered_{cid}"].to_numpy(dtype=bool)
        for z in pd.unique(zone):
            m = zone == z
            rows.append({"zone": z, "category": cid,
                         "covered_without_gates": int(hh[m & a].sum()),
                         "covered_with_gates": int(hh[m & b].sum()),
                         "households_changed": int(hh[m & (a != b)].sum())})
    return pd.DataFrame(rows)
