"""Many study areas in one command, on Dask, with results equal to a single run.

The large extract is read once (:func:`prepare_batch`): its homes are classified, its
facilities matched and its walking network built, exactly as a single run over the whole
extract does (the same local CRS, the same network pieces kept). Each area then gets its
own input: the homes whose centroid lies in its polygon, and the streets and facilities
within a *halo* around it as wide as the longest distance any result depends on (the
largest walk threshold of every category and profile, the largest standards distance)
plus twice the snap limit. A walk of at most that length from a home inside the polygon
never leaves the halo, so every home's covered flag and every share equals the single
run's (tested). Walking times beyond the halo are not known to an area and are left
empty.

Each area runs on a Dask worker (:func:`run_area`): coverage for every category and each
walking profile asked for, the gaps of every category, and the standards checklist.
:func:`run_batch` submits the areas to a ``dask.distributed`` cluster (a LocalCluster
with one single-threaded worker per core by default, or an existing scheduler), shows
progress per area, keeps each finished area in ``DIR/parts`` under a key of its inputs
(so a rerun or a resume after a kill skips it), reports a failing area with its error
while the others finish, and writes one GeoPackage per output layer for all areas and a
per-area summary, atomically.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import shutil
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely import STRtree

from gis._errors import InputError
from gis.analysis.coverage import (
    FULL_CIRCLE,
    CoverageOptions,
    area_summary,
    compute_coverage,
    resolve_thresholds,
)
from gis.analysis.gaps import find_gaps
from gis.analysis.standards import Standards, check_standards
from gis.crs import to_local
from gis.data.write import sweep_temporary, write_file_atomic, write_gpkg_atomic
from gis.network.access import build_access
from gis.network.graph import WalkNetwork, network_from_streets
from gis.progress import Progress
from gis.settings import Settings

#: Bumped when the per-area computation changes, so that stored parts are recomputed.
PART_VERSION = "1"


@dataclass(frozen=True)
class AreaInput:
    """Everything one area needs, in the batch's local CRS."""

    area_id: str
    polygon: shapely.Geometry | None
    streets: np.ndarray | None
    homes: gpd.GeoDataFrame | None
    facilities: gpd.GeoDataFrame | None
    key: str
    #: An extract of its own (a folder of extracts, one per area): the worker reads it.
    source: str = ""


def extract_inputs(folder: str | Path) -> list[AreaInput]:
    """Return one input per OSM extract in ``folder`` (``.osm.pbf``, ``.osm``, ``.osm.bz2``).

    The area id is the file name without its suffixes; each worker reads its own file, and
    each area is analysed as a single run over its extract (areas do not see across each
    other's edges: use one extract and area polygons for that).

    Parameters
    ----------
    folder
        A folder of OSM extracts, one per area.

    Returns
    -------
    list of AreaInput
        One input per file, each read by its worker.
    """
    files = sorted(p for p in Path(folder).iterdir()
                   if p.name.endswith((".osm.pbf", ".osm", ".osm.bz2")))
    if not files:
        msg = (f"{Path(folder).name}: the folder holds no OpenStreetMap extract (.osm.pbf, "
               ".osm, .osm.bz2); put one extract per area there.")
        raise InputError(msg)
    out = []
    for f in files:
        st = f.stat()
        aid = f.name.split(".")[0]
        out.append(AreaInput(aid, None, None, None, None,
                             _digest(PART_VERSION, f.name, st.st_size, st.st_mtime_ns),
                             source=str(f)))
    return out


@dataclass
class AreaOutput:
    """What one area produced (or the error that stopped it)."""

    area_id: str
    key: str
    polygon: shapely.Geometry | None = None
    homes: gpd.GeoDataFrame | None = None
    gaps: gpd.GeoDataFrame | None = None
    summary: pd.DataFrame | None = None
    standards: pd.DataFrame | None = None
    error: str = ""
    seconds: float = 0.0
    rss_mb: float = 0.0
    input_mb: float = 0.0
    worker: str = ""
    n_homes: int = 0
    part: str = ""
    started: float = 0.0


@dataclass
class BatchReport:
    """The batch's outcome: areas done, skipped (already done), failed, and the files."""

    done: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)
    outputs: list[AreaOutput] = field(default_factory=list)
    seconds: float = 0.0
    start_seconds: float = 0.0
    compute_seconds: float = 0.0
    write_seconds: float = 0.0


