"""Where the service circle leaves households out: uncovered homes and gap areas.

Uncovered homes of a category are grouped into gap areas by single linkage *along the
street network*: two homes belong to one gap when one can walk from one to the other in
at most ``link_m``. This is done with one bounded search from all uncovered homes at once
(every home grows a region of ``link_m / 2`` along the streets; homes whose regions touch
are linked), not by pairwise distances and not as the crow flies.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp
import shapely
from scipy.sparse.csgraph import connected_components

from gis._errors import InputError
from gis.analysis.coverage import FULL_CIRCLE, CoverageResult
from gis.network.access import Access
from gis.network.graph import Snap
from gis.settings import Settings
from gis.zones import zone_of_homes


@dataclass(frozen=True)
class GapResult:
    """Uncovered homes of one category and the gap areas they form.

    Attributes
    ----------
    category
        A category id, or ``"full_circle"`` (homes missing at least one service).
    homes
        Uncovered, attached homes (local CRS) with ``gap_id``, ``dist_m`` (to the nearest
        facility of the category; NaN for the full circle) and ``missing`` (number of
        categories not covered).
    areas
        One polygon per gap, ranked by uncovered households: ``gap_id``, ``homes``,
        ``households``, ``nearest_facility`` (name or index of the nearest existing
        facility), ``nearest_dist_m`` and ``extra_min`` (minutes beyond the threshold to
        reach it, from the gap's best-placed home).
    threshold_m, speed_m_per_min
        The threshold and walking speed of the analysis.
    buffer_m
        The band around a gap's homes that forms its polygon.
    """

    category: str
    homes: gpd.GeoDataFrame
    areas: gpd.GeoDataFrame
    threshold_m: float
    speed_m_per_min: float
    buffer_m: float = float("nan")

    @property
    def households_uncovered(self) -> int:
        """Return the uncovered households in all gaps."""
        return int(self.homes["households"].sum())


def find_gaps(result: CoverageResult, category: str, settings: Settings, *,
              link_m: float | None = None, buffer_m: float | None = None,
              reuse: GapResult | None = None) -> GapResult:
    """Find the uncovered homes of ``category`` and group them into gap areas.

    Homes reach the streets as the result's access model says (snap limit, compound
    gates), for the linking and for the nearest existing facility alike.

    Parameters
    ----------
    result
        A coverage result.
    category
        A category of the result, or ``"full_circle"``.
    settings
        Settings (link distance, polygon buffer).
    link_m
        Homes within this walking distance of each other share a gap (default: settings).
    buffer_m
        Band around the gap's homes forming its polygon (default: settings).
    reuse
        Gaps found before in the same study area (e.g. before a scenario's change): a gap
        of exactly the same homes, with the same band, keeps that polygon instead of
        being drawn again (a click in the app changes a few of Malta's 2,000 gaps).

    Returns
    -------
    GapResult

    Examples
    --------
    >>> gaps = find_gaps(result, "health", settings)  # doctest: +SKIP
    >>> gaps.areas[["gap_id", "households", "extra_min"]].head(3)  # doctest: +SKIP
    """
    link = settings.gap_link_m if link_m is None else link_m
    buf = settings.gap_area_buffer_m if buffer_m is None else buffer_m
    if category != FULL_CIRCLE and category not in result.categories:
        msg = (f"Category `{category}` was not part of the coverage run; analyse it first "
               f"(categories run: {', '.join(result.categories)}).")
        raise InputError(msg)
    access = result.access
    homes = result.homes
    attached = homes["attached"].to_numpy(dtype=bool)
    cov_col = FULL_CIRCLE if category == FULL_CIRCLE else f"covered_{category}"
    missing = np.zeros(len(homes), dtype=np.int64)
    for cid in result.categories:
        missing += ~homes[f"covered_{cid}"].to_numpy(dtype=bool)
    unc_mask = attached & ~homes[cov_col].to_numpy(dtype=bool)
    unc = homes[unc_mask].copy()
    unc["missing"] = missing[unc_mask]
    if category == FULL_CIRCLE:
        threshold = np.nan
        speed = next(iter(result.thresholds.values())).speed_m_per_min
        unc["dist_m"] = np.nan
    else:
        threshold = result.thresholds[category].metres
        speed = result.thresholds[category].speed_m_per_min
        unc["dist_m"] = unc[f"dist_m_{category}"]
    sub = access.subset(access.home_positions(unc.index))
    unc["gap_id"] = _link_along_streets(sub, link)
    nearest_name = nearest_dist = None
    if category != FULL_CIRCLE and len(unc):
        fac = result.facilities[result.facilities["category"] == category]
        fsnap = access.snap(fac)
        nd, ns = access.network.nearest_sources(fsnap, with_source=True)
        nearest_dist, which = sub.home_distances(nd, fsnap, ns)
        labels = (fac["name"].astype(object) if "name" in fac else pd.Series(index=fac.index,
                                                                              dtype=object))
        labels = labels.where(labels.notna(), pd.Series(fac.index.astype(str),
                                                        index=fac.index))
        names = labels.to_numpy()
        assert which is not None  # asked for with the sources
        nearest_name = np.full(which.size, None, dtype=object)
        if names.size:
            found = which >= 0
            nearest_name[found] = names[which[found]]
    known = _known_shapes(reuse, buf) if reuse is not None else {}
    areas = _gap_areas(unc, buf, nearest_name, nearest_dist, threshold, speed, known)
    return GapResult(category=category, homes=gpd.GeoDataFrame(unc, crs=result.homes.crs),
                     areas=areas, threshold_m=float(threshold), speed_m_per_min=speed,
                     buffer_m=float(buf))


def _known_shapes(gaps: GapResult, buffer_m: float) -> dict[frozenset[object], shapely.Geometry]:
    """Return the polygon of each gap of ``gaps`` by its homes (none for another band)."""
    if not gaps.buffer_m == buffer_m or len(gaps.areas) == 0:
        return {}
    shape = dict(zip(gaps.areas["gap_id"].to_numpy().tolist(), gaps.areas.geometry,
                     strict=True))
    labels = gaps.homes.index.to_numpy()
    return {frozenset(labels[rows].tolist()): shape[int(gid)]
            for gid, rows in gaps.homes.groupby("gap_id").indices.items()
            if int(gid) in shape}


def _link_along_streets(access: Access, link_m: float) -> np.ndarray:
    """Return a gap number per home: single linkage at ``link_m`` along the network.

    Two homes are linked when their exits (attachment points, or the gates of their
    compound) are at most ``link_m`` apart along the streets; access legs do not count.
    Every exit grows a region of ``link_m / 2`` along the streets and homes whose regions
    meet are linked, including regions that meet inside a street too long for either to
    reach its far end.
    """
    network = access.network
    n_homes = access.n_homes
    if n_homes == 0:
        return np.zeros(0, dtype=np.int64)
    ex = access.exits
    n_ex = ex.edge.size
    r = link_m / 2.0
    n = network.n_nodes
    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    if n_ex:
        on_net = Snap(ex.index, ex.edge, ex.offset_m, np.zeros(n_ex), ex.too_far)
        nd = network.node_distances(on_net, limit_m=r)
        ru = r - nd[network.edge_u]
        rv = r - nd[network.edge_v]
        active = ru + rv >= network.edge_length_m
        rows.append(network.edge_u[active])
        cols.append(network.edge_v[active])
        e, s = ex.edge, ex.offset_m
        ln = network.edge_length_m[e]
        # An exit joins an end node when its region reaches the node, or meets inside the
        # street the region of whatever reached that node (from the other side).
        to_u = (s <= r) | (s + nd[network.edge_u[e]] <= link_m)
        to_v = (ln - s <= r) | (ln - s + nd[network.edge_v[e]] <= link_m)
        idx = np.arange(n_ex)
        rows += [n + idx[to_u], n + idx[to_v]]
        cols += [network.edge_u[e[to_u]], network.edge_v[e[to_v]]]
        # Exits on one street whose regions meet along it.
        order = np.lexsort((s, e))
        e_o, s_o, p_o = e[order], s[order], idx[order]
        near = (e_o[1:] == e_o[:-1]) & (s_o[1:] - s_o[:-1] <= link_m)
        rows.append(n + p_o[:-1][near])
        cols.append(n + p_o[1:][near])
    # Each exit belongs to its home (a home behind several gates links through all).
    rows.append(n + np.arange(n_ex))
    cols.append(n + n_ex + access.exit_home)
    rows_a = np.concatenate(rows)
    cols_a = np.concatenate(cols)
    size = n + n_ex + n_homes
    graph = sp.coo_matrix((np.ones(rows_a.size), (rows_a, cols_a)), shape=(size, size))
    _n, labels = connected_components(graph, directed=False)
    home_labels = labels[n + n_ex:]
    # Renumber gaps 1..k in order of first appearance.
    _uniq, first, inverse = np.unique(home_labels, return_index=True, return_inverse=True)
    rank = np.argsort(np.argsort(first))
    return rank[inverse] + 1


def _gap_areas(unc: gpd.GeoDataFrame, buffer_m: float, nearest_name: np.ndarray | None,
               nearest_dist: np.ndarray | None, threshold: float,
               speed: float, known: dict[frozenset[object], shapely.Geometry] | None = None,
               ) -> gpd.GeoDataFrame:
    cols = ["gap_id", "homes", "households", "nearest_facility", "nearest_dist_m",
            "extra_min"]
    if len(unc) == 0:
        return gpd.GeoDataFrame({c: [] for c in cols}, geometry=gpd.GeoSeries([], crs=unc.crs),
                                crs=unc.crs)
    gap = unc["gap_id"].to_numpy()
    hh = unc["households"].to_numpy()
    dist = (np.asarray(nearest_dist, dtype=float) if nearest_dist is not None
            else np.full(len(unc), np.nan))
    names = (np.asarray(nearest_name, dtype=object) if nearest_name is not None
             else np.full(len(unc), None, dtype=object))
    # One pass over the homes sorted by gap (and by distance within it): the first home
    # of each gap is its nearest to a facility (unknown distances last).
    order = np.lexsort((np.where(np.isfinite(dist), dist, np.inf), gap))
    ids, first, counts = np.unique(gap[order], return_index=True, return_counts=True)
    best = order[first]
    near_d = np.where(np.isfinite(dist[best]), dist[best], np.nan)
    polys = np.empty(len(ids), dtype=object)
    todo = np.ones(len(ids), dtype=bool)
    if known:
        labels = unc.index.to_numpy()
        for k in range(len(ids)):
            hit = known.get(frozenset(labels[order[first[k]:first[k] + counts[k]]].tolist()))
            if hit is not None:
                polys[k], todo[k] = hit, False
    # Bands only around the homes of gaps still to draw, in one call.
    rows = order[np.repeat(todo, counts)]
    geoms = np.empty(len(unc), dtype=object)
    geoms[rows] = shapely.buffer(np.asarray(unc.geometry.values)[rows], buffer_m, quad_segs=4)
    single = todo & (counts == 1)
    polys[single] = geoms[best[single]]
    for j in np.flatnonzero(todo & (counts > 1)).tolist():  # several homes: bands' union
        polys[j] = shapely.union_all(geoms[order[first[j]:first[j] + counts[j]]])
    with np.errstate(invalid="ignore"):
        extra = np.where(np.isfinite(near_d), np.maximum(0.0, (near_d - threshold) / speed),
                         np.nan)
    records = pd.DataFrame({
        "gap_id": ids.astype(int), "homes": counts.astype(int),
        "households": np.bincount(np.searchsorted(ids, gap), weights=hh,
                                  minlength=len(ids)).astype(int),
        "nearest_facility": [n if np.isfinite(d) else None
                             for n, d in zip(names[best], near_d, strict=True)],
        "nearest_dist_m": near_d, "extra_min": extra})
    areas = gpd.GeoDataFrame(records, geometry=list(polys), crs=unc.crs)
    return areas.sort_values(["households", "gap_id"], ascending=[False, True],
                             ignore_index=True)


def gap_table(gaps: GapResult, zones: gpd.GeoDataFrame, *,
              name_col: str = "name") -> pd.DataFrame:
    """Return uncovered homes and households per zone (community or grid), most first.

    Parameters
    ----------
    gaps
        Gaps of one category (:func:`find_gaps`).
    zones
        Communities or grids, with ``name_col``, in any CRS (projected to the homes').
    name_col
        Column naming each zone.

    Returns
    -------
    pandas.DataFrame
        ``zone``, ``homes_uncovered`` and ``households_uncovered``, most households first.
    """
    homes = gaps.homes
    joined = pd.DataFrame({"households": homes["households"].to_numpy(),
                           "_zone": zone_of_homes(homes, zones, name_col=name_col).to_numpy()},
                          index=homes.index)
    table = (joined.groupby("_zone")
             .agg(homes_uncovered=("households", "size"),
                  households_uncovered=("households", "sum"))
             .reset_index().rename(columns={"_zone": name_col}))
    return table.sort_values("households_uncovered", ascending=False, ignore_index=True)
