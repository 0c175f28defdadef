"""Command line: ``python -m gis coverage|gaps|sites ...`` writes a GeoPackage and a summary.

Errors in the user's input print one message naming the file, the problem and the fix,
and exit with status 2; nothing half-written is left behind.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from gis._errors import GisError, InputError
from gis.analysis.coverage import (
    FULL_CIRCLE,
    CoverageOptions,
    CoverageResult,
    area_summary,
    category_circles,
    compute_coverage,
    gate_effect,
    service_circles,
    zone_summary,
)
from gis.analysis.gaps import find_gaps, gap_table
from gis.batch import BatchReport
from gis.crs import to_local
from gis.data.household_sources import AREA_RULE, source_mix
from gis.data.read import Kind, read_layer, read_zones
from gis.data.sources import check_bbox
from gis.data.write import write_file_atomic, write_gpkg_atomic
from gis.network.compounds import compounds_from_layers
from gis.planning.siting import plan_sites
from gis.settings import Settings, load_settings
from gis.study import Study, load_study


class _Clock:
    """Print each step with the time since the start, on stderr."""

    def __init__(self, quiet: bool = False) -> None:
        self.t0 = time.perf_counter()
        self.quiet = quiet

    def __call__(self, message: str) -> None:
        if not self.quiet:
            print(f"[{time.perf_counter() - self.t0:6.1f} s] {message}", file=sys.stderr,
                  flush=True)


def _bbox(text: str) -> tuple[float, float, float, float]:
    """Parse --bbox for argparse, with the project's message on a bad window."""
    try:
        return check_bbox(text)
    except GisError as err:
        raise argparse.ArgumentTypeError(str(err)) from err


def _household_inputs(c: argparse.ArgumentParser) -> None:
    """Add the street office's household table and a population raster."""
    c.add_argument("--households-table", type=Path, default=None,
                   help="the street office's household counts (CSV/XLSX: 名称 or osm_id or "
                        "经度/纬度, and 户数); they win over every estimate")
    c.add_argument("--population-raster", type=Path, default=None,
                   help="population GeoTIFF (WorldPop, GHS-POP) spread over homes whose "
                        "households are not given")


