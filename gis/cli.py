"""Command line: ``python -m gis coverage ...`` writes a coverage GeoPackage and a summary.

Errors in the user's input print one message naming the file, the problem and the fix,
and exit with status 2; nothing half-written is left behind.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from gis._errors import GisError
from gis.coverage import area_summary, compute_coverage, service_circles, zone_summary
from gis.crs import to_local
from gis.io import read_zones, write_gpkg_atomic
from gis.settings import load_settings
from gis.study import load_study


class _Clock:
    """Print each step with the time since the start, on stderr."""

    def __init__(self, quiet: bool = False) -> None:
        self.t0 = time.perf_counter()
        self.quiet = quiet

    def __call__(self, message: str) -> None:
        if not self.quiet:
            print(f"[{time.perf_counter() - self.t0:6.1f} s] {message}", file=sys.stderr,
                  flush=True)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m gis",
                                description="Ten-minute life service circle analyses.")
    sub = p.add_subparsers(dest="command", required=True)
    c = sub.add_parser("coverage", help="walking time from every home to each service")
    c.add_argument("--source", default="default",
                   help="'default' (bundled Helsinki extract), an .osm.pbf / .osm / "
                        ".osm.bz2 file, or a place name (online)")
    c.add_argument("--facilities", type=Path, help="facilities layer replacing OSM's")
    c.add_argument("--facilities-crs", default=None,
                   help="coordinates of --facilities: wgs84, gcj02, bd09, cgcs2000, EPSG:n")
    c.add_argument("--buildings", type=Path, help="residential buildings layer replacing OSM's")
    c.add_argument("--buildings-crs", default=None, help="coordinates of --buildings")
    c.add_argument("--communities", type=Path, help="community polygons to summarise by")
    c.add_argument("--grids", type=Path, help="grid polygons to summarise by")
    c.add_argument("--categories", default=None,
                   help="comma-separated category ids (default: all in data/settings.toml)")
    thr = c.add_mutually_exclusive_group()
    thr.add_argument("--minutes", type=float, help="walk threshold in minutes (default 10)")
    thr.add_argument("--metres", type=float, help="walk threshold in metres")
    c.add_argument("--profile", default=None, help="walking profile: adult, elderly, frail")
    c.add_argument("--snap-max", type=float, default=None,
                   help="leave out points farther than this from the network, metres")
    c.add_argument("--no-circles", action="store_true",
                   help="skip the per-facility service circles (the slowest step)")
    c.add_argument("--settings", type=Path, default=None, help="another settings file")
    c.add_argument("--out", type=Path, required=True, help="GeoPackage to write")
    c.add_argument("--quiet", action="store_true", help="no progress messages")
    return p


def run_coverage(args: argparse.Namespace) -> int:
    """Run the coverage command; return the exit status."""
    say = _Clock(args.quiet)
    settings = load_settings(args.settings)
    cats = ([c.strip() for c in args.categories.split(",") if c.strip()]
            if args.categories else None)
    study = load_study(args.source, settings, buildings_path=args.buildings,
                       buildings_crs=args.buildings_crs, facilities_path=args.facilities,
                       facilities_crs=args.facilities_crs, snap_max_m=args.snap_max,
                       progress=say)
    result = compute_coverage(study.network, study.homes, study.facilities, settings,
                              categories=cats, minutes=args.minutes, metres=args.metres,
                              profile=args.profile, home_snap=study.home_snap,
                              snap_max_m=study.snap_max_m, progress=say)
    summary = area_summary(result)
    layers: dict[str, object] = {
        "homes": result.homes,
        "facilities": result.facilities,
    }
    if not args.no_circles:
        circles = service_circles(study.network, result.facilities, result, settings,
                                  progress=say)
        layers["service_circles"] = circles
    layers["summary"] = summary
    for kind, zone_path in (("communities", args.communities), ("grids", args.grids)):
        if zone_path is not None:
            zones = to_local(read_zones(zone_path, kind=kind), study.area.local_crs)
            table = zone_summary(result, zones)
            layers[f"{kind}_summary"] = table
            _print_zones(kind, table)
    layers["load_report"] = study.report().astype({"value": "int64"})
    layers["household_rules"] = study.household_report()
    say(f"writing {args.out}")
    write_gpkg_atomic(args.out, layers)  # type: ignore[arg-type]
    _print_summary(study.name, result.profile, summary, study.report())
    return 0


def _print_summary(name: str, profile: str, summary: pd.DataFrame,
                   report: pd.DataFrame) -> None:
    print(f"Study area: {name}   walking profile: {profile}")
    for _, row in report.iterrows():
        print(f"  {row['item']}: {row['value']}")
    table = summary.copy()
    table["share_covered"] = (table["share_covered"] * 100).round(1).astype(str) + " %"
    table["threshold_m"] = table["threshold_m"].round(0)
    table["threshold_min"] = table["threshold_min"].round(1)
    print(table.to_string(index=False))


def _print_zones(kind: str, table: pd.DataFrame) -> None:
    shown = table.copy()
    for col in shown.columns:
        if col.startswith("share_"):
            shown[col] = (shown[col] * 100).round(1)
    print(f"Households and share covered (%) per {kind[:-1]}:")
    print(shown.to_string(index=False))


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m gis``."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "coverage":
            return run_coverage(args)
    except GisError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 1
