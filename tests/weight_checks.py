"""The scikit-learn sample-weight checks that no stochastic minibatch fit can pass.

``check_sample_weight_equivalence_on_dense_data`` (and ``_on_sparse_data``)
fit once with integer weights (0 to 4) on shuffled rows and once on the
rows repeated, from the same seed, and require transform, predict and
decision_function to agree to rtol 1e-7.  Our weighted fits make the same
*expected* updates as fits on the repeated rows (tested exactly for one
update and statistically for whole fits in ``test_sample_weight.py``), but
a fit by stochastic minibatches depends on the order and grouping of its
rows: ``test_sample_weight.py::test_weight_equivalence_checks_fail_for_repetition_itself``
shows the check failing for an estimator whose weights *are* repetition
(it fits ``np.repeat(X, sample_weight)``), so the failure is not one of
weighting.  scikit-learn lists its own stochastic estimators (SGD, MLP,
the forests) as failing these checks for the same reason.
"""

_REASON = ("a stochastic minibatch fit depends on the order of its rows, and the check "
           "fits shuffled weighted rows against ordered repeated ones to rtol 1e-7; it "
           "fails even where weights are literal repetition "
           "(test_sample_weight.py::test_weight_equivalence_checks_fail_for_repetition_itself)")

#: Weight checks that fail by the nature of stochastic training, for dense and
#: sparse input.
STOCHASTIC_WEIGHT_CHECKS = {
    "check_sample_weight_equivalence_on_dense_data": _REASON,
    "check_sample_weight_equivalence_on_sparse_data": _REASON,
}

#: The same for estimators without sparse input (where the sparse check is skipped).
STOCHASTIC_WEIGHT_CHECKS_DENSE = {
    "check_sample_weight_equivalence_on_dense_data": _REASON,
}

#: CategoricalRBM (dense input only) fails the check before the order matters:
#: its categories come from every row given to fit, weight 0 included, so
#: the model fitted on the repeated rows lacks the values of the rows of
#: weight 0 and its transform(X) raises on them as unseen categories; it
#: fails so for literal repetition too.
CATEGORICAL_WEIGHT_CHECKS = {
    "check_sample_weight_equivalence_on_dense_data": (
        "the repeated rows lack the values of the rows of weight 0, unseen categories to "
        "the model fitted on them, so its transform(X) raises; and " + _REASON),
}
