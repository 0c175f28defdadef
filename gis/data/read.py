"""Read users' GIS layers: GeoPackage, GeoJSON or zipped Shapefile.

Every problem found in a layer (empty, no CRS, broken geometries, a missing column,
unknown categories) is reported in one message that names the file, the layer, the
problem and the fix.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from gis._errors import EmptyInputError, InputError, guard_input
from gis.crs import unshift_to_wgs84
from gis.data.facilities import normalise_categories
from gis.limits import check_features, check_input, check_vertices
from gis.settings import WGS84, Limits, Settings, load_settings

Kind = Literal["buildings", "facilities", "communities", "grids", "layer"]

#: Declared coordinate systems a user may give for a layer.
DECLARED_CRS_HELP = "wgs84, gcj02 (Amap, Tencent), bd09 (Baidu), cgcs2000 or EPSG:n"

_GEOM_KINDS = {
    "buildings": ("Polygon", "MultiPolygon", "Point"),
    "facilities": ("Point", "Polygon", "MultiPolygon"),
    "communities": ("Polygon", "MultiPolygon"),
    "grids": ("Polygon", "MultiPolygon"),
}


def _describe(path: Path, layer: str | None) -> str:
    return f"{path.name}" + (f" (layer {layer!r})" if layer else "")


def read_layer(path: str | Path, *, layer: str | None = None,
               declared_crs: str | None = None, kind: Kind = "layer",
               limits: Limits | None = None) -> gpd.GeoDataFrame:
    """Read a user's layer and return it in WGS-84 with valid, non-empty geometries.

    Parameters
    ----------
    path
        A GeoPackage, GeoJSON or zipped Shapefile (``.zip``) or ``.shp``.
    layer
        Layer name inside a GeoPackage (default: the first).
    declared_crs
        The coordinate system the user states: ``"wgs84"``, ``"gcj02"``, ``"bd09"``,
        ``"cgcs2000"`` or ``"EPSG:n"``. GCJ-02 and BD-09 are converted to WGS-84. A
        declaration overrides a missing CRS; it must agree with a CRS the file states.
    kind
        What the layer is, to check its geometry type.
    limits
        What the file may expand to and hold (default: the settings file's ``[limits]``);
        see :mod:`gis.limits`.

    Returns
    -------
    geopandas.GeoDataFrame
        In EPSG:4326.
    """
    path = Path(path)
    where = _describe(path, layer)
    if not path.is_file():
        msg = f"{where}: file not found; check the path."
        raise InputError(msg, key="file_not_found", where=where)
    if path.stat().st_size == 0:
        msg = f"{where}: the file is empty; export the layer again."
        raise EmptyInputError(msg, key="file_empty", where=where)
    limits = limits or load_settings().limits
    source: str | Path = path
    check_input(path, limits)
    if path.suffix.lower() == ".zip":
        inner = _check_shapefile_zip(path)
        if inner is not None:  # a Shapefile inside a folder of the zip (Windows zips so)
            source = f"/vsizip/{path.resolve()}/{inner}"
    check_features(path, source, limits, layer)
    try:
        gdf = gpd.read_file(source, layer=layer)
    except Exception as err:  # pyogrio raises DataSourceError, DataLayerError, ...
        detail = str(err).replace(str(path), path.name).split(";")[0].strip()
        msg = (f"{where}: cannot be read as a GIS layer ({detail}). Save it again as a "
               "GeoPackage (.gpkg), GeoJSON (.geojson) or zipped Shapefile (.zip).")
        raise InputError(msg, key="not_gis_layer", where=where, detail=detail) from err
    problems: list[tuple[str, str, dict[str, str]]] = []
    if len(gdf) == 0:
        msg = f"{where}: the layer has no features; choose a layer with data."
        raise EmptyInputError(msg, key="layer_no_features", where=where)
    geoms = np.asarray(gdf.geometry.values)
    check_vertices(path, geoms, limits)
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    if missing.all():
        msg = f"{where}: every feature has an empty geometry; export the layer again."
        raise EmptyInputError(msg, key="layer_empty_geometries", where=where)
    gdf = gdf[~missing].copy()
    with np.errstate(invalid="ignore"):
        finite = np.isfinite(shapely.bounds(np.asarray(gdf.geometry.values))).all(axis=1)
    if not finite.all():  # NaN or infinite coordinates: GEOS cannot measure them
        gdf = gdf[finite].copy()
        if len(gdf) == 0:
            msg = f"{where}: no feature has numeric coordinates; export the layer again."
            raise EmptyInputError(msg, key="layer_empty_geometries", where=where)
    invalid = ~shapely.is_valid(np.asarray(gdf.geometry.values))
    if invalid.any():
        gdf.loc[invalid, gdf.geometry.name] = shapely.make_valid(
            np.asarray(gdf.geometry.values)[invalid])
    allowed = _GEOM_KINDS.get(kind)
    if allowed is not None:
        wrong = ~gdf.geom_type.isin(allowed)
        if wrong.all():
            found = ", ".join(sorted(set(gdf.geom_type)))
            need = " or ".join(allowed)
            problems.append((f"it holds {found} geometries but {kind} need {need}",
                             "p_geometry_type", {"found": found, "need": need}))
    gdf = _apply_crs(gdf, declared_crs, where, problems)
    if problems:
        msg = f"{where}: " + "; ".join(text for text, _k, _p in problems) + "."
        raise InputError(msg, key="layer_problems", where=where,
                         items=[(k, p) for _t, k, p in problems])
    if missing.any():
        gdf.attrs["dropped_empty"] = int(missing.sum())
    if not finite.all():
        gdf.attrs["dropped_coordinates"] = int((~finite).sum())
    return gdf


def _check_shapefile_zip(path: Path) -> str | None:
    """Check a zip holds a layer; return the inner path of a .shp not at its top level."""
    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
    except zipfile.BadZipFile as err:
        msg = f"{path.name}: not a valid zip file; zip the Shapefile's files again."
        raise InputError(msg, key="bad_zip", where=path.name) from err
    # macOS adds __MACOSX/._name copies that are not Shapefiles.
    names = [n for n in names if not n.startswith("__MACOSX/") and
             not Path(n).name.startswith("._")]
    shp = sorted((n for n in names if n.lower().endswith(".shp")),
                 key=lambda n: (n.count("/"), n))
    if not shp and not any(n.lower().endswith((".gpkg", ".geojson", ".json")) for n in names):
        msg = f"{path.name}: the zip holds no .shp file; zip the .shp, .shx, .dbf and .prj."
        raise InputError(msg, key="zip_no_shp", where=path.name)
    if shp and "/" in shp[0]:
        return shp[0]
    return None


def _apply_crs(gdf: gpd.GeoDataFrame, declared: str | None, where: str,
               problems: list[tuple[str, str, dict[str, str]]]) -> gpd.GeoDataFrame:
    decl = (declared or "").strip().lower()
    if decl in ("gcj02", "gcj-02", "bd09", "bd-09"):
        if gdf.crs is not None and not pyproj.CRS(gdf.crs).is_geographic:
            problems.append((f"it is declared {declared} but its CRS is projected "
                             f"({gdf.crs.to_string()}); GCJ-02/BD-09 are degrees",
                             "p_shifted_projected", {"declared": str(declared),
                                                     "crs": gdf.crs.to_string()}))
            return gdf
        _check_degrees(gdf, where, problems)
        return unshift_to_wgs84(gdf, "gcj02" if decl.startswith("gcj") else "bd09")
    if decl:
        target = {"wgs84": WGS84, "wgs-84": WGS84, "cgcs2000": "EPSG:4490"}.get(decl, declared)
        try:
            crs = pyproj.CRS.from_user_input(target)
        except pyproj.exceptions.CRSError:
            problems.append((f"the declared coordinate system {declared!r} is unknown; use "
                             f"{DECLARED_CRS_HELP}", "p_unknown_crs", {"declared": str(declared)}))
            return gdf
        if gdf.crs is None:
            gdf = gdf.set_crs(crs)
        elif not pyproj.CRS(gdf.crs).equals(crs) and not (
                pyproj.CRS(gdf.crs).is_geographic and crs.is_geographic):
            problems.append((f"it is declared {declared} but the file says "
                             f"{gdf.crs.to_string()}; drop the declaration or fix the file",
                             "p_crs_conflict", {"declared": str(declared),
                                                "crs": gdf.crs.to_string()}))
            return gdf
    if gdf.crs is None:
        problems.append(("it has no coordinate system (no .prj, or none in the file); "
                         f"declare one: {DECLARED_CRS_HELP}", "p_no_crs", {}))
        return gdf
    if pyproj.CRS(gdf.crs).is_geographic:
        _check_degrees(gdf, where, problems)
    return gdf.to_crs(WGS84)


def _check_degrees(gdf: gpd.GeoDataFrame, where: str,
                   problems: list[tuple[str, str, dict[str, str]]]) -> None:
    minx, miny, maxx, maxy = gdf.total_bounds
    if minx < -180 or maxx > 180 or miny < -90 or maxy > 90:
        box = f"({minx:.0f}, {miny:.0f}) .. ({maxx:.0f}, {maxy:.0f})"
        problems.append((f"its coordinates {box} are not degrees; declare its projected "
                         "CRS as EPSG:n", "p_not_degrees", {"box": box}))


@guard_input("a facilities layer (GeoPackage, GeoJSON, zipped Shapefile) or an Amap / "
              "Baidu POI export", "save it again as GeoPackage or GeoJSON, or export it again")
def read_facilities(path: str | Path, settings: Settings, *, layer: str | None = None,
                    declared_crs: str | None = None,
                    category_col: str = "category") -> gpd.GeoDataFrame:
    """Read a user's facilities layer: points with a category, optional franchise flag.

    Categories may be written as catalogue ids or Chinese or English names. Returns the
    standard facility columns (see gis.data.facilities) in WGS-84, polygons as points.

    Parameters
    ----------
    path
        A GeoPackage, GeoJSON, zipped Shapefile or CSV with coordinates.
    settings
        Settings with the catalogue.
    layer
        The layer of a multi-layer file (None: the only one).
    declared_crs
        The coordinate system the user says the file is in (``wgs84``, ``gcj02``, ...), or None.
    category_col
        The column holding the categories.

    Returns
    -------
    geopandas.GeoDataFrame
        Facilities in WGS-84 with the standard columns.

    Examples
    --------
    >>> fac = read_facilities("stations.gpkg", settings, declared_crs="gcj02")  # doctest: +SKIP
    >>> fac["category"].value_counts()  # doctest: +SKIP
    """
    path = Path(path)
    if _is_poi_export(path):
        from gis.data.poi import read_poi_export

        provider = {"gcj02": "amap", "bd09": "baidu"}.get((declared_crs or "").lower(), "auto")
        imported = read_poi_export(path, settings, provider=provider)  # type: ignore[arg-type]
        out = imported.facilities
        out.attrs["poi_report"] = imported.report
        return out
    gdf = read_layer(path, layer=layer, declared_crs=declared_crs, kind="facilities")
    where = _describe(path, layer)
    if category_col not in gdf:
        cols = ", ".join(c for c in gdf.columns if c != gdf.geometry.name)
        msg = (f"{where}: no `{category_col}` column, so facilities cannot be matched to "
               f"services. Columns found: {cols}. Add a `{category_col}` column with one of "
               f"{', '.join(settings.category_ids)}.")
        raise InputError(msg, key="no_category_column", where=where, column=category_col,
                         columns=cols, known=", ".join(settings.category_ids))
    cats = normalise_categories(gdf[category_col], settings, where=where)
    merchant = {c.id: c.merchant for c in settings.categories}
    franchise = (gdf["franchise"].map(_truthy) if "franchise" in gdf
                 else pd.Series(False, index=gdf.index))
    out = gpd.GeoDataFrame({
        "category": cats.to_numpy(),
        "name": gdf["name"].to_numpy() if "name" in gdf else None,
        "franchise": franchise.to_numpy(dtype=bool),
        "merchant": cats.map(merchant).to_numpy(dtype=bool),
        "source": path.name,
        "osm_id": None,
    }, geometry=shapely.point_on_surface(np.asarray(gdf.geometry.values)), crs=WGS84)
    for extra in ("floor_area_m2", "capacity"):
        if extra in gdf:
            out[extra] = pd.to_numeric(gdf[extra], errors="coerce").to_numpy()
    return out


def _is_poi_export(path: Path) -> bool:
    """Return True for an Amap / Baidu POI export (CSV, or JSON that is not GeoJSON)."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return True
    if suffix == ".json" and path.is_file():
        with path.open("rb") as f:
            head = f.read(2048).decode("utf-8", errors="ignore")
        return "FeatureCollection" not in head and '"features"' not in head
    return False


def _truthy(value: object) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in {"1", "true", "yes", "y", "t", "是", "加盟"}
    return bool(value) if value is not None and not pd.isna(value) else False


@guard_input("a buildings layer (GeoPackage, GeoJSON or zipped Shapefile)",
              "save it again as GeoPackage or GeoJSON")
def read_buildings(path: str | Path, *, layer: str | None = None,
                   declared_crs: str | None = None) -> gpd.GeoDataFrame:
    """Read a user's residential buildings layer (a ``households`` column is optional).

    Returns the layer in WGS-84. A ``households`` column, when present, must be numeric
    for most rows.

    Parameters
    ----------
    path
        A GeoPackage, GeoJSON or zipped Shapefile of polygons.
    layer
        The layer of a multi-layer file.
    declared_crs
        The coordinate system the user says the file is in, or None.

    Returns
    -------
    geopandas.GeoDataFrame
        Buildings in WGS-84.
    """
    path = Path(path)
    gdf = read_layer(path, layer=layer, declared_crs=declared_crs, kind="buildings")
    for alias in ("hh", "household", "户数", "HOUSEHOLDS"):
        if "households" not in gdf and alias in gdf:
            gdf = gdf.rename(columns={alias: "households"})
    if "households" in gdf:
        num = pd.to_numeric(gdf["households"], errors="coerce")
        if num.notna().sum() == 0:
            msg = (f"{_describe(path, layer)}: the `households` column holds no numbers; "
                   "fill it with household counts or remove it to estimate them.")
            raise InputError(msg, key="households_not_numbers", where=_describe(path, layer))
        gdf["households"] = num
    if "building" not in gdf:
        gdf["building"] = "residential"
    return gdf


ZONE_NAME_COLUMNS = ("name", "名称", "社区", "社区名称", "网格", "网格名称", "community", "grid",
                     "NAME", "Name")


@guard_input("a communities or grids layer (GeoPackage, GeoJSON or zipped Shapefile)",
              "save it again as GeoPackage or GeoJSON")
def read_zones(path: str | Path, *, kind: Kind = "communities", layer: str | None = None,
               declared_crs: str | None = None) -> gpd.GeoDataFrame:
    """Read a communities or grids layer; return it in WGS-84 with a ``name`` column.

    The name comes from the first of :data:`ZONE_NAME_COLUMNS` present, else the first
    text column, else a running number.

    Parameters
    ----------
    path
        A GeoPackage, GeoJSON or zipped Shapefile of polygons.
    kind
        ``communities`` or ``grids`` (for messages).
    layer
        The layer of a multi-layer file.
    declared_crs
        The coordinate system the user says the file is in, or None.

    Returns
    -------
    geopandas.GeoDataFrame
        Zones in WGS-84 with ``name``.
    """
    gdf = read_layer(path, layer=layer, declared_crs=declared_crs, kind=kind)
    gdf = gdf[gdf.geom_type.isin(["Polygon", "MultiPolygon"])].copy()
    found = next((c for c in ZONE_NAME_COLUMNS if c in gdf), None)
    if found is None:
        text = [c for c in gdf.columns if c != gdf.geometry.name and gdf[c].dtype == object]
        found = text[0] if text else None
    names = (gdf[found].astype(str) if found is not None
             else pd.Series([f"{kind[:-1]} {i + 1}" for i in range(len(gdf))], index=gdf.index))
    gdf["name"] = names.to_numpy()
    return gdf
