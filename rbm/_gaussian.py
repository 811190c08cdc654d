"""Gaussian-Bernoulli RBM: real-valued visible units with learned variances."""

from numbers import Real

import numpy as np
import scipy.sparse as sp
from sklearn.utils._param_validation import Interval

from . import _gibbs
from ._base import BaseRBM, document_training
from ._visible import GaussianVisible

#: sigma never falls below this fraction of the feature's standard deviation.
SIGMA_FLOOR_FRACTION = 0.01
#: Training stops when a weight or visible bias (both in data units) exceeds
#: this many times the data's scale.
RUNAWAY_FACTOR = 1e3


@document_training
class GaussianBernoulliRBM(BaseRBM):
    """Restricted Boltzmann machine with Gaussian visible and binary hidden units.

    The energy, in the parametrisation of Cho, Ilin & Raiko (2011), is

        E(v, h) = sum_i (v_i - b_i)**2 / (2 sigma_i**2) - c.h - sum_i (v_i / sigma_i**2) (h.W)_i

    so that ``v_i | h ~ N(b_i + (h.W)_i, sigma_i**2)`` and
    ``p(h_j = 1 | v) = sigmoid(c_j + (W (v / sigma**2))_j)``: the model is a
    mixture of ``2**n_components`` Gaussians with diagonal covariance
    ``diag(sigma**2)``.  ``sigma`` starts at the data's standard deviation and
    is learned through ``log sigma`` (or kept fixed with ``learn_sigma=False``),
    clipped to ``[0.01, 1] x`` the data's standard deviation: by the law of total
    variance a component's variance never exceeds the data's, and the floor
    stops a component collapsing onto single points.

    Works best on standardised data (for example after
    ``sklearn.preprocessing.StandardScaler``).

    Parameters
    ----------
    n_components : int, default=256
        Number of hidden units.
    learning_rate : float, default=0.01
        Step size of the parameter updates (for W, the biases and log sigma).
        Ten times smaller than BernoulliRBM's: real-valued units have larger
        gradients, and learning sigma is sensitive to the step size.
    batch_size : int, default=20
        Examples per minibatch.
    n_iter : int or "auto", default="auto"
        Passes (epochs) over the training data in ``fit``.  "auto" plans
        about 300,000 minibatch updates (at least 10 and at most 5,000
        epochs): 4,762 epochs of digits' 1,257 training rows, 100 of 60,000
        rows.  Pass a number for quick feature learning.
    verbose : int, default=0
        Progress lines during ``fit``: 1 prints about 20 evenly spaced epochs,
        2 or more prints every epoch.
    random_state : int, RandomState instance or None, default=None
        Seed for initialisation, shuffling and sampling.
    method : {"pcd", "cd", "pt"}, default="pcd"
        Persistent or plain contrastive divergence, or parallel tempering.
    k : int, default=1
        Gibbs steps per update.
    n_chains : int or None, default=100
        Persistent chains for PCD; None uses ``batch_size``.
    momentum : float in [0, 1), default=0.5
        Momentum of the parameter updates.
    weight_decay : float, default=5e-4
        L2 penalty on the weights.
    n_jobs : int or None, default=None
        Threads for the matrix products; results do not depend on it.
    learn_sigma : bool, default=True
        Learn the visible standard deviations; False keeps them at the
        training data's standard deviation.
    %(training_parameters)s

    Attributes
    ----------
    components_ : ndarray of shape (n_components, n_features)
        Weight matrix W.
    intercept_hidden_ : ndarray of shape (n_components,)
        Hidden biases c.
    intercept_visible_ : ndarray of shape (n_features,)
        Visible biases b (the mean of v when every hidden unit is off).
    sigma_ : ndarray of shape (n_features,)
        Visible standard deviations.
    h_samples_ : ndarray of shape (n_chains, n_components)
        Hidden states of the persistent chains (``n_temperatures`` blocks of
        them with ``method="pt"``).
    %(training_attributes)s
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit, when X has string column names.

    Notes
    -----
    ``score_samples`` returns log densities in nats (they can be positive),
    using log Z from ``log_partition``: exact by summing over the hidden
    states when ``n_components`` is small, AIS otherwise.

    Examples
    --------
    >>> import numpy as np
    >>> from rbm import GaussianBernoulliRBM
    >>> X = np.random.default_rng(0).standard_normal((100, 3))
    >>> model = GaussianBernoulliRBM(n_components=2, n_iter=100, random_state=0).fit(X)
    >>> model.transform(X).shape
    (100, 2)
    """

    _parameter_constraints = {
        **BaseRBM._parameter_constraints,
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "learn_sigma": ["boolean"],
    }

    def __init__(
        self,
        n_components=256,
        *,
        learning_rate=0.01,
        batch_size=20,
        n_iter="auto",
        verbose=0,
        random_state=None,
        method="pcd",
        k=1,
        n_chains=100,
        momentum=0.5,
        weight_decay=5e-4,
        n_jobs=None,
        centering=False,
        learning_rate_schedule="linear",
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=10,
        tol=1e-3,
        n_temperatures=10,
        l1_weight_decay=0.0,
        sparsity_target=0.1,
        sparsity_cost=0.0,
        momentum_warmup=0.1,
        learn_sigma=True,
    ):
        super().__init__(
            n_components,
            learning_rate=learning_rate,
            batch_size=batch_size,
            n_iter=n_iter,
            verbose=verbose,
            random_state=random_state,
            method=method,
            k=k,
            n_chains=n_chains,
            momentum=momentum,
            weight_decay=weight_decay,
            n_jobs=n_jobs,
            centering=centering,
            learning_rate_schedule=learning_rate_schedule,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            n_iter_no_change=n_iter_no_change,
            tol=tol,
            n_temperatures=n_temperatures,
            l1_weight_decay=l1_weight_decay,
            sparsity_target=sparsity_target,
            sparsity_cost=sparsity_cost,
            momentum_warmup=momentum_warmup,
        )
        self.learn_sigma = learn_sigma

    def _layer(self):
        state = getattr(self, "_visible_state", None)
        if state is None:
            return GaussianVisible()
        return GaussianVisible(state)

    def _initial_visible_state(self, X):
        """sigma at the data's standard deviation, its velocity and its bounds."""
        n = X.shape[0]
        mean = np.asarray(X.sum(axis=0), dtype=np.float64).ravel() / n
        # Squares in float64 for both forms, so float32 CSR and dense agree.
        if sp.issparse(X):
            X64 = X.astype(np.float64)
            squares = X64.multiply(X64)
        else:
            squares = np.square(X, dtype=np.float64)
        variance = np.asarray(squares.sum(axis=0), dtype=np.float64).ravel() / n - mean**2
        std = np.sqrt(np.maximum(variance, 0.0))
        # A constant feature (or a single row) has no spread to learn from:
        # give it a small one, relative to the data's own scale (whatever
        # that is: 1e-8 and 1e8 are both fine).
        scale = max(float(std.max(initial=0.0)), float(np.abs(mean).max(initial=0.0))) or 1.0
        std = np.maximum(std, 1e-3 * scale)
        state = np.zeros((_gibbs.GAUSSIAN_STATE_SHAPE_ROWS, X.shape[1]), dtype=X.dtype)
        state[_gibbs.GAUSSIAN_SIGMA] = std
        state[_gibbs.GAUSSIAN_SIGMA_MIN] = SIGMA_FLOOR_FRACTION * std
        state[_gibbs.GAUSSIAN_SIGMA_MAX] = std
        return state

    def _runaway_message(self):
        """Weights or visible biases far beyond the data's scale: a diverging
        learning rate.

        With real-valued units the energy-scale bound (which assumes states in
        [0, 1]) is reached only after the parameters have grown for several
        passes.  Visible biases are means and each weight row a shift of the
        mean, both in data units, so anything beyond ``RUNAWAY_FACTOR`` times
        the largest |mean| + standard deviation of a feature is stopped at
        once, while the parameters from before the pass are still sound.
        (Hidden biases are energies, which small sigmas legitimately make
        large, so they are left to the energy-scale bound.)
        """
        sigma_max = self._visible_state[_gibbs.GAUSSIAN_SIGMA_MAX]
        data_scale = max(1.0, float(np.max(np.abs(self._data_sum / max(self._n_data, 1))
                                           + sigma_max)))
        largest = max(float(np.max(np.abs(a))) for a in
                      (self.components_, self.intercept_visible_))
        if largest <= RUNAWAY_FACTOR * data_scale:
            return None
        return (
            f"{type(self).__name__} diverged: a weight or visible bias reached {largest:.3g}, more "
            f"than {RUNAWAY_FACTOR:.0e} times the data's scale ({data_scale:.3g}), with "
            f"learning_rate={self.learning_rate}. The model keeps its parameters from "
            "before this pass over the data; lower the learning rate (for example by a "
            "factor of 10) and fit again."
        )

    def _learns_visible_state(self):
        return bool(self.learn_sigma)

    @property
    def sigma_(self):
        """Visible standard deviations, shape (n_features,)."""
        if getattr(self, "_visible_state", None) is None:
            raise AttributeError("sigma_ is set by fit or partial_fit")
        return self._visible_state[_gibbs.GAUSSIAN_SIGMA]
