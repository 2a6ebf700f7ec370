"""Shared test fixtures.

Real datasets live outside the repository (``../shared/data`` next to the checkout, or ``$TIMEARTIST_DATA``).
Tests that need them take the ``data_root`` fixture and skip, saying why, when the folder is absent.
"""

from __future__ import annotations

import os
from pathlib import Path

# Idle OpenMP threads sleep instead of spinning: on 2 shared cores spinning makes tiny ops 10-100x slower.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
# One BLAS thread: small linear algebra (FED's 1280x1280 eigh) is ~40x slower with 2 threads on busy cores.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np
import pytest
import torch

REPO = Path(__file__).resolve().parents[1]

CODE = dict(codebook_size=64, token_size=4, quantizer_heads=2, vit_enc_model_size="tiny", vit_dec_model_size="tiny",
            vit_enc_patch_size=8, vit_dec_patch_size=8, num_latent_tokens=8)


def build_tiny_pipeline():
    """A randomly initialised pipeline at CPU size: series 64, images 32x32, 8 tokens, codebook 64 (2 heads)."""
    from timeartist.models import AdapterAlignment, AdapterAlignmentConfig, TimeArtist, TimeArtistConfig, VisionModel, VisionModelConfig
    from timeartist.models.generator import TokenGenerator, TokenGeneratorConfig
    from timeartist.models.outpainter import MAEOutpainter, OutpainterConfig
    from timeartist.pipelines.pipeline import TimeArtistPipeline

    temporal = TimeArtist(TimeArtistConfig(seq_len=64, **CODE))
    visual = VisionModel(VisionModelConfig(image_size=32, is_legacy=False, finetune_decoder=False, **CODE), quantizer=temporal.quantize)
    align = AdapterAlignmentConfig(codebook_size=64, num_latent_tokens=8, model_size="tiny")
    outpainter = MAEOutpainter(OutpainterConfig(image_size=(8, 32), patch_size=(8, 1), width=32, depth=1, decoder_depth=1, heads=2))
    generator = TokenGenerator(TokenGeneratorConfig(codebook_size=64, image_seq_len=8, condition_num_classes=10, num_series_tokens=8,
                                                    hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64))
    return TimeArtistPipeline(temporal, visual, AdapterAlignment(align), AdapterAlignment(align), outpainter, generator)



def _find_data_root() -> Path | None:
    env = os.environ.get("TIMEARTIST_DATA")
    candidates = [Path(env)] if env else []
    candidates.append(REPO.parent / "shared" / "data")
    for c in candidates:
        if c.is_dir():
            return c
    return None


@pytest.fixture(scope="session")
def data_root() -> Path:
    root = _find_data_root()
    if root is None:
        pytest.skip("real data not found: set TIMEARTIST_DATA or place the shared data folder at ../shared/data")
    return root


@pytest.fixture(scope="session")
def tiny_pipeline_dir(tmp_path_factory) -> Path:
    """A saved tiny pipeline folder (read-only for tests: copy it before changing anything)."""
    torch.manual_seed(0)
    return build_tiny_pipeline().save_pretrained(tmp_path_factory.mktemp("tiny_pipeline"))


@pytest.fixture(autouse=True)
def _seed_and_threads():
    torch.manual_seed(0)
    np.random.seed(0)
    yield
