"""Memory beyond the model (issue 22, point 10), overflowing free energies (point 9)
and models too large for memory (issue 21, point 7).

The bounds on allocations are deterministic: tracemalloc counts NumPy's
allocations exactly (NumPy reports them to it), so a bound derived from
what the algorithm needs fails when a temporary of the input's or W's size
comes back, whatever the machine.
"""

import hashlib
import re
import tracemalloc

import numpy as np
import pytest

import rbm._base as base_module
from rbm import _gibbs
from rbm import BernoulliRBM, CategoricalRBM, GaussianBernoulliRBM
from rbm._state import (REDUCTION_BLOCK_BYTES, ModelTooLargeError, check_training_memory,
                        training_memory)
from rbm._training import DivergenceError, PassSnapshot
from rbm._units.gaussian import STATISTICS_BLOCK_BYTES, column_mean_and_std

MIB = 2**20


def traced_peak(call):
    """Peak bytes NumPy (and Python) allocate during call(), above what existed before."""
    tracemalloc.start()
    try:
        call()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def fingerprint(model):
    """A hash of every array training changes (and the swap counts)."""
    digest = hashlib.blake2b()
    for array in model._learned_arrays() + (model._training.swap_counts,):
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


# ----------------------------------------------------------------------
# The Gaussian fit's data statistics
# ----------------------------------------------------------------------

def test_gaussian_fit_allocates_no_temporary_of_the_input_size():
    # 30.5 MiB of float64 input, 16 hidden units: what fit needs beyond its
    # input is one block of the statistics' deviations (STATISTICS_BLOCK_BYTES),
    # the model, chains and minibatch buffers (about 0.1 MiB here), the row
    # order (0.3 MiB) and the monitor's few hundred rows.  A temporary of the
    # input's size (np.square(X) was one) would add 30.5 MiB.
    X = np.random.default_rng(0).standard_normal((40_000, 100))
    params = dict(n_components=16, n_iter=1, batch_size=100, random_state=0)
    GaussianBernoulliRBM(**params).fit(X[:100])  # first-call buffers, outside the count
    peak = traced_peak(lambda: GaussianBernoulliRBM(**params).fit(X))
    assert peak < STATISTICS_BLOCK_BYTES + 2 * MIB, f"{peak / MIB:.1f} MiB above the input"


def test_gaussian_standard_deviation_survives_a_large_mean():
    # Two passes (mean, then squared deviations) keep the spread of data
    # whose mean dwarfs it; E[x**2] - mean**2 loses it entirely at 1e8.
    rng = np.random.default_rng(0)
    X = 1e8 + rng.standard_normal((5_000, 3))
    mean, std = column_mean_and_std(X)
    np.testing.assert_allclose(mean, X.mean(axis=0), rtol=1e-15)
    np.testing.assert_allclose(std, X.std(axis=0), rtol=1e-9)


def test_gaussian_statistics_over_several_blocks_equal_numpys(monkeypatch):
    import rbm._units.gaussian as gaussian

    X = np.random.default_rng(1).normal(3.0, 2.0, (1_001, 7))
    monkeypatch.setattr(gaussian, "STATISTICS_BLOCK_BYTES", 8 * 7 * 100)  # 11 blocks
    mean, std = gaussian.column_mean_and_std(X)
    np.testing.assert_allclose(mean, X.mean(axis=0), rtol=1e-14)
    np.testing.assert_allclose(std, X.std(axis=0), rtol=1e-13)


# ----------------------------------------------------------------------
# The categorical fit's one-hot coding
# ----------------------------------------------------------------------

