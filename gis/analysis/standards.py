"""Check communities and grids against the life-circle standards of data/standards.toml.

For every zone (community or grid) and rule: the share of the zone's households that
reach a facility of the rule's category within its level's distance (read from the
coverage result's distances, no new search), and pass when that share is at least
``pass_share``. The attainment rate (配套达标率) of a zone is the share of required types
present within distance for its households: the mean over rules of those shares. The
shortfall list (补短板清单) lists failing rules by households not reached.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from gis._errors import InputError
from gis.analysis.coverage import CoverageResult
from gis.crs import require_projected
from gis.settings import DATA_DIR, Settings, read_toml
from gis.zones import WHOLE_AREA, zone_of_homes

STANDARDS_PATH = DATA_DIR / "standards.toml"


@dataclass(frozen=True)
class Standards:
    """Levels, rules and seed rules read from a standards file."""

    pass_share: float
    levels: pd.DataFrame
    rules: pd.DataFrame
    seed: dict[str, object]
    source_path: str


def load_standards(path: str | Path | None, settings: Settings) -> Standards:
    """Read and check a standards file: every rule's level and category must exist.

    Parameters
    ----------
    path
        A standards TOML file (None: data/standards.toml).
    settings
        Settings: the categories the rules may name.

    Returns
    -------
    Standards
        Levels, rules and seed checks, checked.
    """
    p = Path(path) if path is not None else STANDARDS_PATH
    raw = read_toml(p, "the standards file", fix="restore data/standards.toml",
                    key="bad_standards", error=InputError)
    levels = pd.DataFrame(raw.get("levels", []))
    rules = pd.DataFrame(raw.get("rules", []))
    problems = []
    for col in ("id", "distance_m", "name_zh", "name_en"):
        if col not in levels:
            problems.append(f"levels need `{col}`")
    for col in ("id", "level", "category", "type_zh", "type_en", "source"):
        if col not in rules:
            problems.append(f"rules need `{col}`")
    if not problems:
        for i, r in rules.iterrows():
            if r["level"] not in set(levels["id"]):
                problems.append(f"rule {i + 1} ({r['id']}) names the unknown level "
                                f"`{r['level']}`")
            if r["category"] not in settings.category_ids:
                problems.append(f"rule {i + 1} ({r['id']}) names the unknown category "
                                f"`{r['category']}` (known: {', '.join(settings.category_ids)})")
    share = raw.get("pass_share", 0.9)
    if not isinstance(share, (int, float)) or not 0 < share <= 1:
        problems.append(f"pass_share must be a number in (0, 1], found {share!r}")
    if problems:
        msg = f"{p.name}: " + "; ".join(problems) + "."
        raise InputError(msg, key="standards_problems", where=p.name,
                         problems="; ".join(problems))
    return Standards(float(share), levels, rules, dict(raw.get("seed", {})), str(p))


@dataclass(frozen=True)
class StandardsReport:
    """The checklist, attainment rates, shortfall list and seed checks per zone."""

    checklist: pd.DataFrame
    attainment: pd.DataFrame
    shortfall: pd.DataFrame
    seed: pd.DataFrame

    def sheets(self) -> dict[str, pd.DataFrame]:
        """Return the tables by sheet name, for an XLSX export.

        Returns
        -------
        dict
            Sheet name to table: checklist, attainment, shortfall and seed checks.
        """
        return {"attainment": self.attainment, "checklist": self.checklist,
                "shortfall": self.shortfall, "seed_rules": self.seed}


def check_standards(result: CoverageResult, standards: Standards,
                    zones: dict[str, gpd.GeoDataFrame] | None = None) -> StandardsReport:
    """Check every zone against every rule.

    Parameters
    ----------
    result
        A coverage result that analysed every category the rules name (distances are
        read from it; thresholds do not matter).
    standards
        The standards.
    zones
        ``{"community": gdf, "grid": gdf}`` with a ``name`` column, in the result's CRS.
        Without zones the whole study area is one zone.

    Returns
    -------
    StandardsReport
        The checklist (zone x rule), the attainment per zone, the shortfall list (rules not
        passed, most households not reached first) and the seed checks.

    Examples
    --------
    >>> report = check_standards(result, load_standards(None, settings),
    ...                          {"community": communities})  # doctest: +SKIP
    >>> report.shortfall.head()  # doctest: +SKIP
    """
    missing = sorted(set(standards.rules["category"]) - set(result.categories))
    if missing:
        msg = (f"The coverage run did not analyse {', '.join(missing)}, which the standards "
               "need; run coverage for every category.")
        raise InputError(msg, key="standards_need_categories", names=", ".join(missing))
    homes = result.homes[result.homes["attached"]]
    hh = homes["households"].to_numpy(dtype=float)
    assignments: list[tuple[str, str, np.ndarray]] = []
    if not zones:
        assignments.append(("area", "", np.full(len(homes), WHOLE_AREA, dtype=object)))
    for kind, gdf in (zones or {}).items():
        require_projected(("homes", homes), (kind, gdf))
        assignments.append((kind, "", zone_of_homes(homes, gdf).to_numpy()))
    levels = standards.levels.set_index("id")
    rows = []
    for kind, _unused, zone_of in assignments:
        for zone in pd.unique(zone_of[zone_of != ""]):
            inside = zone_of == zone
            total = hh[inside].sum()
            for _, rule in standards.rules.iterrows():
                level = levels.loc[rule["level"]]
                dist = homes[f"dist_m_{rule['category']}"].to_numpy(dtype=float)[inside]
                reached = hh[inside][np.nan_to_num(dist, nan=np.inf) <= level["distance_m"]]
                share = reached.sum() / total if total else np.nan
                rows.append({
                    "zone_kind": kind, "zone": zone, "level": rule["level"],
                    "level_zh": level["name_zh"], "level_en": level["name_en"],
                    "rule": rule["id"], "type_zh": rule["type_zh"], "type_en": rule["type_en"],
                    "category": rule["category"], "distance_m": float(level["distance_m"]),
                    "households": int(total), "households_reached": int(reached.sum()),
                    "share": share, "passed": bool(share >= standards.pass_share)
                    if total else False, "source": rule["source"]})
    checklist = pd.DataFrame(rows)
    attainment = (checklist.groupby(["zone_kind", "zone"], sort=False)
                  .agg(households=("households", "first"), rules=("rule", "size"),
                       passed=("passed", "sum"), attainment_rate=("share", "mean"))
                  .reset_index())
    short = checklist[~checklist["passed"]].copy()
    short["households_not_reached"] = short["households"] - short["households_reached"]
    shortfall = short.sort_values("households_not_reached", ascending=False,
                                  ignore_index=True)[
        ["zone_kind", "zone", "level_zh", "level_en", "type_zh", "type_en", "category",
         "distance_m", "households_not_reached", "share", "source"]]
    seed = _seed_checks(result, standards, attainment, zones or {})
    return StandardsReport(checklist, attainment, shortfall, seed)


def _seed_checks(result: CoverageResult, standards: Standards, attainment: pd.DataFrame,
                 zones: dict[str, gpd.GeoDataFrame]) -> pd.DataFrame:
    """Return the funding each zone is due and its community office check.

    The office check adds the ``floor_area_m2`` of the community service facilities in
    the zone (from the user's facilities layer); without floor areas it is "unknown".
    """
    seed = standards.seed
    per_1000 = float(str(seed.get("funding_yuan_per_1000_households", 0)))
    need = float(str(seed.get("office_area_m2", 0)))
    fac = result.facilities[result.facilities["category"] == "community_service"]
    known = "floor_area_m2" in fac and fac["floor_area_m2"].notna().any()
    area_by_zone: dict[tuple[str, str], float] = {}
    if known:
        if not zones:
            area_by_zone[("area", WHOLE_AREA)] = float(fac["floor_area_m2"].sum())
        for kind, gdf in zones.items():
            joined = gpd.sjoin(fac[["floor_area_m2", fac.geometry.name]],
                               gdf[["name", gdf.geometry.name]], predicate="within")
            for name, total in joined.groupby("name")["floor_area_m2"].sum().items():
                area_by_zone[(kind, name)] = float(total)
    rows = []
    for _, z in attainment.iterrows():
        area = area_by_zone.get((z["zone_kind"], z["zone"]), 0.0) if known else np.nan
        rows.append({"zone_kind": z["zone_kind"], "zone": z["zone"],
                     "households": z["households"],
                     "funding_yuan_per_year": round(z["households"] / 1000 * per_1000),
                     "office_area_m2": area, "office_area_required_m2": need,
                     "office_area_check": ("unknown" if not known
                                           else "pass" if area >= need else "fail"),
                     "source": seed.get("source", "")})
    return pd.DataFrame(rows)