def _common(c: argparse.ArgumentParser) -> None:
    """Add the arguments every command shares: data, threshold, output."""
    c.add_argument("--source", default="default",
                   help="'default' (bundled Helsinki extract), an .osm.pbf / .osm / "
                        ".osm.bz2 file, or a place name (online)")
    c.add_argument("--bbox", type=_bbox, default=None,
                   help="analyse only this window of the source: west,south,east,north in "
                        "degrees (a .osm.pbf is read only there)")
    c.add_argument("--facilities", type=Path,
                   help="facilities replacing OSM's: a GIS layer with a category column, or "
                        "an Amap / Baidu POI export (.csv / .json)")
    c.add_argument("--facilities-crs", default=None,
                   help="coordinates of --facilities: wgs84, gcj02, bd09, cgcs2000, EPSG:n")
    c.add_argument("--buildings", type=Path, help="residential buildings layer replacing OSM's")
    c.add_argument("--buildings-crs", default=None, help="coordinates of --buildings")
    _household_inputs(c)
    c.add_argument("--communities", type=Path, help="community polygons to summarise by")
    c.add_argument("--grids", type=Path, help="grid polygons to summarise by")
    thr = c.add_mutually_exclusive_group()
    thr.add_argument("--minutes", type=float, help="walk threshold in minutes (default 10)")
    thr.add_argument("--metres", type=float, help="walk threshold in metres")
    c.add_argument("--profile", default=None, help="walking profile: adult, elderly, frail")
    c.add_argument("--snap-max", type=float, default=None,
                   help="leave out points farther than this from the network, metres")
    c.add_argument("--gates", choices=("off", "day", "night"), default="off",
                   help="route homes in walled compounds through their gates (night: shut "
                        "the gates closed at night); compounds come from OSM or the layers "
                        "below")
    c.add_argument("--compounds", type=Path, help="compound outlines (polygons)")
    c.add_argument("--compound-gates", type=Path,
                   help="compound gates (points; optional night_closed column)")
    c.add_argument("--settings", type=Path, default=None, help="another settings file")
    c.add_argument("--out", type=Path, required=True, help="GeoPackage to write")
    c.add_argument("--quiet", action="store_true", help="no progress messages")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m gis",
                                description="Ten-minute life service circle analyses.")
    sub = p.add_subparsers(dest="command", required=True)
    c = sub.add_parser("coverage", help="walking time from every home to each service")
    _common(c)
    c.add_argument("--categories", default=None,
                   help="comma-separated category ids (default: all in data/settings.toml)")
    c.add_argument("--no-circles", action="store_true",
                   help="skip the service circles (the slowest step)")
    c.add_argument("--facility-circles", action="store_true",
                   help="also draw each facility's own circle (the streets it is the nearest "
                        "facility for); the category circles are drawn by default")
    g = sub.add_parser("gaps", help="uncovered households and gap areas of one category")
    _common(g)
    g.add_argument("--category", required=True,
                   help="category id, or full_circle (homes missing any service)")
    s = sub.add_parser("sites", help="choose new station sites that close most of the gap")
    _common(s)
    s.add_argument("--category", required=True, help="category id to site for")
    s.add_argument("-k", type=int, default=5, help="number of new sites (default 5)")
    s.add_argument("--candidates", type=Path, help="layer of candidate premises (points)")
    s.add_argument("--candidates-crs", default=None, help="coordinates of --candidates")
    s.add_argument("--capacity", type=float, default=None,
                   help="households one new site can serve (default: unlimited)")
    s.add_argument("--target-share", type=float, default=None,
                   help="instead of k: fewest sites reaching this share (0-1) of households")
    s.add_argument("--time-limit", type=float, default=None,
                   help="solver time limit in seconds (default from settings)")
    gr = sub.add_parser("grids", help="street blocks, communities and grids")
    gr.add_argument("--source", default="default",
                    help="'default' (bundled Helsinki extract), an OSM file, or a place name")
    gr.add_argument("--bbox", type=_bbox, default=None,
                    help="only this window of the source: west,south,east,north in degrees")
    gr.add_argument("--buildings", type=Path, help="residential buildings layer replacing OSM's")
    gr.add_argument("--buildings-crs", default=None, help="coordinates of --buildings")
    _household_inputs(gr)
    gr.add_argument("--communities", type=Path,
                    help="community polygons to keep (default: generate them)")
    gr.add_argument("--target", type=int, default=None, help="grid target households (300)")
    gr.add_argument("--min", type=int, default=None, help="grid minimum households (200)")
    gr.add_argument("--max", type=int, default=None, help="grid maximum households (500)")
    gr.add_argument("--community-target", type=int, default=None,
                    help="community target households (3000)")
    gr.add_argument("--settings", type=Path, default=None, help="another settings file")
    gr.add_argument("--out", type=Path, required=True,
                    help="project GeoPackage to write (blocks, communities, grids, history)")
    gr.add_argument("--quiet", action="store_true", help="no progress messages")
    hh = sub.add_parser("households", help="which buildings are homes, by rule, and the "
                                            "largest homes (to check against local knowledge)")
    hh.add_argument("--source", default="default", help="'default', an OSM file, or a place")
    hh.add_argument("--bbox", type=_bbox, default=None,
                    help="only this window of the source: west,south,east,north in degrees")
    hh.add_argument("--buildings", type=Path, help="residential buildings layer replacing OSM's")
    hh.add_argument("--buildings-crs", default=None, help="coordinates of --buildings")
    _household_inputs(hh)
    hh.add_argument("--settings", type=Path, default=None, help="another settings file")
    hh.add_argument("--top", type=int, default=10, help="how many of the largest homes to list")
    hh.add_argument("--quiet", action="store_true", help="no progress messages")
    sd = sub.add_parser("standards", help="life-circle standards checklist per community "
                                          "and grid")
    _common(sd)
    sd.add_argument("--rules", type=Path, default=None,
                    help="standards file (default data/standards.toml)")
    sd.add_argument("--gpkg", action="store_true",
                    help="also write a GeoPackage of the zones with their attainment beside "
                         "the XLSX")
    bt = sub.add_parser("batch", help="many areas (street offices, districts, tiles) of one "
                                      "extract on Dask; merged results equal a single run")
    bt.add_argument("--areas", default="tiles:1",
                    help="polygons layer (an area_id or name column), or tiles:N for an "
                         "N x N tiling of the source's homes (not used with a folder)")
    bt.add_argument("--source", required=True,
                    help="one OSM extract (.osm.pbf, .osm), or a folder of extracts, one "
                         "per area")
    bt.add_argument("--buildings", type=Path, help="residential buildings layer replacing OSM's")
    bt.add_argument("--facilities", type=Path, help="facilities layer replacing OSM's")
    _household_inputs(bt)
    bt.add_argument("--bbox", type=_bbox, default=None,
                    help="only this window of the source: west,south,east,north in degrees")
    where = bt.add_mutually_exclusive_group()
    where.add_argument("--workers", type=int, default=None,
                       help="workers of a local Dask cluster (default: one per core)")
    where.add_argument("--scheduler", default=None,
                       help="address of an existing Dask scheduler, e.g. tcp://host:8786")
    bt.add_argument("--profiles", default="adult,elderly",
                    help="walking profiles, comma-separated (default adult,elderly)")
    bt.add_argument("--no-standards", action="store_true",
                    help="skip the standards checklist")
    bt.add_argument("--settings", type=Path, default=None, help="another settings file")
    bt.add_argument("--out", type=Path, required=True, help="output folder")
    bt.add_argument("--quiet", action="store_true", help="no progress messages")
    return p


