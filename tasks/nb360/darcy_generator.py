"""Darcy-flow data generator of the Fourier Neural Operator paper, as used by NAS-Bench-360.

Clean-room numpy/scipy implementation of the FNO process (Li et al., 2021): a Gaussian random
field a ~ N(0, (-Laplacian + 9 I)^-2) is thresholded to the piecewise-constant coefficient
{3, 12}, and -div(a grad u) = f with f = 1 and u = 0 on the boundary of the unit square is solved
by second-order finite differences on a 421 x 421 grid. NAS-Bench-360 keeps every 5th point
(85 x 85). The recipe, including the cell-centred/nodal grid round trip of the original solver,
follows the released FNO data-generation scripts (Li et al., Fourier Neural Operator for
Parametric PDEs, ICLR 2021, arXiv:2010.08895).

Two modes:

* faithful (:func:`solve_darcy`): coefficient on the cell-centred grid, spline to the nodes,
  finite-difference solve, spline back; generated at 421 and subsampled.
* approximate (:func:`solve_darcy_approx`): the same finite-difference system solved directly
  on a coarse grid whose values are treated as nodal; tens of times cheaper, for tests and demos.
  It is not the benchmark's data distribution.
"""
from __future__ import annotations

import functools
import multiprocessing

import numpy as np
import scipy.fft
import scipy.sparse as sparse
import scipy.sparse.linalg as sparse_linalg
from scipy.interpolate import CubicSpline

from nasbench.tasks.common.progress import progress

FNO_RESOLUTION = 421  # grid of the released .mat files
NB360_SUBSAMPLE = 5  # NAS-Bench-360 ``sub: 5`` -> 85 x 85
APPROX_RESOLUTION = 85  # the approximate mode solves directly on the NAS-Bench-360 grid
COEFF_HIGH, COEFF_LOW = 12.0, 3.0  # psi = 12 on R+, 3 on R- (FNO paper)


# -- coefficient -----------------------------------------------------------------------------
def gaussian_random_field(rng: np.random.Generator, size: int = FNO_RESOLUTION,
                          alpha: float = 2.0, tau: float = 3.0) -> np.ndarray:
    """Sample N(0, tau^(2 alpha - 2) (-Laplacian + tau^2 I)^-alpha) on a ``size`` x ``size`` grid.

    The field is expanded in the cosine (zero-Neumann Laplacian) eigenbasis, whose coefficients
    the orthonormal 2-D inverse DCT maps to grid values.

    Returns
    -------
    np.ndarray
        Float64 field of shape (size, size) with zero spatial mean.
    """
    xi = rng.standard_normal((size, size))
    k1, k2 = np.meshgrid(np.arange(size), np.arange(size), indexing="ij")
    coef = tau ** (alpha - 1) * (np.pi ** 2 * (k1 ** 2 + k2 ** 2) + tau ** 2) ** (-alpha / 2)
    spectrum = size * coef * xi  # the factor size makes the orthonormal DCT resolution-consistent
    spectrum[0, 0] = 0.0  # drop the constant mode: zero-mean field
    return scipy.fft.idctn(spectrum, type=2, norm="ortho")


def threshold_coefficient(field: np.ndarray) -> np.ndarray:
    """Push the field through psi: 12 where it is >= 0, else 3 (the stored ``coeff``)."""
    return np.where(np.asarray(field) >= 0, COEFF_HIGH, COEFF_LOW)


# -- grids and spline interpolation ----------------------------------------------------------
def cell_centres(size: int) -> np.ndarray:
    """Cell-centred points (2i + 1) / (2 size) on which ``coeff`` and ``sol`` are stored."""
    return (2 * np.arange(size) + 1) / (2 * size)


def nodes(size: int) -> np.ndarray:
    """Nodal points linspace(0, 1, size) on which the finite differences are written."""
    return np.linspace(0.0, 1.0, size)


