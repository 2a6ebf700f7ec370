"""The Dask path on a local cluster of 2 worker processes: same numbers as one process, Parquet in and out, the CLI,
and a worker killed mid-run. Skipped without the timeartist[distributed] extra."""

import os
import pickle
import signal
import threading
import time

import pandas as pd
import pytest

dask = pytest.importorskip("dask", reason="needs the timeartist[distributed] extra (dask)")
dd = pytest.importorskip("dask.dataframe", reason="needs the timeartist[distributed] extra (dask[dataframe])")
pytest.importorskip("distributed", reason="needs the timeartist[distributed] extra (distributed)")

from test_batch import long_frame, write_parquet_files  # noqa: E402

from timeartist.cli import main  # noqa: E402
from timeartist.pipelines.batch import forecast_parquet  # noqa: E402
from timeartist.pipelines.distributed import PipelineRef, local_cluster  # noqa: E402
from timeartist.pipelines.pipeline import TimeArtistPipeline  # noqa: E402

pytestmark = pytest.mark.distributed


@pytest.fixture(scope="module")
def client():
    with local_cluster(n_workers=2) as client:
        yield client


@pytest.fixture(scope="module")
def pipe(tiny_pipeline_dir):
    return TimeArtistPipeline.from_pretrained(tiny_pipeline_dir)


@pytest.fixture(scope="module")
def frame():
    return long_frame(3000)


@pytest.fixture(scope="module")
def expected(pipe, frame):
    """The single-process result (forecasts, errors) that every distributed run must reproduce."""
    return pipe.forecast_df(frame, horizon=8, period=12, errors="collect")


def same_rows(got: pd.DataFrame, want: pd.DataFrame) -> None:
    """Equal after sorting by id and time, forecasts to float32 tolerance (dtypes follow each engine's strings)."""
    order = [c for c in ("unique_id", "ds") if c in want.columns]
    got, want = (f.sort_values(order).reset_index(drop=True) for f in (got, want))
    pd.testing.assert_frame_equal(got, want, check_dtype=False, rtol=1e-5, atol=1e-6)


def test_forecast_df_on_dask_equals_pandas(client, pipe, frame, expected):
    lazy, lazy_errors = pipe.forecast_df(dd.from_pandas(frame, npartitions=6), horizon=8, period=12, errors="collect")
    assert isinstance(lazy, dd.DataFrame) and list(lazy.columns) == list(expected[0].columns)
    forecasts, errors = dask.compute(lazy, lazy_errors)
    same_rows(forecasts, expected[0])
    same_rows(errors, expected[1])
    assert forecasts.groupby("unique_id").size().eq(8).all()  # every series whole in one partition, once


def test_forecast_df_reads_a_parquet_glob(client, pipe, frame, expected, tmp_path, caplog):
    split = write_parquet_files(frame, tmp_path / "split", files=4)  # series split across files: shuffled
    (tmp_path / "whole").mkdir()
    for i, group in frame.groupby(pd.util.hash_pandas_object(frame.unique_id, index=False) % 4):
        group.to_parquet(tmp_path / "whole" / f"data{i}.parquet", index=False)  # whole series per file: not shuffled
    for source, shuffled in ((split, True), (str(tmp_path / "whole"), False)):
        caplog.clear()
        with caplog.at_level("INFO", logger="timeartist.pipelines.distributed"):
            lazy = pipe.forecast_df(source, horizon=8, period=12, errors="collect")[0]
        assert ("no shuffle" in caplog.text) != shuffled
        same_rows(lazy.compute(), expected[0])
    with pytest.raises(Exception, match="observed values|time step"):  # errors="raise" fails the job
        pipe.forecast_df(source, horizon=8, period=12).compute()


def test_series_to_image_df_on_dask(client, pipe, frame, tmp_path):
    small = frame[frame.unique_id.isin([f"s{i}" for i in range(40)])]
    tokens = pipe.series_to_image_df(dd.from_pandas(small, npartitions=3)).compute()
    same_rows(tokens, pipe.series_to_image_df(small))
    few = small[small.unique_id.isin(["s0", "s1", "s2", "s3"])]
    images = pipe.series_to_image_df(dd.from_pandas(few, npartitions=2), images_dir=tmp_path / "png").compute()
    assert sorted(os.path.basename(p) for p in images.image) == sorted(p.name for p in (tmp_path / "png").iterdir())


def test_model_is_loaded_once_per_worker(client, pipe):
    ref = PipelineRef.of(pipe)
    assert len(pickle.dumps(ref)) < 1000  # what every task carries: a folder, not weights
    ids = client.run(lambda: id(ref.load()) == id(ref.load()))
    assert list(ids.values()) == [True, True]
    with pytest.raises(ValueError, match="save_pretrained"):
        PipelineRef.of(TimeArtistPipeline(pipe.temporal, pipe.visual, outpainter=pipe.outpainter))


def test_cli_engine_dask_on_a_running_scheduler(client, tiny_pipeline_dir, frame, expected, tmp_path, capsys):
    source = write_parquet_files(frame, tmp_path / "data")
    out = tmp_path / "forecasts"
    args = ["forecast", "--model", str(tiny_pipeline_dir), "--input", source, "--horizon", "8", "--period", "12", "--out", str(out)]
    assert main([*args, "--engine", "dask", "--scheduler", client.scheduler.address]) == 0
    assert "in 3 part files" in capsys.readouterr().out
    same_rows(pd.read_parquet(out), expected[0])
    same_rows(pd.read_parquet(out / "_errors.parquet"), expected[1])


def test_killed_worker_is_retried_and_output_complete(client, pipe, expected, tmp_path):
    """SIGKILL one worker process while partitions are running: the nanny restarts it, the scheduler re-runs its
    tasks, and the part files hold every series exactly once."""
    frame = long_frame(3000, length=240, seed=1)
    want, want_errors = pipe.forecast_df(frame, horizon=8, period=12, errors="collect")
    source = write_parquet_files(frame, tmp_path / "data", files=16)
    out = tmp_path / "forecasts"
    pids = client.run(os.getpid)
    killed = {}

    def kill_when_busy():
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not killed:
            done = len(list(out.glob("part.*.parquet"))) if out.exists() else 0
            busy = [w for w, keys in client.processing().items() if any("write_partition" in str(k) for k in keys)]
            if done >= 1 and busy:
                killed.update(worker=busy[0], done=done)
                os.kill(pids[busy[0]], signal.SIGKILL)
            time.sleep(0.02)

    killer = threading.Thread(target=kill_when_busy)
    killer.start()
    summary = forecast_parquet(pipe, source, out, horizon=8, engine="dask", period=12, progress=False)
    killer.join()
    assert killed and killed["done"] < 16, "the run ended before a worker could be killed mid-run"
    assert summary.parts == 16 and summary.failed == 2
    written = pd.read_parquet(out)
    assert not written.duplicated(["unique_id", "ds"]).any()
    same_rows(written, want)
    same_rows(pd.read_parquet(out / "_errors.parquet"), want_errors)
    client.wait_for_workers(2, timeout=60)
    assert pids[killed["worker"]] not in client.run(os.getpid).values()  # the nanny started a new process
