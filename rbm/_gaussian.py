"""Gaussian-Bernoulli RBM: real-valued visible units with learned variances."""

from numbers import Real

from sklearn.utils._param_validation import Interval

from ._base import BaseRBM
from ._docs import document_training
from ._units import GaussianVisible


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
    %(parameters)s

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

    _visible_type = GaussianVisible
    _parameter_docs = {
        "learning_rate": ("float", """\
            Step size of the parameter updates (for W, the biases and log sigma).
            Ten times smaller than BernoulliRBM's: real-valued units have larger
            gradients, and learning sigma is sensitive to the step size."""),
        "learn_sigma": ("bool", """\
            Learn the visible standard deviations; False keeps them at the
            training data's standard deviation."""),
    }

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
        shuffle=True,
        visible_bias_init="marginals",
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
        on_divergence="raise",
        learn_sigma=True,
        warm_start=False,
    ):
        super().__init__(
            n_components,
            learning_rate=learning_rate,
            batch_size=batch_size,
            shuffle=shuffle,
            visible_bias_init=visible_bias_init,
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
            on_divergence=on_divergence,
            warm_start=warm_start,
        )
        self.learn_sigma = learn_sigma

    @property
    def sigma_(self):
        """Visible standard deviations, shape (n_features,)."""
        if not hasattr(self, "_visible_unit"):
            raise AttributeError("sigma_ is set by fit or partial_fit")
        return self._visible_unit.sigma
