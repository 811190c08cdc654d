"""Choose RBMImputer's default rule on validation rows, never on the test split.

For each set of ``imputation.py`` this takes the benchmark's own *training*
rows (the same loader, seeds and subsample), sets 20% of them aside as
validation rows (a seeded permutation), fits ``RBMImputer`` with each
candidate ``rbm.impute.DefaultRule`` on the other 80%, removes 20% of the
validation entries at random (seeded; one mask for every rule) and scores
the imputed entries as the benchmark does: accuracy for discrete sets, RMSE
in training standard deviations for real ones.  The benchmark's test rows
are not loaded into the comparison at all.

The choice (fixed before any result was seen): each rule's *regret* on a
set is the best rule's accuracy minus its own (discrete sets) or its
relative RMSE excess, RMSE / best RMSE - 1 (real sets); the rule with the
lowest mean regret over the sets wins, except that the cheapest rule (by
the cost of one update, ``cost``) whose mean regret is within
``TOLERANCE`` of the lowest is preferred.

Every (set, rule) result is appended to ``--out`` (JSON lines; by default
``rbm_imputation_select.jsonl`` in the system's temporary folder, never the
checkout) as soon as it is measured, and a rerun skips the pairs already
there, so that a run stopped on a loaded machine resumes where it was.  A
record is reused only if it was measured under the same settings: the
rule's parameters, ``--train``, ``--test``, the seeds and fractions, and the
rbm version and git commit (``settings_key``); records of other settings
stay in the file but are neither reused nor reported.

    OMP_NUM_THREADS=1 PYTHONPATH=. python benchmarks/imputation_select.py \\
        [--sets dna,wine] [--rules current,chains20] [--out /tmp/select.jsonl]
    # posterior averaging on one rule's fit (more chains, more sweeps):
    PYTHONPATH=. python benchmarks/imputation_select.py --marginals --sets dna --rules current
    # reference imputers on the same validation rows and mask:
    PYTHONPATH=. python benchmarks/imputation_select.py --references KNN,"HGB per column" --sets dna
"""

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import rbm
from rbm import DivergenceError
from rbm.impute import DefaultRule
from _common import rbm_commit
from imputation import (DATA, MISSING_FRACTION, SEED, SETS, available, contenders,
                        fitted_rbm_imputer, load, rbm_imputer, score)

VALIDATION_FRACTION = 0.2
#: Mean regret (accuracy points, or relative RMSE) within which a cheaper rule wins.
TOLERANCE = 0.001
#: The candidate rules: the rule in use before this selection ("current",
#: picked on the benchmark's test split) and alternatives that change one or
#: two things, most of them cheaper per update.
RULES = {
    "current": DefaultRule(),
    "chains20": DefaultRule(n_chains=20),
    "chains20_h128": DefaultRule(n_chains=20, max_hidden=128),
    "chains20_20k_lr2": DefaultRule(n_chains=20, updates=20000, learning_rate_scale=2.0),
    # Second round (the protein alignments behind KNN): capacity and memorisation.
    "h512": DefaultRule(n_chains=20, max_hidden=512),
    "wd1e-3": DefaultRule(n_chains=20, weight_decay=1e-3),
    "h512_wd1e-3": DefaultRule(n_chains=20, max_hidden=512, weight_decay=1e-3),
    "wd2e-3": DefaultRule(n_chains=20, weight_decay=2e-3),
    "h512_wd2e-3": DefaultRule(n_chains=20, max_hidden=512, weight_decay=2e-3),
    "wd5e-4": DefaultRule(n_chains=20, weight_decay=5e-4),
    "wd2e-4": DefaultRule(n_chains=20, weight_decay=2e-4),
    # Decay scaled by 4 / mean categories per feature for categorical data
    # (dna's 4 keep 5e-3; 21 residues about 1e-3); binary and real unchanged.
    "percat4": DefaultRule(n_chains=20, decay_categories=4.0),
    "percat4_h512": DefaultRule(n_chains=20, decay_categories=4.0, max_hidden=512),
    "percat6": DefaultRule(n_chains=20, decay_categories=6.0),
    "percat6_h512": DefaultRule(n_chains=20, decay_categories=6.0, max_hidden=512),
    # percat4_h512 only where the rows have near-identical neighbours
    # (rbm.impute.neighbour_identity at least 0.7): not lattice, not dna.
    "percat4_h512_id07": DefaultRule(n_chains=20, max_hidden=512, decay_categories=4.0,
                                     decay_identity=0.7),
    "drelu": DefaultRule(n_chains=20, hidden="drelu", learning_rate=0.01),
}
#: (chains, sweeps) of the posterior averages that ``--marginals`` compares
#: (the imputer's own is the first).
MARGINAL_SETTINGS = [(4, 100), (16, 100), (16, 400)]


