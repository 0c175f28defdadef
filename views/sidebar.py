"""The sidebar: language, view, study area, layers and thresholds; loading the area."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from gis import GisError
from gis.settings import Settings
from gis.study import Study
from layers.i18n import LANGS, t
from views.state import default_source, study_cache
from views.uploads import declared_crs, drop_uploads, layer_upload, saved_upload, uploader
from views.widgets import choice, say_progress, show_error, tr


def sidebar(settings: Settings) -> tuple:
    """Draw the controls; return the requested study inputs."""
    lang = st.session_state["lang"]
    sb = st.sidebar
    sb.radio(t("language", lang), LANGS, key="lang", horizontal=True,
             format_func=lambda v: {"zh": "中文", "en": "English"}[v])
    lang = st.session_state["lang"]
    views = ("coverage", "gaps", "scenarios", "grids", "report")
    choice("radio", sb, "view", t("view", lang), views, lambda v: t(f"view_{v}", lang),
           help=t("help_view", lang))
    shown = st.session_state["good_inputs"][0]  # the area loaded last, not the start-up one
    with sb.expander(f"{t('study_area', lang)}: " + (
            t("default_area", lang) if shown == "default" else Path(str(shown)).name)):
        area_up = uploader("area_upload", t("upload_area", lang),
                           type=["pbf", "osm", "bz2", "gpkg"],
                           help=t("upload_limit_help", lang, limit=f"{settings.max_upload_mb:.0f}"))
        st.text_input(t("place_name", lang), key="place_input",
                      placeholder=t("place_placeholder", lang))
        if st.button(t("load_place", lang), key="load_place"):
            st.session_state["place"] = st.session_state["place_input"].strip() or None
    choice("selectbox", sb, "category", t("category", lang), settings.category_ids,
           lambda c: settings.category(str(c)).name(lang), help=t("help_category", lang))
    choice("radio", sb, "threshold_mode", t("threshold_mode", lang), ("minutes", "metres"),
           lambda m: t(f"mode_{m}", lang), horizontal=True, help=t("help_threshold", lang))
    if st.session_state["threshold_mode"] == "minutes":
        sb.slider(t("minutes", lang), 1.0, 30.0, step=1.0, key="threshold_min",
                  help=t("help_minutes", lang))
    else:
        presets = sorted({*settings.presets_m.values(), st.session_state["threshold_m"]})
        named = {v: name for name, v in settings.presets_m.items()}
        sb.select_slider(t("metres", lang), options=presets, key="threshold_m",
                         format_func=lambda v: t(f"preset_{named[v]}", lang,
                                                 default=f"{v:,.0f} m")
                         if v in named else f"{v:,.0f} m", help=t("help_metres", lang))
    choice("radio", sb, "profile", t("profile", lang), tuple(settings.speeds_m_per_min),
           lambda p: t(f"profile_{p}", lang, default=str(p)), help=t("help_profile", lang))
    bases = ("osm", "custom", "none") if settings.tile_url else ("osm", "none")
    choice("radio", sb, "gates", t("gates", lang), ("off", "day", "night"),
           lambda g: t(f"gates_{g}", lang), horizontal=True, help=t("help_gates", lang))
    choice("radio", sb, "basemap", t("basemap", lang), bases,
           lambda b: settings.tile_name if b == "custom" else t(f"basemap_{b}", lang),
           help=t("help_basemap", lang))
    with sb.expander(t("own_data", lang)):
        fac_up = layer_upload("facilities", settings, lang)
        bld_up = layer_upload("buildings", settings, lang)
        table_up = uploader("hh_table_upload", t("upload_hh_table", lang), type=["csv", "xlsx"],
                            help=t("upload_hh_table_help", lang))
        raster_up = uploader("raster_upload", t("upload_raster", lang), type=["tif", "tiff"],
                             help=t("upload_raster_help", lang))
    fac_path = saved_upload(fac_up, settings, lang, "facilities_upload")
    bld_path = saved_upload(bld_up, settings, lang, "buildings_upload")
    area_path = saved_upload(area_up, settings, lang, "area_upload")
    source = area_path or st.session_state.get("place") or default_source()
    return (source, fac_path, declared_crs("facilities") if fac_path else None,
            bld_path, declared_crs("buildings") if bld_path else None,
            saved_upload(table_up, settings, lang, "hh_table_upload"),
            saved_upload(raster_up, settings, lang, "raster_upload"))


def load(inputs: tuple, lang: str) -> tuple[Study, tuple]:
    """Return the study for ``inputs``, or the last good one with an error shown."""
    loaded = study_cache().peek(inputs)
    # A progress box only while an area loads (drawing it costs every rerun ~0.1 s).
    status = st.status(t("loading", lang), expanded=False) if loaded is None else None
    try:
        study = loaded or study_cache().get(inputs, progress=say_progress(status, lang))
        if status is not None:
            status.update(label=t("loaded", lang), state="complete")
        for warning in study.warnings:
            st.warning(tr(warning, lang))
        if study.poi_report is not None and len(study.poi_report):
            with st.expander(t("poi_not_used", lang,
                               n=int(study.poi_report["rows"].sum()))):
                st.dataframe(study.poi_report, hide_index=True, width="stretch")
        table = study.household_table
        if table is not None and (table["matched_homes"] == 0).any():
            missed = table[table["matched_homes"] == 0].drop(columns=["matched_homes"])
            with st.expander(t("hh_rows_unmatched", lang, n=len(missed), total=len(table))):
                st.dataframe(missed, hide_index=True, width="stretch")
        st.session_state["good_inputs"] = inputs
        drop_uploads(inputs)
        return study, inputs
    except GisError as err:
        if status is not None:
            status.update(label=t("input_error_short", lang), state="error")
        good = st.session_state["good_inputs"]
        where = str(getattr(err, "params", {}).get("where", ""))
        refused = next((Path(p).name for p in inputs if isinstance(p, str)
                        and p in st.session_state["upload_files"]
                        and Path(p).name in where), None)
        if refused is not None:
            # The refused file leaves memory and disk now; its message is shown once more
            # after the rerun that empties its upload box.
            drop_uploads(good, refused=refused)
            st.session_state["refused"] = err
            st.rerun()
        show_error(err, lang, lead=t("input_error", lang))
        if good == inputs:
            st.stop()
        return study_cache().get(good), good
