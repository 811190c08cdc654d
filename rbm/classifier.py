"""The classification RBM (Larochelle & Bengio 2008): inputs and label modelled jointly.

The energy of inputs x, a one-hot label e_y and binary hidden units h is

    E(x, y, h) = -E_v(x) - d . e_y - c . h - h . W s(x) - h . U e_y

where ``-E_v(x)`` and ``s(x)`` are the visible layer's own energy term and
coupling statistic (``rbm._units``: binary, Gaussian or categorical inputs).
Summing out h gives the class posterior in closed form,

    log p(y | x) = d_y + sum_j softplus(c_j + U_jy + (W s(x))_j) - log sum_k (same with k),

computed here as a log-sum-exp over classes of softplus sums, in blocks of
rows (an ``n_rows x n_hidden x n_classes`` array would not fit for large
inputs).  Training follows the gradient of

    discriminative:  sum over labelled rows of log p(y | x)  (exact, closed form)
    generative:      sum over rows of log p(x, y), or log p(x) for unlabelled rows
                     (persistent contrastive divergence on the joint)
    hybrid:          discriminative + generative_weight * generative

and, for semi-supervised fits with ``pseudo_label_rounds``, rounds of
self-training: label spreading over a nearest-neighbour graph of the rows'
inputs and hidden features, then a vote of each row's neighbours, gives the
unlabelled rows pseudo-labels, which then enter the discriminative term as labels
for ``pseudo_label_epochs`` more epochs.

Everything is NumPy with one ``numpy.random.Generator`` per fit drawn from
``random_state``; products run on one BLAS thread, so the same
``random_state`` gives the same model whatever the machine's thread settings.
"""

import math
import numbers
import time
import warnings

import numpy as np
import scipy.sparse as sp
from scipy.special import logsumexp
from sklearn.base import (BaseEstimator, ClassifierMixin, ClassNamePrefixFeaturesOutMixin,
                          TransformerMixin)
from sklearn.preprocessing import OneHotEncoder
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, InvalidParameterError, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d
from ._blas import single_threaded_blas

from . import _classify
from ._frames import visible_output
from ._params import (BooleanCountsRefused, CachedParamNames, ParamsFilledOnLoad,
                      ValidatedOnChange)
from ._partition import (LogPartitionEstimate, ais_log_partition, parameter_fingerprint,
                         warn_of_few_effective_runs)
from ._rollback import unchanged_on_error
from ._training import continuing_fraction
from ._categorical import _column_types, _pandas_type
from . import _state
from ._conditional import EXACT_BLOCK_ELEMENTS, MAX_EXACT_HIDDEN_STATES, pick_by_cumulative
from ._state import (MAX_ENERGY_SCALE, SURELY_AVAILABLE_BYTES, ModelTooLargeError, _gib,
                     check_chain_memory, check_energy_scale, energy_scale,
                     check_n_components, check_n_features, drop_unwritten_entries,
                     log_partition_entry_problem, check_sample_request, kernel_ready, own_array,
                     own_kernel_arrays, separate_shared_arrays)
from ._units import (BernoulliHidden, BernoulliVisible, CategoricalVisible, GaussianVisible,
                     check_array_attribute, enumerate_binary, sigmoid)
from ._units._layer import FAR_ROWS_ADVICE, counted
from ._units.categorical import _check_column_types, missing_mask
from ._weights import (average, check_sample_weight, row_count, scaled_to_unit,
                       weighted_column_sum)

#: The rows of ``p(y | x)`` are computed in blocks whose
#: ``rows x n_hidden x n_classes`` temporaries hold about this many float64s.
BLOCK_ELEMENTS = 2**18
#: Label that marks an unlabelled row (``sklearn.semi_supervised``'s convention).
UNLABELLED = -1
#: Class scores of at least this magnitude are compared relative to class 0's
#: (``log_posterior``): their float64 spacing (2**-32 here) would swamp the
#: differences between classes, which decide p(y | x).
LARGE_SCORE = 2.0**20
#: Largest hidden layer whose states ``log_partition`` enumerates (2**20 states).
MAX_EXACT_HIDDEN = 20
#: ``sample``'s "auto" draws exactly up to this many hidden units (2**14
#: states), as the density models' ``sample`` does.
MAX_EXACT_SAMPLE_HIDDEN = MAX_EXACT_HIDDEN_STATES.bit_length() - 1
#: Entries of the log-partition cache before it is emptied (a stream of
#: ``partial_fit`` calls leaves one per parameter values it was asked for).
LOG_PARTITION_CACHE_SIZE = 8
#: AIS runs and inverse temperatures of ``log_partition(method='ais')``, as the other estimators'.
DEFAULT_N_CHAINS, DEFAULT_N_BETAS = 100, 10000
#: ``history_`` figures on the training set use at most this many labelled rows.
MONITOR_ROWS = 2000
#: Neighbours of each row in the graph that spreads the labels.
PSEUDO_LABEL_NEIGHBOURS = 7
#: Weight of the hidden features against the inputs in that graph (each part
#: first scaled to a root-mean-square deviation of 1).
PSEUDO_LABEL_HIDDEN_WEIGHT = 0.5
#: Standard deviation of the initial weights, times 1 / sqrt(n_hidden + n_columns + n_classes).
INITIAL_WEIGHT_SCALE = 1.0


# --------------------------------------------------------------------------
# The model's arithmetic, on plain arrays
# --------------------------------------------------------------------------


