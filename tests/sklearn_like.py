"""scikit-learn's BernoulliRBM training settings, for tests written against them.

The library's defaults are tuned for density estimation (long training,
linear decay, momentum, weight decay; see BernoulliRBM's Notes).  Tests of
other behaviour, and comparisons with scikit-learn at equal settings, state
scikit-learn's settings explicitly with ``{**SKLEARN_LIKE, **their_own}``.
"""

SKLEARN_LIKE = dict(learning_rate=0.1, batch_size=10, n_chains=None, momentum=0.0,
                    weight_decay=0.0, learning_rate_schedule="constant")
