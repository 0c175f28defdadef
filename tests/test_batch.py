"""Many areas on Dask: exact at the seams, equal to a single run, robust to failures."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from hypothesis import HealthCheck, given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st

from gis.analysis.coverage import (
    CoverageOptions,
    compute_coverage,
)
from gis.batch import AreaInput, halo_m, run_area, run_batch, split_areas, tile_areas
from gis.network.graph import network_from_streets
from tests.conftest import ROOT, UTM, access_of, points, streets

PROFILES = ("adult", "elderly")


def _grid_city(n=12, step=200.0):
    """An n x n street grid (2.2 km a side) in 200 m edges."""
    lines = []
    for i in range(n):
        for j in range(n - 1):
            lines.append([(j * step, i * step), ((j + 1) * step, i * step)])
            lines.append([(i * step, j * step), (i * step, (j + 1) * step)])
    return network_from_streets(streets(*lines))


def _areas(xs, ys):
    """Rectangles between the cut lines xs and ys (local metres), ids a0, a1, ..."""
    xs, ys = [-500.0, *sorted(xs), 2700.0], [-500.0, *sorted(ys), 2700.0]
    polys = [shapely.box(xs[i], ys[j], xs[i + 1], ys[j + 1])
             for i in range(len(xs) - 1) for j in range(len(ys) - 1)]
    return gpd.GeoDataFrame({"area_id": [f"a{k}" for k in range(len(polys))]},
                            geometry=polys, crs=UTM)


def _single(network, homes, facilities, settings, profile):
    result = compute_coverage(access_of(network, homes, settings), facilities, settings,
                              CoverageOptions(profile=profile))
    return result.homes


def _merged(network, homes, facilities, areas, settings, standards=None):
    inputs, outside = split_areas(network, homes, facilities, areas,
                                  halo=halo_m(settings, PROFILES, standards))
    assert outside == 0
    outs = [run_area(i, settings, PROFILES, standards) for i in inputs]
    assert not [o.error for o in outs if o.error]
    merged = pd.concat([o.homes for o in outs if len(o.homes)])
    return merged, outs


def test_a_home_beside_a_seam_reaches_the_facility_across_it(settings):
    net = _grid_city()
    # The seam runs at x = 1100; the home is 60 m west of it, the only clinic 300 m east.
    homes = points([(1040, 1000), (200, 200)], households=[50, 20], osm_id=[1, 2])
    fac = points([(1400, 1000)], category=["health"], name=["clinic"])
    areas = _areas([1100.0], [])
    merged, _ = _merged(net, homes, fac, areas, settings)
    row = merged.set_index("osm_id").loc[1]
    assert row["area_id"] == "a0"
    assert bool(row["covered_health_adult"])
    single = _single(net, homes, fac, settings, "adult")
    assert single["covered_health"].tolist() == [True, False]
    # Cut without the halo, the clinic is lost to the home: the halo is what makes it exact.
    inputs, _ = split_areas(net, homes, fac, areas, halo=0.0)
    cut = run_area(inputs[0], settings, PROFILES, None)
    assert not cut.homes.set_index("osm_id").loc[1, "covered_health_adult"]


@hyp_settings(max_examples=12, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(xs=st.lists(st.floats(100, 2100), min_size=1, max_size=2),
       ys=st.lists(st.floats(100, 2100), min_size=0, max_size=2),
       seed=st.integers(0, 10_000))
def test_merged_batch_equals_a_single_run_over_random_splits(settings, xs, ys, seed):
    rng = np.random.default_rng(seed)
    net = _grid_city()
    n_homes = 80
    hxy = rng.uniform(0, 2200, size=(n_homes, 2))
    homes = points([tuple(p) for p in hxy], households=rng.integers(1, 60, n_homes),
                   osm_id=np.arange(n_homes))
    cats = rng.choice(["health", "elderly_care", "catering", "daily_shopping"], size=10)
    fxy = rng.uniform(0, 2200, size=(10, 2))
    fac = points([tuple(p) for p in fxy], category=list(cats), name=[""] * 10)
    merged, outs = _merged(net, homes, fac, _areas(xs, ys), settings)
    merged = merged.set_index("osm_id").sort_index()
    assert len(merged) == n_homes  # every home in exactly one area
    for profile in PROFILES:
        single = _single(net, homes, fac, settings, profile).set_index("osm_id").sort_index()
        for cid in settings.category_ids:
            assert (merged[f"covered_{cid}_{profile}"].to_numpy()
                    == single[f"covered_{cid}"].to_numpy()).all(), (cid, profile)
    # Shares add up: covered households of the areas sum to the single run's.
    summary = pd.concat([o.summary for o in outs])
    single = _single(net, homes, fac, settings, "adult")
    hh = single["households"].to_numpy()
    assert summary["covered_health_adult"].sum() == hh[single["covered_health"]].sum()


def test_a_failing_area_is_reported_and_the_others_finish(settings, tmp_path):
    net = _grid_city(6)
    homes = points([(100, 100), (900, 900)], households=[10, 10], osm_id=[1, 2])
    fac = points([(200, 100)], category=["health"], name=["c"])
    inputs, _ = split_areas(net, homes, fac, _areas([500.0], []), halo=1000.0)
    good = inputs[0]
    # Streets that are not lines: the area cannot build a network.
    bad = AreaInput("broken", inputs[1].polygon, np.array([shapely.Point(0, 0)]),
                    inputs[1].homes, inputs[1].facilities, "k")
    report = run_batch([good, bad], settings, tmp_path, profiles=("adult",), workers=2,
                       processes=False)
    assert report.done == [good.area_id]
    assert "no walkable street lines" in report.failed["broken"]
    summary = pd.read_csv(tmp_path / "areas_summary.csv").set_index("area_id")
    assert summary.loc["broken", "status"] == "failed"
    assert summary.loc[good.area_id, "status"] == "done"
    # A rerun skips the finished area and tries the failed one again.
    again = run_batch([good, bad], settings, tmp_path, profiles=("adult",), workers=1,
                      processes=False)
    assert again.skipped == [good.area_id] and list(again.failed) == ["broken"]
    # What a run killed mid-save left beside a stored part (its lock, the temporary
    # file) is removed when the next run finds the part, though it never saves it again.
    stored = next((tmp_path / "parts").rglob("*.pkl"))
    left = [stored.with_name(f".{stored.stem}-abc123.lock"),
            stored.with_name(f".{stored.stem}-abc123.pkl")]
    # So is an input it stored for that area that no worker removed (killed between
    # storing the part and removing its input): CI once found one left behind.
    stale = tmp_path / "inputs" / good.key[:2] / f"{stored.stem}.pkl"
    stale.parent.mkdir(parents=True)
    left.append(stale)
    for f in left:
        f.write_bytes(b"")
    third = run_batch([good], settings, tmp_path, profiles=("adult",), workers=1,
                      processes=False)
    assert third.skipped == [good.area_id]
    assert not any(f.exists() for f in left) and stored.exists()
    assert not (tmp_path / "inputs").exists()


def _single_run_flags(settings, source):
    from gis.study import load_study

    study = load_study(source, settings, compounds=False)
    flags = {}
    for profile in PROFILES:
        res = compute_coverage(study.access(), study.facilities, settings,
                               CoverageOptions(profile=profile))
        for cid in settings.category_ids:
            flags[f"covered_{cid}_{profile}"] = dict(zip(
                study.homes["osm_id"], res.homes[f"covered_{cid}"], strict=True))
    return study, flags


def test_the_command_on_a_local_dask_cluster_equals_a_single_run_and_resumes(settings,
                                                                              tmp_path):
    out = tmp_path / "batch"
    cmd = [sys.executable, "-m", "gis", "batch", "--areas", "tiles:4", "--source",
           "default", "--workers", "2", "--out", str(out)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    # Interrupted (kill -9) once the first areas are stored ...
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)
    def finished() -> list:
        # Stored parts only: a save in flight is a hidden ".<name>-XXXX.pkl" beside them.
        return [p for p in (out / "parts").rglob("*.pkl") if not p.name.startswith(".")]

    deadline = time.time() + 120
    while time.time() < deadline and not finished():
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    stored = len(finished())
    assert stored >= 1
    # ... and run again: the stored areas are skipped, the rest computed.
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{stored} areas already done, skipped" in done.stdout + done.stderr
    assert "Dask dashboard: http" in done.stdout + done.stderr
    assert not list((out / "parts").rglob(".*"))  # no temporary files left
    assert not (out / "inputs").exists()  # the areas' inputs are removed once used
    homes = pyogrio.read_dataframe(out / "homes.gpkg", layer="homes")
    _study, flags = _single_run_flags(settings, "default")
    assert len(homes) == len(flags["covered_health_adult"])
    assert homes["area_id"].nunique() > 1
    for col, by_id in flags.items():
        expect = homes["osm_id"].map(by_id)
        assert (homes[col].astype(bool).to_numpy() == expect.astype(bool).to_numpy()).all(), col
    summary = pd.read_csv(out / "areas_summary.csv")
    assert (summary["status"] == "done").all() and len(summary) == 16
    assert Path(out / "standards.csv").stat().st_size > 0


def test_tiles_need_a_sensible_count(settings):
    from gis._errors import InputError

    homes = points([(0, 0), (100, 100)], households=[1, 1])
    assert len(tile_areas(homes, 3)) == 9
    with pytest.raises(InputError, match="tiles:N"):
        tile_areas(homes, 0)


def test_a_folder_of_extracts_runs_one_area_per_file_each_read_by_its_worker(settings,
                                                                             tmp_path):
    import shutil

    from gis.batch import extract_inputs
    from gis.data.sources import default_extract_path

    folder = tmp_path / "extracts"
    folder.mkdir()
    for name in ("kallio", "kamppi"):
        shutil.copy(default_extract_path(), folder / f"{name}.osm.pbf")
    (folder / "notes.txt").write_text("not an extract", encoding="utf-8")
    inputs = extract_inputs(folder)
    assert [i.area_id for i in inputs] == ["kallio", "kamppi"]
    report = run_batch(inputs, settings, tmp_path / "out", profiles=("adult",), workers=2,
                       processes=False)
    assert sorted(report.done) == ["kallio", "kamppi"] and not report.failed
    homes = pyogrio.read_dataframe(tmp_path / "out" / "homes.gpkg", layer="homes")
    study, flags = _single_run_flags(settings, "default")
    assert (homes["area_id"].value_counts() == len(study.homes)).all()
    one = homes[homes["area_id"] == "kallio"]
    expect = one["osm_id"].map(flags["covered_health_adult"]).astype(bool).to_numpy()
    assert (one["covered_health_adult"].astype(bool).to_numpy() == expect).all()
    areas = pyogrio.read_dataframe(tmp_path / "out" / "areas_summary.gpkg", layer="areas")
    assert areas.geometry.notna().all() and areas.crs.to_epsg() == 4326
    empty = tmp_path / "empty"
    empty.mkdir()
    from gis._errors import InputError

    with pytest.raises(InputError, match="empty: the folder holds no OpenStreetMap extract"):
        extract_inputs(empty)
