import math

import pytest
import torch
import torch.nn.functional as F

from timeartist.hub import load_state_dict_strict
from timeartist.modules.quantizer import (
    USAGE_WINDOW,
    MultiHeadQuantizer,
    codebook_stats,
    merge_head_indices,
    split_global_index,
)


def _latents(batch=4, dim=4, tokens=8):
    return torch.randn(batch, dim, 1, tokens)


def test_single_head_is_titok_l2_vq():
    quant = MultiHeadQuantizer(codebook_size=32, token_size=4, heads=1, commitment_cost=0.25)
    z = _latents()
    z_q, out = quant(z)

    # TiTok's VQ written out on the same codebook
    flat = F.normalize(z.permute(0, 2, 3, 1).reshape(-1, 4), dim=-1)
    table = F.normalize(quant.embedding.weight, dim=-1)
    dist = flat.pow(2).sum(1, keepdim=True) + table.pow(2).sum(1) - 2 * flat @ table.t()
    idx = dist.argmin(1)
    q = F.normalize(table[idx], dim=-1)
    assert torch.equal(out["min_encoding_indices"], idx.view(4, 1, 8))
    torch.testing.assert_close(z_q, q.view(4, 1, 8, 4).permute(0, 3, 1, 2))
    torch.testing.assert_close(out["commitment_loss"], 0.25 * torch.mean((q - flat) ** 2))
    torch.testing.assert_close(out["codebook_loss"], torch.mean((q - flat) ** 2))
    torch.testing.assert_close(out["quantizer_loss"], 1.25 * torch.mean((q - flat) ** 2))
    assert z_q.dtype == torch.float32 and out["quantizer_loss"].ndim == 0


def test_nearest_code_matches_full_distances_at_the_bundled_size():
    # the encoder leaves ||x||^2 out of the distances (it is the same for every code); the choice must not change
    quant = MultiHeadQuantizer(codebook_size=4096, token_size=12, heads=1)
    z = torch.randn(8, 12, 1, 512)
    _, out = quant(z)
    flat = F.normalize(z.permute(0, 2, 3, 1).reshape(-1, 12), dim=-1)
    table = F.normalize(quant.embedding.weight, dim=-1)
    full = flat.pow(2).sum(1, keepdim=True) + table.pow(2).sum(1) - 2 * flat @ table.t()
    assert torch.equal(out["min_encoding_indices"].reshape(-1), full.argmin(1))


def test_two_heads_are_residual_vq_written_out():
    quant = MultiHeadQuantizer(codebook_size=32, token_size=4, heads=2, head_codebook_sizes=(4, 8))
    z = _latents()
    z_q, out = quant(z)

    x = F.normalize(z.permute(0, 2, 3, 1).reshape(-1, 4), dim=-1)
    first = F.normalize(quant.codebooks[0].weight, dim=-1)
    second = quant.codebooks[1].weight
    i0 = torch.cdist(x, first).argmin(1)
    residual = x - first[i0]
    i1 = torch.cdist(residual, second).argmin(1)
    q = F.normalize(first[i0] + second[i1], dim=-1)
    assert torch.equal(out["min_encoding_indices"].reshape(-1), i0 * 8 + i1)
    torch.testing.assert_close(z_q, q.view(4, 1, 8, 4).permute(0, 3, 1, 2))
    error = torch.mean((first[i0] - x) ** 2) + torch.mean((second[i1] - residual) ** 2)
    torch.testing.assert_close(out["codebook_loss"], error)
    torch.testing.assert_close(out["quantizer_loss"], 1.25 * error)


def test_straight_through_gradient_reaches_latent_and_used_codes_only():
    quant = MultiHeadQuantizer(codebook_size=16, token_size=4, use_l2_norm=False)
    z = _latents().requires_grad_()
    g = torch.randn(4, 4, 1, 8)
    z_q, out = quant(z)
    (z_q * g).sum().backward()
    torch.testing.assert_close(z.grad, g)  # identity straight-through without l2

    out["quantizer_loss"].backward()
    used = torch.zeros(16, dtype=torch.bool)
    used[out["min_encoding_indices"].unique()] = True
    row_grad = quant.embedding.weight.grad.abs().sum(1)
    assert (row_grad[used] > 0).all() and (row_grad[~used] == 0).all()


@pytest.mark.parametrize("heads,sizes", [(2, (8, 8)), (3, (2, 4, 8))])
def test_multi_head_gradients_reach_latent_and_every_head(heads, sizes):
    quant = MultiHeadQuantizer(codebook_size=64, token_size=4, heads=heads, head_codebook_sizes=sizes)
    z = _latents().requires_grad_()
    z_q, out = quant(z)
    (z_q.sum() + out["quantizer_loss"]).backward()
    assert z.grad.abs().sum() > 0
    assert all(cb.weight.grad.abs().sum() > 0 for cb in quant.codebooks)


