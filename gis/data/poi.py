"""Import merchant and facility points from Amap (高德) and Baidu (百度) POI exports.

Accepted: CSV or JSON as those services' searches produce them: a name, a type code or
type text, and a location as ``"lng,lat"`` (Amap), ``{"lat": .., "lng": ..}`` (Baidu) or
``lng`` / ``lat`` columns. Amap and Tencent coordinates are GCJ-02, Baidu's BD-09; both are
converted to WGS-84. Types map to the catalogue through data/poi_mapping.toml. Rows that
cannot be used (no coordinates, coordinates outside China, a type no rule maps) are
counted in a report, never dropped silently.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd

from gis._errors import InputError, guard_input
from gis.crs import bd09_to_wgs84, gcj02_to_wgs84
from gis.limits import check_input, check_rows
from gis.settings import DATA_DIR, WGS84, Settings, load_settings, read_toml

MAPPING_PATH = DATA_DIR / "poi_mapping.toml"
Provider = Literal["amap", "baidu", "auto"]


@dataclass(frozen=True)
class PoiImport:
    """Facilities read from a POI export, and what could not be used.

    Attributes
    ----------
    facilities
        Points in WGS-84 with the standard facility columns (gis.data.facilities).
    report
        One row per problem kind and value: ``problem`` (``no coordinates``,
        ``outside China``, ``type not mapped``), ``value`` and ``rows`` (count), plus the
        first row numbers in ``examples``.
    provider
        ``amap`` or ``baidu``: which coordinate system was converted.
    """

    facilities: gpd.GeoDataFrame
    report: pd.DataFrame
    provider: str


def load_mapping(path: str | Path | None, settings: Settings) -> list[dict[str, Any]]:
    """Read the POI type mapping and check that every category exists.

    Parameters
    ----------
    path
        A mapping TOML file (None: data/poi_mapping.toml).
    settings
        Settings with the catalogue.

    Returns
    -------
    list of dict
        The rules, in order: ``category`` and the codes or words that match.
    """
    p = Path(path) if path is not None else MAPPING_PATH
    raw = read_toml(p, "the POI type mapping", fix="fix or restore it", key="bad_mapping",
                    error=InputError)
    rules: list[dict[str, Any]] = raw.get("rules", [])
    unknown = [r.get("category") for r in rules if r.get("category") not in
               settings.category_ids]
    if unknown:
        msg = (f"{p.name}: rules name unknown categories {unknown}; use "
               f"{', '.join(settings.category_ids)}.")
        raise InputError(msg, key="mapping_unknown_category", where=p.name,
                         names=", ".join(map(str, unknown)))
    return rules


def _records(path: Path) -> tuple[pd.DataFrame, str]:
    """Return the rows of a CSV or JSON export and a provider guess."""
    check_input(path, load_settings().limits)
    if path.suffix.lower() == ".csv":
        for enc in ("utf-8-sig", "gb18030"):
            try:
                frame = pd.read_csv(path, encoding=enc, dtype=str)
                break
            except UnicodeDecodeError:
                continue
        else:
            msg = f"{path.name}: the CSV is neither UTF-8 nor GB18030 text; save it as UTF-8."
            raise InputError(msg, key="csv_encoding", where=path.name)
        check_rows(path, len(frame), load_settings().limits)
        cols = {c.lower() for c in frame.columns}
        guess = "baidu" if {"detail_info", "tag", "uid"} & cols else "amap"
        return frame, guess
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        msg = f"{path.name}: not valid JSON ({err}); export the search result again."
        raise InputError(msg, key="bad_json", where=path.name) from err
    if isinstance(data, dict) and "pois" in data:
        return pd.DataFrame(data["pois"]), "amap"
    if isinstance(data, dict) and "results" in data:
        return pd.DataFrame(data["results"]), "baidu"
    if isinstance(data, list):
        frame = pd.DataFrame(data)
        guess = "baidu" if "detail_info" in frame or (
            "location" in frame and frame["location"].map(lambda v: isinstance(v, dict)).any()
        ) else "amap"
        return frame, guess
    msg = (f"{path.name}: not an Amap or Baidu POI export (no 'pois' or 'results' list); "
           "export the search result again.")
    raise InputError(msg, key="not_poi_export", where=path.name)


def _lnglat(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Return longitude and latitude per row (NaN where missing)."""
    n = len(frame)
    lng = np.full(n, np.nan)
    lat = np.full(n, np.nan)
    lower = {c.lower(): c for c in frame.columns}
    for lo, la in (("lng", "lat"), ("lon", "lat"), ("longitude", "latitude"), ("经度", "纬度")):
        if lo in lower and la in lower:
            lng = pd.to_numeric(frame[lower[lo]], errors="coerce").to_numpy(dtype=float)
            lat = pd.to_numeric(frame[lower[la]], errors="coerce").to_numpy(dtype=float)
            break
    if "location" in lower:
        for i, v in enumerate(frame[lower["location"]]):
            if isinstance(v, str) and "," in v:
                parts = v.split(",")
                try:
                    lng[i], lat[i] = float(parts[0]), float(parts[1])
                except ValueError:
                    pass
            elif isinstance(v, dict):
                lng[i] = float(v.get("lng", np.nan))
                lat[i] = float(v.get("lat", np.nan))
    return lng, lat


