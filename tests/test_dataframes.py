"""Models fitted on a DataFrame keep the user's column names (issue 21, points 12 and 18).

Samples and Gibbs steps come back as DataFrames with the fitted columns (and,
for categorical data, each column's values and type), go back into the model
without a feature-name warning, and error messages name columns by name.
"""

import warnings

import numpy as np
import pytest

from rbm import BernoulliRBM, CategoricalRBM, GaussianBernoulliRBM

pd = pytest.importorskip("pandas")

COLUMNS = ["age", "smoker", "health"]


@pytest.fixture(scope="module")
def binary_frame():
    rng = np.random.default_rng(0)
    values = (rng.random((60, 3)) < [0.2, 0.5, 0.8]).astype(np.float64)
    return pd.DataFrame(values, columns=COLUMNS, index=np.arange(100, 160))


@pytest.fixture(scope="module")
def survey():
    """Answers of every type a survey frame has: text, numbers, booleans, categoricals."""
    n = 40
    rng = np.random.default_rng(1)
    return pd.DataFrame({
        "colour": rng.choice(["red", "green", "blue"], n),
        "size": rng.choice([1, 2, 3], n),
        "health": pd.Categorical(rng.choice(["poor", "fair", "good"], n),
                                 categories=["poor", "fair", "good", "excellent"],
                                 ordered=True),
        "smoker": rng.choice([True, False], n),
        "grade": pd.array(rng.choice(["a", "b"], n), dtype="string"),
        "dose": rng.choice([0.5, 1.5], n),
    })


def fit_binary(model_type, X):
    return model_type(n_components=3, n_iter=3, learning_rate=0.01, random_state=0,
                      n_jobs=1).fit(X)


@pytest.mark.parametrize("model_type", [BernoulliRBM, GaussianBernoulliRBM])
def test_samples_of_a_dataframe_model_are_a_dataframe_with_its_columns(model_type,
                                                                       binary_frame):
    model = fit_binary(model_type, binary_frame)
    samples = model.sample(5, n_steps=3, random_state=2)
    assert isinstance(samples, pd.DataFrame)
    assert list(samples.columns) == COLUMNS
    assert list(samples.dtypes) == [np.float64] * 3
    # The same numbers as the same model fitted on the bare array.
    array_model = fit_binary(model_type, binary_frame.to_numpy())
    expected = array_model.sample(5, n_steps=3, random_state=2)
    assert isinstance(expected, np.ndarray)
    np.testing.assert_array_equal(samples.to_numpy(), expected)


def test_gibbs_keeps_a_dataframes_columns_and_index_and_an_arrays_form(binary_frame):
    model = fit_binary(BernoulliRBM, binary_frame)
    stepped = model.gibbs(binary_frame.iloc[:4])
    assert isinstance(stepped, pd.DataFrame)
    assert list(stepped.columns) == COLUMNS
    assert list(stepped.index) == [100, 101, 102, 103]
    assert set(np.unique(stepped.to_numpy())) <= {0.0, 1.0}
    with warnings.catch_warnings():
        # An array given to a model fitted on a frame warns (scikit-learn's
        # check of the user's input); the answer stays an array.
        warnings.simplefilter("ignore", UserWarning)
        assert isinstance(model.gibbs(binary_frame.to_numpy()[:4]), np.ndarray)


@pytest.mark.parametrize("model_type", [BernoulliRBM, GaussianBernoulliRBM, CategoricalRBM])
def test_the_models_own_output_goes_back_in_without_a_warning(model_type, binary_frame,
                                                              survey):
    """Point 18: sample() fed to gibbs() warned "X does not have valid feature names"."""
    data = survey if model_type is CategoricalRBM else binary_frame
    model = fit_binary(model_type, data)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        samples = model.sample(4, n_steps=2, random_state=0)
        stepped = model.gibbs(model.gibbs(samples))
        model.score_samples(stepped)
        model.transform(stepped)
        model.free_energy(samples)
    assert list(stepped.columns) == list(data.columns)


def test_categorical_samples_keep_each_columns_values_and_type(survey):
    model = fit_binary(CategoricalRBM, survey)
    samples = model.sample(30, n_steps=5, random_state=0)
    assert isinstance(samples, pd.DataFrame)
    assert list(samples.columns) == list(survey.columns)
    assert list(samples.dtypes) == list(survey.dtypes)
    # The categorical column keeps all four categories and their order.
    assert list(samples["health"].cat.categories) == ["poor", "fair", "good", "excellent"]
    assert samples["health"].cat.ordered
    for column in survey.columns:
        assert set(samples[column]) <= set(survey[column])
    # The same labels as the same model fitted on the bare object array.
    array_model = fit_binary(CategoricalRBM, survey.to_numpy(dtype=object))
    expected = array_model.sample(30, n_steps=5, random_state=0)
    assert expected.dtype == object
    assert samples.astype(object).to_numpy().tolist() == expected.tolist()