def row_blocks(n_rows, n_hidden, n_classes):
    """Yield slices of rows whose (rows, n_hidden, n_classes) arrays hold about
    ``BLOCK_ELEMENTS`` values."""
    rows = max(1, BLOCK_ELEMENTS // max(1, n_hidden * n_classes))
    for start in range(0, n_rows, rows):
        yield slice(start, min(start + rows, n_rows))


def class_scores(A, U, d):
    """-F(x, y) + E_v(x) for every class: ``d_y + sum_j softplus(A_j + U_jy)``.

    ``A`` is the hidden field ``c + W s(x)`` of each row, shape (n, n_hidden);
    the result, shape (n, n_classes), differs from log p(y | x) by one
    constant per row.  Compiled (``rbm._classify``): one row's fields at a
    time through the kernel's vectorised softplus, about twice as fast as the
    NumPy expression ``softplus(A[:, :, None] + U).sum(axis=1) + d`` in
    blocks of rows (measured 0.16 against 0.31 s for 2,000 x 512 x 10).
    """
    A = np.ascontiguousarray(A, dtype=np.float64)
    out = np.empty((A.shape[0], U.shape[1]))
    _classify.class_scores(A, np.ascontiguousarray(U, dtype=np.float64),
                           np.ascontiguousarray(d, dtype=np.float64), out)
    return out


def log_posterior(A, U, d):
    """log p(y | x) for every class, shape (n, n_classes), normalised by a
    stable log-sum-exp.

    Rows whose scores reach ``LARGE_SCORE`` in magnitude (real-valued
    inputs far out: the softplus sums grow with the fields while their
    differences between classes stay bounded) take their scores relative to
    class 0's instead (``relative_scores``): at 1e17 the absolute scores of
    the classes were equal to the last bit and each row read p = 1 for
    every class.
    """
    scores = stable_class_scores(A, U, d)
    return scores - logsumexp(scores, axis=1, keepdims=True)


def stable_class_scores(A, U, d):
    """``class_scores``, except that rows whose scores reach ``LARGE_SCORE`` in
    magnitude (or are not finite) take their scores relative to class 0's
    (``relative_scores``), whose float64 values still tell the classes apart.
    Either way a row's scores are log p(y | x) up to a constant of the row,
    so ``log_posterior`` and ``decision_function`` both build on these."""
    scores = class_scores(A, U, d)
    far = _far_rows(scores)
    if far.any():
        scores[far] = relative_scores(A[far], U, d)
    return scores


def _far_rows(scores):
    """Rows of ``scores`` whose magnitude reaches ``LARGE_SCORE`` (or not finite)."""
    return ~(np.abs(scores).max(axis=1, initial=0.0) < LARGE_SCORE)


def relative_scores(A, U, d):
    """Each class's score minus class 0's, ``d_k - d_0 + sum_j [softplus(A_j + U_jk)
    - softplus(A_j + U_j0)]``, computed without the scores themselves.

    Where both fields are positive the difference is ``U_jk - U_j0`` plus the
    difference of the two ``log1p(exp(-field))`` tails, so a field of 1e17 (or
    infinite) loses nothing; elsewhere the softplus values are no larger than
    the weights, and subtracted as they are.  NumPy, in blocks of rows: only
    the rare rows of ``log_posterior``'s ``LARGE_SCORE`` come here.
    """
    out = np.empty((A.shape[0], U.shape[1]))
    for rows in row_blocks(*A.shape, U.shape[1]):
        field = A[rows, :, None] + U[None, :, :]
        base = field[:, :, :1]
        with np.errstate(over="ignore", invalid="ignore"):
            tails = ((U - U[:, :1])[None] + np.log1p(np.exp(-field))
                     - np.log1p(np.exp(-base)))
            direct = np.logaddexp(0.0, field) - np.logaddexp(0.0, base)
        both_positive = (field > 0) & (base > 0)
        out[rows] = (d - d[0]) + np.where(both_positive, tails, direct).sum(axis=1)
    return out


def hidden_given_class(A, U):
    """sigmoid(A_j + U_jy) for every row, hidden unit and class: (n, n_hidden, n_classes)."""
    return sigmoid(A[:, :, None] + U[None, :, :])


def discriminative_gradient(S, A, U, d, Y, weights):
    """Gradient of ``sum_n weights_n log p(y_n | x_n)`` in (W, c, U, d).

    ``S`` holds s(x) of the rows, ``A`` their hidden fields, ``Y`` their
    one-hot labels.  With o_njk = sigmoid(A_nj + U_jk) and p_nk = p(k | x_n):
    d/d d_k = y_k - p_k, d/d U_jk = o_jk (y_k - p_k),
    d/d c_j = o_jy - sum_k p_k o_jk, and d/d W = (d/d c) s(x)^T.
    """
    gradient_W = np.zeros((A.shape[1], S.shape[1]))
    gradient_c = np.zeros(A.shape[1])
    gradient_U = np.zeros(U.shape)
    gradient_d = np.zeros(U.shape[1])
    for rows in row_blocks(A.shape[0], A.shape[1], U.shape[1]):
        hidden = hidden_given_class(A[rows], U)
        log_p = log_posterior(A[rows], U, d)
        residual = (Y[rows] - np.exp(log_p)) * weights[rows, None]     # (n, K)
        # o_jy - sum_k p_k o_jk, weighted: the hidden units' share.
        hidden_residual = np.einsum("njk,nk->nj", hidden, residual)
        gradient_W += np.asarray(S[rows].T @ hidden_residual).T
        gradient_c += hidden_residual.sum(axis=0)
        gradient_U += np.einsum("njk,nk->jk", hidden, residual)
        gradient_d += residual.sum(axis=0)
    return gradient_W, gradient_c, gradient_U, gradient_d


def positive_statistics(S, A, U, d, Y, labelled, weights):
    """The data side of the generative gradient, weighted sums over rows.

    Labelled rows give E[h | x, y] (log p(x, y)); unlabelled ones average
    it over p(y | x) (log p(x), the label summed out).  Returns the hidden
    expectations (n, n_hidden) times the weights and the label
    expectations (n, n_classes) times the weights, and U's statistic.
    """
    label_mean = Y.astype(np.float64, copy=True)
    if not labelled.all():
        free = ~labelled
        label_mean[free] = np.exp(log_posterior(A[free], U, d))
    label_mean *= weights[:, None]
    hidden = np.zeros(A.shape)
    statistic_U = np.zeros(U.shape)
    for rows in row_blocks(A.shape[0], A.shape[1], U.shape[1]):
        given_class = hidden_given_class(A[rows], U)
        hidden[rows] = np.einsum("njk,nk->nj", given_class, label_mean[rows])
        statistic_U += np.einsum("njk,nk->jk", given_class, label_mean[rows])
    return hidden, label_mean, statistic_U


def sample_labels(logits, rng):
    """One label index per row from softmax(logits), by inverse CDF."""
    p = np.exp(logits - logsumexp(logits, axis=1, keepdims=True))
    cumulative = np.cumsum(p, axis=1)
    u = rng.random((len(p), 1)) * cumulative[:, -1:]
    return np.minimum((cumulative <= u).sum(axis=1), p.shape[1] - 1)


def rms_deviation(Z):
    """Root-mean-square distance of the rows of Z from their mean row (1 where 0)."""
    spread = math.sqrt(((Z - Z.mean(axis=0)) ** 2).sum(axis=1).mean()) if len(Z) else 0.0
    return spread if spread > 0 else 1.0


def graph_features(S, H):
    """The rows' coordinates in the pseudo-label graph: the inputs' statistic
    s(x) and the hidden features side by side, each scaled to a
    root-mean-square deviation of 1, the hidden ones then weighted by
    ``PSEUDO_LABEL_HIDDEN_WEIGHT``.

    Both parts, because on validation splits of the digits the graph over
    both labelled the unlabelled rows better than either alone (the pixels'
    distances are sharper, the hidden features group some rows the pixels
    split; benchmarks/README.md).
    """
    S = S.toarray() if sp.issparse(S) else np.asarray(S, dtype=np.float64)
    return np.hstack([S / rms_deviation(S),
                      H * (PSEUDO_LABEL_HIDDEN_WEIGHT / rms_deviation(H))])


def spread_labels(F, labels, fallback=None):
    """Label indices for every row: the given ones kept, the unlabelled (-1) ones
    by label spreading (Zhou et al. 2004, ``sklearn.semi_supervised.LabelSpreading``)
    over the ``PSEUDO_LABEL_NEIGHBOURS``-nearest-neighbour graph of the rows ``F``
    (``graph_features``), then a vote of each row's neighbours.

    A nearest-neighbour graph is sparse; an RBF one would need n x n memory.
    The vote (``LabelSpreading.predict_proba`` of the rows themselves: the
    spread label distributions summed over each row's neighbours) is there
    because scikit-learn's neighbour graph is not symmetric, and a row that
    few others count among their neighbours receives little of the spread:
    on validation splits of the digits the vote labelled 1.4-1.7 points more
    of the unlabelled rows right than the spreading's own labels
    (benchmarks/README.md).  Rows that no given label reaches (a part of the
    graph without labelled rows) have no vote; they take ``fallback``'s
    label indices where given (the model's own prediction), else class 0.
    """
    # Imported here: sklearn.semi_supervised (its neighbours module) was 150 ms
    # of `import rbm`, for a path only semi-supervised fits take.
    from sklearn.semi_supervised import LabelSpreading
    spreading = LabelSpreading(kernel="knn", n_neighbors=min(PSEUDO_LABEL_NEIGHBOURS,
                                                             len(labels) - 1))
    with np.errstate(invalid="ignore", divide="ignore"):   # rows without a vote: NaN
        votes = spreading.fit(F, labels).predict_proba(F)
    reached = np.isfinite(votes).all(axis=1) & (np.nan_to_num(votes).sum(axis=1) > 0)
    pseudo = spreading.classes_[np.nan_to_num(votes).argmax(axis=1)]
    if fallback is not None:
        pseudo = np.where(reached, pseudo, fallback)
    return np.where(labels == UNLABELLED, pseudo, labels)


def one_hot(indices, n_classes):
    """Rows e_y of the identity for the label indices."""
    out = np.zeros((len(indices), n_classes))
    out[np.arange(len(indices)), indices] = 1.0
    return out


class JointChains:
    """Block-Gibbs chains on (x, y, h): h | x, y; then x | h and y | h.

    Parameters
    ----------
    V : ndarray of shape (n_chains, n_columns)
        Visible states in the layer's internal form (dense).
    labels : ndarray of shape (n_chains,)
        Label indices.
    """

    def __init__(self, V, labels):
        self.V = V
        self.labels = labels

    def step(self, model, rng, n_steps=1, clamp_labels=False):
        """Advance every chain ``n_steps`` sweeps (labels fixed if ``clamp_labels``)."""
        W, c, U, b, d = model._parameters()
        layer = model._visible_unit
        for _ in range(n_steps):
            field = np.asarray(layer.hidden_input(self.V) @ W.T) + c + U[:, self.labels].T
            H = (rng.random(field.shape) < sigmoid(field)).astype(np.float64)
            self.V = layer.sample(H @ W + b, rng)
            if not clamp_labels:
                self.labels = sample_labels(H @ U + d, rng)
        return self


# --------------------------------------------------------------------------
# The estimator
# --------------------------------------------------------------------------


#: The ``visible`` parameter's name of each visible layer type.
_VISIBLE_KINDS = {BernoulliVisible: "bernoulli", GaussianVisible: "gaussian",
                  CategoricalVisible: "categorical"}


def _visible_layer(kind, categories):
    """A new, unfitted visible layer of the named type."""
    if kind == "bernoulli":
        return BernoulliVisible()
    if kind == "gaussian":
        # sigma fixed at each feature's standard deviation: the label model
        # gains nothing from a learned sigma, and learning it is fragile.
        return GaussianVisible(learn_sigma=False, sigma_floor=1.0)
    return CategoricalVisible(categories=categories, dtype=np.float64)


#: RBMClassifier's parameters (W, c, U, b, d), in the order of ``_parameters``.
PARAMETER_NAMES = ("components_", "intercept_hidden_", "class_components_", "intercept_visible_",
                   "intercept_class_")


class RBMClassifier(ValidatedOnChange, BooleanCountsRefused, CachedParamNames,
                    ParamsFilledOnLoad, ClassNamePrefixFeaturesOutMixin, ClassifierMixin,
                    TransformerMixin, BaseEstimator):
    """Classification RBM: inputs, a one-hot label and binary hidden units modelled jointly.

    The energy is ``E(x, y, h) = -E_v(x) - d.e_y - c.h - h.W s(x) - h.U e_y``
    (Larochelle & Bengio 2008) with ``W = components_``,
    ``U = class_components_``, ``c = intercept_hidden_``,
    ``d = intercept_class_`` and the visible layer's own term ``E_v`` (biases
    ``intercept_visible_``).  ``p(y | x)`` is exact and closed form: a
    softmax over classes of ``d_y + sum_j softplus(c_j + U_jy + W_j s(x))``.

    Parameters
    ----------
    n_components : int, default=512
        Number of binary hidden units.
    visible : {"bernoulli", "gaussian", "categorical"}, default="bernoulli"
        Type of the inputs: values in [0, 1] (binary or probabilities),
        real values (best standardised; each feature's standard deviation is
        fixed at that of the training data), or category labels (one
        softmax per column, any dtype).
    categories : "auto" or list of array-like, default="auto"
        Categorical inputs only: the categories of each column, as
        ``OneHotEncoder``'s parameter ("auto": those seen in ``fit``).
    objective : {"hybrid", "discriminative", "generative"}, default="hybrid"
        What training ascends: ``log p(y | x)`` of the labelled rows
        (exact gradient), ``log p(x, y)`` (``log p(x)`` for unlabelled rows)
        by persistent contrastive divergence, or the first plus
        ``generative_weight`` times the second.  Unlabelled rows (see
        ``unlabelled_marker``) need a generative term.
    generative_weight : float, default=0.01
        Weight of the generative term in the hybrid objective.
    pseudo_label_rounds : int, default=0
        Semi-supervised fits only (unlabelled rows; ``fit``, not
        ``partial_fit``): after the ``n_iter`` epochs, this many rounds of
        self-training.  Each round labels every unlabelled row by label
        spreading over the 7-nearest-neighbour graph of all training rows,
        placed by their inputs and their hidden features (``transform``)
        side by side (``graph_features``), the given labels held fixed, and
        then takes the vote of each row's 7 neighbours over the spread label
        distributions (``spread_labels``); it then trains
        ``pseudo_label_epochs`` more epochs with these pseudo-labels counted
        as labels (discriminative and generative terms alike; the step size
        schedule starts again, and with early stopping each round keeps its
        best epoch).  ``history_``'s training figures of these epochs are
        measured against the pseudo-labels.
    pseudo_label_epochs : int, default=30
        Epochs of each self-training round (``pseudo_label_rounds``).  30
        was chosen on validation splits of the digits (held-out accuracy
        0.942 on average against 0.929 with 10; benchmarks/README.md).
    learning_rate : float, default=0.2
        Step size; the steps follow the mean gradient of a minibatch.
    learning_rate_schedule : {"linear", "constant"}, default="linear"
        Step size of each epoch of ``fit``: falling linearly from
        ``learning_rate`` to ``learning_rate / n_iter`` in the last epoch, or
        constant.  ``partial_fit`` steps at ``learning_rate`` on a model it
        started, and after ``fit`` at the rate where fit's schedule ended
        (of its last self-training round, if any), at least 1% of
        ``learning_rate``, as the density models do.
    batch_size : int, default=32
        Rows per minibatch (and number of persistent chains).
    n_iter : int, default=100
        Epochs (passes over the training data) of ``fit``.
    momentum : float, default=0.9
        Momentum of the parameter updates.
    weight_decay : float, default=1e-4
        L2 penalty on the weights W and U.
    k : int, default=1
        Gibbs sweeps per update of the persistent chains.
    average_epochs : int, default=0
        Polyak averaging: the fitted parameters are the mean of those after
        each of the last ``average_epochs`` epochs of each training run
        (``fit``'s epochs, and each self-training round's), rather than the
        last epoch's alone; 0 keeps the last.  Ignored with early stopping,
        which keeps its best epoch.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the labelled rows and stop when
        their log loss (weighted by ``sample_weight``) has not improved by
        ``tol`` for ``n_iter_no_change`` epochs; the best epoch's parameters
        are kept.  ``fit`` only: ``partial_fit`` trains on every row it is
        given.
    validation_fraction : float, default=0.1
        Share of the labelled rows held out for early stopping, of those
        whose class has at least 2 labelled rows (the only row of a class
        stays in training, and so does a row of each class).
    n_iter_no_change : int, default=10
        Epochs without improvement before early stopping.
    tol : float, default=1e-4
        Improvement of the validation log loss that counts.
    random_state : int, RandomState instance or None, default=None
        Seed of the initial weights, minibatch order and Gibbs chains.
    verbose : int, default=0
        Print one line per epoch when positive.
    unlabelled_marker : int, str or None, default=-1
        The label that marks an unlabelled row in ``y``
        (``sklearn.semi_supervised``'s -1 by default), which then contributes
        the generative term only; it cannot be a class.  None: every row is
        labelled, so that -1 can be a class (labels -1 and 1, for example).
        A number matches numeric labels only and a string string labels
        only.  Boolean classes with unlabelled rows: a bool array cannot
        hold the marker, so give y as a list, an object array or a pandas
        Series of True, False and the marker ([True, False, -1]).

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels (``unlabelled_marker`` is not one).
    components_ : ndarray of shape (n_components, n_columns)
        Weights W between hidden units and the visible statistic s(x)
        (n_columns: features, or one-hot columns for categorical inputs).
    class_components_ : ndarray of shape (n_components, n_classes)
        Weights U between hidden units and the one-hot label.
    intercept_hidden_ : ndarray of shape (n_components,)
        Hidden biases c.
    intercept_visible_ : ndarray of shape (n_columns,)
        Visible biases b.
    intercept_class_ : ndarray of shape (n_classes,)
        Label biases d.
    n_iter_ : int
        Epochs trained (``partial_fit`` calls count one each).
    history_ : dict of lists
        One entry per epoch: ``epoch``, ``seconds``, ``log_loss_train``,
        ``accuracy_train`` (on up to 2,000 labelled training rows),
        ``log_loss_validation`` and ``accuracy_validation`` (NaN without
        early stopping).
    best_epoch_ : int or None
        Epoch whose parameters early stopping kept (None without it, and
        after a ``partial_fit``, which trains them on).
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit, when X has string column names.

    Notes
    -----
    Rows labelled -1 are unlabelled (``sklearn.semi_supervised``'s
    convention) and contribute the generative term ``log p(x)`` only, so
    -1 cannot be a class unless ``unlabelled_marker=None`` (or another
    marker) says so.  The number -1: the string ``"-1"`` is a class
    (with a warning, as NumPy turns -1 into ``"-1"`` in a list that also
    holds strings; an object array or a pandas Series keeps the number).
    Products run on one BLAS thread: the same ``random_state`` gives the
    same model on any machine setting.  A ``fit`` or ``partial_fit`` that
    raises (bad input, diverging steps) leaves the model as it was before
    the call.

    Examples
    --------
    >>> import numpy as np
    >>> from rbm import RBMClassifier
    >>> X = np.array([[0, 0, 1], [0, 1, 1], [1, 1, 0], [1, 0, 0]] * 5)
    >>> y = np.array(["a", "a", "b", "b"] * 5)
    >>> model = RBMClassifier(n_components=4, n_iter=50, random_state=0).fit(X, y)
    >>> model.predict([[0, 0, 1], [1, 0, 0]]).tolist()
    ['a', 'b']
    """

    _integer_parameters = ("n_components", "pseudo_label_rounds", "pseudo_label_epochs",
                           "batch_size", "n_iter", "k", "average_epochs", "n_iter_no_change")

    _parameter_constraints = {
        "n_components": [Interval(numbers.Integral, 1, None, closed="left")],
        "visible": [StrOptions({"bernoulli", "gaussian", "categorical"})],
        "categories": [StrOptions({"auto"}), list],
        "objective": [StrOptions({"hybrid", "discriminative", "generative"})],
        "generative_weight": [Interval(numbers.Real, 0, None, closed="left")],
        "pseudo_label_rounds": [Interval(numbers.Integral, 0, None, closed="left")],
        "pseudo_label_epochs": [Interval(numbers.Integral, 1, None, closed="left")],
        "learning_rate": [Interval(numbers.Real, 0, None, closed="neither")],
        "batch_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "n_iter": [Interval(numbers.Integral, 0, None, closed="left")],
        "learning_rate_schedule": [StrOptions({"constant", "linear"})],
        "momentum": [Interval(numbers.Real, 0, 1, closed="left")],
        "weight_decay": [Interval(numbers.Real, 0, None, closed="left")],
        "k": [Interval(numbers.Integral, 1, None, closed="left")],
        "average_epochs": [Interval(numbers.Integral, 0, None, closed="left")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(numbers.Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(numbers.Integral, 1, None, closed="left")],
        "tol": [Interval(numbers.Real, 0, None, closed="left")],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "unlabelled_marker": [numbers.Integral, str, None],
    }

    def __init__(self, n_components=512, *, visible="bernoulli", categories="auto",
                 objective="hybrid", generative_weight=0.01, pseudo_label_rounds=0,
                 pseudo_label_epochs=30,
                 learning_rate=0.2, learning_rate_schedule="linear", batch_size=32, n_iter=100,
                 momentum=0.9, weight_decay=1e-4, k=1, average_epochs=0, early_stopping=False,
                 validation_fraction=0.1, n_iter_no_change=10, tol=1e-4, random_state=None,
                 verbose=0, unlabelled_marker=UNLABELLED):
        self.n_components = n_components
        self.visible = visible
        self.categories = categories
        self.objective = objective
        self.generative_weight = generative_weight
        self.pseudo_label_rounds = pseudo_label_rounds
        self.pseudo_label_epochs = pseudo_label_epochs
        self.learning_rate = learning_rate
        self.learning_rate_schedule = learning_rate_schedule
        self.batch_size = batch_size
        self.n_iter = n_iter
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.k = k
        self.average_epochs = average_epochs
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.random_state = random_state
        self.verbose = verbose
        self.unlabelled_marker = unlabelled_marker

    def _validate_params(self):
        """scikit-learn's checks, after refusing a bool as ``unlabelled_marker``:
        Python counts True as the integer 1, so ``unlabelled_marker=True``
        passed the ``int`` constraint and silently took every row of class 1
        as unlabelled."""
        if isinstance(self.unlabelled_marker, bool):
            raise InvalidParameterError(
                f"The 'unlabelled_marker' parameter of {type(self).__name__} must be an int, "
                f"a str or None, got {self.unlabelled_marker!r} (a bool), which would mark "
                f"the rows labelled {int(self.unlabelled_marker)} as unlabelled; pass the "
                "label of unlabelled rows (-1 by default), or None if every row is labelled.")
        super()._validate_params()

    # ------------------------------------------------------------------
    # Input
    # ------------------------------------------------------------------

    def _validate_X(self, X, *, reset):
        """X in the visible layer's internal form (float64 array, CSR or one-hot CSR);
        fitting categorical inputs records a frame's column types, which samples
        get back (as CategoricalRBM's)."""
        validated = self._visible_unit.validate(self, X, reset=reset, dtype=np.float64)
        if reset:
            categorical = isinstance(self._visible_unit, CategoricalVisible)
            self._column_types = _column_types(X) if categorical else None
        return validated

    def _sample_column_types(self):
        """Each column's type in a frame of samples (None: as decoded)."""
        _check_column_types(self, self.n_features_in_)  # (a damaged one named)
        types = getattr(self, "_column_types", None)
        return None if types is None else [_pandas_type(kind) for kind in types]

    def _label_indices(self, y, n_rows, *, reset, classes=None, unknown_hint=None,
                       method=None, weights=None):
        """(indices into classes_, UNLABELLED for unlabelled rows) of the labels y.

        With ``reset`` the classes are set: from ``classes`` if given (the
        first ``partial_fit``), else from the labelled rows of y, of positive
        weight where ``weights`` are given (rows of weight 0 are left out, as
        if not there: their labels need not be classes, and get UNLABELLED).
        ``unknown_hint`` ends the message for a label that is not a class
        (default: ``partial_fit``'s).  With ``method`` (its name), True or
        False in y is refused unless the classes are booleans
        (``_refuse_boolean_labels``; ``sample`` and ``log_likelihood`` check
        their own y before, as given).
        """
        name = type(self).__name__
        if y is None:
            raise ValueError(f"{name} requires y to be passed, but the target y is None. "
                             "Pass the class of each row" + self._marker_hint() + ".")
        given = y
        y = column_or_1d(_marked_booleans(y, self.unlabelled_marker), warn=True)
        if len(y) != n_rows:
            raise ValueError(f"{name} got {n_rows} rows in X but {len(y)} labels in y; give "
                             "one label per row.")
        missing = _missing_labels(y)
        if missing.any():
            raise ValueError(
                f"{name} got missing labels (NaN, None or pandas' NA) in "
                f"{counted(int(missing.sum()), 'row')}, "
                f"the first in row {int(np.argmax(missing))}. "
                + ("Drop them." if self.unlabelled_marker is None else
                   f"Mark unlabelled rows with {self.unlabelled_marker!r} (semi-supervised "
                   "fitting) or drop them."))
        unlabelled = _unlabelled_mask(y, self.unlabelled_marker)
        labelled_y = _as_boolean_labels(y[~unlabelled])
        if labelled_y.size and reset:
            # (Once the classes are set, a label that is not one is named below:
            # scikit-learn's "Unknown label type: continuous ... regression
            # target" spoke of fitting to a call that fits nothing, as sample.)
            check_classification_targets(labelled_y)
        kept = (np.ones(len(labelled_y), dtype=bool) if weights is None
                else np.asarray(weights)[~unlabelled] > 0)
        if reset:
            marker = self.unlabelled_marker
            self.classes_ = (_classes(name, labelled_y[kept], marker) if classes is None
                             else _given_classes(name, classes, marker))
            if _is_number(marker) and any(isinstance(c, str) and c.strip() == str(marker)
                                          for c in self.classes_):
                warnings.warn(
                    f"{name} takes the string '{marker}' in y as a class, not as the marker "
                    f"of unlabelled rows, which is the number {marker}. If those rows are "
                    f"unlabelled: NumPy turns {marker} into '{marker}' in a list or array "
                    "that also holds strings, so pass the labels as an object array or a "
                    f"pandas Series (which keep the number {marker}), or label them with "
                    f"{marker} in a numeric y.", UserWarning, stacklevel=3)
        if method is not None:
            _refuse_boolean_labels(given, y, self.classes_, method, self.unlabelled_marker)
        known = np.isin(labelled_y, self.classes_)
        if not (known | ~kept).all():
            unseen = labelled_y[~known & kept]
            raise ValueError(
                f"{name} got the label {_plain(unseen[0])!r} ({_rows_holding(unseen)}), which "
                f"is not one of its classes {self.classes_.tolist()[:20]}. "
                + _text_made_of_numbers_hint(unseen[0], self.classes_)
                + (unknown_hint or "partial_fit keeps the classes of fit or of its first "
                   "call (classes=...): pass every class there, or refit."))
        indices = np.full(n_rows, UNLABELLED, dtype=np.intp)
        indices[~unlabelled] = np.where(known, np.searchsorted(self.classes_, labelled_y),
                                        UNLABELLED)
        return indices

    def _marker_hint(self):
        """" (<marker> for unlabelled rows)" for messages; "" without a marker."""
        marker = self.unlabelled_marker
        return "" if marker is None else f" ({marker!r} for unlabelled rows)"

    def _sample_weights(self, sample_weight, X):
        """Row weights as float64 (ones for None), checked as the density
        models' are (``rbm._weights.check_sample_weight``)."""
        weights = check_sample_weight(self, sample_weight, X)
        return np.ones(X.shape[0]) if weights is None else weights

    def _check_objective(self, labels):
        """Raise ValueError for rows the objective cannot use."""
        if self.objective == "discriminative" and (labels == UNLABELLED).any():
            raise ValueError(
                f"{type(self).__name__} got {int((labels == UNLABELLED).sum())} unlabelled "
                f"rows (label {self.unlabelled_marker!r}), but objective='discriminative' "
                "learns only from labelled "
                "rows. Use objective='hybrid' (or 'generative') for semi-supervised "
                "fitting, or drop the unlabelled rows.")
        if self.objective == "discriminative" and not (labels != UNLABELLED).any():
            raise ValueError(f"{type(self).__name__} got no labelled rows; label some rows.")

    # ------------------------------------------------------------------
    # Parameters
    # ------------------------------------------------------------------

    def _parameters(self):
        """(W, c, U, b, d): the attributes ``PARAMETER_NAMES``."""
        return tuple(getattr(self, name) for name in PARAMETER_NAMES)

    def _initialize(self, X, labels, rng, weights):
        """Small random weights, biases of the independent model of the data.

        The data statistics (a Gaussian layer's sigma, the visible biases,
        the class prior) weigh the rows by ``weights``, as the density
        models' do: a row of weight k counts as k copies of it (the prior's
        pseudo-row per class as one row of the mean weight, since only
        relative weights matter).  Resets the training state, so that a
        refit is a fresh estimator.
        """
        n_columns, n_classes = X.shape[1], len(self.classes_)
        weights = _unless_uniform(weights)  # (the unweighted arithmetic, bit for bit)
        # (warns of unstandardised rows, as the weights see them)
        self._visible_unit.fit(X, sample_weight=weights, estimator=self)
        # Glorot-scaled weights: with weights of 0.01 every class gives each
        # hidden unit nearly the same input, the discriminative gradient of W
        # (a difference between classes) nearly vanishes and training stalls.
        scale = INITIAL_WEIGHT_SCALE / math.sqrt(self.n_components + n_columns + n_classes)
        self.components_ = self._visible_unit.constrain(
            rng.normal(0.0, scale, (self.n_components, n_columns)))
        self.class_components_ = rng.normal(0.0, scale, (self.n_components, n_classes))
        self.intercept_hidden_ = np.zeros(self.n_components)
        self.intercept_visible_ = np.asarray(
            self._visible_unit.initial_bias(_column_mean(X, weights)), dtype=np.float64)
        labelled = labels != UNLABELLED
        # One pseudo-row per class keeps a class without labelled rows finite;
        # the weights are relative (mean 1), so it stays one row's worth.
        counts = np.bincount(labels[labelled], minlength=n_classes,
                             weights=None if weights is None else weights[labelled]) + 1.0
        self.intercept_class_ = np.log(counts / counts.sum())
        self._velocities = [np.zeros_like(a) for a in self._parameters()]
        self._chains = None
        self._rng = rng
        # A refit starts at the full learning_rate, as a fresh estimator: the
        # previous fit's schedule no longer describes this model.
        self._continuing_fraction = 1.0
        self.n_iter_ = 0
        self.history_ = {name: [] for name in HISTORY_COLUMNS}
        self.best_epoch_ = None

    def _check_training_memory(self, n_columns):
        """Raise ModelTooLargeError, before allocating, where the weights or the
        ``batch_size`` persistent chains need more memory than is available
        (NumPy's own error said only "Unable to allocate 373. GiB"; the density
        models' check says what to lower, and so does this one)."""
        n_hidden, n_classes = int(self.n_components), len(self.classes_)
        batch_size = int(self.batch_size)
        sizes = (n_columns, n_classes, isinstance(self._visible_unit, CategoricalVisible))
        weights, chains = _training_bytes(n_hidden, batch_size, *sizes)
        needed = weights + chains
        if needed <= SURELY_AVAILABLE_BYTES:
            return
        available = _state.available_memory()
        if available is None or needed <= available:
            return
        # The parameter whose lowering alone (to 1) would make training fit.
        lower = [name for name, hidden_and_chains in (("n_components", (1, batch_size)),
                                                      ("batch_size", (n_hidden, 1)))
                 if sum(_training_bytes(*hidden_and_chains, *sizes)) <= available]
        advice = (" or ".join(lower) if lower else "n_components and batch_size")
        raise ModelTooLargeError(
            f"{type(self).__name__} with n_components={self.n_components} and batch_size="
            f"{self.batch_size} (its number of persistent chains) needs at least "
            f"{_gib(needed)} of memory to train on {n_columns} columns and {n_classes} "
            f"classes (the weights, their velocities and a copy: {_gib(weights)}; the "
            f"chains: {_gib(chains)}), but only {_gib(available)} is available. "
            f"Lower {advice}.")

    def _start_chains(self, X, labels, rng):
        """Persistent chains started at random training rows (unlabelled ones at a
        label drawn from the class prior)."""
        rows = rng.integers(0, X.shape[0], self.batch_size)
        V = X[rows]
        V = V.toarray() if sp.issparse(V) else np.array(V, dtype=np.float64)
        chain_labels = labels[rows].copy()
        free = chain_labels == UNLABELLED
        chain_labels[free] = sample_labels(np.tile(self.intercept_class_, (free.sum(), 1)), rng)
        return JointChains(V, chain_labels)

    # ------------------------------------------------------------------
    # Training
    # ------------------------------------------------------------------

    def _objective_weights(self):
        """(weight of the discriminative term, weight of the generative term)."""
        if self.objective == "discriminative":
            return 1.0, 0.0
        if self.objective == "generative":
            return 0.0, 1.0
        return 1.0, float(self.generative_weight)

    def _gradient(self, S, labels, weights, rng):
        """Ascent direction of the objective on one minibatch, per parameter
        (W, c, U, b, d): weighted sums over its rows, divided by its size."""
        W, c, U, b, d = self._parameters()
        discriminative, generative = self._objective_weights()
        A = np.asarray(S @ W.T) + c
        labelled = labels != UNLABELLED
        Y = np.zeros((len(labels), U.shape[1]))
        Y[labelled] = one_hot(labels[labelled], U.shape[1])
        gradient = [np.zeros_like(a) for a in (W, c, U, b, d)]
        if discriminative and labelled.any():
            rows = np.flatnonzero(labelled)
            parts = discriminative_gradient(S[rows], A[rows], U, d, Y[rows], weights[rows])
            for i, part in zip((0, 1, 2, 4), parts):
                gradient[i] += discriminative * part
        if generative:
            for i, part in enumerate(self._generative_gradient(S, A, Y, labelled, weights, rng)):
                gradient[i] += generative * part
        return [g / len(labels) for g in gradient]

    def _generative_gradient(self, S, A, Y, labelled, weights, rng):
        """Weighted data statistics minus the persistent chains' (PCD-k), per
        parameter (W, c, U, b, d); the chains' mean counts as much as the
        minibatch's total weight."""
        W, c, U, b, d = self._parameters()
        layer = self._visible_unit
        hidden, label_mean, statistic_U = positive_statistics(S, A, U, d, Y, labelled, weights)
        self._chains.step(self, rng, self.k)
        chain_S = layer.hidden_input(self._chains.V)
        chain_hidden = sigmoid(np.asarray(chain_S @ W.T) + c + U[:, self._chains.labels].T)
        scale = weights.sum() / len(chain_hidden)
        chain_labels = one_hot(self._chains.labels, U.shape[1])
        weighted_S = S.multiply(weights[:, None]).tocsr() if sp.issparse(S) else S * weights[:, None]
        return (
            np.asarray(hidden.T @ S) - scale * (chain_hidden.T @ chain_S),
            hidden.sum(axis=0) - scale * chain_hidden.sum(axis=0),
            statistic_U - scale * (chain_hidden.T @ chain_labels),
            np.asarray(weighted_S.sum(axis=0)).ravel() - scale * chain_S.sum(axis=0),
            label_mean.sum(axis=0) - scale * chain_labels.sum(axis=0),
        )

    def _step(self, S, labels, weights, rng, learning_rate):
        """One momentum step on a minibatch (weight decay on W and U)."""
        gradient = self._gradient(S, labels, weights, rng)
        for i, (parameter, velocity, g) in enumerate(
                zip(self._parameters(), self._velocities, gradient)):
            if i in (0, 2) and self.weight_decay:
                g = g - self.weight_decay * parameter
            velocity *= self.momentum
            velocity += learning_rate * g
            parameter += velocity
        self.components_[...] = self._visible_unit.constrain(self.components_)
        self.intercept_visible_[...] = self._visible_unit.constrain(
            self.intercept_visible_[None, :])[0]

    def _epoch(self, X, labels, weights, rng, learning_rate):
        """One pass over the rows in a random order, in minibatches."""
        order = rng.permutation(X.shape[0])
        for start in range(0, len(order), self.batch_size):
            rows = order[start : start + self.batch_size]
            self._step(X[rows], labels[rows], weights[rows], rng, learning_rate)
        self._check_finite()

    def _check_finite(self):
        """Raise ValueError naming the learning rate when a parameter is no longer
        finite, or the energy scale is past ``MAX_ENERGY_SCALE`` (where the
        density models' training stops too: log Z, log-likelihoods and exact
        draws would be rounding noise)."""
        if self._energy_scale() < MAX_ENERGY_SCALE:  # NaN fails this
            return
        raise ValueError(
            f"{type(self).__name__}'s parameters became infinite or NaN, or too large for "
            f"float64 (an energy scale past 2**52), during training "
            f"(learning_rate={self.learning_rate:g}); the steps diverged. Lower the learning "
            f"rate (try {self.learning_rate / 10:g}) or standardise the inputs.")

    def _energy_scale(self):
        """``rbm._state.energy_scale`` of the joint model: sum |W| + |c| + |U| +
        |b| + |d|, NaN where a parameter or the visible layer's own array
        (sigma) is not finite."""
        return energy_scale(self._parameters(), self._visible_unit.learned_arrays())

    def _check_energy_scale(self):
        """The density models' ``check_energy_scale`` on the joint model's
        parameters (``log_partition``, ``log_likelihood`` and exact draws of
        assigned or loaded parameters)."""
        check_energy_scale(self, self._energy_scale(), PARAMETER_NAMES)

    def _train(self, X, labels, weights, n_epochs, validation=None, rate=None):
        """``n_epochs`` epochs, a history row after each; early stopping on
        ``validation`` = (X, label indices, weights) where given.  Each
        epoch steps at ``rate`` where given, else at its place in
        ``learning_rate_schedule``, and training continues (``partial_fit``)
        at the fraction of ``learning_rate`` the last epoch stepped at
        (``continuing_fraction``)."""
        rng = self._rng
        monitor_rows = _monitor_rows(labels, rng)
        stopper = _BestEpoch(self.tol, self.n_iter_no_change) if validation else None
        average = _ParameterMean() if self.average_epochs and not stopper else None
        start = time.perf_counter()
        for epoch in range(n_epochs):
            if rate is None:
                self._continuing_fraction = continuing_fraction(
                    1.0, self.learning_rate_schedule, epoch, n_epochs)
            self._epoch(X, labels, weights, rng, self._epoch_learning_rate(epoch, n_epochs)
                        if rate is None else rate)
            self.n_iter_ += 1
            if average and epoch >= n_epochs - self.average_epochs:
                average.add(self._parameters())
            row = self._history_row(X, labels, weights, monitor_rows, validation, start)
            if self.verbose:
                print(_format_row(type(self).__name__, row))
            if stopper and stopper.should_stop(row, self.n_iter_, self._parameters()):
                break
        # Without validation (partial_fit) no epoch's parameters are kept: an
        # earlier fit's best epoch no longer describes the model.
        self.best_epoch_ = stopper.restore_best(self._parameters()) if stopper else None
        if average:
            average.restore_mean(self._parameters())

    def _epoch_learning_rate(self, epoch, n_epochs):
        """The step size of a (0-based) epoch of a run of ``n_epochs``: constant, or
        falling linearly to learning_rate / n_epochs in the last epoch (the late
        small steps average out the minibatch noise)."""
        if self.learning_rate_schedule == "constant":
            return self.learning_rate
        return self.learning_rate * (n_epochs - epoch) / n_epochs

    def _history_row(self, X, labels, weights, monitor_rows, validation, start):
        """Append and return this epoch's row of ``history_``: the log loss and
        accuracy of the monitor rows and of ``validation`` = (X, label
        indices, weights), means weighted by the rows' weights (early
        stopping reads the validation loss: a row weighted near 0 must not
        decide when to stop)."""
        row = {"epoch": self.n_iter_, "seconds": time.perf_counter() - start}
        figures = [("train", X[monitor_rows], labels[monitor_rows], weights[monitor_rows])]
        if validation:
            figures.append(("validation", *validation))
        row.update({f"{name}_{part}": math.nan for name in ("log_loss", "accuracy")
                    for part in ("train", "validation")})
        for part, V, y, w in figures:
            if len(y):
                log_p = log_posterior(self._hidden_field(V), self.class_components_,
                                      self.intercept_class_)
                w = _unless_uniform(w)  # (plain means: an unweighted fit's bits)
                row[f"log_loss_{part}"] = -average(log_p[np.arange(len(y)), y], w)
                row[f"accuracy_{part}"] = average(log_p.argmax(axis=1) == y, w)
        for name, value in row.items():
            self.history_[name].append(value)
        return row

    def fit(self, X, y, sample_weight=None):
        """Fit the model to inputs X and labels y (``unlabelled_marker`` marks unlabelled rows).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Inputs (category labels for ``visible="categorical"``).
        y : array-like of shape (n_samples,)
            Class of each row; ``unlabelled_marker`` (-1) for an unlabelled row.
        sample_weight : array-like of shape (n_samples,), default=None
            Weight of each row, finite and non-negative, in the objective,
            the initial model (sigma, biases, class prior), ``history_`` and
            early stopping's score; relative (divided by their mean), and
            rows of weight 0 are left out.

        Returns
        -------
        self : RBMClassifier
            The fitted model.
        """
        # fit builds new arrays, so a shallow copy of the attributes restores
        # the previous model (or the unfitted one) if it raises.
        with unchanged_on_error(self):
            self._validate_params()
            self._visible_unit = _visible_layer(self.visible, self.categories)
            X = self._validate_X(X, reset=True)
            weights = self._sample_weights(sample_weight, X)
            labels = self._label_indices(y, X.shape[0], reset=True, method="fit",
                                         weights=weights)
            X, labels, weights = _positive_rows(X, labels, weights)
            self._check_objective(labels)
            rng = np.random.default_rng(check_random_state(self.random_state).randint(2**31))
            with single_threaded_blas():
                validation = None
                if self.early_stopping:
                    X, labels, weights, validation = self._split_validation(X, labels,
                                                                            weights, rng)
                self._check_training_memory(X.shape[1])
                self._initialize(X, labels, rng, weights)
                self._chains = self._start_chains(X, labels, rng)
                self._train(X, labels, weights, self.n_iter, validation)
                self._self_train(X, labels, weights, validation)
        return self

    def _self_train(self, X, labels, weights, validation):
        """``pseudo_label_rounds`` rounds of ``pseudo_label_epochs`` epochs, each
        on the labels spread to the unlabelled rows (none without such rows)."""
        if not (labels == UNLABELLED).any():
            return
        for _ in range(self.pseudo_label_rounds):
            features = graph_features(self._visible_unit.hidden_input(X),
                                      self._hidden_features(X))
            own = log_posterior(self._hidden_field(X), self.class_components_,
                                self.intercept_class_).argmax(axis=1)
            pseudo = spread_labels(features, labels, fallback=own)
            self._train(X, pseudo, weights, self.pseudo_label_epochs, validation)

    def _split_validation(self, X, labels, weights, rng):
        """(X, labels, weights) of the training rows and of the held-out
        labelled rows.

        Only rows of classes with at least 2 labelled rows are held out: the
        only row of a class stays in training, which would otherwise never
        see the class.  The split is stratified by class where both sides
        can hold a row of each such class; a class whose rows a split holds
        out all gets one back (``_keep_a_row_of_each_class``).
        """
        name = type(self).__name__
        labelled = np.flatnonzero(labels != UNLABELLED)
        counts = np.bincount(labels[labelled], minlength=len(self.classes_))
        candidates = labelled[counts[labels[labelled]] >= 2]
        if not len(candidates):
            raise ValueError(
                f"{name}: early stopping holds out labelled rows of classes with at least 2 "
                f"of them (the only row of a class stays in training), but none of the "
                f"{len(labelled)} labelled rows has a class with 2; give more labelled rows "
                "or set early_stopping=False.")
        # A Python float: a NumPy float16 fraction overflows times 65,505 rows.
        n_held = max(1, int(round(float(self.validation_fraction) * len(candidates))))
        if len(candidates) - n_held < 1:
            raise ValueError(
                f"{name}: early stopping holds out {n_held} of the {len(candidates)} "
                f"labelled rows of classes with at least 2 of them, which leaves none to "
                "train on; give more labelled rows or set early_stopping=False.")
        # A stratified split needs a row of each class on both sides.
        stratify = labels[candidates]
        if min(n_held, len(candidates) - n_held) < np.count_nonzero(counts >= 2):
            stratify = None
        from sklearn.model_selection import train_test_split  # 65 ms to import
        _, held = train_test_split(candidates, test_size=n_held, stratify=stratify,
                                   random_state=int(rng.integers(2**31)))
        held = _keep_a_row_of_each_class(held, labels, counts)
        keep = np.setdiff1d(np.arange(X.shape[0]), held)
        return (X[keep], labels[keep], weights[keep],
                (X[held], labels[held], weights[held]))

    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """One epoch over X, y, continuing the current model (or starting one).

        Steps at ``learning_rate``, or after ``fit`` at the rate where its
        schedule ended, at least 1% of it (see ``learning_rate_schedule``).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Inputs.
        y : array-like of shape (n_samples,)
            Class of each row; ``unlabelled_marker`` (-1) for an unlabelled row.
        classes : array-like of shape (n_classes,), default=None
            Every class; required on the first call, ignored afterwards
            (apart from a check that it agrees with ``classes_``).
            ``unlabelled_marker`` cannot be one.
        sample_weight : array-like of shape (n_samples,), default=None
            Weight of each row in the objective, as in ``fit`` (relative
            within the call).

        Returns
        -------
        self : RBMClassifier
            The updated model.
        """
        first = not hasattr(self, "components_")
        if not first:
            # Before the deep copy: a damaged model is refused by name.
            self._check_fitted_state(training=True)
        # partial_fit trains the arrays in place: a deep copy restores them if it raises.
        with unchanged_on_error(self, deep=not first):
            return self._partial_fit(X, y, classes, sample_weight, first)

    def _partial_fit(self, X, y, classes, sample_weight, first):
        """``partial_fit``'s work (``first``: no model yet)."""
        name = type(self).__name__
        # Every call: scikit-learn validates on the first only, and set_params
        # may come between calls (as the density models' partial_fit).
        self._validate_params()
        if first:
            if classes is None:
                raise ValueError(f"{name}.partial_fit needs classes=... (every class) on its "
                                 "first call, since later calls may not show them all.")
            self._visible_unit = _visible_layer(self.visible, self.categories)
        elif isinstance(self._visible_unit, CategoricalVisible):
            # The one-hot coding is fixed at the first fit (as CategoricalRBM's).
            self._visible_unit.follow_categories(self)
        if (not first and classes is not None
                and not np.array_equal(np.unique(classes), self.classes_)):
            raise ValueError(f"{name}.partial_fit got classes={np.asarray(classes).tolist()}, "
                             f"which differ from the model's classes_ {self.classes_.tolist()} "
                             "(set by fit or the first partial_fit); refit to change them.")
        X = self._validate_X(X, reset=first)
        weights = self._sample_weights(sample_weight, X)
        labels = self._label_indices(y, X.shape[0], reset=first, classes=classes,
                                     method="partial_fit", weights=weights)
        X, labels, weights = _positive_rows(X, labels, weights)
        if not first:
            self._visible_unit.check_later_training_rows(self, X, weights)
        self._check_objective(labels)
        with single_threaded_blas():
            if first:
                rng = np.random.default_rng(check_random_state(self.random_state).randint(2**31))
                self._check_training_memory(X.shape[1])
                self._initialize(X, labels, rng, weights)
                self._chains = self._start_chains(X, labels, rng)
            # After fit, at the rate its schedule ended at: at learning_rate, one
            # pass over the digits undid a fit (test accuracy 0.965 to 0.920).
            self._train(X, labels, weights, 1, rate=self.learning_rate * getattr(
                self, "_continuing_fraction", 1.0))  # (models saved before it: 1)
        return self

    # ------------------------------------------------------------------
    # Prediction
    # ------------------------------------------------------------------

    def _check_fitted_X(self, X):
        self._check_fitted_state()
        return self._validate_X(X, reset=False)

    def _check_fitted_state(self, training=False):
        """Raise ValueError unless the fitted attributes make one consistent model.

        The density models' ``rbm._state.check_fitted_state`` for this
        estimator, run by every method that uses the fitted model: a
        parameter of the wrong shape, dtype or value (from an assignment or
        a model file) is named here instead of failing deep inside NumPy or,
        worse, giving wrong answers (``classes_`` of another length than the
        class weights mapped predictions to the wrong labels; an unsorted
        one mapped ``y`` to the wrong columns).  The parameters are float64
        (fit makes them so), finite and of the fitted sizes: ``components_``
        gives the hidden units (``n_components`` and ``visible`` must still
        be those of the fit) and columns, ``classes_`` the classes.  The
        parameters (and the visible unit's arrays, ``classes_``) are replaced
        by copies where not C-contiguous or in the other byte order, or
        read-only with ``training`` (which changes them in place), as the
        density models' are.  With ``training``, also what
        ``partial_fit`` changes: the velocities, the persistent chains, the
        random generator, ``n_iter_`` and ``history_``.  Cost: a min and a
        max over each array, the rest O(1) in the model's size (about 35-55
        us for 512 hidden units, 64 inputs and 10 classes).

        Parameters
        ----------
        training : bool, default=False
            Whether the call trains the model on (``partial_fit``).
        """
        check_is_fitted(self)  # unfitted: no fitted attribute at all
        name = type(self).__name__
        for attribute in ("components_", "intercept_hidden_", "intercept_visible_",
                          "class_components_", "intercept_class_", "classes_", "_visible_unit"):
            if not hasattr(self, attribute):
                raise ValueError(f"{name} is missing its fitted attribute {attribute}; refit "
                                 "the model (or load a complete saved model).")
        unit = self._visible_unit
        if type(unit) not in _VISIBLE_KINDS:
            raise ValueError(f"{name}._visible_unit must be a BernoulliVisible, GaussianVisible "
                             f"or CategoricalVisible, got {type(unit).__name__}; refit the "
                             "model.")
        # Arrays in the other byte order (a model saved on a big-endian
        # machine) are copied to native order before the checks compare dtypes,
        # as the density models' are; classes_ too, which predict returns.
        own_kernel_arrays(unit, writeable=False)
        classes = kernel_ready(self.classes_, writeable=False)
        if classes is not self.classes_:
            self.classes_ = classes
        if not (isinstance(classes, np.ndarray) and classes.ndim == 1 and len(classes) >= 2
                and _sorted_distinct(classes)):
            raise ValueError(f"{name}.classes_ must be a 1-d array of at least two distinct "
                             "classes in sorted order (as fit makes it); refit the model.")
        W = own_array(self, "components_", training)
        if W.dtype != np.float64:  # the generic message would call components_ float64
            raise ValueError(f"{name}.components_ has dtype {W.dtype}, but this model's "
                             "parameters are float64 (as fit makes them); assign a float64 "
                             "array.")
        check_array_attribute(self, "components_", W, (None, None), np.float64)
        n_hidden, n_columns = W.shape
        if not n_hidden:
            raise ValueError(f"{name}.components_ has no rows (hidden units); refit the model.")
        unit.check_fitted(self, n_columns, np.float64)
        check_n_features(self, unit, n_columns)
        n_classes = len(classes)
        # Say which two disagree where sizes do: either may be the one changed.
        for attribute, axis, size, source in (
                ("class_components_", 1, n_classes, "classes_ has {} classes"),
                ("intercept_class_", 0, n_classes, "classes_ has {} classes"),
                ("class_components_", 0, n_hidden, "components_ has {} rows (hidden units)"),
                ("intercept_hidden_", 0, n_hidden, "components_ has {} rows (hidden units)"),
                ("intercept_visible_", 0, n_columns, "components_ has {} columns")):
            value = getattr(self, attribute)
            if (isinstance(value, np.ndarray) and value.ndim == (2 if attribute.startswith(
                    "class_comp") else 1) and value.shape[axis] != size):
                raise ValueError(
                    f"{name}.{source.format(size)} but {attribute} has {value.shape[axis]} "
                    f"{'columns' if axis else 'rows' if value.ndim == 2 else 'entries'}; they "
                    "no longer belong together: refit the model.")
        self._check_hyperparameters_match(n_hidden)
        for attribute, shape in (("intercept_hidden_", (n_hidden,)),
                                 ("intercept_visible_", (n_columns,)),
                                 ("class_components_", (n_hidden, n_classes)),
                                 ("intercept_class_", (n_classes,))):
            check_array_attribute(self, attribute, own_array(self, attribute, training), shape,
                                  np.float64)
        self._check_log_partition_cache()
        if training:
            self._check_training_state()

    def _check_log_partition_cache(self):
        """Drop each entry of ``_log_partition_cache`` that ``_cached_log_partition``
        does not write (``drop_unwritten_entries``: a NaN log Z passed as a
        number, and log_likelihood returned NaN without a word); it is only a
        cache, recomputed when asked for.  Any other value than a dict is not
        a cache yet: replaced by an empty one when log Z is first asked for."""
        cache = getattr(self, "_log_partition_cache", None)
        if isinstance(cache, dict):
            drop_unwritten_entries(cache)

    def _check_hyperparameters_match(self, n_hidden):
        """Raise ValueError where ``n_components``, ``visible`` or
        ``unlabelled_marker`` was set since the fit to what the fitted model
        is not: as the density models refuse a changed ``n_components``, the
        model would otherwise go on with the layers it was fitted with,
        silently."""
        name = type(self).__name__
        check_n_components(self, n_hidden)
        fitted_kind = _VISIBLE_KINDS[type(self._visible_unit)]
        if self.visible != fitted_kind:
            raise ValueError(f"{name} has visible={self.visible!r} but was fitted with "
                             f"{fitted_kind!r} inputs; set visible back to {fitted_kind!r} "
                             "or refit the model.")
        if _unlabelled_mask(self.classes_, self.unlabelled_marker).any():
            raise ValueError(f"{name} has unlabelled_marker={self.unlabelled_marker!r}, which "
                             "is one of its classes_ (fitted with another marker); set "
                             "unlabelled_marker back or refit the model.")

    def _check_training_state(self):
        """What ``partial_fit`` changes besides the parameters (see ``_check_fitted_state``)."""
        name = type(self).__name__
        velocities = getattr(self, "_velocities", None)
        parameters = self._parameters()
        if not (isinstance(velocities, list) and len(velocities) == len(parameters)):
            raise ValueError(f"{name}._velocities must be a list of {len(parameters)} arrays "
                             "(one per parameter); refit the model.")
        for i, parameter in enumerate(parameters):
            velocities[i] = kernel_ready(velocities[i])
            check_array_attribute(self, f"_velocities[{i}]", velocities[i], parameter.shape,
                                  np.float64)
        chains = getattr(self, "_chains", None)
        if not (isinstance(chains, JointChains) and hasattr(chains, "V")
                and hasattr(chains, "labels")):
            raise ValueError(f"{name}._chains must be the persistent chains (a JointChains) "
                             "fit made; refit the model.")
        chains.V, chains.labels = kernel_ready(chains.V), kernel_ready(chains.labels)
        check_array_attribute(self, "_chains.V", chains.V, (None, self.components_.shape[1]),
                              np.float64)
        labels = chains.labels
        if not (isinstance(labels, np.ndarray) and labels.dtype.kind in "iu"
                and labels.shape == (len(chains.V),) and len(labels)
                and 0 <= labels.min() and labels.max() < len(self.classes_)):
            raise ValueError(f"{name}._chains.labels must be one class index in [0, "
                             f"{len(self.classes_)}) per chain ({len(chains.V)} chains); refit "
                             "the model.")
        if not isinstance(getattr(self, "_rng", None), np.random.Generator):
            raise ValueError(f"{name}._rng must be a numpy Generator; refit the model.")
        fraction = getattr(self, "_continuing_fraction", 1.0)
        if not (isinstance(fraction, numbers.Real) and not isinstance(fraction, bool)
                and 0.0 < fraction <= 1.0):  # NaN fails this
            raise ValueError(f"{name}._continuing_fraction must be a number in (0, 1] (the "
                             "share of learning_rate partial_fit steps at), got "
                             f"{fraction!r:.80}; set it to 1.0 or refit the model.")
        n_iter = getattr(self, "n_iter_", None)
        if not (isinstance(n_iter, numbers.Integral) and not isinstance(n_iter, bool)
                and n_iter >= 0):
            raise ValueError(f"{name}.n_iter_ must be a non-negative integer, got "
                             f"{n_iter!r:.80}; refit the model.")
        history = getattr(self, "history_", None)
        if not (isinstance(history, dict) and all(
                isinstance(history.get(column), list) for column in HISTORY_COLUMNS)):
            raise ValueError(f"{name}.history_ must be a dict of lists, one per column "
                             f"({', '.join(HISTORY_COLUMNS)}); refit the model.")
        # Parameters assigned as views of each other get their own memory.
        separate_shared_arrays(self, PARAMETER_NAMES, lambda: (
            *self._parameters(), *self._velocities, self._chains.V))

    def _hidden_field(self, V):
        """c + W s(x) of each row of internal-form V."""
        S = self._visible_unit.hidden_input(V)
        return np.asarray(S @ self.components_.T) + self.intercept_hidden_

    def _checked_field(self, V):
        """``_hidden_field`` of the rows a prediction is asked for, refusing rows
        whose field overflowed to NaN (real inputs near the float64 limit:
        x / sigma**2 infinite, then inf - inf in the product), which NumPy
        answered with RuntimeWarnings and predict with class 0, silently.
        An infinite field is kept: the probabilities have a limit there."""
        with np.errstate(over="ignore", invalid="ignore"):
            A = self._hidden_field(V)
        broken = np.isnan(A).any(axis=1)
        if broken.any():
            first = int(np.argmax(broken))
            row = V[first].toarray() if sp.issparse(V) else V[first]
            raise ValueError(
                f"{type(self).__name__}: {counted(int(broken.sum()), 'row')} of X "
                f"overflowed float64 in the hidden units' inputs (the first: row {first}, "
                f"largest absolute value {np.abs(row).max():.3g}), so the model cannot "
                f"answer for them; {FAR_ROWS_ADVICE}")
        return A

    def predict_log_proba(self, X):
        """log p(y | x) of every class, exactly.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Inputs.

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
            Columns in the order of ``classes_``.
        """
        V = self._check_fitted_X(X)
        with single_threaded_blas():
            return log_posterior(self._checked_field(V), self.class_components_,
                                 self.intercept_class_)

    def predict_proba(self, X):
        """p(y | x) of every class, exactly.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Inputs.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Columns in the order of ``classes_``; rows sum to 1.
        """
        return np.exp(self.predict_log_proba(X))

    def decision_function(self, X):
        """Unnormalised class scores: log p(y | x) up to a constant per row.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Inputs.

        Returns
        -------
        scores : ndarray of shape (n_samples,) or (n_samples, n_classes)
            For two classes, the log-odds of ``classes_[1]`` (scikit-learn's
            convention); otherwise ``d_y + sum_j softplus(c_j + U_jy + W_j s(x))``
            per class, or for a row whose scores reach 2**20 in magnitude
            (``LARGE_SCORE``: real-valued inputs far out) the same minus class
            0's, whose float64 values would no longer tell the classes apart.
        """
        V = self._check_fitted_X(X)
        U, d = self.class_components_, self.intercept_class_
        with single_threaded_blas():
            scores = stable_class_scores(self._checked_field(V), U, d)
        if scores.shape[1] == 2:
            return scores[:, 1] - scores[:, 0]
        return scores

    def predict(self, X):
        """The most probable class of each row.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Inputs.

        Returns
        -------
        y : ndarray of shape (n_samples,)
            Labels from ``classes_``.
        """
        log_proba = self.predict_log_proba(X)  # before classes_: unfitted models raise there
        return self.classes_[log_proba.argmax(axis=1)]

    def transform(self, X):
        """Hidden features E[h | x] with the label summed out: sum_y p(y | x) E[h | x, y].

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Inputs.

        Returns
        -------
        H : ndarray of shape (n_samples, n_components)
            Probabilities of the hidden units being on.
        """
        V = self._check_fitted_X(X)
        with single_threaded_blas():
            return self._hidden_features(V, self._checked_field(V))

    def _hidden_features(self, V, A=None):
        """``transform`` of internal-form V (``A``: its hidden field, if computed)."""
        A = self._hidden_field(V) if A is None else A
        out = np.empty(A.shape)
        U, d = self.class_components_, self.intercept_class_
        for rows in row_blocks(*A.shape, U.shape[1]):
            p = np.exp(log_posterior(A[rows], U, d))
            out[rows] = np.einsum("njk,nk->nj", hidden_given_class(A[rows], U), p)
        return out

    # ------------------------------------------------------------------
    # The joint density
    # ------------------------------------------------------------------

    def log_partition(self, method="auto", *, n_chains=DEFAULT_N_CHAINS, n_betas=DEFAULT_N_BETAS,
                      random_state=None):
        """Log Z of the joint model over inputs, label and hidden units.

        Computed once per parameter values and settings, then cached (an
        integer or None ``random_state``; training changes the parameters).

        Parameters
        ----------
        method : {"auto", "exact", "ais"}, default="auto"
            "exact" enumerates the hidden layer (at most
            ``MAX_EXACT_HIDDEN`` = 20 hidden units): log Z = logsumexp over h
            of [c.h + logsumexp_y (d_y + (h U)_y) + the visible layer's
            log-partition given the field h W].  "ais" runs annealed
            importance sampling through the machinery of the other
            estimators (``rbm._partition.ais_log_partition``), the joint
            model presented as one categorical visible layer (see
            ``_joint_as_categorical``); binary and categorical inputs only.
            "auto" is exact up to 20 hidden units, AIS above.
        n_chains : int, default=100
            AIS runs (ignored for exact).
        n_betas : int, default=10000
            AIS inverse temperatures, including 0 and 1 (ignored for exact).
        random_state : int, RandomState instance or None, default=None
            Seed for AIS; None uses 0, so repeated calls agree.

        Returns
        -------
        estimate : LogPartitionEstimate
            ``log_z``, ``std_error`` (0.0 when exact; inf, with a
            RuntimeWarning, where fewer than 10 AIS runs (half, of fewer than
            20) effectively carry the importance weights) and ``method``.

        Raises
        ------
        ValueError
            For an unknown method, ``n_chains`` below 2 or ``n_betas`` below
            3, "exact" above 20 hidden units, or "ais" with Gaussian inputs
            (whose joint model is not categorical): so any method for a
            Gaussian-input model above 20 hidden units.
        """
        self._check_fitted_state()
        if method not in ("auto", "exact", "ais"):
            raise ValueError(f'method must be "auto", "exact" or "ais", got {method!r}.')
        # The density models' checks (rbm._likelihood), in the same words.
        if not (isinstance(n_chains, numbers.Integral) and n_chains >= 2):
            raise ValueError(f"n_chains must be an integer >= 2 (for a standard error), "
                             f"got {n_chains!r}.")
        if not (isinstance(n_betas, numbers.Integral) and n_betas >= 3):
            raise ValueError(f"n_betas must be an integer >= 3, got {n_betas!r}.")
        # Before choosing: no method computes log Z of a large Gaussian-input model.
        self._refuse_unreachable_log_partition(f"log_partition(method={method!r})", "log Z")
        self._check_energy_scale()
        n_hidden = self.components_.shape[0]
        if method == "auto":
            method = "exact" if n_hidden <= MAX_EXACT_HIDDEN else "ais"
        if method == "exact" and n_hidden > MAX_EXACT_HIDDEN:
            raise ValueError(
                f"{type(self).__name__}.log_partition(method='exact') enumerates the "
                f"2**{n_hidden} hidden states, which is only feasible up to "
                f"n_components={MAX_EXACT_HIDDEN}; use method='ais' for larger models.")
        if method == "ais":
            check_chain_memory(self, n_chains, f"log_partition(n_chains={n_chains})",
                               "use at most {} chains")
        return self._cached_log_partition(method, n_chains, n_betas, random_state)

    def _refuse_unreachable_log_partition(self, call, what):
        """Raise ValueError, naming ``call`` and ``what`` it computes, where no
        method reaches log Z: Gaussian inputs (AIS presents the joint model
        as a categorical one, which real inputs are not) above
        ``MAX_EXACT_HIDDEN`` hidden units (too many to enumerate).  Each
        method's own refusal advised the other, which is refused too."""
        n_hidden = self.components_.shape[0]
        if not (isinstance(self._visible_unit, GaussianVisible) and n_hidden > MAX_EXACT_HIDDEN):
            return
        raise ValueError(
            f"{type(self).__name__}.{call}: {what} of a Gaussian-input classifier needs "
            f"exact enumeration of the 2**n_components hidden states (annealed importance "
            f"sampling handles binary and categorical inputs only), which is available up "
            f"to n_components={MAX_EXACT_HIDDEN}; this model has n_components={n_hidden}. "
            f"Refit with n_components <= {MAX_EXACT_HIDDEN} for it, or use predict_log_proba "
            "for log p(y | x), which needs no log Z.")

    def _cached_log_partition(self, method, n_chains, n_betas, random_state):
        """``log_partition`` of a checked request, computed once per parameter
        values and settings (``log_likelihood`` asks on every call, and an AIS
        run of a large model takes seconds to minutes).  A seed that is not an
        integer (a RandomState) is not cached."""
        seed = 0 if random_state is None else random_state
        key = None
        if isinstance(seed, numbers.Integral):
            # sigma (a Gaussian layer's learned array) too: a refit on rescaled
            # data with n_iter=0 changed only sigma and read the old log Z.
            fingerprint = parameter_fingerprint(
                self._parameters() + self._visible_unit.learned_arrays(), (self._visible_unit,))
            # A string key and a pair of floats, as the density models' cache
            # (skops stores dicts as JSON objects).
            key = f"{method}/{n_chains}/{n_betas}/{int(seed)}/{fingerprint}"
        cache = getattr(self, "_log_partition_cache", None)
        if not isinstance(cache, dict):
            cache = self._log_partition_cache = {}
        entry = cache.get(key)
        if entry is None:
            estimate = (self._ais_log_partition(n_chains, n_betas, seed) if method == "ais"
                        else self._exact_log_partition())
            if key is None:
                return estimate
            if len(cache) >= LOG_PARTITION_CACHE_SIZE:  # old parameters' entries
                cache.clear()
            # Read from the local entry, not the cache: another thread may
            # clear the cache between the store and a read back.  Only entries
            # its check accepts are kept (a NaN estimate is computed again).
            entry = (estimate.log_z, estimate.std_error)
            if log_partition_entry_problem(key, entry) is None:
                cache[key] = entry
        log_z, std_error = entry
        if method == "ais":
            return LogPartitionEstimate(log_z, std_error, "ais", n_chains=n_chains,
                                        n_betas=n_betas)
        return LogPartitionEstimate(log_z, std_error, "exact")

    def _exact_log_partition(self):
        """log Z by enumerating the hidden layer (at most ``MAX_EXACT_HIDDEN`` units)."""
        n_hidden = self.components_.shape[0]
        W, c, U, b, d = self._parameters()
        terms = []
        for H in enumerate_binary(n_hidden, 2**14, np.float64):
            terms.append(H @ c + logsumexp(H @ U + d, axis=1)
                         + self._visible_unit.log_partition_given_hidden(H @ W, b))
        return LogPartitionEstimate(float(logsumexp(np.concatenate(terms))), 0.0, "exact")

    def _joint_as_categorical(self):
        """The joint model as an RBM with one categorical visible layer.

        The label is a feature with ``n_classes`` states (weights ``U``,
        biases ``d``), followed by the inputs: a categorical input keeps its
        block of columns, a binary input becomes a feature with states 0
        and 1 whose state-0 column has zero weights and bias (so
        exp(b_j v_j + v_j (h W)_j) is unchanged).  The energy is the same
        for every (x, y, h), so log Z is too.

        Returns
        -------
        W, b, c : ndarrays of float64
            Weights (n_components, n_columns), visible and hidden biases.
        layer : CategoricalVisible
            Fitted on the features' category lists.
        """
        W, c, U, b, d = (np.asarray(a, dtype=np.float64) for a in self._parameters())
        n_classes = len(self.classes_)
        if isinstance(self._visible_unit, CategoricalVisible):
            sizes = [len(q) for q in self._visible_unit.categories_]
            W_inputs, b_inputs = W, b
        elif isinstance(self._visible_unit, BernoulliVisible):
            n = W.shape[1]
            sizes = [2] * n
            W_inputs = np.zeros((W.shape[0], 2 * n))
            W_inputs[:, 1::2] = W
            b_inputs = np.zeros(2 * n)
            b_inputs[1::2] = b
        else:
            raise ValueError(
                f"{type(self).__name__}.log_partition(method='ais') supports binary and "
                f"categorical inputs; with visible={self.visible!r} use method='exact' "
                f"(n_components <= {MAX_EXACT_HIDDEN}).")
        layer = CategoricalVisible(categories=[np.arange(q) for q in [n_classes, *sizes]])
        layer.encoder = OneHotEncoder(categories=layer.categories, sparse_output=True).fit(
            np.zeros((1, 1 + len(sizes)), dtype=np.intp))
        W_joint = np.ascontiguousarray(np.hstack([U, W_inputs]))
        b_joint = np.concatenate([d, b_inputs])
        return W_joint, b_joint, np.ascontiguousarray(c), layer

    def _ais_log_partition(self, n_chains, n_betas, random_state):
        """Forward AIS on the joint model, from the model's own biases without couplings."""
        W, b, c, layer = self._joint_as_categorical()
        seed = 0 if random_state is None else random_state
        rng = np.random.default_rng(check_random_state(seed).randint(2**31))
        log_z, std_error, _, log_w = ais_log_partition(W, b, c, layer, BernoulliHidden(), b,
                                                       n_chains, n_betas, rng, return_states=True)
        warn_of_few_effective_runs(type(self).__name__, log_w, n_betas,
                                   users="log_likelihood")
        return LogPartitionEstimate(log_z, std_error, "ais", n_chains=n_chains, n_betas=n_betas)

    def log_likelihood(self, X, y=None):
        """Joint log p(x, y) of each row (log p(x) where y is None or unlabelled).

        The free energies are exact; log Z is ``log_partition()``'s: exact up
        to 20 hidden units, an AIS estimate above (binary and categorical
        inputs only), computed once per parameter values.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Inputs.
        y : array-like of shape (n_samples,), default=None
            Labels; None (or ``unlabelled_marker`` in a row) sums the label out.

        Returns
        -------
        log_likelihood : ndarray of shape (n_samples,)
            In nats; a density for Gaussian inputs.

        Raises
        ------
        ValueError
            For Gaussian inputs above 20 hidden units, whose log Z neither
            enumeration nor AIS computes (``predict_log_proba`` gives
            log p(y | x) without it).
        """
        V = self._check_fitted_X(X)
        self._refuse_unreachable_log_partition("log_likelihood", "the log-likelihood")
        if y is not None:
            _refuse_boolean_labels(y, np.asarray(y), self.classes_, "log_likelihood",
                                   self.unlabelled_marker)
        labels = (np.full(V.shape[0], UNLABELLED) if y is None
                  else self._label_indices(
                      y, V.shape[0], reset=False,
                      unknown_hint="log_likelihood's y must hold classes of the model "
                                   "(classes_)" + ("" if self.unlabelled_marker is None else
                                   f", or {self.unlabelled_marker!r} to sum the label out")
                                   + "."))
        log_z = self.log_partition().log_z
        A = self._checked_field(V)
        labelled = labels != UNLABELLED
        # Real inputs far out: the visible energy grows with the square of the
        # input, the class scores only linearly (to +inf where the field does),
        # so a visible energy of -inf (below -1.8e308) makes log p -inf.
        with np.errstate(over="ignore", invalid="ignore"):
            scores = class_scores(A, self.class_components_, self.intercept_class_)
            joint = logsumexp(scores, axis=1)
            joint[labelled] = scores[labelled, labels[labelled]]
            visible = self._visible_unit.energy_term(V, self.intercept_visible_)
            log_p = visible + joint - log_z
        log_p[visible == -np.inf] = -np.inf
        return self._warn_of_overflow(log_p, V)

    def _warn_of_overflow(self, log_p, V):
        """``log_p``, after a RuntimeWarning where some rows' log-likelihoods are
        -inf: below -1.8e308, the correctly rounded value (as the density
        models' ``score_samples`` warn), but usually rows in other units than
        the training data."""
        far = np.isneginf(log_p)
        if far.any():
            rows = V[far]
            largest = float(abs(rows).max()) if rows.shape[0] else 0.0
            warnings.warn(
                f"{type(self).__name__}.log_likelihood: {counted(int(far.sum()), 'row')} "
                f"of {log_p.shape[0]} {'has' if far.sum() == 1 else 'have'} a log-likelihood "
                f"below -1.8e308, so -inf (their largest absolute value is {largest:.3g}): "
                + FAR_ROWS_ADVICE,
                RuntimeWarning, stacklevel=3)
        return log_p

    def sample(self, n_samples=1, *, y=None, n_steps=1000, method="auto", random_state=None):
        """Draw inputs (and labels) from the model, exactly or by block-Gibbs sampling.

        ``method="exact"`` draws each sample independently and exactly: (y,
        h) from p(y, h) (h from p(h | y) where ``y`` is given) by summing over
        every hidden state, then x from p(x | h).  ``"gibbs"`` runs a chain
        of ``n_steps`` block-Gibbs sweeps per sample (which may not cross
        between the modes of a multimodal model).  ``"auto"`` is exact up to
        ``MAX_EXACT_SAMPLE_HIDDEN`` = 14 hidden units, as the density
        models' ``sample``.

        Parameters
        ----------
        n_samples : int, default=1
            Number of independent samples (chains), at least 1.
        y : label or array-like of shape (n_samples,), default=None
            Class of each sample, held fixed (class-conditional generation,
            x ~ p(x | y)); None samples the labels too, from p(x, y).
        n_steps : int, default=1000
            Gibbs sweeps per chain, from a random start (at least 1;
            ``"gibbs"``).
        method : {"auto", "exact", "gibbs"}, default="auto"
            Exact draws or Gibbs chains (see above).
        random_state : int, RandomState instance or None, default=None
            Seed of the chains; None uses the estimator's ``random_state``, as
            the density models' ``sample`` does.

        Returns
        -------
        X : ndarray or DataFrame of shape (n_samples, n_features)
            Samples, in the input's form (category labels for categorical
            inputs); a DataFrame with fit's column names where the model was
            fitted on one (or ``set_output`` asks for one), as the density
            models' ``sample``.
        y : ndarray of shape (n_samples,)
            Their labels, as values of ``classes_`` (those of ``y`` where it was
            given: ``y=1.0`` gives the class 1).
        """
        self._check_fitted_state()
        # The method first, as the density models check it: a typo in it was
        # reported as a bad y or a memory refusal.
        method = self._sample_method(method)
        # (and memory for the chains)
        check_sample_request(self, n_samples, n_steps, row_bytes=self._chain_bytes())
        seed = random_state if random_state is not None else self.random_state
        rng = np.random.default_rng(check_random_state(seed).randint(2**31))
        n_classes = len(self.classes_)
        if y is None:
            labels, clamp = rng.integers(0, n_classes, n_samples), False
        else:
            given = np.asarray(y)
            if given.ndim == 0:
                given = np.broadcast_to(given, (n_samples,))
            elif given.shape != (n_samples,):
                raise ValueError(
                    f"sample's y must be one class, or one class per sample ({n_samples}), "
                    f"but has shape {given.shape}.")
            _refuse_missing_classes(given)
            _refuse_boolean_labels(y, given, self.classes_, "sample", self.unlabelled_marker)
            labels, clamp = self._label_indices(
                given, n_samples, reset=False,
                unknown_hint="sample's y must hold classes of the model (classes_)."), True
            if (labels == UNLABELLED).any():
                raise ValueError("sample's y must be classes of the model, not the "
                                 f"unlabelled marker {self.unlabelled_marker!r}.")
        with single_threaded_blas():
            if method == "exact":
                V, labels = self._exact_draws(labels, clamp, rng)
            else:
                V = self._visible_unit.sample(np.tile(self.intercept_visible_, (n_samples, 1)),
                                              rng)
                chains = JointChains(V, labels).step(self, rng, n_steps, clamp_labels=clamp)
                V, labels = chains.V, chains.labels
        return (visible_output(self, self._visible_unit.decode(V), None,
                               self._sample_column_types()),
                self.classes_[labels])

    def _sample_method(self, method):
        """"exact" or "gibbs" for ``sample``'s ``method`` (ValueError for another)."""
        if method not in ("auto", "exact", "gibbs"):
            raise ValueError(f"method must be 'auto', 'exact' or 'gibbs', got {method!r}.")
        n_hidden = self.components_.shape[0]
        if method == "exact" and n_hidden > MAX_EXACT_SAMPLE_HIDDEN:
            raise ValueError(
                f"method='exact' enumerates the {n_hidden} hidden units' states, more than "
                f"2**{MAX_EXACT_SAMPLE_HIDDEN}; use method='gibbs'.")
        if method == "auto":
            return "exact" if n_hidden <= MAX_EXACT_SAMPLE_HIDDEN else "gibbs"
        return method

    def _exact_draws(self, labels, clamp, rng):
        """(internal rows, label indices) of independent exact draws: (y, h)
        from p(y, h), or h from p(h | y) for each sample's label where
        ``clamp``, by the cumulative sum over every hidden state (and label);
        then x from p(x | h)."""
        # Parameters past float64's resolution would make the states' weights
        # rounding noise, as they make log Z.
        self._check_energy_scale()
        W, c, U, b, d = (np.asarray(a, dtype=np.float64) for a in self._parameters())
        n_hidden, n_classes = U.shape
        # log p(h, y) up to a constant, (states, classes), the visible layer
        # summed out per block of states (its fields are states x columns).
        block = max(1, min(2**n_hidden, EXACT_BLOCK_ELEMENTS // max(W.shape[1], 1)))
        states = np.concatenate(list(enumerate_binary(n_hidden, block, np.float64)))
        with np.errstate(over="ignore", invalid="ignore"):  # (refused below)
            log_w = np.concatenate([
                (H @ c + self._visible_unit.log_partition_given_hidden(H @ W, b))[:, None]
                + H @ U + d for H in np.split(states, range(block, len(states), block))])
            cumulative = (np.cumsum(np.exp(log_w - log_w.max(axis=0)), axis=0) if clamp
                          else np.cumsum(np.exp(log_w - log_w.max()).ravel()))
        if not np.all(np.isfinite(cumulative[-1])):
            # Below the energy limit, only a visible layer's own log partition
            # (a Gaussian's, of an absurd sigma) can overflow.
            raise ValueError(
                f"{type(self).__name__}: the hidden states' probabilities overflowed float64 "
                "(the visible layer's terms are beyond its range), so there is nothing to "
                "draw from exactly; use method='gibbs', or refit on standardised inputs.")
        u = rng.random(len(labels))
        if clamp:  # h from p(h | y): the label's column
            picked = np.empty(len(labels), dtype=np.intp)
            for k in np.unique(labels):
                rows = np.flatnonzero(labels == k)
                picked[rows] = pick_by_cumulative(cumulative[:, k], u[rows] * cumulative[-1, k])
            H = states[picked]
        else:  # (h, y) from p(h, y), states by label
            picked = pick_by_cumulative(cumulative, u * cumulative[-1])
            H, labels = states[picked // n_classes], picked % n_classes
        return self._visible_unit.sample(H @ W + b, rng), labels

    def _chain_bytes(self):
        """Bytes one chain of ``sample`` needs at its peak (``_chain_row_bytes``)."""
        n_hidden, n_columns = self.components_.shape
        return _chain_row_bytes(n_hidden, n_columns, len(self.classes_),
                                isinstance(self._visible_unit, CategoricalVisible))

    @property
    def _n_features_out(self):
        """Number of hidden features ``transform`` gives."""
        self._check_fitted_state()
        return self.components_.shape[0]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = self.visible != "categorical"
        tags.input_tags.positive_only = self.visible == "bernoulli"
        tags.input_tags.categorical = self.visible == "categorical"
        tags.input_tags.string = self.visible == "categorical"
        return tags


# --------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------

HISTORY_COLUMNS = ("epoch", "seconds", "log_loss_train", "accuracy_train",
                   "log_loss_validation", "accuracy_validation")


def _chain_row_bytes(n_hidden, n_columns, n_classes, categorical):
    """Bytes one persistent chain needs at the peak of a Gibbs step:
    ``JointChains`` steps in NumPy, whose temporaries (fields, probabilities,
    uniforms, the labels' softmax) measured 1.3 to 8 times the density models'
    estimate of four visible and two hidden rows (tracemalloc peaks of
    ``sample(3000)``: up to 6 rows of the visible columns for binary and real
    inputs, 8.5 for ``categorical`` ones, 4 of the hidden units and 5.4 of the
    classes; counted as 7, 9, 4 and 6).  ``sample``'s chains and training's
    ``batch_size`` persistent chains step alike."""
    visible_rows = 9 if categorical else 7
    return (visible_rows * n_columns + 4 * n_hidden + 6 * n_classes) * 8


def _training_bytes(n_hidden, n_chains, n_columns, n_classes, categorical):
    """(bytes of the weights, bytes of the chains) training surely allocates: a
    lower bound.  The weights W and U, their velocities and the copy that a
    ``partial_fit`` or early stopping keeps (three of each); per chain what
    ``sample``'s chains need (``_chain_row_bytes``).  Left out: the minibatch's
    own fields and gradients, and the training data."""
    return (3 * n_hidden * (n_columns + n_classes + 1) * 8,
            n_chains * _chain_row_bytes(n_hidden, n_columns, n_classes, categorical))


def _positive_rows(X, labels, weights):
    """The rows of positive weight, their weights divided by their mean.

    As the density models' (README, "Weighted rows"): rows of weight 0 are
    left out (the same model, bit for bit, as without them) and only
    relative weights matter within a call; weights of 1 are left as they are.
    """
    keep = weights > 0
    if not keep.all():
        X, labels, weights = X[keep], labels[keep], weights[keep]
    return X, labels, weights / weights.mean()


def _keep_a_row_of_each_class(held, labels, counts):
    """``held`` (row indices) without the first held row of each class that has
    labelled rows (``counts``) but none left to train on: an unstratified
    split (too few rows to stratify) can hold out both rows of a class."""
    left = counts - np.bincount(labels[held], minlength=len(counts))
    lost = np.flatnonzero((counts > 0) & (left == 0))
    if not len(lost):
        return held
    returned = [held[np.flatnonzero(labels[held] == k)[0]] for k in lost]
    return held[~np.isin(held, returned)]


def _unless_uniform(weights):
    """``weights``, or None where every row weighs the same (a constant weight
    is no weight: the unweighted sums keep an unweighted fit's bits)."""
    if weights is None or not len(weights) or np.all(weights == weights[0]):
        return None
    return weights


def _column_mean(X, weights):
    """Per-column mean of X (dense or sparse), its rows weighted by
    ``weights`` where given; zeros for no rows."""
    if not X.shape[0]:
        return np.zeros(X.shape[1])
    if weights is None:
        return np.asarray(X.mean(axis=0)).ravel()
    # Scaled by a power of two: the same mean, and no overflow of w * x.
    weights = scaled_to_unit(weights)
    return weighted_column_sum(X, weights) / row_count(X, weights)


def _sorted_distinct(classes):
    """Whether ``classes`` is sorted and distinct, as ``np.unique`` makes it (the
    label lookup is a binary search)."""
    try:
        unique = np.unique(classes)
    except TypeError:  # objects that do not compare
        return False
    return len(unique) == len(classes) and bool(np.all(unique == classes))


def _missing_labels(y):
    """Boolean mask of NaN / None / pandas' NA labels."""
    return missing_mask(y)


def _is_number(value):
    """Whether value is a number (and not a bool)."""
    return isinstance(value, numbers.Number) and not isinstance(value, bool)


def _unlabelled_mask(y, marker):
    """Rows labelled ``marker`` (``unlabelled_marker``; None: none).  A number
    matches numeric labels only (the string "-1" is a class), a string
    matches string labels only."""
    if marker is None:
        return np.zeros(len(y), dtype=bool)
    if isinstance(marker, str):
        if y.dtype.kind == "U":
            return y == marker
        matches = lambda v: isinstance(v, str) and v == marker  # noqa: E731
    else:
        if y.dtype.kind in "iuf":
            return y == marker
        matches = lambda v: _is_number(v) and v == marker  # noqa: E731
    if y.dtype.kind == "O":
        return np.array([matches(v) for v in y], dtype=bool)
    return np.zeros(len(y), dtype=bool)


def _refuse_missing_classes(given):
    """ValueError for missing values (NaN, None, pandas' NA) among ``sample``'s y.

    Checked before the labels are looked up, whose message for fit advises
    marking such rows as unlabelled, which ``sample`` refuses too.
    """
    missing = missing_mask(given)
    if missing.any():
        raise ValueError(
            "sample's y must hold classes of the model (classes_), but it holds missing "
            f"values (NaN, None or pandas' NA), the first at position "
            f"{int(np.argmax(missing))}; give the class of every sample, or y=None to "
            "sample the labels too.")


def _is_boolean(value):
    return isinstance(value, (bool, np.bool_))


def _marked_booleans(y, marker):
    """A list or tuple of True and False with the unlabelled ``marker`` as an
    object array: NumPy makes [True, False, -1] the integers [1, 0, -1], whose
    True and False are then no longer the classes (anything else: as given)."""
    if marker is None or not isinstance(y, (list, tuple)):
        return y
    values = np.asarray(y, dtype=object)
    flat = values.ravel()
    boolean = np.array([_is_boolean(v) for v in flat], dtype=bool)
    if boolean.any() and (boolean | _unlabelled_mask(flat, marker)).all():
        return values
    return y


def _as_boolean_labels(labels):
    """Labels that are all True or False as a bool array (an object array of
    them, as ``_marked_booleans`` or a pandas Series beside the unlabelled
    marker give, is no label type scikit-learn knows); others as given."""
    if labels.dtype == object and labels.size and all(_is_boolean(v) for v in labels):
        return labels.astype(bool)
    return labels


def _refuse_boolean_labels(y, given, classes, method, marker=None):
    """ValueError for True or False among ``method``'s y (``given``: y as an
    array) unless the classes are booleans: NumPy reads True as 1, so
    ``sample(y=True)`` drew class 1 (of classes 0, 1, 2) without a word,
    ``log_likelihood`` scored it and ``partial_fit`` trained on it; ``fit``
    made classes [0, 1, 2] of [True, False, 2].  Where the classes are
    booleans, the converse (``_refuse_non_boolean_labels``)."""
    if given.dtype != bool and isinstance(y, (list, tuple)):
        given = np.asarray(y, dtype=object)  # [1, True] as an array is [1, 1]
    flat = given.ravel()
    if all(_is_boolean(c) for c in classes.tolist()):
        _refuse_non_boolean_labels(flat, classes, method, marker)
        return
    if given.dtype == bool:
        boolean = np.ones(flat.shape, dtype=bool)
    elif given.dtype == object:
        boolean = np.array([_is_boolean(v) for v in flat], dtype=bool)
    else:
        boolean = np.zeros(flat.shape, dtype=bool)
    if not boolean.any():
        return
    held = (f"it holds {bool(flat[np.argmax(boolean)])}, the first at position "
            f"{int(np.argmax(boolean))}")
    if method == "fit":
        raise ValueError(
            f"fit's y mixes True or False with other labels ({held}), which NumPy would "
            f"read as 1 and 0 (classes_ = {classes.tolist()}). Give labels of one kind: "
            "booleans only (True and False as the classes), or the numbers or strings "
            "themselves.")
    raise ValueError(
        f"{method}'s y must hold classes of the model (classes_ = {classes.tolist()}), but "
        f"{held}; True and False are classes only of a model fitted on boolean labels "
        "(NumPy would read them as 1 and 0). Give the classes themselves.")


def _refuse_non_boolean_labels(flat, classes, method, marker):
    """ValueError for labels other than True and False (the unlabelled ``marker``
    and missing values aside: they have their own checks) among ``method``'s y
    (``flat``) where the classes are booleans: NumPy finds 1 equal to True, so
    ``sample(y=1)`` drew the class True and ``log_likelihood`` scored 1 as True
    without a word."""
    if flat.dtype == bool:
        return
    # Only numbers: NumPy equates 1 and 0 with True and False.  Other labels
    # (a string 'True', a 2) are unseen classes, which the general check names.
    other = np.array([isinstance(v, (numbers.Number, np.number)) and not _is_boolean(v)
                      for v in flat.tolist()], dtype=bool)
    other &= ~(_unlabelled_mask(flat, marker) | missing_mask(flat))
    if not other.any():
        return
    first = int(np.argmax(other))
    unlabelled = ("" if marker is None or method == "sample"
                  else f", or {marker!r} for an unlabelled row")
    raise ValueError(
        f"{method}'s y must hold classes of the model (classes_ = {classes.tolist()}), but "
        f"it holds {_plain(flat[first])!r}, the first at position {first}; the model was "
        "fitted on boolean labels, and NumPy would read 1 and 0 as True and False. Give "
        f"True or False{unlabelled}.")


def _rows_holding(unseen):
    """Where the first of the ``unseen`` labels occurs, for a message: "in 2 rows",
    or "in 1 of the 3 rows whose labels are not classes" when other unknown
    labels are in the rest (the count was that of all of them)."""
    first = unseen[0]
    count = int(sum(1 for value in unseen if type(value) is type(first) and value == first))
    if count == len(unseen):
        return f"in {counted(count, 'row')}"
    return f"in {count} of the {len(unseen)} rows whose labels are not classes"


def _text_made_of_numbers_hint(label, classes):
    """Why a number given as a label may arrive as text, where it did: NumPy
    turns a list of numbers and strings into strings, so [0, "1"] gives '0',
    which is not the class 0."""
    if not (isinstance(label, str) and all(_is_number(c) for c in classes.tolist())):
        return ""
    if not any(label == str(c) for c in classes.tolist()):
        return ""
    return (f"NumPy turns numbers into text in a list that also holds text, so a class "
            f"given as {label} may have become {str(label)!r}: give the labels as numbers "
            "only. ")


def _plain(value):
    """A NumPy scalar as the Python value it holds (for messages)."""
    return value.item() if isinstance(value, np.generic) else value


def _classes(name, labels, marker, source="y"):
    """Sorted distinct classes; at least two are needed (``marker``: the
    unlabelled marker; ``source`` names the argument they came from, for the
    message)."""
    classes = np.unique(np.asarray(labels))
    if len(classes) < 2:
        found = f"only one class, {_plain(classes[0])!r}," if len(classes) else "no labelled rows"
        unlabelled = ("" if marker is None else
                      f" (rows labelled {marker!r} are unlabelled; if {marker!r} is a class, "
                      "set unlabelled_marker=None)")
        raise ValueError(
            f"{name} needs at least 2 classes to learn, but {source} has {found}"
            f"{unlabelled}. Give rows of at least two classes.")
    return classes


def _given_classes(name, classes, marker):
    """``partial_fit``'s ``classes``, sorted and checked: a 1-d list of at least two
    classes, without missing values or the unlabelled ``marker`` (which no row
    could ever be labelled with)."""
    given = np.asarray(classes)
    if given.ndim != 1:
        raise ValueError(f"{name}.partial_fit's classes must be a 1-d list of every class, "
                         f"got {classes!r}.")
    if _missing_labels(given).any():
        raise ValueError(f"{name}.partial_fit got classes={given.tolist()}, which include a "
                         "missing value (NaN, None or pandas' NA); list every class, and "
                         "classes only.")
    if _unlabelled_mask(given, marker).any():
        raise ValueError(
            f"{name}.partial_fit got classes={given.tolist()}, which include {marker!r}, but "
            f"{marker!r} marks unlabelled rows (unlabelled_marker; sklearn.semi_supervised's "
            "-1 by default), so no row could be of that class. Set unlabelled_marker=None "
            "if every row is labelled, or rename that class in classes and y.")
    return _classes(name, given, marker, source="classes")


def _monitor_rows(labels, rng):
    """Up to ``MONITOR_ROWS`` labelled rows, fixed for a run, for ``history_``."""
    labelled = np.flatnonzero(labels != UNLABELLED)
    if len(labelled) > MONITOR_ROWS:
        labelled = np.sort(rng.choice(labelled, MONITOR_ROWS, replace=False))
    return labelled


class _BestEpoch:
    """Early stopping on the validation log loss; keeps the best epoch's parameters."""

    def __init__(self, tol, n_iter_no_change):
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.best = math.inf
        self.best_epoch = None
        self.saved = None
        self.without_improvement = 0

    def should_stop(self, row, epoch, arrays):
        """Whether to stop after this history row."""
        loss = row["log_loss_validation"]
        if loss < self.best - self.tol:
            self.without_improvement = 0
        else:
            self.without_improvement += 1
        if loss < self.best:
            self.best, self.best_epoch = loss, epoch
            self.saved = [a.copy() for a in arrays]
        return self.without_improvement >= self.n_iter_no_change

    def restore_best(self, arrays):
        """Put the best epoch's parameters back; returns its number."""
        if self.saved is not None:
            for array, saved in zip(arrays, self.saved):
                array[...] = saved
        return self.best_epoch


class _ParameterMean:
    """Running mean of the parameters after chosen epochs (Polyak averaging)."""

    def __init__(self):
        self.total = None
        self.count = 0

    def add(self, arrays):
        """Count the current values of ``arrays`` in the mean."""
        if self.total is None:
            self.total = [np.zeros_like(a) for a in arrays]
        for total, array in zip(self.total, arrays):
            total += array
        self.count += 1

    def restore_mean(self, arrays):
        """Set ``arrays`` in place to the mean of the values added."""
        if self.count:
            for array, total in zip(arrays, self.total):
                array[...] = total / self.count


def _format_row(name, row):
    """One line of verbose output."""
    line = (f"[{name}] epoch {row['epoch']}: train log loss {row['log_loss_train']:.4f}, "
            f"accuracy {row['accuracy_train']:.4f}")
    if not math.isnan(row["log_loss_validation"]):
        line += (f"; validation log loss {row['log_loss_validation']:.4f}, "
                 f"accuracy {row['accuracy_validation']:.4f}")
    return line + f" ({row['seconds']:.1f} s)"
