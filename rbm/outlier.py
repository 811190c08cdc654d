"""Outlier detection with an RBM's density, in scikit-learn's conventions."""

import warnings
from contextlib import contextmanager
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, OutlierMixin, _fit_context, clone
from sklearn.frozen import FrozenEstimator
from sklearn.pipeline import Pipeline
from sklearn.utils import get_tags
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils._metadata_requests import request_is_alias
from sklearn.utils.metadata_routing import _routing_enabled
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, has_fit_parameter

from ._bernoulli import BernoulliRBM
from ._params import CachedParamNames, DefaultEstimatorParams, ParamsFilledOnLoad
from ._rollback import unchanged_on_error
from ._units._layer import user_stacklevel
from ._weights import check_sample_weight


def _weight_parameter(estimator, sample_weight):
    """The keyword that passes ``sample_weight`` to the estimator's ``fit``: to a
    Pipeline's last step (``<name>__sample_weight``, scikit-learn's routing of
    step parameters, or under metadata routing the Pipeline's own routing),
    else to the estimator itself."""
    name, final = None, estimator
    if isinstance(estimator, Pipeline) and estimator.steps:
        name, final = estimator.steps[-1]
    if final is None or final == "passthrough" or not has_fit_parameter(final,
                                                                        "sample_weight"):
        raise ValueError(
            f"sample_weight was given, but the fit of {type(final).__name__} takes no "
            "sample_weight; use a density model that does (any density model of this "
            "library, alone or last in a Pipeline) or leave sample_weight out.")
    if name is None:
        return {"sample_weight": sample_weight}
    if _routing_enabled():
        return _routed_weight_parameter(name, final, sample_weight)
    return {f"{name}__sample_weight": sample_weight}


def _routed_weight_parameter(name, final, sample_weight):
    """The keyword that passes ``sample_weight`` to a Pipeline under metadata
    routing, where ``<step>__sample_weight`` is refused: the Pipeline routes
    a plain ``sample_weight`` (or its alias) to the steps that request it."""
    request = final.get_metadata_routing().fit.requests.get("sample_weight")
    if request is True:
        return {"sample_weight": sample_weight}
    if request_is_alias(request):  # not the "$WARN$"-style sentinels, also strings
        return {request: sample_weight}
    raise ValueError(
        f"sample_weight was given and metadata routing is enabled, but the Pipeline's "
        f"last step {name!r} ({type(final).__name__}) does not request it; call "
        f"set_fit_request(sample_weight=True) on that step so that the Pipeline "
        f"passes the weights to it.")


def _density_step(estimator):
    """The model that scores rows: a Pipeline's last step, else the estimator itself."""
    if isinstance(estimator, Pipeline) and estimator.steps:
        return estimator.steps[-1][1]
    return estimator


def _is_passthrough(step):
    """Whether a Pipeline step passes X on unchanged ("passthrough" or None)."""
    return step is None or (isinstance(step, str) and step == "passthrough")


def _first_step(estimator):
    """The step that reads X: a Pipeline's first step that is not
    "passthrough" or None (the Pipeline's own ``n_features_in_`` asked a
    "passthrough" string for it), else the estimator itself."""
    if isinstance(estimator, Pipeline):
        for _, step in estimator.steps:
            if not _is_passthrough(step):
                return step
    return estimator


def _through_earlier_steps(estimator, X):
    """X as a Pipeline's last step gets it: through the fitted steps before it,
    skipping "passthrough" and None (X as it is where there are none: the
    empty Pipeline ``estimator[:-1]`` has no ``transform``); X itself for an
    estimator that is not a Pipeline."""
    if isinstance(estimator, Pipeline):
        for _, step in estimator.steps[:-1]:
            if not _is_passthrough(step):
                X = step.transform(X)
    return X


def _takes_gaps(model):
    """Whether ``model`` scores rows with missing entries (``missing="impute"``)."""
    return getattr(model, "missing", None) == "impute" and hasattr(model, "_may_have_gaps")


