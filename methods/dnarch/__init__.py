"""DNArch: learning kernel sizes, resolutions, widths and depth of a CCNN by backpropagation.

Paper: D. W. Romero and N. Zeghidour, "DNArch: Learning Convolutional Neural Architectures by
Backpropagation", 2023 (arXiv:2302.05400). The authors' PyTorch release is not public; the CCNN reference
(github.com/david-knigge/ccnn) was read for facts (FFT convolution, FlexConv mask cropping, kernel
network initialisation); no code was copied.

Modules: ``masks`` (Eqs. 1-5, 9-10, bounds), ``network`` (the supernet, dynamic and static modes),
``complexity`` (Eqs. 8-11, Appendix C), ``method`` (the ``dnarch`` SearchMethod), ``record`` (the
found architecture, Tables 4-6 form), ``benchmark`` (``nasbench perf dnarch``). The CCNN itself, the
Tables 7-8 recipes and the smoke/small scaling are shared with the ``ccnn`` baseline and live in
``nasbench.methods.backbones`` (``ccnn``, ``ccnn_recipes``).

Protocol [P]: one training run on the task's training split learns weights and architecture; the
last epoch's network is evaluated on the test split. LRA Retrieval (paired documents, Table 1 and
Appendix D.1): the supernet encodes each document, one shared encoder for both, and the two-tower
head of ``backbones.encoder_pair`` compares them; the masks, the record and the complexity loss are
those of the one encoder [A: the paper does not say whether C counts one tower or two; the head is
the same constant in C_curr and C_target either way].

What follows the paper [P]: single training run on the training split, weights and masks updated
together by AdamW with a cosine schedule and linear warm-up; Gaussian kernel masks (mu = 0, sigma
learned per axis) on the output of ONE shared kernel network (4 layers, 128 hidden units, Fourier
encoding [cos, sin](2 pi omega_0 W x), W in R^{D x 128}, coordinates in [-1, 1]^D); sigmoid masks
(mu learned, tau fixed) for resolution (inside the Fourier convolution), widths N_in/N_mid/N_out and
depth, on the residual branch only; threshold T_m = 0.1; materialising only what the masks keep;
initialisation at the base CCNN (resolution masks weight the highest frequency 0.85, widths and depth
at the base sizes, kernel masks sigma_0 = 0.5 "global"); bounds reset after every step (sigma_min:
an axis keeps >= 3 taps; mu_min: mask 0.95 at x_min; mu_max: mask 0.85 at x_max); largest network
2x the base width and depth, kernels as large as the input; sizes (Eqs. 9-10) clipped at the largest
size with a straight-through estimator; L = L_obj + lambda (C_curr / C_target - 1)^2 with C_target
the base network, for DNArch_{K,R,W,D} only; BatchNorm with batch statistics (no running averages);
no retraining. Tables 7-8 give the ``paper`` budget (``backbones.ccnn_recipes``).

Assumptions, all config knobs or documented constants [A]:
- every mask axis (kernel taps, channels, blocks, frequencies) is normalised to [-1, 1]; channel i of
  N_max sits at -1 + 2i/(N_max - 1), block l of D_max at -1 + 2l/(D_max - 1) (the paper's minimum
  sizes, 10 %/5 %/2.5 % and "2 or 1 blocks", come out of this convention);
- frequency k of the padded FFT (length P, see the CCNN backbone) sits at u = -1 + 4|k|/P, so
  u = 1 is the input's Nyquist frequency; the kept band |k| <= k_keep with k_keep = floor(P(x_T+1)/4)
  is evaluated on L_out = floor(2 L k_keep / P) + 1 points (close to L (x_T + 1)/2);
- resolution is downsampled on the residual branch only and upsampled back at the block end by
  band-limited interpolation (zero-padding the spectrum) [P: "upsample ... back to the input resolution"];
- mask positions: m_Nin on the N_in channels of the depthwise convolution (after the pre-norm
  BatchNorm, which would otherwise undo it; folded into the kernel and its bias), m_Nmid on the
  channel-mixer output and m_Nout on the PWLinear output, each before its GELU; the depth mask on the
  whole branch; the identity branch carries N_max channels at full resolution;
- size(m_res) of a 2D block is the product of the per-axis sizes;
- the shared kernel network has D_max x N_max outputs, block l reading rows l N_max + c;
- C_Fconv is multiplied by the depthwise channels (``fft_channel_factor``); the pre-norm BatchNorm is
  counted at the input resolution; encoder and decoder enter C_curr and C_target as the same constant
  (at N_max); depth enters C through a fractional last block (``complexity`` module);
- the mask parameters get their own AdamW group: ``mask_lr_ratio`` (1) times the learning rate and no
  weight decay (``mask_weight_decay`` 0);
- ``sigma_0`` = 0.5 (global kernels, the CCNN baseline's) of the paper's two initialisations;
- omega_0 is read as printed (e.g. 24.5k for Darcy Flow) with W ~ N(0, 1) (``paper``); at that scale
  the encoding aliases on an 85-point grid and the kernels start noise-like.

Budgets (``backbones.ccnn_recipes``; written into every manifest by ``budget_notes``): ``paper`` is
Table 7's row with CCNN_{4,140}; ``small`` trains CCNN_{4,32} (N_max 64, D_max 8) with a 32-unit
kernel network, omega_0 = 10 and 15 epochs, and uses lambda = 5, the paper's own choice where L_obj
stays high (E.2.1): with the table's 0.1 the short run ends well below the complexity target;
``smoke`` is for tests. Below ``paper``, ListOps is read at the first position instead of through the
global average pool (``ccnn_recipes.FIRST_POSITION_TASKS``, config ``pooling``): through the mean,
the root operator (token 0) weighs 1/2048 of the features and the short run stays at the label prior;
read at position 0 it learns the root-operator rule. LRA's own ListOps config pools this way; the
papers use the mean, and so does ``paper``. The runs behind these choices are in
``docs/measurements.md``.

Departures: the static mode (for compiled / fixed-shape runs) emulates the crop with DFT matrices of
fixed shape so it equals the dynamic mode to float precision, instead of the paper's TPU practice of
masking without cropping and trimming at inference; the complexity-loss gradient reaches every mask
parameter that enters C, i.e. all mu's (resolution, widths, depth) but not sigma: kernel size is not
part of C, because the convolutions are FFT-based [P, App. C].
"""
from nasbench.methods.dnarch.method import DNArch, DNArchConfig

__all__ = ["DNArch", "DNArchConfig"]
