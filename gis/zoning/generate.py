"""Generate a plan: communities of the target size, then grids within each community."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gis._errors import EmptyInputError, InputError
from gis.crs import require_projected
from gis.settings import GridRules
from gis.zoning.blocks import Blocks, check_rules, shared_lengths
from gis.zoning.partition import PartitionProblem, partition_blocks
from gis.zoning.plan import ZONE_NAMES, GridPlan


def plan_grids(blocks: Blocks, rules: GridRules, *,
               communities: gpd.GeoDataFrame | None = None, seed: int = 0,
               lang: str = "zh", workers: int = 1) -> GridPlan:
    """Make communities (or take them from a layer) and grids within each community.

    Parameters
    ----------
    blocks
        Street blocks with households.
    rules
        Target sizes and range.
    communities
        Optional polygons with a ``name`` column (local CRS); each block goes to the
        community holding its representative point. Without it communities are
        generated at the target size.
    seed
        Seed of the k-means starts (results are reproducible).
    lang
        The language of the generated names (:data:`ZONE_NAMES`): "社区1", "社区1-01网格"
        or "Community 1", "Community 1, grid 01".
    workers
        Processes for the community partitions tried on a large area (each judged by its
        grids; they are independent). More than one forks this process, so only a
        command-line run passes it; the plan is the same as with one.

    Returns
    -------
    GridPlan
        Communities and grids over the blocks, with names and codes.

    Examples
    --------
    >>> blocks = make_blocks(study.streets, study.homes, settings.grids)  # doctest: +SKIP
    >>> plan = plan_grids(blocks, settings.grids)  # doctest: +SKIP
    >>> plan.grids_gdf()[["code", "name", "households"]].head()  # doctest: +SKIP
    """
    check_rules(rules)
    b = blocks.gdf
    hh = b["households"].to_numpy(dtype=float)
    if hh.sum() <= 0:
        msg = "The street blocks hold no households; there is nothing to divide into grids."
        raise EmptyInputError(msg, key="blocks_no_households")
    geoms = np.asarray(b.geometry.values)
    problem = PartitionProblem(blocks.adjacency, hh,
                               np.column_stack([b.geometry.centroid.x, b.geometry.centroid.y]),
                               b.geometry.area.to_numpy(), geoms, shapely.length(geoms),
                               shared_lengths(geoms, blocks.adjacency, exact=blocks.exact))
    if communities is not None:
        require_projected(("communities", communities), ("blocks", b))
        pts = gpd.GeoDataFrame(geometry=b.geometry.representative_point().to_numpy(),
                               crs=b.crs)
        joined = gpd.sjoin(pts, communities[["name", communities.geometry.name]],
                           predicate="within", how="left")
        joined = joined[~joined.index.duplicated()]
        names = list(dict.fromkeys(joined["name"].dropna().astype(str)))
        lookup = {nm: i for i, nm in enumerate(names)}
        comm = joined["name"].map(lambda v: lookup.get(str(v), -1) if pd.notna(v) else -1)
        comm = comm.to_numpy(dtype=np.int64)
        comm_names = dict(enumerate(names))
        empty = [nm for i, nm in comm_names.items() if hh[comm == i].sum() == 0]
        if empty:
            msg = (f"Communities without residential buildings: {', '.join(empty)}. Check the "
                   "communities layer (area, coordinate system) or remove them.")
            raise InputError(msg, key="empty_communities", names=", ".join(empty))
        grid, grid_names, grid_comm, _score_c = _grids_within(
            blocks, problem, comm, comm_names, rules, seed,
            ZONE_NAMES.get(lang, ZONE_NAMES["zh"])[1])
        return GridPlan(blocks, comm, grid, comm_names, grid_names, grid_comm,
                        rules).with_codes()
    total = hh.sum()
    n_comm = max(1, int(round(total / rules.community_target_households)))
    mean = total / n_comm
    comm_tpl, grid_tpl = ZONE_NAMES.get(lang, ZONE_NAMES["zh"])
    comm_names = {i: comm_tpl.format(n=i + 1) for i in range(n_comm)}
    # Community candidates are judged by the grids they allow: fewest grids outside the
    # range, then the smallest worst deviation.
    tries = COMMUNITY_TRIES if hh.size <= LARGE_AREA_BLOCKS else COMMUNITY_TRIES_LARGE
    n_tries = tries if n_comm > 1 else 1

    def one_try(attempt: int) -> _Try:
        comm = partition_blocks(problem, n_comm, target=mean, lower=0.5 * mean,
                                upper=1.5 * mean, compactness_weight=rules.compactness_weight,
                                seed=seed + attempt, tries=1,
                                kmeans_restarts=8 if attempt == 0 else 1)
        # A study area in several unconnected pieces gets at least one community per
        # piece, so there can be more communities than the target count: name them all.
        comm_named = {int(i): comm_names.get(int(i), comm_tpl.format(n=int(i) + 1))
                      for i in np.unique(comm[comm >= 0])}
        grid, grid_names, grid_comm, score = _grids_within(blocks, problem, comm, comm_named,
                                                           rules, seed, grid_tpl)
        return score, comm, comm_named, grid, grid_names, grid_comm

    outcomes = (_tries_forked(one_try, n_tries, workers)
                if workers > 1 and n_tries > 1 and hh.size > LARGE_AREA_BLOCKS
                else [one_try(a) for a in range(n_tries)])
    # The first of the best scores, as when the tries run one after another.
    best = min(outcomes, key=lambda o: o[0])
    _s, comm, comm_named, grid, grid_names, grid_comm = best
    return GridPlan(blocks, comm, grid, comm_named, grid_names, grid_comm, rules).with_codes()


_Try = tuple[tuple[float, ...], np.ndarray, dict[int, str], np.ndarray, dict[int, str],
             dict[int, int]]
_FORKED_TRY: Callable[[int], _Try] | None = None


def _run_forked_try(attempt: int) -> _Try:
    assert _FORKED_TRY is not None  # set before the pool forks
    return _FORKED_TRY(attempt)


def _tries_forked(one_try: Callable[[int], _Try], n_tries: int, workers: int) -> list[_Try]:
    """Return ``[one_try(a) for a in range(n_tries)]``, the tries in forked processes.

    The partition is Python and numpy that hold the GIL, so the independent tries share
    the cores as processes; forked, they start with the blocks already in memory and send
    back only labels and names. Where fork is unavailable they run one after another.
    """
    global _FORKED_TRY
    if "fork" not in multiprocessing.get_all_start_methods():
        return [one_try(a) for a in range(n_tries)]
    _FORKED_TRY = one_try
    try:
        with ProcessPoolExecutor(max_workers=min(workers, n_tries),
                                 mp_context=multiprocessing.get_context("fork")) as pool:
            return list(pool.map(_run_forked_try, range(n_tries)))
    finally:
        _FORKED_TRY = None


#: Community partitions tried when communities are generated (each judged by its grids);
#: on areas of more than ``LARGE_AREA_BLOCKS`` blocks, ``COMMUNITY_TRIES_LARGE``.
COMMUNITY_TRIES = 6
COMMUNITY_TRIES_LARGE = 2
LARGE_AREA_BLOCKS = 2000


def _grids_within(blocks: Blocks, problem: PartitionProblem, comm: np.ndarray,
                  comm_names: dict[int, str], rules: GridRules, seed: int,
                  grid_tpl: str = ZONE_NAMES["zh"][1],
                  ) -> tuple[np.ndarray, dict[int, str], dict[int, int], tuple[float, ...]]:
    """Partition each community into grids; return labels, names and a quality score."""
    hh = problem.households
    grid = np.full(hh.size, -1, dtype=np.int64)
    grid_names: dict[int, str] = {}
    grid_comm: dict[int, int] = {}
    next_label = 0
    out_of_range, worst = 0, 0.0
    for c in sorted(comm_names):
        nodes = np.flatnonzero(comm == c)
        c_hh = hh[nodes].sum()
        n_grid = _grid_count(c_hh, rules)
        labels = partition_blocks(problem.subset(nodes), n_grid, target=c_hh / n_grid,
                                  lower=rules.min_households, upper=rules.max_households,
                                  compactness_weight=rules.compactness_weight, seed=seed)
        number = 0  # the community's grids so far (each community is visited once)
        for g in np.unique(labels[labels >= 0]):
            size = hh[nodes[labels == g]].sum()
            out_of_range += int(size < rules.min_households or size > rules.max_households)
            worst = max(worst, abs(size - rules.target_households) / rules.target_households)
            grid[nodes[labels == g]] = next_label
            number += 1
            grid_names[next_label] = grid_tpl.format(community=comm_names[c], n=number)
            grid_comm[next_label] = c
            next_label += 1
    return grid, grid_names, grid_comm, (out_of_range, round(worst, 6))


def _grid_count(households: float, rules: GridRules) -> int:
    """Return the number of grids for a community: near the target, inside the range."""
    n = max(1, int(round(households / rules.target_households)))
    lo = int(np.ceil(households / rules.max_households))
    hi = max(1, int(np.floor(households / rules.min_households)))
    return int(np.clip(n, max(1, lo), max(lo, hi)))
