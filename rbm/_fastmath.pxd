"""Declarations of the C helpers in ``_fastmath.h`` (vectorised sigmoid,
Bernoulli and categorical draws, row-sum products, AVX-512 paths).

Every function of the header is ``static``: each extension that cimports
this file compiles its own copy of the ones it calls, including the two
AVX-512 dispatch flags (see ``rbm_vector_compaction`` and
``rbm_vector_sampling``), which is why each flag is switched by exactly one
module (``_blas`` and ``_sampling``).
"""

from libc.stdint cimport uint64_t

cdef extern from "_fastmath.h" nogil:
    void rbm_bias_sigmoid_rows_d(double* X, Py_ssize_t r0, Py_ssize_t r1, Py_ssize_t n,
                                 const double* bias)
    void rbm_bias_sigmoid_rows_f(float* X, Py_ssize_t r0, Py_ssize_t r1, Py_ssize_t n,
                                 const float* bias)
    void rbm_bernoulli_d(const double* P, const float* U, double* out, Py_ssize_t count)
    void rbm_bernoulli_f(const float* P, const float* U, float* out, Py_ssize_t count)
    void rbm_divide_by_variance_d(double* X, Py_ssize_t r0, Py_ssize_t r1, Py_ssize_t n,
                                  const double* sigma)
    void rbm_divide_by_variance_f(float* X, Py_ssize_t r0, Py_ssize_t r1, Py_ssize_t n,
                                  const float* sigma)
    void rbm_gaussian_rows_d(double* A, Py_ssize_t r0, Py_ssize_t r1, Py_ssize_t n,
                             const double* b, const double* sigma, const float* noise)
    void rbm_gaussian_rows_f(float* A, Py_ssize_t r0, Py_ssize_t r1, Py_ssize_t n,
                             const float* b, const float* sigma, const float* noise)
    void rbm_gaussian_moment_columns_d(double* VS, Py_ssize_t rows, Py_ssize_t n,
                                       Py_ssize_t lo, Py_ssize_t hi, const double* b,
                                       const double* sigma, const double* row_weights,
                                       double* grad)
    void rbm_gaussian_moment_columns_f(float* VS, Py_ssize_t rows, Py_ssize_t n,
                                       Py_ssize_t lo, Py_ssize_t hi, const float* b,
                                       const float* sigma, const float* row_weights,
                                       double* grad)
    void rbm_sigma_weight_range_d(double* W, double* velocity, double* G, double* grad,
                                  Py_ssize_t n_visible, Py_ssize_t n_hidden, Py_ssize_t lo,
                                  Py_ssize_t hi, double lr, double momentum, double lr_decay,
                                  double decay, int use_momentum)
    void rbm_sigma_weight_range_f(float* W, float* velocity, float* G, double* grad,
                                  Py_ssize_t n_visible, Py_ssize_t n_hidden, Py_ssize_t lo,
                                  Py_ssize_t hi, float lr, float momentum, float lr_decay,
                                  float decay, int use_momentum)
    void rbm_combine_rows_d(const Py_ssize_t* idx, const double* coef, Py_ssize_t n_active,
                            const double* M, Py_ssize_t n, double* out, int accumulate)
    void rbm_combine_rows_f(const Py_ssize_t* idx, const float* coef, Py_ssize_t n_active,
                            const float* M, Py_ssize_t n, float* out, int accumulate)
    void rbm_row_dots_d(const double* X, Py_ssize_t rows, Py_ssize_t n, const double* v,
                        double* out)
    void rbm_row_dots_f(const float* X, Py_ssize_t rows, Py_ssize_t n, const float* v,
                        float* out)
    void rbm_block_softmax_weights_d(double* row, const double* b, const Py_ssize_t* groups,
                                     Py_ssize_t n_groups)
    void rbm_block_softmax_weights_f(float* row, const float* b, const Py_ssize_t* groups,
                                     Py_ssize_t n_groups)
    void rbm_softplus_gap(double* Z, Py_ssize_t count, double beta, double beta_prev)
    void rbm_softplus_array(const double* x, Py_ssize_t count, double* out)
    double rbm_erfcx(double y)
    double rbm_exp(double x)
    int rbm_drelu_row(const double* x, Py_ssize_t n, const double* k, double* w_plus,
                      double* w_minus, double* mean_plus, double* second_plus,
                      double* mean_minus, double* second_minus)
    void rbm_relu_mean_row(const double* x, Py_ssize_t n, double* out)
    int rbm_vector_erfcx(int enabled)
    const int rbm_optimized_build
    void rbm_drelu_mass_row(const double* x, Py_ssize_t n, const double* k, double* out)
    void rbm_relu_mass_row(const double* x, Py_ssize_t n, double* out)
    int rbm_log_ratio_row(const double* upper, const double* lower, Py_ssize_t n, double* gap)
    int rbm_positive_normal(double x)
    double RBM_NORMAL_PROPOSAL_BELOW
    void rbm_log_array(const double* x, Py_ssize_t n, double* out)
    void rbm_exponentials(double* u, Py_ssize_t n)
    void rbm_drelu_sides(const double* x, Py_ssize_t n, const double* theta_plus,
                         const double* theta_minus, const double* r_plus,
                         const double* r_minus, const double* w_plus, const double* U,
                         double* alpha, double* scale)
    void rbm_truncated_first_tries(const double* alpha, const double* scale,
                                   const double* z, Py_ssize_t n, double* h,
                                   Py_ssize_t* retry, Py_ssize_t* tail,
                                   Py_ssize_t* n_retry, Py_ssize_t* n_tail)
    Py_ssize_t rbm_truncated_retries(const double* alpha, const double* scale,
                                     const double* z, Py_ssize_t* idx, Py_ssize_t m,
                                     double* h)
    void rbm_drelu_constants_d(const double* p, Py_ssize_t n, int rows, double* k)
    void rbm_drelu_constants_f(const float* p, Py_ssize_t n, int rows, double* k)
    void rbm_drelu_gradient_row(const double* row, Py_ssize_t n, double w, double* grad)
    void rbm_block_categorical_draw_d(double* row, const Py_ssize_t* groups,
                                      Py_ssize_t n_groups, const float* u)
    void rbm_block_categorical_draw_f(float* row, const Py_ssize_t* groups,
                                      Py_ssize_t n_groups, const float* u)
    void rbm_transpose_d(const double* src, Py_ssize_t rows, Py_ssize_t cols, Py_ssize_t lds,
                         double* dst, Py_ssize_t ldd)
    void rbm_transpose_f(const float* src, Py_ssize_t rows, Py_ssize_t cols, Py_ssize_t lds,
                         float* dst, Py_ssize_t ldd)
    void rbm_sparse_rows_product_d(const double* X, Py_ssize_t rows, Py_ssize_t k,
                                   const double* M, Py_ssize_t n, double* out,
                                   Py_ssize_t* idx, double* coef)
    void rbm_sparse_rows_product_f(const float* X, Py_ssize_t rows, Py_ssize_t k,
                                   const float* M, Py_ssize_t n, float* out,
                                   Py_ssize_t* idx, float* coef)
    void rbm_sparse_outer_update_d(const double* VT, const double* G, Py_ssize_t rows,
                                   Py_ssize_t n_v, Py_ssize_t n_h, double alpha, double* WT,
                                   Py_ssize_t* idx, double* coef)
    void rbm_sparse_outer_update_f(const float* VT, const float* G, Py_ssize_t rows,
                                   Py_ssize_t n_v, Py_ssize_t n_h, float alpha, float* WT,
                                   Py_ssize_t* idx, float* coef)
    # Each extension that includes the header has its own copy of these two
    # flags (static in the header), so only _blas switches the compaction and
    # only _sampling the 8-stream sampler.
    int rbm_vector_compaction(int enabled)
    int rbm_vector_sampling(int enabled)
    void rbm_bernoulli_sfc64x8_f(const float* P, float* out, Py_ssize_t count,
                                 uint64_t** states, int n_lanes)
    void rbm_bernoulli_sfc64x8_d(const double* P, double* out, Py_ssize_t count,
                                 uint64_t** states, int n_lanes)
    void rbm_prefetch_rows(const void* base, const Py_ssize_t* rows, Py_ssize_t n_rows,
                           Py_ssize_t row_bytes)

    void* rbm_dlopen(const char* path)
    void* rbm_dlsym(void* handle, const char* name)