def halo_m(settings: Settings, profiles: Sequence[str], standards: Standards | None) -> float:
    """Return how far beyond an area its streets and facilities must reach.

    The largest walk threshold over every category and profile, or the largest standards
    distance if larger, plus twice the snap limit (a home's and a facility's access legs).

    Parameters
    ----------
    settings
        Settings: thresholds, speeds and the snap limit.
    profiles
        Walking profiles the batch runs.
    standards
        The standards checklist, if it runs too.

    Returns
    -------
    float
        The halo in metres.
    """
    longest = 0.0
    for profile in profiles:
        thr = resolve_thresholds(settings, settings.category_ids, profile=profile)
        longest = max(longest, *(t.metres for t in thr.values()))
    if standards is not None and len(standards.levels):
        longest = max(longest, float(standards.levels["distance_m"].max()))
    return longest + 2 * settings.snap_max_m


def tile_areas(homes: gpd.GeoDataFrame, n: int) -> gpd.GeoDataFrame:
    """Return ``n`` x ``n`` rectangles covering ``homes`` (WGS-84), ids ``r{i}c{j}``.

    Tiles touch without overlapping; a home on a shared edge belongs to one tile only
    (see :func:`split_areas`).

    Parameters
    ----------
    homes
        Homes in WGS-84.
    n
        Tiles per side.

    Returns
    -------
    geopandas.GeoDataFrame
        ``area_id`` and the tile rectangles, in WGS-84.
    """
    if n < 1 or n > 1000:
        msg = f"A tiling needs between 1 x 1 and 1000 x 1000 tiles, found {n} (tiles:N)."
        raise InputError(msg)
    if not len(homes):
        msg = "The source has no homes to tile; choose an extract with buildings."
        raise InputError(msg)
    x0, y0, x1, y1 = homes.total_bounds
    pad = 1.0
    xs = np.linspace(x0 - pad, x1 + pad, n + 1)
    ys = np.linspace(y0 - pad, y1 + pad, n + 1)
    rows = [(f"r{i}c{j}", shapely.box(xs[j], ys[i], xs[j + 1], ys[i + 1]))
            for i in range(n) for j in range(n)]
    tiles = gpd.GeoDataFrame({"area_id": [r[0] for r in rows]},
                             geometry=[r[1] for r in rows], crs=homes.crs)
    return tiles.to_crs(4326)


def _digest(*parts: object) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(p if isinstance(p, bytes) else repr(p).encode())
    return h.hexdigest()[:16]


def split_areas(network: WalkNetwork, homes: gpd.GeoDataFrame,
                facilities: gpd.GeoDataFrame, areas: gpd.GeoDataFrame, *,
                halo: float, inputs_key: str = "") -> tuple[list[AreaInput], int]:
    """Cut the whole extract into one input per area polygon.

    Parameters
    ----------
    network, homes, facilities
        The whole extract's walking network (its kept pieces), homes and facilities, in
        one metric CRS (a :class:`gis.study.Study` loaded once).
    areas
        Polygons with an ``area_id`` column, any CRS.
    halo
        Metres of streets and facilities kept around each polygon (:func:`halo_m`).
    inputs_key
        What identifies the source, settings and options; part of every area's key.

    Returns
    -------
    (list of AreaInput, int)
        The inputs, and the number of homes that lie in no area.
    """
    if "area_id" not in areas:
        msg = "The areas layer needs an `area_id` column (or a name column to use as one)."
        raise InputError(msg)
    local = to_local(areas, homes.crs)
    polys = local.geometry.to_numpy()
    ids = local["area_id"].astype(str).to_numpy()
    if len(set(ids)) != len(ids):
        msg = "The areas layer has repeated area ids; give each polygon its own id."
        raise InputError(msg)
    net = network
    street_tree = STRtree(net.edge_geometry)
    cent = shapely.centroid(homes.geometry.to_numpy())
    # A home belongs to the first polygon that holds its centroid (shared edges included).
    owner = np.full(len(homes), -1, dtype=np.int64)
    hit_area, hit_home = STRtree(cent).query(polys, predicate="intersects")
    order = np.lexsort((hit_area, hit_home))
    hit_area, hit_home = hit_area[order], hit_home[order]
    first = np.ones(len(hit_home), dtype=bool)
    first[1:] = hit_home[1:] != hit_home[:-1]
    owner[hit_home[first]] = hit_area[first]
    fac = facilities
    fac_tree = STRtree(fac.geometry.to_numpy()) if len(fac) else None
    out = []
    for k, (aid, poly) in enumerate(zip(ids, polys, strict=True)):
        zone = shapely.buffer(poly, halo)
        lines = net.edge_geometry[street_tree.query(zone, predicate="intersects")]
        mine = homes.iloc[np.flatnonzero(owner == k)]
        near = (fac.iloc[np.sort(fac_tree.query(zone, predicate="intersects"))]
                if fac_tree is not None else fac)
        key = _digest(PART_VERSION, inputs_key, shapely.to_wkb(poly), halo)
        out.append(AreaInput(aid, poly, np.asarray(lines, dtype=object), mine, near, key))
    return out, int((owner < 0).sum())


