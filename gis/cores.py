"""Work shared by the machine's cores, in threads.

Shapely's functions run GEOS without holding Python's lock, so threads calling them run
at once, with no copies of the data and no start-up of processes. Each helper returns
what the plain loop or call would, in the same order.

Examples
--------
>>> import numpy as np, shapely
>>> boxes = shapely.box(np.arange(4), 0, np.arange(4) + 2, 1)
>>> [round(a) for a in in_runs(shapely.area, boxes, min_run=1)]
[2, 2, 2, 2]
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import numpy as np

T = TypeVar("T")
R = TypeVar("R")


def workers_for(n_items: int, min_run: int = 1) -> int:
    """Return how many threads share ``n_items`` items, each taking at least ``min_run``.

    Parameters
    ----------
    n_items
        How many items there are.
    min_run
        The fewest items worth a thread of their own.

    Returns
    -------
    int
        Between 1 and the number of cores.
    """
    return max(1, min(os.cpu_count() or 1, n_items // max(1, min_run)))


def on_cores(fn: Callable[[T], R], items: Iterable[T],
             cost: Sequence[float] | np.ndarray | None = None, *,
             workers: int | None = None) -> list[R]:
    """Return ``[fn(x) for x in items]``, the items taken by the cores as they come free.

    For work that runs without Python's lock (GEOS calls, compiled loops): a category's
    circle, a large block, a run of searches. With ``cost``, the costliest items start
    first, so that a large one is not left to the end with one core at work.

    Parameters
    ----------
    fn
        The work on one item; it must not change what the other items' work reads.
    items
        The items.
    cost
        An estimate of each item's cost (vertices, homes), or None: in order.
    workers
        Threads at most (default: one a core).

    Returns
    -------
    list
        The results in the order of the items.
    """
    items = list(items)
    workers = min(workers_for(len(items)), workers or len(items))
    if workers < 2:
        return [fn(x) for x in items]
    order = (np.arange(len(items)) if cost is None
             else np.argsort(-np.asarray(cost, dtype=float), kind="stable"))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        running = {int(i): pool.submit(fn, items[i]) for i in order}
        return [running[i].result() for i in range(len(items))]


def in_runs(fn: Callable[[np.ndarray], np.ndarray], values: np.ndarray,
            min_run: int = 5_000) -> np.ndarray:
    """Return ``fn(values)`` for a function of each value alone, in runs on every core.

    Parameters
    ----------
    fn
        A vectorised function whose result at ``i`` depends on ``values[i]`` only
        (``shapely.intersection(values, area)``, ``shapely.area``).
    values
        The values, a 1-d array.
    min_run
        The fewest values worth a thread of their own.

    Returns
    -------
    numpy.ndarray
        ``fn(values)``.
    """
    workers = workers_for(values.size, min_run)
    if workers < 2:
        return np.asarray(fn(values))
    starts = np.linspace(0, values.size, workers + 1).astype(np.int64)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        parts = list(pool.map(lambda k: np.asarray(fn(values[starts[k]:starts[k + 1]])),
                              range(workers)))
    return np.concatenate(parts)
