"""The session's grid plan: rules, street blocks (shared between sessions) and the plan."""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from typing import Any

import streamlit as st

from gis.settings import load_settings
from gis.study import Study
from gis.zoning.blocks import Blocks, make_blocks
from gis.zoning.editor import GridEditor
from gis.zoning.plan import GridPlan


@st.cache_resource(show_spinner=False, max_entries=8)
def get_blocks(_study: Study, key: tuple, rules_key: tuple) -> Blocks:
    """Return the street blocks of the study for these grid rules (never mutated)."""
    return make_blocks(_study.streets, _study.homes, load_settings().grids.with_sizes(rules_key))


def rules_key() -> tuple[int, int, int, int]:
    """Return the household sizes set in the grids view (:attr:`GridRules.sizes`)."""
    ss = st.session_state
    return (int(ss["grid_target"]), int(ss["grid_min"]), int(ss["grid_max"]),
            int(ss["comm_target"]))


class _OpenedBlocks(OrderedDict):
    """Blocks of opened project files by file digest, the last few kept (immutable)."""

    def __setitem__(self, key: str, value: Blocks) -> None:
        super().__setitem__(key, value)
        while len(self) > 32:
            self.popitem(last=False)


@st.cache_resource(show_spinner=False)
def opened_blocks() -> _OpenedBlocks:
    """Return the blocks of project files opened on this server, by content digest.

    Keyed by the file's content, not by the study, so one planner opening a project never
    changes the blocks another session works on; each session keeps its own digest.
    """
    return _OpenedBlocks()


def session_blocks(study: Study, used: tuple) -> Blocks:
    """Return the blocks this session's plan stands on: an opened project's, or generated."""
    ss = st.session_state
    mine = ss.get("grid_blocks")
    if mine is not None and mine[0] == repr(used) and mine[1] in opened_blocks():
        return opened_blocks()[mine[1]]
    return get_blocks(study, used, ss["grid_rules"])


def plan_state() -> dict[str, Any] | None:
    """Return the state of this session's current plan (None: no plan yet)."""
    kept = st.session_state.get("grid_editor")
    return None if kept is None else kept["plans"][kept["pos"]]


def plan_key() -> str:
    """Return a digest of this session's current plan (``""``: none), for cache keys."""
    state = plan_state()
    return "" if state is None else hashlib.sha1(json.dumps(state).encode()).hexdigest()


def session_editor(study: Study, used: tuple) -> GridEditor | None:
    """Return this session's grid editor, with its undo and redo (None: no plan yet)."""
    ss = st.session_state
    if ss.get("grid_editor") is None:
        return None
    rules = load_settings().grids.with_sizes(ss["grid_rules"])
    return GridEditor.from_state(session_blocks(study, used), rules, ss["grid_editor"])


def keep_editor(editor: GridEditor) -> None:
    """Keep the editor (every plan of its undo stack, the position, the history)."""
    st.session_state["grid_editor"] = editor.to_state()


def current_plan(study: Study, used: tuple) -> GridPlan | None:
    """Return the grid plan of this session, if one was generated or opened."""
    ss = st.session_state
    state = plan_state()
    if state is None:
        return None
    rules = load_settings().grids.with_sizes(ss["grid_rules"])
    return GridPlan.from_state(session_blocks(study, used), rules, state)
