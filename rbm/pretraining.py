"""Greedy layer-wise pretraining: stacked RBMs, then a fine-tuned MLPClassifier.

Stacking is a plain scikit-learn :class:`~sklearn.pipeline.Pipeline`:
fitting ``make_pipeline(BernoulliRBM(256), BernoulliRBM(64))`` trains each
RBM on the hidden probabilities of the one before, which is exactly greedy
layer-wise pretraining (Hinton & Salakhutdinov, 2006).  :func:`fine_tune`
then copies the stack's weights into the first layers of an
:class:`~sklearn.neural_network.MLPClassifier` and trains the whole network
with backpropagation.
"""

import warnings
from collections.abc import Iterable

import numpy as np
import scipy.sparse as sp
import sklearn
from scipy.special import expit
from sklearn.base import clone
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline
from sklearn.utils import _safe_indexing
from sklearn.utils.validation import check_array, check_is_fitted, has_fit_parameter

from ._categorical import CategoricalRBM

#: Rows of X used to check that each RBM's transform is the layer we copy.
_CHECK_ROWS = 20


def _as_rbm_list(rbms):
    """The fitted RBMs of a list or of a Pipeline made only of RBMs (one RBM: a stack of one)."""
    if isinstance(rbms, Pipeline):
        rbms = [step for _, step in rbms.steps]
    elif hasattr(rbms, "free_energy") and hasattr(rbms, "transform"):
        rbms = [rbms]  # (was "'BernoulliRBM' object is not iterable")
    elif not isinstance(rbms, Iterable):
        raise TypeError(f"fine_tune expects a fitted RBM, a list of them or a Pipeline of "
                        f"them, got a {type(rbms).__name__}.")
    rbms = list(rbms)
    if not rbms:
        raise ValueError("fine_tune needs at least one fitted RBM.")
    for depth, layer in enumerate(rbms):
        if not (hasattr(layer, "free_energy") and hasattr(layer, "transform")):
            raise TypeError(
                f"fine_tune expects RBMs, but layer {depth} is a {type(layer).__name__}. "
                "Preprocess X before the stack and the MLP instead, e.g. "
                "make_pipeline(scaler, mlp) after fine-tuning on scaled data."
            )
        check_is_fitted(layer, ["components_", "intercept_hidden_"])
    return rbms


def _check_input(first, X):
    """Check all of X against the first RBM's domain, as its ``transform`` would.

    Only the first rows go through the stack below, but the MLP trains on
    every row: values out of the RBM's domain further down were used
    silently (by weights pretrained for another scale), and a NaN there got
    MLPClassifier's message, which says nothing of the stack.  A finite
    and range check is cheap next to the MLP's training.
    """
    try:
        first._check_fitted_input(X)
    except ValueError as error:
        raise ValueError(f"fine_tune: X is not input for RBM 0 ({type(first).__name__}): "
                         f"{error}") from None


def _check_layers(rbms, X):
    """Check the stack's shapes chain and each transform is logistic(x W^T + c).

    The MLP's hidden layer computes exactly that; a model whose transform is
    something else (for example visible units scaled by a learnt sigma)
    cannot be copied into it unchanged, and is refused rather than copied wrong.
    """
    given = X.tocsr() if sp.issparse(X) else X  # (a COO matrix has no row slices)
    given = _safe_indexing(given, slice(0, _CHECK_ROWS))
    rows = check_array(given, accept_sparse="csr", dtype=np.float64)
    rows = rows.toarray() if sp.issparse(rows) else rows
    for depth, layer in enumerate(rbms):
        _check_kind(layer, depth)
        n_in = layer.components_.shape[1]
        if rows.shape[1] != n_in:
            source = "X" if depth == 0 else f"RBM {depth - 1}'s output"
            raise ValueError(
                f"RBM {depth} ({type(layer).__name__}) has {n_in} inputs but {source} "
                f"has {rows.shape[1]} features."
            )
        # The first layer gets the user's own rows, so that scikit-learn checks
        # their column names and order against those it was fitted on (a frame
        # of the same columns in another order is refused there).
        with warnings.catch_warnings():
            if depth == 0:
                # _check_input has warned of X's feature names already.
                warnings.filterwarnings("ignore", message="X (does not have valid|has) feature "
                                        "names", category=UserWarning)
            output = layer.transform(given)
        expected = np.asarray(output, dtype=np.float64)
        forward = expit(rows @ layer.components_.T.astype(np.float64) + layer.intercept_hidden_)
        if not np.allclose(forward, expected, rtol=1e-4, atol=1e-5):
            raise ValueError(
                f"RBM {depth} ({type(layer).__name__}): its transform is not "
                "logistic(X @ components_.T + intercept_hidden_), so its weights cannot "
                "initialise an MLP layer unchanged."
            )
        rows = expected
        given = _as_next_input(output, rbms[depth + 1] if depth + 1 < len(rbms) else None)


