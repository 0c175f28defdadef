"""Limits on what an input file may become once read, checked while it streams.

A file's size on the wire says little: a 200 KB ``.osm.bz2`` can expand to 10 GB of XML
and a 4 MB zip to ten million points. Before a file reaches a parser that commits memory
(pyrosm, osmnx, GDAL), :func:`check_input` reads it as a stream, with memory bounded by
one chunk, and refuses it with an :class:`~gis._errors.InputError` when

- an archive (``.bz2``, ``.gz``, ``.zip`` members, the zlib blocks of an ``.osm.pbf``)
  expands beyond ``max_expanded_mb`` or more than ``max_ratio`` times its size;
- OpenStreetMap XML nests deeper than ``max_xml_depth``, holds more than
  ``max_xml_elements`` elements or declares entities;
- a GIS layer holds more than ``max_features`` features (read from the file's header,
  before its features are read).

The limits live in ``[limits]`` of data/settings.toml. Each refusal carries a message key,
so the app shows it in the user's language.

Examples
--------
>>> from gis.settings import load_settings
>>> from gis.data.sources import default_extract_path
>>> check_input(default_extract_path(), load_settings().limits)["kind"]
'pbf'
"""

from __future__ import annotations

import bz2
import gzip
import struct
import xml.parsers.expat
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from gis._errors import InputError
from gis.settings import Limits

CHUNK = 1 << 20
#: The OSM PBF format's own bounds (wiki.openstreetmap.org/wiki/PBF_Format).
PBF_MAX_HEADER = 64 * 1024
PBF_MAX_BLOB = 32 * 1024 * 1024
#: Expansion below this is never refused for its ratio (small files compress well).
RATIO_FLOOR = 64 * 1024 * 1024
MB = 1e6


def _size(n: float) -> str:
    """Return a byte count as "25 KB" or "68 MB"."""
    return f"{n / 1e3:,.0f} KB" if n < MB else f"{n / MB:,.0f} MB"


def _bomb(path: Path, expanded: float, packed: float, limits: Limits) -> InputError:
    msg = (f"{path.name}: refused, it expands to more than {_size(expanded)} "
           f"from {_size(packed)} (limits: {limits.max_expanded_mb:,.0f} MB and "
           f"{limits.max_ratio:,.0f} times the packed size, [limits] in data/settings.toml). "
           "A real extract of a district is far smaller; export the area again, or cut it "
           "into smaller areas.")
    return InputError(msg, key="bomb", where=path.name, size=_size(expanded),
                      packed=_size(packed), limit=f"{limits.max_expanded_mb:,.0f}")


def _guard(path: Path, expanded: float, packed: float, limits: Limits) -> None:
    if expanded > limits.max_expanded_mb * MB or (
            expanded > RATIO_FLOOR and expanded > limits.max_ratio * max(packed, 1.0)):
        raise _bomb(path, expanded, packed, limits)


def _stream(path: Path, raw: IO[bytes], opened: IO[bytes], limits: Limits) -> Iterator[bytes]:
    """Yield the decompressed chunks of ``opened``, refusing a bomb as it expands."""
    expanded = 0
    while True:
        try:
            chunk = opened.read(CHUNK)
        except (OSError, EOFError, zlib.error, ValueError) as err:
            msg = (f"{path.name}: the compressed file is corrupt or truncated "
                   f"({type(err).__name__}: {err}); download or export it again.")
            raise InputError(msg, key="bad_archive", where=path.name) from err
        if not chunk:
            return
        expanded += len(chunk)
        _guard(path, expanded, raw.tell(), limits)
        yield chunk


def _chunks(path: Path, limits: Limits) -> Iterator[bytes]:
    """Yield a file's bytes, decompressed for ``.bz2`` and ``.gz``, within the limits."""
    suffix = path.suffix.lower()
    with path.open("rb") as raw:
        if suffix == ".bz2":
            with bz2.open(raw, "rb") as opened:
                yield from _stream(path, raw, opened, limits)
        elif suffix == ".gz":
            with gzip.open(raw, "rb") as opened:
                yield from _stream(path, raw, opened, limits)  # type: ignore[arg-type]
        else:
            while chunk := raw.read(CHUNK):
                yield chunk