def run_area(inp: AreaInput, settings: Settings, profiles: Sequence[str],
             standards: Standards | None, part: str | None = None) -> AreaOutput:
    """Run coverage (each profile), gaps and the standards checklist for one area.

    Never raises: an error is returned in ``AreaOutput.error`` with its traceback, so
    that one bad area does not stop the batch. With ``part`` (a path every worker can
    write, as ``--out`` must be), the finished area is stored there by the worker itself
    and only its figures travel back, not its layers.

    Parameters
    ----------
    inp
        The area's input (its layers, or an extract to read).
    settings
        Settings.
    profiles
        Walking profiles to run coverage for.
    standards
        The standards checklist to run, or None.
    part
        Where the worker stores the finished area, or None to return its layers.

    Returns
    -------
    AreaOutput
        The area's figures (and layers without ``part``), or its error.
    """
    start = time.perf_counter()
    out = AreaOutput(inp.area_id, inp.key, started=time.time())
    try:
        if inp.source:
            inp = _load_extract(inp, settings, profiles, standards)
        out.input_mb = len(pickle.dumps(inp, protocol=pickle.HIGHEST_PROTOCOL)) / 1e6
        assert inp.homes is not None  # an extract's area is loaded above
        out.polygon = gpd.GeoSeries([inp.polygon], crs=inp.homes.crs).to_crs(4326).iloc[0]
        _run_area(inp, settings, profiles, standards, out)
        for name in ("homes", "gaps"):
            layer = getattr(out, name)
            if layer is not None:
                setattr(out, name, layer.to_crs(4326))
    except Exception as err:  # reported per area; the others go on
        out.error = f"{type(err).__name__}: {err}\n{traceback.format_exc(limit=4)}"
    out.seconds = time.perf_counter() - start
    out.rss_mb = _rss_mb()
    out.worker = f"{os.uname().nodename}:{os.getpid()}"
    if part and not out.error:
        out.part = part
        out.n_homes = len(out.homes) if out.homes is not None else 0
        data = pickle.dumps(out, protocol=pickle.HIGHEST_PROTOCOL)
        write_file_atomic(Path(part), lambda p: p.write_bytes(data))
        return AreaOutput(**{**out.__dict__, "homes": None, "gaps": None,
                             "standards": None})
    out.n_homes = len(out.homes) if out.homes is not None else 0
    return out


def _rss_mb() -> float:
    """Return this process's resident memory now, in MB (0 where it cannot be read)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6
    except (OSError, ValueError, IndexError):
        return 0.0


def _load_extract(inp: AreaInput, settings: Settings, profiles: Sequence[str],
                  standards: Standards | None) -> AreaInput:
    """Read an area's own extract and return it as one whole-area input."""
    from gis.study import load_study

    study = load_study(inp.source, settings, compounds=False)
    x0, y0, x1, y1 = study.homes.total_bounds if len(study.homes) else (0, 0, 0, 0)
    poly = shapely.box(x0, y0, x1, y1).buffer(1.0)
    whole = gpd.GeoDataFrame({"area_id": [inp.area_id]}, geometry=[poly],
                             crs=study.homes.crs)
    inputs, _ = split_areas(study.network, study.homes, study.facilities, whole,
                            halo=halo_m(settings, profiles, standards), inputs_key=inp.key)
    return inputs[0]