def _check_kind(layer, depth):
    """Raise ValueError for an RBM whose weights an MLP layer cannot take as they are."""
    if isinstance(layer, CategoricalRBM):
        # Its components_ act on the one-hot columns of the labels, not on X.
        raise ValueError(
            f"RBM {depth} (CategoricalRBM) takes category labels, one-hot coded into "
            f"{layer.components_.shape[1]} columns inside it, so its weights cannot "
            "initialise an MLP layer that reads X's numbers; one-hot encode X first "
            "(sklearn.preprocessing.OneHotEncoder) and pretrain a BernoulliRBM on it.")
    hidden = getattr(layer, "hidden", "bernoulli")
    if hidden != "bernoulli":
        raise ValueError(
            f"RBM {depth} ({type(layer).__name__}) has hidden={hidden!r} units, whose "
            "mean E[h | v] is not the MLP's logistic activation, so its weights "
            "cannot initialise an MLP layer unchanged; pretrain with "
            "hidden=\"bernoulli\" for fine_tune.")


def _as_next_input(output, layer):
    """A layer's ``output`` as the next ``layer`` takes it: as it is where that
    layer was fitted on a frame (a Pipeline under ``set_output(transform=
    "pandas")``: scikit-learn checks the names), else an array (a DataFrame
    from a global ``transform_output="pandas"`` made a layer fitted on arrays
    warn "X has feature names, but ... was fitted without feature names")."""
    if layer is not None and getattr(layer, "feature_names_in_", None) is not None:
        return output
    return np.asarray(output, dtype=np.float64)


def _mlp_for(mlp, rbms, random_state):
    """A clone of mlp (or a new one, seeded by random_state) whose first hidden
    layers match the RBMs."""
    sizes = [layer.components_.shape[0] for layer in rbms]
    if mlp is None:
        return MLPClassifier(hidden_layer_sizes=tuple(sizes), activation="logistic",
                             random_state=random_state)
    if not isinstance(mlp, MLPClassifier):
        raise TypeError(f"mlp must be an MLPClassifier or None, got {type(mlp).__name__}.")
    if random_state is not None:
        # Two seeds for one network: which one wins would be a guess.
        raise ValueError(
            "random_state seeds the default network (mlp=None); set the random_state "
            "of the MLPClassifier passed as mlp instead.")
    mlp = clone(mlp)
    if mlp.activation != "logistic":
        raise ValueError(
            f"the MLP's activation must be 'logistic' (an RBM's hidden units are "
            f"logistic), got activation={mlp.activation!r}."
        )
    hidden = mlp.hidden_layer_sizes
    hidden = list(hidden) if np.iterable(hidden) else [hidden]
    if hidden[: len(sizes)] != sizes:
        raise ValueError(
            f"the MLP's first hidden layers {hidden[: len(sizes)]} must have the RBMs' "
            f"sizes {sizes} (hidden_layer_sizes={tuple(hidden)})."
        )
    return mlp


def _check_weights_taken(mlp, sample_weight):
    """Refuse ``sample_weight`` up front where this scikit-learn's
    ``MLPClassifier.fit`` takes none (it does from scikit-learn 1.7; the
    library asks for 1.6): there it raised a bare TypeError from inside the
    network's fit, after the whole check of X."""
    if sample_weight is not None and not has_fit_parameter(mlp, "sample_weight"):
        raise TypeError(
            f"fine_tune: sample_weight was given, but {type(mlp).__name__}.fit takes no "
            f"sample_weight in this scikit-learn ({sklearn.__version__}); MLPClassifier "
            "takes it from scikit-learn 1.7. Upgrade scikit-learn or leave sample_weight out.")


