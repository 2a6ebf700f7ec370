import dataclasses
import json

import pytest
import torch
from torch import nn

from timeartist.hub import CheckpointError, PretrainedMixin, load_state_dict_strict


@dataclasses.dataclass
class ToyConfig:
    width: int = 4


class Toy(nn.Module, PretrainedMixin):
    config_class = ToyConfig

    def __init__(self, config: ToyConfig):
        super().__init__()
        self.config = config
        self.shared = nn.Linear(config.width, config.width)
        self.a = nn.Sequential(self.shared)  # the same module reachable under two names
        self.b = nn.Linear(config.width, 2)


def test_round_trip_is_bit_exact_and_keeps_sharing(tmp_path):
    model = Toy(ToyConfig(width=5))
    model.save_pretrained(tmp_path)
    assert json.loads((tmp_path / "config.json").read_text()) == {"width": 5}
    loaded = Toy.from_pretrained(tmp_path)
    for (k, v), (k2, v2) in zip(model.state_dict().items(), loaded.state_dict().items()):
        assert k == k2 and torch.equal(v, v2)
    assert loaded.a[0].weight is loaded.shared.weight


def test_missing_folder_names_expected_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="config.json"):
        Toy.from_pretrained(tmp_path / "nope")


def test_mismatched_checkpoint_lists_keys(tmp_path):
    Toy(ToyConfig(width=5)).save_pretrained(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"width": 3}))
    with pytest.raises(CheckpointError, match=r"wrong shapes: .*b\.weight"):
        Toy.from_pretrained(tmp_path)


def test_unknown_config_key(tmp_path):
    Toy(ToyConfig()).save_pretrained(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"width": 4, "depth": 2}))
    with pytest.raises(CheckpointError, match="unknown config keys"):
        Toy.from_pretrained(tmp_path)


def test_strict_load_reports_missing_and_unexpected():
    model = Toy(ToyConfig())
    state = dict(model.state_dict())
    state.pop("b.bias")
    state["extra.weight"] = torch.zeros(1)
    with pytest.raises(CheckpointError) as err:
        load_state_dict_strict(model, state)
    assert "missing keys: b.bias" in str(err.value) and "unexpected keys: extra.weight" in str(err.value)
