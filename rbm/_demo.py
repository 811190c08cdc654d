"""The digits demo (``python -m rbm``): what RBMs are good at, on scikit-learn's digits.

No download.  Three parts, each printing what its numbers mean:

1. Density: an RBM with 20 hidden units on the digits binarised at 0.5, its
   exact held-out log-likelihood beside independent pixels.
2. Sampling: new images drawn from that model, read by a classifier trained
   on real digits.
3. Features: logistic regression on RBM features against raw pixels, on the
   digits as shipped and shifted by a pixel, where features help.
"""

import argparse
import math
import time

import numpy as np
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from threadpoolctl import threadpool_limits

from . import BernoulliRBM
from ._conditional import how_drawn


#: The demo's description in ``--help``.
DESCRIPTION = """\
Train BernoulliRBMs on scikit-learn's bundled digits (no download) and show
what they are good at, saying what each number means:

1. Density: 20 hidden units on the digits binarised at 0.5 (the library's
   defaults); the exact held-out log-likelihood beside independent pixels.
2. Sampling: new digits drawn from that model, read by a classifier trained
   on real ones.
3. Features: logistic regression on RBM features against raw pixels, on
   the digits as shipped and shifted by a pixel (where features help).

About a minute on an idle 2-core machine (54 s of CPU time, as the README
says); --epochs 300 shortens part 1."""

#: Inverse regularisation strengths logistic regression chooses from.
LOGISTIC_CS = (1, 10, 100, 1000)


def _epochs(text):
    """--epochs: a positive count or "auto"."""
    if text == "auto":
        return text
    try:
        return integer_in(1, 2**31 - 1)(text)
    except argparse.ArgumentTypeError as error:
        raise argparse.ArgumentTypeError(f"{error} (or 'auto')") from None


#: Seeds NumPy's legacy RandomState (and so scikit-learn's random_state) takes.
SEED_MAX = 2**32 - 1


def integer_in(minimum, maximum, why=""):
    """An argparse type: an integer in [minimum, maximum] (refused before any
    training; ``why`` ends the message).  The command line's options use it too."""
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if not minimum <= value <= maximum:
            raise argparse.ArgumentTypeError(
                f"must be an integer from {minimum} to {maximum}{why}, got {text}")
        return value
    return parse


def add_arguments(parser):
    """Add the demo's options to an argparse parser."""
    parser.add_argument("--n-components", type=integer_in(1, 2**31 - 1), default=20, metavar="N",
                        help="hidden units of the density model (default: 20)")
    parser.add_argument("--epochs", type=_epochs, default="auto", metavar="N",
                        help="training epochs of the density model (default: auto, "
                             "the model's default: about 300,000 updates)")
    parser.add_argument("--feature-components", type=integer_in(1, 2**31 - 1), default=256,
                        metavar="N",
                        help="hidden units of the feature model (default: 256)")
    parser.add_argument("--seed", type=integer_in(0, SEED_MAX), default=0, metavar="SEED",
                        help="random seed (default: 0)")
    parser.add_argument("--quiet", action="store_true", help="no per-epoch progress")
    return parser


def binarised_digits():
    """(X_train, X_test, y_train, y_test): digits binarised at 0.5, 70/30 split."""
    digits = load_digits()
    X = (digits.data / 16.0 > 0.5).astype(np.float64)
    return train_test_split(X, digits.target, test_size=0.3, random_state=0)


def independent_pixels_loglik(X_train, X_test):
    """Mean held-out log-likelihood of independent Bernoulli pixels (smoothed)."""
    p = (X_train.sum(axis=0) + 1.0) / (X_train.shape[0] + 2.0)
    return float(np.mean(X_test @ np.log(p) + (1 - X_test) @ np.log1p(-p)))


def _log_z_label(model, estimate):
    """How log Z was obtained, in the words of the command line's ``fit`` and ``score``."""
    if estimate.is_exact:
        n_states = min(model.n_components, model.n_features_in_)
        return f"{estimate.label}, summed over all 2^{n_states} states of the smaller layer"
    return estimate.label


