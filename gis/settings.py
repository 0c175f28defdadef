"""Load the one settings file (data/settings.toml) into frozen, documented objects.

Constants that are not meant to be edited by a city live here as module constants:

- ``WGS84``: the CRS of everything at a boundary (files, layers, session state), EPSG:4326.
- ``ATOL_M``: tolerance in metres when two distance computations are compared (1e-6 m).
- ``SETTINGS_PATH``: the default settings file, ``data/settings.toml``.

Everything a city may want to change (thresholds, speeds, household rules, categories) is
in the settings file and reaches the analyses through a :class:`Settings` object, which
:func:`load_settings` builds once and the caller passes in.
"""

from __future__ import annotations

import json
import math
import tomllib
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

from gis._errors import GisError, SettingsError

WGS84 = "EPSG:4326"
ATOL_M = 1e-6
#: The project's folder, and its data folder (settings, catalogues, word lists).
PROJECT_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = PROJECT_DIR / "data"
SETTINGS_PATH = DATA_DIR / "settings.toml"


@dataclass(frozen=True)
class Category:
    """One service category of the life circle.

    Attributes
    ----------
    id
        Stable identifier used in files and column names, e.g. ``"health"``.
    name_zh, name_en
        Display names.
    merchant
        True when its facilities are businesses that can sign a franchise agreement.
    threshold_min
        Walk threshold in minutes for this category.
    osm_filters
        OpenStreetMap tag filters; a feature matches when it matches any filter, and a
        filter when every key matches one of its values (``"*"``: any value).
    """

    id: str
    name_zh: str
    name_en: str
    merchant: bool
    threshold_min: float
    osm_filters: tuple[dict[str, tuple[str, ...]], ...]

    def name(self, lang: str = "zh") -> str:
        """Return the display name in ``lang`` (``"zh"`` or ``"en"``).

        Parameters
        ----------
        lang
            ``zh`` or ``en``.

        Returns
        -------
        str
            The category's name in that language.
        """
        return self.name_zh if lang == "zh" else self.name_en


@dataclass(frozen=True)
class HouseholdRules:
    """Parameters of the household estimate; see gis.data.households for the rule."""

    floor_area_per_household_m2: float
    default_levels: int
    storey_height_m: float
    residential_types: frozenset[str]
    generic_types: frozenset[str]
    non_residential_tags: tuple[str, ...]
    residential_landuse: frozenset[str]
    non_residential_landuse: frozenset[str]
    min_generic_footprint_m2: float
    non_residential_areas: tuple[tuple[str, tuple[str, ...]], ...] = ()
    group_quarters_types: frozenset[str] = frozenset({"dormitory"})
    floor_area_per_resident_m2: float = 10.0
    residents_per_household: float = 2.62
    area_density_per_ha: tuple[tuple[str, float], ...] = ()
    area_cell_m: float = 100.0
    min_estimated_area_m2: float = 2000.0
    #: Plausibility maxima ([limits] of the settings file): a larger figure is an error.
    max_levels: int = 200
    max_households_per_building: int = 5000


