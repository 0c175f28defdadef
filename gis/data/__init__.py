"""Data: everything read from files or OpenStreetMap, and the atomic writers.

``sources`` (OpenStreetMap extracts), ``read`` (users' layers), ``write`` (atomic
GeoPackage and file writing, the project lock), ``facilities``, ``poi``, ``households``,
``household_sources``, ``places`` (names found on the map).
"""
