"""Sampling per unit type: the one place that draws Bernoulli, Gaussian and
categorical visible units and Bernoulli, Gaussian, ReLU and dReLU hidden units,
chunk by chunk over the random streams."""

from cython cimport floating
from numpy.random cimport bitgen_t

#: Visible unit types.
cdef enum:
    BERNOULLI = 0
    GAUSSIAN = 1
    CATEGORICAL = 2

#: Hidden unit types (each a case of hidden_probabilities, sample_hidden and
#: hidden_log_partition_gap; the numbers are the layers' ``kernel_kind``).
cdef enum:
    HIDDEN_BERNOULLI = 0
    HIDDEN_GAUSSIAN = 1
    HIDDEN_RELU = 2
    HIDDEN_DRELU = 3

#: Rows of the dReLU hidden state: the four parameters, then their velocities.
cdef enum:
    DRELU_GAMMA_PLUS = 0
    DRELU_GAMMA_MINUS = 1
    DRELU_THETA_PLUS = 2
    DRELU_THETA_MINUS = 3
    DRELU_PARAMETER_ROWS = 4
    DRELU_STATE_ROWS = 8

#: A row of dReLU hidden units' statistics, DRELU_STATISTICS blocks of n_hidden:
#: per unit P(h >= 0 | v), P(h < 0 | v), and the mean and second moment of the
#: positive piece and of the (mirrored) negative one.  hidden_probabilities
#: can leave them for sample_hidden and drelu_potential_gradient.
cdef enum:
    DRELU_W_PLUS = 0
    DRELU_W_MINUS = 1
    DRELU_MEAN_PLUS = 2
    DRELU_SECOND_PLUS = 3
    DRELU_MEAN_MINUS = 4
    DRELU_SECOND_MINUS = 5
    DRELU_STATISTICS = 6

#: Rows of chains that share one random stream.  Part of the reproducibility
#: contract: changing it changes every sampled result.
cdef enum:
    CHUNK = 16

cdef struct Units:
    # What the samplers need to know of the two layers, whatever the dtype.
    int visible_kind            # BERNOULLI, GAUSSIAN or CATEGORICAL
    int hidden_kind             # HIDDEN_BERNOULLI, _GAUSSIAN, _RELU or _DRELU
    Py_ssize_t n_visible
    Py_ssize_t n_hidden
    const Py_ssize_t* groups    # CATEGORICAL: column offsets (n_groups + 1), else NULL
    Py_ssize_t n_groups
    # GAUSSIAN: sigma (n_visible) in the model's dtype, else NULL.  Untyped
    # because a struct member cannot be fused: the fused samplers cast it to
    # their own ``floating*``.
    const void* sigma
    # HIDDEN_DRELU: the (DRELU_STATE_ROWS, n_hidden) state in the model's dtype
    # (rows gamma+, gamma-, theta+, theta-, then velocities), else NULL.
    const void* potential

cdef void add_bias_sigmoid_rows(floating* X, Py_ssize_t r0, Py_ssize_t r1, Py_ssize_t n,
                                const floating* bias) noexcept nogil
cdef void hidden_probabilities(const Units* u, floating* H, Py_ssize_t rows,
                               const floating* c, int n_threads,
                               double* stats=*, const floating* Z=*) noexcept nogil
cdef void sample_hidden(const Units* u, const floating* P, const floating* Z,
                        const floating* c, floating* Hs, Py_ssize_t rows, bitgen_t** streams,
                        float* scratch, int n_threads, const double* stats=*) noexcept nogil
cdef bint hidden_sample_on_one_thread(const Units* u, Py_ssize_t rows,
                                      int n_threads) noexcept nogil
cdef void hidden_log_partition_gap(const Units* u, double* G, Py_ssize_t rows, double beta,
                                   double beta_prev) noexcept nogil
cdef void drelu_potential_gradient(const Units* u, const floating* Z, const floating* c,
                                   const floating* row_weights, Py_ssize_t rows,
                                   double* grad, const double* stats=*) noexcept nogil
cdef void sample_visible(const Units* u, floating* A, Py_ssize_t rows, const floating* b,
                         bitgen_t** streams, float* scratch, int n_threads) noexcept nogil
cdef void clamp_visible(floating* S, const floating* values, const unsigned char* mask,
                        Py_ssize_t count) noexcept nogil

# Tempered Gibbs steps: sampling at an inverse temperature beta (parallel
# tempering in _gibbs, annealed importance sampling in _ais).
cdef void scale_rows(floating* X, Py_ssize_t r0, Py_ssize_t r1, Py_ssize_t n,
                     floating factor) noexcept nogil
cdef void tempered_visible_sample(const Units* u, floating* S, Py_ssize_t rows, double beta,
                                  const floating* b, const floating* base_bias,
                                  floating* tempered_b, bitgen_t** rng, float* scratch,
                                  int n_threads) noexcept nogil
cdef void tempered_hidden_sample(const Units* u, const floating* Z, floating* H,
                                 Py_ssize_t rows, double beta, const floating* c,
                                 floating* tempered_c, bitgen_t** rng, float* scratch,
                                 int n_threads) noexcept nogil

cdef Py_ssize_t parallel_threshold() noexcept
cdef void set_parallel_threshold(Py_ssize_t n_elements) noexcept
cdef bint set_avx512_sampling(int enabled) noexcept
cdef bint set_avx512_erfcx(int enabled) noexcept