def test_categorical_gibbs_of_a_frame_keeps_the_types(survey):
    model = fit_binary(CategoricalRBM, survey)
    stepped = model.gibbs(survey.iloc[5:9])
    assert list(stepped.index) == [5, 6, 7, 8]
    assert list(stepped.dtypes) == list(survey.dtypes)


@pytest.mark.parametrize("method", ["fit", "partial_fit"])
def test_categorical_samples_keep_the_types_of_a_frame_with_gaps(survey, method):
    # A model first fitted on rows with gaps (missing="impute") recorded no
    # column types: its samples and completions came back as object columns.
    gaps = survey.copy()
    gaps.loc[0, "colour"] = None
    gaps.loc[1, "health"] = None
    gaps.loc[2, "grade"] = pd.NA
    model = getattr(CategoricalRBM(n_components=3, n_iter=3, random_state=0, n_jobs=1,
                                   missing="impute"), method)(gaps)
    samples = model.sample(5, n_steps=2, random_state=0)
    completed = model.conditional_sample(gaps.iloc[:4], n_steps=2, random_state=0)
    for frame in (samples, completed, model.gibbs(gaps.iloc[5:9])):
        assert list(frame.dtypes) == list(gaps.dtypes)
    assert list(completed["health"].cat.categories) == ["poor", "fair", "good", "excellent"]
    assert not completed.isna().any().any()


def test_set_output_asks_for_a_dataframe_from_a_model_fitted_on_an_array(binary_frame):
    model = fit_binary(BernoulliRBM, binary_frame.to_numpy()).set_output(transform="pandas")
    samples = model.sample(3, n_steps=2, random_state=0)
    assert isinstance(samples, pd.DataFrame)
    assert list(samples.columns) == ["x0", "x1", "x2"]  # scikit-learn's names for arrays
    assert isinstance(model.transform(binary_frame.to_numpy()), pd.DataFrame)
    array = model.set_output(transform="default").sample(3, n_steps=2, random_state=0)
    np.testing.assert_array_equal(array, samples.to_numpy())


def test_a_saved_model_samples_the_same_frame(survey, tmp_path):
    from rbm import persistence

    model = fit_binary(CategoricalRBM, survey)
    path = tmp_path / "survey.skops"
    persistence.save(model, path)
    loaded = persistence.load(path)
    pd.testing.assert_frame_equal(loaded.sample(10, n_steps=3, random_state=1),
                                  model.sample(10, n_steps=3, random_state=1))


# ----------------------------------------------------------------------
# Messages name columns by name
# ----------------------------------------------------------------------


def test_a_missing_value_is_reported_by_column_name(survey):
    bad = survey.astype({"colour": object})
    bad.loc[3, "colour"] = None
    with pytest.raises(ValueError, match=r"first in row 3, column 'colour'\."):
        CategoricalRBM(n_components=2, n_iter=1).fit(bad)
    model = fit_binary(CategoricalRBM, survey)
    with pytest.raises(ValueError, match=r"first in row 3, column 'colour'\."):
        model.transform(bad)
    # An array given to the same model: the columns still have their names.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # no feature names in an array
        with pytest.raises(ValueError, match=r"first in row 3, column 'colour'\."):
            model.transform(bad.to_numpy(dtype=object))


def test_an_unknown_category_is_reported_by_column_name(survey):
    model = fit_binary(CategoricalRBM, survey)
    bad = survey.astype({"size": object})
    bad.loc[0, "size"] = 7
    with pytest.raises(ValueError, match=r"column 'size' has the value 7 .*\[1, 2, 3\]"):
        model.score_samples(bad)
    # Categories given explicitly are checked at fit, by name too (OneHotEncoder
    # would say "in column 1").
    frame = pd.DataFrame({"colour": ["red", "blue"], "health": ["ok", "bad"]})
    categories = [["red", "blue"], ["ok", "fine"]]
    with pytest.raises(ValueError, match=r"column 'health' has the value 'bad'"):
        CategoricalRBM(n_components=2, n_iter=1, categories=categories).fit(frame)
    with pytest.raises(ValueError, match=r"feature 1 has the value 'bad'"):
        CategoricalRBM(n_components=2, n_iter=1, categories=categories).fit(
            frame.to_numpy(dtype=object))