def _file_stamp(path: Path | None) -> tuple[object, ...]:
    """Return what identifies a file's version: its name, size and modification time."""
    if path is None or not Path(path).exists():
        return (str(path),)
    st = Path(path).stat()
    return (Path(path).name, st.st_size, st.st_mtime_ns)


def run_batch_command(args: argparse.Namespace) -> int:
    """Run the batch command; return 0, or 1 when an area failed.

    Parameters
    ----------
    args
        The parsed command line.

    Returns
    -------
    int
        The exit status: 0 when done, 1 when an area failed or an input was refused.
    """
    from gis.analysis.standards import load_standards
    from gis.batch import halo_m, run_batch, split_areas, tile_areas

    say = _Clock(args.quiet)
    settings = load_settings(args.settings)
    profiles = [p.strip() for p in args.profiles.split(",") if p.strip()]
    for profile in profiles:
        settings.speed(profile)  # an unknown profile stops here, with the known ones
    standards = None if args.no_standards else load_standards(None, settings)
    if Path(args.source).is_dir():  # one extract per area, each read by its worker
        from gis.batch import extract_inputs

        inputs = extract_inputs(args.source)
        say(f"{len(inputs)} extracts in {Path(args.source).name}, one area each")
        report = run_batch(inputs, settings, args.out, profiles=profiles,
                           standards=standards, workers=args.workers,
                           scheduler=args.scheduler, progress=say)
        return _batch_summary(report, len(inputs))
    study = load_study(args.source, settings, bbox=args.bbox, compounds=False,
                       buildings_path=args.buildings, facilities_path=args.facilities,
                       households_table=args.households_table,
                       population_raster=args.population_raster, progress=say)
    if args.areas.startswith("tiles:"):
        try:
            n = int(args.areas.split(":", 1)[1])
        except ValueError:
            n = 0
        areas = tile_areas(study.homes, n)
    else:
        areas = read_zones(args.areas)
        if "area_id" not in areas:
            areas["area_id"] = areas["name"].astype(str)
    halo = halo_m(settings, profiles, standards)
    settings_text = (Path(settings.source_path).read_bytes()
                     if settings.source_path else b"")
    stamp = _file_stamp(Path(args.source))
    say(f"cutting {len(areas)} areas with a halo of {halo:.0f} m")
    inputs, outside = split_areas(study.network, study.homes, study.facilities, areas,
                                  halo=halo, inputs_key=repr(
        (stamp, args.bbox, settings_text, profiles, args.no_standards,
         *(_file_stamp(p) for p in (args.buildings, args.facilities, args.households_table,
                                    args.population_raster)))))
    if outside:
        say(f"{outside} homes lie in no area and are not analysed")
    report = run_batch(inputs, settings, args.out, profiles=profiles, standards=standards,
                       workers=args.workers, scheduler=args.scheduler, progress=say)
    return _batch_summary(report, len(inputs))


