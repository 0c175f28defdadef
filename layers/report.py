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
from typing import Any

import geopandas as gpd
import matplotlib
from matplotlib.artist import Artist
from matplotlib.transforms import Bbox

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import shapely  # noqa: E402
from matplotlib import font_manager  # noqa: E402
from matplotlib.backends.backend_pdf import PdfPages  # noqa: E402
from matplotlib.patches import Patch, Rectangle  # noqa: E402

from gis.analysis.coverage import FULL_CIRCLE, CoverageResult, area_summary, zone_summary  # noqa: E402
from gis.data.household_sources import SOURCE_FLOORS, source_mix  # noqa: E402
from gis.settings import Settings  # noqa: E402
from layers.base import STREET_WIDTHS, street_labels, street_lines  # noqa: E402
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
from layers.i18n import percent, t, zone_label  # noqa: E402
from layers.tables import shortfall_table

CJK_FONT_PATHS = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJKsc-Regular.otf",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
)
A4_LANDSCAPE = (11.69, 8.27)


#: The face of a CJK font collection for Simplified Chinese: the first face of Debian's
#: NotoSansCJK-Regular.ttc is the Japanese one, which prints 门, 骨, 直 in Japanese forms.
CJK_FAMILY = "Noto Sans CJK SC"


def cjk_font() -> str | None:
    """Register the first CJK font found; return its Simplified Chinese family, or None.

    Matplotlib (3.11) registers every face of a collection (``.ttc``); the SC face is
    chosen by name, which selects it by its index in the collection.
    """
    for path in CJK_FONT_PATHS:
        if Path(path).is_file():
            font_manager.fontManager.addfont(path)
            if CJK_FAMILY in font_manager.get_font_names():
                return CJK_FAMILY
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


def _streets(ax: plt.Axes, streets: gpd.GeoDataFrame, crs: object,
             extent: tuple[float, float, float, float]) -> None:
    """Draw the area's streets in white over a pale ground, with their names along them."""
    lines = street_lines(streets.to_crs(crs))
    if not len(lines):
        return
    width = lines["highway"].map(STREET_WIDTHS).fillna(1.0) * 0.45
    lines.plot(ax=ax, color="#ffffff", linewidth=width.to_numpy(), zorder=1)
    minx, miny, maxx, maxy = extent
    labels = [lab for lab in street_labels(lines)
              if minx < lab[0] < maxx and miny < lab[1] < maxy]
    span = max(maxx - minx, maxy - miny)
    if len(labels) > 160:  # a city on one page: the larger streets' names only
        major = set(lines.loc[lines["highway"].isin(
            ["primary", "secondary", "tertiary", "trunk"]), "name"])
        labels = [lab for lab in labels if lab[2] in major][:160]
    size = 5.5 if span < 3000 else 4.5
    for x, y, name, angle in labels:
        ax.text(x, y, name, rotation=angle, rotation_mode="anchor", ha="center",
                va="center", fontsize=size, color="#525252", zorder=4, clip_on=True)