def density_estimation(args):
    """Fit the density model, print its log-likelihoods (exact at the default size) and
    what they mean.

    Returns the fitted model (the sampling part draws from it).
    """
    X_train, X_test, _, _ = binarised_digits()
    # Exact up to about 22 hidden units; --n-components above gives AIS.
    print("1. Density estimation: log-likelihoods")
    print(f"Digits binarised at 0.5: {X_train.shape[0]} training and "
          f"{X_test.shape[0]} held-out images of {X_train.shape[1]} pixels.")
    # The library's default training settings (tuned for density estimation).
    model = BernoulliRBM(n_components=args.n_components, n_iter=args.epochs,
                         random_state=args.seed, verbose=0 if args.quiet else 1)
    start = time.perf_counter()
    model.fit(X_train)
    elapsed = time.perf_counter() - start
    estimate = model.log_partition()
    log_z = estimate.log_z
    print(f"\nTrained {model.n_iter_} epochs of PCD-1 in {elapsed:.1f} s.")
    print(f"log Z = {log_z:.4f} ({_log_z_label(model, estimate)}).")
    held_out = model.score(X_test)
    independent = independent_pixels_loglik(X_train, X_test)
    print("Mean log p(x) of held-out images, nats per image (higher is better):")
    print(f"  BernoulliRBM, {args.n_components} hidden units    {held_out:9.3f}")
    print(f"  independent pixels                {independent:9.3f}   "
          "(each pixel on with its training frequency)")
    print(f"  (the RBM on its training images   {model.score(X_train):9.3f}   "
          "the gap to held-out is overfitting)")
    print(density_verdict(held_out - independent, X_train.shape[1]) + " "
          + _likelihood_kind(estimate))
    return model


def density_verdict(gain, n_pixels):
    """What the held-out log-likelihood gain over independent pixels means.

    Parameters
    ----------
    gain : float
        Mean held-out log p(x) of the RBM minus that of independent pixels, nats.
    n_pixels : int
        Pixels per image.

    Returns
    -------
    text : str
        The ratio of probabilities and the bits per pixel saved, or, where the
        RBM is no better (a short fit: ``--epochs 1``), that it learnt nothing
        more (it read "e^-0.0 = 1 times ... -0.00 fewer bits per pixel").
    """
    bits = gain / math.log(2) / n_pixels
    if round(gain, 1) > 0:
        return (f"The RBM gives a held-out image e^{gain:.1f} = {_ratio(gain)} times the "
                "probability independent pixels give it\n(geometric mean over images): "
                f"{bits:.2f} fewer bits per pixel to encode it.")
    return (f"The RBM gives held-out images no more probability than independent pixels do "
            f"(e^{gain:.1f} times\ntheirs, {-bits:.2f} more bits per pixel): it has learnt "
            "nothing beyond how often each pixel is on\n(train longer: more --epochs).")


def _likelihood_kind(estimate):
    """What the demo's log-likelihoods are, by how their log Z was obtained."""
    if estimate.is_exact:
        return ("These are exact\nlikelihoods, not bounds: models of any size can be "
                "compared by them (GridSearchCV uses score).")
    # Forward AIS errs low on log Z (Jensen), so log p(x) = -F(x) - log Z errs high.
    by = (f"by about its standard error ({estimate.std_error:.2g} nats) or more"
          if math.isfinite(estimate.std_error) else
          "by an amount its too few effective AIS runs do not tell (no standard error)")
    return ("These are estimates:\nlog Z is an AIS estimate of a model too large to "
            f"enumerate, which errs low, so they err high, {by}.")


def _ratio(log_ratio):
    """exp(log_ratio) rounded for reading: 812, 3.2e+05."""
    value = math.exp(log_ratio)
    return f"{value:,.0f}" if value < 1e5 else f"{value:.1e}"