def _batch_summary(report: BatchReport, n_areas: int) -> int:
    """Print the batch's outcome; return 0, or 1 when an area failed."""
    print(f"Batch: {n_areas} areas, {len(report.done)} done, {len(report.skipped)} "
          f"already done, {len(report.failed)} failed, {report.seconds:.1f} s (cluster start "
          f"{report.start_seconds:.1f} s, areas {report.compute_seconds:.1f} s, writing "
          f"{report.write_seconds:.1f} s)")
    for aid, err in report.failed.items():
        print(f"  {aid}: {err}")
    for path in report.files:
        print(f"  wrote {path}")
    return 1 if report.failed else 0


def run_standards(args: argparse.Namespace) -> int:
    """Run the standards command; return the exit status.

    Parameters
    ----------
    args
        The parsed command line.

    Returns
    -------
    int
        The exit status: 0 when done, 1 when an area failed or an input was refused.
    """
    from gis.analysis.standards import check_standards, load_standards

    say = _Clock(args.quiet)
    settings, study, result, zones = _prepare(args, None, say)
    standards = load_standards(args.rules, settings)
    named = {kind[:-1]: gdf for kind, gdf in zones.items()}
    say("checking the standards")
    report = check_standards(result, standards, named)
    say(f"writing {args.out}")
    out = Path(args.out)
    def write(tmp: Path) -> None:
        with pd.ExcelWriter(tmp) as writer:
            for sheet, table in report.sheets().items():
                table.to_excel(writer, sheet_name=sheet, index=False)

    write_file_atomic(out, write)
    if args.gpkg:
        layers = {}
        for kind, gdf in named.items():
            att = report.attainment[report.attainment["zone_kind"] == kind]
            layers[f"{kind}_attainment"] = gdf.merge(att, left_on="name", right_on="zone")
        layers["checklist"] = report.checklist
        layers["shortfall"] = report.shortfall
        write_gpkg_atomic(out.with_suffix(".gpkg"), layers)
    att = report.attainment.copy()
    att["attainment_rate"] = (att["attainment_rate"] * 100).round(1)
    print(f"Study area: {study.name}   standards: {Path(standards.source_path).name} "
          f"(pass when {standards.pass_share:.0%} of households reach)")
    print(att.to_string(index=False))
    top = report.shortfall.head(10)[["zone", "level_en", "type_en",
                                     "households_not_reached"]]
    print("Shortfalls, most households first:")
    print(top.to_string(index=False))
    return 0


