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

from types import SimpleNamespace

import numpy as np
from scipy import stats
from scipy.special import expit, logsumexp

from rbm import BernoulliRBM, CategoricalRBM
from rbm import _gibbs


def kernel_visible(kind, state=None, groups=None, learn_sigma=False):
    """The kernel's ``visible`` argument object (see rbm._gibbs)."""
    return SimpleNamespace(kind=kind, state=state, groups=groups, learn_sigma=learn_sigma)


def kernel_params(W, b, c):
    """The kernel's ``params`` argument object."""
    return SimpleNamespace(W=W, b=b, c=c)


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
    return second_eigenvalue(p, T) ** (2 * n_transitions) * (1 / p.min() - 1)


def second_eigenvalue(p, T):
    """Second-largest |eigenvalue| of a chain T reversible with respect to p."""
    sym = np.sqrt(p)[:, None] * T / np.sqrt(p)[None, :]  # similar to T, symmetric
    eig = np.sort(np.abs(np.linalg.eigvalsh((sym + sym.T) / 2)))[::-1]
    assert abs(eig[0] - 1) < 1e-10
    return eig[1]


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

    W has one column per visible state column (one per one-hot column for
    categorical units); ``n_visible`` below always counts those columns.

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
        Visible states (rows as in ``visible_states``) that are valid data
        once passed through ``input``, every category present (used to
        build models before their parameters are overwritten).
    visible_states : callable n_visible -> ndarray
        Every visible state, one per row, in the order of ``log_joint``'s rows.
    visible_index : callable V -> ndarray of int
        Row of each visible state of V in ``visible_states``.
    visible_conditional : callable (H, W, b) -> ndarray
        p(v | h) over every visible state, one row per row of H.
    log_joint : callable (W, b, c) -> ndarray
        -E(v, h) of every (visible state, hidden state) pair, hidden states
        as in ``all_states(n_hidden)``.

    Categorical units (``CATEGORICAL``) fit as they are: their states are
    every combination of categories, one-hot encoded, W has one column per
    one-hot column, and the optional hooks below carry what differs (the
    kernel's groups, the zero-sum projection of updates, labels as input).
    Gaussian units cannot be enumerated; ``test_gaussian_exact.py`` tests
    their hidden-layer statistics against the closed-form p(h) instead.
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
    #: Visible columns (W's second dimension) of the samplers' tiny model.
    tiny_n_visible: int = 4
    #: Float types the estimator computes in (the kernel takes both always).
    estimator_dtypes: tuple = (np.float64, np.float32)
    #: (n_visible) -> (visible_state, groups) for the kernel; None: no extras.
    kernel_groups: Callable = None
    #: Linear map applied to the visible axis of every update term (rows of
    #: the last axis): the kernel keeps categorical parameters in the
    #: zero-sum gauge, so its update is the gradient projected onto it.
    project_visible: Callable = None
    #: Estimator input (labels for categorical) <-> visible states (rows of
    #: ``visible_states``); None: the states are the input.
    to_input: Callable = None
    from_output: Callable = None

    def n_states(self, n_visible):
        return len(self.visible_states(n_visible))

    def n_features(self, n_visible):
        """Columns of the estimator's input and output."""
        if self.to_input is None:
            return n_visible
        return self.to_input(self.visible_states(n_visible)[:1]).shape[1]

    def input(self, V, dtype=np.float64):
        """Visible states (or input already) as the estimator's input."""
        V = np.asarray(V)
        if self.to_input is None:
            return V.astype(dtype)
        return self.to_input(V)

    def states(self, X, n_visible):
        """The estimator's output as visible states (one-hot for categorical)."""
        return np.asarray(X) if self.from_output is None else self.from_output(X, n_visible)

    def project(self, X):
        """``project_visible`` on the last axis of X (identity when None)."""
        return X if self.project_visible is None else self.project_visible(X)

    def perturbation(self, shape, delta):
        """A weight change of size ~delta at W[0, 0], inside the parameter gauge
        (so the kernel's gauge projection leaves it alone)."""
        D = np.zeros(shape)
        D[0, 0] = 1.0
        return delta * self.project(D) / self.project(D)[0, 0]

    def model(self, W, b, c, dtype=np.float64, **kwargs):
        """A fitted estimator whose parameters are then set to (W, b, c)."""
        n_hidden, n_visible = W.shape
        X = self.input(self.training_data(20, n_visible, np.random.default_rng(0)), dtype)
        params = dict(n_components=n_hidden, n_iter=1, random_state=0, n_jobs=1)
        params.update(kwargs)
        model = self.estimator(**params).fit(X)
        assert model.components_.shape == W.shape and model.components_.dtype == dtype
        model.components_ = np.array(W, dtype=dtype)
        model.intercept_visible_ = np.array(b, dtype=dtype)
        model.intercept_hidden_ = np.array(c, dtype=dtype)
        return model

    def kernel_visible(self, n_visible=None):
        """The kernel's ``visible`` argument: the kind, and the categorical
        column offsets of a model with n_visible columns."""
        groups = None if self.kernel_groups is None else self.kernel_groups(n_visible)
        return kernel_visible(self.kernel_kind, groups=groups)

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

    def tempered(self, W, b, c, base_bias, beta):
        """Parameters of parallel tempering's model at inverse temperature beta:
        p_beta(v, h) ~ exp(-(1 - beta) E_base(v) - beta E(v, h))."""
        return beta * W, beta * b + (1 - beta) * base_bias, beta * c

    def pt_chi2_bound(self, W, b, c, base_bias, betas, n_steps):
        """Upper bound on chi^2 of the joint law of every temperature's (v, h)
        after n_steps tempered steps (each: one Gibbs sweep h -> v -> h at every
        temperature, then replica swaps) from any hidden states, to the product
        of the tempered joints; block 0's law is a marginal of it, so its
        chi^2 is no larger.

        The first sweep puts block t at law p_t(v | h0) p_t(h | v), whose chi^2
        to p_t(v, h) is chi^2(p_t(. | h0) || p_t(v)) <= 1 / min p_t(v) - 1; the
        blocks are independent, so 1 + chi^2 multiplies.  Swaps preserve the
        product law (a Markov operator of norm <= 1 on L2(pi)); a sweep is a
        product of two conditional expectations, whose norm on mean-zero
        functions is sqrt(lambda_2) of the one-layer chain, and on the product
        space the largest over temperatures.  Hence chi^2 after n steps is at
        most max_t lambda_2(t)^(n - 1) (prod_t 1 / min p_t(v) - 1).
        """
        lam, start = 0.0, 1.0
        for beta in betas:
            Wt, bt, ct = self.tempered(W, b, c, base_bias, beta)
            p = self.visible_marginal(Wt, bt, ct)
            lam = max(lam, second_eigenvalue(p, self.visible_transition(Wt, bt, ct)))
            start *= 1 / p.min()
        return lam ** (n_steps - 1) * (start - 1)

    def tempered_sample_chi2_bound(self, W, b, c, base_bias, betas, n_steps):
        """``pt_chi2_bound`` for the tempered draws of ``sample(method="tempered")``,
        whose steps sweep v -> h -> v from any visible states: the first sweep
        puts block t at p_t(h | v0) p_t(v | h), whose chi^2 to p_t(v, h) is
        at most 1 / min p_t(h) - 1 (a start shared by the blocks is a mixture
        of such products, and chi^2 is convex); the rest is as there (the
        visible and hidden one-layer chains have the same lambda_2)."""
        lam, start = 0.0, 1.0
        for beta in betas:
            Wt, bt, ct = self.tempered(W, b, c, base_bias, beta)
            p = self.visible_marginal(Wt, bt, ct)
            lam = max(lam, second_eigenvalue(p, self.visible_transition(Wt, bt, ct)))
            start *= 1 / self.hidden_marginal(Wt, bt, ct).min()
        return lam ** (n_steps - 1) * (start - 1)

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

# --------------------------------------------------------------------------
# Categorical (softmax) visible units
# --------------------------------------------------------------------------

#: Category counts of the categorical models, repeated to fill the columns.
CATEGORY_PATTERN = (2, 3, 2)


def category_sizes(n_columns):
    """Category count of each feature of a categorical model with n_columns
    one-hot columns: CATEGORY_PATTERN repeated, a leftover single column
    joining the last feature (7 columns: 2, 3, 2 -> 12 configurations)."""
    sizes, total, i = [], 0, 0
    while total < n_columns:
        q = CATEGORY_PATTERN[i % len(CATEGORY_PATTERN)]
        if n_columns - total - q == 1:
            q += 1
        q = min(q, n_columns - total)
        sizes.append(q)
        total += q
        i += 1
    assert min(sizes) >= 2, sizes
    return sizes


def category_offsets(n_columns):
    return np.concatenate([[0], np.cumsum(category_sizes(n_columns))]).astype(np.intp)


def categorical_labels(V):
    """One-hot rows -> integer labels 0..q-1 per feature (the estimator's input)."""
    V = np.asarray(V)
    offsets = category_offsets(V.shape[1])
    return np.stack([np.argmax(V[:, a:z], axis=1) for a, z in zip(offsets[:-1], offsets[1:])],
                    axis=1).astype(np.int64)


def categorical_one_hot(L, n_columns):
    """Integer labels -> one-hot rows of n_columns (inverse of categorical_labels)."""
    L = np.asarray(L)
    offsets = category_offsets(n_columns)
    assert L.shape[1] == len(offsets) - 1
    assert np.all(L >= 0) and np.all(L < np.diff(offsets))
    V = np.zeros((len(L), n_columns))
    V[np.arange(len(L))[:, None], offsets[:-1] + L.astype(np.int64)] = 1.0
    return V


def categorical_states(n_columns):
    """Every configuration, one-hot; row r has feature g's category
    (r // prod(sizes[:g])) % sizes[g] (feature 0 varies fastest)."""
    sizes = category_sizes(n_columns)
    r = np.arange(int(np.prod(sizes)))
    radix = np.concatenate([[1], np.cumprod(sizes)[:-1]])
    labels = np.stack([(r // m) % q for m, q in zip(radix, sizes)], axis=1)
    return categorical_one_hot(labels, n_columns)


def categorical_index(V):
    """Row of each one-hot state of V in ``categorical_states``."""
    sizes = category_sizes(np.asarray(V).shape[1])
    radix = np.concatenate([[1], np.cumprod(sizes)[:-1]])
    return categorical_labels(V) @ radix


def zero_sum_blocks(X):
    """X with each feature's block of the last axis centred (zero-sum gauge)."""
    X = np.array(X, dtype=np.float64)
    for a, z in zip(category_offsets(X.shape[-1])[:-1], category_offsets(X.shape[-1])[1:]):
        X[..., a:z] -= X[..., a:z].mean(axis=-1, keepdims=True)
    return X


def categorical_log_softmax(F):
    """Per-feature log softmax of the fields F (rows), written out directly."""
    out = np.empty_like(F, dtype=np.float64)
    offsets = category_offsets(F.shape[1])
    for a, z in zip(offsets[:-1], offsets[1:]):
        out[:, a:z] = F[:, a:z] - logsumexp(F[:, a:z], axis=1, keepdims=True)
    return out


def categorical_visible_conditional(H, W, b):
    """p(v | h) for every configuration v: the product of per-feature softmaxes."""
    V = categorical_states(W.shape[1])
    return np.exp(categorical_log_softmax(H @ W + b) @ V.T)


def categorical_log_joint(W, b, c):
    """-E(v, h) = b.v + c.h + h.W.v over every (one-hot v, binary h)."""
    V, H = categorical_states(W.shape[1]), all_states(W.shape[0])
    return (V @ b)[:, None] + (H @ c)[None, :] + V @ W.T @ H.T


def exactly_zero_sum(X, bits=12):
    """X in the zero-sum gauge with every block summing to exactly 0.0 in
    floating point: entries are multiples of 2**-bits (exact in float32 for
    |x| < 2**(24 - bits)) and each block's last entry is minus the sum of
    the others.  The kernel re-centres each block after every update by
    subtracting its mean, which then is exactly 0, so a zero learning rate
    leaves the parameters bit for bit as they are."""
    X = np.round(zero_sum_blocks(X) * 2.0 ** bits) / 2.0 ** bits
    offsets = category_offsets(X.shape[-1])
    for a, z in zip(offsets[:-1], offsets[1:]):
        X[..., z - 1] = -X[..., a:z - 1].sum(axis=-1)
    assert np.max(np.abs(X)) < 2.0 ** (24 - bits)
    return X


def categorical_params(n_columns, n_hidden, seed, scale=1.0):
    """Random parameters in the zero-sum gauge (where the estimator keeps them;
    the distribution does not depend on the gauge), exactly (``exactly_zero_sum``)."""
    W, b, c = random_params(n_columns, n_hidden, seed, scale)
    return exactly_zero_sum(W), exactly_zero_sum(b), c


def categorical_data(n_rows, n_columns, rng):
    """One-hot rows in which every category of every feature occurs (the
    estimator gets them as integer labels: ``ModelFamily.input``)."""
    sizes = category_sizes(n_columns)
    assert n_rows >= max(sizes)
    L = np.stack([rng.integers(0, q, n_rows) for q in sizes], axis=1)
    for g, q in enumerate(sizes):
        L[:q, g] = np.arange(q)
    return categorical_one_hot(L, n_columns)


CATEGORICAL = ModelFamily(
    name="categorical",
    estimator=CategoricalRBM,
    kernel_kind=_gibbs.VISIBLE_CATEGORICAL,
    random_params=categorical_params,
    training_data=categorical_data,
    visible_states=categorical_states,
    visible_index=categorical_index,
    visible_conditional=categorical_visible_conditional,
    log_joint=categorical_log_joint,
    tiny_n_visible=7,
    # CategoricalRBM encodes its input as float64 one-hot rows.
    estimator_dtypes=(np.float64,),
    kernel_groups=category_offsets,
    project_visible=zero_sum_blocks,
    to_input=categorical_labels,
    from_output=categorical_one_hot,
)

#: Every model type of the library with an exact enumeration (the Gaussian
#: visible layer cannot be enumerated; see test_gaussian_exact.py).
FAMILIES = [BERNOULLI, CATEGORICAL]


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
