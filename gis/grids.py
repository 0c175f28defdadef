"""Street blocks, and balanced, compact community and grid partitions of them.

Blocks are the faces enclosed by the streets (the study area's edge closes the outer
ones). Every residential building belongs to exactly one block (by its centroid), so
community and grid boundaries run along streets. A block with more households than a
grid may hold is split by its buildings (k-means groups of building centroids, each
part the union of its buildings' Voronoi cells inside the block).

Partition (:func:`partition_blocks`): contiguous regions of a target size.

1. Seeds: weighted k-means of block centroids (weight: households), one block per centre.
2. Growth: the region with the fewest households takes its nearest unassigned neighbour
   block, until every reachable block is assigned; regions stay contiguous by
   construction.
3. Refinement: boundary blocks move to a neighbouring region when that lowers the
   objective (squared relative deviation from the target, a steep penalty outside the
   allowed range, plus ``compactness_weight`` x normalised moment of inertia) and the
   donor stays contiguous.
"""

from __future__ import annotations

import heapq
from collections import deque
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp
import shapely
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from gis._errors import EmptyInputError, InputError, Msg
from gis.crs import require_projected
from gis.settings import GridRules

#: Two blocks are neighbours when their boundaries share at least this length, metres.
SHARED_EDGE_MIN_M = 1.0
#: Block and zone geometry is kept on a grid of this size (metres), so that blocks cut
#: from one another share their vertices exactly and unions leave no slivers.
GRID_SIZE_M = 0.01
#: Parts and holes of a zone smaller than this (m2) are slivers of floating-point noise.
SLIVER_M2 = 1.0


@dataclass(frozen=True)
class Blocks:
    """Street blocks of a study area (local CRS) and their adjacency.

    Attributes
    ----------
    gdf
        One row per block: ``block_id`` (str), ``households``, ``buildings``,
        ``area_m2``, ``split_from`` (the block a part was cut from, or ""), ``street``
        (the named street longest along its edge, or ""), geometry.
    adjacency
        Symmetric boolean matrix in ``gdf`` order: True where two blocks share a street
        side.
    home_block
        Block id of every residential building, indexed like the homes.
    notes
        What was done beyond plain polygonising (splits, homes outside every block).
    """

    gdf: gpd.GeoDataFrame
    adjacency: sp.csr_matrix
    home_block: pd.Series
    notes: tuple[str, ...] = ()

    @property
    def ids(self) -> np.ndarray:
        """Return the block ids in order."""
        return self.gdf["block_id"].to_numpy()

    def neighbours(self, i: int) -> np.ndarray:
        """Return the positions of the blocks adjacent to block position ``i``."""
        a = self.adjacency
        return a.indices[a.indptr[i]:a.indptr[i + 1]]


def make_blocks(streets: gpd.GeoDataFrame, homes: gpd.GeoDataFrame, rules: GridRules, *,
                area: shapely.Geometry | None = None) -> Blocks:
    """Cut street blocks and assign every home to one.

    Parameters
    ----------
    streets
        Street lines in a metric CRS with a ``highway`` column (all lines are used when
        it is missing).
    homes
        Residential buildings with ``households``, same CRS.
    rules
        Grid rules: which highways bound blocks, the sliver size, the grid maximum.
    area
        The study area polygon (default: convex hull of streets and homes, 20 m wider).

    Returns
    -------
    Blocks
    """
    check_rules(rules)
    require_projected(("streets", streets), ("homes", homes))
    lines = streets
    if "highway" in streets and rules.block_highways:
        lines = streets[streets["highway"].isin(rules.block_highways)]
    if len(lines) == 0:
        msg = ("The study area has no streets of the kinds that bound blocks "
               f"({', '.join(sorted(rules.block_highways))}); no street blocks can be made.")
        raise EmptyInputError(msg, key="no_block_streets")
    if area is None:
        coords = np.vstack([shapely.get_coordinates(np.asarray(lines.geometry.values)),
                            shapely.get_coordinates(np.asarray(homes.geometry.values))])
        area = shapely.convex_hull(shapely.multipoints(coords)).buffer(20.0)
    edge = shapely.get_exterior_ring(area) if area.geom_type == "Polygon" else area.boundary
    noded = shapely.node(shapely.union_all([*np.asarray(lines.geometry.values), edge]))
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(noded)))
    faces = shapely.get_parts(shapely.intersection(faces, area, grid_size=GRID_SIZE_M))
    faces = faces[shapely.get_type_id(faces) == 3]  # polygons only
    faces = faces[shapely.area(faces) >= rules.min_block_m2]
    faces = _follow_inner_streets(faces, streets, homes, rules)
    if faces.size == 0:
        msg = ("The streets enclose no street blocks (no closed faces larger than "
               f"{rules.min_block_m2:.0f} m2); load an area with a connected street grid.")
        raise EmptyInputError(msg, key="no_blocks")
    blocks = gpd.GeoDataFrame({"block_id": [f"B{i + 1}" for i in range(faces.size)]},
                              geometry=faces, crs=streets.crs)
    notes: list[str] = []
    home_block = _assign_homes(blocks, homes, notes)
    blocks, home_block = _split_large(blocks, homes, home_block, rules, notes)
    hh = homes["households"].groupby(home_block).sum()
    n_b = homes["households"].groupby(home_block).size()
    blocks["households"] = blocks["block_id"].map(hh).fillna(0).astype(np.int64).to_numpy()
    blocks["buildings"] = blocks["block_id"].map(n_b).fillna(0).astype(np.int64).to_numpy()
    blocks["area_m2"] = blocks.geometry.area.to_numpy()
    blocks["street"] = block_streets(blocks, streets)
    return Blocks(blocks, block_adjacency(blocks), home_block, tuple(notes))


def block_streets(blocks: gpd.GeoDataFrame, streets: gpd.GeoDataFrame,
                  reach_m: float = 5.0) -> np.ndarray:
    """Return, per block, the name of the named street running longest along its edge.

    A street counts along the length of it within ``reach_m`` of the block's outline
    (one spatial-index query, then one vectorised intersection per block-street pair).
    Blocks without a named street around them get "".
    """
    out = np.full(len(blocks), "", dtype=object)
    if "name" not in streets.columns or not len(blocks):
        return out
    named = streets[streets["name"].notna()]
    named = named[named["name"].astype(str).str.strip() != ""]
    if not len(named):
        return out
    edges = shapely.buffer(shapely.boundary(np.asarray(blocks.geometry.values)), reach_m)
    lines = np.asarray(named.geometry.values)
    b_idx, s_idx = shapely.STRtree(lines).query(edges, predicate="intersects")
    if not b_idx.size:
        return out
    length = shapely.length(shapely.intersection(lines[s_idx], edges[b_idx]))
    pairs = pd.DataFrame({"block": b_idx, "name": named["name"].astype(str).str.strip()
                          .to_numpy()[s_idx], "length": length})
    along = pairs.groupby(["block", "name"], sort=False)["length"].sum().reset_index()
    best = along.sort_values(["block", "length", "name"], ascending=[True, False, True]) \
        .drop_duplicates("block")
    out[best["block"].to_numpy()] = best["name"].to_numpy()
    return out


