"""The CLI as a new user meets it: output formats that follow the file extension, flags that do not apply to the
input, and arguments checked against the data before anything is written."""

import numpy as np
import pandas as pd
from test_cli import series_csv  # noqa: F401 (the hourly CSV fixture)

from timeartist.cli import main


def test_forecast_writes_real_parquet_for_a_parquet_path(tiny_pipeline_dir, series_csv, tmp_path):
    out = tmp_path / "fc.parquet"
    assert main(["forecast", "--model", str(tiny_pipeline_dir), "--csv", str(series_csv), "--horizon", "5", "--out", str(out)]) == 0
    assert out.read_bytes()[:4] == b"PAR1"
    frame = pd.read_parquet(out)
    assert list(frame.columns) == ["unique_id", "ds", "forecast"] and len(frame) == 5
    assert frame.ds.iloc[0] == pd.Timestamp("2024-01-17 16:00") and frame.forecast.dtype == np.float64


def test_forecast_refuses_a_freq_finer_than_the_data(tiny_pipeline_dir, series_csv, tmp_path, capsys):
    out = tmp_path / "fc.csv"
    argv = ["forecast", "--model", str(tiny_pipeline_dir), "--csv", str(series_csv), "--horizon", "5", "--out", str(out)]
    assert main(argv + ["--freq", "30min"]) == 2
    err = capsys.readouterr().err
    assert "mostly 1:00:00 apart" in err and "399 of the 799 steps would be interpolated" in err and "'h'" in err
    assert not out.exists()
    assert main(argv + ["--freq", "h"]) == 0 and len(pd.read_csv(out)) == 5