def _map_page(result: CoverageResult, settings: Settings, category: str, *, lang: str,
              circle: object, gaps: gpd.GeoDataFrame | None,
              sites: gpd.GeoDataFrame | None, title: str,
              streets: gpd.GeoDataFrame | None = None,
              conclusions: list[str] | None = None) -> plt.Figure:
    fig = plt.figure(figsize=A4_LANDSCAPE)
    ax = fig.add_axes((0.03, 0.15, 0.64, 0.75))
    homes = result.homes
    crs = homes.crs
    minx, miny, maxx, maxy = homes.total_bounds
    pad = 0.05 * max(maxx - minx, maxy - miny, 100)
    extent = (minx - pad, miny - pad, maxx + pad, maxy + pad)
    ax.set_facecolor("#ececec")
    if streets is not None and len(streets):
        _streets(ax, streets, crs, extent)
    if circle is not None and not getattr(circle, "is_empty", True):
        gpd.GeoSeries([circle], crs=crs).plot(ax=ax, color=CIRCLE_COLOUR, alpha=0.15,
                                              edgecolor=CIRCLE_COLOUR, linewidth=0.6)
    if gaps is not None and len(gaps):
        gaps.plot(ax=ax, facecolor="none", edgecolor="#a50f15", linewidth=1.2,
                  linestyle="--", zorder=3)
    colours = [time_colour(m) for m in homes[f"time_min_{category}"].to_numpy()]
    homes.plot(ax=ax, color=colours, edgecolor="#444444", linewidth=0.2, zorder=2)
    if gaps is not None and len(gaps):  # the numbers the gap table refers to
        for gid, point in zip(gaps["gap_id"], gaps.geometry.representative_point(),
                              strict=True):
            ax.text(point.x, point.y, f"G{gid}", color="#a50f15", fontsize=8,
                    fontweight="bold", ha="center", va="center", zorder=6, clip_on=True,
                    bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "#a50f15",
                          "lw": 0.6, "alpha": 0.9})
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
    ax.set_xlim(extent[0], extent[2])
    ax.set_ylim(extent[1], extent[3])
    _scale_bar(ax, maxx - minx)
    _north_arrow(ax, lang)
    cat_name = settings.category(category).name(lang)
    unit = t("minutes_unit", lang)
    handles: list[Artist] = []
    lower = 0.0
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
    # Under the map, not on it: nothing the legend covers is lost.
    fig.legend(handles=handles, loc="lower left", bbox_to_anchor=(0.03, 0.015), ncol=6,
               fontsize=8, frameon=False, title=t("legend_title", lang, cat=cat_name),
               title_fontsize=8.5, alignment="left")
    fig.suptitle(title, fontsize=15, x=0.03, ha="left", y=0.97)
    # Headline numbers.
    summary = area_summary(result).set_index("category")
    box = fig.add_axes((0.70, 0.06, 0.28, 0.84))
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
    y = 1.0
    for text, size, weight in lines:
        box.text(0, y, text, fontsize=min(size, 10.5), fontweight=weight, va="top")
        y -= 0.042 if size >= 11 else 0.034
    if conclusions:
        y -= 0.015
        box.text(0, y, t("conclusions", lang), fontsize=11, fontweight="bold", va="top")
        y -= 0.045
        for text in conclusions:
            wrapped = _wrap(text, 26 if lang == "zh" else 50)
            box.text(0, y, "• " + wrapped, fontsize=8.5, va="top", linespacing=1.3)
            y -= 0.029 * (wrapped.count("\n") + 1) + 0.012
    box.text(0, 0.0, t("osm_attribution", lang), fontsize=7, color="#555555", va="bottom")
    return fig


def _wrap(text: str, width: int) -> str:
    """Wrap ``text`` at ``width`` characters (Chinese has no spaces to break at)."""
    if " " in text and not any("\u4e00" <= ch <= "\u9fff" for ch in text):
        import textwrap

        return "\n".join(textwrap.wrap(text, width))
    lines = [text[i:i + width] for i in range(0, len(text), width)]
    if len(lines) > 1 and len(lines[-1]) <= 2:  # no line of a lone "。"
        last = lines.pop()
        lines[-1] += last
    return "\n".join(lines)


def conclusions(result: CoverageResult, settings: Settings, category: str, *, lang: str,
                gaps: gpd.GeoDataFrame | None = None, sites: gpd.GeoDataFrame | None = None,
                communities: gpd.GeoDataFrame | None = None) -> list[str]:
    """Return the report's one-line conclusions, each from numbers shown in the report.

    What share of households the category's circle holds and how many lie outside, what
    the proposed sites would add, the largest gap, the community that fares worst, and
    which categories have no facility at all (and so no coverage figure).
    """
    summary = area_summary(result).set_index("category")
    cat = settings.category(category).name(lang)
    row = summary.loc[category]
    out = [t("c_share", lang, cat=cat, covered=f"{int(row['households_covered']):,}",
             share=percent(row["share_covered"], lang),
             left=f"{int(row['households'] - row['households_covered']):,}")]
    if sites is not None and len(sites):
        gain = int(sites["gain_households"].sum())
        after = (row["households_covered"] + gain) / max(row["households"], 1)
        out.append(t("c_sites", lang, k=len(sites), gain=f"{gain:,}", cat=cat,
                     after=percent(after, lang)))
    if gaps is not None and len(gaps):
        g = gaps.sort_values("households", ascending=False).iloc[0]
        out.append(t("c_gap", lang, gid=int(g["gap_id"]), hh=f"{int(g['households']):,}",
                     n=len(gaps)))
    if communities is not None and len(communities):
        zs = zone_summary(result, communities)
        worst = zs.sort_values(f"share_{category}").iloc[0]
        out.append(t("c_worst", lang, name=str(worst["name"]),
                     share=percent(worst[f"share_{category}"], lang), cat=cat))
    if result.no_data:
        out.append(t("c_no_data", lang, cats="、".join(settings.category(c).name(lang)
                                                      for c in result.no_data)))
    return out


