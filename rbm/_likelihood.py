"""Likelihoods: free energies, the log-partition function and scores.

A mixin of ``BaseRBM`` written against the layer verbs: the visible and
hidden layers give the free energy's terms, ``rbm._partition`` estimates
log Z (exactly or by AIS), and estimates are cached per parameter values.
"""

import hashlib
import warnings
from numbers import Integral

import numpy as np
import scipy.sparse as sp
from sklearn.utils.validation import check_is_fitted

from ._partition import ais_log_partition, exact_cost, exact_log_partition
from ._state import check_fitted_state
from ._streams import AIS, draw_entropy, generator_for

#: ``log_partition(method="auto")`` enumerates exactly when the enumeration
#: costs at most this many floating-point operations (a few seconds).
AUTO_EXACT_MAX_FLOPS = 5e10


class LikelihoodMixin:
    """Free energy, log Z, ``score_samples`` and ``score`` of a fitted RBM."""

    def free_energy(self, X):
        """Free energy F(x) = -log sum_h exp(-E(x, h)), in float64.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        F : ndarray of shape (n_samples,)
            The free energy of each sample, so that log p(x) = -F(x) - log Z.
        """
        X = self._check_fitted_input(X)
        return self._warn_if_overflowed(self._free_energy(X), X, "free_energy")

    def _free_energy(self, X, chunk_rows=4096):
        """free_energy of validated input, computed in float64.

        Overflow is not NumPy's to report: the public methods say what it
        means (``_warn_if_overflowed``).
        """
        out = np.empty(X.shape[0])
        with np.errstate(over="ignore", invalid="ignore"):
            for start in range(0, X.shape[0], chunk_rows):
                rows = X[start : start + chunk_rows]
                rows = (rows.astype(np.float64) if sp.issparse(rows)
                        else np.asarray(rows, np.float64))
                out[start : start + rows.shape[0]] = self._free_energy_given_field(
                    rows, self._hidden_field(rows))
        return out

    def _warn_if_overflowed(self, F, X, method):
        """F, after a RuntimeWarning if some free energies overflowed float64.

        Parameters and input are finite (both are checked), so a non-finite
        free energy means that a row lies so far from what the model
        describes that its log-likelihood is below -1.8e308: -inf is then
        the correctly rounded value (an outlier detector relies on it), but
        usually the input is in other units than the training data.  A NaN
        (infinite visible and hidden terms of opposite signs, which only
        unbounded Gaussian input reaches) becomes +inf: the Gaussian visible
        energy grows quadratically in the input, the hidden terms only
        linearly, so +inf is the limit.
        """
        bad = ~np.isfinite(F)
        if bad.any():
            F[np.isnan(F)] = np.inf
            rows = X[bad]
            largest = float(abs(rows).max()) if rows.shape[0] else 0.0
            warnings.warn(
                f"{type(self).__name__}.{method}: the free energy of {int(bad.sum())} of "
                f"{F.shape[0]} rows overflowed float64 (their largest absolute value is "
                f"{largest:.3g}; the training data's largest feature mean was "
                f"{float(np.max(np.abs(self._training.data_mean()), initial=0.0)):.3g}), "
                "so their log-likelihood is -inf: they are too far from the data scale "
                "the model was fitted to. If the data are in other units than the "
                "training data, rescale or standardise them the same way (for example "
                "with the StandardScaler fitted on the training data).",
                RuntimeWarning, stacklevel=3)
        return F

    def _free_energy_given_field(self, X, hidden_field):
        """Free energy of the rows of X whose hidden field is ``hidden_field``.

        The visible term in the dtype of the field, the hidden layer's
        log-partition terms (and their row sums) in float64.
        """
        b = self.intercept_visible_.astype(hidden_field.dtype, copy=False)
        hidden = self._hidden_unit.log_partition(hidden_field)
        return -self._visible_unit.energy_term(X, b) - hidden

    def _base_visible_bias(self):
        """Visible biases of the independent model fitted to the data marginals."""
        return self._visible_unit.initial_bias(self._training.data_mean())

    def _parameter_fingerprint(self):
        digest = hashlib.blake2b(digest_size=16)
        for array in ((self.components_, self.intercept_visible_, self.intercept_hidden_)
                      + self._visible_unit.learned_arrays()):
            digest.update(np.ascontiguousarray(array).tobytes())
        return digest.hexdigest()

    def log_partition(self, method="auto", *, n_chains=100, n_betas=10000, random_state=None):
        """Log of the partition function Z, with its standard error.

        Parameters
        ----------
        method : {"auto", "exact", "ais"}, default="auto"
            "exact" enumerates the smaller layer in chunks (the other is
            summed out in closed form); "ais" uses annealed importance
            sampling from the independent model of the data marginals;
            "auto" is exact when that costs at most ``AUTO_EXACT_MAX_FLOPS``
            floating-point operations, AIS otherwise.
        n_chains : int, default=100
            AIS runs (ignored for exact).
        n_betas : int, default=10000
            AIS inverse temperatures, including 0 and 1 (ignored for exact).
        random_state : int, RandomState instance or None, default=None
            Seed for AIS; None derives one from the fitted model, so repeated
            calls give the same answer.

        Returns
        -------
        log_z : float
            Estimate of log Z in nats.
        std_error : float
            Its standard error (0.0 for exact).
        """
        check_is_fitted(self)
        check_fitted_state(self)
        if method not in ("auto", "exact", "ais"):
            raise ValueError(f"method must be 'auto', 'exact' or 'ais', got {method!r}.")
        if not (isinstance(n_chains, Integral) and n_chains >= 2):
            raise ValueError(f"n_chains must be an integer >= 2 (for a standard error), "
                             f"got {n_chains!r}.")
        if not (isinstance(n_betas, Integral) and n_betas >= 3):
            raise ValueError(f"n_betas must be an integer >= 3, got {n_betas!r}.")
        return self._log_partition(method, n_chains, n_betas, random_state)

    def _log_partition(self, method="auto", n_chains=100, n_betas=10000, random_state=None):
        """log_partition of a model whose state and arguments are already checked."""
        layers = (self._visible_unit, self._hidden_unit)
        if method == "auto":
            _, flops = exact_cost(self.components_.shape[1], self.n_components, *layers)
            method = "exact" if flops <= AUTO_EXACT_MAX_FLOPS else "ais"
        entropy = (self._training.entropy if random_state is None
                   else draw_entropy(random_state))
        # A string key, because skops stores dicts as JSON objects.
        key = f"{method}/{n_chains}/{n_betas}/{entropy}/{self._parameter_fingerprint()}"
        cache = self._training.log_partition_cache
        if key not in cache:
            params = (self.components_, self.intercept_visible_, self.intercept_hidden_)
            if method == "exact":
                cache[key] = (exact_log_partition(*params, *layers), 0.0)
            else:
                cache[key] = ais_log_partition(
                    *params, *layers, self._base_visible_bias(), n_chains=n_chains,
                    n_betas=n_betas, rng=generator_for(entropy, AIS),
                    n_threads=self._check_n_jobs())
        return cache[key]

    def score_samples(self, X):
        """Log-likelihood log p(x) = -F(x) - log Z of each sample, in nats.

        log Z comes from ``log_partition()`` (exact for small models, AIS
        otherwise) and is cached, so repeated calls agree exactly.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        log_p : ndarray of shape (n_samples,)
        """
        # One check of the model and the input, then the unchecked pieces.
        X = self._check_fitted_input(X)
        F = self._warn_if_overflowed(self._free_energy(X), X, "score_samples")
        log_z, _ = self._log_partition()
        return -F - log_z

    def score(self, X, y=None):
        """Mean log-likelihood of X in nats per sample (higher is better).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : Ignored

        Returns
        -------
        score : float
        """
        return float(np.mean(self.score_samples(X)))
