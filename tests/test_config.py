from dataclasses import dataclass, field

import pytest

from nasbench.config import apply_overrides, parse_override
from nasbench.errors import ConfigError, UnknownNameError
from nasbench.training import TrainConfig


@dataclass(frozen=True)
class Inner:
    lr: float = 0.1
    steps: tuple[int, ...] = (1, 2)
    name: str = "sgd"
    flag: bool = False


@dataclass(frozen=True)
class Outer:
    width: int = 4
    clip: float | None = None
    train: Inner = field(default_factory=Inner)


def test_nested_override_with_int_widened_to_float():
    cfg = apply_overrides(Outer(), ["train.lr=1", "width=8", "train.steps=(3, 4, 5)", "clip=None"])
    assert cfg.train.lr == 1.0 and isinstance(cfg.train.lr, float)
    assert cfg.width == 8 and cfg.train.steps == (3, 4, 5) and cfg.clip is None
    assert Outer().train.lr == 0.1  # the original is frozen and untouched


def test_bare_word_is_a_string():
    assert parse_override("train.name=adam") == ("train.name", "adam")
    assert apply_overrides(Outer(), ["train.name=adam"]).train.name == "adam"


@pytest.mark.parametrize("text", ["train.lr=oops", "width=1.5", "width=True", "train.steps=3", "train.flag=1"])
def test_wrong_types_are_rejected(text):
    with pytest.raises(ConfigError):
        apply_overrides(Outer(), [text])


def test_unknown_key_lists_valid_keys():
    with pytest.raises(UnknownNameError) as info:
        apply_overrides(Outer(), ["train.lrr=0.1"])
    assert "'train.lr'" in str(info.value)


def test_section_and_malformed_overrides_are_rejected():
    with pytest.raises(ConfigError):
        apply_overrides(Outer(), ["train=3"])
    with pytest.raises(ConfigError):
        apply_overrides(Outer(), ["width"])


def test_validate_runs_after_override():
    with pytest.raises(ConfigError):
        apply_overrides(TrainConfig(epochs=1, batch_size=2, lr=0.1), ["lr=-1"])
