"""Long-format Parquet files in, Parquet part files out: what ``timeartist forecast --input`` runs.

    forecast_parquet(pipe, "data/*.parquet", "forecasts/", horizon=24)                  # one process
    forecast_parquet(pipe, "data/*.parquet", "forecasts/", horizon=24, engine="dask")   # on the current Dask client

Input: Parquet files with one row per series and time step (``id_col``, ``time_col``, ``target``), a file, a
folder or a glob. Output folder: ``part.00000.parquet``, ... with the columns of ``forecast_df`` (``id_col``,
``time_col``, ``"forecast"``), one part per partition (one in a single process), and ``_errors.parquet``
(``id_col``, ``"reason"``): one row per series whose data could not be forecast (empty when all could). Parquet
readers skip names starting with ``_`` or ``.``, so ``pd.read_parquet(out)`` reads the forecasts only.
"""

from __future__ import annotations

import os

import pandas as pd

from timeartist.pipelines.parquet import BatchSummary, check_columns, parquet_files, prepare_out, write_errors, write_part

ENGINES = ("dask",)


def forecast_parquet(
    pipe,
    source: str | os.PathLike,
    out: str | os.PathLike,
    horizon: int,
    engine: str | None = None,
    id_col: str = "unique_id",
    time_col: str = "ds",
    target: str = "y",
    progress: bool | None = None,
    **kwargs,
) -> BatchSummary:
    """Forecast the series of long-format Parquet files into part files in ``out`` (see the module docstring).

    engine: None reads everything into one pandas frame and runs ``pipe.forecast_df`` in this process; "dask"
    runs it per partition on the current Dask client (``timeartist.pipelines.distributed.write_parts``), with a
    progress bar over finished partitions (``progress=None``: on a terminal only). ``kwargs`` go to ``forecast``.
    """
    if engine not in (None, *ENGINES):
        raise ValueError(f"unknown engine {engine!r}; available: {list(ENGINES)} (or none: one process)")
    folder = prepare_out(out)
    columns = dict(id_col=id_col, time_col=time_col, target=target)
    if engine == "dask":
        from timeartist.pipelines.distributed import write_parts

        return write_parts(pipe, "forecast_df", source, folder, progress=progress, horizon=horizon, **columns, **kwargs)
    files = parquet_files(source)
    check_columns(files, [id_col, time_col, target])
    frame = pd.concat([pd.read_parquet(f, columns=[id_col, time_col, target]) for f in files], ignore_index=True)
    forecasts, errors = pipe.forecast_df(frame, horizon, errors="collect", progress=progress, **columns, **kwargs)
    write_part(forecasts, folder, 0)
    return BatchSummary(len(forecasts), write_errors([errors], folder), 1, folder)