@pytest.mark.parametrize("sizes", [(8, 8), (4, 3, 5)])
def test_mixed_radix_round_trip_head_zero_most_significant(sizes):
    k = math.prod(sizes)
    everything = torch.arange(k)
    digits = split_global_index(everything, sizes)
    assert digits.shape == (k, len(sizes))
    assert torch.equal(merge_head_indices(digits, sizes), everything)
    assert digits.unique(dim=0).shape[0] == k
    assert split_global_index(torch.tensor(math.prod(sizes[1:])), sizes).tolist() == [1] + [0] * (len(sizes) - 1)


@pytest.mark.parametrize("heads,sizes", [(2, None), (3, (4, 2, 8))])
def test_forward_indices_decode_to_the_emitted_codes(heads, sizes):
    quant = MultiHeadQuantizer(codebook_size=64, token_size=4, heads=heads, head_codebook_sizes=sizes)
    z_q, out = quant(_latents())
    idx = out["min_encoding_indices"]
    assert idx.shape == (4, 1, 8) and idx.dtype == torch.long
    assert 0 <= int(idx.min()) and int(idx.max()) < 64
    decoded = quant.get_codebook_entry(idx)  # (B, 1, N, D)
    torch.testing.assert_close(decoded.permute(0, 3, 1, 2), z_q)
    torch.testing.assert_close(quant.codebook[idx], decoded)
    assert decoded.norm(dim=-1).sub(1).abs().max() < 1e-5


@pytest.mark.parametrize("heads", [1, 2])
def test_one_hot_weights_equal_index_lookup_and_soft_weights_are_differentiable(heads):
    quant = MultiHeadQuantizer(codebook_size=16, token_size=4, heads=heads)
    idx = torch.tensor([0, 5, 15, 5])
    torch.testing.assert_close(quant.get_codebook_entry(F.one_hot(idx, 16).float()), quant.get_codebook_entry(idx))

    logits = torch.randn(3, 16, requires_grad=True)
    soft = quant.get_codebook_entry(logits.softmax(-1))
    assert soft.shape == (3, 4)
    soft.pow(3).sum().backward()
    assert logits.grad.abs().sum() > 0
    assert all(w.grad.abs().sum() > 0 for w in quant.head_weights)


def test_codebook_stats_on_toy_indices():
    stats = codebook_stats(torch.tensor([[0, 0], [1, 2]]), 4, (2, 2))
    entropy = 1.5  # p = (1/2, 1/4, 1/4)
    assert stats["usage"] == 0.75
    assert stats["entropy"] == pytest.approx(entropy)
    assert stats["perplexity"] == pytest.approx(2**entropy)
    # digits: 0 -> (0, 0), 1 -> (0, 1), 2 -> (1, 0); each head sees p = (3/4, 1/4)
    head_entropy = -(0.75 * math.log2(0.75) + 0.25 * math.log2(0.25))
    for h in (0, 1):
        assert stats[f"head{h}_usage"] == 1.0
        assert stats[f"head{h}_entropy"] == pytest.approx(head_entropy)
    assert codebook_stats(torch.zeros(5, dtype=torch.long), 8) == {"usage": 0.125, "entropy": 0.0, "perplexity": 1.0}


@pytest.mark.parametrize("heads", [1, 2])
def test_dead_code_reseeding_lifts_usage_of_a_collapsed_codebook(heads):
    quant = MultiHeadQuantizer(codebook_size=16, token_size=4, heads=heads, dead_code_threshold=0.5)
    with torch.no_grad():
        for w in quant.head_weights:
            w.copy_(torch.tensor([1.0, 0, 0, 0]) * (1.0 if w is quant.head_weights[0] else 0.1))
    z = _latents(batch=8, tokens=16)
    before = codebook_stats(quant(z)[1]["min_encoding_indices"], 16)["usage"]
    assert before == 1 / 16

    assert quant.reseed_dead_codes(z) == 0  # no usage statistics yet
    quant.train()
    for _ in range(USAGE_WINDOW):
        quant(z)
    assert quant.reseed_dead_codes(z) == sum(k - 1 for k in quant.head_codebook_sizes)  # all but one per head
    quant.load_state_dict(quant.state_dict())
    assert quant.reseed_dead_codes(z) == 0  # loading new codes forgets the old usage
    quant.eval()
    after = codebook_stats(quant(z)[1]["min_encoding_indices"], 16)["usage"]
    assert after >= 0.5


def test_reseeding_is_off_without_threshold_and_usage_is_not_in_state_dict():
    quant = MultiHeadQuantizer(codebook_size=16, token_size=4).train()
    z = _latents()
    for _ in range(USAGE_WINDOW):
        quant(z)
    assert quant.reseed_dead_codes(z) == 0
    assert list(quant.state_dict()) == ["embedding.weight"]
    assert list(MultiHeadQuantizer(64, 4, heads=2).state_dict()) == ["codebooks.0.weight", "codebooks.1.weight"]


