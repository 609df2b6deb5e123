"""Reading a time series from CSV for ``rnnkit forecast``: dates, a regular time grid, missing values, checks.

Standard library ``csv`` and NumPy only. The rules, each reported (``Series.notes``) rather than applied silently:

- the date column is named (``--date-column Month``), composed from integer columns (``--date-column
  year,month,day,hour``), or by default the first column when its first value parses as a date
  (``YYYY-MM``, ``YYYY-MM-DD``, ``YYYY-MM-DD HH:MM[:SS]``); ``none`` (or no such column) numbers the rows;
- dates must increase strictly: a duplicated or out-of-order date is a one-line ``DataError`` naming both rows;
- the step is the most common difference between dates; a longer gap that is a whole number of steps becomes
  missing rows, any other gap is an error;
- ``NA``, ``NaN``, ``null`` and empty cells are missing values; anything else that is not a number is an error
  naming the row and column; leading rows with a missing value are dropped, later ones are filled with the last
  observed value (last observation carried forward: it uses the past only, so it cannot leak the future).

>>> import os, tempfile
>>> path = os.path.join(tempfile.mkdtemp(), "s.csv")
>>> _ = open(path, "w").write("Month,Sales\\n2020-01,1\\n2020-02,NA\\n2020-04,5\\n")
>>> series = read_series(path, "Sales")
>>> series.values[:, 0].tolist(), [format_date(d, series.unit) for d in series.dates]
([1.0, 1.0, 1.0, 5.0], ['2020-01', '2020-02', '2020-03', '2020-04'])
>>> series.notes
['2 missing value(s) of Sales (1 in the file, 1 from 1 gap(s) in the dates) filled with the last observed value']
"""
from __future__ import annotations

import csv
import dataclasses
import re

import numpy as np

from rnnkit.errors import DataError

MISSING = {"", "na", "nan", "null", "none", "n/a", "?"}
DATE_FORMATS = (  # (pattern, numpy unit)
    (re.compile(r"^\d{4}-\d{2}$"), "M"),
    (re.compile(r"^\d{4}-\d{2}-\d{2}$"), "D"),
    (re.compile(r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2})?$"), "s"),
)
PART_NAMES = ("year", "month", "day", "hour", "minute")


@dataclasses.dataclass
class Series:
    """A series on a regular grid: ``values (T, C)`` for ``columns``, ``dates (T,)`` (datetime64 in ``unit``, or
    row numbers with unit ``"row"``), the grid ``step`` in that unit, and the notes of what was done to it."""

    columns: list
    values: np.ndarray
    dates: np.ndarray
    unit: str
    step: int
    date_column: str
    notes: list
    missing: dict  # column -> count of missing values filled (gaps in the dates included)


def parse_date(text: str):
    """``(numpy.datetime64, unit)`` for an ISO-like date, or None."""
    text = text.strip()
    for pattern, unit in DATE_FORMATS:
        if pattern.match(text):
            try:
                return np.datetime64(text.replace(" ", "T"), unit), unit
            except ValueError:
                return None
    return None


def format_date(date, unit: str) -> str:
    """A date as the CSV wrote it: ``1949-01``, ``1981-01-01``, ``2014-12-31 23:00``; row numbers as numbers."""
    if unit == "row":
        return str(int(date))
    if unit in ("h", "m", "s"):
        return str(np.datetime64(date, "m")).replace("T", " ")
    return str(np.datetime64(date, unit))


def _read_rows(path: str):
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = [row for row in csv.reader(f) if row and any(cell.strip() for cell in row)]
    except UnicodeDecodeError as error:
        raise DataError(f"{path} is not a UTF-8 text CSV file ({error.reason} at byte {error.start})") from None
    except csv.Error as error:
        raise DataError(f"{path} is not a readable CSV file: {error}") from None
    if len(rows) < 2:
        raise DataError(f"{path} has {len(rows)} line(s); expected a header line and at least one row of values")
    header = [name.strip() for name in rows[0]]
    for number, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise DataError(f"{path} line {number} has {len(row)} fields; the header has {len(header)}")
    return header, rows[1:]


def _column_index(header, name: str, path: str, what: str) -> int:
    if name not in header:
        raise DataError(f"{path} has no column {name!r} ({what}); its columns are: {', '.join(header)}")
    return header.index(name)


def _dates(header, rows, date_column, path):
    """``(dates, unit, name)``: parsed dates, or row numbers (unit "row") when there is no date column."""
    if date_column is not None and date_column.lower() == "none":
        return np.arange(len(rows)), "row", "none"
    if date_column and "," in date_column:  # composed from integer parts: year,month[,day[,hour[,minute]]]
        names = [n.strip() for n in date_column.split(",")]
        if not 2 <= len(names) <= 5:
            raise DataError(f"--date-column {date_column!r}: give 2 to 5 columns (year,month[,day[,hour[,minute]]])")
        indices = [_column_index(header, n, path, "a date part") for n in names]
        unit = {2: "M", 3: "D", 4: "h", 5: "m"}[len(names)]
        dates = []
        for number, row in enumerate(rows, start=2):
            try:
                parts = [int(float(row[i])) for i in indices] + [1, 1, 0, 0][len(names) - 2:]
                text = "{:04d}-{:02d}-{:02d}T{:02d}:{:02d}".format(*parts[:5])
                dates.append(np.datetime64(text, unit))
            except ValueError:
                raise DataError(f"{path} line {number}: the date parts {', '.join(names)} = "
                                f"{', '.join(row[i] for i in indices)} are not a valid date") from None
        return np.array(dates), unit, date_column
    if date_column:
        index = _column_index(header, date_column, path, "--date-column")
    else:
        index = 0
        if parse_date(rows[0][0]) is None:  # no date column: the rows are the time steps
            return np.arange(len(rows)), "row", "none"
    dates, unit = [], None
    for number, row in enumerate(rows, start=2):
        parsed = parse_date(row[index])
        if parsed is None or (unit is not None and parsed[1] != unit):
            raise DataError(f"{path} line {number}: {row[index]!r} in date column {header[index]!r} is not a date "
                            f"like the first one ({rows[0][index]!r}; formats YYYY-MM, YYYY-MM-DD, "
                            "YYYY-MM-DD HH:MM[:SS])")
        dates.append(parsed[0])
        unit = parsed[1]
    return np.array(dates), unit, header[index]


