"""Local checkpoints: ``config.json`` + ``model.safetensors`` in one folder, loaded strictly.

Nothing here touches the network. ``from_pretrained`` takes a local directory only; a missing file is a
``FileNotFoundError`` that names the path it expected. A state dict that does not match the model raises
``CheckpointError`` listing the missing, unexpected and wrongly shaped keys, instead of loading partially.

Damaged files are ``CheckpointError`` too, naming the file and what to do: a weight file whose sha256 differs from
the one recorded for it (a pipeline's index records one per file), a truncated file or a bad safetensors header
(checked on every load, with or without a recorded hash), and a config that is not valid JSON.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any, Mapping, TypeVar

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from timeartist.errors import CheckpointError

logger = logging.getLogger(__name__)

CONFIG_NAME = "config.json"
# The model ``TimeArtistPipeline.from_pretrained()`` loads when given no folder; shipped inside the package.
DEFAULT_MODEL_DIR = Path(__file__).resolve().parent / "assets" / "default_model"
WEIGHTS_NAME = "model.safetensors"

M = TypeVar("M", bound="PretrainedMixin")
RESTORE_HINT = "restore it from its source (reinstall timeartist for the bundled model) or write the folder again with save_pretrained / `timeartist export`"


def file_sha256(path: str | os.PathLike) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_sha256(path: str | os.PathLike, expected: str, hint: str = RESTORE_HINT) -> None:
    """CheckpointError naming ``path`` (and ending with ``hint``, what to do) unless its sha256 is ``expected``."""
    actual = file_sha256(path)
    if actual != expected:
        raise CheckpointError(f"{path} is damaged: its sha256 {actual[:16]}... differs from the recorded {expected[:16]}...; {hint}")


def read_json(path: str | os.PathLike) -> Any:
    """A JSON file's value; a file that is not valid JSON is a CheckpointError naming it."""
    try:
        return json.loads(Path(path).read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise CheckpointError(f"{path} is not valid JSON ({error}); {RESTORE_HINT}") from None


def load_weights(path: str | os.PathLike, sha256: str | None = None, device: str = "cpu") -> dict[str, torch.Tensor]:
    """A safetensors file -> state dict, after checking ``sha256`` when given; a truncated file or a bad header is
    a CheckpointError naming the file."""
    if sha256 is not None:
        verify_sha256(path, sha256)
    try:
        return load_file(path, device=device)
    except SafetensorError as error:
        raise CheckpointError(f"{path} is damaged ({error}); {RESTORE_HINT}") from None


def atomic_write(path: str | os.PathLike, write_fn) -> None:
    """Call ``write_fn(tmp_path)`` then rename over ``path``, so a crash never leaves a half-written file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write_fn(tmp)
        os.chmod(tmp, 0o644)  # mkstemp makes 0600 files; checkpoints and bundled assets should be readable
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def output_folder(path: str | os.PathLike) -> Path:
    """An output folder, created if needed; one that cannot be created or written into is a ValueError naming it."""
    out = Path(path)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ValueError(f"cannot create the output folder {out}: {error.strerror or error}") from None
    if not os.access(out, os.W_OK):
        raise ValueError(f"cannot write into the output folder {out}: permission denied")
    return out


def load_state_dict_strict(module: torch.nn.Module, state_dict: Mapping[str, torch.Tensor], source: str = "checkpoint") -> None:
    """Load ``state_dict`` into ``module`` only if keys and shapes match exactly; otherwise say what differs."""
    own = module.state_dict()
    missing = sorted(set(own) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(own))
    wrong = sorted(
        f"{k}: checkpoint {tuple(state_dict[k].shape)} vs model {tuple(own[k].shape)}"
        for k in set(own) & set(state_dict)
        if tuple(own[k].shape) != tuple(state_dict[k].shape)
    )
    if missing or unexpected or wrong:

        def _fmt(title: str, items: list[str]) -> str:
            shown = ", ".join(items[:10]) + (f", ... ({len(items)} in all)" if len(items) > 10 else "")
            return f"\n  {title}: {shown}" if items else ""

        raise CheckpointError(
            f"{source} does not match {type(module).__name__}:"
            + _fmt("missing keys", missing)
            + _fmt("unexpected keys", unexpected)
            + _fmt("wrong shapes", wrong)
        )
    module.load_state_dict(state_dict, strict=True)


def config_from_dict(config_class: type, values: Mapping[str, Any]):
    """Build a config dataclass from a dict, rejecting keys the dataclass does not know."""
    names = {f.name for f in dataclasses.fields(config_class)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise CheckpointError(f"{config_class.__name__} got unknown config keys {unknown}; known keys: {sorted(names)}")
    return config_class(**values)


class PretrainedMixin:
    """``save_pretrained`` / ``from_pretrained`` for an ``nn.Module`` built from a dataclass ``self.config``.

    Subclasses set ``config_class`` and take the config instance as the first constructor argument.
    """

    config_class: type

    def save_pretrained(self, path: str | os.PathLike) -> Path:
        """Write ``config.json`` and ``model.safetensors`` into ``path`` (created if needed), atomically."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        config = json.dumps(dataclasses.asdict(self.config), indent=2, sort_keys=True)
        atomic_write(path / CONFIG_NAME, lambda tmp: Path(tmp).write_text(config + "\n"))
        # Cloning breaks storage sharing (a quantizer shared by two tokenizers), which safetensors refuses;
        # strict loading copies the values back into the one shared parameter.
        state = {k: v.detach().to("cpu").contiguous().clone() for k, v in self.state_dict().items()}
        atomic_write(path / WEIGHTS_NAME, lambda tmp: save_file(state, tmp, metadata={"format": "pt"}))
        return path

    @classmethod
    def from_pretrained(cls: type[M], path: str | os.PathLike, map_location: str | torch.device = "cpu", sha256: str | None = None) -> M:
        """Load a folder written by ``save_pretrained``. Strict: every key and shape must match. ``sha256``: the
        recorded hash of ``model.safetensors`` (checked when given; a pipeline's index records it)."""
        path = Path(path)
        config_path, weights_path = path / CONFIG_NAME, path / WEIGHTS_NAME
        for f in (config_path, weights_path):
            if not f.is_file():
                raise FileNotFoundError(
                    f"{cls.__name__}.from_pretrained expected {f} (a folder with {CONFIG_NAME} and {WEIGHTS_NAME})"
                )
        config = config_from_dict(cls.config_class, read_json(config_path))
        model = cls(config)
        load_state_dict_strict(model, load_weights(weights_path, sha256, device=str(map_location)), source=str(weights_path))
        logger.info("loaded %s from %s", cls.__name__, path)
        return model.to(map_location)