def _run_area(inp: AreaInput, settings: Settings, profiles: Sequence[str],
              standards: Standards | None, out: AreaOutput) -> None:
    assert inp.homes is not None and inp.streets is not None and inp.facilities is not None
    crs = inp.homes.crs
    empty_homes = inp.homes.iloc[:0]
    if not len(inp.homes) or not len(inp.streets):
        out.homes = gpd.GeoDataFrame(empty_homes.assign(area_id=inp.area_id))
        out.summary = pd.DataFrame([{"area_id": inp.area_id, "homes": 0, "households": 0}])
        return
    streets = gpd.GeoDataFrame(geometry=inp.streets, crs=crs)
    network = network_from_streets(streets, min_piece_m=0.0)
    access = build_access(network, inp.homes, snap_max_m=settings.snap_max_m)
    homes = inp.homes[["households", inp.homes.geometry.name]].copy()
    homes["area_id"] = inp.area_id
    homes["home_id"] = inp.homes.index.to_numpy()  # the row of the whole extract's homes
    if "osm_id" in inp.homes:
        homes["osm_id"] = inp.homes["osm_id"].to_numpy()
    summary: dict[str, object] = {"area_id": inp.area_id, "homes": len(inp.homes),
                                  "households": int(inp.homes["households"].sum())}
    gap_frames = []
    for profile in profiles:
        result = compute_coverage(access, inp.facilities, settings,
                                  CoverageOptions(profile=profile))
        h = result.homes
        homes["attached"] = h["attached"].to_numpy()
        for cid, thr in result.thresholds.items():
            col = f"{cid}_{profile}"
            homes[f"covered_{col}"] = h[f"covered_{cid}"].to_numpy()
            mins = h[f"time_min_{cid}"].to_numpy(dtype=float)
            # Times beyond the threshold may lead out of the halo: not known here.
            homes[f"time_min_{col}"] = np.where(mins <= thr.minutes, mins, np.nan)
        homes[f"{FULL_CIRCLE}_{profile}"] = h[FULL_CIRCLE].to_numpy()
        table = area_summary(result).set_index("category")
        summary["households_attached"] = int(table["households"].iloc[0])
        for cid in table.index:
            summary[f"covered_{cid}_{profile}"] = int(table.loc[cid, "households_covered"])
            summary[f"share_{cid}_{profile}"] = table.loc[cid, "share_covered"]
        if profile == profiles[0]:
            for cid in (*result.categories, FULL_CIRCLE):
                gaps = find_gaps(result, cid, settings).areas
                if len(gaps):
                    gap_frames.append(gaps.assign(area_id=inp.area_id, category=cid))
            if standards is not None:
                rep = check_standards(result, standards)
                sheet = rep.checklist.assign(area_id=inp.area_id)
                out.standards = sheet.drop(columns=["zone_kind", "zone"])
    out.homes = gpd.GeoDataFrame(homes, geometry=homes.geometry.name, crs=crs)
    out.gaps = (gpd.GeoDataFrame(pd.concat(gap_frames, ignore_index=True), crs=crs)
                if gap_frames else None)
    out.summary = pd.DataFrame([summary])


def run_area_file(path: str, settings: Settings, profiles: Sequence[str],
                  standards: Standards | None, part: str | None = None) -> AreaOutput:
    """Run :func:`run_area` on an input the parent stored at ``path``, then remove it.

    The parent writes each area's input once; the worker reads it itself, instead of the
    input travelling through the scheduler (which pickles a task's data three times in the
    parent: 2.3 s before the first area started, on Malta's 16 tiles).

    Parameters
    ----------
    path
        The pickled :class:`AreaInput` the parent stored.
    settings
        Settings.
    profiles
        Walking profiles.
    standards
        The standards checklist, or None.
    part
        Where the worker stores the finished area, or None.

    Returns
    -------
    AreaOutput
        As :func:`run_area`.
    """
    try:
        inp = pickle.loads(Path(path).read_bytes())
    except (OSError, pickle.UnpicklingError, EOFError) as err:
        return AreaOutput(Path(path).stem, "", error=f"{type(err).__name__}: {err}")
    out = run_area(inp, settings, profiles, standards, part)
    if not out.error:
        Path(path).unlink(missing_ok=True)
    return out


