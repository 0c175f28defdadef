"""The printable meeting report: a coverage map and the numbers, as PDF and PNG.

Drawn with matplotlib in the study area's metric CRS, so the scale bar is exact. Chinese
text needs a CJK font: the Noto Sans CJK font that ``make run`` / ``make test`` install
from Debian's fonts-noto-cjk, or any font named in :data:`CJK_FONT_PATHS`.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib import font_manager  # noqa: E402
from matplotlib.backends.backend_pdf import PdfPages  # noqa: E402
from matplotlib.patches import Patch, Rectangle  # noqa: E402

from gis.coverage import FULL_CIRCLE, CoverageResult, area_summary, zone_summary  # noqa: E402
from gis.household_sources import SOURCE_FLOORS, source_mix  # noqa: E402
from gis.settings import Settings  # noqa: E402
from layers.coverage import (  # noqa: E402
    CIRCLE_COLOUR,
    MARKER_FILL,
    MPL_MARKERS,
    TIME_CLASSES,
    UNREACHABLE_COLOUR,
    category_shape,
    is_estimated,
    time_colour,  # noqa: E402
)
from layers.i18n import percent, t  # noqa: E402

CJK_FONT_PATHS = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJKsc-Regular.otf",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
)
A4_LANDSCAPE = (11.69, 8.27)


def cjk_font() -> str | None:
    """Register and return the family name of the first CJK font found, or None."""
    for path in CJK_FONT_PATHS:
        if Path(path).is_file():
            font_manager.fontManager.addfont(path)
            return font_manager.FontProperties(fname=path).get_name()
    return None


@dataclass(frozen=True)
class Report:
    """The report's files: the PDF and a PNG of its map page."""

    pdf: bytes
    png: bytes
    lang: str


def _scale_bar(ax: plt.Axes, extent_m: float) -> None:
    """Draw a metric scale bar of a round length in the lower right of ``ax``."""
    nice = [50, 100, 200, 250, 500, 1000, 2000, 5000, 10000]
    length = next((n for n in nice if n >= extent_m / 6), nice[-1])
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    x = x1 - (x1 - x0) * 0.05 - length
    y = y0 + (y1 - y0) * 0.05
    ax.add_patch(Rectangle((x, y), length / 2, (y1 - y0) * 0.008, color="black"))
    ax.add_patch(Rectangle((x + length / 2, y), length / 2, (y1 - y0) * 0.008,
                           facecolor="white", edgecolor="black"))
    label = f"{length / 1000:g} km" if length >= 1000 else f"{length} m"
    ax.text(x + length / 2, y + (y1 - y0) * 0.018, label, ha="center", va="bottom",
            fontsize=8)


def _north_arrow(ax: plt.Axes, lang: str) -> None:
    ax.annotate(t("north", lang), xy=(0.96, 0.93), xytext=(0.96, 0.83),
                xycoords="axes fraction", ha="center", va="center", fontsize=11,
                fontweight="bold", arrowprops={"facecolor": "black", "width": 4,
                                               "headwidth": 12})


