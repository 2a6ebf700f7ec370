"""The playground: a Gradio app over one ``TimeArtistPipeline``, four tabs.

- **Forecast**: a CSV or Parquet upload (or an example series), its time and value columns, horizon, period and
  quantile levels -> the history and forecast, the period used, the picture the outpainter saw and a table to
  download. Quantile bands need quantile forecasts, which the pipeline does not make yet; until then the page says
  so and shows the point forecast (``views.forecast_figure`` already draws a band).
- **Series <-> image**: a series' picture before and after alignment; a photo's series; the photo rendered in the
  series' style at the weight alpha of a slider.
- **Classify**: a labelled TRAIN table and a TEST table (one series a row) -> predictions, the leave-one-out
  accuracy on TRAIN and the route chosen.
- **Generate**: images the token generator draws for ImageNet classes or for a series.

Every event shows its outcome in a one-line status under its button; bad input (an unreadable or oversized
upload, a table without numbers, a photo that does not decode, a bad field) is an error on that line, never a
traceback, and the server goes on serving. Nothing leaves the machine: analytics, update checks and share links are
off, fonts are the ones Gradio ships, and the server listens on 127.0.0.1 unless told otherwise.
"""

from __future__ import annotations

import copy
import functools
import html
import importlib.abc
import importlib.util
import itertools
import logging
import os
import sys
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

# Before Gradio is imported: no analytics, no version check, no Hugging Face Hub telemetry or downloads.
OFFLINE_ENV = {"GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1", "HF_HUB_DISABLE_TELEMETRY": "1"}
os.environ.update(OFFLINE_ENV)


class _NoStubRewrite(importlib.abc.MetaPathFinder):
    """At import, Gradio regenerates the ``.pyi`` type stub of every component inside its installed package (about
    half of its import time, and a write into site-packages); this finder makes that step a no-op when
    ``gradio.component_meta`` loads, so the page is ready seconds sooner and the installed package stays as it is."""

    def find_spec(self, name, path=None, target=None):
        if name != "gradio.component_meta":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        execute = spec.loader.exec_module

        def exec_module(module):
            execute(module)
            module.create_or_modify_pyi = lambda *args, **kwargs: None

        spec.loader.exec_module = exec_module
        return spec


if "gradio" not in sys.modules:
    sys.meta_path.insert(0, _NoStubRewrite())

import gradio as gr  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from timeartist.data.images import to_image_batch  # noqa: E402
from timeartist.models.imagenet_classes import imagenet_classes  # noqa: E402
from timeartist.pipelines.forecasting import SeriesError  # noqa: E402
from timeartist.pipelines.frames import future_times  # noqa: E402
from timeartist.pipelines.pipeline import DEFAULT_MODEL_DIR, TimeArtistPipeline  # noqa: E402
from timeartist.serve import examples, inputs, views  # noqa: E402

logger = logging.getLogger(__name__)

USER_ERRORS = (ValueError, OSError, KeyError)  # what bad input raises; anything else is a bug (logged with its traceback)
DEFAULT_CLASSES = (948, 130, 388, 417)  # Granny Smith, flamingo, giant panda, balloon
CSS = """
.ta-status p { margin: 0.2em 0; }
.ta-error { color: #b91c1c; font-weight: 600; }
.ta-ok { color: #166534; }
.ta-table { max-height: 320px; overflow: auto; }
.ta-table table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; border: none !important; }
.ta-table th { position: sticky; top: 0; background: var(--block-background-fill); text-align: left; }
.ta-table th, .ta-table td { padding: 0.25em 0.8em !important; border: none !important; border-bottom: 1px solid var(--border-color-primary) !important; }
"""


_runs = itertools.count(1)


def _status(text: str, error: bool = False) -> str:
    """A status line; ``data-run`` numbers the events, so a page (or a test) can tell a new result from the last."""
    css = "ta-error" if error else "ta-ok"
    return f'<p class="{css}" data-run="{next(_runs)}">{"Error: " if error else ""}{html.escape(text)}</p>'


