"""The communities and grids view: generate, look, edit by clicks, undo, save, export."""

from __future__ import annotations

import functools
import hashlib
import json
import tempfile
from pathlib import Path
from typing import Any, cast

import pandas as pd
import streamlit as st
from streamlit_folium import st_folium

from gis import GisError
from gis.settings import GridRules, Settings
from gis.study import Study
from gis.zoning.editor import EditResult, GridEditor, history_record
from gis.zoning.exports import FIELD_ALIASES, ExportFormat, export_grid_table, export_zones
from gis.zoning.generate import plan_grids
from gis.zoning.plan import GridPlan
from gis.zoning.project import load_project, save_project
from layers.grids import block_labels, grids_map
from layers.i18n import t, translate_message
from views.grid_plan import (
    get_blocks,
    keep_editor,
    opened_blocks,
    rules_key,
    session_editor,
)
from views.state import GRID_CLICKS, project_file
from views.uploads import project_file_box
from views.widgets import basemap_choice, choice, show_error, take_focus, tr


def _grid_edit(editor: GridEditor, outcome: EditResult) -> None:
    """Keep an edit's result (the editor holds undo and redo), show the message."""
    ss = st.session_state
    if outcome.ok:
        keep_editor(editor)
    ss["grid_message"] = {
        "ok": outcome.ok,
        "text": [str(outcome.message), getattr(outcome.message, "key", None),
                 getattr(outcome.message, "params", {})],
        "warnings": [[str(w), getattr(w, "key", None), getattr(w, "params", {})]
                     for w in outcome.warnings]}


def _step_back(editor: GridEditor, action: str) -> None:
    """Undo (or redo) the editor's last edit, keep it, say so."""
    ss = st.session_state
    if action == "undo":
        editor.undo()
    else:
        editor.redo()
    keep_editor(editor)
    # The banner now says what happened (it still described the edit just undone).
    key, text = (("undone", "The last edit was undone.") if action == "undo"
                 else ("redone", "The undone edit was done again."))
    ss["grid_message"] = {"ok": True, "text": [text, key, {}], "warnings": []}
    st.rerun()


def _grid_map_click(study: Study, used: tuple) -> None:
    """Act on a click on the grids map: select the block, or move the selected one there.

    In "move" mode a click on a block of another grid moves the selected block into that
    grid (checked and undoable like every edit); a click in its own grid selects.
    """
    ss = st.session_state
    value = ss.get("grids_map") or {}
    block = ((value.get("last_active_drawing") or {}).get("properties") or {}).get("block_id")
    editor = session_editor(study, used) if block is not None else None
    if editor is None:
        return
    plan = editor.plan
    ids = list(plan.blocks.ids)
    if block not in ids:
        return
    chosen = ss.get("edit_block")
    if ss.get("grid_click") == "move" and isinstance(chosen, str) and chosen in ids:
        into = int(plan.grid[ids.index(block)])
        if into != int(plan.grid[ids.index(chosen)]):
            _grid_edit(editor, editor.move_blocks([chosen], into))
            return
    ss["edit_block"] = block


