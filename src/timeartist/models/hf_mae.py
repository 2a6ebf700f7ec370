"""Outpainting with a Hugging Face ``transformers`` ``ViTMAEForPreTraining`` loaded from a local folder.

The MAE sees the left ``visible_cols`` patch columns of the canvas (a deterministic mask passed through
the model's ``noise`` argument), predicts every patch, and the visible pixels are pasted back.

Pixel spaces. ViTMAE checkpoints are trained on ImageNet mean/std normalised inputs, so images in [0, 1] are
normalised on the way in and predictions are mapped back on the way out (mean/std come from the folder's
``preprocessor_config.json`` when present, else the ImageNet values). Checkpoints trained with
``norm_pix_loss`` predict each patch normalised by its own mean and variance, which a masked patch does not
have; such outputs are de-normalised with the statistics of the last visible patch in the same patch row,
an approximation that keeps levels continuous across the mask edge. Prefer weights trained without norm-pix
loss (the "visualize" MAE weights VisionTS uses) and check ``norm_pix`` after loading: it defaults to the
config's ``norm_pix_loss`` flag, which some converted checkpoints do not set truthfully.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import torch
from einops import rearrange
from torch import Tensor, nn

from timeartist.models.outpainting import right_mask_noise

logger = logging.getLogger(__name__)

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")


def _vit_mae_class():
    try:
        from transformers import ViTMAEForPreTraining
    except ImportError as err:
        raise ImportError("the Hugging Face MAE outpainter needs transformers: pip install transformers (or timeartist[vision])") from err
    return ViTMAEForPreTraining


def _pair(value: int | tuple[int, int] | list[int]) -> tuple[int, int]:
    return (int(value[0]), int(value[1])) if isinstance(value, (tuple, list)) else (int(value), int(value))


class HFMAEOutpainter(nn.Module):
    """Outpainter (see ``timeartist.models.outpainting.Outpainter``) around a ``ViTMAEForPreTraining``.

    Args:
        mae: the model; put in eval mode here.
        image_mean, image_std: per-channel normalisation of its training inputs.
        norm_pix: whether it predicts per-patch normalised pixels; ``None`` reads ``mae.config.norm_pix_loss``.
    """

    def __init__(
        self,
        mae: nn.Module,
        image_mean: tuple[float, float, float] = IMAGENET_MEAN,
        image_std: tuple[float, float, float] = IMAGENET_STD,
        norm_pix: bool | None = None,
    ):
        super().__init__()
        config = mae.config
        if config.num_channels != 3:
            raise ValueError(f"the MAE outpainter works on RGB canvases: expected a model with 3 input channels, got {config.num_channels}")
        self.mae = mae.eval()
        self.norm_pix = bool(config.norm_pix_loss) if norm_pix is None else norm_pix
        self.image_size = _pair(config.image_size)
        self.patch_size = _pair(config.patch_size)
        self.register_buffer("image_mean", torch.tensor(image_mean, dtype=torch.float32).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("image_std", torch.tensor(image_std, dtype=torch.float32).view(1, 3, 1, 1), persistent=False)

    @classmethod
    def from_pretrained(cls, path: str | Path, device: torch.device | str = "cpu", norm_pix: bool | None = None) -> HFMAEOutpainter:
        """Load a local ``save_pretrained`` folder (``config.json`` + weights). Never downloads."""
        path = Path(path)
        if not (path / "config.json").is_file():
            raise FileNotFoundError(f"HF ViTMAE folder must contain config.json: expected {path / 'config.json'}")
        if not any((path / f).is_file() for f in WEIGHT_FILES):
            raise FileNotFoundError(f"HF ViTMAE folder {path} has no weights: expected one of {', '.join(WEIGHT_FILES)}")
        mae = _vit_mae_class().from_pretrained(path, local_files_only=True)
        mean, std = IMAGENET_MEAN, IMAGENET_STD
        processor = path / "preprocessor_config.json"
        if processor.is_file():
            settings = json.loads(processor.read_text())
            mean, std = tuple(settings.get("image_mean", mean)), tuple(settings.get("image_std", std))
        logger.info("loaded HF ViTMAE outpainter from %s (norm_pix=%s)", path, mae.config.norm_pix_loss if norm_pix is None else norm_pix)
        return cls(mae, mean, std, norm_pix).to(device)

    @torch.no_grad()
    def outpaint(self, images: Tensor, visible_cols: int) -> Tensor:
        """images (B, 3, H, W), (H, W) = image_size, values in [0, 1] (outside allowed) -> (B, 3, H, W): the
        left ``visible_cols`` patch columns copied from the input, the rest predicted by the MAE."""
        if images.ndim != 4 or tuple(images.shape[1:]) != (3, *self.image_size):
            raise ValueError(f"expected canvases of shape (B, 3, {self.image_size[0]}, {self.image_size[1]}), got {tuple(images.shape)}")
        (ph, pw), (gh, gw) = self.patch_size, (self.image_size[0] // self.patch_size[0], self.image_size[1] // self.patch_size[1])
        noise = right_mask_noise(images.shape[0], (gh, gw), visible_cols, device=self.image_mean.device)
        x = images.to(self.image_mean.device, torch.float32)
        x_norm = (x - self.image_mean) / self.image_std

        # ViTMAE keeps int(num_patches * (1 - mask_ratio)) patches; aim half a patch above the wanted count so
        # float rounding cannot drop one.
        keep = visible_cols * gh
        config, mask_ratio = self.mae.config, self.mae.config.mask_ratio
        config.mask_ratio = 1.0 - (keep + 0.5) / (gh * gw)
        try:
            out = self.mae(pixel_values=x_norm.to(self.mae.dtype), noise=noise)
        finally:
            config.mask_ratio = mask_ratio
        if not torch.equal(out.mask.bool(), noise >= keep):
            raise RuntimeError("ViTMAE did not apply the requested right-side mask; this transformers version masks differently")

        pred = out.logits.float()  # (B, gh * gw, ph * pw * 3), row-major patches, channels last in a patch
        if self.norm_pix:
            pred = self._denormalize_patches(pred, x_norm, visible_cols, (gh, gw))
        recon = rearrange(pred, "b (gh gw) (ph pw c) -> b c (gh ph) (gw pw)", gh=gh, gw=gw, ph=ph, pw=pw)
        recon = recon * self.image_std + self.image_mean
        recon[..., : visible_cols * pw] = x[..., : visible_cols * pw]
        return recon.to(images.device, images.dtype)

    def _denormalize_patches(self, pred: Tensor, x_norm: Tensor, visible_cols: int, grid: tuple[int, int]) -> Tensor:
        """Undo per-patch normalisation with the mean/std of the last visible patch of each patch row."""
        (gh, gw), (ph, pw) = grid, self.patch_size
        patches = rearrange(x_norm, "b c (gh ph) (gw pw) -> b gh gw (ph pw c)", ph=ph, pw=pw)
        edge = patches[:, :, visible_cols - 1]  # (B, gh, P)
        mean = edge.mean(dim=-1, keepdim=True)
        std = (edge.var(dim=-1, keepdim=True) + 1e-6).sqrt()  # same eps and unbiased var as ViTMAE's target
        pred = rearrange(pred, "b (gh gw) p -> b gh gw p", gh=gh, gw=gw)
        pred = pred * std.unsqueeze(2) + mean.unsqueeze(2)
        return rearrange(pred, "b gh gw p -> b (gh gw) p")
