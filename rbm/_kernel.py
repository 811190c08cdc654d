"""TEMPORARY adapter: the redesigned kernel contract over the old entry points.

Replaced by ``rbm._gibbs`` itself when the compiled half of the redesign lands.
"""

import numpy as np

from . import _gibbs


def _visible_arguments(visible, dtype):
    state = visible.state if visible.state is not None else np.zeros((1, 1), dtype=dtype)
    groups = visible.groups if visible.groups is not None else np.zeros(2, dtype=np.intp)
    return state, groups


def gibbs_chains(params, visible, V, H, P, n_steps, streams, n_threads):
    state, groups = _visible_arguments(visible, params.W.dtype)
    _gibbs.gibbs_chains(visible.kind, V, H, P, params.W, params.b, params.c, state, groups,
                        n_steps, streams, n_threads)


def ais_log_weights(params, visible, S, base_bias, betas, streams, n_threads):
    state, groups = _visible_arguments(visible, np.float64)
    return _gibbs.ais_log_weights(visible.kind, S, params.W, params.b, params.c, base_bias,
                                  state, groups, betas, streams, n_threads)


def train_minibatches(batches, params, state, update, visible, streams, n_threads):
    dtype = params.W.dtype
    vstate, groups = _visible_arguments(visible, dtype)
    if batches.X is not None:
        data = (batches.X, np.zeros(1, dtype=dtype), np.zeros(1, dtype=np.intp),
                np.zeros(1, dtype=np.intp), False)
    else:
        data = (np.zeros((1, 1), dtype=dtype), batches.csr_data, batches.csr_indices,
                batches.csr_indptr, True)
    betas = update.betas if update.betas is not None else np.linspace(1.0, 0.0, 10)
    base_bias = update.base_bias if update.base_bias is not None else params.b.copy()
    swap_counts = state.swap_counts
    _gibbs.train_minibatches(
        visible.kind, update.method, *data, batches.order, batches.ends,
        params.W, params.b, params.c, state.W_velocity, state.b_velocity, state.c_velocity,
        state.chains, vstate, groups, visible.learn_sigma, state.visible_offset,
        state.hidden_offset, update.offset_rate, betas, base_bias, swap_counts,
        update.learning_rate, update.momentum, update.weight_decay, update.l1_weight_decay,
        update.sparsity_target, update.sparsity_cost, state.hidden_activity, update.k,
        streams, n_threads)