def site_places(sites: gpd.GeoDataFrame, streets: gpd.GeoDataFrame | None,
                max_m: float = 150.0) -> pd.DataFrame:
    """Return each proposed site's nearest named street (within ``max_m``) and lon / lat."""
    from gis.settings import WGS84

    wgs = sites.geometry.to_crs(WGS84)
    near = [""] * len(sites)
    if streets is not None and len(streets) and "name" in streets:
        named = streets[streets["name"].notna() & (streets["name"].astype(str) != "")]
        named = named.to_crs(sites.crs)
        if len(named):
            tree = shapely.STRtree(np.asarray(named.geometry.values))
            idx, dist = tree.query_nearest(np.asarray(sites.geometry.values),
                                           return_distance=True, max_distance=max_m)
            for i, j in zip(idx[0], idx[1], strict=True):
                if not near[i]:
                    near[i] = str(named["name"].iloc[j])
            _ = dist
    return pd.DataFrame({"street": near, "lon": wgs.x.round(5).to_numpy(),
                         "lat": wgs.y.round(5).to_numpy()})


#: Rows a table page holds (headings and column names count as rows).
PAGE_ROWS = 44
#: Rows of one table shown in the report; the full tables are in the XLSX export.
TABLE_ROWS = 30


def _table_pages(title: str, blocks: list[tuple[str, pd.DataFrame]], lang: str
                 ) -> list[plt.Figure]:
    """Lay the tables out on as few pages as they fit, each as tall as its rows."""
    pages: list[list[tuple[str, pd.DataFrame, int]]] = [[]]
    used = 0
    for heading, table in blocks:
        shown = table.head(TABLE_ROWS)
        if len(table) > len(shown):
            heading = t("table_cut", lang, heading=heading, n=len(shown), total=len(table))
        need = max(len(shown), 1) + 3
        if used + need > PAGE_ROWS and pages[-1]:
            pages.append([])
            used = 0
        pages[-1].append((heading, shown, need))
        used += need
    figs = []
    for page in pages:
        fig = plt.figure(figsize=A4_LANDSCAPE)
        fig.suptitle(title, fontsize=12, x=0.03, ha="left", y=0.97)
        row_h = 0.86 / PAGE_ROWS
        top = 0.91
        for heading, shown, need in page:
            height = need * row_h
            ax = fig.add_axes((0.03, top - height, 0.94, height))
            ax.axis("off")
            # The heading inside the block's own space (a title above the axes ran into
            # the previous table's last row).
            ax.text(0, 1, heading, fontsize=10.5, fontweight="bold", va="top",
                    transform=ax.transAxes)
            if len(shown) == 0:
                ax.text(0, 0.3, "—", fontsize=10, transform=ax.transAxes)
            else:
                tab = ax.table(cellText=shown.astype(str).to_numpy(),
                               colLabels=list(shown.columns), loc="upper left",
                               cellLoc="center",
                               bbox=Bbox.from_bounds(0, 0, 1, (need - 2) / need))
                tab.auto_set_font_size(False)
                tab.set_fontsize(8)
            top -= height + 0.01
        figs.append(fig)
    return figs


def _number_pages(figs: list[plt.Figure], lang: str) -> None:
    """Write "page i of n" at the foot of every page."""
    for i, fig in enumerate(figs, start=1):
        fig.text(0.97, 0.012, t("page_of", lang, i=i, n=len(figs)), ha="right",
                 va="bottom", fontsize=8, color="#555555")