def _follow_inner_streets(faces: np.ndarray, streets: gpd.GeoDataFrame,
                          homes: gpd.GeoDataFrame, rules: GridRules) -> np.ndarray:
    """Cut large blocks along the lesser streets inside them (service roads, footways).

    A campus or a large compound is often one face of the block-forming streets with only
    service roads and paths inside. A face larger than ``rules.subdivide_block_m2`` or
    holding more households than one grid may is cut by the other walkable lines inside
    it, so its parts follow those streets; parts smaller than ``rules.min_block_m2`` are
    given back to their largest neighbour. Faces without such lines are kept whole.
    """
    if "highway" not in streets or not rules.block_highways or faces.size == 0:
        return faces
    inner = streets[~streets["highway"].isin(rules.block_highways)]
    if len(inner) == 0:
        return faces
    cent = shapely.centroid(np.asarray(homes.geometry.values))
    hh = homes["households"].to_numpy(dtype=float)
    tree = shapely.STRtree(faces)
    hit_h, hit_f = tree.query(cent, predicate="within")
    face_hh = np.bincount(hit_f, weights=hh[hit_h], minlength=faces.size)
    big = np.flatnonzero((shapely.area(faces) > rules.subdivide_block_m2)
                         | (face_hh > rules.max_households))
    if big.size == 0:
        return faces
    lines = np.asarray(inner.geometry.values)
    ltree = shapely.STRtree(lines)
    out: list[np.ndarray] = []
    keep = np.ones(faces.size, dtype=bool)
    for f in big:
        face = faces[f]
        near = ltree.query(face, predicate="intersects")
        if near.size == 0:
            continue
        # Node the inner lines with the face's edge and polygonize: every polygon is
        # inside the face or outside it (the edge is among the lines), so a point test
        # keeps the inside ones, with no costly clipping of lines or polygons.
        noded = shapely.node(shapely.union_all([*lines[near], shapely.boundary(face)]))
        parts = shapely.get_parts(shapely.polygonize(shapely.get_parts(noded)))
        shapely.prepare(face)
        parts = parts[shapely.contains(face, shapely.point_on_surface(parts))
                      & (shapely.area(parts) > 0)]
        parts = shapely.set_precision(parts, GRID_SIZE_M)
        parts = parts[(shapely.get_type_id(parts) == 3) & ~shapely.is_empty(parts)]
        if parts.size < 2:
            continue
        parts = _merge_small(parts, rules.min_block_m2)
        if parts.size < 2:
            continue
        keep[f] = False
        out.append(parts)
    return np.concatenate([faces[keep], *out]) if out else faces


def _merge_small(parts: np.ndarray, min_m2: float) -> np.ndarray:
    """Give every part smaller than ``min_m2`` to the neighbour it shares most edge with."""
    parts = list(parts)
    alive = np.ones(len(parts), dtype=bool)
    tree = shapely.STRtree(np.asarray(parts, dtype=object))
    area = shapely.area(np.asarray(parts, dtype=object))
    for i in np.argsort(area):
        if area[i] >= min_m2 or alive.sum() <= 1:
            break
        near = tree.query(parts[i], predicate="intersects")
        # A merged part lives on under the index of the part it was merged into.
        near = near[(near != i) & alive[near]]
        if near.size == 0:
            continue  # an island part: keep as it is
        shared = shapely.length(shapely.intersection(
            shapely.boundary(parts[i]), shapely.boundary(np.asarray(parts, dtype=object)[near])))
        if shared.max() <= 0:
            continue
        j = int(near[np.argmax(shared)])
        merged = shapely.union(parts[i], parts[j], grid_size=GRID_SIZE_M)
        if shapely.get_type_id(merged) != 3:
            continue
        parts[j] = merged
        area[j] = shapely.area(merged)
        alive[i] = False
    return np.asarray([p for p, a in zip(parts, alive, strict=True) if a], dtype=object)


def _assign_homes(blocks: gpd.GeoDataFrame, homes: gpd.GeoDataFrame,
                  notes: list[str]) -> pd.Series:
    cent = gpd.GeoDataFrame(geometry=homes.geometry.centroid.to_numpy(), index=homes.index,
                            crs=homes.crs)
    joined = gpd.sjoin(cent, blocks[["block_id", "geometry"]], predicate="within", how="left")
    joined = joined[~joined.index.duplicated(keep="first")]
    out = joined["block_id"]
    missing = out.isna()
    if missing.any():
        near = gpd.sjoin_nearest(cent[missing.to_numpy()], blocks[["block_id", "geometry"]])
        near = near[~near.index.duplicated(keep="first")]
        out.loc[near.index] = near["block_id"]
        notes.append(Msg(f"{int(missing.sum())} homes whose centroid lies on a street or "
                         "outside every block were given to the nearest block",
                         "note_nearest_block", n=int(missing.sum())))
    return out.astype(str)