class _RBMInitialisation:
    """Replacement for MLPClassifier._init_coef that hands out the RBMs' layers.

    scikit-learn draws each layer's initial (coef, intercept) from
    ``_init_coef(fan_in, fan_out, dtype)``, in layer order, on the first
    pass of ``fit``.  The first calls get the RBMs' weights (coef_ is
    (n_in, n_out), so components_.T); later layers are drawn as usual.
    """

    def __init__(self, rbms, default):
        self.layers = [(layer.components_.T, layer.intercept_hidden_) for layer in rbms]
        self.default = default
        self.used = 0

    def __call__(self, fan_in, fan_out, dtype=np.float64, *args, **kwargs):
        if self.used == len(self.layers):
            return self.default(fan_in, fan_out, dtype, *args, **kwargs)
        coef, intercept = self.layers[self.used]
        self.used += 1
        return coef.astype(dtype), intercept.astype(dtype)


def fine_tune(rbms, X, y, mlp=None, *, random_state=None, sample_weight=None):
    """Fit an MLPClassifier whose first hidden layers start at the RBMs' weights.

    Parameters
    ----------
    rbms : fitted RBM, list of fitted RBMs, or a fitted Pipeline of RBMs
        The pretrained stack, first layer first: RBM ``i`` must have been
        trained on the hidden probabilities of RBM ``i - 1`` (as a Pipeline
        of RBMs does), the first on X as given here.
    X : array-like of shape (n_samples, n_features)
        Training data, preprocessed as for the first RBM.
    y : array-like of shape (n_samples,)
        Class labels.
    mlp : MLPClassifier or None, default=None
        The network to fine-tune (cloned, not modified): its activation must
        be "logistic" and its first hidden layer sizes those of the RBMs;
        further layers and the output layer start from scikit-learn's usual
        random initialisation.  None uses
        ``MLPClassifier(hidden_layer_sizes=<the RBMs' sizes>, activation="logistic",
        random_state=random_state)``.
    random_state : int, RandomState instance or None, default=None
        Seed of the default network (its output layer's initialisation and
        the shuffling of its minibatches): None gives another network at
        each call.  Only with ``mlp=None``; a network passed in carries its
        own ``random_state``.
    sample_weight : array-like of shape (n_samples,), default=None
        Weights of the rows, passed to ``MLPClassifier.fit``, which takes
        them from scikit-learn 1.7 (before that, a TypeError says so).

    Returns
    -------
    mlp : MLPClassifier
        The fitted network.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.neural_network import MLPClassifier
    >>> from sklearn.pipeline import make_pipeline
    >>> from rbm import BernoulliRBM
    >>> from rbm.pretraining import fine_tune
    >>> X, y = load_digits(return_X_y=True)
    >>> X = X / 16.0
    >>> stack = make_pipeline(BernoulliRBM(64, n_iter=5, learning_rate=0.05, random_state=0),
    ...                       BernoulliRBM(32, n_iter=5, learning_rate=0.05, random_state=0))
    >>> mlp = fine_tune(stack.fit(X), X, y, MLPClassifier(
    ...     (64, 32), activation="logistic", max_iter=5, random_state=0))
    >>> [coef.shape for coef in mlp.coefs_]
    [(64, 64), (64, 32), (32, 10)]
    """
    rbms = _as_rbm_list(rbms)
    mlp = _mlp_for(mlp, rbms, random_state)
    _check_weights_taken(mlp, sample_weight)
    _check_input(rbms[0], X)
    _check_layers(rbms, X)
    # MLPClassifier has no public way to set initial weights: warm_start
    # needs its whole fitted state, which only fit creates.  So fit runs its
    # own first pass with the layer initialiser replaced on this instance
    # for the duration of the call.
    initialisation = _RBMInitialisation(rbms, mlp._init_coef)
    mlp._init_coef = initialisation
    try:
        mlp.fit(X, y, **({} if sample_weight is None else {"sample_weight": sample_weight}))
    finally:
        del mlp._init_coef
    if initialisation.used != len(rbms):
        raise RuntimeError(
            "this scikit-learn version does not initialise MLPClassifier layers "
            "through _init_coef, so the RBM weights were not used; please report it."
        )
    return mlp