def _map_page(result: CoverageResult, settings: Settings, category: str, *, lang: str,
              circle: object, gaps: gpd.GeoDataFrame | None,
              sites: gpd.GeoDataFrame | None, title: str) -> plt.Figure:
    fig = plt.figure(figsize=A4_LANDSCAPE)
    ax = fig.add_axes([0.03, 0.05, 0.64, 0.82])
    homes = result.homes
    crs = homes.crs
    if circle is not None and not getattr(circle, "is_empty", True):
        gpd.GeoSeries([circle], crs=crs).plot(ax=ax, color=CIRCLE_COLOUR, alpha=0.15,
                                              edgecolor=CIRCLE_COLOUR, linewidth=0.6)
    if gaps is not None and len(gaps):
        gaps.plot(ax=ax, facecolor="none", edgecolor="#a50f15", linewidth=1.2,
                  linestyle="--")
    colours = [time_colour(m) for m in homes[f"time_min_{category}"].to_numpy()]
    homes.plot(ax=ax, color=colours, edgecolor="#444444", linewidth=0.2)
    estimated = is_estimated(homes)
    if estimated.any():  # households estimated from an area's size: hatched
        homes[estimated].plot(ax=ax, facecolor="none", edgecolor="#444444", hatch="///",
                              linewidth=0.4)
    fac = result.facilities[result.facilities["category"] == category]
    if len(fac):
        fac.plot(ax=ax, color=MARKER_FILL, markersize=26,
                 marker=MPL_MARKERS[category_shape(category)], edgecolor="white",
                 linewidth=0.6, zorder=5)
    if sites is not None and len(sites):
        sites.plot(ax=ax, color="#7b3294", markersize=70, marker="s", zorder=6)
        for _, row in sites.iterrows():
            ax.text(row.geometry.x, row.geometry.y, str(int(row["rank"])), color="white",
                    ha="center", va="center", fontsize=7, fontweight="bold", zorder=7)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_xlabel("")
    ax.set_ylabel("")
    minx, miny, maxx, maxy = homes.total_bounds
    pad = 0.05 * max(maxx - minx, maxy - miny, 100)
    ax.set_xlim(minx - pad, maxx + pad)
    ax.set_ylim(miny - pad, maxy + pad)
    _scale_bar(ax, maxx - minx)
    _north_arrow(ax, lang)
    cat_name = settings.category(category).name(lang)
    unit = t("minutes_unit", lang)
    handles, lower = [], 0.0
    for upper, colour in TIME_CLASSES:
        label = (f"{lower:.0f}–{upper:.0f} {unit}" if np.isfinite(upper)
                 else f"> {lower:.0f} {unit}")
        handles.append(Patch(facecolor=colour, edgecolor="#444444", label=label))
        lower = upper
    handles.append(Patch(facecolor=UNREACHABLE_COLOUR, label=t("unreachable", lang)))
    handles.append(Patch(facecolor=CIRCLE_COLOUR, alpha=0.3, label=t("service_circle", lang)))
    handles.append(plt.Line2D([], [], marker=MPL_MARKERS[category_shape(category)],
                              color="w", markerfacecolor=MARKER_FILL, markersize=8,
                              label=t("facilities", lang)))
    if estimated.any():
        handles.append(Patch(facecolor="white", edgecolor="#444444", hatch="///",
                             label=t("hh_estimated_area", lang)))
    if gaps is not None and len(gaps):
        handles.append(Patch(facecolor="none", edgecolor="#a50f15", linestyle="--",
                             label=t("gap_areas", lang)))
    if sites is not None and len(sites):
        handles.append(plt.Line2D([], [], marker="s", color="w", markerfacecolor="#7b3294",
                                  markersize=8, label=t("proposed_sites", lang)))
    ax.legend(handles=handles, loc="upper left", fontsize=8, framealpha=0.9,
              title=t("legend_title", lang, cat=cat_name), title_fontsize=8)
    fig.suptitle(title, fontsize=15, x=0.03, ha="left", y=0.97)
    # Headline numbers.
    summary = area_summary(result).set_index("category")
    box = fig.add_axes([0.70, 0.05, 0.28, 0.82])
    box.axis("off")
    lines = [(t("headline", lang), 13, "bold")]
    for cid in (*result.categories, FULL_CIRCLE):
        name = t("full_circle", lang) if cid == FULL_CIRCLE else settings.category(cid).name(lang)
        share = summary.loc[cid, "share_covered"]
        lines.append((f"{name}: {percent(share, lang)}", 11, "bold" if cid == category else
                      "normal"))
    if result.no_data:
        lines.append((t("no_data_short", lang, cats="、".join(
            settings.category(c).name(lang) for c in result.no_data)), 8, "normal"))
    total = int(summary.iloc[0]["households"])
    lines.append((f"{t('households', lang)}: {total:,}", 10, "normal"))
    mix = source_mix(result.homes[result.homes["attached"]])
    if len(mix) > 1 or (len(mix) and mix["source"].iloc[0] != SOURCE_FLOORS):
        lines.append((t("hh_source", lang), 8, "normal"))
        lines += [(f"  {t('hh_src_' + src.replace(' ', '_'), lang)}: {share * 100:.0f}%", 7,
                   "normal") for src, share in zip(mix["source"], mix["share"], strict=True)]
    thr = result.thresholds[category]
    lines.append((f"{t('threshold_mode', lang)}: {thr.metres:.0f} m · {thr.minutes:.1f} "
                  f"{unit} · {t('profile_' + result.profile, lang, default=result.profile)}",
                  9, "normal"))
    y = 0.98
    for text, size, weight in lines:
        box.text(0, y, text, fontsize=size, fontweight=weight, va="top")
        y -= 0.055 if size >= 11 else 0.045
    box.text(0, 0.0, t("osm_attribution", lang), fontsize=7, color="#555555", va="bottom")
    return fig


def _table_page(title: str, blocks: list[tuple[str, pd.DataFrame]]) -> plt.Figure:
    fig = plt.figure(figsize=A4_LANDSCAPE)
    fig.suptitle(title, fontsize=14, x=0.03, ha="left", y=0.97)
    n = max(len(blocks), 1)
    for k, (heading, table) in enumerate(blocks):
        top = 0.90 - k * (0.86 / n)
        ax = fig.add_axes([0.03, top - 0.86 / n + 0.03, 0.94, 0.86 / n - 0.05])
        ax.axis("off")
        ax.set_title(heading, loc="left", fontsize=11, fontweight="bold")
        shown = table.head(18)
        if len(shown) == 0:
            ax.text(0, 0.5, "—", fontsize=10)
            continue
        tab = ax.table(cellText=shown.astype(str).to_numpy(), colLabels=list(shown.columns),
                       loc="upper left", cellLoc="center")
        tab.auto_set_font_size(False)
        tab.set_fontsize(8)
        tab.scale(1, 1.2)
    return fig