def _split_large(blocks: gpd.GeoDataFrame, homes: gpd.GeoDataFrame, home_block: pd.Series,
                 rules: GridRules, notes: list[str]) -> tuple[gpd.GeoDataFrame, pd.Series]:
    """Split blocks holding more than a grid's maximum into parts by their buildings."""
    hh = homes["households"].groupby(home_block).sum()
    big = hh[hh > rules.max_households]
    blocks = blocks.assign(split_from="")
    if big.empty:
        return blocks, home_block
    rows = [blocks[~blocks["block_id"].isin(big.index)]]
    new_parts: list[tuple[str, str, shapely.Geometry]] = []
    home_block = home_block.copy()
    for bid, total in big.items():
        block = blocks.loc[blocks["block_id"] == bid].iloc[0]
        mine = homes.loc[home_block.index[home_block == bid]]
        parts = int(np.ceil(total / rules.target_households))
        if len(mine) < 2:
            notes.append(Msg(f"block {bid} ({int(total)} households) is one building and "
                             "cannot be split; its grid will exceed the maximum",
                             "note_one_building", block=bid, n=int(total)))
            rows.append(blocks[blocks["block_id"] == bid])
            continue
        parts = min(parts, len(mine))
        xy = np.column_stack([mine.geometry.centroid.x, mine.geometry.centroid.y])
        labels = _balanced_parts(xy, mine["households"].to_numpy(dtype=float), parts)
        cells = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(xy),
                                                           extend_to=block.geometry))
        cell_label = np.full(cells.size, -1)
        tree = shapely.STRtree(cells)
        hit = tree.query(shapely.points(xy), predicate="within")
        cell_label[hit[1]] = labels[hit[0]]
        pieces = _connected_pieces(
            [shapely.intersection(shapely.union_all(cells[cell_label == k]), block.geometry,
                                  grid_size=GRID_SIZE_M) for k in range(parts)],
            shapely.points(xy))
        part_hh = []
        for n_part, (geom, members) in enumerate(pieces):
            pid = f"{bid}-{n_part + 1}"
            new_parts.append((pid, bid, geom))
            home_block.loc[mine.index[members]] = pid
            part_hh.append(int(mine["households"].to_numpy()[members].sum()))
        sizes = ", ".join(str(v) for v in part_hh)
        notes.append(Msg(f"block {bid} ({int(total)} households) was split into "
                         f"{len(pieces)} parts of {sizes} households: its buildings were cut "
                         "into groups of equal households along the block's longer axis, each "
                         "part the Voronoi cells of its buildings' centroids inside the block",
                         "note_split", block=bid, n=int(total), parts=len(pieces),
                         sizes=sizes))
    if new_parts:
        rows.append(gpd.GeoDataFrame({"block_id": [p[0] for p in new_parts],
                                      "split_from": [p[1] for p in new_parts]},
                                     geometry=[p[2] for p in new_parts], crs=blocks.crs))
    out = gpd.GeoDataFrame(pd.concat(rows, ignore_index=True), crs=blocks.crs)
    return out, home_block


def _connected_pieces(groups: list[shapely.Geometry], pts: np.ndarray
                      ) -> list[tuple[shapely.Geometry, np.ndarray]]:
    """Return one-piece polygons from the parts of a split block, with their buildings.

    The Voronoi cells of one group of buildings, cut by a block that is not convex, can
    fall apart into pieces; a grid made of such a "block" would be in pieces too. Every
    piece becomes a block part of its own; a piece holding no building joins the
    neighbouring piece it shares most edge with (or is dropped when it touches none).
    """
    polys = [p for g in groups for p in shapely.get_parts(g)
             if shapely.get_type_id(p) == 3 and shapely.area(p) > 0]
    if not polys:
        return []
    polys_a = np.asarray(polys, dtype=object)
    hit_p, hit_g = shapely.STRtree(polys_a).query(pts, predicate="intersects")
    owner = np.full(len(pts), -1, dtype=np.int64)
    owner[hit_p[::-1]] = hit_g[::-1]  # a point on a shared edge goes to its first piece
    # Points on no piece (numerical edge cases) go to the nearest piece.
    lost = np.flatnonzero(owner < 0)
    if lost.size:
        owner[lost] = shapely.STRtree(polys_a).query_nearest(pts[lost], all_matches=False)[1]
    with_homes = np.bincount(owner, minlength=len(polys)) > 0
    geoms = list(polys_a)
    for i in np.flatnonzero(~with_homes):
        cand = np.flatnonzero(with_homes)
        shared = shapely.length(shapely.intersection(shapely.boundary(geoms[i]),
                                                     shapely.boundary(polys_a[cand])))
        if shared.size and shared.max() >= SHARED_EDGE_MIN_M:
            j = int(cand[np.argmax(shared)])
            merged = shapely.union(geoms[j], geoms[i], grid_size=GRID_SIZE_M)
            if shapely.get_type_id(merged) == 3:
                geoms[j] = merged
    return [(geoms[i], np.flatnonzero(owner == i)) for i in np.flatnonzero(with_homes)]


def block_adjacency(blocks: gpd.GeoDataFrame) -> sp.csr_matrix:
    """Return the matrix of blocks that share a boundary of at least 1 m."""
    geoms = np.asarray(blocks.geometry.values)
    tree = shapely.STRtree(geoms)
    i, j = tree.query(geoms, predicate="intersects")
    keep = i < j
    i, j = i[keep], j[keep]
    shared = shapely.length(shapely.intersection(shapely.boundary(geoms[i]),
                                                 shapely.boundary(geoms[j])))
    ok = shared >= SHARED_EDGE_MIN_M
    i, j = i[ok], j[ok]
    n = geoms.size
    return sp.csr_matrix((np.ones(2 * i.size, dtype=bool),
                          (np.concatenate([i, j]), np.concatenate([j, i]))), shape=(n, n))


def _balanced_parts(xy: np.ndarray, w: np.ndarray, parts: int) -> np.ndarray:
    """Return labels cutting points into ``parts`` groups of near-equal weight.

    Recursive bisection along the longer axis of each group (weighted median cuts).
    """
    labels = np.zeros(xy.shape[0], dtype=np.int64)

    def cut(idx: np.ndarray, k: int, first: int) -> None:
        if k <= 1 or idx.size <= 1:
            labels[idx] = first
            return
        pts = xy[idx]
        axis = int(np.argmax(pts.max(axis=0) - pts.min(axis=0)))
        order = idx[np.argsort(pts[:, axis], kind="stable")]
        k1 = k // 2
        cum = np.cumsum(w[order])
        goal = cum[-1] * k1 / k
        pos = int(np.searchsorted(cum, goal))
        if pos + 1 < cum.size and abs(cum[pos] - goal) > abs(cum[pos - 1] - goal if pos else 1e18):
            pos -= 1
        pos = int(np.clip(pos + 1, 1, order.size - 1))
        cut(order[:pos], k1, first)
        cut(order[pos:], k - k1, first + k1)

    cut(np.arange(xy.shape[0]), parts, 0)
    return labels


