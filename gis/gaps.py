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
from gis.coverage import FULL_CIRCLE, CoverageResult
from gis.network import Snap, WalkNetwork
from gis.settings import Settings


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
    """

    category: str
    homes: gpd.GeoDataFrame
    areas: gpd.GeoDataFrame
    threshold_m: float
    speed_m_per_min: float

    @property
    def households_uncovered(self) -> int:
        """Return the uncovered households in all gaps."""
        return int(self.homes["households"].sum())


def find_gaps(network: WalkNetwork, result: CoverageResult, category: str,
              settings: Settings, *, link_m: float | None = None,
              buffer_m: float | None = None) -> GapResult:
    """Find the uncovered homes of ``category`` and group them into gap areas.

    Parameters
    ----------
    network
        The walking network of the result.
    result
        A coverage result.
    category
        A category of the result, or ``"full_circle"``.
    settings
        Settings (link distance, polygon buffer, snap limit).
    link_m
        Homes within this walking distance of each other share a gap (default: settings).
    buffer_m
        Band around the gap's homes forming its polygon (default: settings).

    Returns
    -------
    GapResult
    """
    link = settings.gap_link_m if link_m is None else link_m
    buf = settings.gap_area_buffer_m if buffer_m is None else buffer_m
    if category != FULL_CIRCLE and category not in result.categories:
        msg = (f"Category `{category}` was not part of the coverage run; analyse it first "
               f"(categories run: {', '.join(result.categories)}).")
        raise InputError(msg)
    homes = result.homes[result.homes["attached"]]
    cov_col = FULL_CIRCLE if category == FULL_CIRCLE else f"covered_{category}"
    cats = result.categories
    missing = np.zeros(len(homes), dtype=np.int64)
    for cid in cats:
        missing += ~homes[f"covered_{cid}"].to_numpy(dtype=bool)
    unc = homes[~homes[cov_col].to_numpy(dtype=bool)].copy()
    unc["missing"] = missing[~homes[cov_col].to_numpy(dtype=bool)]
    if category == FULL_CIRCLE:
        threshold = np.nan
        speed = next(iter(result.thresholds.values())).speed_m_per_min
        unc["dist_m"] = np.nan
    else:
        threshold = result.thresholds[category].metres
        speed = result.thresholds[category].speed_m_per_min
        unc["dist_m"] = unc[f"dist_m_{category}"]
    hsnap = network.snap(unc, max_m=settings.snap_max_m)
    unc["gap_id"] = _link_along_streets(network, hsnap, link)
    nearest_name = nearest_dist = None
    if category != FULL_CIRCLE and len(unc):
        fac = result.facilities[result.facilities["category"] == category]
        fsnap = network.snap(fac, max_m=settings.snap_max_m)
        nd, ns = network.nearest_sources(fsnap, with_source=True)
        nearest_dist, which = network.nearest_to(hsnap, nd, fsnap, ns)
        labels = (fac["name"].astype(object) if "name" in fac else pd.Series(index=fac.index,
                                                                              dtype=object))
        labels = labels.where(labels.notna(), pd.Series(fac.index.astype(str),
                                                        index=fac.index))
        names = labels.to_numpy()
        nearest_name = (np.where(which >= 0, names[np.maximum(which, 0)], None) if names.size
                        else np.full(which.size, None, dtype=object))
    areas = _gap_areas(unc, buf, nearest_name, nearest_dist, threshold, speed)
    return GapResult(category=category, homes=gpd.GeoDataFrame(unc, crs=result.homes.crs),
                     areas=areas, threshold_m=float(threshold), speed_m_per_min=speed)


def _link_along_streets(network: WalkNetwork, snap: Snap, link_m: float) -> np.ndarray:
    """Return a gap number per point: single linkage at ``link_m`` along the network."""
    n_pts = snap.edge.size
    if n_pts == 0:
        return np.zeros(0, dtype=np.int64)
    r = link_m / 2.0
    # Regions of radius r along the network from every point (no access legs: the
    # distance between two homes is measured between their attachment points).
    on_net = Snap(snap.index, snap.edge, snap.offset_m, np.zeros(n_pts), snap.too_far)
    nd = network.node_distances(on_net, limit_m=r)
    n = network.n_nodes
    ru = r - nd[network.edge_u]
    rv = r - nd[network.edge_v]
    active = ru + rv >= network.edge_length_m
    rows = [network.edge_u[active]]
    cols = [network.edge_v[active]]
    ok = np.flatnonzero(snap.ok)
    e, s = snap.edge[ok], snap.offset_m[ok]
    ln = network.edge_length_m[e]
    to_u, to_v = s <= r, ln - s <= r
    rows += [n + ok[to_u], n + ok[to_v]]
    cols += [network.edge_u[e[to_u]], network.edge_v[e[to_v]]]
    # Points on one edge whose regions meet along it.
    order = np.lexsort((s, e))
    e_o, s_o, p_o = e[order], s[order], ok[order]
    near = (e_o[1:] == e_o[:-1]) & (s_o[1:] - s_o[:-1] <= link_m)
    rows.append(n + p_o[:-1][near])
    cols.append(n + p_o[1:][near])
    rows_a = np.concatenate(rows)
    cols_a = np.concatenate(cols)
    graph = sp.coo_matrix((np.ones(rows_a.size), (rows_a, cols_a)),
                          shape=(n + n_pts, n + n_pts))
    _n, labels = connected_components(graph, directed=False)
    point_labels = labels[n:]
    # Renumber gaps 1..k in order of first appearance.
    _uniq, first, inverse = np.unique(point_labels, return_index=True, return_inverse=True)
    rank = np.argsort(np.argsort(first))
    return rank[inverse] + 1


def _gap_areas(unc: gpd.GeoDataFrame, buffer_m: float, nearest_name: np.ndarray | None,
               nearest_dist: np.ndarray | None, threshold: float,
               speed: float) -> gpd.GeoDataFrame:
    cols = ["gap_id", "homes", "households", "nearest_facility", "nearest_dist_m",
            "extra_min"]
    if len(unc) == 0:
        return gpd.GeoDataFrame({c: [] for c in cols}, geometry=gpd.GeoSeries([], crs=unc.crs),
                                crs=unc.crs)
    frame = pd.DataFrame({"gap_id": unc["gap_id"].to_numpy(),
                          "households": unc["households"].to_numpy(),
                          "dist": nearest_dist if nearest_dist is not None else np.nan,
                          "name": nearest_name if nearest_name is not None else None})
    geoms = shapely.buffer(np.asarray(unc.geometry.values), buffer_m, quad_segs=4)
    records = []
    polys = []
    for gid, idx in frame.groupby("gap_id").indices.items():
        part = frame.iloc[idx]
        dist = part["dist"].to_numpy(dtype=float)
        best = int(np.nanargmin(dist)) if np.isfinite(dist).any() else None
        near_d = float(dist[best]) if best is not None else np.nan
        records.append({
            "gap_id": int(gid), "homes": len(idx),
            "households": int(part["households"].sum()),
            "nearest_facility": part["name"].iloc[best] if best is not None else None,
            "nearest_dist_m": near_d,
            "extra_min": max(0.0, (near_d - threshold) / speed) if np.isfinite(near_d)
            else np.nan,
        })
        polys.append(shapely.union_all(geoms[idx]))
    areas = gpd.GeoDataFrame(records, geometry=polys, crs=unc.crs)
    return areas.sort_values(["households", "gap_id"], ascending=[False, True],
                             ignore_index=True)


def gap_table(gaps: GapResult, zones: gpd.GeoDataFrame, *,
              name_col: str = "name") -> pd.DataFrame:
    """Return uncovered homes and households per zone (community or grid), most first."""
    if name_col not in zones:
        msg = f"`zones` has no `{name_col}` column; name each zone there."
        raise InputError(msg)
    homes = gaps.homes
    cent = gpd.GeoDataFrame({"households": homes["households"].to_numpy()},
                            geometry=homes.geometry.centroid.to_numpy(), crs=homes.crs)
    named = zones[[name_col, zones.geometry.name]].rename(columns={name_col: "_zone"})
    joined = gpd.sjoin(cent, named.to_crs(homes.crs), predicate="within", how="left")
    joined = joined[~joined.index.duplicated(keep="first")]
    joined["_zone"] = joined["_zone"].astype(object).where(joined["_zone"].notna(), "")
    table = (joined.groupby("_zone")
             .agg(homes_uncovered=("households", "size"),
                  households_uncovered=("households", "sum"))
             .reset_index().rename(columns={"_zone": name_col}))
    return table.sort_values("households_uncovered", ascending=False, ignore_index=True)
