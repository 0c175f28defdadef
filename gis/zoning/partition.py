"""Contiguous regions of a target size from a block adjacency (:func:`partition_blocks`).

0. Blocks nobody lives in (roads' islands, parks, squares) join the nearest block with
   households, counted in steps across shared edges: every node then holds households,
   so every move between regions changes their balance. Without this, regions are
   lined with empty blocks and no single move can pass households across (Malta's
   communities stalled at median 35 % from the target).
1. Seeds: weighted k-means of block centroids (weight: households), one block per centre.
2. Growth: the region with the fewest households takes its nearest unassigned neighbour
   block, until every reachable block is assigned; regions stay contiguous by
   construction. The first attempt also starts from a recursive bisection across the
   households' principal axis (:func:`_bisect`), balanced by construction: growth can
   wall regions in while small.
3. Refinement: boundary blocks move to a neighbouring region when that lowers the
   objective (squared relative deviation from the target, a steep penalty outside the
   allowed range, plus ``compactness_weight`` x normalised moment of inertia) and the
   donor stays contiguous.
4. Polish (areas up to ``POLISH_MAX_BLOCKS`` blocks): moves that raise the regions'
   Polsby-Popper compactness while the sizes stay in range.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
import shapely
from scipy.sparse.csgraph import connected_components, dijkstra

from gis.zoning._compiled import grow_regions, pieces_of, refine_moves
from gis.zoning.blocks import shared_lengths
from gis.zoning.cluster import _kmeans

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

    @property
    def has_outlines(self) -> bool:
        """True when the blocks' perimeters and shared lengths are known or computable.

        Returns
        -------
        bool
            Whether the Polsby-Popper polish and score can run.
        """
        return self.geoms is not None or (self.perimeter is not None
                                          and self.shared is not None)

    def neighbours(self, i: int) -> np.ndarray:
        """Return the neighbours of node ``i``.

        Parameters
        ----------
        i
            A node's position.

        Returns
        -------
        numpy.ndarray
            Positions of its neighbours.
        """
        a = self.adjacency
        return np.asarray(a.indices[a.indptr[i]:a.indptr[i + 1]])

    def subset(self, nodes: np.ndarray) -> PartitionProblem:
        """Return the problem on ``nodes`` alone (their blocks and the edges among them).

        Parameters
        ----------
        nodes
            Positions of the nodes kept, in increasing order.

        Returns
        -------
        PartitionProblem
            Node ``i`` of the result is ``nodes[i]`` of this one.
        """
        return PartitionProblem(
            _induced(self.adjacency, nodes), self.households[nodes], self.xy[nodes],
            self.area[nodes], None if self.geoms is None else self.geoms[nodes],
            None if self.perimeter is None else self.perimeter[nodes],
            None if self.shared is None else _induced(self.shared, nodes))


def _induced(matrix: sp.csr_matrix, nodes: np.ndarray) -> sp.csr_matrix:
    """Return the rows and columns ``nodes`` (increasing) of ``matrix``, indices sorted.

    When ``nodes`` are all the rows, the matrix itself (or a sorted copy) comes back:
    :func:`partition_blocks` works on each connected piece's own problem, so its steps
    ask for every node, and scipy's fancy indexing costs 0.1 ms a call.
    """
    if nodes.size == matrix.shape[0]:
        if matrix.has_sorted_indices:
            return matrix
        matrix = matrix.copy()
    else:
        matrix = matrix[nodes][:, nodes].tocsr()
    matrix.sort_indices()
    return matrix


def partition_blocks(problem: PartitionProblem, n_regions: int, *, target: float,
                     lower: float, upper: float, compactness_weight: float = 0.05,
                     seed: int = 0, max_sweeps: int = 60, tries: int = 6,
                     kmeans_restarts: int = 8) -> np.ndarray:
    """Partition the nodes into about ``n_regions`` contiguous regions of ``target`` size.

    Refinement may empty a region when merging it into a neighbour brings both inside
    ``[lower, upper]``; labels are then renumbered, so fewer regions can come back.
    ``tries`` seeded starts are made and the best kept: fewest regions outside the range,
    then the smallest worst deviation, then the lowest balance + compactness objective.
    Nodes of a connected piece with no households get label -1. Blocks without households
    are partitioned with the nearest block that has some (fewest shared edges away), so
    every region boundary can pass households across.

    Parameters
    ----------
    problem
        The blocks' adjacency, households, centroids (and geometry for the polish).
    n_regions
        How many regions.
    target
        Households a region should hold.
    lower, upper
        The allowed range of households per region.
    compactness_weight
        Weight of the compactness term.
    seed
        Seed of the k-means starts.
    max_sweeps
        Refinement sweeps at most.
    tries
        Starts tried; the best is kept.
    kmeans_restarts
        k-means runs of the first start.

    Returns
    -------
    numpy.ndarray
        Region label per node (0 .. n_regions-1, or -1).
    """
    n = problem.households.size
    labels = np.full(n, -1, dtype=np.int64)
    if n == 0:
        return labels
    # The same settings for the grouped problem and for the blocks one by one.
    args: dict[str, Any] = {
        "target": target, "lower": lower, "upper": upper,
        "compactness_weight": compactness_weight, "seed": seed, "max_sweeps": max_sweeps,
        "tries": tries, "kmeans_restarts": kmeans_restarts}
    contracted = _contract_empty(problem)
    if contracted is not None:
        owner, core = contracted
        sub = partition_blocks(core, n_regions, **args)
        joined = np.where(owner >= 0, sub[np.maximum(owner, 0)], -1)
        if n > CONTRACTED_ONLY_ABOVE:
            return joined
        # On few blocks an empty block can be the only link between blocks with
        # households; joined to one of them, it ties them. When a region is then out of
        # range, the blocks partitioned one by one are tried too, and the better kept.
        nodes = np.arange(n)
        first = _score(problem, nodes, joined, target=target, lower=lower, upper=upper,
                       compactness_weight=compactness_weight)
        if first[0] == 0:
            return joined
        alone = _partition_pieces(problem, n_regions, **args)
        second = _score(problem, nodes, alone, target=target, lower=lower, upper=upper,
                        compactness_weight=compactness_weight)
        return joined if first <= second else alone
    return _partition_pieces(problem, n_regions, **args)


#: Above this many blocks, only the partition of blocks joined to their nearest block with
#: households is made (on a city it is far better balanced; the other costs seconds).
CONTRACTED_ONLY_ABOVE = 1500


def _partition_pieces(problem: PartitionProblem, n_regions: int, *, target: float,
                      lower: float, upper: float, compactness_weight: float, seed: int,
                      max_sweeps: int, tries: int, kmeans_restarts: int) -> np.ndarray:
    """Partition each connected piece of ``problem`` (see :func:`partition_blocks`)."""
    n = problem.households.size
    labels = np.full(n, -1, dtype=np.int64)
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
        piece = np.flatnonzero(comp == c)
        # Each connected piece is partitioned as a problem of its own: every step below
        # works on all its nodes.
        part = problem.subset(piece) if piece.size < n else problem
        nodes = np.arange(piece.size)
        best: np.ndarray | None = None
        best_score: tuple[int, float, float] | None = None
        for attempt in range(tries):
            # The first start is the best of several k-means runs; later ones are single
            # runs with other seeds, for variety. The first attempt also starts from a
            # recursive bisection, balanced by construction: growth from seeds can wall
            # regions in while small, and refinement only evens out neighbours.
            starts = [_grow(part, nodes, int(k), target=target, seed=seed + attempt,
                            restarts=kmeans_restarts if attempt == 0 else 1)]
            if attempt == 0 and k > 1:
                split = _bisect(part, int(k))
                if split is not None:
                    starts.append(split)
            for cand in starts:
                cand = _refine(part, nodes, cand, int(k), target=target, lower=lower,
                               upper=upper, compactness_weight=compactness_weight,
                               max_sweeps=max_sweeps)
                sizes = np.bincount(cand[cand >= 0],
                                    weights=part.households[nodes][cand >= 0])
                if (sizes[sizes > 0] < lower).any():
                    # Leftover regions too small to reach the range may be merged away.
                    cand = _refine(part, nodes, cand, int(k), target=target, lower=lower,
                                   upper=upper, compactness_weight=compactness_weight,
                                   max_sweeps=max_sweeps, allow_empty=True)
                score = _score(part, nodes, cand, target=target, lower=lower, upper=upper,
                               compactness_weight=compactness_weight)
                if best_score is None or score < best_score:
                    best, best_score = cand, score
        assert best is not None and best_score is not None  # tries >= 1
        sub = best
        if part.has_outlines and nodes.size <= POLISH_MAX_BLOCKS:
            sub = _polish(part, nodes, sub, target=target, lower=lower, upper=upper,
                          worst=best_score[1])
        sub = _absorb_empty(part, nodes, sub)
        used = np.unique(sub[sub >= 0])
        renum = np.full(int(k), -1, dtype=np.int64)
        renum[used] = np.arange(used.size) + next_label
        labels[piece] = np.where(sub >= 0, renum[np.maximum(sub, 0)], -1)
        next_label += int(used.size)
    return labels


def _contract_empty(problem: PartitionProblem
                    ) -> tuple[np.ndarray, PartitionProblem] | None:
    """Join every block without households to the nearest block with some.

    "Nearest" counts shared edges (a breadth-first search from all blocks with
    households at once), so each group is the block with households and a tree of empty
    blocks hanging from it: connected. Households, areas, area moments, perimeters and
    shared lengths of a group are sums over its blocks (a group's perimeter less its
    inner shared edges), so the objective and the Polsby-Popper scores are those of the
    same blocks.

    Returns
    -------
    tuple or None
        ``(owner, groups)``: the group of every node (-1 in a piece without households)
        and the problem on the groups; None when no node is empty or all are.
    """
    hh = problem.households
    full = hh > 0
    if full.all() or not full.any():
        return None
    n = hh.size
    anchors = np.flatnonzero(full)
    _dist, _pred, source = dijkstra(problem.adjacency, directed=False, indices=anchors,
                                    unweighted=True, min_only=True,
                                    return_predecessors=True)
    group_of = np.full(n, -1, dtype=np.int64)
    group_of[anchors] = np.arange(anchors.size)
    owner = np.where(source >= 0, group_of[np.maximum(source, 0)], -1)
    reached = np.flatnonzero(owner >= 0)
    to_group = sp.csr_matrix((np.ones(reached.size), (reached, owner[reached])),
                             shape=(n, anchors.size))
    up = to_group.T.tocsr()
    adjacency = (up @ problem.adjacency.astype(float) @ to_group).tocsr()
    adjacency.setdiag(0)
    adjacency.eliminate_zeros()
    adjacency.data[:] = 1.0
    adjacency.sort_indices()
    area = up @ problem.area.astype(float)
    moment = up @ (problem.xy * problem.area[:, None])
    xy = np.where(area[:, None] > 0, moment / np.maximum(area, 1e-12)[:, None],
                  problem.xy[anchors])
    perimeter = shared = None
    if problem.has_outlines:
        perim, shared_all = _with_outlines(problem, np.arange(n))
        grouped = (up @ shared_all @ to_group).tocsr()
        inner = grouped.diagonal()
        grouped.setdiag(0)
        grouped.eliminate_zeros()
        grouped.sort_indices()
        perimeter, shared = up @ np.asarray(perim, dtype=float) - inner, grouped
    return owner, PartitionProblem(adjacency, up @ hh.astype(float), xy, area,
                                   perimeter=perimeter, shared=shared)


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
        around = {int(labels[local[int(v)]]) for u in members
                  for v in problem.neighbours(int(nodes[u])) if int(v) in local}
        nbr = [b for b in around if b >= 0 and b != r]
        if not nbr:
            labels[members] = -1  # an island of empty blocks: in no grid
            continue
        labels[members] = min(nbr, key=lambda b: (size[b], b))


def _bisect(problem: PartitionProblem, k: int) -> np.ndarray | None:
    """Return ``k`` contiguous regions by recursive bisection, or None where it fails.

    Each step cuts a connected set of nodes across its households' principal axis where
    the households split in the ratio of the regions each side will hold. A side that
    falls apart keeps its piece with the most households; its other pieces touch only
    the far side and join it, so both sides stay connected (the far side is then mended
    the same way).
    """
    n = problem.households.size
    labels = np.full(n, -1, dtype=np.int64)
    hh = problem.households.astype(float)
    adj = _induced(problem.adjacency, np.arange(n))
    indptr, indices = adj.indptr.astype(np.int64), adj.indices.astype(np.int64)
    tag = np.zeros(n, dtype=np.int64)
    comp = np.empty(n, dtype=np.int64)
    queue = np.empty(n, dtype=np.int64)
    stack = [(np.arange(n), k)]
    next_label, next_tag = 0, 1
    while stack:
        nodes, kk = stack.pop()
        if kk == 1:
            labels[nodes] = next_label
            next_label += 1
            continue
        w = hh[nodes]
        if nodes.size < kk or w.sum() <= 0:
            return None
        xy = problem.xy[nodes]
        xy = xy - (xy * w[:, None]).sum(axis=0) / w.sum()
        axis = np.linalg.eigh((xy * w[:, None]).T @ xy)[1][:, -1]
        order = np.argsort(xy @ axis, kind="stable")
        k1 = kk // 2
        cut = int(np.searchsorted(np.cumsum(w[order]), w.sum() * k1 / kk)) + 1
        cut = min(max(cut, 1), nodes.size - 1)
        t_a, t_b = next_tag, next_tag + 1
        next_tag += 2
        tag[nodes] = t_b
        tag[nodes[order[:cut]]] = t_a
        for mine_tag, other_tag in ((t_a, t_b), (t_b, t_a)):
            mine = nodes[tag[nodes] == mine_tag]
            if pieces_of(indptr, indices, mine, tag, mine_tag, comp, queue) > 1:
                c = comp[mine]
                keep = np.argmax(np.bincount(c, weights=hh[mine]))
                tag[mine[c != keep]] = other_tag
        a, b = nodes[tag[nodes] == t_a], nodes[tag[nodes] == t_b]
        if a.size < k1 or b.size < kk - k1:
            return None
        stack.extend([(b, kk - k1), (a, k1)])
    return labels


def _grow(problem: PartitionProblem, nodes: np.ndarray, k: int, *, target: float,
          seed: int, restarts: int = 8) -> np.ndarray:
    """Seed k regions and grow them, the smallest first, by nearest neighbour blocks."""
    xy = problem.xy[nodes]
    hh = problem.households[nodes].astype(float)
    labels = np.full(nodes.size, -1, dtype=np.int64)
    if k == 1:
        labels[:] = 0
        return labels
    centres_lab = _kmeans(xy, hh + 1e-3, k, seed=seed, restarts=restarts)
    # Each k-means cluster is seeded at its block nearest the cluster's weighted centre
    # (every cluster's centre at once; the clusters do not share blocks).
    w = hh + 1e-3
    sum_w = np.bincount(centres_lab, weights=w, minlength=k)
    used = np.flatnonzero(sum_w > 0)
    cen = np.column_stack([np.bincount(centres_lab, weights=w * xy[:, 0], minlength=k),
                           np.bincount(centres_lab, weights=w * xy[:, 1], minlength=k)]
                          ) / np.where(sum_w > 0, sum_w, 1.0)[:, None]
    d2 = ((xy - cen[centres_lab]) ** 2).sum(axis=1)
    by = np.lexsort((d2, centres_lab))  # by cluster, nearest first
    first = np.searchsorted(centres_lab[by], used)
    seeds = by[first]
    labels[seeds] = np.arange(seeds.size)
    sub = _induced(problem.adjacency, nodes)
    # Growth runs compiled (gis.zoning._compiled): a heap step per block and neighbour.
    grow_regions(labels, sub.indptr.astype(np.int64), sub.indices.astype(np.int64),
                 np.ascontiguousarray(xy, dtype=float), hh,
                 seeds.astype(np.int64))
    return labels


def _refine(problem: PartitionProblem, nodes: np.ndarray, labels: np.ndarray, k: int, *,
            target: float, lower: float, upper: float, compactness_weight: float,
            max_sweeps: int, allow_empty: bool = False) -> np.ndarray:
    """Move boundary blocks between regions while the objective falls.

    With ``allow_empty``, a region below ``lower`` may give away its last block (it
    disappears); otherwise the number of regions stays fixed.
    """
    xy = problem.xy[nodes]
    hh = problem.households[nodes].astype(float)
    area = problem.area[nodes].astype(float)
    sub = _induced(problem.adjacency, nodes)
    k_eff = int(labels.max()) + 1 if (labels >= 0).any() else 0
    ok = labels >= 0
    pxx = area * (xy ** 2).sum(axis=1)

    def sums(w: np.ndarray) -> np.ndarray:
        return np.bincount(labels[ok], weights=w[ok], minlength=k_eff).astype(float)

    labels = np.ascontiguousarray(labels, dtype=np.int64)
    # The moves themselves run compiled (gis.zoning._compiled): millions of tiny steps.
    refine_moves(labels, sub.indptr.astype(np.int64), sub.indices.astype(np.int64),
                 np.argsort(-hh, kind="stable").astype(np.int64), hh, area,
                 xy[:, 0] * area, xy[:, 1] * area, pxx, sums(hh), sums(area),
                 sums(xy[:, 0] * area), sums(xy[:, 1] * area), sums(pxx),
                 np.bincount(labels[ok], minlength=k_eff).astype(np.int64),
                 float(target), float(lower), float(upper), float(compactness_weight),
                 int(max_sweeps), bool(allow_empty))
    return labels


def _score(problem: PartitionProblem, nodes: np.ndarray, labels: np.ndarray, *,
           target: float, lower: float, upper: float,
           compactness_weight: float) -> tuple[int, float, float]:
    """Return (regions outside the range, worst deviation to 0.01, compactness term).

    The compactness term is minus the median Polsby-Popper score of the regions when the
    block geometries are known, else the balance + inertia objective.
    """
    ok = labels >= 0
    if not ok.any():
        return 0, 0.0, 0.0
    # Every region's sums at once (bincount), not a pass over the nodes per region.
    lab = labels[ok]
    hh = problem.households[nodes][ok].astype(float)
    present = np.bincount(lab) > 0
    s = np.bincount(lab, weights=hh)[present]
    out = int(((s < lower) | (s > upper)).sum())
    dev = np.abs(s - target) / target
    worst = float(dev.max())
    if problem.has_outlines:
        pp = list(_region_polsby_popper(problem, nodes, labels).values())
        return out, round(worst, 2), -float(np.median(pp))
    xy = problem.xy[nodes][ok]
    area = problem.area[nodes][ok].astype(float)
    a = np.bincount(lab, weights=area)
    cen = np.column_stack([np.bincount(lab, weights=xy[:, 0] * area),
                           np.bincount(lab, weights=xy[:, 1] * area)]) \
        / np.where(present, a, 1.0)[:, None]  # labels no node holds: no division by 0
    second = np.bincount(lab, weights=area * ((xy - cen[lab]) ** 2).sum(axis=1))[present]
    a = a[present]
    total = float((dev * dev + compactness_weight * (second / (a * a / (2 * np.pi)) - 1.0))
                  .sum())
    return out, round(worst, 2), total


def _with_outlines(problem: PartitionProblem, nodes: np.ndarray
                   ) -> tuple[np.ndarray, sp.csr_matrix]:
    """Return block perimeters and shared lengths of ``nodes`` (computed when missing)."""
    if problem.perimeter is not None and problem.shared is not None:
        return problem.perimeter[nodes], _induced(problem.shared, nodes)
    assert problem.geoms is not None  # the polish runs only with geometries
    geoms = problem.geoms[nodes]
    return shapely.length(geoms), shared_lengths(geoms,
                                                 _induced(problem.adjacency, nodes))


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
    """Return True when the nodes ``members`` form one connected piece of the graph.

    Parameters
    ----------
    adjacency
        The graph.
    members
        Node positions.

    Returns
    -------
    bool
        True when connected.
    """
    if members.size <= 1:
        return True
    sub = adjacency[members][:, members]
    n_comp, _ = connected_components(sub, directed=False)
    return bool(n_comp == 1)
#: The Polsby-Popper polish (one union per tried move) runs on pieces of at most this
#: many blocks: every grid partition, and communities of ordinary study areas.
POLISH_MAX_BLOCKS = 1500