def check_xml(path: Path, limits: Limits) -> dict[str, int]:
    """Stream an OSM XML file (plain or ``.bz2``) through expat, checking its shape.

    Returns the expanded size, element count and deepest nesting. Entity declarations
    (the "billion laughs" and external-entity attacks) are refused.

    Parameters
    ----------
    path
        The XML file.
    limits
        The limits.

    Returns
    -------
    dict
        ``expanded`` (bytes), ``elements`` and ``depth``.
    """
    parser = xml.parsers.expat.ParserCreate()
    state = {"depth": 0, "deepest": 0, "elements": 0, "bytes": 0}

    def start(_name: str, _attrs: object) -> None:
        state["depth"] += 1
        state["elements"] += 1
        if state["depth"] > state["deepest"]:
            state["deepest"] = state["depth"]
            if state["depth"] > limits.max_xml_depth:
                msg = (f"{path.name}: refused, its elements nest more than "
                       f"{limits.max_xml_depth} deep (OpenStreetMap XML nests 3 deep); "
                       "export the area again from OpenStreetMap.")
                raise InputError(msg, key="xml_too_deep", where=path.name,
                                 limit=str(limits.max_xml_depth))
        if state["elements"] > limits.max_xml_elements:
            msg = (f"{path.name}: refused, it holds more than {limits.max_xml_elements:,} "
                   "XML elements; for an area this large use an .osm.pbf extract, or cut "
                   "the area into smaller ones.")
            raise InputError(msg, key="xml_too_many", where=path.name,
                             limit=f"{limits.max_xml_elements:,}")

    def end(_name: str) -> None:
        state["depth"] -= 1

    def entity(*_args: object) -> None:
        msg = (f"{path.name}: refused, it declares XML entities, which OpenStreetMap "
               "files never do; export the area again from OpenStreetMap.")
        raise InputError(msg, key="xml_entities", where=path.name)

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.EntityDeclHandler = entity
    parser.ExternalEntityRefHandler = entity  # type: ignore[assignment]
    try:
        for chunk in _chunks(path, limits):
            state["bytes"] += len(chunk)
            parser.Parse(chunk, False)
        parser.Parse(b"", True)
    except xml.parsers.expat.ExpatError as err:
        msg = (f"{path.name}: cannot be read as OpenStreetMap XML (not well-formed: "
               f"{xml.parsers.expat.ErrorString(err.code)} at line {err.lineno}); the file may "
               "be truncated. Export the area again (.osm or .osm.bz2).")
        raise InputError(msg, key="bad_xml", where=path.name) from err
    return {"expanded": state["bytes"], "elements": state["elements"],
            "depth": state["deepest"]}


