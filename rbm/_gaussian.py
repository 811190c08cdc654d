"""Gaussian-Bernoulli RBM: real-valued visible units with learned variances."""

from numbers import Real

from sklearn.utils._param_validation import Interval

from ._base import BaseRBM
from ._docs import document_training
from ._partition import is_gaussian_pair
from ._units import GaussianVisible
from ._units.gaussian import SIGMA_FLOOR_FRACTION


@document_training
class GaussianBernoulliRBM(BaseRBM):
    """Restricted Boltzmann machine with Gaussian visible units (hidden units binary by default).

    The energy, in the parametrisation of Cho, Ilin & Raiko (2011), is

        E(v, h) = sum_i (v_i - b_i)**2 / (2 sigma_i**2) - c.h - sum_i (v_i / sigma_i**2) (h.W)_i

    so that ``v_i | h ~ N(b_i + (h.W)_i, sigma_i**2)`` and
    ``p(h_j = 1 | v) = sigmoid(c_j + (W (v / sigma**2))_j)``: the model is a
    mixture of ``2**n_components`` Gaussians with diagonal covariance
    ``diag(sigma**2)``.  ``sigma`` starts at the data's standard deviation and
    is learned through ``log sigma`` (or kept fixed with ``learn_sigma=False``),
    clipped to ``[sigma_floor, 1] x`` the data's standard deviation: by the law
    of total variance a component's variance never exceeds the data's, and the
    floor stops components collapsing onto single training values.  (With
    ``hidden="gaussian"`` the model is one Gaussian, started at the data's
    mean and covariance, and sigma may start and stay below the floor.)

    Expects standardised data (for example after
    ``sklearn.preprocessing.StandardScaler`` in a Pipeline): its learning
    rate and initial weights are in data units (the weights shrink with a
    spread below 1, to 0.01 of it).  ``fit`` warns when a
    feature's mean lies beyond +-10 or its standard deviation outside
    [0.1, 10] rather than standardising inside the model, so that every
    output (samples, ``gibbs``, ``sigma_``, log densities) stays in the
    units of the data it was given and a score's units are the user's
    choice; a StandardScaler step's log-Jacobian is ``-sum(log(scale_))``
    per row.

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
    using log Z from ``log_partition``: with binary hidden units exact by
    summing over the hidden states when ``n_components`` is small, AIS
    otherwise; closed-form with ``hidden="gaussian"``; AIS always with
    ``"relu"`` and ``"drelu"`` (no layer of the model is discrete).

    With ``hidden="gaussian"`` the model is one multivariate Gaussian,
    precision ``D - D W.T W D`` with ``D = diag(1 / sigma**2)`` (with fewer
    hidden units than features exactly a factor-analysis model, sigma**2
    the noise variances), so its log-likelihood and gradient are
    closed-form and it is trained without sampling.  ``fit`` starts it at
    the maximum likelihood of the training rows' weighted moments (the
    covariance ridged by 1e-6 of each variance, GaussianMixture's default
    ``reg_covar`` on standardised data): with ``n_components >= n_features``
    their Gaussian itself, with fewer hidden units factor analysis's
    maximum (two deterministic L-BFGS-B starts on the noise variances,
    which stay within [1e-3, 1] times each feature's standard deviation;
    ``sigma_floor`` is lowered to them).  Every pass is then one step along
    the exact full-batch gradient, halved until the training
    log-likelihood (less the weight decay) does not fall: from the
    maximum-likelihood start these steps barely move the model (breast
    cancer, 8 hidden units: 1e-10 nats per row in 100 passes), so
    ``n_iter`` matters little.  A warm start (``warm_start=True``,
    assigned parameters) has only the steps, which crawl on nearly
    singular covariances: ``fit`` warns (``ConvergenceWarning``) when it
    ends more than 1e-3 nats per row of its objective below the start a
    fresh fit would take.  Where factor analysis's maximum puts some
    sigma at its floor (a Heywood case: standardised wine or breast cancer
    from 4 hidden units, n_samples < n_features) the steps cannot leave
    it, so ``weight_decay`` and the L1 penalties change nothing there:
    ``fit`` warns (``UserWarning``) when one is given.  ``batch_size``, ``method``, ``momentum``, the
    sparsity target and centering do not apply there.  Sampled gradients
    fail on such models: on standardised breast cancer, whose covariance
    has eigenvalues down to 1.1e-4, PCD reached -22.9 nats per test row
    against -11.06 for this fit and for ``GaussianMixture(1,
    covariance_type="full")``.

    With ``hidden="relu"`` or ``"drelu"`` the model is proper (has a
    distribution) only while h.(W D W.T) h stays below sum_j gamma_j h_j**2
    along every direction h of the hidden units (``rbm._properness``;
    ReLU units have gamma = 1 and h >= 0).  No closed form decides that, so
    a search looks for a direction that crosses it, which proves the model
    improper; finding none proves nothing.  ``fit`` searches at its last
    pass and between passes as often as costs about 30% of the training
    (counted in flops); with ``keep_proper`` (the default) also before its
    first pass, at every pass whose validation likelihood early stopping
    records and at every pass of a fit that fills gaps
    (``missing="impute"``).  ``partial_fit`` carries that budget from call
    to call, so the model a given call leaves may be improper: a stream of
    calls is checked about as often as a fit, not at every call.  With
    ``keep_proper`` every direction found is shrunk back inside the bound,
    and re-checked at every later pass; ``sample``, ``conditional_sample``
    and ``score`` of a model shown improper (between checks, assigned
    weights, or ``keep_proper=False``) refuse it or give -inf.

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
        "learning_rate": ('float or "auto"', """\
            Step size of the parameter updates (for W, the biases and log sigma).
            "auto" is 0.01 with binary hidden units, ten times smaller than
            BernoulliRBM's: real-valued units have larger gradients, and
            learning sigma is sensitive to the step size.  Other hidden types
            take their multiple of it, as in ``BernoulliRBM``."""),
        "learn_sigma": ("bool", """\
            Learn the visible standard deviations; False keeps them at the
            training data's standard deviation (set after a fit, it keeps them
            where they are when ``partial_fit`` or a warm start continues)."""),
        "sigma_floor": ("float in (0, 1]", """\
            Lower bound of each learned sigma, as a fraction of its feature's
            standard deviation in the training data (1 keeps sigma fixed
            there).  Without a floor, few rows or features with few distinct
            values let the fit shrink Gaussians onto the training values, and
            held-out rows score hundreds of nats worse per row.  ``fit``
            warns (``ConvergenceWarning``) when some sigma ends at the floor.
            The default was measured (held-out exact log-likelihood, standardised
            data, 16 hidden units, default training): on iris and wine the
            sigmas stay above 0.25 of the spread and 0.2 changes nothing
            (0.3 cost iris 0.15 nats); on diabetes, whose sex column has two
            values, 0.01 let sigma fall to 0.06 and scored -17.99 nats per row
            against -10.78 at 0.2; three rows of standardised 0/1 data with a
            constant column scored -24.8 at 0.01 and -9.1 at 0.2 (-250,000
            before a constant column started at the data's scale).  With two
            settings of ``benchmarks/gaussian_density.py`` (8 hidden units for
            100 epochs and 16 for 300, seeds 0 and 1) on wine, breast cancer,
            digits, iris, diabetes and its known GB-RBM no sigma went below
            0.21 of its spread, so the scores were those of 0.01.  Lower it for features that other
            features nearly determine, when the warning says it binds.
            With ``hidden="gaussian"`` (see the class notes) the floor is lowered
            to the sigma that model starts at where the data need it, and no
            warning is given: one Gaussian has no components to collapse."""),
        "keep_proper": ("bool", """\
            Keep the model proper during training (ReLU and dReLU hidden
            units; binary units always are, and ``hidden="gaussian"`` is
            trained exactly).  With real-valued units on both sides the
            model has a distribution only while the weights' pull on the
            hidden units, h.(W diag(1 / sigma**2) W.T) h, stays below what
            their own potentials hold back along every direction h
            (``rbm._properness``); sampled gradients cross that bound
            easily on correlated data.  True: wherever a check between
            passes (see Notes) finds a direction where it is crossed, the
            weights are shrunk along it to 1% inside the bound (the least
            change in the norm of dW diag(1 / sigma)), until the search
            finds none (after 200 such shrinks in one check, W is scaled as
            a whole instead); the directions found are re-checked at every
            pass, and weights assigned or loaded since the last pass are
            checked before the next.  A pass that runs away all the same
            (its parameters become non-finite or run off) runs again from
            its start, shrunk, with the known directions re-checked after
            each minibatch (a ``DivergenceWarning`` says so); one that runs
            away again, or within a fit right after such a retry, stops the
            fit.  False: an
            improper model is a divergence, handled as ``on_divergence``
            says.  Measured on standardised breast cancer (a 75/25 split,
            ``random_state=0``; 16 ReLU units, PCD, 1,000 epochs at rate
            0.001, batch 10): False raised ``DivergenceError`` within its
            first second; True fitted in 3.9 s (13% of it in 112 checks,
            on a shared 2-core machine) to -19.69 nats per test row."""),
    }

    _parameter_constraints = {
        **BaseRBM._parameter_constraints,
        "keep_proper": ["boolean"],
        "learn_sigma": ["boolean"],
        "sigma_floor": [Interval(Real, 0, 1, closed="right")],
    }

    def __init__(
        self,
        n_components=256,
        *,
        learning_rate="auto",
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
        weight_decay="auto",
        n_jobs=None,
        centering=False,
        learning_rate_schedule="linear",
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=10,
        tol=1e-3,
        n_temperatures=10,
        l1_weight_decay=0.0,
        l1_squared_weight_decay=0.0,
        sparsity_target=0.1,
        sparsity_cost=0.0,
        momentum_warmup=0.1,
        on_divergence="raise",
        keep_proper=True,
        learn_sigma=True,
        sigma_floor=SIGMA_FLOOR_FRACTION,
        warm_start=False,
        hidden="bernoulli",
        missing="error",
        normalize_hidden=False,
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
            l1_squared_weight_decay=l1_squared_weight_decay,
            sparsity_target=sparsity_target,
            sparsity_cost=sparsity_cost,
            momentum_warmup=momentum_warmup,
            on_divergence=on_divergence,
            warm_start=warm_start,
            hidden=hidden,
            missing=missing,
            normalize_hidden=normalize_hidden,
        )
        self.keep_proper = keep_proper
        self.learn_sigma = learn_sigma
        self.sigma_floor = sigma_floor

    def fit(self, X, y=None, sample_weight=None):
        """Fit the model to X by CD-k, PCD-k or parallel tempering.

        Warns (``sklearn.exceptions.ConvergenceWarning``) when a learned
        sigma ends at its floor (see ``sigma_floor``), and (``UserWarning``)
        when X is far from standardised (see the class notes).
        ``partial_fit`` gives the scale warning on its first call only and
        never the floor warning: a stream of calls would repeat it.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data, float32 or float64 (float32 stays float32).
        y : Ignored
            Not used, present for API consistency.
        sample_weight : array-like of shape (n_samples,) or float, default=None
            Weight of each sample, as in ``BernoulliRBM.fit``; the starting
            sigma is the weighted standard deviation.

        Returns
        -------
        self : object
            The fitted model.
        """
        return super().fit(X, y, sample_weight=sample_weight)

    def _after_fit(self):
        """The sigma-floor warning, inside fit's rollback: raised as an error
        (``warnings.simplefilter("error")``), it undoes a refit as any
        failure does (it came after the refit, which stood)."""
        # One Gaussian has no components to collapse: its floor is its start.
        if not is_gaussian_pair(self._visible_unit, self._hidden_unit):
            self._visible_unit.warn_if_sigma_at_floor(self)

    @property
    def sigma_(self):
        """Visible standard deviations, shape (n_features,)."""
        if not hasattr(self, "_visible_unit"):
            raise AttributeError("sigma_ is set by fit or partial_fit")
        return self._visible_unit.sigma
