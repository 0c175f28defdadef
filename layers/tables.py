"""Tables for people: translated names and columns, shares as percentages.

One function per table, used by the app's views and the printed report alike.
"""

from __future__ import annotations

import pandas as pd

from gis.settings import Settings
from layers.i18n import percent, t, zone_label


def summary_table(summary: pd.DataFrame, settings: Settings, lang: str) -> pd.DataFrame:
    """Return the area summary with translated names and columns.

    Parameters
    ----------
    summary
        :func:`gis.analysis.coverage.area_summary` of a result.
    settings
        Settings: the categories' names.
    lang
        ``zh`` or ``en``.

    Returns
    -------
    pandas.DataFrame
        Category, threshold, facilities, households, covered, share and left out.
    """
    table = summary.copy()
    table["category"] = [t("full_circle", lang) if c == "full_circle"
                         else settings.category(c).name(lang) for c in table["category"]]
    table["share_covered"] = [percent(v, lang) for v in table["share_covered"]]
    # The full circle has no threshold of its own: a dash, not an empty "None" cell.
    table["threshold_m"] = ["—" if pd.isna(v) else f"{v:.0f}" for v in table["threshold_m"]]
    table = table[["category", "threshold_m", "facilities", "households",
                   "households_covered", "share_covered", "households_left_out"]]
    return table.rename(columns={
        "category": t("col_category", lang), "threshold_m": t("col_threshold_m", lang),
        "facilities": t("col_facilities", lang), "households": t("col_households", lang),
        "households_covered": t("col_covered", lang),
        "share_covered": t("col_share", lang),
        "households_left_out": t("col_left_out", lang)})


def attainment_table(attainment: pd.DataFrame, lang: str) -> pd.DataFrame:
    """Return the standards attainment per zone with translated names and columns.

    Parameters
    ----------
    attainment
        ``StandardsReport.attainment`` (gis.analysis.standards).
    lang
        ``zh`` or ``en``.

    Returns
    -------
    pandas.DataFrame
        Zone kind, name, households, rules required and passed, attainment in percent.
    """
    att = attainment.copy()
    att["attainment_rate"] = (att["attainment_rate"] * 100).round(1)
    att["zone_kind"] = [t(f"zone_{k}", lang) for k in att["zone_kind"]]
    att["zone"] = [zone_label(z, lang) for z in att["zone"]]
    return att.rename(columns={
        "zone_kind": t("zone_kind", lang), "zone": t("name", lang),
        "households": t("households", lang), "rules": t("rules_required", lang),
        "passed": t("rules_passed", lang), "attainment_rate": t("attainment", lang) + " %"})


def shortfall_table(shortfall: pd.DataFrame, lang: str, *, rows: int) -> pd.DataFrame:
    """Return the first rows of the standards shortfall list, translated.

    Parameters
    ----------
    shortfall
        ``StandardsReport.shortfall`` (most households not reached first).
    lang
        ``zh`` or ``en``.
    rows
        How many rows to show.

    Returns
    -------
    pandas.DataFrame
        Zone, level, facility type and households not reached.
    """
    short = shortfall.head(rows)
    zh = lang == "zh"
    return pd.DataFrame({
        t("name", lang): [zone_label(z, lang) for z in short["zone"]],
        t("level", lang): short["level_zh" if zh else "level_en"].to_numpy(),
        t("facility_type", lang): short["type_zh" if zh else "type_en"].to_numpy(),
        t("households_not_reached", lang): short["households_not_reached"].to_numpy()})