def _warm_up() -> bool:
    """Import what an area needs (run on every worker at start)."""
    import gis.analysis.coverage
    import gis.analysis.gaps
    import gis.analysis.standards  # noqa: F401

    return True


def _part_path(out_dir: Path, inp: AreaInput, kind: str = "parts") -> Path:
    """Return where an area's finished output (or its input) is stored.

    Files go to 256 subfolders by key, so that no folder grows to a national run's
    100,000 files (every atomic write looks beside its file for leftovers).
    """
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in inp.area_id)
    return out_dir / kind / inp.key[:2] / f"{safe}-{inp.key}.pkl"


def run_batch(inputs: Sequence[AreaInput], settings: Settings, out_dir: str | Path, *,
              profiles: Sequence[str], standards: Standards | None = None,
              workers: int | None = None, scheduler: str | None = None,
              processes: bool = True, progress: Progress | None = None) -> BatchReport:
    """Run every area on Dask; keep finished areas; merge and write the outputs.

    Parameters
    ----------
    inputs
        The areas (:func:`split_areas`).
    settings, profiles, standards
        What each area computes (:func:`run_area`).
    out_dir
        Output folder: ``parts/`` (one file per finished area, keyed by its inputs),
        ``homes.gpkg``, ``gaps.gpkg``, ``areas_summary.csv`` / ``.gpkg``,
        ``standards.csv`` and ``errors.csv``.
    workers
        Workers of the LocalCluster (default: one per core); ignored with ``scheduler``.
    scheduler
        Address of an existing Dask scheduler (``tcp://host:8786``).
    processes
        Workers as processes (True, the default) or threads (for tests).
    progress
        Called with a line per area and for the dashboard link.

    Returns
    -------
    BatchReport

    Examples
    --------
    >>> inputs, _ = split_areas(study.network, study.homes, study.facilities, areas,
    ...                         halo=halo_m(settings, ["adult"], None))  # doctest: +SKIP
    >>> report = run_batch(inputs, settings, "out/", profiles=["adult"],
    ...                    workers=2)  # doctest: +SKIP
    >>> report.failed  # doctest: +SKIP
    {}
    """
    import dask
    from dask.distributed import Client, LocalCluster, as_completed

    say = progress or (lambda _m: None)
    start = time.perf_counter()
    out = Path(out_dir)
    (out / "parts").mkdir(parents=True, exist_ok=True)
    report = BatchReport()
    todo = []
    for inp in inputs:
        part = _part_path(out, inp)
        # What a killed run left beside a part (a save caught between its rename and
        # the removal of its lock) goes now: a stored part is read, never saved again.
        sweep_temporary(part)
        if part.exists():
            try:
                report.outputs.append(pickle.loads(part.read_bytes()))
                report.skipped.append(inp.area_id)
                continue
            except (pickle.UnpicklingError, EOFError, AttributeError):
                part.unlink()  # unreadable: compute it again
        todo.append(inp)
    if report.skipped:
        say(f"{len(report.skipped)} areas already done, skipped")
    # Largest first: the long areas start early and the short ones fill the gaps.
    todo.sort(key=lambda i: (len(i.homes) + len(i.streets))
              if i.homes is not None and i.streets is not None else (
        Path(i.source).stat().st_size / 100), reverse=True)
    if todo:
        if scheduler:
            client = Client(scheduler)
            cluster = None
        else:
            n = workers or os.cpu_count() or 1
            # Dask's statistical profiler samples each worker's stack every 10 ms, taking
            # the interpreter lock: 20 % of the areas' time here. Off for the local cluster.
            with dask.config.set({"distributed.worker.profile.enabled": False}):
                cluster = LocalCluster(n_workers=n, threads_per_worker=1,
                                       processes=processes,
                                       dashboard_address=":0" if processes else None)
            client = Client(cluster)
        # Each worker loads the code once before the clock for the areas starts.
        client.run(_warm_up)
        report.start_seconds = time.perf_counter() - start
        compute_start = time.perf_counter()
        try:
            if client.dashboard_link:
                say(f"Dask dashboard: {client.dashboard_link}")
            futures = {}
            for inp in todo:  # largest first, so the workers start while the rest is written
                part_file = str(_part_path(out, inp).resolve())
                task: tuple[Callable[..., AreaOutput], object]
                if inp.source:  # the worker reads its own extract
                    task = (run_area, inp)
                else:
                    path = _part_path(out, inp, "inputs")
                    data = pickle.dumps(inp, protocol=pickle.HIGHEST_PROTOCOL)
                    write_file_atomic(path, lambda p, d=data: p.write_bytes(d))
                    task = (run_area_file, str(path.resolve()))
                fut = client.submit(*task, settings, tuple(profiles), standards, part_file,
                                    key=f"area-{inp.area_id}-{inp.key}", pure=False)
                futures[fut] = inp
            for k, fut in enumerate(as_completed(futures), start=1):
                inp = futures[fut]
                try:
                    res = fut.result()
                except Exception as err:  # a worker died (memory) or was lost
                    res = AreaOutput(inp.area_id, inp.key,
                                     error=f"{type(err).__name__}: {err}")
                if res.error:
                    report.failed[inp.area_id] = res.error.splitlines()[0]
                    say(f"[{k}/{len(todo)}] {inp.area_id}: FAILED ({report.failed[inp.area_id]})")
                else:
                    report.done.append(inp.area_id)
                    say(f"[{k}/{len(todo)}] {inp.area_id}: {res.n_homes} homes, "
                        f"{res.seconds:.1f} s")
                report.outputs.append(res)
            report.compute_seconds = time.perf_counter() - compute_start
        finally:
            client.close()
            if cluster is not None:
                cluster.close()
    # Inputs are written afresh by every run and removed by the worker that reads them;
    # what is left was left by a killed run (an area stored before its worker removed
    # its input, one never started), and no run reads it again.
    shutil.rmtree(out / "inputs", ignore_errors=True)
    write_start = time.perf_counter()
    report.files = _write_outputs(report, out)
    report.write_seconds = time.perf_counter() - write_start
    report.seconds = time.perf_counter() - start
    return report