def run_households(args: argparse.Namespace) -> int:
    """Print households per classification rule and the largest homes; return the status.

    Parameters
    ----------
    args
        The parsed command line.

    Returns
    -------
    int
        The exit status: 0 when done, 1 when an area failed or an input was refused.
    """
    say = _Clock(args.quiet)
    settings = load_settings(args.settings)
    study = load_study(args.source, settings, buildings_path=args.buildings,
                       buildings_crs=args.buildings_crs, bbox=args.bbox, compounds=False,
                       households_table=args.households_table,
                       population_raster=args.population_raster, walk_network=False,
                       progress=say)
    cells = study.buildings["hh_rule"].to_numpy(dtype=object) == AREA_RULE
    print(f"Study area: {study.name}: {int((~cells).sum())} buildings, {len(study.homes)} "
          f"homes, {int(study.homes['households'].sum())} households")
    print(study.household_report().to_string(index=False))
    print("Where the household figures come from:")
    print(source_mix(study.homes).to_string(index=False))
    if study.household_table is not None:
        table = study.household_table
        missed = table[table["matched_homes"] == 0]
        print(f"{args.households_table.name}: {len(table) - len(missed)} of {len(table)} rows "
              "matched a home")
        if len(missed):
            print("Rows that found no home (check the name, id or point):")
            print(missed.drop(columns=["matched_homes"]).to_string(index=False))
    if study.raster_counts is not None:
        rc = study.raster_counts
        print(f"{args.population_raster.name}: {rc['people_in_raster']:,.0f} people over the "
              f"homes' extent, {rc['people_spread']:,.0f} spread over homes, "
              f"{rc['people_without_home']:,.0f} in cells without a home")
    cols = [c for c in ("name", "building", "amenity", "building:levels", "levels",
                        "households", "hh_rule", "hh_source") if c in study.homes]
    top = study.homes.sort_values("households", ascending=False).head(args.top)
    print(f"The {len(top)} largest homes:")
    print(pd.DataFrame(top[cols]).to_string(index=False))
    return 0


def run_grids(args: argparse.Namespace) -> int:
    """Run the grids command; return the exit status.

    Parameters
    ----------
    args
        The parsed command line.

    Returns
    -------
    int
        The exit status: 0 when done, 1 when an area failed or an input was refused.
    """
    from dataclasses import replace

    from gis.zoning.blocks import make_blocks
    from gis.zoning.editor import history_record
    from gis.zoning.generate import plan_grids
    from gis.zoning.project import save_project

    say = _Clock(args.quiet)
    settings = load_settings(args.settings)
    rules = settings.grids
    overrides = {"target_households": args.target, "min_households": args.min,
                 "max_households": args.max,
                 "community_target_households": args.community_target}
    rules = replace(rules, **{k: v for k, v in overrides.items() if v is not None})
    study = load_study(args.source, settings, buildings_path=args.buildings,
                       buildings_crs=args.buildings_crs, bbox=args.bbox, compounds=False,
                       households_table=args.households_table,
                       population_raster=args.population_raster, walk_network=False,
                       progress=say)
    say("cutting street blocks")
    blocks = make_blocks(study.streets, study.homes, rules)
    communities = None
    if args.communities is not None:
        communities = to_local(read_zones(args.communities), study.area.local_crs)
    say("drawing communities and grids")
    # A command-line run may fork: the community partitions tried share the cores.
    plan = plan_grids(blocks, rules, communities=communities, workers=os.cpu_count() or 1)
    history = [history_record(
        "generate", f"grids of {rules.target_households} households "
                    f"({rules.min_households}-{rules.max_households}) in communities "
                    f"of {rules.community_target_households}")]
    say(f"writing {args.out}")
    save_project(args.out, plan, history)
    comms = plan.communities_gdf()
    grids = plan.grids_gdf()
    print(f"Study area: {study.name}: {len(blocks.gdf)} street blocks, "
          f"{int((blocks.gdf['households'] > 0).sum())} with homes")
    for note in blocks.notes:
        print(f"  note: {note}")
    rows = []
    for _, c in comms.iterrows():
        mine = grids[grids["community"] == c["name"]]
        rows.append({"community": c["name"], "households": c["households"],
                     "deviation_%": round(c["deviation"] * 100, 1),
                     "compactness": round(c["compactness"], 3), "flag": c["flag"],
                     "grids": len(mine), "grid_min": int(mine["households"].min()),
                     "grid_max": int(mine["households"].max()),
                     "grids_out_of_range": int((mine["flag"] != "").sum())})
    print(pd.DataFrame(rows).to_string(index=False))
    return 0


