"""The error types timeartist raises on purpose.

Every error a user can act on is a ``ValueError`` (bad shapes, value ranges, arguments, damaged or mismatched
files) or a ``FileNotFoundError`` (an expected file or folder is missing); the message names the input or the file
and says what was expected. Two subclasses of ``ValueError`` let callers tell model problems apart:

- ``CheckpointError``: a model file is damaged (checksum, truncation, bad header, broken JSON) or does not fit the
  model it is loaded into.
- ``NonFiniteOutputError``: a model turned finite input into NaN or inf values (usually damaged weights), raised
  instead of returning them.
- ``DataError``: the data of particular items of a batch (series, images) cannot be used; it names them by their
  position (or id) so that a caller can say which file, column or window they came from
  (``pipelines.forecasting.SeriesError`` is the one for series).

The CLI turns both kinds into one line on stderr and exit code 2. Anything else escaping the library is a bug.
"""

from __future__ import annotations

import numpy as np
import torch


class CheckpointError(ValueError):
    """A checkpoint is damaged, or does not fit the model it is loaded into (missing, unexpected or mis-shaped keys)."""


class NonFiniteOutputError(ValueError):
    """A model produced NaN or inf values from finite input."""


class DataError(ValueError):
    """The data of particular items of a batch cannot be used. ``reason`` says why without naming an item; ``rows``
    are the failing items (positions in the batch, or ids; ``None``: every item); ``kind`` names what they are."""

    def __init__(self, reason: str, rows: list | None = None, kind: str = "items"):
        self.reason, self.rows = reason, rows
        super().__init__(f"{kind} {rows[:5]}: {reason}" if rows else reason)


def check_finite_output(values: np.ndarray | torch.Tensor, what: str) -> np.ndarray | torch.Tensor:
    """Return ``values`` unchanged when all are finite, else raise ``NonFiniteOutputError`` saying ``what`` they are."""
    finite = torch.isfinite(values).all() if isinstance(values, torch.Tensor) else np.isfinite(values).all()
    if not finite:
        raise NonFiniteOutputError(
            f"{what}: the model produced NaN or inf values from finite input; its weights are probably damaged "
            "(reinstall timeartist for the bundled model, or re-export the pipeline)"
        )
    return values