def test_categorical_fit_allocates_its_one_hot_coding_and_little_more():
    # 20,000 x 50 int64 labels (7.6 MiB).  Fit needs their one-hot CSR
    # coding (float64 ones and int32 column indices: 12 bytes a label,
    # 11.4 MiB, and the row pointers), one block of the encoder's temporaries
    # (about 2.5 x ENCODE_BLOCK_BYTES) and, with 16 hidden units over 500
    # one-hot columns, about 0.3 MiB of model, chains and buffers.  Encoding
    # the whole input at once added about 2.2 times the labels' size
    # (scikit-learn's encoder allocates an integer code and a mask per label).
    from rbm._units.categorical import ENCODE_BLOCK_BYTES

    X = np.random.default_rng(0).integers(0, 10, (20_000, 50))
    params = dict(n_components=16, n_iter=1, batch_size=100, random_state=0)
    CategoricalRBM(**params).fit(X[:100])
    peak = traced_peak(lambda: CategoricalRBM(**params).fit(X))
    one_hot = X.size * (8 + 4) + (X.shape[0] + 1) * 8
    assert peak < one_hot + 3 * ENCODE_BLOCK_BYTES + 2 * MIB, f"{peak / MIB:.1f} MiB"


def test_blockwise_one_hot_coding_equals_the_encoders(monkeypatch):
    import scipy.sparse as sp

    import rbm._units.categorical as categorical

    monkeypatch.setattr(categorical, "ENCODE_BLOCK_BYTES", 8 * 3 * 13)  # 13-row blocks
    rng = np.random.default_rng(0)
    X = rng.choice(np.array(["a", "bb", None, "c"], dtype=object), (200, 3))
    X[X == None] = "d"  # noqa: E711 (an elementwise comparison)
    model = CategoricalRBM(n_components=3, n_iter=0)
    unit = model._visible_type.for_estimator(model)
    coded = unit.validate(model, X, reset=True)
    reference = sp.csr_matrix(unit.encoder.transform(X))
    for name in ("data", "indices", "indptr"):
        assert getattr(coded, name).dtype == getattr(reference, name).dtype
        assert np.array_equal(getattr(coded, name), getattr(reference, name))
    X[150, 1] = None
    with pytest.raises(ValueError, match="in 1 entry, the first in row 150, feature 1"):
        unit.validate(model, X, reset=False)


# ----------------------------------------------------------------------
# Wide models: initialisation and the per-pass snapshot
# ----------------------------------------------------------------------

WIDE = dict(n_components=20_000, batch_size=20, n_chains=10, random_state=0)


def wide_bound(model, velocity_copies):
    """What a fit of this wide model needs beyond its input, from the shapes.

    The model (W and intercepts), W's velocity, the snapshot of W (and of the
    velocity in ``velocity_copies`` of the passes), the chains and their
    snapshot, and the kernel's workspace: rows of minibatch + chains for the
    hidden and visible values (HS, VS), the chains (Hc), and the sampler's
    float32 scratch (a chunk of rows per random stream, of width H), or,
    after the pass, the divergence check's block of |W|; twelve vectors of
    length H (the hidden biases, their velocity, offsets and activity, the
    copies of those four, and the kernel's gradient, correction, mean and
    gauge vectors); plus 1 MiB for everything smaller.
    """
    W = model.components_.nbytes
    n_hidden, n_visible = model.components_.shape
    itemsize = model.components_.itemsize
    chains = model.h_samples_.nbytes
    n_chains = model.h_samples_.shape[0]
    stack = model.batch_size + n_chains + 2
    scratch = _gibbs.n_streams_for(n_chains) * _gibbs.CHUNK_ROWS * max(n_hidden, n_visible) * 4
    workspace = stack * (n_hidden + n_visible) * itemsize + chains + scratch
    vectors = 12 * n_hidden * itemsize
    return (W * (3 + velocity_copies) + 2 * chains + max(workspace, REDUCTION_BLOCK_BYTES)
            + vectors + MIB)