def test_titok_codebook_loads_strictly():
    quant = MultiHeadQuantizer()  # TiTok-B-64: K=4096, D=12, heads=1
    titok = {"embedding.weight": torch.randn(4096, 12)}
    load_state_dict_strict(quant, titok, source="TiTok quantize.*")
    assert torch.equal(quant.embedding.weight, titok["embedding.weight"])
    torch.testing.assert_close(quant.codebook, F.normalize(titok["embedding.weight"], dim=-1))


def test_autocast_does_not_change_quantisation():
    quant = MultiHeadQuantizer(codebook_size=64, token_size=4, heads=2)
    z = _latents()
    ref_q, ref = quant(z)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        z_q, out = quant(z.bfloat16().float())
    assert z_q.dtype == torch.float32
    assert torch.equal(out["min_encoding_indices"], ref["min_encoding_indices"])


def test_fresh_residual_head_is_used():
    quant = MultiHeadQuantizer(codebook_size=64, token_size=4, heads=2)
    stats = codebook_stats(quant(_latents(batch=32))[1]["min_encoding_indices"], 64, quant.head_codebook_sizes)
    assert stats["head1_usage"] >= 0.5


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(codebook_size=100, heads=3), "perfect 3-th power"),
        (dict(codebook_size=64, heads=2, head_codebook_sizes=(4, 8)), "multiply to 32"),
        (dict(codebook_size=64, heads=2, head_codebook_sizes=(64,)), "expected 2 positive"),
        (dict(token_size=0), "token_size must be a positive int"),
    ],
)
def test_bad_config(kwargs, match):
    with pytest.raises(ValueError, match=match):
        MultiHeadQuantizer(**kwargs)


def test_bad_inputs_say_expected_and_got():
    quant = MultiHeadQuantizer(codebook_size=16, token_size=4)
    with pytest.raises(ValueError, match=r"\(B, 4, 1, N\), got \(4, 8\)"):
        quant(torch.randn(4, 8))
    with pytest.raises(ValueError, match=r"got \(2, 6, 1, 8\)"):
        quant(torch.randn(2, 6, 1, 8))
    with pytest.raises(ValueError, match="finite"):
        quant(torch.full((1, 4, 1, 2), float("nan")))
    with pytest.raises(ValueError, match="float latent"):
        quant(torch.ones(1, 4, 1, 2, dtype=torch.long))
    with pytest.raises(ValueError, match=r"\[0, 16\), got values in \[0, 16\]"):
        quant.get_codebook_entry(torch.tensor([0, 16]))
    with pytest.raises(ValueError, match=r"\[0, 16\), got values in \[-1, 3\]"):
        codebook_stats(torch.tensor([-1, 3]), 16)
    with pytest.raises(ValueError, match=r"\(M, 16\), got \(2, 8\)"):
        quant.get_codebook_entry(torch.rand(2, 8))
    with pytest.raises(ValueError, match="integer tensor"):
        codebook_stats(torch.tensor([True]), 16)


def test_usage_and_reseeding_under_torch_distributed(tmp_path):
    import torch.distributed as dist

    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1)
    try:
        quant = MultiHeadQuantizer(codebook_size=16, token_size=4, heads=2, dead_code_threshold=0.5).train()
        z = _latents(batch=1, tokens=2)
        for _ in range(USAGE_WINDOW):
            quant(z)
        assert quant.code_usage.sum() == pytest.approx(2 * 2)  # 2 tokens per call, counted once per head
        assert quant.reseed_dead_codes(z) >= 4  # at most 2 of each head's 4 codes can be in use
    finally:
        dist.destroy_process_group()


@pytest.mark.parametrize("heads", [1, 2])
def test_soft_assignments_are_distributions_whose_argmax_is_the_chosen_code(heads):
    torch.manual_seed(0)
    quantizer = MultiHeadQuantizer(codebook_size=64, token_size=6, heads=heads)
    z = torch.randn(3, 6, 1, 5)
    digits = split_global_index(quantizer(z)[1]["min_encoding_indices"].reshape(-1), quantizer.head_codebook_sizes)
    assignments = quantizer.soft_assignments(z, temperature=0.01)
    assert [a.shape for a in assignments] == [(15, k) for k in quantizer.head_codebook_sizes]
    for h, probs in enumerate(assignments):
        assert torch.allclose(probs.sum(-1), torch.ones(15))
        assert torch.equal(probs.argmax(-1), digits[:, h])
    with pytest.raises(ValueError, match="temperature"):
        quantizer.soft_assignments(z, temperature=0)
