"""The network's inner loops, compiled with numba: many short searches, one per source.

A city asks for thousands of searches of a few hundred metres each (the households
within each facility's circle, the homes each candidate site reaches). Each touches a
few thousand nodes of a graph of hundreds of thousands, so the cost is in the setup of
each search and in sorting out the pairs, not in the search: here one compiled loop runs
them all on the whole graph, keeps each home's shortest distance as it goes, and resets
only what it touched. Compiled once per machine (``cache=True`` keeps the machine code
beside this file; ``make setup`` runs :func:`warm_up`).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from typing import Any, TypeVar, cast

import numba
import numpy as np

F = TypeVar("F", bound=Callable[..., Any])

#: numba's decorator, typed for mypy (numba has no annotations).
jit = cast(Callable[[F], F], numba.njit(cache=True, nogil=True))


@jit
def _search(indptr: np.ndarray, indices: np.ndarray, weights: np.ndarray,
            start_node: np.ndarray, start_dist: np.ndarray, limit: float, dist: np.ndarray,
            done: np.ndarray, touched: np.ndarray, settled: np.ndarray) -> tuple[int, int]:
    """Run one Dijkstra search within ``limit`` from ``start_node`` at ``start_dist``.

    ``dist`` (inf) and ``done`` (False) are the caller's scratch arrays over all nodes;
    the search writes the nodes it gave a distance into ``touched`` and the nodes it
    settled (distance final, at most ``limit``) into ``settled``, in order. Returns how
    many of each; the caller resets ``dist`` and ``done`` at the touched nodes.
    """
    n_touched = 0
    n_settled = 0
    heap = [(0.0, np.int64(0))]
    heap.pop()
    for j in range(start_node.size):
        v, d = np.int64(start_node[j]), start_dist[j]
        if d <= limit and d < dist[v]:
            if dist[v] == np.inf:
                touched[n_touched] = v
                n_touched += 1
            dist[v] = d
            heapq.heappush(heap, (d, v))
    while len(heap) > 0:
        d, v = heapq.heappop(heap)
        if done[v] or d > dist[v]:
            continue
        done[v] = True
        settled[n_settled] = v
        n_settled += 1
        for e in range(indptr[v], indptr[v + 1]):
            w = np.int64(indices[e])
            nd = d + weights[e]
            if nd <= limit and nd < dist[w] and not done[w]:
                if dist[w] == np.inf:
                    touched[n_touched] = w
                    n_touched += 1
                dist[w] = nd
                heapq.heappush(heap, (nd, w))
    return n_touched, n_settled


@jit
def pairs_within(indptr: np.ndarray, indices: np.ndarray, weights: np.ndarray,
                 start_ptr: np.ndarray, start_node: np.ndarray, start_dist: np.ndarray,
                 limit: float, node_ptr: np.ndarray, node_exit: np.ndarray,
                 node_extra: np.ndarray, src_edge: np.ndarray, src_offset: np.ndarray,
                 src_access: np.ndarray, edge_ptr: np.ndarray, edge_exit: np.ndarray,
                 exit_offset: np.ndarray, exit_access: np.ndarray, exit_home: np.ndarray,
                 n_homes: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return every (source, home) pair within ``limit`` walking, at its shortest distance.

    One bounded search per source on the whole graph; each home's shortest distance is
    kept as the search settles nodes, and only what was touched is reset afterwards.

    Parameters
    ----------
    indptr, indices, weights
        The graph (CSR, both directions of every street, metres).
    start_ptr, start_node, start_dist
        Source ``s`` starts at the nodes ``start_node[start_ptr[s]:start_ptr[s + 1]]``,
        at the distances ``start_dist`` of that slice (the ends of its street, its access
        leg included).
    limit
        The walking distance searched from each source.
    node_ptr, node_exit, node_extra
        The exits that leave through node ``v``:
        ``node_exit[node_ptr[v]:node_ptr[v + 1]]``, each ``node_extra`` more metres away.
    src_edge, src_offset, src_access
        Each source's street, position along it and access leg.
    edge_ptr, edge_exit
        The exits on street ``e``: ``edge_exit[edge_ptr[e]:edge_ptr[e + 1]]``.
    exit_offset, exit_access
        Each exit's position along its street and its leg to the home.
    exit_home, n_homes
        The home of each exit, and how many homes there are.

    Returns
    -------
    tuple of numpy.ndarray
        Sources, homes and metres: each pair once, grouped by source, homes in
        increasing order. Along its own street a home is ``|exit_offset - src_offset|
        + exit_access + src_access`` from the source.
    """
    n = indptr.size - 1
    dist = np.full(n, np.inf)
    done = np.zeros(n, dtype=np.bool_)
    touched = np.empty(n, dtype=np.int64)
    settled = np.empty(n, dtype=np.int64)
    best = np.full(n_homes, np.inf)
    homes = np.empty(n_homes, dtype=np.int64)
    cap = 1024
    out_src = np.empty(cap, dtype=np.int64)
    out_home = np.empty(cap, dtype=np.int64)
    out_dist = np.empty(cap, dtype=np.float64)
    m = 0
    for s in range(start_ptr.size - 1):
        a, b = start_ptr[s], start_ptr[s + 1]
        n_touched, n_settled = _search(indptr, indices, weights, start_node[a:b],
                                       start_dist[a:b], limit, dist, done, touched, settled)
        n_found = 0
        for k in range(n_settled):
            v = settled[k]
            for j in range(node_ptr[v], node_ptr[v + 1]):
                dd = dist[v] + node_extra[j]
                h = exit_home[node_exit[j]]
                if dd <= limit and dd < best[h]:
                    if best[h] == np.inf:
                        homes[n_found] = h
                        n_found += 1
                    best[h] = dd
        e = src_edge[s]
        for j in range(edge_ptr[e], edge_ptr[e + 1]):
            x = edge_exit[j]
            dd = src_access[s] + abs(exit_offset[x] - src_offset[s]) + exit_access[x]
            h = exit_home[x]
            if dd <= limit and dd < best[h]:
                if best[h] == np.inf:
                    homes[n_found] = h
                    n_found += 1
                best[h] = dd
        found = np.sort(homes[:n_found])
        while m + n_found > cap:
            cap *= 2
            grown_src = np.empty(cap, dtype=np.int64)
            grown_home = np.empty(cap, dtype=np.int64)
            grown_dist = np.empty(cap, dtype=np.float64)
            grown_src[:m] = out_src[:m]
            grown_home[:m] = out_home[:m]
            grown_dist[:m] = out_dist[:m]
            out_src, out_home, out_dist = grown_src, grown_home, grown_dist
        for k in range(n_found):
            h = found[k]
            out_src[m] = s
            out_home[m] = h
            out_dist[m] = best[h]
            best[h] = np.inf
            m += 1
        for k in range(n_touched):
            dist[touched[k]] = np.inf
            done[touched[k]] = False
    return out_src[:m], out_home[:m], out_dist[:m]


def warm_up() -> None:
    """Compile :func:`pairs_within` for the graphs the network builds (int32 and int64)."""
    one = np.array([0, 1], dtype=np.int64)
    for itype in (np.int32, np.int64):
        indptr = np.array([0, 1, 3, 4], dtype=itype)
        indices = np.array([1, 0, 2, 1], dtype=itype)
        pairs_within(indptr, indices, np.ones(4), one, np.array([0], dtype=np.int64),
                     np.array([0.0]), 5.0, np.array([0, 1, 1, 1], dtype=np.int64),
                     np.array([0], dtype=np.int64), np.array([1.0]),
                     np.array([0], dtype=np.int64), np.array([0.5]), np.array([0.0]),
                     np.array([0, 1, 1], dtype=np.int64), np.array([0], dtype=np.int64),
                     np.array([0.2]), np.array([1.0]), np.array([0], dtype=np.int64), 1)
