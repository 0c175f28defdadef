"""Planning: new station sites and what-if scenarios.

``model`` (the maximal and set covering models and their solvers), ``siting`` (candidate
sites along streets, the coverage matrix, the pipeline from a coverage result),
``scenarios`` (added, moved and closed facilities, incrementally), ``scenario_edits``
(a scenario as map clicks).
"""
