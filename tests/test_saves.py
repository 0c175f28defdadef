"""Interrupted saves leave nothing behind after the next open or save; live saves are
left alone."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
from shapely.geometry import Point

from gis.data.write import _release, _temporary, sweep_temporary, write_gpkg_atomic
from tests.conftest import ROOT, UTM

WRITER = """
import sys
import geopandas as gpd
import numpy as np
from gis.data.write import write_gpkg_atomic
n = 200_000
frame = gpd.GeoDataFrame({"worker": ["王五 13712345678"] * n},
                         geometry=gpd.points_from_xy(np.random.rand(n), np.random.rand(n)),
                         crs=4326)
while True:
    write_gpkg_atomic(sys.argv[1], {"grids": frame})
"""


def _leftovers(path):
    return sorted(p.name for p in path.parent.glob(f".{path.stem}-*"))


def test_a_save_killed_midway_leaves_nothing_after_the_next_save(tmp_path):
    path = tmp_path / "grids_project.gpkg"
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    deadline = time.time() + 120
    while time.time() < deadline and not any(n.endswith(".gpkg") for n in _leftovers(path)):
        time.sleep(0.02)
    time.sleep(0.3)  # well inside a write
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    left = _leftovers(path)
    assert left, "the kill came too late to leave a temporary file"
    # The next save removes them (they may hold workers' names and phones).
    small = gpd.GeoDataFrame({"n": [1]}, geometry=[Point(0, 0)], crs=4326)
    write_gpkg_atomic(path, {"grids": small})
    assert _leftovers(path) == []
    assert len(pyogrio.read_dataframe(path, layer="grids")) == 1


def test_a_live_save_in_another_writer_is_left_alone(tmp_path):
    path = tmp_path / "project.gpkg"
    tmp, held = _temporary(path, ".gpkg")
    tmp.write_bytes(b"in progress")
    (tmp_path / ".project-old.gpkg-journal").write_bytes(b"left by an old version")
    assert sweep_temporary(path) == 1  # only the unlocked leftover
    assert tmp.exists()
    _release(tmp, held)
    assert _leftovers(path) == []


def test_opening_a_project_sweeps_what_a_killed_save_left(tmp_path):
    from gis.planning.scenarios import load_scenarios

    path = tmp_path / "project.gpkg"
    write_gpkg_atomic(path, {"x": gpd.GeoDataFrame({"n": [1]}, geometry=[Point(0, 0)],
                                                   crs=4326)})
    stale = tmp_path / ".project-dead1234.gpkg"
    stale.write_bytes(np.zeros(10, dtype=np.uint8).tobytes())
    (tmp_path / ".project-dead1234.lock").write_bytes(b"")  # its writer is gone
    assert load_scenarios(path, crs="EPSG:32633") == []
    assert _leftovers(path) == []


SAVER = """
import sys
from gis.planning.scenarios import Change, Scenario, save_scenarios
path, who, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
for k in range(n):
    sc = Scenario(f"{who}-{k}", (Change("add", "health", x=500000.0 + k, y=6670000.0),))
    save_scenarios(path, [sc], crs="EPSG:32635", study="helsinki")
"""


def test_two_planners_saving_scenarios_at_once_lose_nothing(tmp_path):
    # Before: 2 x 50 saves to one project file lost 22 and 24 scenarios (last writer won).
    from gis.planning.scenarios import load_scenarios, save_scenarios

    path = tmp_path / "project.gpkg"
    save_scenarios(path, [], crs="EPSG:32635", study="helsinki")
    procs = [subprocess.Popen([sys.executable, "-c", SAVER, str(path), who, "50"], cwd=ROOT,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
             for who in ("A", "B")]
    assert [p.wait(timeout=300) for p in procs] == [0, 0]
    names = {sc.name for sc in load_scenarios(path, crs="EPSG:32635", study="helsinki")}
    assert names == {f"{who}-{k}" for who in "AB" for k in range(50)}
    assert _leftovers(path) == []


def test_a_save_waits_for_the_lock_and_says_so_when_it_cannot_get_it(tmp_path):
    from gis.data.write import SaveBusyError, project_lock
    from gis.planning.scenarios import Scenario, save_scenarios

    path = tmp_path / "project.gpkg"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time\nfrom gis.data.write import project_lock\n"
         "with project_lock(sys.argv[1]):\n    print('held', flush=True)\n    time.sleep(30)",
         str(path)], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        t = time.time()
        with pytest.raises(SaveBusyError) as caught, project_lock(path, wait_s=1.0):
            pass
        assert "someone else is saving" in str(caught.value)
        assert caught.value.key == "save_busy"
        assert 0.9 < time.time() - t < 5
    finally:
        holder.kill()
        holder.wait()
    # Once the holder is gone (killed: the kernel frees its lock), saving works again.
    save_scenarios(path, [Scenario("after")], crs="EPSG:32635")
    assert path.exists()


def test_a_long_layer_written_through_arrow_reads_back_as_the_classic_write(monkeypatch,
                                                                           tmp_path):
    # Long layers go through Arrow (faster); what a planner opens must be the same: every
    # column type the tool writes, missing values, and an object column of mixed types
    # (Arrow refuses it: that layer is written the classic way).
    import gis.data.write

    n = 12_000
    rng = np.random.default_rng(3)
    dist = rng.uniform(0, 900, n)
    dist[::7] = np.nan
    frame = gpd.GeoDataFrame({
        "households": rng.integers(1, 40, n), "covered": rng.random(n) < 0.5,
        "dist_m": dist, "rule": np.where(rng.random(n) < 0.5, "楼层估算", None),
        "mixed": [1 if i % 2 else "一" for i in range(n)]},
        geometry=gpd.points_from_xy(rng.uniform(0, 1000, n), rng.uniform(0, 1000, n)),
        crs=UTM)
    written = []
    real = pyogrio.write_dataframe

    def spy(df, path, **kw):
        real(df, path, **kw)
        written.append((kw["layer"], kw.get("use_arrow", False)))

    monkeypatch.setattr(pyogrio, "write_dataframe", spy)
    arrow = write_gpkg_atomic(tmp_path / "arrow.gpkg", {"homes": frame,
                                                       "plain": frame.drop(columns="mixed")})
    assert written == [("homes", False), ("plain", True)]
    monkeypatch.setattr(gis.data.write, "ARROW_ROWS", 10**9)
    classic = write_gpkg_atomic(tmp_path / "classic.gpkg",
                                {"homes": frame, "plain": frame.drop(columns="mixed")})
    for layer in ("homes", "plain"):
        a = gpd.read_file(arrow, layer=layer)
        b = gpd.read_file(classic, layer=layer)
        assert len(a) == n
        pd.testing.assert_frame_equal(pd.DataFrame(a.drop(columns="geometry")),
                                      pd.DataFrame(b.drop(columns="geometry")))
        assert a.geometry.geom_equals_exact(b.geometry, 1e-9).all()
    assert np.isnan(gpd.read_file(arrow, layer="plain")["dist_m"].to_numpy()[::7]).all()