def meeting_report(result: CoverageResult, settings: Settings, category: str, *,
                   lang: str = "zh", circle: object = None,
                   communities: gpd.GeoDataFrame | None = None,
                   gaps: gpd.GeoDataFrame | None = None,
                   sites: gpd.GeoDataFrame | None = None,
                   study_name: str = "", attainment: pd.DataFrame | None = None,
                   shortfall: pd.DataFrame | None = None,
                   streets: gpd.GeoDataFrame | None = None) -> Report:
    """Return the meeting report of a coverage result as PDF and PNG.

    The first page is a brief a leader reads in a minute: the map with the area's streets
    and names, the gap and site numbers the tables use, the headline numbers and one-line
    conclusions. The detail follows: tables per community, the standards, the shortfall
    list, the gaps and the proposed sites with their street and coordinates. Pages are
    numbered.

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
        Gap areas (``gis.analysis.gaps.GapResult.areas``) to outline and list.
    sites
        Proposed sites with ``rank`` and ``gain_households`` to mark and list.
    study_name
        Shown in the title.
    attainment, shortfall
        The standards attainment per zone and the shortfall list (gis.analysis.standards).
    streets
        The study area's streets (with ``highway`` and ``name``), drawn under the map and
        used to place the proposed sites.
    """
    family = cjk_font()
    rc: Any = {"pdf.fonttype": 42, "font.size": 9}  # keys checked by matplotlib
    if family:
        rc["font.family"] = [family, "DejaVu Sans"]
    elif lang == "zh":
        lang = "en"  # no CJK font: an English report rather than empty boxes
    date = dt.date.today().isoformat()
    title = (f"{t('app_title', lang)} · {study_name} · "
             f"{settings.category(category).name(lang)} · {date}")
    with plt.rc_context(rc):
        found = conclusions(result, settings, category, lang=lang, gaps=gaps, sites=sites,
                            communities=communities)
        map_fig = _map_page(result, settings, category, lang=lang, circle=circle, gaps=gaps,
                            sites=sites, title=title, streets=streets, conclusions=found)
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
                t("name", lang): [zone_label(z, lang) for z in attainment["zone"]],
                t("rules_passed", lang): [f"{int(p)}/{int(r)}" for p, r in
                                          zip(attainment["passed"], attainment["rules"],
                                              strict=True)],
                t("attainment", lang): (attainment["attainment_rate"] * 100).round(1).astype(
                    str) + " %"})))
        if shortfall is not None and len(shortfall):
            tables.append((t("shortfall", lang), shortfall_table(shortfall, lang, rows=10)))
        if gaps is not None and len(gaps):
            g = gaps.drop(columns=gaps.geometry.name)
            tables.append((t("gap_table", lang), pd.DataFrame({
                t("gap_id", lang): "G" + g["gap_id"].astype(str),
                t("households_uncovered", lang): g["households"],
                t("nearest_facility", lang): g["nearest_facility"].fillna("—"),
                t("extra_walk", lang): g["extra_min"].round(1)})))
        if sites is not None and len(sites):
            places = site_places(sites, streets)
            tables.append((t("proposed_sites", lang), pd.DataFrame({
                t("rank", lang): sites["rank"].astype(int).to_numpy(),
                t("gain", lang): sites["gain_households"].astype(int).to_numpy(),
                t("near_street", lang): places["street"].replace("", "—").to_numpy(),
                t("lon", lang): places["lon"].map(lambda v: f"{v:.5f}").to_numpy(),
                t("lat", lang): places["lat"].map(lambda v: f"{v:.5f}").to_numpy()})))
        if not tables:
            summary = area_summary(result)
            tables.append((t("summary_table", lang), pd.DataFrame({
                t("col_category", lang): [t("full_circle", lang) if c == FULL_CIRCLE
                                          else names[c] for c in summary["category"]],
                t("col_share", lang): [percent(v, lang) for v in summary["share_covered"]]})))
        # The sites and gaps first: they are what the first page's numbers refer to.
        order = {t("proposed_sites", lang): 0, t("gap_table", lang): 1}
        tables.sort(key=lambda block: order.get(block[0], 2))
        table_figs = _table_pages(title, tables, lang)
        _number_pages([map_fig, *table_figs], lang)
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