def _require_footing(study: Study, args: argparse.Namespace) -> None:
    """Stop (exit status 2) when the analysis would stand on nothing.

    No home, or none within the snap limit of the walking network; no facility, or none
    within the snap limit: every share would read 0 % (or "no data") for a reason of the
    data, not of the city.
    """
    where = Path(str(args.buildings or args.source)).name
    limit = f"{study.snap_max_m:.0f}"
    if not len(study.homes):
        msg = (f"{where}: no building of the study area is a home, so there is nothing to "
               "cover; give a buildings layer with homes (--buildings) or another area.")
        raise InputError(msg, key="no_homes", where=where)
    ok = study.home_snap.ok
    if not ok.any():
        dist = study.home_snap.access_m[np.isfinite(study.home_snap.access_m)]
        median = f"{float(np.median(dist)) / 1000:.1f}" if len(dist) else "?"
        msg = (f"{where}: none of the {len(study.homes)} homes lies within {limit} m of the "
               f"walking network (median {median} km); check that the buildings cover the "
               "study area and their coordinate system, or raise --snap-max.")
        raise InputError(msg, key="homes_far", where=where, n=len(study.homes), limit=limit,
                         km=median)
    where_fac = Path(str(args.facilities or args.source)).name
    if not len(study.facilities):
        msg = (f"{where_fac}: no facility of any category in the data, so every share "
               "would be unknown; load facilities with --facilities (a layer or an Amap / "
               "Baidu POI export).")
        raise InputError(msg, key="no_facilities", where=where_fac)
    if not study.facility_snap.ok.any():
        msg = (f"{where_fac}: none of the {len(study.facilities)} facilities lies within "
               f"{limit} m of the walking network; check their coordinate system (declare "
               "gcj02 for Amap or Tencent points) or raise --snap-max.")
        raise InputError(msg, key="facilities_far_all", where=where_fac,
                         n=len(study.facilities), limit=limit)


def _prepare(args: argparse.Namespace, categories: list[str] | None,
             say: _Clock) -> tuple[Settings, Study, CoverageResult, dict[str, gpd.GeoDataFrame]]:
    """Load the study, run coverage and read the optional zone layers."""
    settings = load_settings(args.settings)
    study = load_study(args.source, settings, buildings_path=args.buildings,
                       buildings_crs=args.buildings_crs, facilities_path=args.facilities,
                       facilities_crs=args.facilities_crs, snap_max_m=args.snap_max,
                       bbox=args.bbox, compounds=args.gates != "off",
                       households_table=args.households_table,
                       population_raster=args.population_raster, progress=say)
    _require_footing(study, args)
    compounds = None
    if args.gates != "off" and args.compounds is not None:
        areas = to_local(read_layer(args.compounds, kind="communities"), study.area.local_crs)
        gates = (to_local(read_layer(args.compound_gates, kind="facilities"),
                          study.area.local_crs) if args.compound_gates is not None
                 else areas.iloc[:0].set_geometry(areas.geometry.centroid))
        compounds = compounds_from_layers(areas, gates)
    # One access model (snap limit, gates) for every step of this command.
    access = study.access(gates=args.gates, compounds=compounds, progress=say)
    result = compute_coverage(access, study.facilities, settings,
                              CoverageOptions(categories=categories, minutes=args.minutes,
                                              metres=args.metres, profile=args.profile),
                              progress=say)
    if args.gates != "off":
        plain = compute_coverage(study.access(gates="off"), study.facilities, settings,
                                 CoverageOptions(thresholds=result.thresholds,
                                                 profile=result.profile))
        zone_path = args.communities or args.grids
        zone_gdf = (to_local(read_zones(zone_path), study.area.local_crs)
                    if zone_path is not None else None)
        effect = gate_effect(plain, result, zone_gdf)
        comp = access.compounds
        print(f"Gates honoured ({args.gates}): {0 if comp is None else len(comp)} compounds, "
              f"{0 if comp is None else len(comp.gates)} gates")
        print(effect.to_string(index=False))
    for warning in study.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if study.poi_report is not None and len(study.poi_report):
        _print_table(f"POI rows not used ({int(study.poi_report['rows'].sum())}):",
                     study.poi_report)
    zones: dict[str, gpd.GeoDataFrame] = {}
    zone_kinds: tuple[tuple[Kind, str | None], ...] = (("communities", args.communities),
                                                      ("grids", args.grids))
    for kind, zone_path in zone_kinds:
        if zone_path is not None:
            zones[kind] = to_local(read_zones(zone_path, kind=kind), study.area.local_crs)
    return settings, study, result, zones