def meeting_report(result: CoverageResult, settings: Settings, category: str, *,
                   lang: str = "zh", circle: object = None,
                   communities: gpd.GeoDataFrame | None = None,
                   gaps: gpd.GeoDataFrame | None = None,
                   sites: gpd.GeoDataFrame | None = None,
                   study_name: str = "", attainment: pd.DataFrame | None = None,
                   shortfall: pd.DataFrame | None = None) -> Report:
    """Return the meeting report of a coverage result as PDF and PNG.

    Parameters
    ----------
    result
        The coverage result.
    settings
        Settings (category names).
    category
        The category the map shows.
    lang
        ``"zh"`` (needs a CJK font) or ``"en"``.
    circle
        The category's service circle (local CRS).
    communities
        Community polygons with ``name`` (local CRS) for the table per community.
    gaps
        Gap areas (``gis.gaps.GapResult.areas``) to outline and list.
    sites
        Proposed sites with ``rank`` and ``gain_households`` to mark and list.
    study_name
        Shown in the title.
    attainment, shortfall
        The standards attainment per zone and the shortfall list (gis.standards).
    """
    family = cjk_font()
    rc = {"pdf.fonttype": 42, "font.size": 9}
    if family:
        rc["font.family"] = [family, "DejaVu Sans"]
    elif lang == "zh":
        lang = "en"  # no CJK font: an English report rather than empty boxes
    date = dt.date.today().isoformat()
    title = (f"{t('app_title', lang)} · {study_name} · "
             f"{settings.category(category).name(lang)} · {date}")
    with plt.rc_context(rc):
        map_fig = _map_page(result, settings, category, lang=lang, circle=circle, gaps=gaps,
                            sites=sites, title=title)
        tables = []
        cats = result.categories
        names = {c: settings.category(c).name(lang) for c in cats}
        if communities is not None and len(communities):
            zs = zone_summary(result, communities)
            table = pd.DataFrame({t("community", lang): zs["name"],
                                  t("households", lang): zs["households"]})
            for c in cats:
                table[names[c]] = [percent(v, lang) for v in zs[f"share_{c}"]]
            table[t("full_circle", lang)] = [percent(v, lang) for v in zs["share_full_circle"]]
            tables.append((t("table_per_community", lang), table))
        if attainment is not None and len(attainment):
            tables.append((t("standards", lang), pd.DataFrame({
                t("name", lang): attainment["zone"],
                t("rules_passed", lang): [f"{int(p)}/{int(r)}" for p, r in
                                          zip(attainment["passed"], attainment["rules"],
                                              strict=True)],
                t("attainment", lang): (attainment["attainment_rate"] * 100).round(1).astype(
                    str) + " %"})))
        if shortfall is not None and len(shortfall):
            s = shortfall.head(10)
            zh = lang == "zh"
            tables.append((t("shortfall", lang), pd.DataFrame({
                t("name", lang): s["zone"],
                t("level", lang): s["level_zh" if zh else "level_en"],
                t("facility_type", lang): s["type_zh" if zh else "type_en"],
                t("households_not_reached", lang): s["households_not_reached"]})))
        if gaps is not None and len(gaps):
            g = gaps.drop(columns=gaps.geometry.name).head(12)
            tables.append((t("gap_table", lang), pd.DataFrame({
                t("gap_id", lang): g["gap_id"], t("households_uncovered", lang): g["households"],
                t("nearest_facility", lang): g["nearest_facility"].fillna("—"),
                t("extra_walk", lang): g["extra_min"].round(1)})))
        if sites is not None and len(sites):
            tables.append((t("proposed_sites", lang), pd.DataFrame({
                t("rank", lang): sites["rank"].astype(int),
                t("gain", lang): sites["gain_households"].astype(int)})))
        if not tables:
            summary = area_summary(result)
            tables.append((t("summary_table", lang), pd.DataFrame({
                t("col_category", lang): [t("full_circle", lang) if c == FULL_CIRCLE
                                          else names[c] for c in summary["category"]],
                t("col_share", lang): [percent(v, lang) for v in summary["share_covered"]]})))
        table_figs = [_table_page(title, tables[i:i + 2]) for i in range(0, len(tables), 2)]
        pdf_buf = io.BytesIO()
        with PdfPages(pdf_buf) as pdf:
            pdf.savefig(map_fig)
            for fig in table_figs:
                pdf.savefig(fig)
        png_buf = io.BytesIO()
        map_fig.savefig(png_buf, format="png", dpi=150)
        for fig in (map_fig, *table_figs):
            plt.close(fig)
    return Report(pdf_buf.getvalue(), png_buf.getvalue(), lang)
