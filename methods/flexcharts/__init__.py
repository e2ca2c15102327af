"""FlexCHarts and its DMaskingNAS baseline: searching the width of every stage of a DARTS cell network.

Papers: A. C. Yuezuegueler, N. Dimitriadis, P. Frossard, "Flexible Channel Dimensions for
Differentiable Architecture Search", arXiv:2306.08021, 2023 (FlexCHarts; Eq. 4, Algorithm 1, Section
5.1, Table 1); A. Wan et al., "FBNetV2: Differentiable Neural Architecture Search for Spatial and
Channel Dimensions", CVPR 2020, arXiv:2004.05565 (DMaskingNAS, Eq. 2-3 of the FlexCHarts paper). No
public code of FlexCHarts exists; everything here is built from the paper.

Modules: ``config`` (defaults, assumptions, budgets), ``widths`` (mu per stage with Gaussian weights;
logits per stage with Gumbel-softmax weights), ``search`` (bi-level first-order search through
``nasbench.training.fit``: the architecture step in ``before_step``, reallocation in ``epoch_end``),
``method`` (the ``flexcharts`` and ``dmasking`` SearchMethods, record, rebuild, retraining),
``benchmark`` (``nasbench perf flexcharts``). The network, the masks and the allocation are shared
backbone pieces: the DARTS network of ``nasbench.methods.backbones.darts_cells`` (``EvalNetwork`` with a
width per cell), its masks and width uses in ``width_cells``, and ``channel_masks``,
``channel_allocation``.

Tasks: every classification task the DARTS network takes (1D and 2D, token inputs through the
backbone's embedding stem); dense tasks are skipped (the network ends in a global pool).

What follows the papers:
- network: fixed 3x3 stem (108 channels) and 1x1 head (256), 20 stages of DARTS_V2 cells with
  reductions at 1/3 and 2/3, one width per stage shared by all its layers [P 5.1];
- DMaskingNAS: each stage computed at its largest candidate width, its BatchNorm outputs multiplied
  by sum_k g_tau(alpha)_k m_k over prefix masks (Eq. 2), logits alpha per candidate, soft
  Gumbel-softmax with tau = 5 x 0.956 per epoch (FBNetV2), final width f_argmax alpha;
- FlexCHarts: alpha_k = exp(-1/2 ((f_k - mu) / sigma)^2) on the width grid (Eq. 4), mu the only
  trainable parameter of a stage, no Gumbel noise, final width the grid point nearest mu; allocation of
  each stage at the top of its active range, changed only at epoch ends (Algorithm 1), weights,
  next-layer inputs, BatchNorm parameters and statistics and SGD momentum resized together;
- bi-level first-order steps (Algorithm 1): the training split cut into equal halves D_t (weights:
  SGD lr 0.025 cosine, momentum 0.9, wd 3e-4, clip 5) and D_s (channel parameters: Adam lr 0.1,
  betas (0.5, 0.999), wd 0), one step on each per iteration; drop-path rising from 0 to 0.2; batch 96;
  50 search epochs; retraining from scratch for 100 epochs with the same SGD settings, an auxiliary
  head (weight 0.4) and drop-path rising to 0.2 [P 5.1].

Assumptions (the paper leaves them open; each is a config with its reason in ``config``):
- sigma = 2 grid steps; grid step 8; the active range alpha_k >= 0.01 (mu +- 3.03 sigma);
- the Gaussian alphas are normalised over the stage's whole valid grid, so a grid point above the
  allocation acts as the allocated width until the epoch-end reallocation reaches it, and growing
  the allocation changes no mask value of an existing channel;
- new channels: ``preserving`` by default (fresh values where a new channel is produced, zeros where
  it is read: the output is unchanged exactly and the channel learns); ``zeros`` and ``default`` too;
- the cost is MACs, not latency: L_cost = |MACs(f_eff) / target - 1| (``cost_form``), MACs a
  polynomial of the stage widths that equals the suite's MAC count of the final network exactly;
  f_eff is sum_k g_k f_k for DMaskingNAS (UBoostNAS's soft effective width) and mu for FlexCHarts
  (``effective_width``: the final width is the grid point nearest mu, while sum_k w_k f_k exceeds mu
  where the valid range cuts the Gaussian); the target is 0.7 x the MACs of the network at its
  initial widths; lambda = 0.5 (the paper's lambda 1e-3..1e-1 weighs a latency in milliseconds);
- the initial width of a stage is the DARTS evaluation network's (36, doubled at each reduction; the
  paper's stem of 108 = 3 x 36), which is also FlexCHarts' initial mu; the valid range of a stage is
  [0.25, 2] x that width, which is DMask-large's candidate range; DMask-small's is [0.5, 1.5] x
  (the paper's Appendix Table 2 with both ranges was lost in the text).

Departures and why:
- one cosine step per epoch, not per step (``fit`` sets the learning rate per epoch);
- no cutout or other augmentation: the suite's tasks own their preprocessing;
- the auxiliary head is DARTS's (two convolutions and a linear layer, the backbone's), not the three
  fully connected layers the paper names without sizes;
- in the supernet the factorized reductions interleave their two halves (``width_cells``: the same
  function class, but masks and resizes keep every channel in place); the retrained network uses
  the reference's concatenation;
- the validation curve of the search uses the noise-free weights (softmax(alpha / tau) for DMasking);
- ``small`` and ``smoke`` shrink the network and the epochs (``budget_notes``), so the budget
  exercises the search on a 2-core CPU rather than reproducing Table 1.
"""
from nasbench.methods.flexcharts.config import DMaskingConfig, FlexCHartsConfig
from nasbench.methods.flexcharts.method import DMasking, FlexCHarts

__all__ = ["FlexCHarts", "DMasking", "FlexCHartsConfig", "DMaskingConfig"]