def run_coverage(args: argparse.Namespace) -> int:
    """Run the coverage command; return the exit status.

    Parameters
    ----------
    args
        The parsed command line.

    Returns
    -------
    int
        The exit status: 0 when done, 1 when an area failed or an input was refused.
    """
    say = _Clock(args.quiet)
    cats = ([c.strip() for c in args.categories.split(",") if c.strip()]
            if args.categories else None)
    settings, study, result, zones = _prepare(args, cats, say)
    summary = area_summary(result)
    layers: dict[str, object] = {"homes": result.homes, "facilities": result.facilities}
    if args.facility_circles and not args.no_circles:
        circles = service_circles(result, settings, progress=say)
        layers["service_circles"] = circles
        layers["category_circles"] = category_circles(result, settings, circles=circles)
    elif not args.no_circles:
        say("drawing the service circle of each category")
        layers["category_circles"] = category_circles(result, settings)
    layers["summary"] = summary
    layers["load_report"] = study.report().astype({"value": "int64"})
    layers["network_pieces"] = study.pieces()
    layers["household_rules"] = study.household_report()
    if study.poi_report is not None and len(study.poi_report):
        layers["poi_rows_not_used"] = study.poi_report
    for kind, gdf in zones.items():
        table = zone_summary(result, gdf)
        layers[f"{kind}_summary"] = table
        _print_table(f"Households and share covered (%) per {kind[:-1]}:", table)
    say(f"writing {args.out}")
    write_gpkg_atomic(args.out, layers)
    _print_summary(study.name, result.profile, summary, study.report())
    _print_pieces(study)
    return 0


def run_gaps(args: argparse.Namespace) -> int:
    """Run the gaps command; return the exit status.

    Parameters
    ----------
    args
        The parsed command line.

    Returns
    -------
    int
        The exit status: 0 when done, 1 when an area failed or an input was refused.
    """
    say = _Clock(args.quiet)
    cats = None if args.category == FULL_CIRCLE else [args.category]
    settings, study, result, zones = _prepare(args, cats, say)
    say("grouping uncovered homes into gap areas along the streets")
    gaps = find_gaps(result, args.category, settings)
    layers: dict[str, object] = {"gap_areas": gaps.areas, "uncovered_homes": gaps.homes,
                                 "summary": area_summary(result)}
    for kind, gdf in zones.items():
        layers[f"gaps_by_{kind[:-1]}"] = gap_table(gaps, gdf)
    say(f"writing {args.out}")
    write_gpkg_atomic(args.out, layers)
    print(f"Study area: {study.name}   category: {args.category}")
    print(f"  uncovered households: {gaps.households_uncovered} in {len(gaps.homes)} homes, "
          f"{len(gaps.areas)} gap areas")
    shown = gaps.areas.drop(columns=gaps.areas.geometry.name).head(15)
    print(shown.round(1).to_string(index=False))
    for kind, gdf in zones.items():
        _print_table(f"Uncovered households per {kind[:-1]}:", gap_table(gaps, gdf))
    return 0


