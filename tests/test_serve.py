"""The playground as `timeartist serve` runs it: one server subprocess for the module, driven through its API
(``gradio_client``) and in a real headless Chromium (Playwright on the system's Chromium; those tests skip, saying
why, when either is missing). The issue's targets are asserted here: the page ready within 10 s of the command's
start, a 2,000-point forecast of horizon 96 shown within 2 s, 20 concurrent forecasts equal to one, every bad
upload an error line in the page with the server still up, and no request leaving the machine."""

from __future__ import annotations

import importlib.util
import ipaddress
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pandas as pd
import pytest
from PIL import Image

if importlib.util.find_spec("gradio") is None:  # looked up, not imported: the server imports it, this process need not
    pytest.skip("the playground needs the serve extra: pip install 'timeartist[serve]'", allow_module_level=True)
gradio_client = pytest.importorskip("gradio_client", reason="gradio_client comes with the serve extra")

from timeartist.pipelines.pipeline import TimeArtistPipeline  # noqa: E402
from timeartist.serve import browser  # noqa: E402
from timeartist.serve.inputs import UPLOAD_LIMIT_MB  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
HORIZON = 96
# The server runs under an audit hook that writes down every connection or name lookup it makes to a host
# other than this machine's loopback addresses.
GUARDED_CLI = """
import ipaddress, os, sys

log = open(os.environ["TIMEARTIST_NET_LOG"], "a", buffering=1)

def local(host):
    host = host.decode() if isinstance(host, bytes) else host
    if not isinstance(host, str) or host in ("", "localhost"):
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False

def hook(event, args):
    if event == "socket.connect" and isinstance(args[1], tuple) and not local(args[1][0]):
        log.write(f"connect {args[1]}\\n")
    elif event == "socket.getaddrinfo" and not local(args[0]):
        log.write(f"lookup {args[0]}\\n")

sys.addaudithook(hook)
from timeartist.cli import main
sys.exit(main(sys.argv[1:]))
"""


@dataclass
class Served:
    url: str
    ready_s: float
    ready_cpu_s: float | None  # CPU time the server process had used by then (Linux)
    others: float | None  # cores other work kept busy just before it started
    process: subprocess.Popen
    net_log: Path

    def cpu_seconds(self) -> float | None:
        return _cpu_seconds(self.process.pid)

    def up(self) -> bool:
        with urllib.request.urlopen(self.url, timeout=5) as response:
            return self.process.poll() is None and response.status == 200


def _others_cores(seconds: float = 0.5) -> float | None:
    """How many cores other work keeps busy, sampled over ``seconds`` while nothing of ours runs (Linux's
    /proc/stat; None elsewhere)."""
    stat = Path("/proc/stat")
    if not stat.is_file():
        return None

    def busy_seconds() -> float:
        user, nice, system, idle, iowait, irq, softirq, steal = map(int, stat.read_text().split("\n")[0].split()[1:9])
        return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")

    before = busy_seconds()
    time.sleep(seconds)
    return (busy_seconds() - before) / seconds


def _within(target_s: float, wall_s: float, cpu_s: float | None, others: float | None, what: str) -> None:
    """Assert a wall-clock target measured on a free machine. The targets are for 2 free cores; when other work
    kept more than half a core busy just before the measurement, wall-clock time says more about that work than
    about ours (and CPU time, too: on this project's machine, shared with trainings, the same start took 8.5 to 12
    CPU seconds), so the numbers are reported and the test skips."""
    cpu = "unknown" if cpu_s is None else f"{cpu_s:.2f} s"
    load = "unknown" if others is None else f"{others:.1f} of {os.cpu_count()} cores"
    report = f"{what}: {wall_s:.2f} s (server CPU {cpu}; other work: {load}; target {target_s:g} s)"
    print(report)
    if others is not None and others > 0.5:
        pytest.skip(f"machine busy, the target is for free cores: {report}")
    assert wall_s <= target_s, report