@pytest.mark.parametrize("n_iter, momentum, velocity_copies", [
    (3, 0.5, 1),  # third pass: a nonzero velocity, copied
    (2, 0.5, 0),  # warm-up pass, then a pass from a zero velocity: zeroed on rollback
    (3, 0.0, 0),  # no momentum: the kernel never touches the velocity
])
def test_a_wide_fit_holds_at_most_one_copy_of_w_and_its_velocity(n_iter, momentum,
                                                                 velocity_copies):
    # W is 15.3 MiB; the code before this bound held 5.3 W (an initial
    # float64 copy, a W-sized |W| temporary, the velocity copied every pass).
    X = (np.random.default_rng(0).random((20, 100)) < 0.3).astype(float)
    BernoulliRBM(n_components=8, n_iter=1, batch_size=20, n_chains=10).fit(X)
    model = BernoulliRBM(n_iter=n_iter, momentum=momentum, **WIDE)
    peak = traced_peak(lambda: model.fit(X))
    bound = wide_bound(model, velocity_copies)
    W = model.components_.nbytes
    assert peak <= bound, f"{peak / W:.2f} W, bound {bound / W:.2f} W"


def test_initial_weights_drawn_in_blocks_are_one_draw(monkeypatch):
    # The blocks read the Generator's stream in order: the same weights as
    # one draw, cast and constrained the same way.
    X = np.random.default_rng(0).integers(0, 4, (30, 5))
    whole = CategoricalRBM(n_components=50, n_iter=0, random_state=3).fit(X).components_
    monkeypatch.setattr(base_module, "_INIT_BLOCK_BYTES", 8 * 20 * 7)  # 7-row blocks
    blocks = CategoricalRBM(n_components=50, n_iter=0, random_state=3).fit(X).components_
    assert np.array_equal(whole, blocks)
    Xb = (np.random.default_rng(0).random((30, 9)) < 0.5).astype(np.float32)
    entropy_model = BernoulliRBM(n_components=50, n_iter=0, random_state=3).fit(Xb)
    from rbm._streams import TRAINING, generator_for
    reference = (0.01 * generator_for(entropy_model._training.entropy, TRAINING)
                 .standard_normal((50, 9))).astype(np.float32)
    assert np.array_equal(entropy_model.components_, reference)


@pytest.mark.parametrize("momentum, passes_before", [
    (0.5, 2),  # nonzero velocity: restored from its copy
    (0.5, 0),  # zero velocity at the failing pass: restored by zeroing
    (0.0, 2),  # no momentum: never touched
])
def test_a_diverging_pass_restores_every_array_bit_for_bit(momentum, passes_before):
    X = (np.random.default_rng(0).random((200, 12)) < 0.3).astype(float)
    model = BernoulliRBM(n_components=6, momentum=momentum, random_state=0)
    model.partial_fit(X[:20])
    for _ in range(passes_before):
        model.partial_fit(X)
    if passes_before == 0:
        model._training.W_velocity[...] = 0.0
    before = fingerprint(model)
    model.set_params(learning_rate=1e12)
    with pytest.raises(DivergenceError):
        model.partial_fit(X)
    assert fingerprint(model) == before


def test_the_snapshot_copies_the_velocity_only_when_needed():
    velocity = np.zeros(4)
    other = np.ones(3)
    assert PassSnapshot((other, velocity), velocity, 0.5).saved[1] is None
    assert PassSnapshot((other, velocity), velocity, 0.0).saved[1] is None
    velocity[2] = -0.0  # zeroing would not restore the sign bit
    assert PassSnapshot((other, velocity), velocity, 0.5).saved[1] is not None
    velocity[2] = 1e-300
    snapshot = PassSnapshot((other, velocity), velocity, 0.5)
    velocity[...] = 7.0
    other[...] = 7.0
    snapshot.restore()
    assert np.array_equal(velocity, [0, 0, 1e-300, 0]) and np.array_equal(other, np.ones(3))


# ----------------------------------------------------------------------
# Free energies that overflow (issue 22, point 9)
# ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def small_gaussian():
    X = np.random.default_rng(0).standard_normal((50, 3))
    return GaussianBernoulliRBM(n_components=2, n_iter=3, random_state=0).fit(X), X


OVERFLOW = (r"the free energy of 3 of 3 rows overflowed float64 \(their largest absolute "
            r"value is 1\.3e\+300.*rescale or standardise")