def run_sites(args: argparse.Namespace) -> int:
    """Run the sites command; return the exit status.

    Parameters
    ----------
    args
        The parsed command line.

    Returns
    -------
    int
        The exit status: 0 when done, 1 when an area failed or an input was refused.
    """
    say = _Clock(args.quiet)
    settings, study, result, zones = _prepare(args, [args.category], say)
    candidates = None
    if args.candidates is not None:
        candidates = to_local(read_layer(args.candidates, declared_crs=args.candidates_crs,
                                         kind="facilities"), study.area.local_crs)
    named = {kind[:-1]: gdf for kind, gdf in zones.items()}
    plan = plan_sites(result, args.category, settings, k=args.k,
                      candidates=candidates, capacity=args.capacity,
                      target_share=args.target_share, zones=named,
                      time_limit_s=args.time_limit, progress=say)
    sites = plan.sites.copy()
    circles = gpd.GeoDataFrame(sites.drop(columns=sites.geometry.name),
                               geometry=plan.circles.to_numpy(), crs=sites.crs)
    total = int(result.homes.loc[result.homes["attached"], "households"].sum())
    before_after = pd.DataFrame([{
        "category": args.category, "households": total,
        "covered_before": plan.before, "covered_after": plan.after,
        "newly_covered": plan.newly_covered,
        "share_before": plan.before / total if total else float("nan"),
        "share_after": plan.after / total if total else float("nan"),
        "greedy_objective": plan.greedy.objective, "exact_objective": plan.exact.objective,
        "method": plan.exact.method, "optimal": plan.exact.optimal,
        "mip_gap": plan.exact.mip_gap, "solver_seconds": plan.exact.seconds,
        "solver_message": plan.exact.message}])
    say(f"writing {args.out}")
    write_gpkg_atomic(args.out, {"proposed_sites": sites, "site_circles": circles,
                                 "candidates": plan.candidates, "before_after": before_after})
    row = before_after.iloc[0]
    print(f"Study area: {study.name}   category: {args.category}")
    print(f"  households covered: {plan.before} -> {plan.after} (+{plan.newly_covered}), "
          f"{row['share_before'] * 100:.1f} % -> {row['share_after'] * 100:.1f} %")
    print(f"  {len(plan.candidates)} candidates; greedy {plan.greedy.objective:.0f}, "
          f"{plan.exact.method} {plan.exact.objective:.0f} "
          f"({'optimal' if plan.exact.optimal else 'not proven optimal'}"
          f", gap {plan.exact.mip_gap:.3g}, {plan.exact.seconds:.2f} s)")
    cols = [c for c in ("rank", "gain_households", "community", "grid") if c in sites]
    print(sites[cols].to_string(index=False))
    return 0


def _print_pieces(study: Study) -> None:
    """Print the network pieces that hold homes, when there is more than one."""
    pieces = study.pieces()
    with_homes = pieces[pieces["homes"] > 0]
    if len(with_homes) > 1:
        print(f"Network pieces with homes ({len(with_homes)} of {len(pieces)} kept; homes "
              "walk only within their piece), largest first:")
        print(with_homes.head(15).to_string(index=False))
    for note in study.piece_warnings()[:10]:
        print(f"  note: {note}")


def _print_table(title: str, table: pd.DataFrame) -> None:
    shown = table.copy()
    for col in shown.columns:
        if col.startswith("share_"):
            shown[col] = (shown[col] * 100).round(1)
    print(title)
    print(shown.to_string(index=False))


def _print_summary(name: str, profile: str, summary: pd.DataFrame,
                   report: pd.DataFrame) -> None:
    print(f"Study area: {name}   walking profile: {profile}")
    for _, row in report.iterrows():
        print(f"  {row['item']}: {row['value']}")
    table = summary.copy()
    table["share_covered"] = [f"{v * 100:.1f} %" if pd.notna(v) else "no data"
                              for v in table["share_covered"]]
    table = table.drop(columns=["no_data", "left_out_of_full_circle"])
    table["threshold_m"] = table["threshold_m"].round(0)
    table["threshold_min"] = table["threshold_min"].round(1)
    print(table.to_string(index=False))
    missing = [c for c in summary.loc[summary["no_data"] & (summary["category"] != FULL_CIRCLE),
                                      "category"]]
    if missing:
        print(f"  note: no facility of {', '.join(missing)} is in the data: their coverage is "
              "unknown (not 0) and left out of the full circle; load facilities from a POI "
              "export or a layer (--facilities).")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m gis``.

    Parameters
    ----------
    argv
        Arguments (None: ``sys.argv[1:]``).

    Returns
    -------
    int
        The exit status.
    """
    args = _parser().parse_args(argv)
    commands = {"coverage": run_coverage, "gaps": run_gaps, "sites": run_sites,
                "grids": run_grids, "standards": run_standards,
                "households": run_households, "batch": run_batch_command}
    try:
        return commands[args.command](args)
    except GisError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