def _cpu_seconds(pid: int) -> float | None:
    stat = Path(f"/proc/{pid}/stat")
    if not stat.is_file():
        return None
    fields = stat.read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """`timeartist serve --port P` in a subprocess, timed from its start to the first page served (model loaded)."""
    folder = tmp_path_factory.mktemp("served")
    net_log = folder / "connections.log"
    net_log.touch()
    env = {**os.environ, "TIMEARTIST_NET_LOG": str(net_log), "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")])}
    url = f"http://127.0.0.1:{(port := _free_port())}/"
    others = _others_cores()
    start = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-c", GUARDED_CLI, "serve", "--port", str(port)], env=env, stdout=open(folder / "server.log", "w"), stderr=subprocess.STDOUT)
    try:
        while True:
            if process.poll() is not None:
                pytest.fail(f"timeartist serve exited with {process.returncode}: {(folder / 'server.log').read_text()[-2000:]}")
            if time.perf_counter() - start > 120:
                pytest.fail("timeartist serve did not serve its page within 120 s")
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                time.sleep(0.05)
        ready = time.perf_counter() - start
        yield Served(url, ready, _cpu_seconds(process.pid), others, process, net_log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture(scope="module")
def pipe():
    return TimeArtistPipeline.from_pretrained()


@pytest.fixture(scope="module")
def client(served, tmp_path_factory):
    return gradio_client.Client(served.url, verbose=False, analytics_enabled=False, download_files=str(tmp_path_factory.mktemp("downloads")))


@pytest.fixture(scope="module")
def uploads(tmp_path_factory):
    """Good and bad files to upload."""
    folder = tmp_path_factory.mktemp("uploads")
    rng = np.random.default_rng(0)
    steps = np.arange(2000)
    values = 50 + 10 * np.sin(steps * 2 * np.pi / 24) + 3 * np.sin(steps * 2 * np.pi / 168) + rng.normal(0, 1, len(steps))
    pd.DataFrame({"value": values}).to_csv(folder / "plain.csv", index=False)
    hours = pd.date_range("2024-01-01", periods=len(steps), freq="h")
    pd.DataFrame({"ds": hours, "y": values}).to_csv(folder / "hourly.csv", index=False)
    yy, xx = np.mgrid[0:120, 0:160]
    photo = np.stack([xx / 160, yy / 120, ((xx - 80) ** 2 + (yy - 60) ** 2 < 900) * 1.0], -1)
    Image.fromarray((photo * 255).astype(np.uint8)).save(folder / "photo.png")
    (folder / "notes.txt").write_text("1,2,3\n")
    (folder / "empty.csv").write_bytes(b"")
    pd.DataFrame({"name": ["a", "b"], "colour": ["red", "blue"]}).to_csv(folder / "words.csv", index=False)
    line = b"1.0\n"
    (folder / "huge.csv").write_bytes(b"value\n" + line * (UPLOAD_LIMIT_MB * 2**20 // len(line) + 1))
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8)
    return folder


def _forecast_api(client, path, **fields):
    """The /forecast endpoint -> (status line, the CSV as a frame (None: no result), canvas picture path, table HTML)."""
    args = {"time": None, "value": None, "horizon": str(HORIZON), "period": "auto", "levels": "0.1, 0.5, 0.9", **fields}
    status, _, canvas, table, csv = client.predict(gradio_client.handle_file(str(path)), *args.values(), api_name="/forecast")
    frame = pd.read_csv(csv, float_precision="round_trip") if csv else None
    return status, frame, canvas, table


def _cells(table_html: str) -> list[list[str]]:
    """The body cells of an HTML table, row by row."""
    body = table_html.split("<tbody>", 1)[1]
    return [re.findall(r"<td>(.*?)</td>", row, flags=re.S) for row in body.split("</tr>")[:-1]]


def test_page_is_ready_within_10_s_of_the_command(served):
    _within(10, served.ready_s, served.ready_cpu_s, served.others, "page served after `timeartist serve` started (model loaded)")


def test_api_forecast_is_the_library_forecast(client, uploads, pipe):
    status, frame, canvas, table = _forecast_api(client, uploads / "hourly.csv")
    # the values choose the weekly season their daily cycle rides on, as pipe.forecast does
    assert "period 168 (detected from the values)" in status and "ta-ok" in status
    history = pd.read_csv(uploads / "hourly.csv", parse_dates=["ds"], float_precision="round_trip").assign(unique_id="y")
    expected = pipe.forecast_df(history, HORIZON, quantile_levels=(0.1, 0.5, 0.9))
    columns = ["ds", "forecast", "0.1", "0.5", "0.9"]
    pd.testing.assert_frame_equal(frame.assign(ds=pd.to_datetime(frame["ds"])), expected[columns])
    cells = _cells(table)  # the table the page shows holds the same numbers
    assert [[float(value) for value in row[1:]] for row in cells] == expected[columns[1:]].to_numpy().tolist()
    assert cells[0][0] == "2024-03-24 08:00:00"
    picture = Image.open(canvas)
    assert picture.mode == "RGB" and picture.width >= 512  # the outpainter's canvas and what it painted


def test_twenty_concurrent_forecasts_equal_one(client, uploads, served):
    _, single, _, single_table = _forecast_api(client, uploads / "plain.csv")
    with ThreadPoolExecutor(20) as pool:
        answers = list(pool.map(lambda _: _forecast_api(client, uploads / "plain.csv"), range(20)))
    assert all("ta-ok" in status for status, *_ in answers)
    for _, frame, canvas, table in answers:
        pd.testing.assert_frame_equal(frame, single)
        assert table == single_table and Image.open(canvas).size == Image.open(answers[0][2]).size
    assert served.up()


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"period": "daily"}, "period must be 'auto' or a whole number of steps"),
        ({"horizon": "0"}, "horizon must be a whole number from 1 to 10,000"),
        ({"levels": "0.9, 0.1"}, "quantile levels must be increasing numbers between 0 and 1"),
        ({"value": "price"}, "column 'price' is not a numeric column; choose one of ['value']"),
    ],
)
def test_api_field_errors_are_one_status_line(client, uploads, fields, message):
    status, frame, canvas, csv = _forecast_api(client, uploads / "plain.csv", **fields)
    assert "ta-error" in status and message in status.replace("&#x27;", "'") and "\n" not in status
    assert frame is None or frame.empty