def _varint(buf: bytes, i: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if i >= len(buf) or shift > 63:
            msg = "truncated varint"
            raise ValueError(msg)
        b = buf[i]
        value |= (b & 0x7F) << shift
        i += 1
        if not b & 0x80:
            return value, i
        shift += 7


def _fields(buf: bytes) -> dict[int, int | bytes]:
    """Decode the top-level fields of a protobuf message (varints and byte strings)."""
    out: dict[int, int | bytes] = {}
    i = 0
    while i < len(buf):
        tag, i = _varint(buf, i)
        number, wire = tag >> 3, tag & 7
        if wire == 0:
            out[number], i = _varint(buf, i)
        elif wire == 2:
            length, i = _varint(buf, i)
            if i + length > len(buf):
                msg = "field runs past the message"
                raise ValueError(msg)
            out[number] = buf[i:i + length]
            i += length
        elif wire == 5:
            i += 4
        elif wire == 1:
            i += 8
        else:
            msg = f"wire type {wire}"
            raise ValueError(msg)
    return out


def _header_bbox(blob: dict[int, int | bytes]) -> tuple[float, float, float, float] | None:
    """Return the (west, south, east, north) box an OSMHeader block declares, if any."""
    data = blob.get(3)
    raw_size = blob.get(2)
    try:
        if isinstance(data, bytes):
            limit = raw_size if isinstance(raw_size, int) else PBF_MAX_BLOB
            plain: int | bytes | None = zlib.decompressobj().decompress(data, limit)
        else:
            plain = blob.get(1)
        if not isinstance(plain, bytes):
            return None
        box = _fields(plain).get(1)
        if not isinstance(box, bytes):
            return None
        sides = _fields(box)

        def degrees(n: int) -> float:
            value = sides.get(n)
            if not isinstance(value, int):
                raise ValueError(n)
            return ((value >> 1) ^ -(value & 1)) * 1e-9  # zigzag sint64, nanodegrees

        return degrees(1), degrees(4), degrees(2), degrees(3)
    except (ValueError, zlib.error):
        return None


def check_pbf(path: Path, limits: Limits) -> dict[str, object]:
    """Walk the blocks of an ``.osm.pbf`` and add up what they declare they expand to.

    Each block is a header (at most 64 KiB) and a blob (at most 32 MiB, expanding to at
    most 32 MiB, by the format); a block past the end of the file is a truncated file.
    Only headers and blob fields are decoded, not the compressed data.

    Parameters
    ----------
    path
        The ``.osm.pbf`` file.
    limits
        The limits.

    Returns
    -------
    dict
        ``expanded`` (bytes), ``blocks`` and the header's ``bbox`` (or None).
    """
    size = path.stat().st_size
    expanded = blocks = 0
    bbox: tuple[float, float, float, float] | None = None
    with path.open("rb") as f:
        try:
            while True:
                head = f.read(4)
                if not head:
                    break
                if len(head) < 4:
                    msg = "truncated block length"
                    raise ValueError(msg)
                (hlen,) = struct.unpack(">I", head)
                if not 0 < hlen <= PBF_MAX_HEADER:
                    msg = f"block header of {hlen} bytes"
                    raise ValueError(msg)
                header = _fields(f.read(hlen))
                kind = header.get(1)
                datasize = header.get(3)
                if not isinstance(kind, bytes) or not isinstance(datasize, int):
                    msg = "block header without type or size"
                    raise ValueError(msg)
                if not 0 < datasize <= PBF_MAX_BLOB or f.tell() + datasize > size:
                    msg = f"block of {datasize} bytes at byte {f.tell()}"
                    raise ValueError(msg)
                blob = _fields(f.read(datasize))
                raw_size = blob.get(2)
                if kind == b"OSMHeader" and bbox is None:
                    bbox = _header_bbox(blob)
                if isinstance(raw_size, int):
                    if raw_size > PBF_MAX_BLOB:
                        msg = f"block expanding to {raw_size} bytes"
                        raise ValueError(msg)
                    expanded += raw_size
                else:
                    plain = blob.get(1)
                    expanded += len(plain) if isinstance(plain, bytes) else datasize
                blocks += 1
                _guard(path, expanded, f.tell(), limits)
        except InputError:
            raise
        except (ValueError, struct.error) as err:
            msg = (f"{path.name}: cannot be read as an OpenStreetMap .osm.pbf file ({err}). "
                   "The file may be corrupt or truncated; download or export it again.")
            raise InputError(msg, key="bad_pbf", where=path.name) from err
    if blocks == 0:
        msg = f"{path.name}: the file is empty; export the area again from OpenStreetMap."
        raise InputError(msg, key="area_empty", where=path.name)
    return {"expanded": expanded, "blocks": blocks, "bbox": bbox}


def check_zip(path: Path, limits: Limits) -> dict[str, int]:
    """Check a zip's members: declared and real expanded sizes, streamed member by member.

    Parameters
    ----------
    path
        The zip file.
    limits
        The limits.

    Returns
    -------
    dict
        ``expanded`` (bytes) and ``members``.
    """
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            declared = sum(i.file_size for i in infos)
            packed = max(path.stat().st_size, 1)
            _guard(path, declared, packed, limits)
            expanded = 0
            for info in infos:
                if info.is_dir():
                    continue
                with zf.open(info) as member:
                    while chunk := member.read(CHUNK):
                        expanded += len(chunk)
                        _guard(path, expanded, packed, limits)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError,
            RuntimeError) as err:
        msg = (f"{path.name}: not a valid zip file ({err}); zip the layer's files again.")
        raise InputError(msg, key="bad_zip", where=path.name) from err
    return {"expanded": expanded, "members": len(infos)}


