"""Reading raw product rows from wherever they live, keeping every row, good or bad.

A source is "embedded" (the generated catalogue), a local JSONL/CSV/Parquet file, or a Hugging
Face dataset id; several files, separated by commas, are pooled into one source. Rows that cannot
even be parsed are not dropped: they come back with their problem named, so curation counts them
beside every other rejection.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from pricer.data.catalogue import PRICE_DISPERSION, generate_catalogue

EMBEDDED = "embedded"
REQUIRED_COLUMNS = ("text", "price")
FILE_TYPES = (".jsonl", ".json", ".csv", ".parquet")
SEPARATOR = ","
# What Python's surrogateescape error handler makes of bytes that are not UTF-8.
_UNDECODABLE = re.compile(r"[\udc80-\udcff]")


class SourceError(ValueError):
    """The source as a whole cannot be read: the message names it and says why."""


@dataclass
class RawRow:
    line: int
    fields: dict = field(default_factory=dict)
    problem: str | None = None  # set when the row could not be parsed at all
    origin: str = ""  # the file the row came from, for messages that name it


def source_parts(source: str) -> list[str]:
    """The files (or the one embedded catalogue or dataset id) a source pools, in order."""
    parts = [part.strip() for part in source.split(SEPARATOR)]
    if not all(parts):
        raise SourceError(f"{source!r}: an empty entry in a comma-separated source")
    return parts


def read_source(
    source: str,
    catalogue_size: int = 400,
    seed: int = 7,
    price_dispersion: float = PRICE_DISPERSION,
) -> list[RawRow]:
    """Every row of `source`; the other arguments shape the embedded catalogue only."""
    parts = source_parts(source)
    return [
        row for part in parts for row in _read_one(part, catalogue_size, seed, price_dispersion)
    ]


def _read_one(source: str, catalogue_size: int, seed: int, price_dispersion: float) -> list[RawRow]:
    if source == EMBEDDED:
        rows = generate_catalogue(size=catalogue_size, seed=seed, price_dispersion=price_dispersion)
        return [RawRow(line=i + 1, fields=row) for i, row in enumerate(rows)]
    path = Path(source).expanduser()
    if path.suffix.lower() in FILE_TYPES or path.exists():
        return _read_file(path)
    if source.count("/") == 1:
        return _read_hugging_face(source)
    raise SourceError(f"{source}: no such file, and not a Hugging Face dataset id (owner/name)")


def source_fingerprint(
    source: str,
    catalogue_size: int = 400,
    seed: int = 7,
    price_dispersion: float = PRICE_DISPERSION,
) -> str:
    """A content hash: it changes when the data changes, and only then (mtime plays no part)."""
    digest = hashlib.sha256()
    for part in source_parts(source):
        path = Path(part).expanduser()
        if part != EMBEDDED and path.is_file():
            with path.open("rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
        else:
            for row in _read_one(part, catalogue_size, seed, price_dispersion):
                digest.update(json.dumps(row.fields, sort_keys=True, default=str).encode())
    return digest.hexdigest()[:16]


def _read_file(path: Path) -> list[RawRow]:
    if path.is_dir():
        raise SourceError(f"{path}: a directory, not a file; name the files, comma-separated")
    if not path.is_file():
        raise SourceError(f"{path}: file not found")
    suffix = path.suffix.lower()
    try:
        if suffix in (".jsonl", ".json"):
            rows = list(_read_jsonl(path))
        elif suffix == ".csv":
            rows = _read_table(path, "csv")
        elif suffix == ".parquet":
            rows = _read_table(path, "parquet")
        else:
            raise SourceError(f"{path}: unsupported file type {suffix!r}; use one of {FILE_TYPES}")
    except OSError as error:  # unreadable: permissions, a vanished file, a failing disk
        raise SourceError(f"{path}: cannot be read: {error.strerror or error}") from error
    _require_columns(path, rows)
    for row in rows:
        row.origin = str(path)
    return rows


def _read_jsonl(path: Path) -> Iterator[RawRow]:
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                fields = json.loads(raw.decode("utf-8"))
            except UnicodeDecodeError:
                yield RawRow(line=number, problem="invalid_utf8")
                continue
            except json.JSONDecodeError:
                yield RawRow(line=number, problem="malformed_json")
                continue
            if isinstance(fields, dict):
                yield RawRow(line=number, fields=fields)
            else:
                yield RawRow(line=number, problem="malformed_json")


def _read_table(path: Path, kind: str) -> list[RawRow]:
    import pandas as pd

    try:
        if kind == "csv":
            # Cells stay text, empty cells stay empty, and bytes that are not UTF-8 survive as
            # surrogates, so the row holding them is rejected alone instead of the whole file.
            frame = pd.read_csv(
                path, dtype=object, keep_default_na=False, encoding_errors="surrogateescape"
            )
        else:
            frame = pd.read_parquet(path)
    except Exception as error:  # pandas raises many types; the user needs the file and the cause
        raise SourceError(f"{path}: cannot be read as {kind}: {error}") from error
    frame = frame.astype(object).where(frame.notna(), None)
    # Line numbers count from the first data row, after a CSV header.
    first = 2 if kind == "csv" else 1
    return [_table_row(i + first, row) for i, row in enumerate(frame.to_dict("records"))]


def _table_row(line: int, fields: dict) -> RawRow:
    if any(isinstance(value, str) and _UNDECODABLE.search(value) for value in fields.values()):
        return RawRow(line=line, problem="invalid_utf8")
    return RawRow(line=line, fields=fields)


def _read_hugging_face(dataset_id: str) -> list[RawRow]:
    import datasets

    try:
        loaded = datasets.load_dataset(dataset_id)
    except Exception as error:  # not found, gated, offline: each its own type in `datasets`
        raise SourceError(f"{dataset_id}: cannot load the Hugging Face dataset: {error}") from error
    rows: list[RawRow] = []
    for split in loaded.values():  # every split: pricer draws its own train/validation/test
        rows.extend(RawRow(line=len(rows) + 1, fields=dict(record)) for record in split)
    _require_columns(Path(dataset_id), rows)
    return rows


def _require_columns(origin: Path, rows: list[RawRow]) -> None:
    parsed = [row.fields for row in rows if row.problem is None]
    if not parsed:
        problems = Counter(row.problem for row in rows)
        found = ", ".join(f"{n} {problem}" for problem, n in problems.items()) or "an empty file"
        raise SourceError(f"{origin}: no readable rows ({found})")
    seen = set().union(*(fields.keys() for fields in parsed))
    missing = [column for column in REQUIRED_COLUMNS if column not in seen]
    if missing:
        raise SourceError(f"{origin}: missing column(s) {missing}; found {sorted(seen)}")
