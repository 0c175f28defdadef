"""Work shared by the cores gives what the plain loop or call gives, in order."""

from __future__ import annotations

import numpy as np
import shapely
from hypothesis import given
from hypothesis import strategies as st

import gis.cores as cores
from gis.cores import in_runs, on_cores, workers_for
from gis.zoning.blocks import _hull


def test_items_taken_costliest_first_come_back_in_their_order(monkeypatch):
    monkeypatch.setattr(cores.os, "cpu_count", lambda: 3)
    submitted: list[int] = []

    class Pool(cores.ThreadPoolExecutor):
        def submit(self, fn, /, *args, **kwargs):
            submitted.append(args[0])
            return super().submit(fn, *args, **kwargs)

    monkeypatch.setattr(cores, "ThreadPoolExecutor", Pool)
    items = list(range(20))
    cost = np.arange(20)[::-1] % 7  # not in the items' order
    assert on_cores(lambda x: x * x, items, cost=cost) == [x * x for x in items]
    assert list(cost[submitted]) == sorted(cost, reverse=True)
    assert on_cores(lambda x: x * x, []) == []


def test_a_vectorised_call_in_runs_equals_the_call(monkeypatch):
    monkeypatch.setattr(cores.os, "cpu_count", lambda: 4)
    rng = np.random.default_rng(3)
    boxes = shapely.box(*rng.random((4, 101)) * 100)
    area = shapely.box(20, 20, 60, 60)
    assert workers_for(boxes.size, 10) == 4
    whole = shapely.intersection(boxes, area)
    runs = in_runs(lambda g: shapely.intersection(g, area), boxes, min_run=10)
    assert runs.size == whole.size
    assert shapely.equals_exact(runs, whole, 0).all()


@given(st.lists(st.tuples(st.integers(-50, 50), st.integers(-50, 50)), min_size=1,
                max_size=60))
def test_the_hull_through_qhull_is_geos_hull_of_every_point(points):
    coords = np.asarray(points, dtype=float)
    # Points on one line, one point, repeated points: qhull refuses them, GEOS does not.
    assert _hull(coords).equals_exact(shapely.convex_hull(shapely.multipoints(coords)), 0)