def grids_view(study: Study, used: tuple, settings: Settings, lang: str) -> None:
    """Draw the communities and grids view: generate, look, edit, undo, save, export."""
    ss = st.session_state
    c = st.columns(4)
    c[0].number_input(t("grid_target", lang), 10, 5000, step=10, key="grid_target")
    c[1].number_input(t("grid_min", lang), 1, 5000, step=10, key="grid_min")
    c[2].number_input(t("grid_max", lang), 10, 10000, step=10, key="grid_max")
    c[3].number_input(t("comm_target", lang), 100, 50000, step=100, key="comm_target")
    # A row of its own: in a fifth column its English label was cut.
    generate = st.button(t("generate_grids", lang), key="grid_generate", type="primary")
    project_file_box("grids", settings, lang)
    o1, o2 = st.columns(2)
    if o1.button(t("open_project", lang), key="grid_open",
                 disabled=not project_file("grids").exists()):
        try:
            plan, history = load_project(project_file("grids"))
        except GisError as err:
            show_error(err, lang)
        else:
            ss["grid_rules"] = plan.rules.sizes
            keep_editor(GridEditor(plan, history))
            digest = hashlib.sha1(project_file("grids").read_bytes()).hexdigest()
            opened_blocks()[digest] = plan.blocks
            ss["grid_blocks"] = (repr(used), digest)
    if generate:
        key = rules_key()
        try:
            with st.spinner(t("generate_grids", lang)):
                blocks = get_blocks(study, used, key)
                plan = plan_grids(blocks, settings.grids.with_sizes(key), lang=lang)
        except GisError as err:
            show_error(err, lang)
        else:
            ss["grid_rules"] = key
            ss["grid_blocks"] = None
            keep_editor(GridEditor(plan, [history_record("generate", str(key))]))
    editor = session_editor(study, used)
    if editor is None:
        st.info(t("no_plan", lang))
        return
    plan = editor.plan
    grids = plan.grids_gdf()
    m = st.columns(3)
    m[0].metric(t("n_communities", lang), len(plan.communities_gdf()))
    m[1].metric(t("n_grids", lang), len(grids))
    m[2].metric(t("grids_out_of_range", lang), int((grids["flag"] != "").sum()))
    msg = ss["grid_message"]
    if msg:
        m_text, m_key, m_params = msg["text"]
        (st.success if msg["ok"] else st.error)(translate_message(m_text, m_key, m_params, lang))
        for w_text, w_key, w_params in msg["warnings"]:
            st.warning(translate_message(w_text, w_key, w_params, lang))
    choice("radio", st, "grid_click", t("grid_click", lang), GRID_CLICKS,
           lambda c: t(f"grid_click_{c}", lang), horizontal=True,
           help=t("help_grid_click", lang))
    selected = ss.get("edit_block")
    targets = (editor.block_neighbour_grids(selected)
               if ss["grid_click"] == "move" and isinstance(selected, str)
               and selected in set(plan.blocks.ids) else [])
    # The click is read in the map's callback: the map drawn after it (the block
    # highlighted) is a new component, whose value would not hold the click.
    st_folium(grids_map(plan, lang=lang, basemap=basemap_choice(settings),
                        streets=study.streets, selected=selected, targets=targets),
              key="grids_map", height=600, use_container_width=True,
              returned_objects=["last_active_drawing", "last_object_clicked"], **take_focus(),
              on_change=functools.partial(_grid_map_click, study, used))

    with st.expander(t("edit", lang), expanded=True):
        names = plan.grid_names
        labels = sorted(names)

        def label_of(g: int) -> str:
            return names.get(g, str(g))

        e1, e2, e3 = st.columns([2, 2, 1])
        ids = list(plan.blocks.ids)
        named = block_labels(plan, lang)
        e1.selectbox(t("block", lang), ids, key="edit_block",
                     format_func=lambda b: named.get(b, b))
        # Only the grids the block touches: a move elsewhere is always refused.
        targets = editor.block_neighbour_grids(ss["edit_block"])
        if ss.get("edit_to") not in targets:
            ss["edit_to"] = targets[0] if targets else None
        e2.selectbox(t("to_grid", lang), targets, key="edit_to", format_func=label_of,
                     placeholder=t("no_neighbour_grid", lang))
        if e3.button(t("move", lang), key="grid_move", disabled=not targets):
            _grid_edit(editor, editor.move_blocks([ss["edit_block"]], int(ss["edit_to"])))
            st.rerun()
        f1, f2, f3 = st.columns([2, 2, 1])
        f1.selectbox(t("merge", lang), labels, key="merge_a", format_func=label_of)
        # The second grid from the first one's neighbours (the old default pair was
        # always refused: two grids that share no street).
        partners = editor.neighbour_grids(int(ss["merge_a"]))
        if ss.get("merge_b") not in partners:
            ss["merge_b"] = partners[0] if partners else None
        f2.selectbox("+", partners, key="merge_b", format_func=label_of)
        if f3.button(t("merge", lang), key="grid_merge", disabled=not partners):
            _grid_edit(editor, editor.merge(int(ss["merge_a"]), int(ss["merge_b"])))
            st.rerun()
        g1, g2, g3 = st.columns([2, 2, 1])
        g1.selectbox(t("split", lang), labels, key="split_g", format_func=label_of)
        if g3.button(t("split", lang), key="grid_split"):
            _grid_edit(editor, editor.split(int(ss["split_g"])))
            st.rerun()
        h1, h2, h3 = st.columns([2, 2, 1])
        h1.selectbox(t("rename", lang), labels, key="rename_g", format_func=label_of)
        h2.text_input(t("new_name", lang), key="rename_to")
        if h3.button(t("rename", lang), key="grid_rename"):
            _grid_edit(editor, editor.rename(int(ss["rename_g"]), ss["rename_to"]))
            st.rerun()
        w1, w2, w3, w4 = st.columns([2, 1, 1, 1])
        w1.selectbox(t("set_worker", lang), labels, key="worker_g", format_func=label_of)
        w2.text_input(t("worker_name", lang), key="worker_name")
        w3.text_input(t("worker_phone", lang), key="worker_phone")
        if w4.button(t("set", lang), key="grid_worker"):
            _grid_edit(editor, editor.set_worker(int(ss["worker_g"]), ss["worker_name"],
                                                 ss["worker_phone"]))
            st.rerun()
        u1, u2, u3 = st.columns(3)
        if u1.button(t("undo", lang), key="grid_undo_btn", disabled=not editor.can_undo):
            _step_back(editor, "undo")
        if u2.button(t("redo", lang), key="grid_redo_btn", disabled=not editor.can_redo):
            _step_back(editor, "redo")
        if u3.button(t("save_project", lang), key="grid_save"):
            try:
                path = save_project(project_file("grids"), plan, editor.history)
            except (GisError, OSError) as err:
                show_error(err, lang)
            else:
                st.success(f"{t('saved_to', lang)} {path}")

    st.subheader(t("households_per_grid", lang))
    chart = pd.DataFrame({"grid": grids["name"], "households": grids["households"]})
    st.altair_chart(_range_chart(chart, plan.rules), width="stretch")
    table = pd.DataFrame(grids.drop(columns="geometry"))
    table["compactness"] = table["compactness"].round(3)
    table["deviation"] = (table["deviation"] * 100).round(1)
    table["area_m2"] = table["area_m2"].round(0).astype(int)
    table["flag"] = [translate_message(f, f, {}, lang) if f else "" for f in table["flag"]]
    col = 0 if lang == "zh" else 1
    st.dataframe(table.drop(columns=["label"]).rename(
        columns={k: v[col] for k, v in FIELD_ALIASES.items()}), hide_index=True,
        width="stretch")
    _exports(plan, lang)
    with st.expander(t("edit_history", lang)):
        rows = [{t("time", lang): h.get("time", ""),
                 t("action", lang): t(f"action_{h.get('action', '')}", lang,
                                      default=h.get("action", "")),
                 t("detail", lang): translate_message(
                     h.get("detail", ""), h.get("key") or None,
                     json.loads(h["params"]) if h.get("params") else {}, lang)}
                for h in editor.history]
        st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    if plan.blocks.notes:
        with st.expander(t("block_notes", lang)):
            for note in plan.blocks.notes:
                st.write(tr(note, lang))