def cost(rule, n_columns=976, batch_size=20):
    """Relative cost of one fit: updates x (batch + chains) x columns x hidden units
    (for the widest benchmark set, kunitz's 976 one-hot columns, by default)."""
    return rule.updates * (batch_size + rule.n_chains) * n_columns * rule.n_components(n_columns)


def validation_split(name, n_train, n_test):
    """(fitting rows, validation rows with gaps, the complete validation rows,
    mask of the removed entries, kind), from the benchmark's training rows only."""
    kind = SETS[name]
    train, _ = load(name, n_train, n_test, np.random.default_rng(SEED))
    train = np.asarray(train, dtype=float)
    order = np.random.default_rng(SEED + 3).permutation(len(train))
    n_valid = int(round(VALIDATION_FRACTION * len(train)))
    fit, valid = train[order[n_valid:]], train[order[:n_valid]]
    removed = np.random.default_rng(SEED + 4).random(valid.shape) < MISSING_FRACTION
    gappy = valid.copy()
    gappy[removed] = np.nan
    return fit, gappy, valid, removed, kind


def scale_of(kind, fit):
    if kind != "real":
        return None
    scale = fit.std(axis=0)
    return np.where(scale > 0, scale, 1.0)


def evaluate(fill, fit, gappy, valid, removed, kind):
    start = time.perf_counter()
    completed = np.asarray(fill(fit, gappy), dtype=float)
    return score(kind, valid, completed, removed, scale_of(kind, fit)), \
        time.perf_counter() - start


DEFAULT_OUT = Path(tempfile.gettempdir()) / "rbm_imputation_select.jsonl"


def settings_key(args, label, commit):
    """Everything that changes a (set, rule) score, as one string: a stored
    record is reused only where its key is this one."""
    return json.dumps({"rule": repr(RULES[label]), "train": args.train, "test": args.test,
                       "seed": SEED, "missing": MISSING_FRACTION,
                       "validation": VALIDATION_FRACTION, "rbm": rbm.__version__,
                       "commit": commit}, sort_keys=True)


def done_pairs(path, keys, note=True):
    """{(set, rule): record} of the records in ``path`` measured under the
    settings ``keys[rule]`` (a later record of a pair replaces an earlier one)."""
    if not path.is_file():
        return {}
    records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    matching = [r for r in records if r["rule"] in keys and r.get("settings") == keys[r["rule"]]]
    other = sum(1 for r in records if r["rule"] in keys) - len(matching)
    if other and note:
        print(f"{path}: {other} record(s) of these rules under other settings not used",
              file=sys.stderr)
    return {(r["set"], r["rule"]): r for r in matching}


def append(path, record):
    with path.open("a") as f:
        f.write(json.dumps(record) + "\n")
    print(f"  {record}", file=sys.stderr, flush=True)


def select(args, names):
    path = Path(args.out)
    commit = rbm_commit()
    keys = {label: settings_key(args, label, commit) for label in args.rules}
    done = done_pairs(path, keys)
    for name in names:
        fit, gappy, valid, removed, kind = validation_split(name, args.train, args.test)
        for label in args.rules:
            if (name, label) in done:
                continue
            try:
                value, seconds = evaluate(rbm_imputer(kind, RULES[label]), fit, gappy, valid,
                                          removed, kind)
            except DivergenceError as error:  # a rule that diverges on a set is out
                print(f"  {name} {label}: {error}", file=sys.stderr, flush=True)
                value, seconds = None, float("nan")
            append(path, {"set": name, "rule": label, "kind": kind, "score": value,
                          "seconds": seconds, "fit_rows": len(fit), "valid_rows": len(valid),
                          "settings": keys[label]})
    records = {pair: r for pair, r in done_pairs(path, keys, note=False).items()
               if pair[0] in names}
    print(report(records, args.rules))


def regrets(records, labels):
    """{rule: {set: regret}} over the sets every rule in labels has a result on."""
    sets = sorted({s for s, _ in records}, key=list(SETS).index)
    sets = [s for s in sets if all((s, l) in records for l in labels)]
    out = {label: {} for label in labels}
    for s in sets:
        real = records[(s, labels[0])]["kind"] == "real"
        # A fit that diverged (score None) scores the worst possible.
        scores = {l: (np.inf if real else 0.0) if records[(s, l)]["score"] is None
                  else records[(s, l)]["score"] for l in labels}
        if real:
            best = min(scores.values())
            for l in labels:
                out[l][s] = scores[l] / best - 1
        else:
            best = max(scores.values())
            for l in labels:
                out[l][s] = best - scores[l]
    return out


