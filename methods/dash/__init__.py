"""DASH: searching the kernel size and dilation of every convolution of a fixed backbone.

Paper: J. Shen, M. Khodak, A. Talwalkar, "Efficient Architecture Search for Diverse Tasks",
NeurIPS 2022 (arXiv:2204.07554), on the tasks of NAS-Bench-360 (Tu et al., NeurIPS 2022 Datasets
and Benchmarks, arXiv:2110.05668).
Reference implementation: github.com/sjunhongshen/DASH (``src/main.py``, ``src/dash.py``,
``src/task_configs.py``) on top of github.com/mkhodak/relax (``relax/xd.py``, ``relax/nas.py``),
read for facts and constants only; no code was copied.

Modules: ``ops`` (the aggregated convolution in its three forms, Kronecker dilation, Gumbel-softmax),
``config`` (defaults, per-task rows, budgets), ``search`` (supernet, single-level search, gradient
conditioning, discretisation, record), ``tune`` (hyper-parameter grid and retraining network),
``method`` (the ``dash`` and ``baby-dash`` SearchMethods), ``benchmark`` (``nasbench perf dash``).

What follows the paper and the reference:
- every searchable conv of WRN-16-1 (2D; 13 layers) or of the 1D WRN (9 layers) becomes an aggregated
  conv over S = {Conv_{k,d} : k in K, d in D}: one kernel per (k, d), N(0, 0.01^2), logits
  1e-3 N(0, 1), mixture weights a soft Gumbel-softmax of log_softmax(alpha) with tau = 1 [P, R];
- per-task K, D, batch size, (weight lr, architecture lr) and grad_scale of the reference's
  ``get_config``; unknown tasks fall back on the 2D/1D space and lrs by output kind;
- search: 100 epochs on the training split only, int(0.2 n) + 1 batches per epoch, two SGD
  optimisers (momentum 0.9, Nesterov, weight decay 5e-4 on weights and logits), lr x0.2 at epoch 60
  (2D) or 30, 60, 90 (1D: the reference's late-bound schedule), gradient norm clipped to 1; the
  reference's architecture-gradient conditioning g / (grad_scale (|g| + 1e-8)) + 1e-5 r (r = d(k-1)+1,
  10k on dense tasks) behind ``grad_conditioning``; in == out convs searched depthwise behind
  ``depthwise_search`` (reference ``--separable 1``); retraining uses full convolutions;
- discretisation by argmax of alpha, k-major index (K[j div |D|], D[j mod |D|]);
- tuning: the retrain network built once, its initial state reused by every grid point and by the
  retraining; lr {0.1, 0.01, 0.001} x dropout {0, 0.05} x wd {5e-4, 5e-6} x momentum {0.9, 0.99}
  (PSICOV, Cosmic, FSD50K: lr {1e-2, 1e-3, 1e-4}, dropout 0, wd 5e-5, momentum 0.99), 80 epochs on the
  reference's subsample (0.2 of the batches below 50 batches, 0.1 below 100, 0.05 below 500, else
  0.01), early stop when a whole lr leaves the best validation score unchanged;
- retraining: 200 epochs of WRN-16-4 (2D) / the 1D WRN with the chosen point, SGD (Nesterov when
  momentum > 0), no clipping, lr x0.2 at 60, 120, 160 (2D) or 30, 60, 90, 120, 160 (1D); the runner
  reports the last epoch's test metric.

Departures and why:
- the search and the tuning see the task's validation split, never the test split (the reference
  uses the test loader for validation when ``valid_split = 0``);
- the lr schedule drops at the start of epoch m (the reference's LambdaLR with ``epoch > m`` drops one
  epoch later), and does not stop decaying below lr 5e-6 (no effect on the paper's schedules);
- the supernet in eval mode (the per-epoch validation curve) uses softmax(alpha) without Gumbel noise,
  so the curve is deterministic; training always samples the noise, from the run's seeded generator;
- 1D: one padding convention, ``causal`` (default on, the 1D WRN's), in search and retraining alike;
  the reference searches with centred padding and retrains causally;
- kernel sizes must be odd (every K of the paper is), so the centring of Eq. 3 is exact;
- the Fourier form is organised for a CPU (``ops`` docstring): the candidates of one dilation are
  mixed at size k_max, and the mixed kernel's spectrum is computed by a DFT over its nonzero taps,
  which places each tap where Kronecker dilation (zero insertion), the padding to the FFT length and
  the flip-and-roll of the reference put it; the Kronecker-dilated dense kernel is what the
  ``mixed-weights`` form convolves with, and the tests check that both give the same output;
- ``small`` (``make bench``: minutes on a 2-core CPU) runs the first 4 of the 100 search epochs,
  tunes lr in {0.1, 0.01} (dropout 0, wd 5e-4, momentum 0.9) for 2 epochs on 15 % of the batches and
  retrains WRN-16-1 instead of WRN-16-4 for 4 epochs (lr x0.2 at epochs 2 and 3, the paper's
  fractions of 200); ``smoke`` (tests) runs 1/1/3 epochs with batches of at most 8. Both keep the
  paper's K, D, weight learning rates, conditioning and grid order; ``budget_notes`` records them.
- the short searches change two things so that the search, not the initialisation, picks the
  architecture (rules of the suite, ``nasbench.training.scaled_lr``, shared with DARTS):
  (1) the architecture lr keeps the paper's total step length lr x steps: the paper's 100 epochs
  weighted by its schedule (x0.2 from epoch 60: 68 epochs' worth on 2D tasks; 37.28 on 1D) over the
  budget's 4, on the same batches per epoch, i.e. x17 on 2D tasks (Darcy Flow 0.005 -> 0.085). The
  step stays bounded: the conditioning fixes a layer's logit step at lr / grad_scale whatever the
  gradient (8.5e-4 at ``small`` on Darcy Flow), so a larger lr cannot make it diverge;
  (2) the gradient clip (norm 1) covers the weights alone (the reference clips weights and logits
  together): the weights' gradient norm was 30-130 in the first 9 steps on Darcy Flow, so the joint
  clip shrank the conditioned logit step by as much, which the paper's 1,900 steps outlast and 36 do not.
  Measured at ``small`` on Darcy Flow (generated data, seed 0, ``nasbench run dash darcyflow --budget
  small``; ``signal_logit_shift`` is the mean over layers of the largest logit change, in units of the
  logits' initial spread 1e-3): with the paper's lr and joint clip the shift reached 0.06 after 36
  steps, the mean largest mixture weight stayed 0.0626 (uniform 0.0625), 1 of 13 argmax changed and
  the found kernels were the initialisation's draw (test relative L2 0.0536); with the scaled lr and
  the joint clip 4 of 13 changed and the weights still read 0.0626; with both rules the shift is 36
  (8.8 after the first epoch), 11 of 13 argmax changed, the largest weight 0.0626 -> 0.0640 (entropy
  2.7726 -> 2.7725 nats), test relative L2 0.0602 against 0.0536 (one seed each; the found network
  has 3.8 G MACs and 529k parameters against 6.0 G and 836k: the conditioning's 1e-5 r term, which
  penalises large kernels on dense tasks, now has steps enough to act). The weights stay near uniform by design, also in
  the paper: the conditioned steps bound a layer's travel by sum of lr / grad_scale = 0.065 over the
  paper's whole search (x10 at most with momentum), so the decision is the argmax of small logit
  differences, and whether the search made it is what ``signal_logit_shift`` and
  ``signal_changed`` say.
"""
from nasbench.methods.dash.config import DASHConfig
from nasbench.methods.dash.method import DASH, BabyDASH

__all__ = ["DASH", "BabyDASH", "DASHConfig"]
