"""Household figures beyond footprints: street office tables, rasters, empty areas.

The street office's own table, a population raster, and residential areas with no
building mapped.

Every home carries ``hh_source``, the source of its household figure, strongest first:

``given``
    A ``households`` column in the buildings layer, or the street office's own table
    (CSV / XLSX) joined by :func:`join_household_table`.
``raster``
    A population raster (GeoTIFF, e.g. WorldPop or GHS-POP) spread over the homes of each
    cell by floor area (:func:`spread_population_raster`); people / residents per
    household.
``estimated from floors``
    Footprint x floors / floor area per household (:mod:`gis.data.households`).
``estimated from area``
    A residential area (landuse=residential, a compound outline) with no building mapped:
    its area x a density by area type (:func:`area_homes`), cut into cells so that a large
    area does not sit on one point.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely import STRtree

from gis._errors import InputError, guard_input
from gis.crs import require_projected
from gis.data.households import CHECK_CAPPED, estimate_households, normalise_name
from gis.limits import check_input, check_rows
from gis.settings import HouseholdRules, load_settings

SOURCE_GIVEN = "given"
SOURCE_RASTER = "raster"
SOURCE_FLOORS = "estimated from floors"
SOURCE_AREA = "estimated from area"
SOURCES = (SOURCE_GIVEN, SOURCE_RASTER, SOURCE_FLOORS, SOURCE_AREA)

AREA_RULE = "residential area without buildings"
TABLE_RULE = "street office table"
RASTER_RULE = "population raster"

#: Column names a street office's table may use (folded: lower case, no spaces).
NAME_COLUMNS = ("name", "名称", "小区", "小区名称", "楼栋", "楼栋名称", "楼宇名称", "建筑名称",
                "地址", "compound", "building")
HOUSEHOLD_COLUMNS = ("households", "户数", "住户数", "总户数", "实有户数", "家庭户数")
ID_COLUMNS = ("osm_id", "id", "编号", "建筑编号")
LON_COLUMNS = ("lon", "lng", "longitude", "x", "经度")
LAT_COLUMNS = ("lat", "latitude", "y", "纬度")


def _largest_remainder(weights: np.ndarray, total: int) -> np.ndarray:
    """Split the whole number ``total`` over ``weights`` so the parts sum to it."""
    if total <= 0 or weights.sum() <= 0:
        return np.zeros(len(weights), dtype=np.int64)
    exact = weights / weights.sum() * total
    parts = np.floor(exact).astype(np.int64)
    left = int(total - parts.sum())
    if left > 0:
        parts[np.argsort(-(exact - parts), kind="stable")[:left]] += 1
    return np.asarray(parts)


def _density(areas: pd.DataFrame, rules: HouseholdRules) -> np.ndarray:
    """Households per hectare of each area: the first ``key=value`` of the rules it has."""
    out = np.full(len(areas), np.nan)
    for spec, per_ha in rules.area_density_per_ha:
        key, _, value = spec.partition("=")
        if key not in areas:
            continue
        hit = areas[key].astype(object).astype(str).to_numpy() == value
        out = np.where(np.isnan(out) & hit, per_ha, out)
    return out


def area_homes(landuse: gpd.GeoDataFrame, buildings: gpd.GeoDataFrame,
               rules: HouseholdRules, *, areas: gpd.GeoDataFrame | None = None
               ) -> gpd.GeoDataFrame:
    """Return estimated homes for residential areas that have no building mapped.

    Parameters
    ----------
    landuse
        Landuse polygons with ``landuse`` (and, where known, ``name`` and ``residential``)
        columns, in a metric CRS.
    buildings
        Every building of the area (homes or not), same CRS: an area holding the centroid
        of any building is left to the buildings.
    rules
        The household rules: ``area_density_per_ha`` (households per hectare by
        ``key=value``, first match wins), ``area_cell_m`` and ``min_estimated_area_m2``.
    areas
        Non-residential areas (campuses, hospitals); a residential area inside one is
        skipped.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per cell of at most ``area_cell_m`` x ``area_cell_m`` of each such area,
        with ``name``, ``households`` (the area's total split by cell area, summing to
        it), ``residential`` (True), ``levels`` (NaN), ``hh_rule`` (``residential area
        without buildings``), ``hh_source`` (``estimated from area``), ``area_id`` and
        ``group_quarters`` / ``residents`` (False / 0).
    """
    cols = ["name", "households", "residential", "levels", "hh_rule", "hh_source",
            "area_id", "group_quarters", "residents"]
    empty = gpd.GeoDataFrame({c: [] for c in cols}, geometry=gpd.GeoSeries([], crs=landuse.crs),
                             crs=landuse.crs)
    if not rules.area_density_per_ha or landuse is None or not len(landuse) or (
            "landuse" not in landuse):
        return empty
    require_projected(("landuse", landuse))
    res = landuse[landuse["landuse"].isin(rules.residential_landuse).to_numpy()
                  & landuse.geom_type.isin(["Polygon", "MultiPolygon"]).to_numpy()]
    if not len(res):
        return empty
    # OSM multipolygons are sometimes invalid (self-touching rings): repaired, polygons kept.
    fixed = shapely.make_valid(res.geometry.to_numpy())
    fixed = np.array([g if g.geom_type in ("Polygon", "MultiPolygon") else
                      shapely.union_all([p for p in getattr(g, "geoms", [g])
                                         if p.geom_type in ("Polygon", "MultiPolygon")])
                      for g in fixed], dtype=object)
    res = res.set_geometry(fixed, crs=res.crs)
    res = res[res.geometry.area.to_numpy() >= rules.min_estimated_area_m2]
    if not len(res):
        return empty
    geoms = res.geometry.to_numpy()
    keep = np.ones(len(res), dtype=bool)
    if len(buildings):
        cent = shapely.centroid(buildings.geometry.to_numpy())
        hit, _ = STRtree(cent).query(geoms, predicate="contains")
        keep[np.unique(hit)] = False
    if areas is not None and len(areas):
        inside, _ = STRtree(areas.geometry.to_numpy()).query(
            shapely.point_on_surface(geoms), predicate="within")
        keep[np.unique(inside)] = False
    # An empty outline inside a larger empty outline is counted once, by the larger.
    order = np.argsort(-shapely.area(geoms), kind="stable")
    tree = STRtree(geoms)
    for i in order:
        if not keep[i]:
            continue
        for j in tree.query(geoms[i], predicate="contains"):
            if j != i and keep[j] and shapely.area(geoms[j]) < shapely.area(geoms[i]):
                keep[j] = False
    res = res[keep]
    density = _density(res, rules)
    use = ~np.isnan(density) & (density > 0)
    res, density = res[use], density[use]
    if not len(res):
        return empty
    size = rules.area_cell_m
    rows_geom: list[object] = []
    rows_area: list[int] = []
    for k, geom in enumerate(res.geometry.to_numpy()):
        x0, y0, x1, y1 = geom.bounds
        xs = np.arange(x0, x1, size)
        ys = np.arange(y0, y1, size)
        gx, gy = np.meshgrid(xs, ys)
        boxes = shapely.box(gx.ravel(), gy.ravel(), gx.ravel() + size, gy.ravel() + size)
        cells = shapely.intersection(boxes, geom, grid_size=0.01)
        cells = cells[~shapely.is_empty(cells) & (shapely.area(cells) > 1.0)]
        rows_geom.extend(cells)
        rows_area.extend([k] * len(cells))
    cell_area = shapely.area(np.asarray(rows_geom, dtype=object))
    which = np.asarray(rows_area)
    hh = np.zeros(len(which), dtype=np.int64)
    totals = np.round(shapely.area(res.geometry.to_numpy()) / 10_000 * density)
    for k, total in enumerate(totals):
        mine = np.flatnonzero(which == k)
        hh[mine] = _largest_remainder(cell_area[mine], int(max(1, total)))
    names = (res["name"].to_numpy(dtype=object) if "name" in res
             else np.full(len(res), None, dtype=object))
    ids = (res["osm_id"].to_numpy() if "osm_id" in res else np.arange(len(res)))
    out = gpd.GeoDataFrame(
        {"name": names[which], "households": hh, "residential": hh > 0,
         "levels": np.nan, "hh_rule": AREA_RULE, "hh_source": SOURCE_AREA,
         "area_id": ids[which], "group_quarters": False, "residents": 0},
        geometry=np.asarray(rows_geom, dtype=object), crs=landuse.crs)
    return out[out["households"] > 0].reset_index(drop=True)


def _column(table: pd.DataFrame, names: tuple[str, ...]) -> str | None:
    folded = {normalise_name(c): c for c in table.columns}
    for n in names:
        if normalise_name(n) in folded:
            return str(folded[normalise_name(n)])
    return None


@guard_input("a household table (CSV or XLSX with a header row)",
              "save it again as CSV (UTF-8) or XLSX")
def read_household_table(path: str | Path) -> pd.DataFrame:
    """Read a street office's household table (CSV in UTF-8 or GBK, or XLSX).

    It needs a households column (``households``, 户数, 实有户数, ...) and one way to find
    each row's building or compound: an id (``osm_id``), a point (``lon`` / ``lat``,
    经度 / 纬度, WGS-84), or a name (``name``, 名称, 小区名称, 楼栋名称, ...).

    Parameters
    ----------
    path
        A ``.csv`` or ``.xlsx`` file.

    Returns
    -------
    pandas.DataFrame
        Columns ``name``, ``households`` and, where given, ``osm_id``, ``lon``, ``lat``.
    """
    p = Path(path)
    limits = load_settings().limits
    check_input(p, limits)
    try:
        if p.suffix.lower() in (".xlsx", ".xlsm", ".xls"):
            raw = pd.read_excel(p, dtype=object)
        else:
            try:
                raw = pd.read_csv(p, dtype=object, encoding="utf-8-sig")
            except UnicodeDecodeError:
                raw = pd.read_csv(p, dtype=object, encoding="gbk")
    except Exception as err:  # pandas raises many kinds for a broken file
        msg = (f"{p.name}: cannot be read as a household table ({type(err).__name__}: "
               f"{err}). Save it as CSV (UTF-8) or XLSX with a header row.")
        raise InputError(msg, key="hh_table_unreadable", where=p.name) from err
    check_rows(p, len(raw), limits)
    hh_col = _column(raw, HOUSEHOLD_COLUMNS)
    name_col = _column(raw, NAME_COLUMNS)
    id_col = _column(raw, ID_COLUMNS)
    lon_col, lat_col = _column(raw, LON_COLUMNS), _column(raw, LAT_COLUMNS)
    if hh_col is None or (name_col is None and id_col is None and
                          (lon_col is None or lat_col is None)):
        msg = (f"{p.name}: a household table needs a households column (households / 户数) "
               "and a name (name / 名称 / 小区名称), an id (osm_id) or a point (lon, lat / "
               f"经度, 纬度); found columns {', '.join(map(str, raw.columns))}.")
        raise InputError(msg, key="hh_table_columns", where=p.name)
    out = pd.DataFrame({"households": pd.to_numeric(raw[hh_col], errors="coerce")})
    out["name"] = raw[name_col].astype(object) if name_col else None
    if id_col:
        out["osm_id"] = pd.to_numeric(raw[id_col], errors="coerce")
    if lon_col and lat_col:
        out["lon"] = pd.to_numeric(raw[lon_col], errors="coerce")
        out["lat"] = pd.to_numeric(raw[lat_col], errors="coerce")
    # A row is a building or a compound; more households than a whole street office
    # (20 x the per-building maximum) is an error in the table, never cast to an integer.
    most = 20 * limits.max_households_per_building
    value = out["households"].to_numpy(dtype=float)
    with np.errstate(invalid="ignore"):
        implausible = np.isfinite(value) & (value > most)
    bad = ~np.isfinite(value) | (value < 0) | implausible
    out.attrs["rows_without_households"] = int((bad & ~implausible).sum())
    out.attrs["rows_implausible"] = int(implausible.sum())
    return out[~bad].reset_index(drop=True)


def _spread(households: float, weights: np.ndarray) -> np.ndarray:
    w = np.where(weights > 0, weights, 1.0)
    return _largest_remainder(w, round(households))


def _mark(homes: gpd.GeoDataFrame, where: np.ndarray, rule: str, source: str) -> None:
    """Set the rule and source of the homes ``where``; their figure is no longer an estimate."""
    rules = homes["hh_rule"].to_numpy(dtype=object).copy()
    sources = homes["hh_source"].to_numpy(dtype=object).copy()
    rules[where], sources[where] = rule, source
    homes["hh_rule"], homes["hh_source"] = rules, sources
    if "residents" in homes:
        homes.loc[where, "residents"] = 0
    if "group_quarters" in homes:
        homes.loc[where, "group_quarters"] = False


def join_household_table(homes: gpd.GeoDataFrame, table: pd.DataFrame, *,
                         compounds: gpd.GeoDataFrame | None = None,
                         point_tolerance_m: float = 30.0
                         ) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """Give homes the street office's household counts.

    Each row is matched, in order, by ``osm_id``, by its point (the home that contains
    it, else the nearest within ``point_tolerance_m``), or by its name folded with
    :func:`gis.data.households.normalise_name` (full-width, case and spaces ignored): the homes
    of that name, or else the homes inside a residential area (``compounds``) of that
    name. A row matching several homes is spread over them by floor area.

    Parameters
    ----------
    homes
        Homes with ``households``, ``hh_rule``, ``hh_source`` and, where known,
        ``osm_id``, ``name``, ``levels``, in a metric CRS.
    table
        The output of :func:`read_household_table`.
    compounds
        Named residential areas (landuse polygons with ``name``), same CRS.
    point_tolerance_m
        How far a table point may lie from the home it names.

    Returns
    -------
    (geopandas.GeoDataFrame, pandas.DataFrame)
        The homes with matched rows' households (``hh_source`` ``given``, ``hh_rule``
        ``street office table``), and the table with ``matched_homes`` and ``matched_by``
        per row (0 and ``unmatched`` for rows that found no home).
    """
    require_projected(("homes", homes))
    out = homes.copy()
    hh = out["households"].to_numpy(dtype=float).copy()
    taken = np.zeros(len(out), dtype=bool)
    floor = shapely.area(out.geometry.to_numpy()) * np.nan_to_num(
        out["levels"].to_numpy(dtype=float) if "levels" in out else np.ones(len(out)),
        nan=1.0)
    folded_names = (out["name"].map(normalise_name).to_numpy(dtype=object) if "name" in out
                    else np.full(len(out), "", dtype=object))
    ids = out["osm_id"].to_numpy() if "osm_id" in out else None
    points = None
    if {"lon", "lat"} <= set(table.columns):
        pts = gpd.GeoSeries(gpd.points_from_xy(table["lon"], table["lat"]), crs=4326)
        points = pts.to_crs(out.crs).to_numpy()
    tree = STRtree(out.geometry.to_numpy())
    comp_names: np.ndarray | None = None
    comp_geoms: np.ndarray | None = None
    if compounds is not None and len(compounds) and "name" in compounds:
        named = compounds[compounds["name"].notna()]
        comp_names = named["name"].map(normalise_name).to_numpy(dtype=object)
        comp_geoms = named.geometry.to_numpy()
    centroids = shapely.centroid(out.geometry.to_numpy())
    matched_n = np.zeros(len(table), dtype=np.int64)
    matched_by = np.full(len(table), "unmatched", dtype=object)
    for r, row in enumerate(table.itertuples(index=False)):
        found = np.array([], dtype=np.int64)
        how = "unmatched"
        if ids is not None and "osm_id" in table and pd.notna(getattr(row, "osm_id", None)):
            found, how = np.flatnonzero(ids == int(row.osm_id)), "id"
        if not len(found) and points is not None and not shapely.is_empty(points[r]) and (
                np.isfinite(row.lon) and np.isfinite(row.lat)):
            found = tree.query(points[r], predicate="within")
            if not len(found):
                near, dist = tree.query_nearest(points[r], max_distance=point_tolerance_m,
                                                return_distance=True)
                found = near[:1] if len(near) else found
            how = "point"
        name = normalise_name(row.name)
        if not len(found) and name:
            found, how = np.flatnonzero(folded_names == name), "name"
            if not len(found) and comp_names is not None and comp_geoms is not None:
                areas = comp_geoms[comp_names == name]
                if len(areas):
                    inside = shapely.within(centroids[:, None], areas[None, :]).any(axis=1)
                    found, how = np.flatnonzero(inside), "compound name"
        if not len(found):
            continue
        hh[found] = _spread(float(row.households), floor[found])
        taken[found] = True
        matched_n[r], matched_by[r] = len(found), how
    out["households"] = np.round(hh).astype(np.int64)
    _mark(out, taken, TABLE_RULE, SOURCE_GIVEN)
    report = table.copy()
    report["matched_homes"], report["matched_by"] = matched_n, matched_by
    return out, report


def spread_population_raster(homes: gpd.GeoDataFrame, path: str | Path,
                             rules: HouseholdRules) -> tuple[gpd.GeoDataFrame, dict[str, float]]:
    """Spread a population raster's people over the homes of each cell, by floor area.

    Homes whose figure is ``given`` keep it; every other home in a cell with people gets
    its share of the cell's people, and households = people / ``residents_per_household``
    (at least 1 where the share is positive).

    Parameters
    ----------
    homes
        Homes with ``households``, ``hh_source``, ``hh_rule`` and ``levels``, in a metric
        CRS.
    path
        A GeoTIFF of people per cell (WorldPop, GHS-POP), in any CRS it declares.
    rules
        The household rules (``residents_per_household``).

    Returns
    -------
    (geopandas.GeoDataFrame, dict)
        The homes (``hh_source`` ``raster`` where the raster set the figure) and counts:
        ``people_in_raster`` over the homes' extent, ``people_spread`` and
        ``people_without_home`` (cells with people and no home).
    """
    import rasterio
    from rasterio.errors import RasterioIOError
    from rasterio.windows import Window

    p = Path(path)
    require_projected(("homes", homes))
    try:
        src = rasterio.open(p)
    except RasterioIOError as err:
        msg = (f"{p.name}: cannot be read as a population raster ({err}). Give a GeoTIFF "
               "of people per cell, such as WorldPop or GHS-POP.")
        raise InputError(msg, key="raster_unreadable", where=p.name) from err
    with src:
        if src.crs is None:
            msg = (f"{p.name}: the raster declares no coordinate system; save it with one "
                   "(WorldPop and GHS-POP files carry EPSG:4326 / ESRI:54009).")
            raise InputError(msg, key="raster_no_crs", where=p.name)
        cent = gpd.GeoSeries(shapely.centroid(homes.geometry.to_numpy()), crs=homes.crs)
        cent = cent.to_crs(src.crs)
        if not len(cent):
            return homes.copy(), {"people_in_raster": 0.0, "people_spread": 0.0,
                                  "people_without_home": 0.0}
        rows, cols = rasterio.transform.rowcol(src.transform, cent.x.to_numpy(),
                                               cent.y.to_numpy())
        rows, cols = np.atleast_1d(rows).astype(np.int64), np.atleast_1d(cols).astype(np.int64)
        on = (rows >= 0) & (rows < src.height) & (cols >= 0) & (cols < src.width)
        if not on.any():
            band = np.zeros((1, 1))
            rows, cols = np.full(len(rows), -1), np.full(len(cols), -1)
        else:  # read only the window over the homes
            r0, r1 = rows[on].min(), rows[on].max()
            c0, c1 = cols[on].min(), cols[on].max()
            window = Window(int(c0), int(r0), int(c1 - c0 + 1), int(r1 - r0 + 1))
            band = src.read(1, window=window, masked=True).astype(float).filled(0.0)
            band = np.where(np.isfinite(band) & (band > 0), band, 0.0)
            rows, cols = rows - r0, cols - c0
    inside = (rows >= 0) & (rows < band.shape[0]) & (cols >= 0) & (cols < band.shape[1])
    out = homes.copy()
    free = inside & (out["hh_source"].to_numpy(dtype=object) != SOURCE_GIVEN)
    cell = np.where(inside, rows * band.shape[1] + cols, -1)
    floor = shapely.area(out.geometry.to_numpy()) * np.nan_to_num(
        out["levels"].to_numpy(dtype=float), nan=1.0)
    weight = np.where(free, np.maximum(floor, 1.0), 0.0)
    cell_weight = np.bincount(cell[free], weights=weight[free], minlength=band.size)
    people = np.zeros(len(out))
    people[free] = band.ravel()[cell[free]] * weight[free] / cell_weight[cell[free]]
    set_here = free & (people > 0)
    hh = out["households"].to_numpy(dtype=float).copy()
    hh[set_here] = np.maximum(1, np.round(people[set_here] / rules.residents_per_household))
    capped = set_here & (hh > rules.max_households_per_building)  # a corrupt cell value
    hh = np.minimum(hh, rules.max_households_per_building)
    out["households"] = hh.astype(np.int64)
    if "hh_check" in out:
        out.loc[capped, "hh_check"] = CHECK_CAPPED
    _mark(out, set_here, RASTER_RULE, SOURCE_RASTER)
    with_home = np.zeros(band.size, dtype=bool)
    with_home[cell[free]] = True
    counts = {"people_in_raster": float(band.sum()),
              "people_spread": float(people[set_here].sum()),
              "people_without_home": float(band.ravel()[~with_home].sum())}
    return out, counts


def source_mix(homes: gpd.GeoDataFrame) -> pd.DataFrame:
    """Return homes and households by the source of their figure (order of SOURCES).

    Parameters
    ----------
    homes
        Homes with ``hh_source`` and ``households``.

    Returns
    -------
    pandas.DataFrame
        Columns ``source``, ``homes``, ``households``, ``share`` (of all households).
    """
    src = (homes["hh_source"] if "hh_source" in homes
           else pd.Series(SOURCE_FLOORS, index=homes.index))
    grouped = homes.assign(_s=src.to_numpy()).groupby("_s")["households"].agg(["size", "sum"])
    total = float(homes["households"].sum()) or 1.0
    rows = [(s, int(grouped.loc[s, "size"]), int(grouped.loc[s, "sum"]),
             float(grouped.loc[s, "sum"]) / total) for s in SOURCES if s in grouped.index]
    return pd.DataFrame(rows, columns=["source", "homes", "households", "share"])



@dataclass(frozen=True)
class HouseholdCount:
    """Every building classified, with the inputs' reports (see :func:`count_households`)."""

    buildings: gpd.GeoDataFrame
    table_report: pd.DataFrame | None = None
    raster_counts: dict[str, float] | None = None
    #: Table rows refused: ``table_no_figure`` and ``table_implausible``.
    checks: tuple[tuple[str, int], ...] = ()


