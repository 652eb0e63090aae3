"""Read the files importers take (CSV/TSV/Parquet tables, ``.npy`` and ``.npz`` arrays) as written.

Every problem with a file is one :class:`~silentscope.audit.AuditSetError` sentence that names
the file (and the column, row or line) and the fix. Tables are read as text, so that an id
``000`` stays ``000`` and a label ``1`` is the class named ``1``; the importers then parse
the numeric columns themselves and say where a cell is not a number. Arrays are never loaded
with pickle: a file that needs it is refused.
"""

from __future__ import annotations

import csv
import os
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from silentscope.audit.validation import AuditSetError, first_rows

#: Cells that mean "missing" in a metadata column (pandas' defaults for CSV files).
MISSING_TEXT = frozenset(
    ["", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN"]
    + ["<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null"]
)

_NPY_MAGIC = b"\x93NUMPY"
_ZIP_MAGIC = b"PK"
_PICKLE_FIX = "silentscope never loads pickled data; save plain numeric arrays with numpy.save"


def read_table(
    path: str | os.PathLike, *, keep_floats: Callable[[str], bool] | None = None
) -> pd.DataFrame:
    """A CSV, TSV or Parquet file with every cell as the text written in it.

    Missing cells are empty strings; nothing is parsed, so ids, labels and codes keep their
    exact spelling (``000``, ``1e0``). Parse numbers with :func:`numeric_column`.

    ``keep_floats(name)``: the floating-point columns of a Parquet file it accepts stay
    numbers (float64; float32 widened exactly, missing cells NaN) instead of becoming text:
    the values their text parses back to (a float's text round-trips), without a Python
    string per cell, which at a million rows of logits costs several hundred MB.

    Raises
    ------
    FileNotFoundError
        The file does not exist.
    AuditSetError
        The file is empty, has no rows, repeats a column name, has a row with fewer or more
        fields than its header (e.g. a truncated file), or is not a readable table.

    Examples
    --------
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "preds.csv"
    >>> _ = path.write_text("sample_id,prob_1\\n000,0.9\\n1e0,0.2\\n")
    >>> read_table(path)["sample_id"].tolist()
    ['000', '1e0']
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {path}")
    if path.stat().st_size == 0:
        raise AuditSetError(f"{path} is empty (0 bytes); write the table again")
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        frame = _read_parquet(path, keep_floats)
    elif suffix in (".csv", ".tsv", ".txt"):
        frame = _read_csv(path, "\t" if suffix == ".tsv" else ",")
    else:
        raise AuditSetError(f"{path} is not a CSV/TSV or Parquet file; convert it to one of those")
    if frame.empty:
        raise AuditSetError(f"{path} has a header but no rows; it holds no predictions")
    return frame


def _read_csv(path: Path, sep: str) -> pd.DataFrame:
    header, short = _scan_csv(path, sep)
    duplicated = sorted({name for name in header if header.count(name) > 1})
    if duplicated:
        raise AuditSetError(
            f"{path} has the column {duplicated[0]!r} more than once; give every column its own name"
        )
    if short:
        line, n_fields = short[0]
        raise AuditSetError(
            f"{path} line {line} has {n_fields} fields but the header has {len(header)} "
            f"({len(short)} such lines); the file may be truncated: write it again"
        )
    try:
        frame = pd.read_csv(path, sep=sep, dtype=str, na_filter=False, encoding="utf-8-sig")
    except pd.errors.EmptyDataError:
        raise AuditSetError(f"{path} has no header line; write the table again") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as error:
        raise AuditSetError(
            f"cannot read {path} as a table ({_first_line(error)}); fix that line"
        ) from None
    return frame.astype(object)


def _scan_csv(path: Path, sep: str) -> tuple[list[str], list[tuple[int, int]]]:
    """The header, and (line, number of fields) of each line whose field count differs from it.

    pandas fills a row that ends early with empty cells, which would hide a truncated file.
    """
    short = []
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle, delimiter=sep)
        header = next(reader, [])
        for fields in reader:
            if fields and len(fields) != len(header):
                short.append((reader.line_num, len(fields)))
    return header, short


def _read_parquet(path: Path, keep_floats: Callable[[str], bool] | None = None) -> pd.DataFrame:
    try:
        frame = pd.read_parquet(path)
    except (OSError, ValueError) as error:  # pyarrow's ArrowInvalid / ArrowIOError subclass these
        raise AuditSetError(
            f"cannot read {path} as Parquet ({_first_line(error)}); the file may be truncated: write it again"
        ) from None
    duplicated = frame.columns[frame.columns.duplicated()]
    if len(duplicated):
        raise AuditSetError(
            f"{path} has the column {duplicated[0]!r} more than once; give every column its own name"
        )
    return pd.DataFrame(
        {
            column: (
                frame[column].astype(np.float64)
                if keep_floats is not None
                and keep_floats(str(column))
                and pd.api.types.is_float_dtype(frame[column])
                else _as_text(frame[column])
            )
            for column in frame.columns
        }
    )


def _as_text(values: pd.Series) -> pd.Series:
    """Cells as text: integers without a decimal point, missing cells as ""."""
    missing = values.isna().to_numpy()
    if pd.api.types.is_bool_dtype(values) or pd.api.types.is_integer_dtype(values):
        text = values.astype(object).map(str)
    elif pd.api.types.is_float_dtype(values):
        text = values.map(repr)
    else:
        text = values.astype(object).map(str)
    return text.where(~missing, "").astype(object)


def text_values(values: pd.Series) -> np.ndarray:
    """A column of a table as text exactly as written (numbers of a DataFrame as ``str``)."""
    if not pd.api.types.is_numeric_dtype(values) and values.map(lambda v: isinstance(v, str)).all():
        return values.to_numpy(dtype=object)
    return _as_text(values).to_numpy(dtype=object)


def numeric_column(
    values: pd.Series, column: str, source: Path | None, *, nan_is_empty: bool = False
) -> np.ndarray:
    """A column of numbers as float64; a cell that is empty or not a number is an error.

    ``nan`` written as such parses to NaN (callers decide whether that is allowed). With
    ``nan_is_empty``, NaN in a numeric column is an empty cell (a missing Parquet value,
    kept as a number by ``read_table(..., keep_floats=True)``), refused as the text
    path refuses it.
    """
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        numbers = values.to_numpy(dtype=np.float64)
        if nan_is_empty and np.isnan(numbers).any():
            where = f"{source}" if source else "the table"
            raise AuditSetError(
                f"column {column!r} of {where} is empty at rows {first_rows(np.isnan(numbers))}; "
                "fill those cells or drop those rows"
            )
        return numbers
    text = values.astype(object).map(lambda v: v.strip() if isinstance(v, str) else v)
    parsed = pd.to_numeric(text, errors="coerce")
    where = f"{source}" if source else "the table"
    empty = text.isna() | (text == "")
    if empty.any():
        raise AuditSetError(
            f"column {column!r} of {where} is empty at rows {first_rows(empty.to_numpy())}; "
            "fill those cells or drop those rows"
        )
    bad = parsed.isna() & ~text.astype(str).str.lower().isin(["nan", "-nan"])
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        more = f" (also rows {first_rows(bad.to_numpy())})" if bad.sum() > 1 else ""
        raise AuditSetError(
            f"column {column!r} of {where} holds {text.iloc[row]!r} at row {row}{more}, which is not "
            "a number; fix those cells"
        )
    return parsed.to_numpy(dtype=np.float64)


def metadata_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Metadata columns read as text, typed: numbers where every cell is one, text otherwise.

    Cells such as ``""`` or ``NA`` are missing. A column with a code written with a leading
    zero (``007``) stays text, so codes and ids keep their spelling.
    """
    return pd.DataFrame({name: _metadata_column(frame[name]) for name in frame.columns})


def _metadata_column(values: pd.Series) -> pd.Series:
    if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        return values
    text = values.map(lambda v: v.strip() if isinstance(v, str) else v)
    missing = text.isna() | text.isin(MISSING_TEXT)
    present = text[~missing].astype(str)
    if present.str.fullmatch(r"[+-]?0\d+").any():
        return values.where(~missing, np.nan)
    parsed = pd.to_numeric(present, errors="coerce")
    if len(present) == 0 or parsed.isna().any():
        return values.where(~missing, np.nan)
    out = pd.Series(np.nan, index=values.index, dtype=np.float64)
    out[~missing] = parsed.astype(np.float64)
    if (
        not missing.any()
        and (out == out.round()).all()
        and present.str.fullmatch(r"[+-]?\d+").all()
    ):
        return out.astype(np.int64)
    return out


# ---------------------------------------------------------------------- arrays
def read_array(path: str | os.PathLike, what: str = "array") -> np.ndarray:
    """A NumPy array from a ``.npy`` file (memory-mapped) or the one array of an ``.npz`` file.

    Raises
    ------
    FileNotFoundError
        The file does not exist.
    AuditSetError
        The file is empty, truncated, not a NumPy file, holds pickled objects (never loaded),
        or an ``.npz`` with no or several arrays.

    Examples
    --------
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "labels.npy"
    >>> np.save(path, np.array([0, 1]))
    >>> read_array(path, "labels").tolist()
    [0, 1]
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {path}")
    with open(path, "rb") as handle:
        start = handle.read(len(_NPY_MAGIC))
    if not start:
        raise AuditSetError(f"the {what} file {path} is empty (0 bytes); save the array again")
    if start.startswith(_ZIP_MAGIC):
        return read_npz_array(path, what)
    if not start.startswith(_NPY_MAGIC):
        raise AuditSetError(
            f"the {what} file {path} is not a NumPy .npy file (it lacks the .npy header); "
            "save the array with numpy.save"
        )
    try:
        return np.load(path, allow_pickle=False, mmap_mode="r")
    except (ValueError, OSError, EOFError) as error:
        raise _unreadable(path, what, error) from None


def read_npz_array(
    path: str | os.PathLike, what: str = "array", key: str | None = None
) -> np.ndarray:
    """One array of an ``.npz`` file: ``key``, else ``arr_0``, else its only array."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {path}")
    if path.stat().st_size == 0:
        raise AuditSetError(f"the {what} file {path} is empty (0 bytes); save the arrays again")
    with open(path, "rb") as handle:
        if not handle.read(len(_ZIP_MAGIC)).startswith(_ZIP_MAGIC):
            raise AuditSetError(
                f"the {what} file {path} is not an .npz archive (it lacks the zip header); "
                "save the arrays with numpy.savez"
            )
    try:
        with np.load(path, allow_pickle=False) as data:
            keys = list(data.keys())
            if key is None:
                if "arr_0" in keys or len(keys) == 1:
                    key = "arr_0" if "arr_0" in keys else keys[0]
                elif not keys:
                    raise AuditSetError(
                        f"the {what} file {path} holds no array; save the array again"
                    )
                else:
                    raise AuditSetError(
                        f"the {what} file {path} holds {len(keys)} arrays ({', '.join(keys[:6])}); "
                        "save the one array with numpy.save or numpy.savez"
                    )
            return np.asarray(data[key])
    except AuditSetError:
        raise
    except (ValueError, zipfile.BadZipFile, OSError, EOFError, KeyError) as error:
        raise _unreadable(path, what, error) from None


def _unreadable(path: Path, what: str, error: Exception) -> AuditSetError:
    """The one-sentence error for a NumPy file that np.load could not read."""
    if isinstance(error, ValueError) and ("pickle" in str(error) or "object" in str(error)):
        return AuditSetError(f"the {what} file {path} holds Python objects; {_PICKLE_FIX}")
    return AuditSetError(_truncated(path, what, error))


def _truncated(path: Path, what: str, error: Exception) -> str:
    return (
        f"cannot read the {what} file {path} ({_first_line(error)}); it is truncated or not a "
        "NumPy file: copy or save it again"
    )


def _first_line(error: Exception) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__
