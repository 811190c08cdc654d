"""Likelihoods: free energies, the log-partition function and scores.

A mixin of ``BaseRBM`` written against the layer verbs: the visible and
hidden layers give the free energy's terms, ``rbm._partition`` estimates
log Z (exactly or by AIS), and estimates are cached per parameter values.
"""

import math
import time
import warnings
from numbers import Integral

import numpy as np
import scipy.sparse as sp
from sklearn.utils.validation import check_is_fitted

from ._partition import (IMPROPER_GAUSSIAN_PAIR, MAX_EXACT_STATES, LogPartitionEstimate,
                         ais_log_partition, exact_cost, exact_log_partition, exact_model_samples,
                         gaussian_pair_moments, gibbs_at_model, is_gaussian_pair,
                         contents_digest, parameter_fingerprint, warn_of_few_effective_runs,
                         reverse_ais_log_partition)
from ._properness import improper_description
from ._state import (check_chain_memory, check_energy_scale, check_fitted_state,
                     log_partition_entry_problem)
from ._streams import AIS, draw_entropy, generator_for
from ._units._layer import FAR_ROWS_ADVICE, user_stacklevel

#: spawn_key (AIS, REVERSE_AIS_STREAM) seeds reverse AIS, apart from forward AIS's (AIS,).
REVERSE_AIS_STREAM = 1

#: ``log_partition(method="auto")`` enumerates exactly when the enumeration
#: costs at most this many floating-point operations (a few seconds).
AUTO_EXACT_MAX_FLOPS = 5e10
#: AIS runs and inverse temperatures of ``log_partition``, ``score`` and ``score_samples``.
DEFAULT_N_CHAINS, DEFAULT_N_BETAS = 100, 10000
#: Gibbs sweeps at the model per AIS temperature that the reverse chains of
#: ``reverse_start="chains"`` take after the forward runs end.
REVERSE_BURN_IN_PER_BETA = 0.1


#: Largest |log Z| an AIS estimate is taken for: beyond 2**52 float64 cannot
#: resolve log-likelihoods to within a nat (``MAX_ENERGY_SCALE`` of training).
_USABLE_LOG_Z = 2.0 ** 52