def count_households(buildings: gpd.GeoDataFrame, rules: HouseholdRules, *,
                     landuse: gpd.GeoDataFrame | None = None,
                     areas: gpd.GeoDataFrame | None = None, estimate_areas: bool = True,
                     table: str | Path | None = None, raster: str | Path | None = None,
                     progress: Callable[[str], None] | None = None) -> HouseholdCount:
    """Classify buildings and count households from every source, strongest last applied.

    Floors (:func:`gis.data.households.estimate_households`), then residential areas without
    buildings (:func:`area_homes`; left out with ``estimate_areas=False``, when the
    buildings are the user's own list of homes), then the street office's ``table``
    (:func:`join_household_table`; a matched building becomes a home), then the
    population ``raster`` over the homes not given (:func:`spread_population_raster`).

    Parameters
    ----------
    buildings
        Buildings (metric CRS) with OSM tags or a ``households`` column.
    rules
        The household rules of the settings.
    landuse
        Landuse polygons (residential or not), or None.
    areas
        Residential areas that may hold homes without mapped buildings, or None.
    estimate_areas
        Give such areas households from their area.
    table
        A street office's household table, or None.
    raster
        A population raster (GeoTIFF), or None.
    progress
        Told what is being done.

    Returns
    -------
    HouseholdCount
        ``buildings`` with ``residential``, ``households``, ``hh_rule``, ``hh_source``,
        ``group_quarters`` and ``residents``; the table's match report and the raster's
        counts when given.
    """
    say = progress or (lambda _m: None)
    out = estimate_households(buildings, rules, landuse=landuse, areas=areas)
    if estimate_areas and landuse is not None:
        estimated = area_homes(landuse, out, rules, areas=areas)
        if len(estimated):
            say(f"estimating households of {estimated['area_id'].nunique()} residential "
                "areas without buildings")
            out = gpd.GeoDataFrame(pd.concat([out, estimated], ignore_index=True),
                                   geometry=out.geometry.name, crs=out.crs)
    table_report = None
    checks: tuple[tuple[str, int], ...] = ()
    if table is not None:
        say(f"joining households from {Path(table).name}")
        named = (landuse[landuse["name"].notna()]
                 if landuse is not None and "name" in landuse else None)
        rows = read_household_table(table)
        checks = (("table_no_figure", int(rows.attrs.get("rows_without_households", 0))),
                  ("table_implausible", int(rows.attrs.get("rows_implausible", 0))))
        out, table_report = join_household_table(out, rows, compounds=named)
        given = out["hh_rule"].to_numpy(dtype=object) == TABLE_RULE
        out["residential"] = out["residential"].to_numpy() | (
            given & (out["households"].to_numpy() > 0))
    raster_counts = None
    if raster is not None:
        say(f"spreading people from {Path(raster).name}")
        home = out["residential"].to_numpy(dtype=bool)
        spread, raster_counts = spread_population_raster(out[home], raster, rules)
        out = out.copy()
        for col in ("households", "hh_rule", "hh_source", "residents", "group_quarters",
                    "hh_check"):
            out.loc[spread.index, col] = spread[col].to_numpy()
    return HouseholdCount(out, table_report, raster_counts, checks)
