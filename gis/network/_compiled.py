"""The network's inner loop, compiled with numba: many short searches, one per source.

A city asks for thousands of searches of a few hundred metres each (the households
within each facility's circle, the homes each candidate site reaches). Each touches a
few thousand nodes of a graph of hundreds of thousands, so the cost is in the setup of
each search, not in the search: here one compiled loop runs them all on the whole
graph, resetting only the nodes it touched. Compiled once per machine (``cache=True``
keeps the machine code beside this file; ``make setup`` runs :func:`warm_up`).
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
def bounded_searches(indptr: np.ndarray, indices: np.ndarray, weights: np.ndarray,
                     start_ptr: np.ndarray, start_node: np.ndarray, start_dist: np.ndarray,
                     limit: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Run one Dijkstra search per source within ``limit``; return every node reached.

    Source ``s`` starts at nodes ``start_node[start_ptr[s]:start_ptr[s + 1]]`` at the
    distances ``start_dist`` of the same slice (the ends of its street, its access leg
    included). A node is reached when its distance is at most ``limit``.

    Returns (source, node, distance) of every node reached, grouped by source.
    """
    n = indptr.size - 1
    dist = np.full(n, np.inf)
    done = np.zeros(n, dtype=np.bool_)
    touched = np.empty(n, dtype=np.int64)
    cap = 1024
    out_src = np.empty(cap, dtype=np.int64)
    out_node = np.empty(cap, dtype=np.int64)
    out_dist = np.empty(cap, dtype=np.float64)
    m = 0
    for s in range(start_ptr.size - 1):
        n_touched = 0
        heap = [(0.0, np.int64(0))]
        heap.pop()
        for j in range(start_ptr[s], start_ptr[s + 1]):
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
            if m == cap:
                cap *= 2
                grown_src = np.empty(cap, dtype=np.int64)
                grown_node = np.empty(cap, dtype=np.int64)
                grown_dist = np.empty(cap, dtype=np.float64)
                grown_src[:m] = out_src
                grown_node[:m] = out_node
                grown_dist[:m] = out_dist
                out_src, out_node, out_dist = grown_src, grown_node, grown_dist
            out_src[m] = s
            out_node[m] = v
            out_dist[m] = d
            m += 1
            for e in range(indptr[v], indptr[v + 1]):
                w = np.int64(indices[e])
                nd = d + weights[e]
                if nd <= limit and nd < dist[w] and not done[w]:
                    if dist[w] == np.inf:
                        touched[n_touched] = w
                        n_touched += 1
                    dist[w] = nd
                    heapq.heappush(heap, (nd, w))
        for i in range(n_touched):
            dist[touched[i]] = np.inf
            done[touched[i]] = False
    return out_src[:m], out_node[:m], out_dist[:m]


def warm_up() -> None:
    """Compile :func:`bounded_searches` for the graphs the network builds (int32/int64)."""
    for itype in (np.int32, np.int64):
        indptr = np.array([0, 1, 3, 4], dtype=itype)
        indices = np.array([1, 0, 2, 1], dtype=itype)
        bounded_searches(indptr, indices, np.ones(4), np.array([0, 1], dtype=np.int64),
                         np.array([0], dtype=np.int64), np.array([0.0]), 5.0)
