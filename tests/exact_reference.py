"""Independent reference computations for tiny models, and the table of model types.

Everything here is plain NumPy/SciPy brute force over every state of a tiny
model; none of it calls library code except to build an estimator whose
parameters are then overwritten.  The known-answer suites import it.

Adding a model type
-------------------
A model type enters the exact-answer suites as one ``ModelFamily`` entry in
``FAMILIES``: its estimator, its kernel identifier, how to draw tiny random
parameters and training data, and its exact joint -E(v, h) over every
(visible, hidden) state pair.  The hidden layer is Bernoulli for every model
of the library, so p(h | v) and everything derived from the joint (marginals,
the block-Gibbs transition matrix, mixing bounds, gradients) are written once
below.  A visible type whose states cannot be enumerated (Gaussian) needs a
``log_joint`` over hidden states only (its visible part integrated out in
closed form); see the notes in ``ModelFamily``.
"""

import itertools
from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy import stats
from scipy.special import expit, logsumexp

from rbm import BernoulliRBM
from rbm import _gibbs


# --------------------------------------------------------------------------
# Binary state tables
# --------------------------------------------------------------------------


def all_states(n):
    """Every binary vector of length n as rows; row r is the binary expansion of r
    (least significant bit in column 0), so ``state_index`` inverts it."""
    return np.array(list(itertools.product([0.0, 1.0], repeat=n)))[:, ::-1].copy()


def state_index(V):
    """Integer index of each binary row of V (inverse of ``all_states``)."""
    return (np.asarray(V) @ (2 ** np.arange(V.shape[1]))).round().astype(np.int64)


# --------------------------------------------------------------------------
# Bernoulli-Bernoulli exact distributions
# --------------------------------------------------------------------------


def joint_log_weights(W, b, c):
    """-E(v, h) for all (v, h): array of shape (2**n_visible, 2**n_hidden)."""
    n_hidden, n_visible = W.shape
    V, H = all_states(n_visible), all_states(n_hidden)
    return (V @ b)[:, None] + (H @ c)[None, :] + V @ W.T @ H.T


def brute_force_log_z(W, b, c):
    """log sum_{v, h} exp(-E(v, h)) by direct summation over the joint."""
    return float(logsumexp(joint_log_weights(W, b, c)))


def exact_joint(W, b, c):
    """p(v, h), shape (2**n_visible, 2**n_hidden)."""
    lw = joint_log_weights(W, b, c)
    return np.exp(lw - logsumexp(lw))


def exact_visible_marginal(W, b, c):
    return exact_joint(W, b, c).sum(axis=1)


def hidden_conditional(V, W, c):
    """p(h | v) for every binary h, shape (len(V), 2**n_hidden)."""
    H = all_states(W.shape[0])
    ph = expit(V @ W.T + c)
    return np.prod(np.where(H[None, :, :] == 1, ph[:, None, :], 1 - ph[:, None, :]), axis=2)


def visible_conditional(H, W, b):
    """p(v | h) for every binary v, shape (len(H), 2**n_visible)."""
    V = all_states(W.shape[1])
    pv = expit(H @ W + b)
    return np.prod(np.where(V[None, :, :] == 1, pv[:, None, :], 1 - pv[:, None, :]), axis=2)


def chain_chi2_bound(p, T, n_transitions):
    """Upper bound on chi^2(mu T^n || p) over every start distribution mu.

    One layer of a two-block Gibbs sampler is a reversible chain with respect
    to its marginal p (p(v) T(v, v') = sum_h p(h) p(v|h) p(v'|h) is symmetric)
    and its transition matrix is positive semi-definite, so
    chi^2(mu T^n || p) <= lambda_2^(2n) chi^2(mu || p), with lambda_2 the
    second-largest eigenvalue, and chi^2(mu || p) <= 1 / min(p) - 1 for any mu.
    """
    sym = np.sqrt(p)[:, None] * T / np.sqrt(p)[None, :]  # similar to T, symmetric
    eig = np.sort(np.abs(np.linalg.eigvalsh((sym + sym.T) / 2)))[::-1]
    assert abs(eig[0] - 1) < 1e-10
    return eig[1] ** (2 * n_transitions) * (1 / p.min() - 1)


def random_params(n_visible, n_hidden, seed, scale=1.0):
    rng = np.random.default_rng(seed)
    W = scale * rng.standard_normal((n_hidden, n_visible))
    b = 0.5 * scale * rng.standard_normal(n_visible)
    c = 0.5 * scale * rng.standard_normal(n_hidden)
    return W, b, c


def binary_data(n_rows, n_visible, rng):
    return (rng.random((n_rows, n_visible)) < 0.5).astype(np.float64)


