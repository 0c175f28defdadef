"""Network and access: the walking network, how homes reach it, walled compounds.

``graph`` (the walking network, attaching points to edges, multi-source search),
``access`` (the Access object: snap limit, gates, pieces), ``compounds`` (walled
compounds and their gates).
"""
