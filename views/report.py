"""The report view: the meeting report (PDF, HTML map), standards checklist, exports."""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path

import geopandas as gpd
import pandas as pd
import streamlit as st

from gis import GisError
from gis.analysis.coverage import (
    CoverageResult,
    area_summary,
    zone_summary,
)
from gis.analysis.standards import check_standards, load_standards
from gis.data.write import write_gpkg_atomic
from gis.settings import Settings
from gis.study import Study
from gis.zoning.plan import GridPlan
from layers.base import standalone_html
from layers.coverage import coverage_map
from layers.i18n import t
from layers.tables import attainment_table, shortfall_table, summary_table
from views.gaps import get_gaps, site_proposal
from views.grid_plan import current_plan, plan_key
from views.state import analysis_key, get_circle
from views.widgets import show_error, xlsx_bytes


def standards_block(result: CoverageResult, settings: Settings, lang: str,
                    plan: GridPlan | None) -> None:
    """Show the standards checklist: attainment per zone, the shortfall list, XLSX."""
    st.subheader(t("standards", lang))
    try:
        standards = load_standards(None, settings)
        zones = ({"community": plan.communities_gdf(), "grid": plan.grids_gdf()}
                 if plan is not None else None)
        report = check_standards(result, standards, zones)
    except GisError as err:
        show_error(err, lang)
        return
    st.dataframe(attainment_table(report.attainment, lang), hide_index=True, width="stretch")
    st.caption(t("shortfall", lang))
    st.dataframe(shortfall_table(report.shortfall, lang, rows=20), hide_index=True,
                 width="stretch")
    st.download_button(t("download_standards", lang),
                       functools.partial(xlsx_bytes, report.sheets()),
                       file_name="standards.xlsx", key="download_standards")


def report_view(study: Study, used: tuple, result: CoverageResult, settings: Settings,
                lang: str) -> None:
    """Draw the report view: the meeting report and every export, ready to download."""
    category = st.session_state["category"]
    with st.spinner(t("circle_drawing", lang)):
        circle = get_circle(study, used, category, result.thresholds[category].metres)
    st.caption(t("report_note", lang))
    key = analysis_key(used, result)
    gaps = get_gaps(study, result, key, category)
    plan = current_plan(study, used)
    communities = plan.communities_gdf() if plan is not None else None
    _unused, sites = site_proposal(study, key, category)
    # The report stays in the session for this analysis, category, language and plan, so
    # a download (which reruns the page) does not make the preview disappear.
    report_key = (key, category, lang, plan_key(),
                  repr(sites["rank"].tolist()) if sites is not None else "")
    kept = st.session_state.get("report")
    report = kept[1] if kept is not None and kept[0] == report_key else None
    if st.button(t("make_report", lang), key="make_report", type="primary"):
        with st.spinner(t("make_report", lang)):
            try:
                checked = check_standards(result, load_standards(None, settings),
                                          {"community": communities}
                                          if communities is not None else None)
                attainment, shortfall = checked.attainment, checked.shortfall
            except GisError:
                attainment = shortfall = None
            # Imported here: matplotlib's PDF backend is 0.5 s of every app start.
            from layers.report import meeting_report

            report = meeting_report(result, settings, category, lang=lang, circle=circle,
                                    communities=communities, gaps=gaps.areas, sites=sites,
                                    study_name=study.name, attainment=attainment,
                                    shortfall=shortfall, streets=study.streets)
        st.session_state["report_ready"] = True
        st.session_state["report"] = (report_key, report)
    if report is not None:
        c1, c2 = st.columns(2)
        c1.download_button(t("download_pdf", lang), report.pdf, file_name="report.pdf",
                           mime="application/pdf", key="download_pdf")
        c2.download_button(t("download_png", lang), report.png, file_name="map.png",
                           mime="image/png", key="download_png")
        st.image(report.png)
    standards_block(result, settings, lang, plan)
    st.subheader(t("exports", lang))
    e = st.columns(4)
    # Every export is made when its button is clicked, not on each rerun.
    e[0].download_button(t("download_html", lang),
                         functools.partial(_html_bytes, result, category, settings, circle,
                                           lang, study.streets),
                         file_name="coverage_map.html", mime="text/html",
                         key="download_html")
    layers = {"homes": result.homes, "facilities": result.facilities,
              "gap_areas": gaps.areas}
    if plan is not None:
        layers["communities"] = communities
        layers["grids"] = plan.grids_gdf(with_workers=False)
    e[1].download_button(t("download_layers", lang),
                         functools.partial(_gpkg_bytes, result, layers),
                         file_name="service_circles.gpkg", key="download_layers")
    e[2].download_button(t("download_csv", lang), functools.partial(_csv_bytes, result),
                         file_name="homes_coverage.csv", mime="text/csv",
                         key="download_csv")
    sheets = {"summary": summary_table(area_summary(result), settings, lang)}
    if communities is not None:
        sheets["communities"] = zone_summary(result, communities)
    e[3].download_button(t("download_table_xlsx", lang), functools.partial(xlsx_bytes, sheets),
                         file_name="coverage.xlsx", key="download_table_xlsx")


def _html_bytes(result: CoverageResult, category: str, settings: Settings, circle: object,
                lang: str, streets: gpd.GeoDataFrame | None = None) -> bytes:
    """Return the standalone offline HTML map (the area's own streets and names drawn)."""
    fmap = coverage_map(result, category, settings, circle=circle, lang=lang, basemap="none",
                        streets=streets)
    return standalone_html(fmap).encode("utf-8")


def _gpkg_bytes(result: CoverageResult, layers: dict[str, object]) -> bytes:
    """Return the GeoPackage of every layer and the summary."""
    with tempfile.TemporaryDirectory() as d:
        gpkg = write_gpkg_atomic(Path(d) / "layers.gpkg",
                                 {**layers, "summary": area_summary(result)})
        return gpkg.read_bytes()


def _csv_bytes(result: CoverageResult) -> bytes:
    """Return the homes table as UTF-8 CSV (with a BOM, for Excel)."""
    table = pd.DataFrame(result.homes.drop(columns=result.homes.geometry.name))
    return table.to_csv(index=False).encode("utf-8-sig")