@pytest.mark.parametrize("method", ["score_samples", "free_energy", "score"])
def test_rows_of_size_1e300_warn_with_the_scale_and_the_fix(small_gaussian, method):
    model, X = small_gaussian
    with pytest.warns(RuntimeWarning, match=OVERFLOW) as record:
        result = getattr(model, method)(X[:3] * 1e300)
    # One warning of ours, none of NumPy's ("overflow encountered in square").
    assert len(record) == 1
    expected = np.inf if method == "free_energy" else -np.inf
    assert np.all(np.asarray(result) == expected)


def test_ordinary_rows_do_not_warn(small_gaussian, recwarn):
    model, X = small_gaussian
    assert np.all(np.isfinite(model.score_samples(X * 1e100)))
    assert np.all(np.isfinite(model.score_samples(X)))
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]


# ----------------------------------------------------------------------
# Models too large for memory (issue 21, point 7)
# ----------------------------------------------------------------------

def test_a_model_too_large_for_memory_fails_fast_with_its_size_and_what_to_lower():
    X = (np.random.default_rng(0).random((10, 400)) < 0.5).astype(float)
    model = BernoulliRBM(n_components=10**12, n_iter=1)  # W alone: 2.9 PiB
    error = []

    def fit():
        with pytest.raises(MemoryError) as info:
            model.fit(X)
        error.append(info.value)

    peak = traced_peak(fit)
    assert peak < MIB  # refused before anything of the model's size existed
    assert isinstance(error[0], ValueError)  # also a parameter error (the CLI's)
    assert not hasattr(model, "components_")
    message = str(error[0])
    assert "n_components=1000000000000 needs at least" in message
    assert "the weights components_: 2980232.2 GiB" in message
    assert "Lower n_components (about" in message


