"""The ``bms`` SearchMethod: configuration, budgets, the search and retraining stages, and how a
record describes and draws itself."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from torch import nn

from nasbench.config import ConfigError
from nasbench.contracts import RunContext, SearchMethod, TaskShape, TaskView
from nasbench.methods.backbones.pooling_resnet import PoolingResNet, get_space, pool_after_units
from nasbench.methods.bms.search import select, train_mixture
from nasbench.training import TrainConfig, epoch_examples, fit

# Appendix B.1, ResNet-20 on CIFAR-10: SGD lr 0.1, cosine annealing, weight decay 1e-3, batch 256;
# momentum 0.9 without Nesterov (the authors' code). E_1 and the retraining length are not given [A].
RESNET20_RECIPE = TrainConfig(epochs=200, batch_size=256, lr=0.1, momentum=0.9, weight_decay=1e-3, nesterov=False,
                              schedule="cosine", eval_batch_size=256)

SCALE = {  # budget -> (search epochs per model E_1, retrain epochs, batch size, batches per epoch)
    "smoke": (1, 1, 32, 2),
    "small": (2, 8, 64, None),
}


@dataclass(frozen=True)
class BMSConfig:
    space: str = "resnet20"  # a row of Table 5: resnet20, resnet18, resnet50, resnet50-food101, resnet18-imagenet
    models: int = 4  # M; Tables 1-2 use M = 4, Fig. 3 compares 1, 2, 4, 8
    beta: float = 0.9  # EMA smoothing of Eq. 2: not given in the paper [A]
    ema_initial: float = 1.0  # a_{c,m} before its first score: not given in the paper; 1 in the authors' code
    ema_first_replaces: bool = True  # the first score of an entry replaces ema_initial [A] (module docstring)
    tau_start: float = 1.0  # Appendix B.1: tau starts at 1 ...
    tau_end_factor: float = 0.01  # ... and falls linearly to 1 / (100 M) = tau_end_factor / M
    ipf_tolerance: float = 1e-4  # delta on KL(p(m) || U_M), Section 2.3
    ipf_max_sweeps: int = 10_000  # cap on IPF sweeps [A]
    ema_batch_size: int = 256  # the validation minibatch of Eq. 2 (the training batch size in the authors' code)
    top_k: int = 0  # 0: score every configuration on the whole validation split; k: only the top k by a_{c,m*}
    fixed_config: tuple[int, ...] | None = None  # train this configuration stand-alone, no search (ground truth)
    search: TrainConfig = field(default_factory=lambda: RESNET20_RECIPE)  # epochs = E_1; the search runs M x E_1
    retrain: TrainConfig = field(default_factory=lambda: RESNET20_RECIPE)

    def validate(self) -> None:
        space = get_space(self.space)
        if self.models < 1 or not 0 <= self.beta < 1 or self.top_k < 0:
            raise ConfigError(f"bms: need models >= 1, 0 <= beta < 1, top_k >= 0; got models={self.models}, "
                              f"beta={self.beta}, top_k={self.top_k}")
        if not (self.tau_start > 0 and self.tau_end_factor > 0 and self.ipf_tolerance > 0 and self.ipf_max_sweeps >= 0):
            raise ConfigError("bms: tau_start, tau_end_factor and ipf_tolerance must be positive, ipf_max_sweeps >= 0")
        if self.fixed_config is not None:
            space.check(self.fixed_config)
        self.search.validate()
        self.retrain.validate()


def _scaled(recipe: TrainConfig, epochs: int, batch: int, limit: int | None) -> TrainConfig:
    return replace(recipe, epochs=epochs, batch_size=batch, batches_per_epoch=limit)


def pooling_record(space_name: str, config: tuple[int, ...], details: dict[str, Any]) -> dict[str, Any]:
    """The record of one pooling configuration (searched, stand-alone or sampled)."""
    space = get_space(space_name)
    return {"backbone": f"pooling-{space.name}",
            "search_space": {"id": f"pooling-{space.name}", "units": space.units, "poolings": space.poolings,
                             "size": len(space.configurations()), "default": list(space.default)},
            "choices": {"config": list(config), "pool_after_unit": pool_after_units(config)},
            "details": details}


class BMS(SearchMethod):
    name = "bms"
    citation = ("M. Javan, M. Toews, M. Pedersoli, Balanced Mixture of SuperNets for Learning the CNN Pooling "
                "Architecture, 2023 (code: github.com/mehravehj/Balanced-Mixture-of-SuperNets)")
    description = "M pooling supernets balanced by IPF; picks where a ResNet downsamples"
    Config = BMSConfig

    @classmethod
    def default_config(cls, budget: str, task: TaskView) -> BMSConfig:
        if budget not in SCALE:
            return BMSConfig()
        search_epochs, retrain_epochs, batch, limit = SCALE[budget]
        return BMSConfig(ema_batch_size=batch, search=_scaled(RESNET20_RECIPE, search_epochs, batch, limit),
                         retrain=_scaled(RESNET20_RECIPE, retrain_epochs, batch, limit))

    @classmethod
    def budget_notes(cls, budget: str) -> str:
        if budget not in SCALE:
            return "paper recipe (Appendix B.1); E_1 = 200 epochs per model and 200 retraining epochs are [A]"
        search_epochs, retrain_epochs, batch, limit = SCALE[budget]
        steps = f", {limit} batches per epoch" if limit else ""
        return (f"E_1 = {search_epochs} search epoch(s) per model (search runs M x E_1), {retrain_epochs} retraining "
                f"epochs, batch {batch} (paper 256){steps}; lr 0.1 cosine, wd 1e-3 as the paper")

    @classmethod
    def unsupported_reason(cls, shape: TaskShape) -> str | None:
        if shape.dense:
            return (f"the pooling ResNets give one output per example; {shape.output} outputs would need "
                    "upsampling, which the paper's search space excludes")
        if shape.output != "classes":
            return (f"the paper searches single-label classifiers (accuracy on a minibatch drives p(m | c)); "
                    f"{shape.output} outputs are not supported")
        if shape.vocab_size is not None:
            return "the pooling ResNets take real-valued inputs, not token ids"
        if shape.dims not in (1, 2):
            return f"the pooling ResNets are 1D or 2D, not {shape.dims}D"
        return None

    def search(self, ctx: RunContext) -> dict[str, Any]:
        space = get_space(self.config.space)
        if self.config.fixed_config is not None:
            return self._record(space.check(self.config.fixed_config), {"mode": "standalone",
                                                                       "trained_standalone": True})
        configs = space.configurations()
        mixture, sampler = train_mixture(ctx, self.config, space, configs)
        ranked = select(ctx, self.config, mixture, sampler, configs)
        best, index = ranked[0], configs.index(tuple(ranked[0]["config"]))
        balanced = sampler.balanced
        details = {
            "mode": "search", "models": self.config.models, "model_index": best["model"],
            "p_m_given_c": balanced.conditional[index].tolist(), "a_cm": best["a_cm"], "rank": 1,
            "val_score": best["score"], "configs": [list(c) for c in configs],
            "P": balanced.joint.tolist(), "a": sampler.accuracy.tolist(), "counts": sampler.counts.tolist(),
            "tau_end": sampler.tau, "ipf_sweeps": balanced.sweeps, "ipf_kl_pm": balanced.kl,
            "supernet_scores": [{"config": r["config"], "score": r["score"], "model": r["model"], "a_cm": r["a_cm"],
                                 "p_m_given_c": r["p_m_given_c"], "rank": r["rank"]} for r in ranked],
        }
        return self._record(tuple(best["config"]), details)

    @classmethod
    def sample_architecture(cls, config: BMSConfig, shape: TaskShape, rng: np.random.Generator) -> dict[str, Any]:
        """A pooling configuration uniform over the space's configurations (its control's draw)."""
        configs = get_space(config.space).configurations()
        return pooling_record(config.space, configs[int(rng.integers(len(configs)))], {"mode": "random"})

    @classmethod
    def search_examples(cls, config: BMSConfig, shape: TaskShape, train_size: int) -> int:
        """The mixture's training, M x E_1 epochs (``train_mixture``); the selection only scores."""
        return config.models * config.search.epochs * epoch_examples(train_size, config.search)

    def _record(self, config: tuple[int, ...], details: dict[str, Any]) -> dict[str, Any]:
        return pooling_record(self.config.space, config, details)

    def build(self, shape: TaskShape, config) -> nn.Module:
        return PoolingResNet(get_space(self.config.space), shape.dims, shape.in_channels, shape.num_outputs, config)

    def retrain(self, ctx: RunContext, arch: dict[str, Any], hparams: dict[str, Any]) -> nn.Module:
        model = self.build(ctx.task.shape, arch["choices"]["config"])
        fit(model, ctx, self.config.retrain)
        return model

    @classmethod
    def describe_record(cls, record: dict[str, Any]) -> dict[str, Any]:
        details, choices = record.get("details") or {}, record.get("choices") or {}
        row = {"config": "[" + " ".join(str(v) for v in choices.get("config", [])) + "]",
               "mode": details.get("mode", "?")}
        if details.get("mode") == "search":
            p = details.get("p_m_given_c") or []
            m = details.get("model_index")
            row.update(M=details.get("models"), model=m, val_score=details.get("val_score"),
                       p_m_given_c=round(p[m], 3) if isinstance(m, int) and m < len(p) else None)
        return row

    @classmethod
    def draw_record(cls, record: dict[str, Any], ax: Any) -> bool:
        """Every configuration's predicted validation score, coloured by its supernet m*; the chosen one
        outlined."""
        rows = [r for r in (record.get("details") or {}).get("supernet_scores") or [] if r.get("score") is not None]
        if not rows:
            return False
        rows.sort(key=lambda r: r["config"])
        labels = ["".join(str(v) for v in r["config"]) for r in rows]
        colours = [f"C{int(r.get('model', 0)) % 10}" for r in rows]
        bars = ax.bar(np.arange(len(rows)), [r["score"] for r in rows], color=colours)
        chosen = (record.get("choices") or {}).get("config")
        for bar, r in zip(bars, rows):
            if r["config"] == chosen:
                bar.set_edgecolor("black")
                bar.set_linewidth(2)
        ax.set_xticks(np.arange(len(rows)), labels, rotation=90, fontsize=6)
        ax.set_ylabel("supernet validation score")
        ax.set_title("predicted score per pooling configuration (colour: supernet m*)")
        low = min(r["score"] for r in rows)
        ax.set_ylim(bottom=max(0.0, low - 0.05))
        return True
