"""``AdapterAlignment``: translates a token-id sequence of one modality into the other's (logits over the codes).

Series and images share one codebook, but the two tokenizers use it differently; alignment learns, without
paired data, which image tokens a series' tokens should become (and, with a second instance, the reverse).

    ids (B, N) -> embedding K->W + learned positions -> pre-LN ViT blocks (bidirectional) -> LayerNorm
        -> Linear W->K -> + gamma * onehot(ids) -> logits (B, N, K)

The last term is the adapter's identity prior, gamma learnable. The output layer starts at zero, so an
untrained aligner's argmax returns its input: it starts as the "before alignment" mapping of the shared codebook
and training moves it away only as far as the data asks. gamma starts at ln K, which gives the input token
probability 1/2 under the initial softmax.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from timeartist.hub import PretrainedMixin
from timeartist.models.config import AdapterAlignmentConfig, resolve_config
from timeartist.modules.vit import as_token_ids, init_weights, make_blocks, run_blocks, scaled_randn, vit_size


class AdapterAlignment(nn.Module, PretrainedMixin):
    """Token-id translator.

    Args:
        config: an ``AdapterAlignmentConfig``, a seed-layout config (the stage-2 YAML; see
            ``AdapterAlignmentConfig.from_seed``) or a flat dict of its fields.

    forward(ids (B, N) or (B, 1, N) long in [0, K)) -> logits (B, N, K); ``argmax(-1)`` gives ids (B, N) for the
    other tokenizer's ``decode_tokens``. The seed's ``stage2/pytorch_model.bin`` is ``torch.save`` of this
    module's state dict and loads with ``load_state_dict``.
    """

    config_class = AdapterAlignmentConfig

    def __init__(self, config):
        super().__init__()
        self.config = resolve_config(AdapterAlignmentConfig, config)
        size = vit_size(self.config.model_size)
        self.codebook_size = self.config.codebook_size
        self.num_latent_tokens = self.config.num_latent_tokens
        self.embedding = nn.Embedding(self.codebook_size, size.width)
        self.positional_embedding = scaled_randn(size.width, self.num_latent_tokens)
        self.transformer = make_blocks(size)
        self.ln_post = nn.LayerNorm(size.width)
        self.head = nn.Linear(size.width, self.codebook_size)
        self.identity_gain = nn.Parameter(torch.tensor(math.log(self.codebook_size)))
        self.apply(init_weights)
        nn.init.zeros_(self.head.weight)  # logits start as the identity prior alone (see module docstring)
        nn.init.zeros_(self.head.bias)

    @torch.no_grad()
    def init_from_codebook(self, codebook: Tensor) -> None:
        """Set the input embedding to codebook (K, D) @ P, P a random (D, W) projection with std 0.02, so tokens
        with nearby codes start with nearby embeddings (at the scale of the default init)."""
        if not isinstance(codebook, Tensor) or codebook.ndim != 2 or codebook.shape[0] != self.codebook_size:
            got = tuple(codebook.shape) if isinstance(codebook, Tensor) else type(codebook).__name__
            raise ValueError(f"expected a codebook of shape ({self.codebook_size}, D), got {got}")
        weight = self.embedding.weight
        projection = 0.02 * torch.randn(codebook.shape[1], weight.shape[1], device=weight.device, dtype=weight.dtype)
        weight.copy_(codebook.to(weight) @ projection)

    def forward(self, tokens: Tensor) -> Tensor:
        ids = as_token_ids(tokens, self.num_latent_tokens, self.codebook_size)
        x = self.embedding(ids) + self.positional_embedding
        logits = self.head(self.ln_post(run_blocks(self.transformer, x)))
        prior = self.identity_gain.to(logits.dtype).expand(*ids.shape, 1)
        return logits.scatter_add(-1, ids.unsqueeze(-1), prior)