def _tie_groups(values, tie):
    """Group numbers (0, 1, ...) of the sorted ``values``: a value more than
    ``tie`` above its group's first value starts a new group.

    Measured from the group's first value, not from the previous one, so a
    group spans at most ``tie``: steps of ``tie`` or less between neighbours
    (dense scores) do not chain into one group of them all.  Runs of
    neighbours each within ``tie`` and spanning more (rare: ``tie`` is a few
    thousand ulp) are split one group at a time.
    """
    # The first value starts a group whatever it is; -inf scores (rows far
    # out) are one group (-inf - -inf is NaN, which is no step).
    with np.errstate(invalid="ignore"):
        starts = np.flatnonzero(np.concatenate([[True], np.diff(values) > tie]))
        ends = np.append(starts[1:], values.shape[0])
        wide = values[ends - 1] - values[starts] > tie
    new = np.zeros(values.shape[0], dtype=bool)
    new[starts] = True
    for start, end in zip(starts[wide], ends[wide]):
        first = start
        while first < end:
            new[first] = True
            first = start + int(np.searchsorted(values[start:end], values[first] + tie,
                                                side="right"))
    return np.cumsum(new) - 1


def _weighted_linear_quantile(values, weights, q, tie):
    """The q-quantile (q in [0, 1]) of ``values`` weighted by positive ``weights``.

    NumPy's default ("linear") rule generalised to weights: the sorted values
    sit at the centres of their cumulative weights, scaled so that the first
    is at 0 and the last at 1, and the quantile interpolates linearly between
    them.  Equal weights put them at k / (n - 1), NumPy's own positions (that
    case is computed by ``np.percentile`` itself, so constant weights give
    the unweighted result bit for bit); only relative weights matter; and
    the result moves continuously with positive weights (NumPy's weighted
    rule, "inverted_cdf", jumps by a whole order statistic when one weight
    of many equal ones grows by 1e-9).  Not as a weight goes to 0: the
    smallest and largest values stay the ends of the interpolation whatever
    their weight, so a row of weight 1e-12 at an extreme value is not the
    row left out (values [-100, -2, -1, 0], weights [1e-12, 1, 1, 1]:
    -51 at q = 0.1, and -1.8 without the first row; the effect fades as rows
    are added).  Values within ``tie`` of their group's first value (see
    ``_tie_groups``) are one value to rounding: they share their weight
    equally, so the order in which such rows come (which decides where each
    one's centre lies) does not matter.
    """
    if np.all(weights == weights[0]):
        return float(np.percentile(values, 100.0 * q))
    order = np.argsort(values, kind="stable")
    values, weights = values[order], weights[order]
    group = _tie_groups(values, tie)
    weights = (np.bincount(group, weights) / np.bincount(group))[group]
    centres = np.cumsum(weights) - weights / 2
    # (non-decreasing also where rounding swallows a tiny weight)
    centres = np.maximum.accumulate(centres)
    positions = (centres - centres[0]) / (centres[-1] - centres[0])
    return float(np.interp(q, positions, values))


@contextmanager
def named_for_detector(detector, method, model):
    """Errors of the density ``model`` inside a call of the detector's ``method``
    name the detector the user called: the model's own messages name only
    itself ("X has 4 features, but BernoulliRBM is expecting 6"), which the
    user of ``RBMOutlierDetector()`` never named.  The message is prefixed
    (the exception, its type and traceback otherwise as raised); one that
    already names the detector is left alone."""
    try:
        yield
    except (ValueError, TypeError) as error:
        name = type(detector).__name__
        if not (len(error.args) == 1 and isinstance(error.args[0], str)) or (
                name in error.args[0]):
            raise
        model_name = type(model).__name__
        which = (f"the default {model_name}" if detector.estimator is None else model_name)
        error.args = (f"{name}.{method} (its density model, {which}): {error.args[0]}",)
        raise


