"""The README's Python examples run as written, on the bundled model: the snippets in one namespace, and a block
with a main guard as the script it says it is."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
MAIN_GUARD = 'if __name__ == "__main__":'


def _python_blocks() -> list[str]:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert blocks, "README has no python example"
    return blocks


def test_readme_python_example_runs():
    namespace: dict = {}
    for block in _python_blocks():
        if MAIN_GUARD not in block:
            exec(compile(block, str(README), "exec"), namespace)
    assert namespace["forecast"].shape == (48,)
    assert namespace["quantiles"].shape == (48, 9) and (namespace["mean"] == namespace["forecast"]).all()
    assert namespace["back"].shape == (1, 512)


@pytest.mark.distributed
def test_readme_dask_example_runs_as_a_script(tmp_path, tiny_pipeline_dir):
    pytest.importorskip("distributed", reason="needs the timeartist[distributed] extra")
    from test_batch import long_frame, write_parquet_files

    scripts = [block for block in _python_blocks() if MAIN_GUARD in block]
    assert len(scripts) == 1, "expected one script example (the Dask one)"
    # the tiny model and one worker instead of the bundled model and two: the same calls in half the time
    # (test_distributed.py checks the numbers; a worker process takes seconds to start)
    swaps = {"TimeArtistPipeline.from_pretrained()": f"TimeArtistPipeline.from_pretrained({str(tiny_pipeline_dir)!r})", "n_workers=2": "n_workers=1"}
    script = scripts[0]
    for old, new in swaps.items():
        assert old in script
        script = script.replace(old, new)
    write_parquet_files(long_frame(6, bad=False), tmp_path / "data")
    (tmp_path / "forecast_many.py").write_text(script)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")]), "OMP_NUM_THREADS": "1"}
    result = subprocess.run([sys.executable, "forecast_many.py"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "144 forecast rows, 0 series failed, 6 series tokenized" in result.stdout
    written = pd.read_parquet(tmp_path / "forecasts")
    assert written.unique_id.nunique() == 6 and written.groupby("unique_id").size().eq(24).all()