@functools.lru_cache(maxsize=8)
def _spline_matrix(size: int, to_nodes: bool) -> np.ndarray:
    """Matrix of the not-a-knot cubic spline from one grid to the other (MATLAB ``spline``).

    The spline is linear in the data, so building it once on the identity turns every later
    interpolation into two small matrix products instead of a spline fit per sample.
    """
    source, target = (cell_centres(size), nodes(size)) if to_nodes else (nodes(size), cell_centres(size))
    basis = CubicSpline(source, np.eye(size), axis=0, bc_type="not-a-knot", extrapolate=True)
    return np.ascontiguousarray(basis(target))


def _square_grid(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 2 or values.shape[0] != values.shape[1] or values.shape[0] < 4:
        raise ValueError(f"darcy: need a square grid of at least 4 x 4 points, got shape {values.shape}")
    return values


def _tensor_spline(values: np.ndarray, to_nodes: bool) -> np.ndarray:
    values = _square_grid(values)
    spline = _spline_matrix(values.shape[0], to_nodes)
    return spline @ values @ spline.T  # tensor product: spline along axis 0, then along axis 1


def cell_to_node(values: np.ndarray) -> np.ndarray:
    """Interpolate cell-centred values to the nodes (2-D spline, extrapolating at the edges)."""
    return _tensor_spline(values, to_nodes=True)


def node_to_cell(values: np.ndarray) -> np.ndarray:
    """Interpolate nodal values back to the cell-centred grid (2-D spline)."""
    return _tensor_spline(values, to_nodes=False)


# -- finite-difference solver ----------------------------------------------------------------
def darcy_operator(coeff_nodal: np.ndarray) -> sparse.csc_matrix:
    """Five-point matrix of -div(a grad u) on the interior nodes, u = 0 on the boundary.

    Unknowns are the (K-2)^2 interior nodes in row-major order; face conductivities are the
    arithmetic means of the two nodal values; the matrix is scaled by 1/h^2 = (K-1)^2.
    """
    a = _square_grid(coeff_nodal)
    size, inner = a.shape[0], a.shape[0] - 2
    centre = a[1:-1, 1:-1]
    east, west = (centre + a[1:-1, 2:]) / 2, (centre + a[1:-1, :-2]) / 2
    south, north = (centre + a[2:, 1:-1]) / 2, (centre + a[:-2, 1:-1]) / 2
    diagonal = (east + west + south + north).ravel()  # boundary faces count: Dirichlet u = 0
    along_row = -east.copy()
    along_row[:, -1] = 0.0  # the east neighbour of the last column is a boundary node, not the next row
    along_row = along_row.ravel()[:-1]
    across_rows = -south[:-1].ravel()
    matrix = sparse.diags([diagonal, along_row, along_row, across_rows, across_rows],
                          [0, 1, -1, inner, -inner], format="csc")
    return matrix * float((size - 1) ** 2)


def interior_forcing(forcing: float | np.ndarray, size: int) -> np.ndarray:
    """Right-hand side: the nodal forcing at the interior nodes, flattened like the unknowns."""
    if np.ndim(forcing) == 0:
        return np.full((size - 2) ** 2, float(forcing))
    return np.asarray(forcing, dtype=np.float64)[1:-1, 1:-1].ravel()


def nodal_solution(coeff_nodal: np.ndarray, forcing: float | np.ndarray = 1.0) -> np.ndarray:
    """Solve the finite-difference system by a sparse direct solve.

    Returns
    -------
    np.ndarray
        Nodal solution, same shape as ``coeff_nodal``, zero on the boundary nodes.
    """
    a = _square_grid(coeff_nodal)
    # The matrix is symmetric, so a symmetric fill-reducing ordering (minimum degree on A^T + A)
    # factors it about 1.7 times faster than SuperLU's default COLAMD. Partial pivoting stays on:
    # the spline extrapolates the coefficient to the boundary nodes, where it can turn negative
    # next to a jump, so the matrix need not be positive definite (MATLAB's backslash copes too).
    factor = sparse_linalg.splu(darcy_operator(a), permc_spec="MMD_AT_PLUS_A")
    u = np.zeros_like(a)
    u[1:-1, 1:-1] = factor.solve(interior_forcing(forcing, a.shape[0])).reshape(a.shape[0] - 2, -1)
    return u


def solve_darcy(coeff: np.ndarray, forcing: float | np.ndarray = 1.0) -> np.ndarray:
    """Faithful FNO solve: -div(coeff grad u) = forcing, u = 0 on the boundary of [0, 1]^2.

    ``coeff`` (and an array ``forcing``) live on the cell-centred grid; they are splined to the
    nodes, the finite-difference system is solved there and the solution is splined back, as the
    original solver does. The stored boundary values are therefore small but not zero.

    Returns
    -------
    np.ndarray
        ``sol`` on the cell-centred grid, same shape as ``coeff``.
    """
    # A constant forcing splines to itself, so only an array forcing needs the interpolation.
    forcing_nodal = forcing if np.ndim(forcing) == 0 else cell_to_node(forcing)
    return node_to_cell(nodal_solution(cell_to_node(coeff), forcing_nodal))


def solve_darcy_approx(coeff: np.ndarray, forcing: float | np.ndarray = 1.0) -> np.ndarray:
    """Approximate mode: the same finite-difference system, with ``coeff`` taken as nodal values.

    No spline round trip, so the solution is exactly zero on the outer rows and columns. Used
    directly on the 85 x 85 grid it is cheap but is not the benchmark's data distribution.
    """
    return nodal_solution(coeff, forcing)


# -- data set ----------------------------------------------------------------------------------
def darcy_sample(seed: np.random.SeedSequence, approx: bool = False,
                 keep_every: int = NB360_SUBSAMPLE) -> tuple[np.ndarray, np.ndarray]:
    """One (coeff, sol) pair from its own seed: faithful at 421 then subsampled, or approximate at 85."""
    rng = np.random.default_rng(seed)
    if approx:
        coeff = threshold_coefficient(gaussian_random_field(rng, APPROX_RESOLUTION))
        return coeff, solve_darcy_approx(coeff)
    coeff = threshold_coefficient(gaussian_random_field(rng, FNO_RESOLUTION))
    sol = solve_darcy(coeff)
    return coeff[::keep_every, ::keep_every], sol[::keep_every, ::keep_every]


def generate_darcy(n: int, seed: int, approx: bool = False, workers: int = 1,
                   keep_every: int = NB360_SUBSAMPLE) -> tuple[np.ndarray, np.ndarray]:
    """Generate ``n`` Darcy-flow samples, NAS-Bench-360 style.

    Sample i draws from child i of ``SeedSequence(seed)``, so the data do not depend on
    ``workers`` and the first m samples of any n >= m are the same.

    Returns
    -------
    tuple[np.ndarray, np.ndarray]
        ``coeff`` and ``sol``, float64 of shape (n, 85, 85) (faithful mode: (n, s, s) with
        s = ceil(421 / keep_every); approximate mode ignores ``keep_every``).
    """
    if n < 1:
        raise ValueError(f"darcy: n must be positive, got {n}")
    children = np.random.SeedSequence(seed).spawn(n)
    one = functools.partial(darcy_sample, approx=approx, keep_every=keep_every)
    if workers > 1 and n > 1:
        # fork: workers start from the parent's loaded modules and cached spline matrices
        with multiprocessing.get_context("fork").Pool(min(workers, n)) as pool:
            samples = list(progress(pool.imap(one, children, chunksize=1), n, "darcy samples"))  # in order
    else:
        samples = [one(child) for child in progress(children, n, "darcy samples")]
    coeff, sol = zip(*samples)
    return np.stack(coeff), np.stack(sol)
