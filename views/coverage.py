"""The coverage view: walking time to each category on the map, summary per zone."""

from __future__ import annotations

import threading

import pandas as pd
import streamlit as st

from gis.analysis.coverage import (
    CoverageResult,
    households_served,
    zone_summary,
)
from gis.settings import Settings, load_settings
from gis.study import Study
from gis.zoning.plan import GridPlan
from layers.base import MapParts, map_parts
from layers.coverage import coverage_map
from layers.grids import communities_layer, grids_layer
from layers.i18n import percent, t, translate_message
from layers.tables import summary_table
from views.grid_plan import plan_key
from views.state import analysis_key, get_circle
from views.widgets import basemap_choice, show_map, take_focus, tr


def _map_key(result: CoverageResult, category: str, lang: str, settings: Settings) -> tuple:
    """Return what identifies a coverage map: the analysis, category, language, tiles."""
    return (*analysis_key(st.session_state["good_inputs"], result), category, lang,
            repr(basemap_choice(settings)))


@st.cache_resource(show_spinner=False)
def prewarmed() -> set:
    """Return the analyses whose other categories' maps are being or were prepared."""
    return set()


def prewarm_coverage_maps(study: Study, result: CoverageResult, settings: Settings,
                          lang: str, plan: GridPlan | None, plan_key: str) -> None:
    """Prepare the coverage maps of the other categories in the background, once.

    After the first map is on screen, a thread draws the circles and renders the maps
    of the remaining categories into the shared caches, so that switching category is
    as quick as switching back (on Malta 3.5 s a first switch otherwise).
    """
    used = st.session_state["good_inputs"]
    basemap = basemap_choice(settings)
    jobs = [(c, _map_key(result, c, lang, settings), result.thresholds[c].metres)
            for c in result.categories if c != st.session_state["category"]]
    mark = (_map_key(result, "", lang, settings), plan_key)
    seen = prewarmed()
    if mark in seen or not jobs:
        return
    seen.add(mark)

    def work() -> None:
        for category, key, metres in jobs:
            try:
                circle = get_circle(study, used, category, metres)
                get_coverage_parts(study, result, key, category, circle, lang, basemap, plan,
                                   plan_key)
            except Exception:  # noqa: BLE001 (a session will compute it and show the error)
                seen.discard(mark)
                return

    threading.Thread(target=work, name="prewarm-maps", daemon=True).start()


@st.cache_resource(show_spinner=False, max_entries=64)
def get_coverage_parts(_study: Study, _result: CoverageResult, key: tuple, category: str,
                       _circle: object, lang: str, basemap: str | tuple[str, str, str],
                       _plan: GridPlan | None, plan_key: str) -> MapParts:
    """Return the coverage map rendered for the browser, once per key (shared, immutable).

    The folium map is built and rendered here and not kept (switching back is instant,
    from the parts). With a grid plan (``plan_key`` names its state), its community
    boundaries and grids are layers the user can switch on.
    """
    settings = load_settings()
    served = households_served(_result, category)
    extra = ([communities_layer(_plan, lang=lang), grids_layer(_plan, lang=lang, show=False)]
             if _plan is not None else [])
    fmap = coverage_map(_result, category, settings, circle=_circle, lang=lang,
                        basemap=basemap, served=served, extra_layers=extra,
                        streets=_study.streets)
    return map_parts(fmap)


def coverage_view(study: Study, result: CoverageResult, summary: pd.DataFrame,
                  circle: object, settings: Settings, lang: str, *,
                  plan: GridPlan | None = None) -> None:
    """Draw the coverage view: headline numbers, map and tables.

    With a grid plan in the session, also a table and chart per community and per grid.
    """
    category = st.session_state["category"]
    row = summary.set_index("category")
    cols = st.columns(4)
    cols[0].metric(f"{t('share_covered', lang)} · {settings.category(category).name(lang)}",
                   percent(row.loc[category, "share_covered"], lang))
    cols[1].metric(t("full_circle", lang), percent(row.loc["full_circle", "share_covered"], lang))
    cols[2].metric(t("households", lang), f"{int(row.loc[category, 'households']):,}")
    cols[3].metric(t("left_out", lang), f"{int(row.loc[category, 'households_left_out']):,}")
    if row.loc[category, "facilities"] == 0:
        st.info(t("no_facility", lang))
    if result.no_data:
        st.caption(t("no_data_note", lang, cats="、".join(
            settings.category(c).name(lang) for c in result.no_data)))

    # Rendered once per map for every session (st_folium would render the whole folium
    # tree on each rerun of each session).
    drawn_plan = plan_key() if plan is not None else ""
    parts = get_coverage_parts(study, result, _map_key(result, category, lang, settings),
                               category, circle, lang, basemap_choice(settings), plan,
                               drawn_plan)
    show_map(parts, key="map", height=620, focus=take_focus())
    prewarm_coverage_maps(study, result, settings, lang, plan, drawn_plan)
    st.caption(t("osm_attribution", lang))

    st.subheader(t("summary_table", lang))
    st.dataframe(summary_table(summary, settings, lang), hide_index=True,
                 width="stretch")
    if plan is not None:
        for heading, zones in ((t("table_per_community", lang), plan.communities_gdf()),
                               (t("table_per_grid", lang), plan.grids_gdf())):
            table = zone_summary(result, zones)
            st.subheader(heading)
            chart = pd.DataFrame({"zone": table["name"],
                                  "share": table[f"share_{category}"] * 100})
            st.bar_chart(chart, x="zone", y="share", height=220)
            shown = table.copy()
            for col in shown.columns:
                if col.startswith("share_"):
                    cid = col[6:]
                    label = (t("full_circle", lang) if cid == "full_circle"
                             else settings.category(cid).name(lang))
                    shown[label] = (shown.pop(col) * 100).round(1)
            st.dataframe(shown.rename(columns={"name": t("name", lang),
                                               "households": t("households", lang)}),
                         hide_index=True, width="stretch")
    with st.expander(t("load_report", lang)):
        report = study.report()
        report["item"] = [tr(item, lang) for item in report["item"]]
        st.dataframe(report.rename(columns={"item": t("item", lang),
                                            "value": t("value", lang)}),
                     hide_index=True, width="stretch")
    with st.expander(t("household_rules", lang)):
        rules = study.household_report()
        rules["rule"] = [translate_message(r, r, {}, lang) for r in rules["rule"]]
        rules["residential"] = [t("yes" if v else "no", lang) for v in rules["residential"]]
        st.dataframe(rules.rename(columns={
            "rule": t("rule", lang), "buildings": t("col_buildings", lang),
            "households": t("households", lang), "residents": t("residents", lang),
            "residential": t("residential", lang)}),
            hide_index=True, width="stretch")
        mix = study.source_mix()
        mix["source"] = [t("hh_src_" + v.replace(" ", "_"), lang) for v in mix["source"]]
        mix["share"] = (mix["share"] * 100).round(1)
        st.caption(t("hh_source_mix", lang))
        st.dataframe(mix.rename(columns={
            "source": t("hh_source", lang), "homes": t("homes", lang),
            "households": t("households", lang), "share": t("share_pct", lang)}),
            hide_index=True, width="stretch")
