"""The two plugin contracts (Task, SearchMethod) and what the runner hands a method (RunContext).

A method sees the task through ``TaskView`` (shape, loss, metric) and the train and validation
splits only; the test split stays with the runner.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Iterator, Literal

import numpy as np
import torch

from nasbench.errors import DataError, PluginError

if TYPE_CHECKING:
    from nasbench.curves import CurveLog

OutputKind = Literal["classes", "multilabel", "dense_regression", "dense_binary"]
DataSource = Literal["official", "generated", "generated-approx", "fixture"]
DATA_SOURCES: tuple[str, ...] = ("official", "generated", "generated-approx", "fixture")


@dataclass(frozen=True)
class TaskShape:
    """What a method needs to build a backbone for a task."""

    dims: int  # 1 (sequences) or 2 (images, fields)
    in_channels: int
    input_size: tuple[int, ...]  # (L,) or (H, W)
    output: OutputKind
    num_outputs: int  # classes, labels, or output channels of a dense task
    vocab_size: int | None = None  # token inputs (text); None for real-valued inputs
    # two inputs per example, (N, 2, *input_size), each encoded by one shared backbone and compared
    # by a head (LRA Retrieval). A method opts in with supports_pair_inputs.
    pair_inputs: bool = False

    @property
    def dense(self) -> bool:
        return self.output.startswith("dense")


@dataclass(frozen=True)
class MetricSpec:
    """The task's metric, its direction, and the NAS-Bench-360 error form used by profiles."""

    name: str  # e.g. "relative_l2", "accuracy"
    direction: Literal["min", "max"]
    error_name: str  # e.g. "relative L2", "0-1 error", "1-AUROC"

    def to_error(self, value: float) -> float:
        """The error form of a metric value (lower is better)."""
        return value if self.direction == "min" else 1.0 - value