class RBMOutlierDetector(DefaultEstimatorParams, CachedParamNames, ParamsFilledOnLoad,
                         OutlierMixin, BaseEstimator):
    """Flag samples the RBM finds improbable.

    Fits an RBM to (mostly normal) data and scores each sample by how
    probable the model finds it.  Follows scikit-learn's outlier detectors
    (e.g. :class:`~sklearn.ensemble.IsolationForest`): ``score_samples`` is
    higher for more normal samples, ``decision_function`` is
    ``score_samples - offset_`` (negative for outliers), and ``predict``
    returns +1 for inliers and -1 for outliers, with ``offset_`` chosen so
    that about a fraction ``contamination`` of the training samples are
    outliers: fewer where training scores tie at the threshold, as with
    binary data, where many rows share a pattern (a sample scoring as
    the threshold is an inlier).

    Parameters
    ----------
    estimator : estimator or None, default=None
        The density model, cloned before fitting: any density model of this
        library (``BernoulliRBM``, ``GaussianBernoulliRBM``,
        ``CategoricalRBM``; not the supervised ``RBMClassifier`` or
        ``RBMImputer``), or an estimator with ``fit`` and
        ``score_samples`` (such as a Pipeline that scales data into an
        RBM's domain) when ``criterion`` is "log_likelihood".  None uses
        ``BernoulliRBM(random_state=0)``.
    contamination : float in (0, 0.5], default=0.1
        Expected fraction of outliers in the training data; sets ``offset_``.
    criterion : {"free_energy", "log_likelihood"}, default="free_energy"
        The score: ``-F(x)`` (negative free energy) or ``log p(x)``.  They
        differ by the constant log Z, so they rank samples identically and
        flag the same ones; the free energy needs no log Z, which for large
        models is estimated by AIS (seconds to minutes).  Rows with missing
        entries (a model with ``missing="impute"``) have no free energy:
        "log_likelihood" scores them by log p(observed entries), which is
        higher the fewer they are (``predict`` and ``decision_function``
        warn of such rows; a row with nothing observed is refused).

    Attributes
    ----------
    estimator_ : estimator
        The fitted density model.
    offset_ : float
        Threshold on ``score_samples``: the ``contamination`` quantile of the
        training scores (NumPy's default, linear interpolation), lowered by
        a float64 rounding allowance (about 1e-12 for a quantile of about 64
        on 64 features and 64 hidden units: the model's number of features
        plus ``n_components``, times machine epsilon, times the quantile's
        magnitude, plus |log Z| for "log_likelihood", at least 1) so that a
        sample tied with that quantile is an inlier whichever rows it is
        scored with (BLAS rounds a row scored alone and in a batch
        differently, by about 1e-15).  That covers the rounding of models
        whose energy terms do not cancel by more than about that number of
        terms; a contrived model can still round by more.  It is on the
        scale of the ``criterion`` fit used (``predict`` and ``decision_function`` refuse another criterion set
        since; ``contamination`` set since takes effect at the next fit, as
        in scikit-learn's detectors).
    n_features_in_ : int
        Number of features seen during fit.

    Examples
    --------
    >>> import numpy as np
    >>> from rbm import BernoulliRBM, RBMOutlierDetector
    >>> rng = np.random.default_rng(0)
    >>> X = (rng.random((200, 8)) < [0.9] * 4 + [0.1] * 4).astype(float)
    >>> detector = RBMOutlierDetector(BernoulliRBM(n_components=4, n_iter=20,
    ...                                            random_state=0)).fit(X)
    >>> detector.predict([[1, 1, 1, 1, 0, 0, 0, 0], [0, 0, 0, 0, 1, 1, 1, 1]])
    array([ 1, -1])
    """

    _parameter_constraints = {
        "estimator": [HasMethods(["fit", "score_samples"]), None],
        "contamination": [Interval(Real, 0, 0.5, closed="right")],
        "criterion": [StrOptions({"free_energy", "log_likelihood"})],
    }

    def __init__(self, estimator=None, *, contamination=0.1, criterion="free_energy"):
        self.estimator = estimator
        self.contamination = contamination
        self.criterion = criterion

    def __sklearn_tags__(self):
        # The detector's input domain is its density model's (for the default
        # BernoulliRBM: values in [0, 1], sparse allowed).
        tags = super().__sklearn_tags__()
        template = BernoulliRBM() if self.estimator is None else self.estimator
        inner = get_tags(template).input_tags
        for name in ("positive_only", "sparse", "categorical", "string", "allow_nan"):
            setattr(tags.input_tags, name, getattr(inner, name))
        return tags

    # The nested estimator validates its own parameters when it is fitted.
    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y=None, sample_weight=None):
        """Fit the density model to X and set the threshold ``offset_``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data, in the density model's domain.
        y : Ignored
            Not used, present for API consistency; passed on to the density
            model's ``fit`` (which ignores it), as scikit-learn's meta-estimators do.
        sample_weight : array-like of shape (n_samples,) or float, default=None
            Weight of each sample (a sample of weight w counts as w copies),
            passed to the density model's ``fit`` (which must accept it; for
            a Pipeline, its last step's, as ``<last step>__sample_weight``;
            with metadata routing enabled, that step must request them with
            ``set_fit_request(sample_weight=True)``).
            A ``FrozenEstimator`` is not refitted: its weights weigh only
            the threshold.  ``offset_`` is then the weighted ``contamination``
            quantile of the scores of the samples of positive weight: NumPy's
            default rule (linear interpolation between the sorted scores at
            positions k / (n - 1)) with each score placed at the centre of
            its cumulative weight instead, so that equal weights give the
            unweighted threshold, only relative weights matter, and the
            threshold moves continuously with positive weights (integer
            weights are shares here, not copies: linear interpolation on
            repeated rows depends on the number of copies).  A weight going
            to 0 is not the row left out: the lowest and highest scores
            bound the interpolation whatever their weight, so a row of tiny
            weight at an extreme score pulls the threshold towards it (in
            small sets; the effect fades as rows are added).

        Returns
        -------
        self : object
            The fitted detector.
        """
        template = BernoulliRBM(random_state=0) if self.estimator is None else self.estimator
        if self.criterion == "free_energy" and not hasattr(template, "free_energy"):
            raise ValueError(
                f"criterion='free_energy' needs an estimator with free_energy; "
                f"{type(template).__name__} has none. Use criterion='log_likelihood'."
            )
        fit_params = self._fit_parameters(template, X, sample_weight)
        # A fit that raises (also while scoring the training data, after the
        # density model has fitted) leaves the detector as it was.
        with unchanged_on_error(self), named_for_detector(self, "fit", template):
            self._check_rows_before_fit(template, X)
            self.__dict__.pop("feature_names_in_", None)
            # y passed on (None), as scikit-learn's meta-estimators do: a
            # FrozenEstimator (a prefit model) requires it.
            self.estimator_ = clone(template).fit(X, y, **fit_params)
            first = _first_step(self.estimator_)
            self.n_features_in_ = first.n_features_in_
            if hasattr(first, "feature_names_in_"):
                self.feature_names_in_ = first.feature_names_in_
            self.offset_ = self._threshold(self._scores(X)[0], sample_weight)
            # offset_ is a threshold on this criterion's scale (the two differ
            # by log Z): predict checks that it is still the one in use.
            self._offset_criterion = self.criterion
        return self

    def _fit_parameters(self, template, X, sample_weight):
        """The keyword arguments that pass ``sample_weight`` to the density
        model's fit (none without weights).  A FrozenEstimator is not refitted:
        its weights, checked here, weigh only the threshold."""
        if sample_weight is None:
            return {}
        if not isinstance(template, FrozenEstimator):
            return _weight_parameter(template, sample_weight)
        # The library's own check (finite, non-negative, one per row, not all
        # zero), not scikit-learn's allow_all_zero_weights, which came in 1.8.
        check_sample_weight(self, sample_weight, X)
        return {}

    def _check_rows_before_fit(self, template, X):
        """Refuse the training rows that ``criterion`` cannot score (see
        ``_check_scorable``) before the density model trains, which took as
        long as a whole fit before.  Only a model of this library that takes
        gaps is asked: a Pipeline's unfitted steps decide what its model gets
        (that is checked after its fit), and a frozen model does not train."""
        if isinstance(template, (Pipeline, FrozenEstimator)) or not _takes_gaps(template):
            return
        probe = clone(template)  # (validation with reset=True sets its input attributes)
        if probe._may_have_gaps(X):
            unit = probe._visible_type.for_estimator(probe)
            _, observed = unit.validate_incomplete(probe, X, reset=True,
                                                   dtype=[np.float64, np.float32])
            self._check_scorable(observed)

    def _threshold(self, scores, sample_weight):
        """``offset_``: the ``contamination`` quantile of the training scores, of
        the samples of positive weight where weights are given (the density
        model, or ``_fit_parameters`` for a frozen one, has checked them; see
        ``_weighted_linear_quantile``), less ``_rounding_allowance``.

        The allowance is sized from the quantile itself (taken first with
        exact ties only), not from the training scores far from it: the
        largest of those (one wild row at 1e8) made it 38 and moved
        ``offset_`` by whole units.
        """
        weights = (np.ones(scores.shape[0]) if sample_weight is None
                   else _check_sample_weight(sample_weight, scores, dtype=np.float64))
        scores, weights = scores[weights > 0], weights[weights > 0]
        exact = _weighted_linear_quantile(scores, weights, self.contamination, tie=0.0)
        allowance = self._rounding_allowance(exact)
        return float(_weighted_linear_quantile(scores, weights, self.contamination, allowance)
                     - allowance)

    def _rounding_allowance(self, quantile):
        """How far float64 rounding moves a score near ``quantile`` with the
        rows scored alongside it, as far as that is known.

        A score is a sum of float64 terms (the visible term and one per hidden
        unit, each hidden one a sum over the features), and BLAS picks its
        summation order by the matrix sizes: the same row scored alone and in
        a batch differed by up to 2 units in the last place.  With binary
        data the quantile is often a score that many training rows share,
        which then passed as inliers in a batch (equal to ``offset_``) and as
        outliers alone (1e-15 below it).  The allowance is n eps times the
        magnitude of the scores at the threshold: n the model's number of
        features plus its ``n_components``, the magnitude that of the
        quantile (for log p(x) = -F(x) - log Z of a model of this library,
        plus |log Z|, as F(x) is the rounded sum), at least 1.  That is
        1e-12 for a quantile of 64 on 64 features and 64 hidden units, far
        below the gaps between scores of distinct rows.

        It is not a proven bound: the rounding of a sum is bounded by n eps
        times the sum of its terms' magnitudes, and the free energy's terms
        cancel (on a trained digits model they add up to about 3 times
        |score|).  The factor n covers that for models whose terms do not
        cancel by more than about n; a contrived model (weights of 1e6 whose
        terms cancel to a score of -1) still rounds by more, and there a
        row at the threshold can be labelled by the rows scored with it.
        """
        scale = abs(float(quantile)) if np.isfinite(quantile) else 0.0
        model = _density_step(self.estimator_)
        if self.criterion == "log_likelihood":
            estimate = getattr(model, "log_partition_", None)
            scale += abs(float(getattr(estimate, "log_z", 0.0)))
        # The model's own input width (a Pipeline's steps may change X's).
        features = getattr(model, "n_features_in_", self.n_features_in_)
        components = getattr(model, "n_components", 0)
        terms = features + (components if isinstance(components, Integral) else 0)
        return float(terms * np.finfo(np.float64).eps * max(1.0, scale))

    def score_samples(self, X):
        """How normal each sample is: ``-F(x)`` or ``log p(x)`` (higher: more normal).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        scores : ndarray of shape (n_samples,)
        """
        return self._checked_scores(X, "score_samples")

    def _checked_scores(self, X, method, warn_of_gaps=False):
        """``score_samples(X)`` for the detector's ``method`` (named in the
        errors), with a warning of rows with gaps where ``warn_of_gaps``."""
        check_is_fitted(self, "estimator_")
        self._check_estimator()
        with named_for_detector(self, method, self.estimator_):
            scores, observed = self._scores(X)
        if warn_of_gaps:
            self._warn_of_gaps(observed)
        return scores

    def _check_estimator(self):
        """Raise ValueError unless ``estimator_`` has what ``criterion`` calls."""
        method = "score_samples" if self.criterion == "log_likelihood" else "free_energy"
        if not callable(getattr(self.estimator_, method, None)):
            # A None or foreign object (an assignment, an edited file) would
            # fail as "'NoneType' object has no attribute 'free_energy'".
            raise ValueError(
                f"RBMOutlierDetector.estimator_ must be the fitted density model (with "
                f"{method}, for criterion={self.criterion!r}), got "
                f"{type(self.estimator_).__name__}; refit the detector.")

    def _scores(self, X):
        """The scores of X by the fitted model and the mask of X's observed
        entries (None: every entry is observed, or the model refuses gaps
        itself), unchecked, errors as raised.

        Where the density model takes gaps (``missing="impute"``), a
        Pipeline's earlier steps transform X once, and the model both masks
        and scores what they give it (the steps ran three times per
        ``predict`` before).
        """
        model = _density_step(self.estimator_)
        if not _takes_gaps(model):
            observed, scorer = None, self.estimator_
        else:
            # A scaler passes NaN on: the last step got rows with nothing
            # observed, which scored log p = 0 and passed as the most normal.
            X, scorer = _through_earlier_steps(self.estimator_, X), model
            # As the model decides (sparse input has gaps where it stores NaN).
            observed = model._incomplete_input(X)[1] if model._may_have_gaps(X) else None
        self._check_scorable(observed)
        if self.criterion == "log_likelihood":
            return scorer.score_samples(X), observed
        return -scorer.free_energy(X), observed

    def _check_scorable(self, observed):
        """Refuse rows that ``criterion`` cannot score, given the mask of their
        observed entries (None: all are).

        "log_likelihood" scores a row by log p(its observed entries): that of
        a row with none is 0, above every complete row, so such a row passed
        as the most normal of all.  "free_energy" scores complete rows only:
        F(x) is that of a complete row.
        """
        if observed is None:
            return
        if self.criterion == "log_likelihood":
            empty = ~observed.any(axis=1)
            if empty.any():
                raise ValueError(
                    f"RBMOutlierDetector: {int(empty.sum())} rows of X have no observed entry "
                    f"(the first: row {int(np.argmax(empty))}); their log-likelihood, that of "
                    "nothing, is 0 and says nothing about them. Drop them before scoring.")
        elif not observed.all():
            raise ValueError(
                f"RBMOutlierDetector: {int((~observed.all(axis=1)).sum())} rows of X have "
                "missing entries, which criterion='free_energy' cannot score (the free "
                "energy is that of a complete row). Use criterion='log_likelihood', which "
                "scores a row with gaps by log p(observed entries), or fill the gaps first "
                "(rbm.RBMImputer).")

    @staticmethod
    def _warn_of_gaps(observed):
        """Warn where rows with gaps (``observed``, the mask ``_scores`` gives)
        are judged against ``offset_``: a row is scored by log p of its
        observed entries, higher the fewer there are (a 7 of the digits with
        56 of its 64 pixels missing passed as an inlier, the complete 7 as
        an outlier)."""
        if observed is None or observed.all():
            return
        gappy = ~observed.all(axis=1)
        warnings.warn(
            f"RBMOutlierDetector: {int(gappy.sum())} rows of X have missing entries; each is "
            "scored by the log-likelihood of its observed entries, which is higher the fewer "
            "they are, and compared with offset_, a threshold on the training rows' scores. "
            "A row with many gaps tends to pass as an inlier: compare such rows with rows "
            "missing the same features, or fill the gaps first (rbm.RBMImputer).",
            UserWarning, stacklevel=user_stacklevel())

    def decision_function(self, X):
        """``score_samples(X) - offset_``: negative for outliers, positive for inliers.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        scores : ndarray of shape (n_samples,)
        """
        return self._decision(X, "decision_function")

    def _decision(self, X, method):
        """``decision_function(X)`` for the detector's ``method`` (named in the errors)."""
        check_is_fitted(self, "offset_")
        offset = self.offset_
        if not (isinstance(offset, Real) and not isinstance(offset, bool)
                and np.isfinite(offset)):
            # A NaN threshold made every sample an inlier without a word.
            raise ValueError(f"RBMOutlierDetector.offset_ must be a finite number (the "
                             f"threshold fit sets), got {offset!r:.80}; refit the detector.")
        self._check_offset_criterion()
        return self._checked_scores(X, method, warn_of_gaps=True) - offset

    def _check_offset_criterion(self):
        """Raise ValueError where ``criterion`` changed since fit set ``offset_``.

        The two criteria differ by log Z, so a free-energy threshold read
        against log-likelihoods (or the reverse) flagged every sample, or
        none, without a word.  (A detector saved before this check has no
        record of its criterion and is taken as it is.)
        """
        fitted = getattr(self, "_offset_criterion", self.criterion)
        if fitted != self.criterion:
            raise ValueError(
                f"RBMOutlierDetector.offset_ is a threshold on {fitted!r} scores, set by "
                f"fit with criterion={fitted!r}, but criterion is now {self.criterion!r}: "
                f"set criterion={fitted!r} back, or refit the detector.")

    def predict(self, X):
        """+1 for inliers, -1 for outliers.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        labels : ndarray of shape (n_samples,)
        """
        return np.where(self._decision(X, "predict") < 0, -1, 1)