def test_api_series_image_and_style_in_one_session(client, uploads):
    status, _, gallery, *_ = client.predict(gradio_client.handle_file(str(uploads / "hourly.csv")), None, None, api_name="/series_to_image")
    assert "the last 512 steps as 2 pictures" in status and len(gallery) == 2
    assert {Image.open(item["image"]).size for item in gallery} == {(256, 256)}
    status, seen, *_ = client.predict(gradio_client.handle_file(str(uploads / "photo.png")), api_name="/image_to_series")
    assert "photo.png: 160 x 120 px" in status and Image.open(seen).size == (256, 256)
    status, styled = client.predict(0.3, api_name="/style")
    assert "alpha 0.3: 30% series codes, 70% photo codes" in status and Image.open(styled).size == (256, 256)
    status, *_ = client.predict(gradio_client.handle_file(str(uploads / "broken.png")), api_name="/image_to_series")
    assert "Error: broken.png is not a readable image" in status


def test_api_classify_and_generate(client, tmp_path):
    from timeartist.serve.examples import example_classes

    train, test = example_classes(per_class_train=3, per_class_test=2, length=48)
    train.to_csv(tmp_path / "train.csv", index=False)
    test.to_csv(tmp_path / "test.csv", index=False)
    files = [gradio_client.handle_file(str(tmp_path / name)) for name in ("train.csv", "test.csv")]
    status, table, prototypes, csv = client.predict(*files, "label", "vision", api_name="/classify")
    assert "route vision (" in status and "leave-one-out accuracy on TRAIN" in status and "accuracy on TEST" in status
    predictions = pd.read_csv(csv)
    assert predictions.columns.tolist() == ["series", "predicted", "label"] and len(predictions) == 6 and len(prototypes) == 3
    assert _cells(table) == predictions.astype(str).values.tolist()
    status, gallery = client.predict([948], 2, 3.0, 2, 0, api_name="/generate")
    assert "2 images for 1 classes" in status and len(gallery) == 2 and gallery[0]["caption"] == "Granny Smith apple"


# ------------------------------------------------------------------------------------------- in the browser
@pytest.fixture(scope="module")
def chromium():
    reason = browser.unavailable()
    if reason:
        pytest.skip(f"browser tests need Playwright and Chromium: {reason}")
    requests: list[str] = []
    with browser.chromium(on_request=requests.append) as context:
        yield context, requests


@pytest.fixture(scope="module")
def page(chromium, served):
    """One page for the module's browser tests (as one visitor would use it); each test picks its tab."""
    context, _ = chromium
    page = browser.open_app(context, served.url)
    yield page
    page.close()