def _range_chart(chart: pd.DataFrame, rules: GridRules) -> Any:
    import altair as alt

    bars = alt.Chart(chart).mark_bar().encode(
        x=alt.X("grid:N", sort=None, title=None), y=alt.Y("households:Q", title=None),
        color=alt.condition((alt.datum.households < rules.min_households)
                            | (alt.datum.households > rules.max_households),
                            alt.value("#d7301f"), alt.value("#4c78a8")))
    lines = alt.Chart(pd.DataFrame({"y": [rules.min_households, rules.max_households]})
                      ).mark_rule(strokeDash=[6, 4], color="#555").encode(y="y:Q")
    return bars + lines


def _exports(plan: GridPlan, lang: str) -> None:
    """Download buttons: zones without personal data, and the grid table."""
    with st.expander(t("exports", lang)):
        st.checkbox(t("with_workers", lang), key="with_workers")
        cols = st.columns(4)
        names = {"gpkg": "grids.gpkg", "geojson": "grids.geojson", "shp": "grids.zip",
                 "xlsx": "grids.xlsx"}
        workers = bool(st.session_state["with_workers"])
        for col, (fmt, name) in zip(cols, names.items(), strict=True):
            # Written only when the user clicks (not on every rerun).
            col.download_button(t(f"download_{fmt}", lang),
                                functools.partial(_grid_export_bytes, plan, fmt, name, workers),
                                file_name=name, key=f"download_{fmt}")


def _grid_export_bytes(plan: GridPlan, fmt: str, name: str, with_workers: bool) -> bytes:
    """Return one grid export as bytes (zones without personal data, or the table)."""
    with tempfile.TemporaryDirectory() as d:
        if fmt == "xlsx":
            path = export_grid_table(plan, Path(d) / name, with_workers=with_workers)
        else:
            path = export_zones(plan, Path(d) / name, fmt=cast(ExportFormat, fmt))
        return path.read_bytes()
