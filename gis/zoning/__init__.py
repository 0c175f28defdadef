"""Zoning: communities and grids drawn along streets, edited by hand, kept and shared.

``blocks`` (street blocks, splitting, geometry measures) -> ``cluster`` (weighted
k-means, balanced cuts) -> ``partition`` (contiguous, balanced, compact regions) ->
``plan`` (the plan: blocks labelled with communities and grids, codes, summaries) ->
``generate`` (the whole plan from blocks and rules); ``editor`` (checked edits, undo),
``project`` (the project file), ``exports`` (files to share, no personal data).
"""