def test_the_memory_check_refuses_only_what_does_not_fit():
    model = BernoulliRBM(n_components=1_000, batch_size=50, n_chains=100)
    parts = training_memory(1_000, 784, 100, 50, 8)
    needed = sum(size for _, size, _ in parts)
    # W, its velocity and its per-pass copy; the chains and their copy; the
    # kernel's 150 rows of hidden and visible values.
    assert needed == 3 * 1_000 * 784 * 8 + 2 * 100 * 1_000 * 8 + 150 * (1_000 + 784) * 8
    check_training_memory(model, 784, 10_000, np.float64, available=needed)
    with pytest.raises(ModelTooLargeError, match="Lower n_components"):
        check_training_memory(model, 784, 10_000, np.float64, available=needed - 1)
    # Few rows make small minibatches; float32 halves everything.
    check_training_memory(model, 784, 10, np.float32, available=needed // 2)


def test_the_memory_check_names_the_chains_when_they_are_the_problem():
    model = BernoulliRBM(n_components=10, n_chains=10**9, method="pt", n_temperatures=4)
    with pytest.raises(ModelTooLargeError,
                       match=r"4,000,000,000 chains.*Lower n_chains or n_temperatures"):
        check_training_memory(model, 20, 100, np.float64, available=2**30)


def test_a_sample_larger_than_memory_is_refused_before_allocating(monkeypatch):
    # sample(10**12) reached NumPy's "Unable to allocate 291 TiB"; it is now
    # refused by the library, with how many samples a call can hold.
    import rbm._state

    X = (np.random.default_rng(0).random((60, 8)) < 0.5).astype(float)
    model = BernoulliRBM(n_components=3, n_iter=2, random_state=0).fit(X)
    row_bytes = (5 * 8 + 3 * 3) * 8  # rbm._state.CHAIN_ROWS["sample"]
    monkeypatch.setattr(rbm._state, "available_memory", lambda: 100 * 2**20)
    with pytest.raises(ModelTooLargeError, match=re.escape(
            f"sample(1000000000000) needs about 365078.4 GiB for its 1,000,000,000,000 chains "
            f"({row_bytes} "
            f"bytes each), but 100.0 MiB is available; draw at most "
            f"{100 * 2**20 // row_bytes} samples")):
        model.sample(10**12)
    assert model.sample(5, n_steps=2).shape == (5, 8)  # small requests are never read against it


def test_chain_requests_larger_than_memory_are_refused_before_allocating(monkeypatch):
    # log_partition, conditional_sample, conditional_marginals and
    # observed_log_likelihood reached NumPy's MemoryError for huge chain counts.
    import rbm._state
    from rbm import RBMClassifier

    X = (np.random.default_rng(0).random((60, 8)) < 0.5).astype(float)
    model = BernoulliRBM(n_components=3, n_iter=2, random_state=0, missing="impute").fit(X)
    gaps = X[:10].copy()
    gaps[:, 0] = np.nan
    monkeypatch.setattr(rbm._state, "available_memory", lambda: 100 * 2**20)
    # Bytes per chain: 4 visible and 2 hidden rows, or the call's own
    # (rbm._state.CHAIN_ROWS).
    def most(visible_rows=4, hidden_rows=2):
        return 100 * 2**20 // ((visible_rows * 8 + hidden_rows * 3) * 8)

    for call, request, at_most in (
            (lambda: model.log_partition(method="ais", n_chains=10**9),
             "log_partition(n_chains=1000000000)", most()),
            (lambda: model.conditional_sample(gaps, n_draws=10**8),
             "conditional_sample(n_draws=100000000) of 10 rows", most(6, 3)),
            (lambda: model.conditional_marginals(gaps, method="gibbs", n_chains=10**8),
             "conditional_marginals(n_chains=100000000) of 10 distinct rows", most(8, 3)),
            (lambda: model.observed_log_likelihood(gaps, n_chains=10**9),
             "observed_log_likelihood(n_chains=1000000000)", most())):
        with pytest.raises(ModelTooLargeError, match=re.escape(request) + ".*at most "
                           + str(at_most)):
            call()
    # Unused chains are not counted: the exact log Z takes none.
    assert model.log_partition(method="auto", n_chains=10**12).method == "exact"
    classifier = RBMClassifier(n_components=3, n_iter=1, random_state=0).fit(X, X[:, 0])
    with pytest.raises(ModelTooLargeError, match=re.escape("log_partition(n_chains=")):
        classifier.log_partition(method="ais", n_chains=10**9)


    # Small requests never read the memory available: with none "available"
    # they are still drawn (with 100 MiB they would be drawn anyway).
    monkeypatch.setattr(rbm._state, "available_memory", lambda: 0)
    assert model.sample(5, n_steps=2).shape == (5, 8)


def test_exact_calls_on_rows_with_gaps_hold_blocks_not_a_mask_of_every_gap():
    # The exact sums run over blocks of rows of about EXACT_BLOCK_ELEMENTS
    # log weights.  Beside the input's copies (internal rows and those with
    # gaps: 2 of its size, their masks an eighth each) a call holds a few
    # such blocks: the log weights, their exponentials, a block of masked
    # rows s(v) and its product, the block's missing mask in float64: 6 in
    # all.  Before, a sparse mask of every missing entry of the input
    # (95% here: 12 bytes each) came on top: 236 MB against 159.
    from rbm._conditional import EXACT_BLOCK_ELEMENTS

    rng = np.random.default_rng(0)
    model = BernoulliRBM(n_components=8, n_iter=1, random_state=0, missing="impute").fit(
        (rng.random((100, 200)) < 0.3).astype(float))
    X = (rng.random((20_000, 200)) < 0.3).astype(float)
    X[rng.random(X.shape) < 0.95] = np.nan
    bound = 2.25 * X.nbytes + 6 * EXACT_BLOCK_ELEMENTS * 8 + MIB
    for call in (model.transform, model.score_samples):
        peak = traced_peak(lambda: call(X))
        assert peak <= bound, f"{call.__name__}: {peak / 2**20:.0f} MiB, bound {bound / 2**20:.0f}"
