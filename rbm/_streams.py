"""Random streams: every random number of a model comes from one random_state.

Each purpose (training chains, ``gibbs``, sampling, AIS, shuffling) gets
independent streams spawned from one ``SeedSequence``; chains get one
stream per fixed-size chunk of rows, so results never depend on how many
threads run the chunks.
"""

import functools
import hashlib
from numbers import Integral

import numpy as np
from sklearn.utils import check_random_state

from . import _gibbs

# Purposes of the independent random streams drawn from one random_state.
TRAINING, GIBBS, SAMPLING_START, SAMPLING_CHAINS, AIS, SHUFFLE = range(6)
# Conditional sampling (rbm._conditional): numbered apart, clear of new purposes above.
CONDITIONAL_START, CONDITIONAL_CHAINS, CONDITIONAL_FILL, CONDITIONAL_EXACT = 16, 17, 18, 19
# Exact draws of sample (rbm._conditional).
SAMPLING_EXACT = 20
# Tempered draws (rbm._tempering.PURPOSES): swaps at 21 and 22, and the
# chains of each temperature from 1000 and from 2000 on.


class ChainStreams:
    """Random streams for chains: stream ``j`` serves the ``j``-th chunk of rows.

    Stream ``j`` is ``SFC64(SeedSequence(entropy, spawn_key=(purpose, j)))``,
    so it depends only on the seed, the purpose and ``j``, never on how many
    threads run the chunks.
    """

    def __init__(self, entropy, purpose):
        self.entropy = entropy
        self.purpose = purpose
        self.bitgens = []

    def for_rows(self, n_rows):
        """The streams needed to sample ``n_rows`` chain rows."""
        needed = _gibbs.n_streams_for(n_rows)
        while len(self.bitgens) < needed:
            self.bitgens.append(self._new_stream(len(self.bitgens)))
        return self.bitgens[:needed]

    def check(self, where, purpose):
        """Raise ValueError unless these are ``purpose``'s streams of a seed, each
        an SFC64 (the kernel steps SFC64's state inline: another generator's
        state has another layout)."""
        check_entropy(getattr(self, "entropy", None), f"{where}.entropy")
        if getattr(self, "purpose", None) != purpose or isinstance(self.purpose, bool):
            raise ValueError(f"{where}.purpose must be {purpose}, got "
                             f"{getattr(self, 'purpose', None)!r}; refit the model.")
        bitgens = getattr(self, "bitgens", None)
        if not (isinstance(bitgens, list) and all(type(b) is np.random.SFC64 for b in bitgens)):
            raise ValueError(f"{where}.bitgens must be a list of numpy.random.SFC64 "
                             "generators; refit the model.")

    def _new_stream(self, j):
        seq = np.random.SeedSequence(self.entropy, spawn_key=(self.purpose, j))
        return np.random.SFC64(seq)

    def snapshot(self):
        """The streams' states, for ``restore`` after a call that fails."""
        return [bitgen.state for bitgen in self.bitgens]

    def restore(self, snapshot):
        """Put the streams back as ``snapshot`` found them (drops streams added since)."""
        del self.bitgens[len(snapshot):]
        for bitgen, state in zip(self.bitgens, snapshot):
            bitgen.state = state

    # Streams are stored as their state dicts (plain ints and arrays) rather
    # than as bit generator objects, so that skops can save them and load
    # them without trusting numpy's pickling helpers; pickle uses the same.
    def __getstate__(self):
        return {
            "entropy": self.entropy,
            "purpose": self.purpose,
            "stream_states": [bitgen.state for bitgen in self.bitgens],
        }

    def __setstate__(self, state):
        # A saved state is data from outside: seeds and SFC64 states only
        # (numpy's own errors would not say which attribute is wrong).
        where = "ChainStreams (in _training) from a saved model"
        if not isinstance(state, dict) or not {"entropy", "purpose", "stream_states"} <= set(state):
            raise ValueError(f"{where} needs entropy, purpose and stream_states; "
                             "refit the model.")
        check_entropy(state["entropy"], f"{where}: its entropy")
        purpose = state["purpose"]
        if not (isinstance(purpose, Integral) and not isinstance(purpose, bool)
                and purpose >= 0):
            raise ValueError(f"{where}: its purpose must be a non-negative integer, got "
                             f"{purpose!r:.80}; refit the model.")
        self.entropy, self.purpose, self.bitgens = state["entropy"], purpose, []
        for j, stream_state in enumerate(_as_list(state["stream_states"], where)):
            bitgen = self._new_stream(j)
            try:
                if stream_state.get("bit_generator") != "SFC64":
                    raise ValueError
                bitgen.state = stream_state
            except (AttributeError, TypeError, ValueError, KeyError, OverflowError):
                raise ValueError(f"{where}: its stream_states[{j}] (of the bitgens) is not "
                                 "an SFC64 state; refit the model.") from None
            self.bitgens.append(bitgen)


