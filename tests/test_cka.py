"""Linear CKA with the unbiased HSIC estimator (engine.learning.cka) against the papers'
formulas written out here in plain numpy, and its invariances."""
import numpy as np
import pytest

from convscope.engine.learning import cka


def hsic_unbiased_direct(K, L):
    """Song et al. 2012 / Nguyen et al. 2021 eq. 3, term by term with explicit matrices."""
    n = K.shape[0]
    Kt = K - np.diag(np.diag(K))
    Lt = L - np.diag(np.diag(L))
    one = np.ones((n, 1))
    t1 = np.trace(Kt @ Lt)
    t2 = (one.T @ Kt @ one).item() * (one.T @ Lt @ one).item() / ((n - 1) * (n - 2))
    t3 = 2.0 / (n - 2) * (one.T @ Kt @ Lt @ one).item()
    return (t1 + t2 - t3) / (n * (n - 3))


def cka_direct(X, Y):
    K, L = X @ X.T, Y @ Y.T
    return hsic_unbiased_direct(K, L) / np.sqrt(hsic_unbiased_direct(K, K) * hsic_unbiased_direct(L, L))


def cka_of(X, Y, batch=None):
    acc = cka.MinibatchCKA(1, 1)
    for start, stop in cka.batches(len(X), batch or len(X)):
        acc.update([X[start:stop]], [Y[start:stop]])
    return float(acc.result()[0, 0])


@pytest.fixture
def xy():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 12))
    Y = X @ rng.normal(size=(12, 7)) + 0.5 * rng.normal(size=(40, 7))  # related, not equal
    return X, Y


def test_hsic1_equals_direct_formula(xy):
    X, Y = xy
    K, L = X @ X.T, Y @ Y.T
    assert cka.hsic1(K, L) == pytest.approx(hsic_unbiased_direct(K, L), rel=1e-10)
    assert cka_of(X, Y) == pytest.approx(cka_direct(X, Y), rel=1e-10)


def test_cka_of_a_representation_with_itself_is_one(xy):
    X, _ = xy
    assert cka_of(X, X) == pytest.approx(1.0, abs=1e-12)
    assert cka_of(X, X, batch=8) == pytest.approx(1.0, abs=1e-12)


def test_invariant_to_orthogonal_transform_and_isotropic_scaling(xy):
    X, Y = xy
    rng = np.random.default_rng(1)
    Q, _ = np.linalg.qr(rng.normal(size=(12, 12)))
    base = cka_of(X, Y)
    assert 0.2 < base < 0.99  # a value that could change
    assert cka_of(X @ Q, Y) == pytest.approx(base, rel=1e-9)
    assert cka_of(7.5 * X, Y) == pytest.approx(base, rel=1e-9)
    assert cka_of(X, 0.01 * Y) == pytest.approx(base, rel=1e-9)
    # not invariant to an arbitrary (non-orthogonal) linear map: the test can tell
    A = np.diag(np.linspace(0.1, 10, 12))
    assert abs(cka_of(X @ A, Y) - base) > 1e-3


def test_minibatch_estimate_equals_full_batch_unbiased_value(xy):
    X, Y = xy
    # one minibatch holding every image: exactly the full-batch unbiased CKA
    assert cka_of(X, Y, batch=len(X)) == pytest.approx(cka_direct(X, Y), rel=1e-10)
    # several minibatches: the ratio of the means of per-batch HSIC_1 (Nguyen et al. 2021),
    # re-computed here from the direct formula on the same batches
    parts = [(X[s:e], Y[s:e]) for s, e in cka.batches(len(X), 8)]
    xy_ = np.mean([hsic_unbiased_direct(a @ a.T, b @ b.T) for a, b in parts])
    xx_ = np.mean([hsic_unbiased_direct(a @ a.T, a @ a.T) for a, _ in parts])
    yy_ = np.mean([hsic_unbiased_direct(b @ b.T, b @ b.T) for _, b in parts])
    assert cka_of(X, Y, batch=8) == pytest.approx(xy_ / np.sqrt(xx_ * yy_), rel=1e-10)


def test_minibatch_estimate_converges_to_full_batch_value():
    """Each HSIC_1 is unbiased, so with many images the minibatch estimate lands on the
    full-batch value (here within 0.02 with 2000 images in batches of 50)."""
    rng = np.random.default_rng(3)
    X = rng.normal(size=(2000, 6))
    Y = np.tanh(X @ rng.normal(size=(6, 5))) + 0.3 * rng.normal(size=(2000, 5))
    full = cka_direct(X, Y)
    assert cka_of(X, Y, batch=50) == pytest.approx(full, abs=0.02)


def test_constant_representation_gives_nan_and_batches_keep_four():
    X = np.ones((10, 3))
    Y = np.random.default_rng(0).normal(size=(10, 3))
    assert np.isnan(cka_of(X, Y))
    assert cka.batches(10, 4) == [(0, 4), (4, 10)]  # a last batch of 2 joins the one before
    assert cka.batches(9, 3) == [(0, 4), (4, 9)]  # batches of at least 4