def _numbers(rows, index: int, name: str, path: str) -> np.ndarray:
    out = np.empty(len(rows))
    for number, row in enumerate(rows, start=2):
        cell = row[index].strip()
        if cell.lower() in MISSING:
            out[number - 2] = np.nan
            continue
        try:
            out[number - 2] = float(cell)
        except ValueError:
            raise DataError(f"{path} line {number}: column {name!r} holds {cell!r}, which is not a number "
                            "(missing values may be written NA or left empty)") from None
        if not np.isfinite(out[number - 2]):
            raise DataError(f"{path} line {number}: column {name!r} holds {cell!r}; expected a finite number")
    return out


def _regular_grid(dates, unit, values, path, rows_offset=2):
    """Check the order of ``dates``, find the step, and insert NaN rows for whole missing steps."""
    if unit == "row":
        return dates, values, 1, np.zeros(len(dates), bool)
    ticks = dates.astype(f"datetime64[{unit}]").astype(np.int64)
    differences = np.diff(ticks)
    bad = np.flatnonzero(differences <= 0)
    if len(bad):
        i = int(bad[0])
        what = "duplicated date" if differences[i] == 0 else "dates out of order"
        raise DataError(f"{path}: {what}: line {i + 1 + rows_offset} has {format_date(dates[i + 1], unit)} after "
                        f"line {i + rows_offset} with {format_date(dates[i], unit)}; sort the file by date and "
                        "remove duplicates")
    if len(differences) == 0:
        return dates, values, 1, np.zeros(len(dates), bool)
    steps, counts = np.unique(differences, return_counts=True)
    step = int(steps[np.argmax(counts)])
    irregular = np.flatnonzero(differences % step != 0)
    if len(irregular):
        i = int(irregular[0])
        raise DataError(f"{path}: irregular dates: line {i + 1 + rows_offset} ({format_date(dates[i + 1], unit)}) "
                        f"is not a whole number of steps ({step} {unit}) after line {i + rows_offset} "
                        f"({format_date(dates[i], unit)})")
    positions = (ticks - ticks[0]) // step
    total = int(positions[-1]) + 1
    grid = np.full((total, values.shape[1]), np.nan)
    grid[positions] = values
    grid_dates = (ticks[0] + step * np.arange(total)).astype(f"datetime64[{unit}]")
    inserted = np.ones(total, bool)
    inserted[positions] = False
    return grid_dates, grid, step, inserted


def read_series(path: str, target: str, features=(), date_column: str | None = None) -> Series:
    """The ``target`` (first) and ``features`` columns of the CSV at ``path`` on a regular, gap-free grid."""
    header, rows = _read_rows(path)
    columns = [target] + [f for f in features if f != target]
    indices = [_column_index(header, name, path, "--target" if k == 0 else "--features")
               for k, name in enumerate(columns)]
    dates, unit, date_name = _dates(header, rows, date_column, path)
    if date_name in columns:
        raise DataError(f"column {date_name!r} is the date column; it cannot also be the target or a feature")
    values = np.stack([_numbers(rows, i, name, path) for i, name in zip(indices, columns)], axis=1)  # (T, C)
    dates, values, step, inserted = _regular_grid(dates, unit, values, path)
    notes = []
    complete = np.flatnonzero(~np.isnan(values).any(axis=1))
    if len(complete) == 0:
        raise DataError(f"{path}: no row has a value in every column of {', '.join(columns)}")
    first = int(complete[0])
    if first:
        notes.append(f"dropped the first {first} row(s) (before {format_date(dates[first], unit)}): a value was "
                     "missing and there is nothing earlier to fill it from")
        dates, values, inserted = dates[first:], values[first:], inserted[first:]
    missing = {}
    for k, name in enumerate(columns):
        holes = np.isnan(values[:, k])
        count = int(holes.sum())
        missing[name] = count
        if count:
            last = np.maximum.accumulate(np.where(holes, 0, np.arange(len(holes))))  # index of the last observed
            values[:, k] = values[last, k]
            from_gaps = int(inserted.sum())
            gaps = int(np.sum(np.diff(np.concatenate([[0], inserted.astype(int)])) == 1))
            where = (f" ({count - from_gaps} in the file, {from_gaps} from {gaps} gap(s) in the dates)"
                     if from_gaps else "")
            notes.append(f"{count} missing value(s) of {name}{where} filled with the last observed value")
    return Series(columns, values, dates, unit, step, date_name, notes, missing)


def future_dates(series: Series, horizon: int) -> np.ndarray:
    """The ``horizon`` dates after the last one, one grid step apart."""
    last = series.dates[-1]
    if series.unit == "row":
        return last + np.arange(1, horizon + 1)
    return last + series.step * np.arange(1, horizon + 1)


def season_of(unit: str, step: int) -> int:
    """The natural season of a grid: 12 for months, 7 for days (a week), 24 for hours (a day), else 1."""
    return {("M", 1): 12, ("D", 1): 7, ("h", 1): 24, ("s", 3600): 24, ("m", 60): 24}.get((unit, step), 1)