class KeyedChainStreams:
    """Random streams for chains in groups, each group's keyed by its content.

    Group ``q`` (a row's chains, say) holds ``chunks`` whole chunks of chain
    rows (``_gibbs.CHUNK_ROWS`` each, the rows one stream serves), and its
    ``j``-th chunk draws from ``SFC64(SeedSequence(entropy, spawn_key=(purpose,
    *keys[q], j)))``: so a group's random numbers depend on the seed and on
    its key, never on which other groups share the call or in what order.
    ``for_rows`` gives them to the kernel as ``ChainStreams`` does.
    """

    def __init__(self, entropy, purpose, keys, chunks):
        self.bitgens = [
            np.random.SFC64(np.random.SeedSequence(entropy, spawn_key=(purpose, *key, j)))
            for key in keys for j in range(chunks)]

    def for_rows(self, n_rows):
        """The streams of ``n_rows`` chain rows: every group's, in order."""
        if _gibbs.n_streams_for(n_rows) != len(self.bitgens):
            raise ValueError(f"{n_rows} chain rows are not {len(self.bitgens)} whole chunks "
                             "of the groups' streams.")
        return self.bitgens


def content_keys(rows):
    """Per row of the 2-D array ``rows``, four 32-bit words of a 128-bit
    digest of its bytes: a spawn key of the row's content."""
    rows = np.ascontiguousarray(rows)
    return [tuple(int(w) for w in np.frombuffer(
                hashlib.blake2b(row.tobytes(), digest_size=16).digest(), dtype="<u4"))
            for row in rows]


def _as_list(stream_states, where):
    if not isinstance(stream_states, list):
        raise ValueError(f"{where}: its stream_states (the bitgens) must be a list; "
                         "refit the model.")
    return stream_states


def check_entropy(entropy, where):
    """Raise ValueError unless entropy is seed material: non-negative integers."""
    values = entropy if isinstance(entropy, (list, tuple)) else [entropy]
    if not values or not all(isinstance(v, Integral) and not isinstance(v, bool) and v >= 0
                             for v in values):
        raise ValueError(f"{where} must be a list of non-negative integers (the seed), got "
                         f"{entropy!r:.80}; refit the model.")


def generator_for(entropy, purpose):
    """A numpy Generator for a purpose that needs no per-chunk streams."""
    return np.random.Generator(
        np.random.SFC64(np.random.SeedSequence(entropy, spawn_key=(purpose,)))
    )


class Entropy(tuple):
    """Seed material drawn before by ``draw_entropy``, passed where a
    random_state goes and taken as it is (``RBMImputer.marginal_seed_``,
    drawn once at fit so that every transform runs the same chains).  A type
    of its own: a plain tuple is no random_state, and stays refused."""


def draw_entropy(random_state):
    """128 bits of seed material drawn from a scikit-learn random_state, or
    taken as given where it is an ``Entropy``."""
    if isinstance(random_state, Entropy):
        return list(random_state)
    if isinstance(random_state, Integral) and not isinstance(random_state, bool):
        # A pure function of the seed; seeding a RandomState for it was a
        # tenth of a small fit's fixed costs.
        return list(_entropy_of_seed(int(random_state)))
    words = check_random_state(random_state).randint(0, 2**32, size=4, dtype=np.uint64)
    return [int(w) for w in words]


@functools.lru_cache(maxsize=64)
def _entropy_of_seed(seed):
    words = check_random_state(seed).randint(0, 2**32, size=4, dtype=np.uint64)
    return tuple(int(w) for w in words)
