"""Users' uploads: one folder per session, kept while in use, swept when stale."""

from __future__ import annotations

import contextlib
import hashlib
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import streamlit as st

from gis.settings import Settings, load_settings
from layers.i18n import t
from views.state import CRS_CHOICES, UPLOAD_TYPES, project_file
from views.widgets import choice

#: A session's upload folder not touched for this long belongs to a closed session.
UPLOAD_TTL_S = 24 * 3600


def upload_dir() -> Path:
    """Return the folder of every session's uploads, in the temporary folder."""
    return Path(tempfile.gettempdir()) / "service-circle-uploads"


def session_upload_dir() -> Path:
    """Return this session's upload folder; remove those of sessions closed a day ago."""
    if not st.session_state["upload_session"]:
        st.session_state["upload_session"] = uuid.uuid4().hex
        if upload_dir().is_dir():
            now = time.time()
            for old in upload_dir().iterdir():
                with contextlib.suppress(OSError):
                    if now - old.stat().st_mtime > UPLOAD_TTL_S:
                        shutil.rmtree(old, ignore_errors=True)
    return upload_dir() / st.session_state["upload_session"]


def uploader(widget: str, label: str, **kwargs: Any) -> Any:
    """Draw a file uploader whose key changes when its refused file is dropped.

    The browser refuses a file above the settings' ``max_upload_mb`` before sending it,
    so an over-size file never takes server memory (Streamlit words that refusal in
    English; the limit is written in the box's help in the user's language).
    """
    gen = st.session_state["upload_gen"].get(widget, 0)
    limit = int(load_settings().max_upload_mb)
    return st.file_uploader(label, key=f"{widget}_{gen}" if gen else widget,
                            max_upload_size=limit, **kwargs)


def saved_upload(upload: object, settings: Settings, lang: str, widget: str) -> str | None:
    """Keep an uploaded file on disk under its own name, in a folder named by its content.

    The folder is the session's own, so that dropping the file deletes only this user's
    copy. Files larger than the settings' limit are refused with a message and freed.
    """
    if upload is None:
        return None
    size_mb = upload.size / 1e6  # type: ignore[attr-defined]
    if size_mb > settings.max_upload_mb:
        name = upload.name  # type: ignore[attr-defined]
        st.sidebar.error(t("too_large", lang, name=name, size=f"{size_mb:.0f}",
                           limit=f"{settings.max_upload_mb:.0f}"))
        _free_upload(getattr(upload, "file_id", None))
        return None
    data = upload.getvalue()  # type: ignore[attr-defined]
    folder = session_upload_dir() / hashlib.sha1(data).hexdigest()[:16]
    folder.mkdir(parents=True, exist_ok=True)
    folder.parent.touch()
    # The user's own file name is kept, so that messages name the file they chose.
    path = folder / Path(upload.name).name  # type: ignore[attr-defined]
    if not path.exists():
        path.write_bytes(data)
    del data
    st.session_state["upload_files"][str(path)] = (widget, getattr(upload, "file_id", None))
    return str(path)


def _free_upload(file_id: str | None) -> None:
    """Drop an uploaded file from the server's memory now, not when the session ends."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    if ctx is not None and file_id and getattr(ctx, "uploaded_file_mgr", None) is not None:
        with contextlib.suppress(Exception):
            remove = getattr(ctx.uploaded_file_mgr, "remove_file", None)
            if remove is not None:
                remove(ctx.session_id, file_id)


def drop_uploads(keep: Iterable[object], refused: str | None = None) -> None:
    """Delete this session's uploaded files that no input uses any more.

    ``refused``: the name of a file a loader refused; its copy is deleted, its memory
    freed and its upload box emptied, whether or not an input still names it.
    """
    keep_paths = {str(k) for k in keep if k}
    files = st.session_state["upload_files"]
    for path, (widget, file_id) in list(files.items()):
        is_refused = refused is not None and Path(path).name == refused
        if path in keep_paths and not is_refused:
            continue
        shutil.rmtree(Path(path).parent, ignore_errors=True)
        del files[path]
        if is_refused:
            _free_upload(file_id)
            gen = st.session_state["upload_gen"]
            gen[widget] = gen.get(widget, 0) + 1


def declared_crs(layer: str) -> str | None:
    """Return what the user declared for a layer's coordinates (None: the file's own)."""
    chosen = st.session_state[f"{layer}_crs"]
    if chosen == "auto":
        return None
    if chosen == "epsg":
        code = str(st.session_state.get(f"{layer}_epsg", "")).strip().upper()
        code = code.removeprefix("EPSG:").strip()
        return f"EPSG:{code}" if code else None
    return str(chosen)


def layer_upload(layer: str, settings: Settings, lang: str) -> object:
    """Draw a layer's upload box with its coordinate-system choice; return the upload."""
    up = uploader(f"{layer}_upload", t(f"upload_{layer}", lang), type=UPLOAD_TYPES,
                  help=t("upload_limit_help", lang, limit=f"{settings.max_upload_mb:.0f}"))
    choice("selectbox", st, f"{layer}_crs", t("declared_crs", lang), CRS_CHOICES,
           lambda c: t(f"crs_{c}", lang), help=t("help_crs", lang))
    if st.session_state[f"{layer}_crs"] == "epsg":
        st.text_input(t("epsg_code", lang), key=f"{layer}_epsg", placeholder="4547")
    return up


def project_file_box(kind: str, settings: Settings, lang: str) -> None:
    """Open, start, and download this session's own project file (open / save as)."""
    path = project_file(kind)
    own = bool(st.session_state.get(f"own_{kind}_project"))
    with st.expander(t("own_project", lang)):
        st.caption(t("own_project_mine" if own else "own_project_shared", lang,
                     name=path.name))
        c1, c2 = st.columns(2)
        if path.exists():
            c1.download_button(t("download_project", lang), path.read_bytes(),
                               file_name=path.name if own else f"{kind}_project.gpkg",
                               mime="application/geopackage+sqlite3",
                               key=f"download_{kind}_project")
        if c2.button(t("new_own_project", lang), key=f"new_{kind}_project"):
            folder = session_upload_dir() / "projects"
            folder.mkdir(parents=True, exist_ok=True)
            st.session_state[f"own_{kind}_project"] = str(folder / f"{kind}_project.gpkg")
            st.rerun()
        up = uploader(f"{kind}_project_upload", t("upload_project", lang), type=["gpkg"])
        if up is not None:
            folder = session_upload_dir() / "projects"
            folder.mkdir(parents=True, exist_ok=True)
            target = folder / Path(up.name).name
            if str(target) != st.session_state.get(f"own_{kind}_project"):
                target.write_bytes(up.getvalue())
                st.session_state[f"own_{kind}_project"] = str(target)
                st.rerun()