def improper_remedy(model):
    """What to do about a model shown improper (``rbm._properness``), in every
    message about one: refit with ``keep_proper`` where the model lacks it."""
    if getattr(model, "keep_proper", True):  # (checked between passes only)
        return ("Refit it with a lower learning rate or more weight decay, or use binary "
                "hidden units.")
    return ("Refit it with keep_proper=True (the default; training then shrinks the weights "
            "wherever a check finds them past the bound), a lower learning rate or more "
            "weight decay, or use binary hidden units.")


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
                f"so their log-likelihood is -inf: {FAR_ROWS_ADVICE}",
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

    def _learned_parameters(self):
        """Every array log Z depends on: the weights, biases and the layers' own."""
        return ((self.components_, self.intercept_visible_, self.intercept_hidden_)
                + self._visible_unit.learned_arrays() + self._hidden_unit.learned_arrays())

    def _parameter_fingerprint(self):
        """The cache keys' name for the current parameters (``parameter_fingerprint``).

        Entries that a model saved before the fingerprint covered shapes,
        dtypes and layer types (the plain digest of the arrays' contents, as
        these models' keys were) are renamed to it on the first look-up, so a
        loaded model does not run its AIS again.
        """
        fingerprint = parameter_fingerprint(self._learned_parameters(),
                                            (self._visible_unit, self._hidden_unit))
        keys = list(self._training.log_partition_cache)  # (one C call: other threads may add)
        if keys and not any(key.endswith(fingerprint) for key in keys):
            legacy = contents_digest(self._learned_parameters())
            for key in keys:
                entry = (self._training.log_partition_cache.pop(key, None)
                         if key.endswith("/" + legacy) else None)
                if entry is not None:
                    self._training.log_partition_cache[key[: -len(legacy)] + fingerprint] = entry
        return fingerprint

    def log_partition(self, method="auto", *, n_chains=DEFAULT_N_CHAINS,
                      n_betas=DEFAULT_N_BETAS, random_state=None, bracket=False,
                      reverse_start="auto"):
        """Log of the partition function Z, with its standard error and how it was obtained.

        Parameters
        ----------
        method : {"auto", "exact", "ais"}, default="auto"
            "exact" enumerates the smaller layer in chunks (the other is
            summed out in closed form); "ais" uses annealed importance
            sampling from the independent model of the data marginals;
            "auto" is exact when that costs at most ``AUTO_EXACT_MAX_FLOPS``
            floating-point operations over at most ``MAX_EXACT_STATES``
            states, AIS otherwise.
        n_chains : int, default=100
            AIS runs, forward and reverse (ignored for exact).
        n_betas : int, default=10000
            AIS inverse temperatures, including 0 and 1 (ignored for exact).
        random_state : int, RandomState instance or None, default=None
            Seed for AIS; None derives one from the fitted model, so repeated
            calls give the same answer.
        bracket : bool, default=False
            With AIS, also run reverse AIS, so that the result brackets log Z
            from both sides (``lower``, ``upper``); reverse AIS costs about
            as much as forward AIS (with ``reverse_start="chains"`` the
            forward runs are made again for their end states, cached or not,
            and ``n_betas // 10`` sweeps: a bracket then costs about two
            forward runs either way).  Forward AIS estimates Z without
            bias, so it errs low on log Z; reverse AIS errs high.
        reverse_start : {"auto", "exact", "chains"} or array-like of shape \
                (n_samples, n_features), default="auto"
            Where the reverse chains start, which must be the model's own
            distribution for the upper bound to hold.  "exact": exact draws
            by enumeration (small models only; the upper side is then a
            guaranteed stochastic bound); "chains": the forward runs' end
            states, drawn again in proportion to their importance weights,
            after ``n_betas // 10`` further Gibbs sweeps at the model
            (approximate: an upper side below the truth is possible when the
            chains miss part of the distribution; a reverse estimate below
            the forward one by more than their standard errors, or an
            inverted bracket, is a sign of it);
            an array: samples of the model you drew yourself (for example
            by a long ``gibbs`` run), one reverse run per row; "auto":
            "exact" when enumeration is as cheap as for ``method="auto"``,
            else "chains".

        Returns
        -------
        estimate : LogPartitionEstimate
            Unpacks as ``(log_z, std_error)``: the estimate in nats (exact, or
            forward AIS) and its standard error (0.0 for exact; inf where
            fewer than 10 AIS runs (half, of fewer than 20) effectively carry
            the importance weights, with a RuntimeWarning when the estimate
            is computed, not when it is read from the cache: raise
            ``n_betas`` and ``n_chains``).  Its
            attributes say how it was obtained (``method``, ``n_chains``,
            ``n_betas``, ``label``) and bound log Z: ``lower`` and ``upper``
            at 99% confidence (both ``log_z`` when exact; ``upper`` is inf
            for AIS without ``bracket``), ``interval(confidence)`` at other
            levels, and ``reverse_log_z``, ``reverse_std_error``.  The
            mean log-likelihood of X then lies in
            ``-free_energy(X).mean() - upper`` to
            ``-free_energy(X).mean() - lower``.
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
        if not isinstance(bracket, (bool, np.bool_)):
            raise ValueError(f"bracket must be True or False, got {bracket!r}.")
        if isinstance(reverse_start, str):
            if reverse_start not in ("auto", "exact", "chains"):
                raise ValueError("reverse_start must be 'auto', 'exact', 'chains' or an array "
                                 f"of model samples, got {reverse_start!r}.")
        else:
            reverse_start = self._reverse_start_samples(reverse_start)
        if self._resolved_method(method) == "ais":
            check_chain_memory(self, n_chains, f"log_partition(n_chains={n_chains})",
                               "use at most {} chains")
        return self._log_partition(method, n_chains, n_betas, random_state, bracket=bracket,
                                   reverse_start=reverse_start)

    def _reverse_start_samples(self, X):
        """Model samples given for reverse AIS, as the kernel's float64 rows s(v)."""
        V = self._check_fitted_input(X)
        if V.shape[0] < 2:
            raise ValueError(f"reverse_start needs at least 2 samples (for a standard "
                             f"error), got {V.shape[0]}.")
        V = V.toarray() if sp.issparse(V) else V
        return np.ascontiguousarray(
            self._visible_unit.to_kernel(np.asarray(V, dtype=np.float64)), dtype=np.float64)

    def _resolved_method(self, method):
        """ "exact" or "ais" for a method of ``log_partition`` ("auto" by its cost rule)."""
        if method != "auto":
            return method
        return "exact" if self._enumeration_is_cheap() else "ais"

    def _enumeration_is_cheap(self):
        """Whether exact log Z costs at most ``AUTO_EXACT_MAX_FLOPS`` and enumerates
        at most ``MAX_EXACT_STATES`` states.

        Both bounds: a layer of few units beside 2**27 visible states (real-valued
        hidden units) costs few operations but is more than exact enumeration takes.
        """
        n_states, flops = exact_cost(self.components_.shape[1], self.n_components,
                                     self._visible_unit, self._hidden_unit)
        return flops <= AUTO_EXACT_MAX_FLOPS and n_states <= MAX_EXACT_STATES

    def _resolved_reverse_start(self, reverse_start):
        if not (isinstance(reverse_start, str) and reverse_start == "auto"):
            return reverse_start
        return "exact" if self._enumeration_is_cheap() else "chains"

    def _log_partition(self, method="auto", n_chains=DEFAULT_N_CHAINS, n_betas=DEFAULT_N_BETAS,
                       random_state=None, bracket=False, reverse_start="auto", warn=True):
        """log_partition of a model whose state and arguments are already checked
        (``warn=False``: no warning of too few effective AIS runs, for the
        monitor of ``fit``, whose history shows the inf standard error)."""
        check_energy_scale(self)
        method = self._resolved_method(method)
        entropy = (self._training.entropy if random_state is None
                   else draw_entropy(random_state))
        # A string key, because skops stores dicts as JSON objects.
        settings = f"{n_chains}/{n_betas}/{entropy}/{self._parameter_fingerprint()}"
        key = f"{method}/{settings}"
        cache = self._training.log_partition_cache
        if method == "exact":
            entry = cache.get(key) or self._cache_log_partition(
                key, exact_log_partition(*self._float64_parameters(), self._visible_unit,
                                         self._hidden_unit), 0.0)
            return LogPartitionEstimate(*entry, "exact")
        improper = self._cached_improperness()
        if improper:  # log Z is +inf, exactly: no AIS run estimates it
            if warn:  # (fit's monitor shows -inf in history_ instead)
                warnings.warn(f"{type(self).__name__} is improper: {improper}; score and "
                              f"score_samples are -inf. {improper_remedy(self)}",
                              RuntimeWarning, stacklevel=user_stacklevel())
            return LogPartitionEstimate(math.inf, 0.0, "exact")
        reverse, reverse_n_chains, start_name = None, None, None
        if bracket:
            start = self._resolved_reverse_start(reverse_start)
            start_name = start if isinstance(start, str) else "samples"
            reverse_key = f"reverse-{start_name}/{settings}"
            reverse = cache.get(reverse_key) if isinstance(start, str) else None
            if reverse is None:
                reverse = self._reverse_ais(start, key, n_chains, n_betas, entropy)
                if isinstance(start, str):
                    self._cache_log_partition(reverse_key, *reverse)
            reverse_n_chains = n_chains if isinstance(start, str) else len(start)
        forward = cache.get(key)
        if forward is None:
            forward = self._cached_forward_ais(key, n_chains, n_betas, entropy, warn)[0]
        return LogPartitionEstimate(*forward, "ais", n_chains=n_chains, n_betas=n_betas,
                                    reverse=reverse, reverse_n_chains=reverse_n_chains,
                                    reverse_start=start_name)

    def _check_proper(self, consequence, missing=None):
        """ValueError where the distribution to draw from does not exist.

        That is a Gaussian pair (Gaussian visible and hidden units) whose
        couplings outgrow the visible precision: the visible marginal's
        precision P is then not positive definite, and chains run off to
        infinity.  ``missing`` (rows' masks of missing visible entries) asks
        about the conditionals p(missing | observed) instead, whose precision
        is P's block of the missing entries, once per distinct mask; None asks
        about the whole model.  The message says the ``consequence``.
        """
        if not is_gaussian_pair(self._visible_unit, self._hidden_unit):
            self._check_no_improper_direction(consequence, missing)
            return
        # Assigned weights of 1e200 overflow P's products to inf and NaN: the
        # Cholesky below then refuses the model, without NumPy's warnings.
        with np.errstate(over="ignore", invalid="ignore"):
            P = gaussian_pair_moments(*self._float64_parameters(), self._visible_unit)[0]
        masks = (np.ones((1, P.shape[0]), dtype=bool) if missing is None
                 else np.unique(missing[missing.any(axis=1)], axis=0))
        for mask in masks:
            block = P[np.ix_(mask, mask)]
            try:
                if not np.all(np.isfinite(block)):
                    raise np.linalg.LinAlgError("overflowed")
                np.linalg.cholesky(block)
            except np.linalg.LinAlgError:
                # (A row with nothing observed is drawn from the model itself.)
                what = ("it" if mask.all() else
                        f"its conditional distribution of features {np.flatnonzero(mask).tolist()} "
                        "given the others")
                raise ValueError(
                    f"{type(self).__name__} is improper: {IMPROPER_GAUSSIAN_PAIR}, so {what} "
                    f"{consequence}. Refit it with a lower learning rate or more weight decay, "
                    "or use ReLU or binary hidden units.") from None

    def _cached_improperness(self):
        """``improper_description`` of the model, or "" where the search found no
        direction.  Its verdict is cached with the log Z estimates, as a lower
        bound on log Z (+inf: improper; -inf: nothing known) under the
        parameters' fingerprint: a proper model's search can take a second at
        500 x 784, a proof takes a step or two and is found again for its words."""
        key = f"improper/{self._parameter_fingerprint()}"
        cache = self._training.log_partition_cache
        entry = cache.get(key)  # (one read: another thread may clear the cache)
        if entry is not None and entry[0] != math.inf:
            return ""
        what = improper_description(self.components_, self._visible_unit, self._hidden_unit)
        cache[key] = (math.inf if what else -math.inf, 0.0)
        return what or ""

    def _record_no_improper_direction(self, fingerprint=None):
        """Cache that the search found no improper direction in the current
        parameters (training's own check did: ``rbm._training.remember_properness``),
        as ``_cached_improperness`` would.  ``fingerprint``: theirs, where the
        caller has it (``_parameter_fingerprint``)."""
        fingerprint = self._parameter_fingerprint() if fingerprint is None else fingerprint
        self._training.log_partition_cache[f"improper/{fingerprint}"] = (-math.inf, 0.0)

    def _check_no_improper_direction(self, consequence, missing):
        """ValueError where a direction of the hidden units proves the model, or
        its conditional distribution of a row's missing entries (``missing``, as
        ``_check_proper``), improper (``rbm._properness``): real-valued hidden
        units with unbounded visible ones only, Gaussian pairs aside.

        The whole model's verdict is cached (``_cached_improperness``), and is
        asked first: a conditional's couplings K_F = W_F D_F W_F.T fall short
        of the model's K by a positive semi-definite matrix, so a conditional
        can be improper only where the model is.  Callers that sweep chains
        (``_clamped_chains``) ask at every sweep, so a proper model costs one
        search per set of parameters.  Finding no direction proves nothing:
        ``_warn_of_runaway_chains`` watches the chains themselves.
        """
        what = self._cached_improperness()
        if not what:
            return
        if missing is not None:
            for mask in np.unique(missing[missing.any(axis=1)], axis=0):
                if mask.all():
                    break  # (a row with nothing observed: the model itself)
                what = improper_description(self.components_, self._visible_unit,
                                            self._hidden_unit, mask)
                if what is not None:
                    raise ValueError(
                        f"{type(self).__name__}'s conditional distribution of features "
                        f"{np.flatnonzero(mask).tolist()} given the others is improper: {what}"
                        f" (the couplings of those features' columns of W), so it "
                        f"{consequence}. {improper_remedy(self)}")
            else:
                return
        raise ValueError(
            f"{type(self).__name__} is improper: {what}, so it {consequence}. "
            f"{improper_remedy(self)}")

    def _warn_of_runaway_chains(self, S, call):
        """RuntimeWarning where chains (kernel rows S) ended far beyond the data
        (the visible layer's ``runaway_states``): the model is then most
        likely improper, and their states are samples of nothing.

        ``_check_proper`` refuses the improper Gaussian pairs beforehand; with
        real-valued hidden units properness has no closed form, and an
        improper ReLU model's ``sample`` returned values of 6.6e177 without a
        word (review of combined options).
        """
        if getattr(self._hidden_unit, "discrete", False):
            return  # (binary hidden units bound every visible field: always proper)
        what = self._visible_unit.runaway_states(S, self._training.data_mean())
        if what is not None:
            warnings.warn(
                f"{type(self).__name__}.{call}: {what}, so the model is most likely improper "
                "(with Gaussian visible units and real-valued hidden units, couplings that "
                "outgrow the visible precision 1 / sigma**2 leave it no distribution) and "
                "these are no samples of it. Refit with a lower learning rate or more weight "
                "decay, or use binary hidden units.",
                RuntimeWarning, stacklevel=user_stacklevel())

    def _float64_parameters(self):
        return tuple(np.asarray(a, dtype=np.float64) for a in
                     (self.components_, self.intercept_visible_, self.intercept_hidden_))

    def _cache_log_partition(self, key, log_z, std_error):
        """(log_z, std_error), cached under ``key`` where it is an entry the
        cache's check accepts (``log_partition_entry_problem``).  An AIS run
        whose chains ran away to NaN or inf (warned of) is not kept: cached, it
        left a model that every later call refused; the next call runs it
        again, to the same answer (its seed is the model's)."""
        entry = (log_z, std_error)
        if log_partition_entry_problem(
                key, entry, is_gaussian_pair(self._visible_unit, self._hidden_unit)) is None:
            self._training.log_partition_cache[key] = entry
        return entry

    def _cached_forward_ais(self, key, n_chains, n_betas, entropy, warn=True):
        """((log Z, standard error), end states, log weights) of a forward AIS
        run, its estimate cached under ``key`` (``_cache_log_partition``), after
        a RuntimeWarning where its chains ran away or (with ``warn``) too few
        runs carry its weights."""
        log_z, std_error, S, log_w = self._forward_ais(n_chains, n_betas, entropy,
                                                       return_states=True)
        self._cache_log_partition(key, log_z, std_error)
        # Runaway chains end NaN, beyond any energy float64 resolves, or (an
        # improper model whose drift the temperatures leave short) merely far
        # beyond the data: none is an estimate of anything.
        what = (f"its estimate, {log_z:.6g}, is no number float64 resolves"
                if not abs(log_z) <= _USABLE_LOG_Z
                else self._visible_unit.runaway_states(S, self._training.data_mean()))
        if what is not None:
            warnings.warn(
                f"{type(self).__name__}: AIS gave no usable estimate of log Z ({what}): "
                "its chains ran away, so the model is most likely "
                "improper (with Gaussian visible units and real-valued hidden units, "
                "couplings that outgrow the visible precision 1 / sigma**2 make log Z "
                "+inf), and score, score_samples and log_partition have no meaningful value. "
                "Refit with a lower learning rate or more weight decay.",
                RuntimeWarning, stacklevel=user_stacklevel())
        elif warn:  # (a runaway's weights say nothing either: one warning is enough)
            warn_of_few_effective_runs(
                type(self).__name__, log_w, n_betas,
                users="score and score_samples (log p(x) = -free_energy(x) - log Z)")
        return (log_z, std_error), S, log_w

    def _forward_ais(self, n_chains, n_betas, entropy, return_states=False):
        """(log Z, standard error[, end states]) of forward AIS with the model's seed."""
        with self._kernel_threads(n_chains) as n_threads:
            return ais_log_partition(
                *self._float64_parameters(), self._visible_unit, self._hidden_unit,
                self._base_visible_bias(), n_chains=n_chains, n_betas=n_betas,
                rng=generator_for(entropy, AIS), n_threads=n_threads,
                return_states=return_states)

    def _reverse_ais(self, start, forward_key, n_chains, n_betas, entropy):
        """(log Z, standard error) of reverse AIS from ``start`` ("exact", "chains" or rows)."""
        params, layers = self._float64_parameters(), (self._visible_unit, self._hidden_unit)
        base_bias = self._base_visible_bias()
        # Its own random numbers, independent of the forward runs'.
        rng = np.random.Generator(np.random.SFC64(
            np.random.SeedSequence(entropy, spawn_key=(AIS, REVERSE_AIS_STREAM))))
        if isinstance(start, np.ndarray):
            S = start
        elif start == "exact":
            n_states, _ = exact_cost(self.components_.shape[1], self.n_components, *layers)
            if n_states > MAX_EXACT_STATES:
                raise ValueError(
                    f"reverse_start='exact' enumerates {n_states} states (> "
                    f"{MAX_EXACT_STATES}); use reverse_start='chains' or pass samples of "
                    "the model for a model this large.")
            S = exact_model_samples(*params, *layers, n_chains, rng)
        else:
            _, S, log_w = self._cached_forward_ais(forward_key, n_chains, n_betas, entropy)
            # Unweighted, the end states follow the annealing path's law, not
            # the model's; drawn again in proportion to their importance
            # weights they approximate the model (sampling-importance
            # resampling), and the Gibbs sweeps then spread the repeats.  On
            # 200 random tiny models this raised the coverage of the 99%
            # bracket from 192 to 197 at 100 temperatures.
            p = np.exp(log_w - log_w.max())
            S = np.ascontiguousarray(S[rng.choice(len(S), size=len(S), p=p / p.sum())])
            with self._kernel_threads(len(S)) as n_threads:
                gibbs_at_model(*params, self._visible_unit, base_bias, S,
                               int(REVERSE_BURN_IN_PER_BETA * n_betas), rng, n_threads,
                               self._hidden_unit)
        with self._kernel_threads(len(S)) as n_threads:
            return reverse_ais_log_partition(*params, *layers, base_bias, S, n_betas, rng,
                                             n_threads)

    @property
    def log_partition_method_(self):
        """How ``score`` and ``score_samples`` obtain log Z for this model: "exact" or "ais".

        "exact" when enumerating the smaller layer costs at most
        ``AUTO_EXACT_MAX_FLOPS`` floating-point operations over at most
        ``MAX_EXACT_STATES`` states, "ais" otherwise
        (``log_partition(method="auto")``).  Known without computing log Z.
        """
        check_is_fitted(self)
        check_fitted_state(self)  # as every method: a damaged model is named, not a raw error
        return self._resolved_method("auto")

    @property
    def log_partition_(self):
        """The log Z that ``score`` and ``score_samples`` use, with how it was obtained.

        A ``LogPartitionEstimate`` (see ``log_partition``): ``method``
        ("exact" or "ais"), the standard error, and, after a
        ``log_partition(bracket=True)`` call with the default AIS settings,
        the reverse-AIS bracket; ``label`` says it in words.  None until log Z
        has been computed for the current parameters (by ``score``,
        ``score_samples``, ``log_partition()`` with its defaults, or the
        monitor of ``fit`` where log Z is exact); every change of the
        parameters forgets it.
        """
        check_is_fitted(self)
        check_fitted_state(self)
        method = self._resolved_method("auto")
        settings = (f"{DEFAULT_N_CHAINS}/{DEFAULT_N_BETAS}/{self._training.entropy}/"
                    f"{self._parameter_fingerprint()}")
        cache = self._training.log_partition_cache
        if f"{method}/{settings}" not in cache:
            return None
        reverse_starts = [start for start in ("exact", "chains")
                          if f"reverse-{start}/{settings}" in cache]
        return self._log_partition(method, bracket=bool(reverse_starts),
                                   reverse_start=(reverse_starts or ["auto"])[0])

    def score_samples(self, X):
        """Log-likelihood log p(x) = -F(x) - log Z of each sample, in nats.

        log Z comes from ``log_partition()`` with its defaults and is cached,
        so repeated calls agree exactly.  It is exact where enumerating the
        smaller layer is cheap (``log_partition_method_ == "exact"``);
        otherwise it is a forward AIS estimate (100 runs, 10,000
        temperatures), which errs low, so these values err high, by about
        the standard error or more.  ``log_partition_`` says which was used,
        with its standard error; ``log_partition(bracket=True)`` bounds log Z
        from both sides (and so these values, shifted by the same constant).
        A ``BernoulliRBM`` row of probabilities (values strictly between 0
        and 1) is no state of the model: its value is -F(x) - log Z all the
        same, but not the log-probability of anything.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        log_p : ndarray of shape (n_samples,)
        """
        # One check of the model and the input, then the unchecked pieces.
        return self._scores_of_rows(self._check_fitted_input(X))

    def _scores_of_rows(self, X):
        """``score_samples`` of rows the fitted model has validated already."""
        F = self._warn_if_overflowed(self._free_energy(X), X, "score_samples")
        log_z, _ = self._log_partition_announced()
        return -F - log_z

    def _log_partition_announced(self):
        """``_log_partition()`` with its defaults; at ``verbose >= 1`` an AIS run
        that is not cached yet (tens of seconds on large models) is announced
        before it starts and reported with its time when it ends."""
        if not self.verbose or self._resolved_method("auto") == "exact" \
                or self.log_partition_ is not None:
            return self._log_partition()
        name = type(self).__name__
        print(f"[{name}] estimating log Z by AIS ({DEFAULT_N_CHAINS} runs x "
              f"{DEFAULT_N_BETAS} temperatures), once for these parameters...", flush=True)
        start = time.perf_counter()
        estimate = self._log_partition()
        print(f"[{name}] log Z = {estimate[0]:.4f} ({estimate.label}) in "
              f"{time.perf_counter() - start:.1f} s", flush=True)
        return estimate

    def score(self, X, y=None):
        """Mean log-likelihood of X in nats per sample (higher is better).

        Uses the log Z of ``score_samples``: exact for small models, a
        forward AIS estimate otherwise (an estimate that tends to be too
        high); ``log_partition_`` says which, with its standard error.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : Ignored

        Returns
        -------
        score : float
        """
        return float(np.mean(self.score_samples(X)))