def _loaded(o: AreaOutput) -> AreaOutput:
    """Return the area's full output, read from its part when a worker stored it there."""
    if o.homes is None and o.part and Path(o.part).exists():
        full: AreaOutput = pickle.loads(Path(o.part).read_bytes())
        return full
    return o


def _write_outputs(report: BatchReport, out: Path) -> list[Path]:
    ok = [_loaded(o) for o in report.outputs if not o.error]
    files = []
    homes = [o.homes for o in ok if o.homes is not None and len(o.homes)]
    if homes:
        merged = gpd.GeoDataFrame(pd.concat(homes, ignore_index=True), crs=4326)
        files.append(write_gpkg_atomic(out / "homes.gpkg", {"homes": merged}))
    gaps = [o.gaps for o in ok if o.gaps is not None and len(o.gaps)]
    if gaps:
        merged = gpd.GeoDataFrame(pd.concat(gaps, ignore_index=True), crs=4326)
        files.append(write_gpkg_atomic(out / "gaps.gpkg", {"gaps": merged}))
    polys = {o.area_id: o.polygon for o in report.outputs}
    rows = [o.summary for o in ok if o.summary is not None]
    summary = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(
        {"area_id": pd.Series(dtype=str)})
    timing = pd.DataFrame([{"area_id": o.area_id, "status": "failed" if o.error else "done",
                            "error": o.error.splitlines()[0] if o.error else "",
                            "seconds": round(o.seconds, 2), "input_mb": round(o.input_mb, 3),
                            "worker": o.worker, "worker_rss_mb": round(o.rss_mb, 1),
                            "started": round(o.started, 3)}
                           for o in report.outputs])
    summary = timing.merge(summary, on="area_id", how="left") if len(timing) else summary
    write_file_atomic(out / "areas_summary.csv",
                      lambda p: summary.to_csv(p, index=False, encoding="utf-8-sig"))
    files.append(out / "areas_summary.csv")
    if len(summary):
        geo = gpd.GeoDataFrame(summary, geometry=[polys.get(a) for a in summary["area_id"]],
                               crs=4326)
        files.append(write_gpkg_atomic(out / "areas_summary.gpkg", {"areas": geo}))
    sheets = [o.standards for o in ok if o.standards is not None]
    if sheets:
        table = pd.concat(sheets, ignore_index=True)
        write_file_atomic(out / "standards.csv",
                          lambda p: table.to_csv(p, index=False, encoding="utf-8-sig"))
        files.append(out / "standards.csv")
    return files