# --------------------------------------------------------------------------
# The table of model types
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelFamily:
    """One RBM type, as the exact-answer suites see it.

    Attributes
    ----------
    name : str
        Test id.
    estimator : type
        The estimator class.
    kernel_kind : int
        The visible type's identifier in ``rbm._gibbs``.
    random_params : callable (n_visible, n_hidden, seed, scale) -> (W, b, c)
    training_data : callable (n_rows, n_visible, rng) -> ndarray
        Valid input for the estimator (used to build models before their
        parameters are overwritten).
    visible_states : callable n_visible -> ndarray
        Every visible state, one per row, in the order of ``log_joint``'s rows.
    visible_index : callable V -> ndarray of int
        Row of each visible state of V in ``visible_states``.
    visible_conditional : callable (H, W, b) -> ndarray
        p(v | h) over every visible state, one row per row of H.
    log_joint : callable (W, b, c) -> ndarray
        -E(v, h) of every (visible state, hidden state) pair, hidden states
        as in ``all_states(n_hidden)``.

    Categorical units fit as they are (states: every combination of
    categories, one-hot encoded).  Gaussian units cannot be enumerated: their
    entry would test hidden-layer statistics only (p(h) is exact in closed
    form), which every suite below already computes from ``log_joint``'s
    column sums; that entry would supply ``log_hidden_marginal`` instead.
    """

    name: str
    estimator: type
    kernel_kind: int
    random_params: Callable
    training_data: Callable
    visible_states: Callable
    visible_index: Callable
    visible_conditional: Callable
    log_joint: Callable

    def model(self, W, b, c, dtype=np.float64, **kwargs):
        """A fitted estimator whose parameters are then set to (W, b, c)."""
        n_hidden, n_visible = W.shape
        X = self.training_data(20, n_visible, np.random.default_rng(0)).astype(dtype)
        params = dict(n_components=n_hidden, n_iter=1, random_state=0, n_jobs=1)
        params.update(kwargs)
        model = self.estimator(**params).fit(X)
        model.components_ = np.array(W, dtype=dtype)
        model.intercept_visible_ = np.array(b, dtype=dtype)
        model.intercept_hidden_ = np.array(c, dtype=dtype)
        return model

    def kernel_arguments(self, dtype):
        """(visible_state, groups) for the kernel: no extra parameters.

        A categorical family would return its column offsets as groups.
        """
        return np.zeros((1, 1), dtype=dtype), np.zeros(2, dtype=np.intp)

    # Everything below is derived from the hooks above.

    def joint(self, W, b, c):
        lw = self.log_joint(W, b, c)
        return np.exp(lw - logsumexp(lw))

    def visible_marginal(self, W, b, c):
        return self.joint(W, b, c).sum(axis=1)

    def hidden_marginal(self, W, b, c):
        return self.joint(W, b, c).sum(axis=0)

    def visible_transition(self, W, b, c):
        """T[v, v']: one block-Gibbs step on the visible layer."""
        V = self.visible_states(W.shape[1])
        return hidden_conditional(V, W, c) @ self.visible_conditional(
            all_states(W.shape[0]), W, b)

    def hidden_transition(self, W, b, c):
        """T[h, h']: one block-Gibbs step on the hidden layer."""
        V = self.visible_states(W.shape[1])
        return self.visible_conditional(all_states(W.shape[0]), W, b) @ hidden_conditional(
            V, W, c)

    def visible_chi2_bound(self, W, b, c, n_transitions):
        return chain_chi2_bound(self.visible_marginal(W, b, c),
                                self.visible_transition(W, b, c), n_transitions)

    def hidden_chi2_bound(self, W, b, c, n_transitions):
        return chain_chi2_bound(self.hidden_marginal(W, b, c),
                                self.hidden_transition(W, b, c), n_transitions)


BERNOULLI = ModelFamily(
    name="bernoulli",
    estimator=BernoulliRBM,
    kernel_kind=_gibbs.VISIBLE_BERNOULLI,
    random_params=random_params,
    training_data=binary_data,
    visible_states=all_states,
    visible_index=state_index,
    visible_conditional=visible_conditional,
    log_joint=joint_log_weights,
)

#: Every model type of the library with an exact enumeration.  GaussianBernoulliRBM
#: and CategoricalRBM join here when they land.
FAMILIES = [BERNOULLI]


# --------------------------------------------------------------------------
# Statistics
# --------------------------------------------------------------------------

#: Significance level of the goodness-of-fit tests.  Under H0 (the sampler is
#: exact) the p-value is uniform on [0, 1], so a correct sampler fails with
#: probability 1e-3 for a random seed; the seeds are fixed, so each outcome is
#: deterministic.
ALPHA = 1e-3
#: Smallest power (probability of rejecting at ALPHA) a deliberately broken
#: sampler must face before a test asserts that it is rejected.
MIN_POWER = 0.999


def chisquare_p_value(counts, p):
    """Pearson goodness-of-fit p-value of cell counts against probabilities p."""
    expected = counts.sum() * np.asarray(p) / np.sum(p)
    assert expected.min() >= 5, "chi-square approximation needs expected counts >= 5"
    return stats.chisquare(counts, expected).pvalue


def chisquare_power(n, p, q, alpha=ALPHA):
    """Power of the Pearson test of level alpha of H0: p when the cells follow q.

    The statistic is asymptotically non-central chi-square with len(p) - 1
    degrees of freedom and non-centrality n * sum((q - p)^2 / p).
    """
    df = len(p) - 1
    critical = stats.chi2.isf(alpha, df)
    return stats.ncx2.sf(critical, df, n * np.sum((q - p) ** 2 / p))


def mahalanobis_test(residual, covariance, rtol=1e-10):
    """(statistic, degrees of freedom, p-value) of a mean residual against N(0, cov).

    The covariance of sufficient statistics of a discrete model is usually
    singular (fewer states than statistics); the statistic is taken in the
    range of ``covariance`` (eigenvalues above rtol * largest), where it is
    chi-square with that many degrees of freedom under H0.
    """
    eigval, eigvec = np.linalg.eigh(covariance)
    keep = eigval > rtol * eigval.max()
    projected = eigvec[:, keep].T @ residual
    statistic = float(np.sum(projected ** 2 / eigval[keep]))
    df = int(keep.sum())
    return statistic, df, float(stats.chi2.sf(statistic, df))


def mahalanobis_power(shift, covariance, alpha=ALPHA, rtol=1e-10):
    """Power of ``mahalanobis_test`` at level alpha against a mean shifted by ``shift``."""
    statistic, df, _ = mahalanobis_test(shift, covariance, rtol)  # the non-centrality
    return float(stats.ncx2.sf(stats.chi2.isf(alpha, df), df, statistic))