def test_forecast_in_the_browser_equals_pipe_forecast(page, uploads, pipe, served):
    browser.show_tab(page, "forecast")
    browser.after(page, "forecast-status", lambda: browser.upload(page, "forecast-file", uploads / "plain.csv"))
    others = _others_cores()
    start, cpu = time.perf_counter(), served.cpu_seconds()
    status = browser.after(page, "forecast-status", lambda: page.click("#forecast-run"))
    page.wait_for_function("() => { const img = document.querySelector('#forecast-plot img'); return img !== null && img.complete && img.naturalWidth > 0; }")
    page.wait_for_selector("#forecast-table td")
    shown, cpu = time.perf_counter() - start, None if cpu is None else served.cpu_seconds() - cpu
    assert status.startswith("value: 2,000 steps; period 168 (detected from the values)")
    values = pd.read_csv(uploads / "plain.csv", float_precision="round_trip")["value"].to_numpy()
    expected = pipe.forecast(values, HORIZON)
    with page.expect_download() as download:
        page.locator("#forecast-download a").first.click()
    frame = pd.read_csv(download.value.path(), float_precision="round_trip")
    assert frame["step"].tolist() == list(range(2000, 2000 + HORIZON))
    np.testing.assert_array_equal(frame["forecast"].to_numpy(), expected)
    rows = page.locator("#forecast-table tbody tr")
    assert rows.count() == HORIZON
    shown_values = [float(rows.nth(row).locator("td").nth(1).inner_text()) for row in range(HORIZON)]  # as the page shows them
    assert shown_values == expected.tolist()
    assert page.locator("#forecast-canvas img").count() == 1
    _within(2, shown, cpu, others, f"2,000-point forecast of horizon {HORIZON} shown in the page")  # last: it may skip


def test_photo_becomes_a_series_in_the_browser(page, uploads):
    browser.show_tab(page, "convert")
    status = browser.after(page, "photo-status", lambda: browser.upload(page, "photo-file", uploads / "photo.png"))
    assert status == "photo.png: 160 x 120 px, read as its centred square at 64 px"
    page.wait_for_selector("#photo-series img")
    page.wait_for_selector("#photo-seen img")


@pytest.mark.parametrize(
    "tab, component, status_line, name, message",
    [
        ("forecast", "forecast-file", "forecast-status", "notes.txt", "Error: notes.txt is not a CSV or Parquet file: expected a file ending in .csv, .parquet"),
        ("forecast", "forecast-file", "forecast-status", "empty.csv", "Error: empty.csv is empty: expected a CSV or Parquet file"),
        ("forecast", "forecast-file", "forecast-status", "words.csv", "Error: no numeric column to forecast: the columns are ['name', 'colour']"),
        ("forecast", "forecast-file", "forecast-status", "huge.csv", f"Error: huge.csv is 20.0 MB; uploads are limited to {UPLOAD_LIMIT_MB} MB"),
        ("convert", "photo-file", "photo-status", "broken.png", "Error: broken.png is not a readable image (cannot identify image file"),
        ("convert", "photo-file", "photo-status", "words.csv", "Error: words.csv is not an image: expected a file ending in .png"),
    ],
)
def test_bad_uploads_are_an_error_line_in_the_page(page, uploads, served, tab, component, status_line, name, message):
    browser.show_tab(page, tab)
    status = browser.after(page, status_line, lambda: browser.upload(page, component, uploads / name))
    assert status.startswith(message) and "\n" not in status and "Traceback" not in page.inner_text("body")
    assert page.locator(f"#{status_line} .ta-error").count() == 1
    assert served.up()


def test_the_page_still_works_after_the_errors(page, uploads, served):
    browser.show_tab(page, "forecast")
    browser.after(page, "forecast-status", lambda: browser.upload(page, "forecast-file", uploads / "hourly.csv"))
    assert "period 168" in browser.after(page, "forecast-status", lambda: page.click("#forecast-run"))
    assert served.up()


def test_screenshots_show_every_tab_in_use(chromium, served, tmp_path):
    """`timeartist serve --screenshots` drives all four tabs through their examples in its own browser."""
    pytest.importorskip("skimage", reason="the screenshots upload scikit-image's example photo")
    shots = browser.take_screenshots(served.url, tmp_path, context=chromium[0])
    assert [p.name for p in shots] == [f"playground_{tab}.png" for tab in browser.TABS]
    pictures = [np.asarray(Image.open(p).convert("RGB")) for p in shots]
    assert all(p.shape[1] == browser.VIEWPORT["width"] and p.shape[0] >= 900 for p in pictures)
    assert len({p.tobytes() for p in pictures}) == 4


def test_no_request_leaves_the_browser_machine(chromium):
    """Run late: every request the browser made in this module went to this machine."""
    _, requests = chromium
    hosts = {urlparse(url).hostname for url in requests if not url.startswith(("data:", "blob:"))}
    assert hosts and all(host == "localhost" or ipaddress.ip_address(host).is_loopback for host in hosts), hosts


def test_the_server_connects_nowhere_else(served):
    """Run last: the server, over everything above, made no connection or name lookup beyond this machine."""
    assert served.up() and served.net_log.read_text() == ""
