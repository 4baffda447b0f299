import numpy as np
import pytest

from explorer.latent.ops import (analogy, apply_offsets, change_points, combine, interpolate, lerp,
                             slerp, traversal)

rng = np.random.default_rng(0)
A, B, C = (rng.normal(size=8).astype(np.float32) for _ in range(3))


@pytest.mark.parametrize("method", ["linear", "spherical"])
def test_interpolation_endpoints_equal_the_anchors(method):
    path = interpolate(A, B, 7, method)
    assert path.shape == (7, 8)
    assert np.array_equal(path[0], A) and np.array_equal(path[-1], B)


def test_lerp_is_evenly_spaced():
    path = lerp(A, B, 5)
    steps = np.diff(path, axis=0)
    assert np.allclose(steps, steps[0], atol=1e-6)


def test_slerp_keeps_norm_between_the_anchors_norms_and_stays_off_the_centre():
    path = slerp(A, -0.9 * A + 0.1 * B, 11)
    norms = np.linalg.norm(path, axis=1)
    lo, hi = sorted([np.linalg.norm(path[0]), np.linalg.norm(path[-1])])
    assert np.all(norms >= lo - 1e-4) and np.all(norms <= hi + 1e-4)
    mid_lerp = np.linalg.norm(lerp(path[0], path[-1], 11)[5])
    assert norms[5] > 2 * mid_lerp  # lerp cuts through the origin, slerp goes around


def test_slerp_of_parallel_vectors_falls_back_to_lerp():
    assert np.allclose(slerp(A, 2 * A, 4), lerp(A, 2 * A, 4), atol=1e-5)
    with pytest.raises(ValueError):
        interpolate(A, B, 1)
    with pytest.raises(ValueError):
        interpolate(A, B, 3, "cubic")


def test_arithmetic_inverse():
    assert np.allclose(combine([combine([A, B], [1, 1]), B], [1, -1]), A, atol=1e-6)
    assert np.allclose(analogy(A, B, B), A, atol=1e-6)
    assert np.allclose(combine([A, B], [0.25, 0.75]), 0.25 * A + 0.75 * B, atol=1e-6)


def test_traversal_changes_only_its_dimension():
    grid = traversal(A, [2, 5], np.linspace(-3, 3, 7))
    assert grid.shape == (2, 7, 8)
    for r, d in enumerate([2, 5]):
        others = np.delete(grid[r], d, axis=1)
        assert np.allclose(others, np.delete(A, d))
        assert np.allclose(grid[r, :, d], A[d] + np.linspace(-3, 3, 7))


def test_offsets_and_change_points():
    z = apply_offsets(A, {1: 2.0}, scale=np.full(8, 0.5))
    assert z[1] == pytest.approx(A[1] + 1.0) and np.array_equal(np.delete(z, 1), np.delete(A, 1))
    unit = np.eye(8, dtype=np.float32)[3]
    assert apply_offsets(A, {}, directions=[(unit, 1.5)])[3] == pytest.approx(A[3] + 1.5)
    assert change_points([4, 4, 7, 7, 7, 2]) == [2, 5]


def test_factor_scale_is_the_aggregate_posteriors_spread():
    from explorer.latent.ops import factor_scale
    rng = np.random.default_rng(0)
    mu = np.zeros((20_000, 3), np.float32)
    mu[:, 0] = rng.normal(0, 2.0, len(mu))          # spread 2 in the means
    mu[:, 1] = rng.normal(0, 0.5, len(mu))
    logvar = np.full_like(mu, np.log(0.25))           # every sigma² is 0.25
    got = factor_scale(mu, logvar)
    np.testing.assert_allclose(got, np.sqrt([4.0 + 0.25, 0.25 + 0.25, 0.25]), rtol=0.03)
    # deterministic (no logvar): the means alone; a dimension that never moves keeps 1
    np.testing.assert_allclose(factor_scale(mu), [2.0, 0.5, 1.0], rtol=0.03)
    # the traversal grid steps in these units
    from explorer.latent.ops import traversal
    row = traversal(np.zeros(3, np.float32), [0], np.array([-3.0, 3.0]), scale=got)[0]
    np.testing.assert_allclose(row[:, 0], [-3 * got[0], 3 * got[0]])