def _nearest_centre(xy: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Return the nearest centre of every point (a k-d tree when there are many centres)."""
    if centres.shape[0] <= 16:
        return np.argmin(((xy[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2), axis=1)
    return cKDTree(centres).query(xy)[1]


def _kmeans(xy: np.ndarray, w: np.ndarray, k: int, *, seed: int = 0, iters: int = 25,
            restarts: int = 8) -> np.ndarray:
    """Return weighted k-means labels: best of ``restarts`` k-means++ starts (seeded)."""
    rng = np.random.default_rng(seed)
    w = np.maximum(w, 1e-6)
    n = xy.shape[0]
    if k * n > 2_000_000:  # a city's communities: each restart costs n x k
        restarts = min(restarts, 2)
    best_labels, best_cost = np.zeros(n, dtype=np.int64), np.inf
    for _ in range(restarts):
        centres = [xy[rng.choice(n, p=w / w.sum())]]
        nearest = ((xy - centres[0]) ** 2).sum(axis=1)
        for _j in range(1, k):
            d2 = nearest * w
            centres.append(xy[rng.choice(n, p=d2 / d2.sum())] if d2.sum() > 0
                           else xy[rng.integers(n)])
            nearest = np.minimum(nearest, ((xy - centres[-1]) ** 2).sum(axis=1))
        c = np.array(centres)
        labels = np.zeros(n, dtype=np.int64)
        for _it in range(iters):
            labels = _nearest_centre(xy, c)
            wsum = np.bincount(labels, weights=w, minlength=k)
            mx = np.bincount(labels, weights=w * xy[:, 0], minlength=k)
            my = np.bincount(labels, weights=w * xy[:, 1], minlength=k)
            has = wsum > 0
            new = c.copy()
            new[has, 0] = mx[has] / wsum[has]
            new[has, 1] = my[has] / wsum[has]
            if np.allclose(new, c):
                break
            c = new
        cost = float((w * ((xy - c[labels]) ** 2).sum(axis=1)).sum())
        if cost < best_cost - 1e-9:
            best_labels, best_cost = labels, cost
    return best_labels


# -- partition ------------------------------------------------------------------------


@dataclass(frozen=True)
class PartitionProblem:
    """Blocks as a graph with weights, for partitioning."""

    adjacency: sp.csr_matrix
    households: np.ndarray
    xy: np.ndarray
    area: np.ndarray
    geoms: np.ndarray | None = None
    perimeter: np.ndarray | None = None
    shared: sp.csr_matrix | None = None

    def neighbours(self, i: int) -> np.ndarray:
        """Return the neighbours of node ``i``."""
        a = self.adjacency
        return a.indices[a.indptr[i]:a.indptr[i + 1]]


def partition_blocks(problem: PartitionProblem, n_regions: int, *, target: float,
                     lower: float, upper: float, compactness_weight: float = 0.05,
                     seed: int = 0, max_sweeps: int = 60, tries: int = 6,
                     kmeans_restarts: int = 8) -> np.ndarray:
    """Partition the nodes into about ``n_regions`` contiguous regions of ``target`` size.

    Refinement may empty a region when merging it into a neighbour brings both inside
    ``[lower, upper]``; labels are then renumbered, so fewer regions can come back.
    ``tries`` seeded starts are made and the best kept: fewest regions outside the range,
    then the smallest worst deviation, then the lowest balance + compactness objective.
    Nodes of a connected piece with no households get label -1.

    Returns
    -------
    numpy.ndarray
        Region label per node (0 .. n_regions-1, or -1).
    """
    n = problem.households.size
    labels = np.full(n, -1, dtype=np.int64)
    if n == 0:
        return labels
    _n_comp, comp = connected_components(problem.adjacency, directed=False)
    hh = problem.households.astype(float)
    comp_hh = np.bincount(comp, weights=hh)
    populated = np.flatnonzero(comp_hh > 0)
    # Regions per connected piece, in proportion to households, at least one each.
    share = comp_hh[populated] / comp_hh[populated].sum() * n_regions
    alloc = np.maximum(1, np.floor(share)).astype(int)
    while alloc.sum() < n_regions:
        alloc[np.argmax(share - alloc)] += 1
    next_label = 0
    for c, k in zip(populated, alloc, strict=True):
        nodes = np.flatnonzero(comp == c)
        best, best_score = None, None
        for attempt in range(tries):
            # The first start is the best of several k-means runs; later ones are single
            # runs with other seeds, for variety.
            cand = _grow(problem, nodes, int(k), target=target, seed=seed + attempt,
                         restarts=kmeans_restarts if attempt == 0 else 1)
            cand = _refine(problem, nodes, cand, int(k), target=target, lower=lower,
                           upper=upper, compactness_weight=compactness_weight,
                           max_sweeps=max_sweeps)
            sizes = np.bincount(cand[cand >= 0], weights=problem.households[nodes][cand >= 0])
            if (sizes[sizes > 0] < lower).any():
                # Leftover regions too small to reach the range may be merged away.
                cand = _refine(problem, nodes, cand, int(k), target=target, lower=lower,
                               upper=upper, compactness_weight=compactness_weight,
                               max_sweeps=max_sweeps, allow_empty=True)
            score = _score(problem, nodes, cand, target=target, lower=lower, upper=upper,
                           compactness_weight=compactness_weight)
            if best_score is None or score < best_score:
                best, best_score = cand, score
        sub = best
        if problem.geoms is not None and nodes.size <= POLISH_MAX_BLOCKS:
            sub = _polish(problem, nodes, sub, target=target, lower=lower, upper=upper,
                          worst=best_score[1])
        sub = _absorb_empty(problem, nodes, sub)
        used = np.unique(sub[sub >= 0])
        renum = np.full(int(k), -1, dtype=np.int64)
        renum[used] = np.arange(used.size) + next_label
        labels[nodes] = np.where(sub >= 0, renum[np.maximum(sub, 0)], -1)
        next_label += int(used.size)
    return labels


def _absorb_empty(problem: PartitionProblem, nodes: np.ndarray,
                  labels: np.ndarray) -> np.ndarray:
    """Merge every region without households into its smallest neighbouring region.

    A grid nobody lives in is no grid: its blocks (parks, squares) join a neighbour, and
    two adjacent connected regions make one connected region.
    """
    labels = labels.copy()
    hh = problem.households[nodes].astype(float)
    local = {int(v): i for i, v in enumerate(nodes)}
    while True:
        ok = labels >= 0
        if not ok.any():
            return labels
        size = np.bincount(labels[ok], weights=hh[ok])
        present = np.unique(labels[ok])
        empty = [int(r) for r in present if size[r] <= 0]
        if not empty or len(present) <= 1:
            return labels
        r = empty[0]
        members = np.flatnonzero(labels == r)
        nbr = {int(labels[local[int(v)]]) for u in members
               for v in problem.neighbours(int(nodes[u])) if int(v) in local}
        nbr = [b for b in nbr if b >= 0 and b != r]
        if not nbr:
            labels[members] = -1  # an island of empty blocks: in no grid
            continue
        labels[members] = min(nbr, key=lambda b: (size[b], b))


def _grow(problem: PartitionProblem, nodes: np.ndarray, k: int, *, target: float,
          seed: int, restarts: int = 8) -> np.ndarray:
    """Seed k regions and grow them, the smallest first, by nearest neighbour blocks."""
    local = {int(v): i for i, v in enumerate(nodes)}
    xy = problem.xy[nodes]
    hh = problem.households[nodes].astype(float)
    labels = np.full(nodes.size, -1, dtype=np.int64)
    if k == 1:
        labels[:] = 0
        return labels
    centres_lab = _kmeans(xy, hh + 1e-3, k, seed=seed, restarts=restarts)
    seeds = []
    for j in range(k):
        members = np.flatnonzero(centres_lab == j)
        if members.size == 0:
            continue
        cen = np.average(xy[members], axis=0, weights=hh[members] + 1e-3)
        order = members[np.argsort(((xy[members] - cen) ** 2).sum(axis=1))]
        pick = next((m for m in order if labels[m] < 0), None)
        if pick is not None:
            labels[pick] = len(seeds)
            seeds.append(pick)
    k_eff = len(seeds)
    size = np.array([hh[s] for s in seeds])
    sum_xy = np.array([xy[s] * (hh[s] + 1.0) for s in seeds])
    weight = np.array([hh[s] + 1.0 for s in seeds])
    frontier: list[list[tuple[float, int]]] = [[] for _ in range(k_eff)]

    def push(r: int, i: int) -> None:
        cen = sum_xy[r] / weight[r]
        for nb in problem.neighbours(int(nodes[i])):
            j = local.get(int(nb))
            if j is not None and labels[j] < 0:
                heapq.heappush(frontier[r], (float(((xy[j] - cen) ** 2).sum()), j))

    for r, s in enumerate(seeds):
        push(r, s)
    active = set(range(k_eff))
    while active:
        r = min(active, key=lambda q: size[q])
        while frontier[r] and labels[frontier[r][0][1]] >= 0:
            heapq.heappop(frontier[r])
        if not frontier[r]:
            active.discard(r)
            continue
        _d, j = heapq.heappop(frontier[r])
        labels[j] = r
        size[r] += hh[j]
        sum_xy[r] += xy[j] * (hh[j] + 1.0)
        weight[r] += hh[j] + 1.0
        push(r, j)
    return labels


def _refine(problem: PartitionProblem, nodes: np.ndarray, labels: np.ndarray, k: int, *,
            target: float, lower: float, upper: float, compactness_weight: float,
            max_sweeps: int, allow_empty: bool = False) -> np.ndarray:
    """Move boundary blocks between regions while the objective falls.

    With ``allow_empty``, a region below ``lower`` may give away its last block (it
    disappears); otherwise the number of regions stays fixed.
    """
    local = {int(v): i for i, v in enumerate(nodes)}
    xy = problem.xy[nodes]
    hh = problem.households[nodes].astype(float)
    area = problem.area[nodes].astype(float)
    nbrs = [np.array([local[int(v)] for v in problem.neighbours(int(u)) if int(v) in local],
                     dtype=np.int64) for u in nodes]
    k_eff = int(labels.max()) + 1 if (labels >= 0).any() else 0
    ok = labels >= 0
    # Region sums kept as Python floats: the loop below does millions of tiny updates.
    size = np.bincount(labels[ok], weights=hh[ok], minlength=k_eff).tolist()
    a_sum = np.bincount(labels[ok], weights=area[ok], minlength=k_eff).tolist()
    m_x = np.bincount(labels[ok], weights=(xy[:, 0] * area)[ok], minlength=k_eff).tolist()
    m_y = np.bincount(labels[ok], weights=(xy[:, 1] * area)[ok], minlength=k_eff).tolist()
    pxx = (area * (xy ** 2).sum(axis=1)).tolist()
    m_xx = np.bincount(labels[ok], weights=np.asarray(pxx)[ok], minlength=k_eff).tolist()
    count = np.bincount(labels[ok], minlength=k_eff).tolist()
    hh_l, area_l = hh.tolist(), area.tolist()
    px = (xy[:, 0] * area).tolist()
    py = (xy[:, 1] * area).tolist()
    disc = 2 * np.pi

    def cost(s: float, a: float, mx: float, my: float, mxx: float) -> float:
        if a <= 1e-9:  # an emptied region disappears: a grid fewer costs nothing
            return 0.0
        dev = (s - target) / target
        out = max(0.0, lower - s) + max(0.0, s - upper)
        balance = dev * dev + 10.0 * (out / target) ** 2
        second = mxx - (mx * mx + my * my) / a  # moment about the region's centroid
        return balance + compactness_weight * (second / (a * a / disc) - 1.0)  # 1: a disc

    for _ in range(max_sweeps):
        moved = False
        for i in np.argsort(-hh, kind="stable").tolist():
            a_lab = int(labels[i])
            if a_lab < 0:
                continue
            cands = {int(labels[j]) for j in nbrs[i] if labels[j] >= 0 and labels[j] != a_lab}
            if not cands:
                continue
            last = count[a_lab] <= 1
            if last and not (allow_empty and size[a_lab] < lower):
                continue
            h, ar, x, y, xx = hh_l[i], area_l[i], px[i], py[i], pxx[i]
            old_a = cost(size[a_lab], a_sum[a_lab], m_x[a_lab], m_y[a_lab], m_xx[a_lab])
            new_a = cost(size[a_lab] - h, a_sum[a_lab] - ar, m_x[a_lab] - x, m_y[a_lab] - y,
                         m_xx[a_lab] - xx)
            best, best_gain = None, -1e-12
            for b_lab in cands:
                old_b = cost(size[b_lab], a_sum[b_lab], m_x[b_lab], m_y[b_lab], m_xx[b_lab])
                new_b = cost(size[b_lab] + h, a_sum[b_lab] + ar, m_x[b_lab] + x,
                             m_y[b_lab] + y, m_xx[b_lab] + xx)
                gain = (old_a + old_b) - (new_a + new_b)
                if gain > best_gain:
                    best, best_gain = b_lab, gain
            if best is None or (not last and not _stays_connected(labels, nbrs, a_lab, i)):
                continue
            labels[i] = best
            count[a_lab] -= 1
            count[best] += 1
            size[a_lab] -= h
            size[best] += h
            a_sum[a_lab] -= ar
            a_sum[best] += ar
            m_x[a_lab] -= x
            m_x[best] += x
            m_y[a_lab] -= y
            m_y[best] += y
            m_xx[a_lab] -= xx
            m_xx[best] += xx
            moved = True
        if not moved:
            break
    return labels


def _score(problem: PartitionProblem, nodes: np.ndarray, labels: np.ndarray, *,
           target: float, lower: float, upper: float,
           compactness_weight: float) -> tuple[int, float, float]:
    """Return (regions outside the range, worst deviation to 0.01, compactness term).

    The compactness term is minus the median Polsby-Popper score of the regions when the
    block geometries are known, else the balance + inertia objective.
    """
    hh = problem.households[nodes].astype(float)
    xy = problem.xy[nodes]
    area = problem.area[nodes].astype(float)
    out = 0
    worst = 0.0
    total = 0.0
    for r in np.unique(labels[labels >= 0]):
        sel = labels == r
        s = hh[sel].sum()
        out += int(s < lower or s > upper)
        dev = abs(s - target) / target
        worst = max(worst, dev)
        a = area[sel].sum()
        cen = (xy[sel] * area[sel, None]).sum(axis=0) / a
        second = (area[sel] * ((xy[sel] - cen) ** 2).sum(axis=1)).sum()
        total += dev * dev + compactness_weight * (second / (a * a / (2 * np.pi)) - 1.0)
    if problem.geoms is not None and (labels >= 0).any():
        pp = list(_region_polsby_popper(problem, nodes, labels).values())
        return out, round(worst, 2), -float(np.median(pp))
    return out, round(worst, 2), total


def shared_lengths(geoms: np.ndarray, adjacency: sp.csr_matrix) -> sp.csr_matrix:
    """Return the length of boundary each pair of adjacent blocks shares (symmetric)."""
    coo = sp.triu(adjacency, k=1).tocoo()
    i, j = coo.row, coo.col
    length = shapely.length(shapely.intersection(shapely.boundary(geoms[i]),
                                                 shapely.boundary(geoms[j])))
    n = geoms.size
    return sp.csr_matrix((np.concatenate([length, length]),
                          (np.concatenate([i, j]), np.concatenate([j, i]))), shape=(n, n))


def _with_outlines(problem: PartitionProblem, nodes: np.ndarray
                   ) -> tuple[np.ndarray, sp.csr_matrix]:
    """Return block perimeters and shared lengths of ``nodes`` (computed when missing)."""
    if problem.perimeter is not None and problem.shared is not None:
        return problem.perimeter[nodes], problem.shared[nodes][:, nodes].tocsr()
    geoms = problem.geoms[nodes]
    return shapely.length(geoms), shared_lengths(geoms,
                                                 problem.adjacency[nodes][:, nodes].tocsr())


def _region_polsby_popper(problem: PartitionProblem, nodes: np.ndarray,
                          labels: np.ndarray) -> dict[int, float]:
    """Return the Polsby-Popper score of every region, with no polygon union.

    A region's area is the sum of its blocks' areas and its perimeter the sum of their
    perimeters less twice the boundary shared inside the region.
    """
    perim, shared = _with_outlines(problem, nodes)
    area = problem.area[nodes].astype(float)
    ok = labels >= 0
    k = int(labels.max()) + 1 if ok.any() else 0
    coo = shared.tocoo()
    inside = (labels[coo.row] == labels[coo.col]) & (labels[coo.row] >= 0)
    internal = np.bincount(labels[coo.row][inside], weights=coo.data[inside], minlength=k)
    a = np.bincount(labels[ok], weights=area[ok], minlength=k)
    p = np.bincount(labels[ok], weights=perim[ok], minlength=k) - internal
    return {int(r): float(4 * np.pi * a[r] / p[r] ** 2) if p[r] > 0 else 0.0
            for r in np.unique(labels[ok])}


def _polish(problem: PartitionProblem, nodes: np.ndarray, labels: np.ndarray, *,
            target: float, lower: float, upper: float, worst: float,
            max_sweeps: int = 20) -> np.ndarray:
    """Move boundary blocks when the two regions' Polsby-Popper scores rise together.

    Balance never gets worse than it is: a move must keep both regions inside the range
    and within the current worst deviation from the target.
    """
    labels = labels.copy()
    local = {int(v): i for i, v in enumerate(nodes)}
    hh = problem.households[nodes].astype(float)
    area = problem.area[nodes].astype(float)
    perim, shared = _with_outlines(problem, nodes)
    nbrs = [np.array([local[int(v)] for v in problem.neighbours(int(u)) if int(v) in local],
                     dtype=np.int64) for u in nodes]
    ok = labels >= 0
    k = int(labels.max()) + 1 if ok.any() else 0
    size = np.bincount(labels[ok], weights=hh[ok], minlength=k)
    count = np.bincount(labels[ok], minlength=k)
    a_reg = np.bincount(labels[ok], weights=area[ok], minlength=k)
    coo = shared.tocoo()
    inside = (labels[coo.row] == labels[coo.col]) & (labels[coo.row] >= 0)
    p_reg = (np.bincount(labels[ok], weights=perim[ok], minlength=k)
             - np.bincount(labels[coo.row][inside], weights=coo.data[inside], minlength=k))

    def pp(a: float, p: float) -> float:
        return 4 * np.pi * a / p ** 2 if p > 0 else 0.0

    def fits(s: float) -> bool:
        return lower <= s <= upper and abs(s - target) / target <= worst + 1e-9

    for _ in range(max_sweeps):
        moved = False
        for i in range(nodes.size):
            a = int(labels[i])
            if a < 0 or count[a] <= 1:
                continue
            row = slice(shared.indptr[i], shared.indptr[i + 1])
            nb, length = shared.indices[row], shared.data[row]
            for b in {int(labels[j]) for j in nbrs[i] if labels[j] >= 0 and labels[j] != a}:
                if not (fits(size[a] - hh[i]) and fits(size[b] + hh[i])):
                    continue
                s_a = length[labels[nb] == a].sum()
                s_b = length[labels[nb] == b].sum()
                new_pa = p_reg[a] - perim[i] + 2 * s_a
                new_pb = p_reg[b] + perim[i] - 2 * s_b
                pa, pb = pp(a_reg[a] - area[i], new_pa), pp(a_reg[b] + area[i], new_pb)
                if pa + pb <= pp(a_reg[a], p_reg[a]) + pp(a_reg[b], p_reg[b]) + 1e-6:
                    continue
                if not _stays_connected(labels, nbrs, a, i):
                    continue
                labels[i] = b
                size[a] -= hh[i]
                size[b] += hh[i]
                count[a] -= 1
                count[b] += 1
                a_reg[a] -= area[i]
                a_reg[b] += area[i]
                p_reg[a], p_reg[b] = new_pa, new_pb
                moved = True
                break
        if not moved:
            break
    return labels


def _stays_connected(labels: np.ndarray, nbrs: list[np.ndarray], region: int,
                     removed: int) -> bool:
    """Return True when ``region`` (connected) minus node ``removed`` is still connected.

    It is exactly when the removed node's neighbours in the region still reach one
    another without it, so the search stops as soon as they are all found, usually a
    few steps away around the block.
    """
    targets = {int(v) for v in nbrs[removed] if labels[v] == region}
    if not targets:
        return bool(((labels == region).sum() - 1) > 0)
    start = targets.pop()
    seen = {start}
    queue = deque([start])
    while queue and targets:
        u = queue.popleft()
        for v in nbrs[u]:
            v = int(v)
            if v != removed and v not in seen and labels[v] == region:
                seen.add(v)
                targets.discard(v)
                queue.append(v)
    return not targets


def is_contiguous(adjacency: sp.csr_matrix, members: np.ndarray) -> bool:
    """Return True when the nodes ``members`` form one connected piece of the graph."""
    if members.size <= 1:
        return True
    sub = adjacency[members][:, members]
    n_comp, _ = connected_components(sub, directed=False)
    return n_comp == 1


def clean_zone(blocks: np.ndarray) -> shapely.Geometry:
    """Return the union of a zone's blocks without slivers, valid in any CRS.

    The union is computed on a 1 cm grid; parts and holes under ``SLIVER_M2`` (gaps of
    floating-point noise where blocks cut from one another meet) are removed, so the
    outline stays a valid polygon after reprojection to WGS-84.
    """
    geom = shapely.union_all(blocks, grid_size=GRID_SIZE_M)
    parts = [p for p in shapely.get_parts(geom) if shapely.get_type_id(p) == 3
             and shapely.area(p) >= SLIVER_M2]
    cleaned = []
    for p in parts:
        holes = [r for r in p.interiors if shapely.area(shapely.Polygon(r)) >= SLIVER_M2]
        cleaned.append(shapely.Polygon(shapely.get_exterior_ring(p), holes))
    if not cleaned:
        return geom
    out = cleaned[0] if len(cleaned) == 1 else shapely.MultiPolygon(cleaned)
    return out if shapely.is_valid(out) else shapely.make_valid(out)


def polsby_popper(geom: shapely.Geometry) -> float:
    """Return 4 pi A / P^2: 1 for a disc, near 0 for a thin or ragged shape."""
    perimeter = shapely.length(geom)
    return float(4 * np.pi * shapely.area(geom) / perimeter ** 2) if perimeter > 0 else 0.0


# -- plans ----------------------------------------------------------------------------


@dataclass(frozen=True)
class GridPlan:
    """Communities and grids as block assignments; immutable, so edits make new plans.

    Attributes
    ----------
    blocks
        The street blocks.
    community, grid
        Label per block (-1: in none, e.g. a block with no homes that touches none).
    community_names, grid_names
        Display names per label.
    grid_community
        The community of each grid label.
    workers
        Grid worker (name, phone) per grid label: personal data, kept out of maps.
    rules
        Sizes the plan was made for.
    """

    blocks: Blocks
    community: np.ndarray
    grid: np.ndarray
    community_names: dict[int, str]
    grid_names: dict[int, str]
    grid_community: dict[int, int]
    rules: GridRules
    workers: dict[int, tuple[str, str]] = field(default_factory=dict)
    community_codes: dict[int, str] = field(default_factory=dict)
    grid_codes: dict[int, str] = field(default_factory=dict)

    def with_codes(self) -> GridPlan:
        """Return the plan with a code for every community and grid that has none.

        Codes follow CJ/T 349-2010: ``rules.code_prefix`` (division and street codes),
        a 3-digit community number, then a 3-digit grid number within the community.
        Existing codes never change; a new grid takes the next free number.
        """
        comm = {c: v for c, v in self.community_codes.items() if c in self.community_names}
        for c in sorted(self.community_names):
            if c not in comm:
                used = {int(v[-3:]) for v in comm.values()}
                comm[c] = f"{self.rules.code_prefix}{(max(used, default=0) + 1):03d}"
        grid = {g: v for g, v in self.grid_codes.items() if g in self.grid_names}
        for g in sorted(self.grid_names):
            if g not in grid:
                c_code = comm[self.grid_community[g]]
                used = {int(v[-3:]) for v in grid.values() if v.startswith(c_code)}
                grid[g] = f"{c_code}{(max(used, default=0) + 1):03d}"
        return self.replace(community_codes=comm, grid_codes=grid)

    def replace(self, **changes: object) -> GridPlan:
        """Return a copy with some fields changed."""
        from dataclasses import replace

        return replace(self, **changes)

    def to_state(self) -> dict[str, object]:
        """Return the plan's assignments and names as plain values (no geometry)."""
        return {"community": [int(v) for v in self.community],
                "grid": [int(v) for v in self.grid],
                "community_names": {int(k): v for k, v in self.community_names.items()},
                "grid_names": {int(k): v for k, v in self.grid_names.items()},
                "grid_community": {int(k): int(v) for k, v in self.grid_community.items()},
                "workers": {int(k): list(v) for k, v in self.workers.items()},
                "community_codes": {int(k): v for k, v in self.community_codes.items()},
                "grid_codes": {int(k): v for k, v in self.grid_codes.items()}}

    @classmethod
    def from_state(cls, blocks: Blocks, rules: GridRules, state: dict) -> GridPlan:
        """Rebuild a plan from :meth:`to_state` values and its blocks."""
        def ints(d: dict) -> dict[int, object]:
            return {int(k): v for k, v in d.items()}

        return cls(blocks, np.asarray(state["community"], dtype=np.int64),
                   np.asarray(state["grid"], dtype=np.int64),
                   {k: str(v) for k, v in ints(state["community_names"]).items()},
                   {k: str(v) for k, v in ints(state["grid_names"]).items()},
                   {k: int(v) for k, v in ints(state["grid_community"]).items()}, rules,
                   {k: (str(v[0]), str(v[1])) for k, v in ints(state.get("workers", {})).items()},
                   {k: str(v) for k, v in ints(state.get("community_codes", {})).items()},
                   {k: str(v) for k, v in ints(state.get("grid_codes", {})).items()})

    def _zones(self, labels: np.ndarray, names: dict[int, str],
               codes: dict[int, str]) -> gpd.GeoDataFrame:
        b = self.blocks.gdf
        rows, geoms = [], []
        for lab in sorted(names):
            sel = labels == lab
            if not sel.any():
                continue
            geom = clean_zone(np.asarray(b.geometry.values)[sel])
            rows.append({"label": lab, "code": codes.get(lab, ""), "name": names[lab],
                         "households": int(b["households"].to_numpy()[sel].sum()),
                         "buildings": int(b["buildings"].to_numpy()[sel].sum()),
                         "blocks": int(sel.sum()), "area_m2": float(shapely.area(geom)),
                         "compactness": polsby_popper(geom)})
            geoms.append(geom)
        return gpd.GeoDataFrame(rows, geometry=geoms, crs=b.crs) if rows else \
            gpd.GeoDataFrame({"label": [], "name": []}, geometry=[], crs=b.crs)

    def communities_gdf(self) -> gpd.GeoDataFrame:
        """Return one polygon per community with its numbers and flags."""
        gdf = self._zones(self.community, self.community_names, self.community_codes)
        target = self.rules.community_target_households
        if len(gdf):
            gdf["deviation"] = (gdf["households"] - target) / target
            gdf["flag"] = np.where(gdf["households"] > 1.5 * target, "split",
                                   np.where(gdf["households"] < 0.5 * target, "merge", ""))
        return gdf

    def grids_gdf(self, *, with_workers: bool = False) -> gpd.GeoDataFrame:
        """Return one polygon per grid with its numbers and range flags.

        Grid workers' names and phones are included only with ``with_workers`` (the
        project file and the table export the user asks for).
        """
        gdf = self._zones(self.grid, self.grid_names, self.grid_codes)
        r = self.rules
        if len(gdf):
            gdf["community"] = [self.community_names.get(self.grid_community.get(int(g), -1), "")
                                for g in gdf["label"]]
            gdf["deviation"] = (gdf["households"] - r.target_households) / r.target_households
            gdf["flag"] = np.where(gdf["households"] > r.max_households, "above range",
                                   np.where(gdf["households"] < r.min_households,
                                            "below range", ""))
            if with_workers:
                gdf["worker"] = [self.workers.get(int(g), ("", ""))[0] for g in gdf["label"]]
                gdf["phone"] = [self.workers.get(int(g), ("", ""))[1] for g in gdf["label"]]
        return gdf


#: Names given to generated communities and grids, by language; the user renames them.
ZONE_NAMES = {"zh": ("社区{n}", "{community}-{n:02d}网格"),
              "en": ("Community {n}", "{community}, grid {n:02d}")}


def plan_grids(blocks: Blocks, rules: GridRules, *,
               communities: gpd.GeoDataFrame | None = None, seed: int = 0,
               lang: str = "zh") -> GridPlan:
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
                               shared_lengths(geoms, blocks.adjacency))
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
    best = None
    tries = COMMUNITY_TRIES if hh.size <= LARGE_AREA_BLOCKS else COMMUNITY_TRIES_LARGE
    for attempt in range(tries if n_comm > 1 else 1):
        comm = partition_blocks(problem, n_comm, target=mean, lower=0.5 * mean,
                                upper=1.5 * mean, compactness_weight=rules.compactness_weight,
                                seed=seed + attempt, tries=1,
                                kmeans_restarts=8 if attempt == 0 else 1)
        # A study area in several unconnected pieces gets at least one community per
        # piece, so there can be more communities than the target count: name them all.
        names = {int(i): comm_names.get(int(i), comm_tpl.format(n=int(i) + 1))
                 for i in np.unique(comm[comm >= 0])}
        grid, grid_names, grid_comm, score = _grids_within(blocks, problem, comm, names,
                                                           rules, seed, grid_tpl)
        if best is None or score < best[0]:
            best = (score, comm, names, grid, grid_names, grid_comm)
    _s, comm, names, grid, grid_names, grid_comm = best
    return GridPlan(blocks, comm, grid, names, grid_names, grid_comm, rules).with_codes()


