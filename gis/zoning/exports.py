"""Exports of a plan for sharing (GeoPackage, GeoJSON, zipped Shapefile, tables).

Exports carry no personal data unless asked for (the grid table ``with_workers``).
"""

from __future__ import annotations

import tempfile
import zipfile
from pathlib import Path
from typing import Literal

import pandas as pd

from gis._errors import InputError
from gis.data.write import write_file_atomic, write_gpkg_atomic
from gis.settings import WGS84
from gis.zoning.plan import GridPlan

#: Field names and their Chinese and English aliases, for exports and their README.
FIELD_ALIASES: dict[str, tuple[str, str]] = {
    "label": ("编号", "Number"),
    "code": ("网格编码（CJ/T 349）", "Grid code (CJ/T 349)"),
    "name": ("名称", "Name"),
    "community": ("所属社区", "Community"),
    "households": ("户数", "Households"),
    "buildings": ("楼栋数", "Buildings"),
    "blocks": ("街区数", "Street blocks"),
    "area_m2": ("面积（平方米）", "Area (m²)"),
    "compactness": ("紧凑度（Polsby-Popper）", "Compactness (Polsby-Popper)"),
    "deviation": ("偏离目标户数比例", "Deviation from the target"),
    "flag": ("提示", "Flag"),
    "worker": ("网格员", "Grid worker"),
    "phone": ("网格员电话", "Grid worker's phone"),
}
#: Shapefile fields are at most 10 characters.
SHAPEFILE_NAMES = {"households": "households", "buildings": "buildings",
                   "compactness": "compact", "deviation": "deviation", "community": "community"}


# -- exports --------------------------------------------------------------------------

ExportFormat = Literal["gpkg", "geojson", "shp"]


def export_zones(plan: GridPlan, path: str | Path, *, fmt: ExportFormat) -> Path:
    """Export grids and communities in WGS-84 for sharing, without personal data.

    ``gpkg``: one file with layers ``grids`` and ``communities``; ``geojson``: the grids
    at ``path`` and the communities beside it (``*_communities.geojson``); ``shp``: one
    zip with both Shapefiles, UTF-8 (``.cpg``) so Chinese names survive.

    Parameters
    ----------
    plan
        The plan.
    path
        The file to write.
    fmt
        ``gpkg``, ``geojson`` or ``shp`` (zipped).

    Returns
    -------
    pathlib.Path
        The file written (communities and grids, no personal data).
    """
    path = Path(path)
    grids = plan.grids_gdf(with_workers=False).to_crs(WGS84)
    comms = plan.communities_gdf().to_crs(WGS84)
    if fmt == "gpkg":
        return write_gpkg_atomic(path, {"grids": grids, "communities": comms})
    if fmt == "geojson":
        other = path.with_name(f"{path.stem}_communities.geojson")
        for frame, target in ((grids, path), (comms, other)):
            write_file_atomic(target, lambda tmp, f=frame: f.to_file(tmp, driver="GeoJSON"))
        return path
    if fmt == "shp":
        def write_zip(tmp: Path) -> None:
            with tempfile.TemporaryDirectory() as d:
                for frame, stem in ((grids, "grids"), (comms, "communities")):
                    frame.rename(columns=SHAPEFILE_NAMES).to_file(
                        Path(d) / f"{stem}.shp", encoding="UTF-8")
                with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
                    for f in sorted(Path(d).iterdir()):
                        zf.write(f, f.name)

        return write_file_atomic(path, write_zip)
    msg = f"Unknown export format {fmt!r}; use gpkg, geojson or shp."
    raise InputError(msg)


def export_grid_table(plan: GridPlan, path: str | Path, *, with_workers: bool = False) -> Path:
    """Export the grid table (CSV or XLSX by the file's suffix); workers only when asked.

    Parameters
    ----------
    plan
        The plan.
    path
        The ``.xlsx`` or ``.csv`` to write.
    with_workers
        Include grid workers' names and phones (personal data).

    Returns
    -------
    pathlib.Path
        The file written.
    """
    path = Path(path)
    table = pd.DataFrame(plan.grids_gdf(with_workers=with_workers).drop(columns="geometry"))
    if path.suffix.lower() == ".xlsx":
        return write_file_atomic(path, lambda tmp: table.to_excel(tmp, index=False))
    return write_file_atomic(path, lambda tmp: table.to_csv(tmp, index=False,
                                                       encoding="utf-8-sig"))
