"""Run the command line: python -m gis."""

from gis.cli import main

raise SystemExit(main())
