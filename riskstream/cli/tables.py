"""Plain-text tables for the command line."""
from __future__ import annotations


def format_table(header: list[str], rows: list[tuple]) -> str:
    """Columns left-aligned to their widest value, two spaces apart, no trailing spaces."""
    cells = [header] + [[str(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    return "\n".join("  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip() for row in cells)
