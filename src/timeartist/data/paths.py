"""Where the data lives: one root folder outside the repository, found the same way everywhere.

Resolution order: an explicit ``data_root`` argument (the CLI's ``--data-root``), then the
``TIMEARTIST_DATA`` environment variable, then the first existing folder among ``./dataset`` (the
seed README's convention) and ``../shared/data`` (a checkout next to the shared data folder), both
relative to the working directory. Known dataset names (``etth1``, ``weather``, ...) map to files in
the layout documented by ``EXPECTED_LAYOUT``.
"""

from __future__ import annotations

import os
from pathlib import Path

ENV_VAR = "TIMEARTIST_DATA"
DEFAULT_ROOTS = ("dataset", "../shared/data")

# Relative locations tried for each known LTSF dataset name; the first is the layout of ../shared/data,
# the second the Time-Series-Library bundle layout.
_ETT = {f"ett{kind}{i}": (f"ETT/ETT{kind}{i}.csv", f"ETT-small/ETT{kind}{i}.csv") for kind in "hm" for i in (1, 2)}
KNOWN_LTSF_FILES: dict[str, tuple[str, ...]] = {
    **_ETT,
    "weather": ("weather/weather.csv",),
    "electricity": ("electricity/electricity.csv",),
    "traffic": ("traffic/traffic.csv",),
    "exchange_rate": ("exchange_rate/exchange_rate.csv",),
    "illness": ("illness/national_illness.csv",),
}

EXPECTED_LAYOUT = (
    "expected layout under the data root: ETT/ETTh1.csv (or ETT-small/ETTh1.csv), weather/weather.csv, "
    "electricity/electricity.csv, traffic/traffic.csv, exchange_rate/exchange_rate.csv, "
    "illness/national_illness.csv, UCR/<Name>/<Name>_TRAIN.ts, UEA/<Name>/<Name>_TEST.ts, "
    "forecasting_competitions/m1_data.json, monash/*.tsf, images/<any folders>/*.jpg|*.png"
)


def resolve_data_root(data_root: str | os.PathLike | None = None) -> Path:
    """Return the data root folder: ``data_root`` > ``$TIMEARTIST_DATA`` > ``./dataset`` > ``../shared/data``.

    Raises FileNotFoundError naming every folder it tried and the expected layout.
    """
    if data_root is not None:
        candidates = [Path(data_root)]
    elif os.environ.get(ENV_VAR):
        candidates = [Path(os.environ[ENV_VAR])]
    else:
        candidates = [Path(p) for p in DEFAULT_ROOTS]
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    tried = ", ".join(str(c.resolve()) for c in candidates)
    raise FileNotFoundError(
        f"data root not found (tried {tried}); pass data_root / --data-root or set {ENV_VAR}. {EXPECTED_LAYOUT}"
    )


def ltsf_path(name: str | os.PathLike, data_root: str | os.PathLike | None = None) -> Path:
    """Path of an LTSF CSV given a known name (case-insensitive, e.g. ``"ETTh1"``) or a path to a CSV file."""
    key = str(name).lower()
    if key not in KNOWN_LTSF_FILES:
        path = Path(name)
        if path.is_file():
            return path
        raise FileNotFoundError(
            f"{name!r} is neither an existing CSV file nor a known dataset name ({', '.join(sorted(KNOWN_LTSF_FILES))})"
        )
    root = resolve_data_root(data_root)
    for rel in KNOWN_LTSF_FILES[key]:
        if (root / rel).is_file():
            return root / rel
    tried = ", ".join(str(root / rel) for rel in KNOWN_LTSF_FILES[key])
    raise FileNotFoundError(f"dataset {name!r} not found (tried {tried}); {EXPECTED_LAYOUT}")


def require_file(path: str | os.PathLike, what: str) -> Path:
    """Return ``Path(path)`` if it is a file, else raise FileNotFoundError saying what was expected there."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: file not found; expected {what}")
    return path
