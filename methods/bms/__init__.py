"""Balanced Mixture of SuperNets: where a ResNet should downsample, found with M supernets.

Paper: M. Javan, M. Toews, M. Pedersoli, "Balanced Mixture of SuperNets for Learning the CNN Pooling
Architecture", 2023. Reference implementation: github.com/mehravehj/Balanced-Mixture-of-SuperNets
(``MultimodelNAS/respo/resnet20/Balanced Mixture/utils/NAS_trainer.py``, ``.../utils/search_space_design.py``),
read for facts only; no code was copied.

Modules: ``balance`` (Eq. 2, Eq. 3, IPF, p(m | c), the temperature schedule), ``mixture`` (M supernets
and the per-step sampler), ``search`` (training the mixture through the suite's loop and selecting a
configuration), ``method`` (the ``bms`` SearchMethod), ``benchmark`` (``nasbench perf``:
``bms_ipf_seconds``). The search spaces and ResNets are ``nasbench.methods.backbones.pooling_resnet``.

What follows the paper:
- the pooling space of Table 5 (36 ResNet-20 configurations [n_0, n_1, n_2], 56 for ResNet-18, 560 for
  ResNet-50) and M independent supernets, each sharing its weights over all configurations;
- per training step: c ~ U(C), m ~ p(m | c), one SGD step of supernet m on configuration c (Eq. 1),
  then Acc(f_c(x_val; w_m)) on one validation minibatch updates a_{c,m} by Eq. 2; only that entry
  changes;
- p(c, m) = softmax(a / tau) over all entries (Eq. 3), balanced by iterative proportional fitting to
  uniform marginals until KL(p(m) || U_M) < 1e-4; p(m | c) from the balanced joint; tau falls
  linearly from 1 to 1 / (100 M) over the search;
- search epochs proportional to M (E_M = M E_1); SGD lr 0.1 with cosine annealing, weight decay 1e-3,
  batch 256 (Appendix B.1);
- selection: m*(c) = argmax_m p(m | c), f_c(.; w_{m*}) scored on the whole validation split for every
  configuration (``top_k`` > 0: only the top k by a_{c,m*}, the paper's shortcut for large spaces),
  the best retrained from scratch; the runner reports its last-epoch test metric;
- M = 1 is SPOS with uniform sampling on this space (Section 3.2): no model is drawn, and the path
  goes through the same loop feature as SPOS (``nasbench.training.SinglePathSampling``).

Where the suite departs or fills a gap, and why:
- beta (Eq. 2) is not given: 0.9 [A]. Where a_{c,m} starts is not given either: the authors' code starts
  every entry at 1, so p(m | c) starts uniform and an entry not yet scored looks promising; the suite
  does the same (``ema_initial``) and lets an entry's first score replace the 1 (``ema_first_replaces``)
  [A]. Why: with few steps per (c, m) pair (36 x M pairs; at ``small`` a few visits each), a plain EMA
  from a constant measures how often an entry was visited as much as how accurate it is (from 0, the
  often-visited look best and are sampled more; from 1, the rarely visited do), and m*(c) would follow
  the visits. After the first score a_{c,m} is Eq. 2's average of accuracies alone; with many visits
  (the paper's budgets) the two rules coincide;
- E_1 and the retraining length of ResNet-20 are not given: 200 epochs each at ``paper`` [A];
- IPF is capped at 10^4 sweeps [A]; it works on the two Sinkhorn scaling vectors (the same fixed
  point, ``balance`` docstring) and recomputes the balance before every draw (the authors' code
  balances once per epoch and reuses the marginals);
- the paper's "sum_i p(c_i) = 1/C" is read as p(c) = 1/C for every c;
- the authors' code uses softmax(a tau) over models per configuration, with tau an inverse temperature;
  the suite follows the paper's Eq. 3 (a joint over (c, m) divided by tau) and its schedule;
- Acc in Eq. 2 is top-1 accuracy on the minibatch (the paper's) on every task; the final selection
  scores each configuration with the task's own metric on the whole validation split;
- the validation minibatch of Eq. 2 is scored in eval mode (BatchNorm running statistics), as the
  authors' code does; there is no BatchNorm recalibration before the final scoring (neither the
  paper nor the code has one);
- the per-epoch validation curve of the search scores the default configuration on its most likely
  supernet (a fixed yardstick across epochs);
- ``fixed_config`` turns the method into "train this configuration stand-alone" (no search): the
  ground truth of a ranking-fidelity study (the paper's Table 6) with the same network and recipe;
- the 1D networks (same definition, ``dims = 1``) are an addition: the paper is 2D only;
- budgets: ``small`` runs E_1 = 2 epochs per model and 8 retraining epochs at batch 64 (the train
  split of a small task has a few thousand examples, and batch 256 would leave ~20 steps per epoch);
  ``smoke`` runs one epoch of two batches in both stages. ``budget_notes`` records them.
"""
from nasbench.methods.bms.method import BMS, BMSConfig

__all__ = ["BMS", "BMSConfig"]