def _in_page(fn, outputs: int):
    """``fn`` returning (status text, *outputs) -> an event handler whose errors become the status line (outputs
    cleared): a user error shows its message, anything else a one-line internal error (traceback in the log). A
    status of None leaves the line as it is (a file removed from its component has nothing to report)."""

    @functools.wraps(fn)
    def handler(*args, **kwargs):
        try:
            status, *values = fn(*args, **kwargs)
            return (gr.update() if status is None else _status(status)), *values
        except USER_ERRORS as error:
            message = error.args[0] if isinstance(error, KeyError) and error.args else error
            return _status(" ".join(str(message).split()), error=True), *([None] * outputs)
        except Exception as error:  # a bug: keep serving, say so in one line, keep the traceback in the log
            logger.exception("%s failed", fn.__name__)
            return _status(f"internal error ({type(error).__name__}: {' '.join(str(error).split())[:200]}); the server log has the traceback", error=True), *([None] * outputs)

    return handler


def _on(event, fn, inputs_: list, outputs: list, status, model: bool = True, **kwargs):
    """Register ``fn`` (see ``_in_page``) on ``event`` with its status line as the first output.

    Calls that run the model (``model``) run one at a time, whichever tab they come from, the others wait in Gradio's
    queue: torch uses both cores for one call anyway, and two forecasts computed at the same time in two threads
    differed in the 8th digit now and then (1 in 60 in a test of 20 concurrent requests), where one at a time they
    are identical. Reading a table's columns runs beside them."""
    limits = {"concurrency_id": "model", "concurrency_limit": 1} if model else {"concurrency_limit": 4}
    return event(_in_page(fn, len(outputs)), inputs_, [status, *outputs], **limits, **kwargs)


def _status_line(elem_id: str):
    """The one-line outcome of a tab's events; created first (events need it), placed with ``.render()``."""
    return gr.HTML(elem_id=elem_id, elem_classes="ta-status", padding=False, render=False)


@dataclass
class SeriesSource:
    """The widgets that pick a series: an example or an uploaded table (the file component holds either), and its
    time and value columns."""

    file: gr.File
    time: gr.Dropdown
    value: gr.Dropdown

    @property
    def inputs(self) -> list:
        return [self.file, self.time, self.value]


