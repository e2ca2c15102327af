"""DARTS: differentiable search over the cell space, first and second order, softmax or GAEA update.

Paper: H. Liu, K. Simonyan, Y. Yang, "DARTS: Differentiable Architecture Search", ICLR 2019
(arXiv:1806.09055). Reference implementation: github.com/quark0/darts (``cnn/model_search.py``,
``cnn/architect.py``, ``cnn/train_search.py``, ``cnn/model.py``, ``cnn/train.py``); the GAEA update
and the adaptations to dense and 1D tasks from NAS-Bench-360's DARTS-space baseline
(github.com/rtu715/NAS-Bench-360, ``darts/gaea``, ``darts/gaea-dense``, ``darts_1d/gaea``) and Li et al.,
"Geometry-Aware Gradient Algorithms for Neural Architecture Search", ICLR 2021 (arXiv:2004.07802).
Both read for facts and constants only; no code was copied.

Modules: ``config`` (defaults, budgets), ``architect`` (first- and second-order architecture
gradient, finite-difference Hessian-vector product, Adam or exponentiated-gradient update),
``search`` (halves of the training split, supernet, search signal, record), ``method`` (the
``darts`` SearchMethod and its retraining hooks), ``benchmark`` (``nasbench perf darts``). The
network is ``nasbench.methods.backbones.darts_cells``; the record's table row and cell figures are
``nasbench.methods.backbones.darts_records``.

What follows the paper and the reference:
- search space: 8 operations, normal and reduction cells of 4 intermediate nodes and 14 edges, output
  the concatenation of nodes 2-5; 8 cells, C = 16, BatchNorm without affine parameters; alpha 14 x 8
  per cell type, initialised 1e-3 N(0, 1), mixed by softmax;
- the training split is cut in two disjoint random halves (``train_portion`` 0.5): one trains the
  weights (SGD lr 0.025 cosine to 0.001, momentum 0.9, weight decay 3e-4, gradient norm clipped to 5,
  batch 64, 50 epochs), the other alpha (Adam lr 3e-4, betas (0.5, 0.999), weight decay 1e-3), one
  architecture step on the next batch of its half before every weight step, through the loop's
  ``ArchitectureSteps`` feature;
- ``order`` 1 (xi = 0) or 2 (xi = the current weight lr; w' formed with the optimiser's full SGD step,
  momentum buffer and weight decay included; finite-difference HVP with eps = 0.01 / ||grad||);
- discretisation: per intermediate node the 2 incoming edges with the strongest operation other than
  ``none``, each with that operation (so the two inputs are distinct predecessors and ``none`` never
  appears); both cells concatenate nodes 2-5;
- retraining from scratch: 20 cells, C = 36, auxiliary head (weight 0.4) after cell 2L/3, path
  dropout ramped linearly to 0.2, SGD lr 0.025 cosine to 0, momentum 0.9, weight decay 3e-4,
  clip 5, batch 96, 600 epochs; the runner reports the last epoch's test metric.
- ``update=gaea``: alpha lives on each edge's simplex (initialised uniform) and is the mixing weight
  itself; each architecture step multiplies it by exp(-lr grad) and renormalises (lr 0.1 [R NB360]).

Adaptations (NAS-Bench-360's, named in its GAEA folders):
- dense tasks (Darcy Flow, PSICOV, Cosmic): no reduction cells, every cell at the input's resolution,
  a per-position linear head (``gaea-dense/model_search_expansion.py``: the reduction branch is
  commented out, the classifier is applied to the permuted map); retraining without the auxiliary
  head and with path dropout 0.3 (``gaea-dense/pde_eval.yaml``). Curves then count 14 edges, not 28;
- 1D tasks: the same operations with 1D convolutions and pooling, kernel sizes unchanged
  (``darts_1d/gaea/search/operations.py``);
- token tasks (ListOps, Text): a token embedding (64 wide) in front of the stem, as the suite's CCNN.

Departures and why:
- GAEA as NAS-Bench-360 ran it is partial-channel DARTS (PC-DARTS: 1/4 of the channels through the
  mixed op, edge-normalisation weights beta) with the exponentiated gradient applied to parameters
  that the network still passes through a softmax; here the update rule alone changes (the suite
  compares update rules on one supernet), and the simplex weights are used directly, as in the GAEA
  paper's formulation;
- the paper selects the best of 4 searches by a short retraining on the validation split; one run
  here is one search (seeds are the study's business), so the validation split is only scored (the
  supernet's and the retraining's curves) and never trained on;
- no data augmentation (crop, flip, cutout 16): the suite's tasks own preprocessing and no method
  augments, so methods compare on the same inputs;
- the two halves are drawn at random from the training split (the reference takes the first and
  the second half of CIFAR-10's shuffled order); ``search_examples`` can cap their size;
- the supernet's per-epoch validation score uses at most ``search_val_samples`` validation examples;
- ``FactorizedReduce`` pads odd sizes and the auxiliary head pools adaptively (``darts_ops`` and
  ``darts_cells`` docstrings), so tasks whose sizes are not CIFAR's run;
- second order writes w' into the supernet's own weights and restores them, instead of copying the
  network (``architect`` docstring).

Budgets (``budget_notes`` records them in each manifest): ``paper`` is the protocol above, with the
paper's second order. ``small`` (``make bench``) and ``smoke`` (tests) shrink the search to a few
dozen steps on a smaller supernet (first order) and retrain a smaller network for a few epochs. The
rule for the search: the architecture learning rates are scaled so that lr x steps equals the
paper's (3e-4 x 19,550 Adam steps; 0.1 x 19,550 EG steps), since Adam's steps are about lr each
whatever the gradient's size (EG's are lr times the gradient, in log alpha): with the paper's lr, 40 steps
move alpha by at most 0.012 and the mixing weights stay uniform to three decimals; with the scaled lr
they travel as far as in the paper's search.
The rule is ``nasbench.training.scaled_lr``, which DASH's budgets share. Both the
edge-distribution entropy and the argmax changes since initialisation are in the curves
(``signal_edge_entropy``, ``signal_changed`` of ``signal_decisions``, from the row of epoch -1 on).

Measured at ``small`` (seed 0, this suite's 2-core CPU shared with other jobs at load average 15-20,
one thread per process; wall times are upper bounds, the CPU seconds say what a quiet machine needs):
- Fashion-MNIST (``make bench METHOD=darts TASK=fashionmnist``): test accuracy 0.8505; the search
  moved (mean edge entropy 2.079 -> 1.872 after the first epoch's 20 steps, 1.836 after 40; 24 of 28
  argmax changed); 170k parameters (605k with the auxiliary head); search 490 s wall / 96 s CPU,
  retraining 2379 s wall / 297 s CPU, with the paper's retraining lr 0.025 and path dropout 0.2.
  The same run with lr 0.05 and no path dropout (now the ``small`` defaults of global tasks, as the
  suite's ``wrn`` drops its dropout at ``small``) reached 0.861 (28 min wall at a falling load,
  387 s CPU). The suite's ``wrn`` reaches 0.873 at ``small``.
- Darcy Flow (``make bench METHOD=darts TASK=darcyflow``, generated data): test relative L2 0.0909;
  entropy 2.079 -> 1.634 after 6 steps, all 14 argmax changed; 7.3k parameters; search 260 s wall /
  23 s CPU, retraining 1917 s wall / 239 s CPU.
"""
from nasbench.methods.darts.config import DARTSConfig
from nasbench.methods.darts.method import DARTS

__all__ = ["DARTS", "DARTSConfig"]
