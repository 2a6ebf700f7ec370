"""``TimeArtist``: the series tokenizer, TiTok's 1-D tokenizer with 1-D patches.

Full size (configs/stage1/timeartist_b64_512.yaml): a z-normalised series (B, 512) is cut into 32 patches of 16,
each linearly embedded to width 768; with a class token and 64 latent tokens a 12-block pre-LN ViT encodes it,
the 64 latent outputs are projected to 12 channels, z (B, 12, 1, 64), and the shared quantizer maps each to one
code id, q_ind (B, 1, 64). The decoder reads the 64 codes with 32 mask-token queries and projects each query
back to a patch of 16 values. The model does not normalise: callers pass z-scored series.

Unlike the image tokenizer, the latents are transposed properly (no legacy reshape).
"""

from __future__ import annotations

from einops import rearrange
from torch import Tensor, nn

from timeartist.hub import PretrainedMixin
from timeartist.models.config import TimeArtistConfig, resolve_config
from timeartist.modules.quantizer import MultiHeadQuantizer
from timeartist.modules.vit import LatentDecoder, LatentEncoder, LatentTokenizer, check_finite, vit_size


class TemporalEncoder(LatentEncoder):
    """(B, L) series -> z (B, D, 1, N) latents."""

    def __init__(self, config: TimeArtistConfig):
        size = vit_size(config.vit_enc_model_size)
        super().__init__(size, config.seq_len // config.vit_enc_patch_size, config.num_latent_tokens, config.token_skip)
        self.patch_size = config.vit_enc_patch_size
        self.patch_embed = nn.Linear(self.patch_size, size.width)
        self.conv_out = nn.Linear(size.width, config.token_size)

    def forward(self, x: Tensor, latent_tokens: Tensor) -> Tensor:
        x = x.to(self.patch_embed.weight.dtype)
        patches = self.patch_embed(rearrange(x, "b (p s) -> b p s", s=self.patch_size))
        z = self.conv_out(self.encode_tokens(patches, latent_tokens))
        return rearrange(z, "b n d -> b d 1 n")


class TemporalDecoder(LatentDecoder):
    """q (B, D, 1, N) codes -> (B, L) series, one linear read-out of ``vit_dec_patch_size`` values per query."""

    def __init__(self, config: TimeArtistConfig):
        size = vit_size(config.vit_dec_model_size)
        num_queries = config.seq_len // config.vit_dec_patch_size
        super().__init__(size, num_queries, config.num_latent_tokens, config.token_size, config.token_skip)
        self.ffn = nn.Linear(size.width, config.vit_dec_patch_size)

    def forward(self, z_q: Tensor) -> Tensor:
        return rearrange(self.ffn(self.decode_queries(z_q)), "b p s -> b (p s)")


class TimeArtist(LatentTokenizer, PretrainedMixin):
    """Series tokenizer with the seed's interface.

    Args:
        config: a ``TimeArtistConfig``, a seed-layout OmegaConf / dict config (``model.vq_model.*`` and
            ``dataset.preprocessing.seq_len``, as ``TimeArtist(OmegaConf.load(yaml))`` in the seed README) or a
            flat dict of ``TimeArtistConfig`` fields.
        quantizer: a ``MultiHeadQuantizer`` to share with the image tokenizer; None builds a new one.

    Methods (B batch, L = seq_len, N latent tokens, D token size, K codebook size):
        encode(x (B, L)) -> (q (B, D, 1, N), q_ind (B, 1, N))
        decode(q (B, D, 1, N)) -> (B, L)        q may come from the image tokenizer when the quantizer is shared
        decode_tokens(ids (B, N) or (B, 1, N)) -> (B, L)
        decode_multi_tokens(series_ids, image_ids, alpha) -> (B, L), alpha weighting the series codes
        forward(x (B, L)) -> (x_hat (B, L), result dict: quantizer_loss, commitment_loss, codebook_loss,
            min_encoding_indices (B, 1, N), latents (B, D, 1, N))
    """

    config_class = TimeArtistConfig

    def __init__(self, config, quantizer: MultiHeadQuantizer | None = None):
        super().__init__()
        config = resolve_config(TimeArtistConfig, config)
        self.seq_len = config.seq_len
        self._build(config, TemporalEncoder(config), TemporalDecoder(config), quantizer)

    def _check_input(self, x: Tensor) -> None:
        if not isinstance(x, Tensor) or not x.is_floating_point():
            got = x.dtype if isinstance(x, Tensor) else type(x).__name__
            raise ValueError(f"expected a float series tensor (B, {self.seq_len}), got {got}")
        if x.ndim != 2 or x.shape[1] != self.seq_len:
            raise ValueError(f"expected series of shape (B, {self.seq_len}), got {tuple(x.shape)}")
        check_finite(x, "series values")

    def _encode_latents(self, x: Tensor) -> Tensor:
        return self.encoder(x, self.latent_tokens)

    def _decode_codes(self, q: Tensor) -> Tensor:
        return self.decoder(q)