def check_features(path: Path, source: str | Path, limits: Limits,
                   layer: str | None = None) -> int:
    """Return a layer's feature count from its header; refuse it above ``max_features``.

    Parameters
    ----------
    path
        The file, for the message.
    source
        What pyogrio opens (the file, or a path inside a zip).
    limits
        The limits.
    layer
        The layer, or None for the first.

    Returns
    -------
    int
        The feature count.
    """
    import pyogrio

    try:
        info = pyogrio.read_info(source, layer=layer)
    except Exception:  # noqa: BLE001 - the reader that follows names the problem
        return -1
    count = int(info.get("features", -1))
    _at_most(path, count, limits.max_features, "the layer holds {n} features",
             "clip it to the study area first")
    return count


def check_rows(path: Path, rows: int, limits: Limits) -> None:
    """Refuse a table (a POI export, a household table) of more than ``max_features`` rows.

    Parameters
    ----------
    path
        The file, for the message.
    rows
        Its row count.
    limits
        The limits.
    """
    _at_most(path, rows, limits.max_features, "the table holds {n} rows",
             "keep only the study area's rows")


def _at_most(path: Path, count: int, limit: int, what: str, fix: str) -> None:
    """Refuse ``path`` when ``count`` features or rows exceed ``max_features``."""
    if count > limit:
        msg = (f"{path.name}: refused, {what.format(n=f'{count:,}')}, more than the limit "
               f"of {limit:,} ([limits] max_features in data/settings.toml); {fix}.")
        raise InputError(msg, key="too_many_features", where=path.name, count=f"{count:,}",
                         limit=f"{limit:,}")


def check_vertices(path: Path, geometries: object, limits: Limits) -> int:
    """Refuse a layer whose geometries hold more than ``max_vertices`` coordinates.

    Parameters
    ----------
    path
        The file, for the message.
    geometries
        The layer's geometries.
    limits
        The limits.

    Returns
    -------
    int
        The coordinate count.
    """
    import numpy as np
    import shapely

    count = int(shapely.get_num_coordinates(np.asarray(geometries)).sum())
    if count > limits.max_vertices:
        msg = (f"{path.name}: refused, its geometries hold {count:,} coordinates, more than "
               f"the limit of {limits.max_vertices:,} ([limits] max_vertices in "
               "data/settings.toml); simplify or clip the layer first.")
        raise InputError(msg, key="too_many_vertices", where=path.name, count=f"{count:,}",
                         limit=f"{limits.max_vertices:,}")
    return count


def check_input(path: str | Path, limits: Limits) -> dict[str, object]:
    """Check a study area or layer file against the limits before a parser reads it.

    Returns what was measured (``kind`` and sizes); raises :class:`InputError` with a
    message key for a refusal. Files of other kinds (GeoPackage, GeoJSON, CSV) are
    checked by size only here; their feature counts by :func:`check_features`.

    Parameters
    ----------
    path
        The file.
    limits
        The limits.

    Returns
    -------
    dict
        ``kind`` and what was measured.
    """
    p = Path(path)
    name = p.name.lower()
    if not p.is_file():
        return {"kind": "missing"}
    if name.endswith(".pbf"):
        return {"kind": "pbf", **check_pbf(p, limits)}
    if name.endswith((".osm", ".xml", ".osm.bz2")) or (
            name.endswith(".bz2") and not name.endswith(".pbf.bz2")):
        return {"kind": "xml", **check_xml(p, limits)}
    if name.endswith(".zip"):
        return {"kind": "zip", **check_zip(p, limits)}
    if name.endswith((".xlsx", ".xlsm")):  # a workbook is a zip of XML
        try:
            return {"kind": "zip", **check_zip(p, limits)}
        except InputError as err:
            if err.key != "bad_zip":
                raise
            return {"kind": "broken"}  # the table reader names what is wrong
    if name.endswith((".gz", ".bz2")):
        expanded = sum(len(c) for c in _chunks(p, limits))
        return {"kind": "compressed", "expanded": expanded}
    return {"kind": "plain", "expanded": p.stat().st_size}
