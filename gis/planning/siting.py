"""Choose new station sites that bring the most uncovered households inside the circle.

Candidate sites are placed along the streets; one bounded network search per group of
candidates builds the sparse coverage matrix; :func:`plan_sites` runs the models of
:mod:`gis.planning.model` on the households a coverage result leaves outside.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp
import shapely

from gis._errors import InputError, NoReachableFacilityError
from gis.crs import require_projected
from gis.network.access import Access
from gis.network.graph import Snap, same_edge_pairs
from gis.planning.model import MaxCoverageModel, SitingResult, set_cover
from gis.progress import Progress

if TYPE_CHECKING:
    from gis.analysis.coverage import CoverageResult
    from gis.zones import zone_of_homes
from gis.settings import Settings


def candidate_sites(demand: Access, threshold_m: float, *,
                    spacing_m: float) -> gpd.GeoDataFrame:
    """Return default candidate sites: street points that reach uncovered homes, thinned.

    Candidates are every network node, every point each ``spacing_m`` along longer
    streets, and the point where each demand home enters the network (its attachment,
    or its compound's gates), that lies within ``threshold_m`` walking of at least one
    demand home; so a home beside a long street with no intersection in reach still gets
    candidates on its own street. They are thinned to one per ``spacing_m`` square
    (planar), keeping in each square the one closest along the network to a home.

    Parameters
    ----------
    demand
        The access model of the homes to reach (e.g. ``result.access.subset(...)`` of
        the uncovered homes).
    threshold_m
        The walk threshold.
    spacing_m
        Spacing of points along streets and size of the thinning squares.

    Returns
    -------
    geopandas.GeoDataFrame
        Points on the network in its CRS, with ``node`` (-1 for points along a street)
        and ``to_demand_m``.
    """
    network = demand.network
    ex = demand.exits
    if ex.edge.size == 0:
        msg = "No uncovered home is attached to the network; there is nothing to site for."
        raise NoReachableFacilityError(msg, key="nothing_to_site")
    nd = network.node_distances(ex, limit_m=threshold_m)
    nodes = np.flatnonzero(np.isfinite(nd))
    xy = [network.node_xy[nodes]]
    reach = [nd[nodes]]
    node_id = [nodes]
    length = network.edge_length_m
    # Points every spacing_m along streets longer than the spacing, so that long blocks
    # with few intersections still get candidates: streets with a reached end, and the
    # streets the demand homes enter by (reached from inside even when neither end is).
    own = np.zeros(network.n_edges, dtype=bool)
    own[ex.edge] = True
    long_edges = np.flatnonzero((length > spacing_m) & (np.isfinite(nd[network.edge_u])
                                                         | np.isfinite(nd[network.edge_v])
                                                         | own))
    if long_edges.size:
        counts = np.floor(length[long_edges] / spacing_m).astype(np.int64)
        counts[np.isclose(counts * spacing_m, length[long_edges])] -= 1
        e = np.repeat(long_edges, counts)
        step = np.concatenate([np.arange(1, c + 1) for c in counts]) * spacing_m
        d = np.minimum(nd[network.edge_u[e]] + step,
                       nd[network.edge_v[e]] + length[e] - step)
        d = np.minimum(d, _direct_along_edge(ex, e, step))
        inside = d <= threshold_m
        pts = shapely.line_interpolate_point(network.edge_geometry[e[inside]], step[inside])
        xy.append(shapely.get_coordinates(pts))
        reach.append(d[inside])
        node_id.append(np.full(int(inside.sum()), -1))
    # The entry points themselves (a site right at the home's street).
    near = ex.access_m <= threshold_m
    if near.any():
        pts = shapely.line_interpolate_point(network.edge_geometry[ex.edge[near]],
                                             ex.offset_m[near])
        xy.append(shapely.get_coordinates(pts))
        reach.append(ex.access_m[near])
        node_id.append(np.full(int(near.sum()), -1))
    all_xy = np.vstack(xy)
    all_reach = np.concatenate(reach)
    all_node = np.concatenate(node_id)
    cell = np.floor(all_xy / spacing_m).astype(np.int64)
    order = np.lexsort((all_reach, cell[:, 1], cell[:, 0]))
    c_o = cell[order]
    first = np.ones(order.size, dtype=bool)
    first[1:] = np.any(c_o[1:] != c_o[:-1], axis=1)
    keep = order[first]
    return gpd.GeoDataFrame({"node": all_node[keep], "to_demand_m": all_reach[keep]},
                            geometry=gpd.points_from_xy(all_xy[keep, 0], all_xy[keep, 1]),
                            crs=network.crs)


def _direct_along_edge(ex: Snap, e: np.ndarray, step: np.ndarray) -> np.ndarray:
    """Return the walk to each street point from the nearest exit on the same street.

    Points are given by edge ``e`` and offset ``step``; the walk is the exit's access leg
    plus the distance along the street (inf where no exit is on that street).
    """
    out = np.full(e.size, np.inf)
    pi, xi = same_edge_pairs(e, ex.edge)
    d = ex.access_m[xi] + np.abs(step[pi] - ex.offset_m[xi])
    np.minimum.at(out, pi, d)
    return out


def coverage_matrix(demand: Access, candidates: gpd.GeoDataFrame, threshold_m: float, *,
                    progress: Progress | None = None) -> tuple[sp.csr_matrix, Snap]:
    """Return the demand x candidate matrix of walking distance within ``threshold_m``.

    One bounded search per candidate, run in compiled chunks; homes reach the streets as
    ``demand`` (an access model) says, and candidates attach under its snap limit.

    Parameters
    ----------
    demand
        The homes' access model.
    candidates
        Candidate sites (network CRS).
    threshold_m
        The walking distance that covers.
    progress
        Told how far the searches are.

    Returns
    -------
    tuple
        The boolean CSR matrix (rows aligned with ``demand.homes``, columns with
        ``candidates``) and the candidates' snap (candidates too far from the network
        cover nothing).
    """
    say = progress or (lambda _m: None)
    require_projected(("candidates", candidates))
    csnap = demand.snap(candidates)
    say(f"walking distances from {int(csnap.ok.sum())} candidate sites")
    c, r, _d = demand.pair_distances(csnap, limit_m=threshold_m)
    mat = sp.csr_matrix((np.ones(r.size, dtype=bool), (r, c)),
                        shape=(demand.n_homes, len(candidates)))
    return mat, csnap


@dataclass(frozen=True)
class SitingPlan:
    """Proposed new sites for one category, checked by the coverage engine.

    Attributes
    ----------
    category
        The category sited for.
    sites
        Chosen sites (local CRS), best first: ``rank``, ``gain_households`` (marginal),
        ``community`` / ``grid`` when zones were given, and ``circle`` (its service area
        polygon, WKT-free shapely geometry in a separate GeoSeries ``circles``).
    circles
        The service circle polygon of each site, aligned with ``sites``.
    greedy, exact
        The greedy preview and the exact (or best found) solution.
    before, after
        Households covered before and after, recomputed by the coverage engine with
        the sites added as facilities (an independent check of the objective).
    candidates
        The candidate sites used.
    """

    category: str
    sites: gpd.GeoDataFrame
    circles: gpd.GeoSeries
    greedy: SitingResult
    exact: SitingResult
    before: int
    after: int
    candidates: gpd.GeoDataFrame

    @property
    def newly_covered(self) -> int:
        """Return households brought inside the circle, as recomputed by the engine."""
        return self.after - self.before


def plan_sites(result: CoverageResult, category: str, settings: Settings, *,
               k: int = 5, candidates: gpd.GeoDataFrame | None = None,
               capacity: float | None = None, target_share: float | None = None,
               zones: dict[str, gpd.GeoDataFrame] | None = None,
               time_limit_s: float | None = None,
               progress: Progress | None = None) -> SitingPlan:
    """Propose new sites for ``category`` and check them with the coverage engine.

    Every step (uncovered homes, candidates, the coverage matrix and the final check)
    uses the result's access model, so a proposal's gain is the gain the coverage
    engine confirms under the same snap limit and compound gates.

    Parameters
    ----------
    result
        The coverage result to improve on.
    category
        The category to site for.
    settings
        Settings.
    k
        Number of new sites (ignored with ``target_share``).
    candidates
        Candidate premises in the network CRS (optional ``capacity`` column); default:
        street points near the gaps (see :func:`candidate_sites`).
    capacity
        Households one new site can serve (default: unlimited, or the candidates'
        ``capacity`` column).
    target_share
        With a share (0-1), choose the fewest sites that bring coverage of the category
        to at least that share of households (set covering).
    zones
        Optional ``{"community": gdf, "grid": gdf}`` with a ``name`` column, to say where
        each site falls.
    time_limit_s
        Solver time limit (default: settings).
    progress
        Called with a message per step.

    Returns
    -------
    SitingPlan

    Examples
    --------
    >>> plan = plan_sites(result, "elderly_care", settings, k=3)  # doctest: +SKIP
    >>> plan.newly_covered, plan.exact.optimal  # doctest: +SKIP
    (1240, True)
    """
    from gis.analysis.coverage import (
        CoverageOptions,
        category_circle,
        compute_coverage,
    )
    say = progress or (lambda _m: None)
    access = result.access
    limit = settings.solver_time_limit_s if time_limit_s is None else time_limit_s
    if category not in result.categories:
        msg = (f"Category `{category}` was not part of the coverage run; analyse it first "
               f"(categories run: {', '.join(result.categories)}).")
        raise InputError(msg)
    thr = result.thresholds[category].metres
    say("finding uncovered homes")
    # The demand is the uncovered homes; the gaps they form (areas, polygons) are not
    # needed here (drawing them took 6 s of Porto's 30).
    homes = result.homes
    demand = homes[homes["attached"].to_numpy(dtype=bool)
                   & ~homes[f"covered_{category}"].to_numpy(dtype=bool)]
    if len(demand) == 0:
        msg = f"Every household is already inside the {category} circle; no site is needed."
        raise InputError(msg, key="no_gap", category=category)
    demand_access = access.subset(access.home_positions(demand.index))
    if candidates is None:
        say("choosing candidate sites near the gaps")
        cands = candidate_sites(demand_access, thr, spacing_m=settings.candidate_spacing_m)
    else:
        require_projected(("candidates", candidates))
        cands = candidates.reset_index(drop=True)
    if target_share is None and k > len(cands):
        hint = ("lower k or add candidate sites" if candidates is not None else
                "lower k, or supply candidate premises")
        msg = (f"Asked for {k} new sites but there are only {len(cands)} candidates; {hint}.")
        raise InputError(msg, key="k_too_large", k=k, n=len(cands))
    say(f"building the coverage matrix ({len(demand)} homes x {len(cands)} candidates)")
    cover, csnap = coverage_matrix(demand_access, cands, thr, progress=say)
    if candidates is not None and not csnap.ok.any():
        msg = (f"None of the {len(cands)} candidate sites lies within {access.snap_max_m:.0f} m "
               "of the walking network; check the candidates' area and coordinate system "
               "(declare gcj02 for Amap or Tencent points, bd09 for Baidu).")
        raise NoReachableFacilityError(msg, key="candidates_far", n=len(cands),
                                       limit=f"{access.snap_max_m:.0f}")
    if cover.nnz == 0:
        msg = (f"No candidate site can reach an uncovered home within {thr:.0f} m; add "
               "candidates nearer the gaps.")
        raise NoReachableFacilityError(msg, key="candidates_reach_nothing",
                                       limit=f"{thr:.0f}")
    weights = demand["households"].to_numpy(dtype=float)
    hh = result.homes["households"].to_numpy()
    attached = result.homes["attached"].to_numpy()
    covered_before = int(hh[result.homes[f"covered_{category}"].to_numpy()].sum())
    if capacity is None and "capacity" in cands and cands["capacity"].notna().any():
        capacity = cands["capacity"].fillna(np.inf).to_numpy(dtype=float)
    if target_share is not None:
        needed = target_share * hh[attached].sum() - covered_before
        say("solving the set-covering model")
        exact = set_cover(cover, weights, needed=needed, time_limit_s=limit)
        greedy = exact
    else:
        model = MaxCoverageModel.from_coverage(cover, weights, p=k,
                                               capacity=capacity)
        greedy = model.greedy()
        say(f"greedy: {greedy.objective:.0f} households; solving exactly")
        exact = model.solve(time_limit_s=limit)
    chosen = exact.chosen
    sites = cands.iloc[chosen].copy()
    sites["rank"] = np.arange(1, len(chosen) + 1)
    sites["gain_households"] = exact.gains
    sites["category"] = category
    sites["name"] = [f"new {category} {i}" for i in sites["rank"]]
    for label, gdf in (zones or {}).items():
        sites[label] = zone_of_homes(sites, gdf).to_numpy()
    say("checking the proposal with the coverage engine")
    new_fac = gpd.GeoDataFrame({"category": category, "name": sites["name"].to_numpy()},
                               geometry=sites.geometry.to_numpy(), crs=sites.crs)
    both = gpd.GeoDataFrame(pd.concat([result.facilities[["category", "name", "geometry"]],
                                       new_fac], ignore_index=True), crs=sites.crs)
    check = compute_coverage(access, both, settings,
                             CoverageOptions(categories=[category], metres=thr,
                                             profile=result.profile))
    covered_after = int(check.homes["households"].to_numpy()[
        check.homes[f"covered_{category}"].to_numpy()].sum())
    circles = gpd.GeoSeries([category_circle(access, new_fac.iloc[[i]], category, thr,
                                             settings) for i in range(len(new_fac))],
                            index=sites.index, crs=sites.crs)
    return SitingPlan(category=category, sites=gpd.GeoDataFrame(sites, crs=cands.crs),
                      circles=circles, greedy=greedy, exact=exact, before=covered_before,
                      after=covered_after, candidates=cands)