#: Community partitions tried when communities are generated (each judged by its grids);
#: on areas of more than ``LARGE_AREA_BLOCKS`` blocks, ``COMMUNITY_TRIES_LARGE``.
COMMUNITY_TRIES = 6
COMMUNITY_TRIES_LARGE = 2
LARGE_AREA_BLOCKS = 2000
#: The Polsby-Popper polish (one union per tried move) runs on pieces of at most this
#: many blocks: every grid partition, and communities of ordinary study areas.
POLISH_MAX_BLOCKS = 1500


def _grids_within(blocks: Blocks, problem: PartitionProblem, comm: np.ndarray,
                  comm_names: dict[int, str], rules: GridRules, seed: int,
                  grid_tpl: str = ZONE_NAMES["zh"][1],
                  ) -> tuple[np.ndarray, dict[int, str], dict[int, int], tuple]:
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
        sub = PartitionProblem(blocks.adjacency[nodes][:, nodes], hh[nodes],
                               problem.xy[nodes], problem.area[nodes],
                               None if problem.geoms is None else problem.geoms[nodes],
                               None if problem.perimeter is None else problem.perimeter[nodes],
                               None if problem.shared is None
                               else problem.shared[nodes][:, nodes].tocsr())
        labels = partition_blocks(sub, n_grid, target=c_hh / n_grid,
                                  lower=rules.min_households, upper=rules.max_households,
                                  compactness_weight=rules.compactness_weight, seed=seed)
        for g in np.unique(labels[labels >= 0]):
            size = hh[nodes[labels == g]].sum()
            out_of_range += int(size < rules.min_households or size > rules.max_households)
            worst = max(worst, abs(size - rules.target_households) / rules.target_households)
            grid[nodes[labels == g]] = next_label
            number = sum(1 for v in grid_comm.values() if v == c) + 1
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


def check_rules(rules: GridRules) -> None:
    """Refuse grid sizes that cannot work (zero, a range without the target, ...)."""
    problems = []
    if rules.target_households <= 0:
        problems.append(f"target {rules.target_households} must be positive")
    if not 0 < rules.min_households <= rules.target_households <= rules.max_households:
        problems.append(f"the range must hold the target: min {rules.min_households} <= "
                        f"target {rules.target_households} <= max {rules.max_households}")
    if rules.community_target_households < rules.target_households:
        problems.append(f"community target {rules.community_target_households} is smaller "
                        f"than one grid ({rules.target_households})")
    if problems:
        msg = "Grid sizes: " + "; ".join(problems) + "."
        raise InputError(msg, key="bad_grid_sizes", target=rules.target_households,
                         lo=rules.min_households, hi=rules.max_households,
                         community=rules.community_target_households)
