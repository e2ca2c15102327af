"""Tests of the FNO Darcy-flow generator (the FNO process, arXiv:2010.08895)."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sparse
from scipy.interpolate import CubicSpline

from nasbench.tasks.nb360 import darcy_generator as dg

# u(1/2, 1/2) for -Laplacian u = 1 on the unit square, u = 0 on the boundary (series solution).
POISSON_CENTRE = 0.0736713532


class OneModeRng:
    """Stands in for a Generator: its 'noise' excites a single cosine mode."""

    def __init__(self, k1: int, k2: int):
        self.k1, self.k2 = k1, k2

    def standard_normal(self, shape):
        xi = np.zeros(shape)
        xi[self.k1, self.k2] = 1.0
        return xi


@pytest.fixture(scope="module")
def faithful():
    """One sample at 421 x 421, drawn as generate_darcy draws sample 0 of seed 7."""
    rng = np.random.default_rng(np.random.SeedSequence(7).spawn(1)[0])
    coeff = dg.threshold_coefficient(dg.gaussian_random_field(rng))
    coeff_nodal = dg.cell_to_node(coeff)
    return coeff, dg.solve_darcy(coeff), coeff_nodal, dg.nodal_solution(coeff_nodal)


# -- coefficient ---------------------------------------------------------------------------------
def test_coefficient_takes_exactly_the_two_values(faithful):
    coeff = faithful[0]
    assert coeff.shape == (421, 421) and coeff.dtype == np.float64
    assert set(np.unique(coeff)) == {3.0, 12.0}
    assert 0.2 < (coeff == 12.0).mean() < 0.8  # a zero-mean field is split roughly in half


def test_threshold_maps_sign_with_zero_to_high():
    field = np.array([[-1e-9, 0.0], [2.5, -4.0]])
    np.testing.assert_array_equal(dg.threshold_coefficient(field), [[3.0, 12.0], [12.0, 3.0]])


def test_gaussian_random_field_has_zero_mean():
    field = dg.gaussian_random_field(np.random.default_rng(0), size=64)
    assert field.shape == (64, 64)
    assert abs(field.mean()) < 1e-12 * field.std()


def test_single_mode_is_scaled_cosine_with_fno_coefficient():
    size, k1, k2 = 16, 2, 5
    field = dg.gaussian_random_field(OneModeRng(k1, k2), size=size, alpha=2.0, tau=3.0)
    coef = 3.0 * (np.pi ** 2 * (k1 ** 2 + k2 ** 2) + 9.0) ** -1.0
    grid = np.arange(size)
    cosine = lambda k: np.sqrt(2 / size) * np.cos(np.pi * k * (2 * grid + 1) / (2 * size))  # noqa: E731
    np.testing.assert_allclose(field, size * coef * np.outer(cosine(k1), cosine(k2)), atol=1e-14)


def test_constant_mode_is_dropped():
    assert np.abs(dg.gaussian_random_field(OneModeRng(0, 0), size=8)).max() == 0.0


def test_field_variance_matches_spectrum_at_any_resolution():
    k = np.arange(256)
    coef2 = 9.0 / (np.pi ** 2 * (k[:, None] ** 2 + k[None, :] ** 2) + 9.0) ** 2
    expected = coef2.sum() - coef2[0, 0]  # mean pointwise variance = sum of non-constant mode variances
    for size in (32, 128):
        rng = np.random.default_rng(size)
        measured = np.mean([dg.gaussian_random_field(rng, size=size).var() for _ in range(300)])
        assert measured == pytest.approx(expected, rel=0.1)


# -- interpolation -------------------------------------------------------------------------------
def test_spline_reproduces_cubics_both_ways_including_extrapolation():
    size = 21
    cubic = lambda x, y: x ** 3 - 2 * x * y ** 2 + 0.5 * y ** 3 + y + 1  # noqa: E731
    centres, nodes = dg.cell_centres(size), dg.nodes(size)
    assert centres[0] == pytest.approx(1 / 42) and nodes[-1] == 1.0
    on_cells = cubic(centres[:, None], centres[None, :])
    on_nodes = cubic(nodes[:, None], nodes[None, :])
    np.testing.assert_allclose(dg.cell_to_node(on_cells), on_nodes, atol=1e-10)
    np.testing.assert_allclose(dg.node_to_cell(on_nodes), on_cells, atol=1e-10)


def test_spline_matches_not_a_knot_cubic_spline_along_each_axis():
    size = 12
    values = np.random.default_rng(1).standard_normal((size, size))
    centres, nodes = dg.cell_centres(size), dg.nodes(size)
    along_rows = CubicSpline(centres, values, axis=0)(nodes)
    expected = CubicSpline(centres, along_rows, axis=1)(nodes)
    np.testing.assert_allclose(dg.cell_to_node(values), expected, atol=1e-12)


# -- operator and solver -------------------------------------------------------------------------
def test_operator_for_constant_coefficient_is_scaled_laplacian():
    size, c = 7, 2.5
    operator = dg.darcy_operator(np.full((size, size), c))
    inner, scale = size - 2, (size - 1) ** 2
    second_difference = sparse.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(inner, inner))
    laplacian = sparse.kronsum(second_difference, second_difference) * scale
    np.testing.assert_allclose(operator.toarray(), c * laplacian.toarray(), atol=1e-12)
    row = operator[12].toarray().ravel()  # interior node (2, 2) of the 5 x 5 unknowns
    assert row[12] == pytest.approx(4 * c * scale)
    assert [row[j] for j in (7, 11, 13, 17)] == pytest.approx([-c * scale] * 4)
    assert np.count_nonzero(row) == 5


def test_operator_rows_use_arithmetic_face_means():
    size = 6
    a = np.random.default_rng(2).uniform(1, 10, (size, size))
    operator, scale = dg.darcy_operator(a).toarray(), (size - 1) ** 2
    face = lambda i, j, k, m: (a[i, j] + a[k, m]) / 2  # noqa: E731
    p = 1 * 4 + 2  # node (2, 3): interior position (1, 2) of the 4 x 4 unknowns
    neighbours = {p - 1: (2, 2), p + 1: (2, 4), p - 4: (1, 3), p + 4: (3, 3)}
    for q, (k, m) in neighbours.items():
        assert operator[p, q] == pytest.approx(-scale * face(2, 3, k, m))
    assert operator[p, p] == pytest.approx(scale * sum(face(2, 3, k, m) for k, m in neighbours.values()))
    # node (1, 4) is last in its row: its east neighbour is the boundary, not node (2, 1)
    assert operator[3, 4] == 0.0 and operator[4, 3] == 0.0
    faces = face(1, 4, 1, 5) + face(1, 4, 1, 3) + face(1, 4, 0, 4) + face(1, 4, 2, 4)
    assert operator[3, 3] == pytest.approx(scale * faces)


def test_nodal_solution_satisfies_discrete_pde(faithful):
    _, _, coeff_nodal, u = faithful
    assert np.all(u[[0, -1]] == 0) and np.all(u[:, [0, -1]] == 0)
    rhs = np.ones((419, 419))
    residual = dg.darcy_operator(coeff_nodal) @ u[1:-1, 1:-1].ravel() - rhs.ravel()
    assert np.linalg.norm(residual) / np.linalg.norm(rhs) < 1e-8


def test_faithful_solution_is_spline_of_nodal_solution(faithful):
    _, sol, _, u = faithful
    np.testing.assert_allclose(sol, dg.node_to_cell(u), rtol=1e-10, atol=1e-14)


def test_faithful_solution_shape_sign_and_scale(faithful):
    coeff, sol, coeff_nodal, _ = faithful
    assert sol.shape == coeff.shape
    assert np.all(sol[1:-1, 1:-1] > 0)
    assert 0.005 < sol.max() < 0.03  # spec: max about 0.014
    boundary = np.concatenate([sol[0], sol[-1], sol[:, 0], sol[:, -1]])
    assert 0 < np.abs(boundary).max() < 0.02 * sol.max()  # cell centres sit half a cell inside
    assert len(np.unique(coeff_nodal)) > 2  # the splined coefficient is no longer two-valued


@pytest.mark.parametrize("c", [3.0, 12.0])
def test_constant_coefficient_matches_poisson_centre(c):
    sol = dg.solve_darcy(np.full((101, 101), c))  # cell centre 50 is x = 1/2
    assert sol[50, 50] == pytest.approx(POISSON_CENTRE / c, rel=0.01)
    approx = dg.solve_darcy_approx(np.full((85, 85), c))  # node 42 is x = 1/2
    assert approx[42, 42] == pytest.approx(POISSON_CENTRE / c, rel=0.01)


def test_forcing_scales_solution():
    coeff = dg.threshold_coefficient(dg.gaussian_random_field(np.random.default_rng(3), size=33))
    np.testing.assert_allclose(dg.solve_darcy(coeff, 2.0), 2 * dg.solve_darcy(coeff), rtol=1e-12)
    np.testing.assert_allclose(dg.solve_darcy(coeff, np.full((33, 33), 2.0)), 2 * dg.solve_darcy(coeff), rtol=1e-9)


def test_rejects_non_square_grid():
    with pytest.raises(ValueError):
        dg.solve_darcy(np.ones((10, 12)))


# -- data set ------------------------------------------------------------------------------------
def test_generate_faithful_is_subsampled_fno_sample(faithful):
    coeff, sol = dg.generate_darcy(1, seed=7)
    assert coeff.shape == sol.shape == (1, 85, 85) and sol.dtype == np.float64
    np.testing.assert_array_equal(coeff[0], faithful[0][::5, ::5])
    np.testing.assert_array_equal(sol[0], faithful[1][::5, ::5])


def test_generate_approx_shapes_and_values():
    coeff, sol = dg.generate_darcy(3, seed=0, approx=True)
    assert coeff.shape == sol.shape == (3, 85, 85)
    assert coeff.dtype == sol.dtype == np.float64
    assert set(np.unique(coeff)) == {3.0, 12.0}
    assert np.all(sol[:, 1:-1, 1:-1] > 0) and np.all(sol[:, 0] == 0) and np.all(sol[:, :, -1] == 0)
    assert 0.005 < sol.max() < 0.03
    assert not np.array_equal(coeff[0], coeff[1])


def test_generate_is_deterministic_and_independent_of_workers():
    serial = dg.generate_darcy(3, seed=11, approx=True, workers=1)
    parallel = dg.generate_darcy(3, seed=11, approx=True, workers=2)
    prefix = dg.generate_darcy(2, seed=11, approx=True)
    other = dg.generate_darcy(1, seed=12, approx=True)
    for a, b, c in zip(serial, parallel, prefix):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a[:2], c)  # a larger set starts with the smaller one
    assert not np.array_equal(serial[0][0], other[0][0])
