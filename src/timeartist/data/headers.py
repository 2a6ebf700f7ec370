"""The text layout shared by ``.ts`` and ``.tsf`` files: ``#`` comments, ``@key value`` header lines,
``@data``, then one record per line. Line numbers are kept so that errors can point at the line."""

from __future__ import annotations

from pathlib import Path

from timeartist.data.paths import require_file


def read_header_and_data(path: str | Path, layout: str) -> tuple[list[tuple[int, str, str]], list[tuple[int, str]]]:
    """Return ``[(line_no, key (lower case), value)]`` for the header and ``[(line_no, text)]`` after ``@data``.

    ``layout`` describes the expected file for the FileNotFoundError / ValueError messages.
    """
    path = require_file(path, layout)
    header: list[tuple[int, str, str]] = []
    data: list[tuple[int, str]] = []
    in_data = False
    with open(path, encoding="utf-8", errors="replace") as handle:
        for line_no, raw in enumerate(handle, start=1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            if in_data:
                data.append((line_no, line))
                continue
            if not line.startswith("@"):
                raise ValueError(f"{path}:{line_no}: expected a header line starting with '@' before @data, got {line[:40]!r}")
            key, _, value = line[1:].partition(" ")
            if key.lower() == "data":
                in_data = True
            else:
                header.append((line_no, key.lower(), value.strip()))
    if not in_data:
        raise ValueError(f"{path}: no @data line; expected {layout}")
    return header, data