def ascii_images(images, shape=(8, 8)):
    """Binary images side by side as text: '#' for on, '.' for off."""
    rows = []
    for r in range(shape[0]):
        rows.append("  ".join("".join("#" if image.reshape(shape)[r, c] > 0.5 else "."
                                      for c in range(shape[1])) for image in images))
    return "\n".join("  " + row for row in rows)


def independent_pixels_sample(X_train, n_samples, rng):
    """Images with each pixel on independently at its training frequency (smoothed)."""
    p = (X_train.sum(axis=0) + 1.0) / (X_train.shape[0] + 2.0)
    return (rng.random((n_samples, X_train.shape[1])) < p).astype(np.float64)


def sampling(model, args, n_samples=100):
    """Draw images from the density model and let a classifier of real digits read them."""
    X_train, X_test, y_train, y_test = binarised_digits()
    print("\n2. Sampling: new images from the model")
    start = time.perf_counter()
    samples = model.sample(n_samples, n_steps=1000, random_state=args.seed)
    how = ("each image drawn exactly" if how_drawn(model, 1000) == "drawn exactly"
           else "each image from its own chain of 1,000 Gibbs steps")
    print(f"model.sample({n_samples}, n_steps=1000): {how} "
          f"({time.perf_counter() - start:.1f} s). The first eight:")
    print(ascii_images(samples[:8]))
    baseline = independent_pixels_sample(X_train, n_samples, np.random.default_rng(args.seed))
    print("Independent pixels, for comparison:")
    print(ascii_images(baseline[:8]))
    with threadpool_limits(limits=1, user_api="blas"):
        reader = LogisticRegression(C=1.0, max_iter=5000).fit(X_train, y_train)
        accuracy = reader.score(X_test, y_test)
        confidence = {name: reader.predict_proba(images).max(axis=1)
                      for name, images in (("rbm", samples), ("independent", baseline),
                                           ("real", X_test))}
    counts = np.bincount(reader.predict(samples), minlength=10)
    print(f"A logistic regression trained on the real training images (held-out "
          f"accuracy {accuracy:.3f})\nreads the {n_samples} RBM samples as:")
    print("  digit   " + " ".join(f"{d:3d}" for d in range(10)))
    print("  samples " + " ".join(f"{c:3d}" for c in counts))
    print("Its mean confidence (the probability of the digit it picks), from 0.1 for "
          "a blind guess to 1:")
    print(f"  RBM samples {confidence['rbm'].mean():.2f}, independent-pixel samples "
          f"{confidence['independent'].mean():.2f}, held-out real images "
          f"{confidence['real'].mean():.2f}.")
    print("The closer the RBM's samples come to real images, and the further above "
          "independent pixels,\nthe more of what makes a digit the model has learnt "
          "(strokes that go together, not only\nwhich pixels are often on).")


def shifted_copies(X, y):
    """X and its copies moved one pixel up, down, left and right (scikit-learn's
    RBM example's "nudged" digits), and their labels."""
    images = X.reshape(-1, 8, 8)
    copies = [images]
    for axis, step in ((1, 1), (1, -1), (2, 1), (2, -1)):
        moved = np.roll(images, step, axis=axis)
        edge = [slice(None)] * 3
        edge[axis] = 0 if step == 1 else -1
        moved[tuple(edge)] = 0  # pixels shifted in from outside are blank
        copies.append(moved)
    return np.concatenate(copies).reshape(-1, 64), np.tile(y, len(copies))


def logistic_regression_accuracy(train, test, y_train, y_test, seed=0):
    """Test accuracy of logistic regression, C chosen on a quarter of the training rows."""
    fit_rows, check_rows, fit_y, check_y = train_test_split(
        train, y_train, test_size=0.25, random_state=seed, stratify=y_train)
    # Products this small run 20x faster on one BLAS thread than on several.
    with threadpool_limits(limits=1, user_api="blas"):
        best_c = max(LOGISTIC_CS, key=lambda c: LogisticRegression(C=c, max_iter=5000).fit(
            fit_rows, fit_y).score(check_rows, check_y))
        return LogisticRegression(C=best_c, max_iter=5000).fit(train, y_train).score(
            test, y_test)