def _types(frame: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """Return the type code and type text of every row ('' where absent)."""
    lower = {c.lower(): c for c in frame.columns}
    code = frame[lower["typecode"]].astype(str) if "typecode" in lower else pd.Series(
        "", index=frame.index)
    text = pd.Series("", index=frame.index)
    for key in ("type", "tag", "类型", "分类"):
        if key in lower:
            text = text + ";" + frame[lower[key]].fillna("").astype(str)
    if "detail_info" in lower:
        text = text + ";" + frame[lower["detail_info"]].map(
            lambda d: d.get("tag", "") if isinstance(d, dict) else "")
    return code.fillna(""), text


def classify(code: pd.Series, text: pd.Series, rules: list[dict[str, Any]]) -> pd.Series:
    """Return the category of each row by the first matching rule (None: unmapped).

    Parameters
    ----------
    code
        The provider's type codes.
    text
        The provider's type names.
    rules
        Rules of :func:`load_mapping`.

    Returns
    -------
    pandas.Series
        Category ids (None: unmapped), indexed like ``code``.
    """
    out = pd.Series([None] * len(code), index=code.index, dtype=object)
    for rule in rules:
        hit = pd.Series(False, index=code.index)
        for prefix in rule.get("typecodes", []):
            hit |= code.str.startswith(str(prefix))
        for word in rule.get("keywords", []):
            hit |= text.str.contains(str(word), regex=False)
        out = out.where(out.notna() | ~hit, rule["category"])
    return out


@guard_input("an Amap or Baidu POI export (CSV or JSON)", "export the search result again")
def read_poi_export(path: str | Path, settings: Settings, *, provider: Provider = "auto",
                    mapping: str | Path | None = None) -> PoiImport:
    """Read an Amap or Baidu POI export as facilities in WGS-84.

    Parameters
    ----------
    path
        A ``.csv`` or ``.json`` export.
    settings
        The catalogue.
    provider
        ``amap`` (GCJ-02), ``baidu`` (BD-09), or ``auto`` to tell from the file.
    mapping
        Another type mapping file (default: data/poi_mapping.toml).

    Returns
    -------
    PoiImport
        The facilities in WGS-84, and a report of what was mapped, left out and why.
    """
    path = Path(path)
    if not path.is_file() or path.stat().st_size == 0:
        msg = f"{path.name}: the file is missing or empty; export the POI search again."
        raise InputError(msg, key="file_empty", where=path.name)
    rules = load_mapping(mapping, settings)
    frame, guess = _records(path)
    which = guess if provider == "auto" else provider
    lng, lat = _lnglat(frame)
    code, text = _types(frame)
    category = classify(code, text, rules)
    rows = np.arange(len(frame)) + 1
    problems = []
    missing = np.isnan(lng) | np.isnan(lat)
    outside = ~missing & ~((lng >= 72) & (lng <= 138) & (lat >= 0.8) & (lat <= 56))
    unmapped = ~missing & ~outside & category.isna().to_numpy()
    for name, mask, values in (("no coordinates", missing, None),
                               ("outside China (or lng/lat swapped)", outside, None),
                               ("type not mapped", unmapped, text.str.strip(";"))):
        if not mask.any():
            continue
        if values is None:
            problems.append({"problem": name, "value": "", "rows": int(mask.sum()),
                             "examples": ", ".join(map(str, rows[mask][:5]))})
        else:
            for val, idx in pd.Series(rows[mask], index=values[mask].to_numpy()).groupby(
                    level=0):
                problems.append({"problem": name, "value": str(val) or "(no type)",
                                 "rows": int(idx.size),
                                 "examples": ", ".join(map(str, idx.to_numpy()[:5]))})
    report = pd.DataFrame(problems, columns=["problem", "value", "rows", "examples"])
    ok = ~missing & ~outside & category.notna().to_numpy()
    if not ok.any():
        msg = (f"{path.name}: none of its {len(frame)} rows could be used: "
               + "; ".join(f"{r.problem} {r.value} ({r.rows} rows)".replace("  ", " ")
                           for r in report.itertuples())
               + ". Add the types to data/poi_mapping.toml or fix the coordinates.")
        raise InputError(msg, key="poi_nothing_usable", where=path.name, n=len(frame))
    convert = bd09_to_wgs84 if which == "baidu" else gcj02_to_wgs84
    wlng, wlat = convert(lng[ok], lat[ok])
    names = frame[{c.lower(): c for c in frame.columns}.get("name", frame.columns[0])]
    merchant = {c.id: c.merchant for c in settings.categories}
    cats = category.to_numpy()[ok]
    facilities = gpd.GeoDataFrame({
        "category": cats, "name": names.to_numpy()[ok], "franchise": False,
        "merchant": [merchant[c] for c in cats], "source": path.name, "osm_id": None,
        "poi_row": rows[ok]}, geometry=gpd.points_from_xy(wlng, wlat), crs=WGS84)
    return PoiImport(facilities, report, which)