def chosen(mean_regret):
    """The cheapest rule within TOLERANCE of the lowest mean regret."""
    lowest = min(mean_regret.values())
    near = [l for l, r in mean_regret.items() if r <= lowest + TOLERANCE]
    return min(near, key=lambda l: (cost(RULES[l]), mean_regret[l]))


def report(records, labels):
    labels = [l for l in labels if any(k[1] == l for k in records)]
    if not labels:
        return "no results to report (every set skipped, or nothing measured)"
    table = regrets(records, labels)
    sets = list(next(iter(table.values()))) if table else []
    lines = ["| rule | " + " | ".join(sets) + " | mean regret | relative cost |",
             "|---|" + "---|" * (len(sets) + 2)]
    mean_regret = {}
    for l in labels:
        mean_regret[l] = float(np.mean(list(table[l].values()))) if sets else float("nan")
        cells = ["diverged" if records[(s, l)]["score"] is None
                 else f"{records[(s, l)]['score']:.4f}" for s in sets]
        lines.append(f"| {l} | " + " | ".join(cells)
                     + f" | {mean_regret[l]:.4f} | {cost(RULES[l]) / cost(RULES['current']):.2f} |")
    lines += ["", "Seconds (fit + transform):", "", "| rule | " + " | ".join(sets) + " |",
              "|---|" + "---|" * len(sets)]
    for l in labels:
        lines.append(f"| {l} | " + " | ".join(f"{records[(s, l)]['seconds']:.0f}"
                                              for s in sets) + " |")
    if sets:
        lines += ["", f"Chosen (lowest mean regret, the cheapest within {TOLERANCE}): "
                  f"**{chosen(mean_regret)}** = {RULES[chosen(mean_regret)]}"]
    return "\n".join(lines)


def marginals(args, names):
    """Posterior mode from more chains and sweeps, on one fit per set and rule."""
    for name in names:
        fit, gappy, valid, removed, kind = validation_split(name, args.train, args.test)
        if kind == "real":
            continue
        for label in args.rules:
            imputer, rows = fitted_rbm_imputer(kind, fit, gappy, RULES[label])
            model = imputer.estimator_
            X, missing = imputer._validated(rows, reset=False)
            internal, observed = model._incomplete_input(imputer._model_input(X, missing))
            for chains, sweeps in MARGINAL_SETTINGS:
                start = time.perf_counter()
                completed = model._visible_unit.decode(model._complete_by_marginals(
                    internal, observed, n_chains=chains, n_sweeps=sweeps, random_state=SEED))
                out = np.asarray(imputer._model_output(completed, X, missing), dtype=float)
                print(f"| {name} | {label} | {chains} x {sweeps} | "
                      f"{score(kind, valid, out, removed, None):.4f} | "
                      f"{time.perf_counter() - start:.0f} |", flush=True)


def references(args, names):
    """scikit-learn's imputers and per-column HGB on the same validation rows and mask."""
    for name in names:
        fit, gappy, valid, removed, kind = validation_split(name, args.train, args.test)
        for label, fill in contenders(kind).items():
            if label not in args.references:
                continue
            value, seconds = evaluate(fill, fit, gappy, valid, removed, kind)
            print(f"| {name} | {label} | {value:.4f} | {seconds:.0f} |", flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sets", default=",".join(SETS))
    parser.add_argument("--rules", default=",".join(RULES))
    parser.add_argument("--train", type=int, default=3000)
    parser.add_argument("--test", type=int, default=1000)
    parser.add_argument("--out", default=str(DEFAULT_OUT),
                        help="JSON-lines file of the results, resumed from "
                             "(default: %(default)s)")
    parser.add_argument("--marginals", action="store_true")
    parser.add_argument("--references", default=None,
                        help="comma-separated reference imputers (Simple, KNN, Iterative, "
                             "HGB per column) to score on the validation rows instead")
    args = parser.parse_args(argv)
    args.rules = args.rules.split(",")
    unknown = set(args.rules) - set(RULES)
    if unknown:
        parser.error(f"unknown rules {sorted(unknown)}; choose among {list(RULES)}")
    names = args.sets.split(",")
    unknown_sets = [name for name in names if name not in SETS]
    if unknown_sets:
        parser.error(f"unknown sets {unknown_sets}; choose among {list(SETS)}")
    for name in names:
        if not available(name):
            print(f"skipped {name}: its data file is not under {DATA}", file=sys.stderr)
    names = [name for name in names if available(name)]
    if not names:
        print("nothing to run: every set was skipped", file=sys.stderr)
        return 0
    if args.marginals:
        marginals(args, names)
    elif args.references:
        args.references = args.references.split(",")
        references(args, names)
    else:
        select(args, names)
    return 0


if __name__ == "__main__":
    sys.exit(main())