def features(args):
    """Logistic regression on RBM features against raw pixels, on centred and shifted digits."""
    digits = load_digits()
    X_train, X_test, y_train, y_test = train_test_split(
        digits.data / 16.0, digits.target, test_size=0.3, random_state=0)
    shifted_train, shifted_y_train = shifted_copies(X_train, y_train)
    shifted_test, shifted_y_test = shifted_copies(X_test, y_test)
    print("\n3. Features: logistic regression on RBM features against raw pixels")
    start = time.perf_counter()
    # scikit-learn's algorithm and its RBM example's settings: quick
    # feature learning, trained without labels on every shifted training image.
    model = BernoulliRBM.sklearn_compatible(n_components=args.feature_components,
                                            learning_rate=0.06, n_iter=10,
                                            random_state=args.seed).fit(shifted_train)
    print(f"Feature model: BernoulliRBM.sklearn_compatible(n_components="
          f"{args.feature_components}, learning_rate=0.06, n_iter=10),\ntrained without "
          f"labels on {shifted_train.shape[0]} grey-level images in "
          f"{time.perf_counter() - start:.1f} s.")
    print("Test accuracy on the 10 digits (C chosen on a quarter of the training rows):")
    print("                                        raw pixels   RBM features")
    accuracies = []
    for name, (train, test, y_tr, y_te) in {
        "digits as scikit-learn ships them": (X_train, X_test, y_train, y_test),
        "shifted by one pixel (5x the images)": (shifted_train, shifted_test, shifted_y_train,
                                                 shifted_y_test),
    }.items():
        raw = logistic_regression_accuracy(train, test, y_tr, y_te, args.seed)
        rbm = logistic_regression_accuracy(model.transform(train), model.transform(test),
                                           y_tr, y_te, args.seed)
        print(f"  {name:38s} {raw:.3f}        {rbm:.3f}")
        accuracies.append((raw, rbm))
    print(features_verdict(*accuracies))


#: Accuracies closer than this are read as equal: about two standard errors of
#: the difference of two accuracies on the 540 held-out digits as shipped.
SAME_ACCURACY = 0.025


def features_verdict(shipped, shifted):
    """The features part's closing words, as its measured accuracies say.

    Parameters
    ----------
    shipped, shifted : tuple of float
        (raw pixels, RBM features) test accuracy on the digits as shipped and
        on their shifted copies.

    Returns
    -------
    text : str
        What the numbers show.  Fixed wording said that RBM features rescue
        the shifted digits even where (``--feature-components 8``) they lost.
    """
    raw, rbm = shipped
    if rbm > raw + SAME_ACCURACY:
        compared = "RBM features do better"
    elif rbm >= raw - SAME_ACCURACY:
        compared = "RBM features do no better"
    else:
        compared = "RBM features do worse"
    text = ("The digits as shipped are centred and scaled: a linear classifier on the pixels "
            f"already\nseparates them ({raw:.2f}), and {compared} ({rbm:.2f}). ")
    raw, rbm = shifted
    text += ("Shifted by a pixel, the same\nstroke lands on other pixels, and a linear "
             f"classifier on them falls to {raw:.2f}; the RBM's\n")
    if rbm > raw + SAME_ACCURACY:
        return text + ("hidden units respond to strokes and parts of digits, which a linear "
                       f"classifier can\ncombine ({rbm:.2f}).")
    return text + (f"features do not help here ({rbm:.2f}): they have learnt no strokes that "
                   "a linear\nclassifier can combine (more hidden units, --feature-components, "
                   "may).")


def run(args):
    """Run the demo with parsed arguments (see ``add_arguments``)."""
    model = density_estimation(args)
    sampling(model, args)
    features(args)