class Playground:
    """The app's handlers over one pipeline; ``build()`` lays out the page. Files the page offers for download are
    written into ``workdir`` (default: a temporary folder, removed by ``close``) and kept for ``KEEP_FILES_S``."""

    KEEP_FILES_S = 3600  # Gradio serves its own copy of a returned file; ours only has to outlive the response

    def __init__(self, pipe: TimeArtistPipeline, workdir: str | os.PathLike | None = None):
        self.pipe = pipe
        self._temporary = workdir is None
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="timeartist-serve-"))
        self.workdir.mkdir(parents=True, exist_ok=True)

    def close(self) -> None:
        if self._temporary:
            shutil.rmtree(self.workdir, ignore_errors=True)

    # ------------------------------------------------------------------ files
    def _file(self, name: str, write: Callable[[Path], object]) -> str:
        """``write(path)`` for a file called ``name`` in a new folder of ``workdir``; folders older than
        ``KEEP_FILES_S`` go, so a long-running server does not fill its disk.

        Results leave as files of their own, pictures too: Gradio copies a returned file into its cache atomically,
        but writes a returned PIL image straight to a path named by its content, so two requests with the same
        picture (20 identical forecasts) overwrite it while it is being sent and a download ends short."""
        cutoff = time.time() - self.KEEP_FILES_S
        for old in self.workdir.iterdir():
            if old.stat().st_mtime < cutoff:
                shutil.rmtree(old, ignore_errors=True)
        path = Path(tempfile.mkdtemp(dir=self.workdir)) / name
        write(path)
        return str(path)

    def _write_csv(self, frame: pd.DataFrame, name: str) -> str:
        return self._file(name, lambda path: frame.to_csv(path, index=False))

    def _pngs(self, images) -> list[str]:
        """Images (B, 3, S, S) in [0, 1] as PNG files, shown ``views.DISPLAY_SCALE`` times larger."""
        return [self._file("picture.png", picture.save) for picture in views.pictures(images)]

    def example_file(self, name: str | None):
        """An example series written as CSV, to put into the file component (which then says what it holds)."""
        if not name:
            return gr.update()
        slug = "_".join(name.split("(")[0].split())
        return self._write_csv(examples.example_series(name), f"{slug}.csv")

    def columns(self, file):
        """A table's column choices: (status, time column dropdown, value column dropdown)."""
        if not file:
            return None, gr.update(choices=[], value=None), gr.update(choices=[], value=None)
        frame = inputs.read_table(file)
        time = inputs.guess_time_column(frame)
        values = inputs.value_columns(frame, time)
        summary = f"{Path(file).name}: {len(frame):,} rows; columns {', '.join(frame.columns)}"
        return summary, gr.update(choices=[inputs.NO_TIME, *frame.columns], value=time), gr.update(choices=values, value=values[-1])

    def _series(self, file, time, value) -> inputs.Series:
        if not file:
            raise ValueError("pick an example series or upload a CSV or Parquet file first")
        return inputs.series_from_table(inputs.read_table(file), time, value)

    # ------------------------------------------------------------------ forecast
    def forecast(self, file, time, value, horizon, period, levels):
        """(status, forecast figure, the picture the outpainter saw, table (HTML), CSV path) for one series."""
        series = self._series(file, time, value)
        horizon, period, levels = inputs.parse_horizon(horizon), inputs.parse_period(period), inputs.parse_levels(levels)
        length = len(series.values)
        if series.times is None:
            future = np.arange(length, length + horizon)
        else:
            try:
                future = future_times(series.times, horizon, None, series.name)
            except SeriesError:
                raise ValueError(f"the timestamps of {series.time_name!r} are irregular (rows missing?), so the future ones are unknown; choose {inputs.NO_TIME} as the time column") from None
        seen = []

        def first_view(layout, canvases, filled):
            if not seen:
                seen.append((layout, canvases[0], filled[0]))

        options = dict(period=period, progress=False, on_outpaint=first_view)
        band = None
        if self.pipe.probabilistic:
            quantiles, forecast = self.pipe.forecast_quantiles(series.values, horizon, levels, **options)
            quantiles, forecast = np.asarray(quantiles, dtype=np.float64), np.asarray(forecast, dtype=np.float64)
            if levels[0] < 0.5 < levels[-1]:
                band = (quantiles[:, 0], quantiles[:, -1], f"{levels[0]:g}-{levels[-1]:g} quantiles")
        else:
            forecast = np.asarray(self.pipe.forecast(series.values, horizon, **options), dtype=np.float64)
        layout, canvas, filled = seen[0]
        shown = min(length, max(4 * horizon, 8 * layout.period, 200))
        history_x = np.arange(length) if series.times is None else series.times
        title = f"{series.name}: {horizon}-step forecast"
        figure = views.forecast_figure(series.values[-shown:], history_x[-shown:], forecast, future, title, band=band)
        table = pd.DataFrame({series.time_name or "step": future, "forecast": forecast})
        if self.pipe.probabilistic:
            table = table.assign(**{str(q): quantiles[:, k] for k, q in enumerate(levels)})
        path = self._write_csv(table, f"forecast_{series.name}.csv")
        how = "given" if period is not None else "detected from the values"
        passes = -(-horizon // layout.horizon)
        status = (
            f"{series.name}: {length:,} steps; period {layout.period} ({how}); the outpainter read the last "
            f"{layout.context_len:,} steps in {passes} pass{'es' if passes > 1 else ''}. "
            + (f"The line is the mean forecast; the table adds the quantiles {', '.join(f'{q:g}' for q in levels)}"
               + (f", the band spans {levels[0]:g} to {levels[-1]:g}." if band else ".")
               if self.pipe.probabilistic else "This model makes point forecasts only (its outpainter has no quantile head), so no band is drawn.")
        )  # fmt: skip
        picture = self._file("outpainter.png", views.canvas_picture(layout, canvas.numpy(), filled.numpy()).save)
        return status, figure, picture, views.table_html(table), path

    # ------------------------------------------------------------------ series <-> image
    def series_pictures(self, file, time, value):
        """(status, window figure, gallery [before, after alignment], window) of a series' most recent window."""
        series = self._series(file, time, value)
        window = series.values[-self.pipe.temporal.seq_len :]
        before = self.pipe.series_to_image(window, aligned=False, progress=False)
        gallery = [(self._pngs(before)[0], "before alignment (shared codebook)")]
        if self.pipe.align_t2v is not None:
            gallery.append((self._pngs(self.pipe.series_to_image(window, aligned=True, progress=False))[0], "after alignment"))
        figure = views.series_figure(window, f"{series.name}: the last {len(window):,} steps")
        return f"{series.name}: the last {len(window):,} steps as {len(gallery)} pictures", figure, gallery, window

    def photo_series(self, photo_file):
        """(status, the photo as the tokenizer sees it, its series figure, the photo) for an uploaded photo."""
        if not photo_file:
            return None, None, None, None
        photo = inputs.read_photo(photo_file)
        aligned = self.pipe.align_v2t is not None
        series = self.pipe.image_to_series([photo], aligned=aligned, progress=False)[0]
        size = self.pipe.visual.config.image_size
        seen = self._pngs(to_image_batch([photo], size))[0]
        name = Path(photo_file).name
        figure = views.series_figure(series, f"{name} as a series ({'after' if aligned else 'before'} alignment)")
        return f"{name}: {photo.width} x {photo.height} px, read as its centred square at {size} px", seen, figure, photo

    def style(self, photo, window, alpha):
        """(status, the photo rendered in the series' style) at weight ``alpha`` of the series' codes."""
        if photo is None or window is None:
            return "upload a photo and draw a series to mix them", None
        alpha = float(alpha)
        styled = self.pipe.style_transfer(photo, window, alpha=alpha)
        return f"alpha {alpha:g}: {alpha:.0%} series codes, {1 - alpha:.0%} photo codes", self._pngs(styled)[0]

    # ------------------------------------------------------------------ classify
    def example_classes(self):
        """The classification example written as TRAIN and TEST CSVs, to put into the two file components."""
        train, test = examples.example_classes()
        return self._write_csv(train, "waves_TRAIN.csv"), self._write_csv(test, "waves_TEST.csv")

    def label_choices(self, train_file):
        if not train_file:
            return None, gr.update(choices=[], value=None)
        frame = inputs.read_table(train_file)
        return f"{Path(train_file).name}: {len(frame):,} series", gr.update(choices=list(frame.columns), value=inputs.guess_label_column(frame))

    def classify(self, train_file, test_file, label, route, progress=gr.Progress()):
        """(status, predictions table (HTML), class prototypes gallery, predictions CSV path)."""
        if not train_file or not test_file:
            raise ValueError("upload a labelled TRAIN table and a TEST table (or use the example)")
        train_name, test_name = Path(train_file).name, Path(test_file).name
        X_train, y_train = inputs.cases_from_table(inputs.read_table(train_file), label, train_name, labelled=True)
        X_test, y_test = inputs.cases_from_table(inputs.read_table(test_file), label, test_name, labelled=False)
        progress(0.05, desc=f"fitting on {len(X_train)} TRAIN series")
        self.pipe.classifier_network()  # loaded once, shared by the per-request copies below
        job = copy.copy(self.pipe)  # the fitted classifier belongs to this request, not to the shared pipeline
        job.fit_classifier(X_train, y_train, route=route)
        progress(0.6, desc=f"classifying {len(X_test)} TEST series")
        predicted = job.classify(X_test)
        table = pd.DataFrame({"series": np.arange(len(predicted)), "predicted": predicted})
        status = f"route {job.classifier_route}; leave-one-out accuracy on TRAIN {job.classifier_loo_accuracy:.3f} ({len(X_train)} series)"
        if y_test is not None:
            table["label"] = y_test
            status += f"; accuracy on TEST {np.mean(predicted == y_test):.3f} ({len(y_test)} series)"
        classes, prototypes = job.class_prototypes()
        gallery = [(picture, f"class {c}: its most typical TRAIN series") for picture, c in zip(self._pngs(prototypes), classes)]
        return status, views.table_html(table), gallery, self._write_csv(table, "predictions.csv")

    # ------------------------------------------------------------------ generate
    def generate_classes(self, classes, steps, guidance, count, seed, progress=gr.Progress()):
        """(status, gallery) of ``count`` images per ImageNet class."""
        if not classes:
            raise ValueError("choose at least one ImageNet class")
        names = self._class_names()
        unknown = [c for c in classes if not 0 <= int(c) < len(names)]
        if unknown:
            raise ValueError(f"unknown class ids {unknown}: this generator knows classes 0 to {len(names) - 1}")
        gallery = []
        for i, c in enumerate(progress.tqdm(classes, desc="drawing")):
            images = self.pipe.generate_images([int(c)] * int(count), steps=int(steps), guidance=float(guidance), seed=int(seed) + i)
            gallery += [(picture, names[int(c)]) for picture in self._pngs(images)]
        return f"{len(gallery)} images for {len(classes)} classes ({int(steps)} steps, guidance {float(guidance):g})", gallery

    def generate_series(self, file, time, value, steps, guidance, count, seed):
        """(status, gallery) of ``count`` images drawn for a series' most recent window."""
        series = self._series(file, time, value)
        window = series.values[-self.pipe.temporal.seq_len :]
        images = self.pipe.series_to_image(np.tile(window, (int(count), 1)), sample=True, guidance=float(guidance), seed=int(seed), progress=False)
        gallery = [(picture, f"{series.name}, draw {i + 1}") for i, picture in enumerate(self._pngs(images))]
        return f"{len(gallery)} images drawn for the last {len(window):,} steps of {series.name}", gallery

    def _class_names(self) -> list[str]:
        """Names of the generator's classes: ImageNet's when it has its 1,000, else numbers."""
        count = self.pipe.generator.config.condition_num_classes if self.pipe.generator is not None else 0
        table = imagenet_classes()
        return list(table.names) if count == len(table.names) else [f"class {i}" for i in range(count)]

    # ------------------------------------------------------------------ layout
    def _series_source(self, prefix: str, status) -> SeriesSource:
        with gr.Row():
            example = gr.Dropdown(choices=list(examples.SERIES_EXAMPLES), value=None, label="example series", elem_id=f"{prefix}-example")
            file = gr.File(label=f"or upload a CSV or Parquet file (up to {inputs.UPLOAD_LIMIT_MB} MB)", elem_id=f"{prefix}-file", height=150)
        with gr.Row():
            # Custom values let API callers name columns of a table the page has not read; the handlers check them.
            time = gr.Dropdown(label="time column", elem_id=f"{prefix}-time", choices=[], allow_custom_value=True)
            value = gr.Dropdown(label="value column", elem_id=f"{prefix}-value", choices=[], allow_custom_value=True)
        example.input(self.example_file, [example], [file], api_visibility="private")
        file.upload(lambda: None, [], [example], api_visibility="private")  # an uploaded file replaces the example
        _on(file.change, self.columns, [file], [time, value], status, model=False, api_name=f"{prefix}_columns")
        return SeriesSource(file, time, value)

    def build(self) -> gr.Blocks:
        path = self.pipe.pretrained_path
        model = "the bundled default model" if path == DEFAULT_MODEL_DIR.resolve() else f"`{path}`" if path else "a pipeline built in memory"
        with gr.Blocks(title="timeartist playground", analytics_enabled=False, delete_cache=(3600, 3600)) as app:
            gr.Markdown(
                "## timeartist playground\n"
                f"Model: {model}. Everything runs on this machine; nothing is sent anywhere. "
                f"Uploads: CSV or Parquet tables and PNG/JPEG/BMP/GIF/WebP/TIFF photos, up to {inputs.UPLOAD_LIMIT_MB} MB each."
            )
            for tab in (self._forecast_tab, self._convert_tab, self._classify_tab, self._generate_tab):
                tab()
        return app

    def _forecast_tab(self) -> None:
        with gr.Tab("Forecast", elem_id="tab-forecast"):
            status = _status_line("forecast-status")
            source = self._series_source("forecast", status)
            with gr.Row():
                horizon = gr.Textbox(value="96", label=f"horizon (steps, up to {inputs.MAX_HORIZON:,})", elem_id="forecast-horizon")
                period = gr.Textbox(value="auto", label="period (steps, or auto)", elem_id="forecast-period")
                levels = gr.Textbox(value="0.1, 0.5, 0.9", label="quantile levels (for bands)", elem_id="forecast-levels")
            run = gr.Button("Forecast", variant="primary", elem_id="forecast-run")
            status.render()
            plot = gr.Plot(label="history and forecast", elem_id="forecast-plot")
            canvas = gr.Image(
                label="the picture the outpainter saw (top: a column per period, a row per phase; blue low, red high) and what it painted "
                "(bottom: between the dotted lines, read back as the forecast)", elem_id="forecast-canvas", interactive=False,
            )  # fmt: skip
            with gr.Row():
                table = gr.HTML(label="forecast", elem_id="forecast-table")
                download = gr.File(label="forecast as CSV", elem_id="forecast-download", interactive=False)
            _on(run.click, self.forecast, [*source.inputs, horizon, period, levels], [plot, canvas, table, download], status, api_name="forecast")

    def _convert_tab(self) -> None:
        with gr.Tab("Series <-> image", elem_id="tab-convert"):
            status = _status_line("convert-status")
            window, photo = gr.State(), gr.State()
            with gr.Row():
                with gr.Column():
                    source = self._series_source("convert", status)
                    draw = gr.Button("Series -> picture", variant="primary", elem_id="convert-run")
                    status.render()
                    window_plot = gr.Plot(label="the series window", elem_id="convert-series")
                    pictures = gr.Gallery(label="its picture", elem_id="convert-pictures", columns=2, height=300, object_fit="contain")
                with gr.Column():
                    photo_file = gr.File(label=f"a photo (up to {inputs.UPLOAD_LIMIT_MB} MB)", elem_id="photo-file", height=150)
                    photo_status = _status_line("photo-status")
                    photo_status.render()
                    photo_seen = gr.Image(label="the photo as the tokenizer sees it", elem_id="photo-seen", interactive=False, height=260)
                    photo_plot = gr.Plot(label="the photo as a series", elem_id="photo-series")
                    alpha = gr.Slider(0, 1, value=0.5, step=0.05, label="style: alpha, the weight of the series' codes", elem_id="style-alpha")
                    style_status = _status_line("style-status")
                    style_status.render()
                    styled = gr.Image(label="the photo in the series' style", elem_id="style-image", interactive=False, height=260)
            drawn = _on(draw.click, self.series_pictures, source.inputs, [window_plot, pictures, window], status, api_name="series_to_image")
            read = _on(photo_file.change, self.photo_series, [photo_file], [photo_seen, photo_plot, photo], photo_status, api_name="image_to_series")
            _on(alpha.change, self.style, [photo, window, alpha], [styled], style_status, api_name="style", trigger_mode="always_last")
            for event in (drawn.then, read.then):  # a new series or photo restyles at once
                _on(event, self.style, [photo, window, alpha], [styled], style_status, api_visibility="private")

    def _classify_tab(self) -> None:
        with gr.Tab("Classify", elem_id="tab-classify"):
            status = _status_line("classify-status")
            with gr.Row():
                train = gr.File(label=f"TRAIN: one series a row and a label column (CSV or Parquet, up to {inputs.UPLOAD_LIMIT_MB} MB)", elem_id="classify-train", height=150)
                test = gr.File(label="TEST: one series a row, same columns (labels optional)", elem_id="classify-test", height=150)
            with gr.Row():
                example = gr.Button("use the example: three wave shapes", elem_id="classify-example")
                label = gr.Dropdown(label="label column", choices=[], elem_id="classify-label", allow_custom_value=True)
                route = gr.Radio(["auto", "vision", "codes"], value="auto", label="route", elem_id="classify-route")
            run = gr.Button("Classify", variant="primary", elem_id="classify-run")
            status.render()
            with gr.Row():
                predictions = gr.HTML(label="predictions", elem_id="classify-table")
                prototypes = gr.Gallery(label="each class as the classifier sees it", elem_id="classify-prototypes", columns=3, height=300, object_fit="contain")
            download = gr.File(label="predictions as CSV", elem_id="classify-download", interactive=False)
            example.click(self.example_classes, [], [train, test], api_visibility="private")
            _on(train.change, self.label_choices, [train], [label], status, model=False, api_visibility="private")
            _on(run.click, self.classify, [train, test, label, route], [predictions, prototypes, download], status, api_name="classify")

    def _generate_tab(self) -> None:
        with gr.Tab("Generate", elem_id="tab-generate"):
            status = _status_line("generate-status")
            names = self._class_names()
            with gr.Row():
                steps = gr.Slider(1, 16, value=8, step=1, label="decoding steps", elem_id="generate-steps")
                guidance = gr.Slider(0, 8, value=3, step=0.5, label="guidance (0: ignore the condition, 1: plain conditional)", elem_id="generate-guidance")
                count = gr.Slider(1, 8, value=2, step=1, label="images per class or series", elem_id="generate-count")
                seed = gr.Number(value=0, precision=0, label="seed", elem_id="generate-seed")
            with gr.Row():
                with gr.Column():
                    classes = gr.Dropdown(
                        choices=[(f"{i}: {n}", i) for i, n in enumerate(names)], value=[c for c in DEFAULT_CLASSES if c < len(names)],
                        multiselect=True, label="ImageNet classes", elem_id="generate-classes",
                    )  # fmt: skip
                    by_class = gr.Button("Draw for the classes", variant="primary", elem_id="generate-run")
                with gr.Column():
                    source = self._series_source("generate", status)
                    by_series = gr.Button("Draw for the series", elem_id="generate-series-run")
            status.render()
            gallery = gr.Gallery(label="drawn images", elem_id="generate-gallery", columns=8, height=300, object_fit="contain")
            _on(by_class.click, self.generate_classes, [classes, steps, guidance, count, seed], [gallery], status, api_name="generate")
            _on(by_series.click, self.generate_series, [*source.inputs, steps, guidance, count, seed], [gallery], status, api_name="generate_for_series")