@dataclass(frozen=True)
class GridRules:
    """Grid and community sizes and how street blocks are cut; see data/settings.toml."""

    target_households: int = 300
    min_households: int = 200
    max_households: int = 500
    community_target_households: int = 3000
    block_highways: frozenset[str] = frozenset()
    min_block_m2: float = 200.0
    subdivide_block_m2: float = 100_000.0
    compactness_weight: float = 0.05
    code_prefix: str = "000000001"

    @property
    def sizes(self) -> tuple[int, int, int, int]:
        """Return the household sizes a user sets: grid target, min, max, community target.

        Returns
        -------
        tuple of int
            ``(target, min, max, community target)`` households; a small, plain session
            value (see :meth:`with_sizes`).
        """
        return (self.target_households, self.min_households, self.max_households,
                self.community_target_households)

    def with_sizes(self, sizes: Sequence[int]) -> GridRules:
        """Return these rules with the household sizes of :attr:`sizes` replaced.

        Parameters
        ----------
        sizes
            ``(target, min, max, community target)`` households.

        Returns
        -------
        GridRules
            A new frozen instance; every other rule kept.
        """
        target, low, high, community = (int(v) for v in sizes)
        return replace(self, target_households=target, min_households=low,
                       max_households=high, community_target_households=community)

    def to_json(self) -> str:
        """Return the rules as JSON (the project file's ``rules``), read by :meth:`from_json`.

        Returns
        -------
        str
            Every field; ``block_highways`` as a sorted list.
        """
        raw = asdict(self)
        raw["block_highways"] = sorted(self.block_highways)
        return json.dumps(raw, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> GridRules:
        """Return the rules written by :meth:`to_json`.

        Parameters
        ----------
        text
            JSON of the fields; unknown fields are an error, missing ones take defaults.

        Returns
        -------
        GridRules
            The rules.
        """
        raw = json.loads(text)
        raw["block_highways"] = frozenset(raw.get("block_highways", ()))
        return cls(**raw)


@dataclass(frozen=True)
class Limits:
    """What an input may become once read; see ``[limits]`` in data/settings.toml."""

    max_expanded_mb: float = 2000.0
    max_ratio: float = 200.0
    max_features: int = 2_000_000
    max_vertices: int = 30_000_000
    max_xml_depth: int = 16
    max_xml_elements: int = 20_000_000
    max_households_per_building: int = 5000
    max_levels: int = 200


@dataclass(frozen=True)
class Settings:
    """Every configurable value, as read from the settings file."""

    threshold_min: float
    speeds_m_per_min: dict[str, float]
    default_profile: str
    presets_m: dict[str, float]
    snap_max_m: float
    excluded_highways: frozenset[str]
    circle_buffer_m: float
    households: HouseholdRules
    categories: tuple[Category, ...]
    min_piece_m: float = 2000.0
    gap_link_m: float = 200.0
    gap_area_buffer_m: float = 30.0
    candidate_spacing_m: float = 100.0
    solver_time_limit_s: float = 30.0
    grids: GridRules = field(default_factory=GridRules)
    tile_url: str = ""
    tile_attribution: str = ""
    tile_name: str = "Custom tiles"
    max_upload_mb: float = 300.0
    limits: Limits = field(default_factory=Limits)
    source_path: str = field(default="")

    def category(self, category_id: str) -> Category:
        """Return the category ``category_id``, or raise with the known ids.

        Parameters
        ----------
        category_id
            A catalogue id.

        Returns
        -------
        Category
            The category.
        """
        for cat in self.categories:
            if cat.id == category_id:
                return cat
        known = ", ".join(c.id for c in self.categories)
        msg = f"Unknown category `{category_id}`; known categories are: {known}."
        raise SettingsError(msg)

    @property
    def category_ids(self) -> tuple[str, ...]:
        """Return the ids of all categories, in catalogue order."""
        return tuple(c.id for c in self.categories)

    def speed(self, profile: str | None = None) -> float:
        """Return the walking speed in m/min of ``profile`` (default profile if None).

        Parameters
        ----------
        profile
            A walking profile (None: the default).

        Returns
        -------
        float
            Metres per minute.
        """
        name = profile or self.default_profile
        if name not in self.speeds_m_per_min:
            known = ", ".join(self.speeds_m_per_min)
            msg = f"Unknown walking profile `{name}`; known profiles are: {known}."
            raise SettingsError(msg)
        return self.speeds_m_per_min[name]


def _densities(table: object) -> tuple[tuple[str, float], ...]:
    """Read ``[households.area_density_per_ha]``: "key=value" = households per hectare."""
    where = "households.area_density_per_ha"
    if not isinstance(table, dict):
        msg = f"Settings file: `{where}` should be a table of \"key=value\" = number."
        raise SettingsError(msg)
    out = []
    for spec, value in table.items():
        if "=" not in spec or isinstance(value, bool) or not isinstance(value, (int, float)) or (
                not math.isfinite(value) or value < 0):
            msg = (f"Settings file: `{where}` entry {spec!r} = {value!r} should read "
                   "\"landuse=residential\" = households per hectare (a number >= 0).")
            raise SettingsError(msg)
        out.append((str(spec), float(value)))
    return tuple(out)


def _get(table: dict[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    if key not in table:
        msg = f"Settings file: `{where}.{key}` is missing; add it (see data/settings.toml)."
        raise SettingsError(msg)
    value = table[key]
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        msg = (
            f"Settings file: `{where}.{key}` should be "
            f"{' or '.join(k.__name__ for k in kinds)}, "
            f"found {value!r}."
        )
        raise SettingsError(msg)
    return value


def _parse_category(raw: dict[str, Any], i: int) -> Category:
    where = f"categories[{i}]"
    filters = []
    for j, flt in enumerate(_get(raw, "osm", list, where)):
        if not isinstance(flt, dict) or not flt:
            msg = f"Settings file: `{where}.osm[{j}]` should be a table of key = [values]."
            raise SettingsError(msg)
        filters.append({k: tuple(str(v) for v in (vals if isinstance(vals, list) else [vals]))
                        for k, vals in flt.items()})
    threshold = float(_get(raw, "threshold_min", (int, float), where))
    if threshold <= 0:
        msg = f"Settings file: `{where}.threshold_min` must be positive, found {threshold}."
        raise SettingsError(msg)
    return Category(
        id=_get(raw, "id", str, where),
        name_zh=_get(raw, "name_zh", str, where),
        name_en=_get(raw, "name_en", str, where),
        merchant=bool(raw.get("merchant", False)),
        threshold_min=threshold,
        osm_filters=tuple(filters),
    )


def parse_settings(raw: dict[str, Any], source_path: str = "") -> Settings:
    """Build :class:`Settings` from a parsed TOML document, checking every key.

    Parameters
    ----------
    raw
        The parsed TOML.
    source_path
        The file, for messages.

    Returns
    -------
    Settings
        Frozen, checked settings.
    """
    walk = _get(raw, "walk", dict, "")
    speeds = {str(k): float(v) for k, v in _get(walk, "speeds_m_per_min", dict, "walk").items()}
    if not speeds or any(v <= 0 for v in speeds.values()):
        msg = "Settings file: `walk.speeds_m_per_min` needs at least one positive speed."
        raise SettingsError(msg)
    default_profile = _get(walk, "default_profile", str, "walk")
    if default_profile not in speeds:
        msg = (f"Settings file: `walk.default_profile` is {default_profile!r}, which is not "
               f"one of the speeds: {', '.join(speeds)}.")
        raise SettingsError(msg)
    net = _get(raw, "network", dict, "")
    gaps = _get(raw, "gaps", dict, "")
    siting = _get(raw, "siting", dict, "")
    gr = _get(raw, "grids", dict, "")
    mp = raw.get("map", {})
    if mp.get("tile_url") and not mp.get("tile_attribution"):
        msg = ("Settings file: `map.tile_url` is set but `map.tile_attribution` is empty; "
               "name the tile provider (its licence requires it).")
        raise SettingsError(msg)
    hh = _get(raw, "households", dict, "")
    cats_raw = _get(raw, "categories", list, "")
    categories = tuple(_parse_category(c, i) for i, c in enumerate(cats_raw))
    ids = [c.id for c in categories]
    if len(set(ids)) != len(ids):
        msg = f"Settings file: category ids must be unique, found {ids}."
        raise SettingsError(msg)
    households = HouseholdRules(
        floor_area_per_household_m2=float(
            _get(hh, "floor_area_per_household_m2", (int, float), "households")),
        default_levels=int(_get(hh, "default_levels", int, "households")),
        storey_height_m=float(_get(hh, "storey_height_m", (int, float), "households")),
        residential_types=frozenset(_get(hh, "residential_types", list, "households")),
        generic_types=frozenset(_get(hh, "generic_types", list, "households")),
        non_residential_tags=tuple(_get(hh, "non_residential_tags", list, "households")),
        residential_landuse=frozenset(_get(hh, "residential_landuse", list, "households")),
        non_residential_landuse=frozenset(
            _get(hh, "non_residential_landuse", list, "households")),
        min_generic_footprint_m2=float(
            _get(hh, "min_generic_footprint_m2", (int, float), "households")),
        non_residential_areas=tuple((str(k), tuple(str(v) for v in vals)) for k, vals in
                                    hh.get("non_residential_areas", {}).items()),
        group_quarters_types=frozenset(str(t) for t in hh.get("group_quarters_types",
                                                              ["dormitory"])),
        floor_area_per_resident_m2=float(
            _get(hh, "floor_area_per_resident_m2", (int, float), "households")
            if "floor_area_per_resident_m2" in hh else 10.0),
        residents_per_household=float(
            _get(hh, "residents_per_household", (int, float), "households")
            if "residents_per_household" in hh else 2.62),
        area_density_per_ha=_densities(hh.get("area_density_per_ha", {})),
        area_cell_m=float(_get(hh, "area_cell_m", (int, float), "households")
                          if "area_cell_m" in hh else 100.0),
        min_estimated_area_m2=float(_get(hh, "min_estimated_area_m2", (int, float), "households")
                                    if "min_estimated_area_m2" in hh else 2000.0),
    )
    limits = _limits(raw.get("limits", {}))
    households = replace(households, max_levels=limits.max_levels,
                         max_households_per_building=limits.max_households_per_building)
    for key in ("floor_area_per_household_m2", "floor_area_per_resident_m2",
                "residents_per_household", "area_cell_m"):
        value = getattr(households, key)
        if not (math.isfinite(value) and value > 0):
            msg = f"Settings file: `households.{key}` must be a positive number."
            raise SettingsError(msg)
    return Settings(
        threshold_min=float(_get(walk, "threshold_min", (int, float), "walk")),
        speeds_m_per_min=speeds,
        default_profile=default_profile,
        presets_m={str(k): float(v) for k, v in walk.get("presets_m", {}).items()},
        snap_max_m=float(_get(net, "snap_max_m", (int, float), "network")),
        excluded_highways=frozenset(net.get("excluded_highways", [])),
        min_piece_m=float(net.get("min_piece_m", 2000.0)),
        circle_buffer_m=float(_get(_get(raw, "circles", dict, ""), "buffer_m",
                                   (int, float), "circles")),
        households=households,
        categories=categories,
        gap_link_m=float(_get(gaps, "link_m", (int, float), "gaps")),
        gap_area_buffer_m=float(_get(gaps, "area_buffer_m", (int, float), "gaps")),
        candidate_spacing_m=float(_get(siting, "candidate_spacing_m", (int, float), "siting")),
        solver_time_limit_s=float(_get(siting, "time_limit_s", (int, float), "siting")),
        grids=GridRules(
            target_households=int(_get(gr, "target_households", int, "grids")),
            min_households=int(_get(gr, "min_households", int, "grids")),
            max_households=int(_get(gr, "max_households", int, "grids")),
            community_target_households=int(
                _get(gr, "community_target_households", int, "grids")),
            block_highways=frozenset(_get(gr, "block_highways", list, "grids")),
            min_block_m2=float(_get(gr, "min_block_m2", (int, float), "grids")),
            subdivide_block_m2=float(gr.get("subdivide_block_m2", 100_000.0)),
            compactness_weight=float(_get(gr, "compactness_weight", (int, float), "grids")),
            code_prefix=str(gr.get("code_prefix", "000000001")),
        ),
        tile_url=str(mp.get("tile_url", "")),
        tile_attribution=str(mp.get("tile_attribution", "")),
        tile_name=str(mp.get("tile_name", "Custom tiles")),
        max_upload_mb=float(mp.get("max_upload_mb", 300)),
        limits=limits,
        source_path=source_path,
    )


def _limits(raw: object) -> Limits:
    """Return the ``[limits]`` section; every value must be a positive number."""
    if not isinstance(raw, dict):
        msg = "Settings file: `limits` must be a table of numbers."
        raise SettingsError(msg)
    values: dict[str, float | int] = {}
    for f in fields(Limits):
        if f.name not in raw:
            continue
        value = raw[f.name]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
                math.isfinite(value) and value > 0):
            msg = f"Settings file: `limits.{f.name}` must be a positive number."
            raise SettingsError(msg)
        values[f.name] = float(value) if f.type == "float" else int(value)
    unknown = sorted(set(raw) - {f.name for f in fields(Limits)})
    if unknown:
        msg = (f"Settings file: unknown key(s) {', '.join(unknown)} in `limits`; known: "
               + ", ".join(f.name for f in fields(Limits)) + ".")
        raise SettingsError(msg)
    return Limits(**values)  # type: ignore[arg-type]


@lru_cache(maxsize=8)
def load_settings(path: str | Path | None = None) -> Settings:
    """Read and check the settings file.

    Parameters
    ----------
    path
        A TOML file; ``None`` reads ``data/settings.toml`` of the project.

    Returns
    -------
    Settings
        Frozen settings; pass them to the analyses.
    """
    p = Path(path) if path is not None else SETTINGS_PATH
    raw = read_toml(p, "the settings file", fix="restore data/settings.toml from the project")
    return parse_settings(raw, str(p))


def read_toml(path: Path, what: str, *, fix: str, key: str | None = None,
              error: type[GisError] = SettingsError) -> dict[str, Any]:
    """Read one of the project's TOML data files, or say in one message what is wrong.

    Parameters
    ----------
    path
        The file.
    what
        What the file is, for the message ("the standards file").
    fix
        What the user should do when it cannot be read.
    key
        The message's translation key (``layers.i18n``), if it has one.
    error
        The error class raised (:class:`SettingsError` unless the file is the user's).

    Returns
    -------
    dict
        The parsed TOML.

    Raises
    ------
    GisError
        ``error``, naming the file, the problem (unreadable, or not valid TOML at a line)
        and the fix.

    Examples
    --------
    >>> read_toml(DATA_DIR / "standards.toml", "the standards file",
    ...           fix="restore it")["levels"][0]["id"]  # doctest: +SKIP
    '5min'
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        problem = getattr(err, "strerror", None) or str(err)
        msg = f"{path.name}: {what} cannot be read ({problem}); {fix}."
        raise error(msg, key=key, where=path.name) from err
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        msg = f"{path.name}: {what} is not valid TOML ({err}); fix the line it names, or {fix}."
        raise error(msg, key=key, where=path.name) from err
