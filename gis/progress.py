"""The one progress callback type every long step takes.

A step calls ``progress(message)`` with a short English sentence (the app translates it
with ``layers.i18n.progress_text``; the command line prints it). ``None`` means quiet.
"""

from __future__ import annotations

from collections.abc import Callable

#: Told what a long step is doing now: ``progress("finding gaps")``.
Progress = Callable[[str], None]