class Split:
    """One data split held as tensors; ``meta`` carries what a metric needs beyond targets."""

    def __init__(self, name: str, inputs: torch.Tensor, targets: torch.Tensor, meta: dict | None = None):
        if len(inputs) != len(targets):
            raise ValueError(f"split {name}: {len(inputs)} inputs but {len(targets)} targets")
        self.name, self.inputs, self.targets, self.meta = name, inputs, targets, meta or {}

    def __len__(self) -> int:
        return len(self.inputs)

    def batches(
        self,
        batch_size: int,
        shuffle: bool = False,
        generator: torch.Generator | None = None,
        limit: int | None = None,
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Yield (inputs, targets) minibatches; ``limit`` stops after that many batches."""
        n = len(self)
        order = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)
        for i, start in enumerate(range(0, n, batch_size)):
            if limit is not None and i >= limit:
                return
            idx = order[start : start + batch_size]
            yield self.inputs[idx], self.targets[idx]

    def num_batches(self, batch_size: int) -> int:
        return -(-len(self) // batch_size)

    def subset(self, count: int, generator: torch.Generator | None = None) -> "Split":
        """A random subset of ``count`` examples (for tuning on a subsample)."""
        idx = torch.randperm(len(self), generator=generator)[:count].sort().values
        return Split(self.name, self.inputs[idx], self.targets[idx], self.meta)


@dataclass
class TaskData:
    train: Split
    val: Split
    test: Split
    data_source: DataSource
    detail: dict[str, Any] = field(default_factory=dict)  # files, checksums, generator settings


@dataclass(frozen=True)
class DataFile:
    """One file a task reads: where it is looked for, and how to check it."""

    path: Path
    description: str
    sha256: str | None = None
    size: int | None = None


class Task(ABC):
    """One benchmark task. Subclasses set the class attributes and implement the hooks."""

    name: ClassVar[str]
    family: ClassVar[str]  # "nb360", "lra", "cifar", "offline"
    citation: ClassVar[str]
    Config: ClassVar[type]
    metric: ClassVar[MetricSpec]
    description: ClassVar[str] = ""  # one line for `nasbench list` and `nasbench check`
    # task config overrides (without ``task.``) for a smoke run on the task's own fixture
    # (``write_fixture``): the test suite runs every method on every compatible task with these.
    smoke_overrides: ClassVar[tuple[str, ...]] = ()

    def __init__(self, config: Any):
        self.config = config

    @classmethod
    @abstractmethod
    def default_config(cls, budget: str) -> Any:
        """The task configuration (sample counts, data folder) for ``budget``."""

    @classmethod
    def budget_notes(cls, budget: str) -> str:
        return ""

    @property
    @abstractmethod
    def shape(self) -> TaskShape:
        """Input and output shape, for building a backbone."""

    # -- data ----------------------------------------------------------------------------------
    def data_dir(self) -> Path:
        from nasbench.data import task_data_dir

        return task_data_dir(self)

    def data_files(self) -> list[DataFile]:
        """The official files this task reads (for ``nasbench data --path/--verify``)."""
        return []

    def can_generate(self) -> bool:
        return False

    def generate(self, log: Callable[[str], None] = print) -> None:
        raise DataError(f"task {self.name!r} has no defining process; its data cannot be generated")

    def verify(self) -> list[str]:
        """Check the files; return one line per file checked; raise DataError on a failed check."""
        from nasbench.data import verify_files

        return verify_files(self.data_files())

    @abstractmethod
    def load(self, allow_generate: bool = True, log: Callable[[str], None] = print) -> TaskData:
        """Read (generating first where allowed and possible) and split the data."""

    def write_fixture(self, root: Path, seed: int = 0) -> None:
        """Write a small data set in the official format, with learnable planted signal, into root."""
        raise PluginError(f"task {self.name!r} does not define write_fixture")

    # -- loss and metric -------------------------------------------------------------------------
    @abstractmethod
    def loss(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """The training loss of the benchmark, from model outputs and raw targets."""

    def decode(self, output: torch.Tensor) -> torch.Tensor:
        """Model output -> prediction in the target's units (identity unless the task normalises)."""
        return output

    @abstractmethod
    def score(self, outputs: torch.Tensor, split: Split) -> float:
        """The metric over a whole split, from model outputs (not decoded)."""


class TaskView:
    """What a method may see of a task: name, shape, loss, metric. No data loading."""

    def __init__(self, task: Task):
        self._task = task
        self.name, self.shape, self.metric, self.config = task.name, task.shape, task.metric, task.config

    def loss(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return self._task.loss(output, target)

    def score(self, outputs: torch.Tensor, split: Split) -> float:
        if split.name == "test":
            raise PermissionError("a method may not score the test split")
        return self._task.score(outputs, split)

    def decode(self, output: torch.Tensor) -> torch.Tensor:
        return self._task.decode(output)


@dataclass
class RunContext:
    """Everything the runner hands a method: data (train/val only), device, seeded generators,
    budget, logger and the curve log. A method never reads the clock, picks a device or seeds."""

    task: TaskView
    train: Split
    val: Split
    device: torch.device
    seed: int
    generator: torch.Generator
    rng: np.random.Generator
    budget: str
    curves: "CurveLog"
    log: Callable[[str], None] = print


class SearchMethod(ABC):
    """One search method (or plain backbone). Subclasses set the class attributes and the stages."""

    name: ClassVar[str]
    citation: ClassVar[str]
    Config: ClassVar[type]
    has_tune_stage: ClassVar[bool] = False
    supports_pair_inputs: ClassVar[bool] = False  # builds its network with an encoder pair
    # a plain backbone (its search returns a fixed architecture): the contract checks of a task
    # (nasbench.testing.check_task) run one of these on it, since it costs the least
    baseline: ClassVar[bool] = False
    description: ClassVar[str] = ""  # one line for `nasbench list` and `nasbench check`
    # a random-search control: the name of the method whose search space it samples uniformly and
    # whose recipe it trains with. The runner writes it into the manifest; reports pair the two by it
    control_of: ClassVar[str] = ""

    def __init__(self, config: Any):
        self.config = config

    @classmethod
    def describe_record(cls, record: dict[str, Any]) -> dict[str, Any]:
        """The found architecture of ``record`` (its ``arch.json``) as one table row of short,
        JSON-able values (e.g. ``{"kernels": "3x1 5x2 ..."}``), for reports. The report adds the
        record's ``arch_id``, parameters and MACs itself; the default adds nothing more."""
        return {}

    @classmethod
    def draw_record(cls, record: dict[str, Any], ax: Any) -> bool:
        """Draw the found architecture of ``record`` on the matplotlib ``ax``; return False when the
        method has no figure for it (the default). Imports matplotlib only inside the method."""
        return False

    @classmethod
    @abstractmethod
    def default_config(cls, budget: str, task: TaskView) -> Any:
        """The paper's defaults, scaled for ``budget``; may depend on the task (e.g. DASH's K, D)."""

    @classmethod
    def budget_notes(cls, budget: str) -> str:
        """How ``budget`` departs from the paper's protocol, written into the manifest."""
        return ""

    @classmethod
    def unsupported_reason(cls, shape: TaskShape) -> str | None:
        """None when the method runs on tasks of this shape, else why not (the run is skipped)."""
        return None

    @abstractmethod
    def search(self, ctx: RunContext) -> dict[str, Any]:
        """Return the architecture: {"backbone": str, "search_space": {...}, "choices": {...}}."""

    def tune(self, ctx: RunContext, arch: dict[str, Any]) -> dict[str, Any]:
        """Choose retraining hyper-parameters on train/val; the default keeps the config's."""
        return {}

    @abstractmethod
    def retrain(self, ctx: RunContext, arch: dict[str, Any], hparams: dict[str, Any]) -> torch.nn.Module:
        """Build the final network from the architecture and train it; return the trained model."""

    # -- the search space, for the method's random-search control (``nasbench.controls``) ------------
    # The field of the method's config that holds the training recipe (a ``TrainConfig``) of the network
    # ``retrain`` builds from a record; the control trains its candidates with it, shortened.
    retrain_recipe: ClassVar[str] = "retrain"

    @classmethod
    def sample_architecture(cls, config: Any, shape: TaskShape, rng: np.random.Generator) -> dict[str, Any]:
        """One architecture drawn uniformly from the method's own search space (under ``config``, for a
        task of ``shape``), drawing only from ``rng``: a record as ``search`` returns it (``backbone``,
        ``search_space``, ``choices``), which ``retrain`` builds and trains and ``describe_record`` shows.
        A method that defines it (and ``search_examples``) gets a random-search control."""
        raise NotImplementedError(f"{cls.name} defines no search space a random-search control can sample")

    @classmethod
    def search_examples(cls, config: Any, shape: TaskShape, train_size: int) -> int:
        """How many training examples the search under ``config`` passes through gradient steps (weight
        and architecture steps alike) on a training split of ``train_size``: the budget its control matches."""
        raise NotImplementedError(f"{cls.name} does not say what its search costs in training examples")


def samples_its_space(method_cls: type[SearchMethod]) -> bool:
    """Whether ``method_cls`` implements the control contract (``sample_architecture`` and ``search_examples``)."""
    return all(getattr(method_cls, hook).__func__ is not getattr(SearchMethod, hook).__func__
               for hook in ("sample_architecture", "search_examples"))


def unsupported_reason(method_cls: type[SearchMethod], shape: TaskShape) -> str | None:
    """Why ``method_cls`` cannot run on a task of ``shape`` (None when it can): the method's own
    answer, after the shape features every method must opt into (paired inputs)."""
    if shape.pair_inputs and not method_cls.supports_pair_inputs:
        return (f"{method_cls.name} does not build the encoder-pair network that tasks with paired inputs "
                f"need (set supports_pair_inputs and encode both inputs with one shared backbone and a pair head)")
    return method_cls.unsupported_reason(shape)


class Benchmark(ABC):
    """A performance benchmark run by ``nasbench perf`` (never by the test suite): it times code
    in one process and returns figures, ratios among them."""

    name: ClassVar[str]
    description: ClassVar[str]

    @abstractmethod
    def run(self, log: Callable[[str], None] = print) -> dict[str, Any]:
        """Measure and return a JSON-serialisable dict of figures."""
