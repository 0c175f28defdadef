"""Start the app's server with its default study area loading at once (``make run``).

``streamlit run app.py`` runs nothing until the first browser connects: the first viewer
then waits for the imports, the study area's load, its coverage and its drawn map. Here
the server starts as ``streamlit run`` would, and a thread meanwhile does that work into
the caches every session shares, exactly as the first session would have asked for it
(the default area, threshold, walking profile, language and tiles). A viewer who comes
while it runs waits for the same work, not for a second copy of it. Any failure is left
to the first session, which will show it as usual.

Run ``python -m views.serve [streamlit run options]``.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from pathlib import Path

APP = Path(__file__).resolve().parent.parent / "app.py"
#: Longest the warm-up waits for Streamlit's runtime to exist (seconds).
RUNTIME_WAIT_S = 60.0

log = logging.getLogger(__name__)


def warm() -> None:
    """Load the default study area and draw its first coverage map into the shared caches.

    The same calls, with the same arguments, as a new session on the coverage view makes
    (its defaults from ``views.state.session_defaults``), so the session finds them done.
    """
    from gis.settings import load_settings
    from views.coverage import warm_coverage
    from views.state import get_coverage, session_defaults, study_cache

    settings = load_settings()
    new = session_defaults(settings)
    inputs = new["good_inputs"]
    assert isinstance(inputs, tuple)
    study = study_cache().get(inputs)
    result = get_coverage(study, inputs, float(str(new["threshold_min"])), None,
                          str(new["profile"]), str(new["gates"]))
    warm_coverage(study, inputs, result, settings, new)


def _warm_when_ready() -> None:
    """Once Streamlit's runtime exists, :func:`warm` (any error is left to the sessions).

    The map's component (streamlit-folium's) registers itself with the runtime only when
    imported within a script run: imported first here, it would never be served (the map
    stays blank, the browser gets 404), so it is registered here by hand.
    """
    try:
        from streamlit import runtime

        deadline = time.monotonic() + RUNTIME_WAIT_S
        while not runtime.exists():
            if time.monotonic() > deadline:
                return
            time.sleep(0.05)
        import streamlit_folium

        runtime.get_instance().component_registry.register_component(
            streamlit_folium._component_func)
        warm()
    except Exception:  # noqa: BLE001 (the first session meets the error and shows it)
        log.warning("warming the default study area failed; the first session will load it",
                    exc_info=True)


def main(argv: list[str] | None = None) -> None:
    """Run the app's server (``streamlit run app.py`` with ``argv``) and warm it meanwhile.

    Parameters
    ----------
    argv
        Options for ``streamlit run`` (default: the command line's).
    """
    from streamlit.web import cli

    threading.Thread(target=_warm_when_ready, name="warm", daemon=True).start()
    cli.main(["run", str(APP), *(sys.argv[1:] if argv is None else argv)],
             prog_name="streamlit")


if __name__ == "__main__":
    main()
