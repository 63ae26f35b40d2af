import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.decomposition import PCA
from sklearn.exceptions import NotFittedError
from sklearn.utils.estimator_checks import parametrize_with_checks
from torch import nn

from aekit import Autoencoder
from test_numerics import THREADS, torch_threads


def fast(**params) -> Autoencoder:
    defaults = dict(epochs=3, random_state=0, verbose=False)
    return Autoencoder(**{**defaults, **params})


def sse(X, R):
    return float(((X.reshape(len(X), -1) - R.reshape(len(R), -1)) ** 2).sum(1).mean())


@pytest.mark.parametrize("threads", THREADS)
@parametrize_with_checks([fast()])
def test_sklearn_compatible(estimator, check, threads):
    with torch_threads(threads):  # the checks must pass at 1 and at 2 threads
        check(estimator)


# ------------------------------------------------------------------- bad input
@pytest.fixture(scope="module")
def fitted(digits):
    return fast(latent_dim=4).fit(digits[0][:200])


@pytest.mark.parametrize(
    ("X", "message"),
    [
        (np.array([[0.1, np.nan], [0.2, 0.3]]), "NaN"),
        (np.array([[0.1, np.inf], [0.2, 0.3]]), "infinity"),
        (np.zeros(5), "Expected 2D array"),
        (np.zeros((0, 4)), "0 sample"),
        (np.zeros((1, 4)), "1 sample"),
        (np.zeros((3, 0)), "0 feature"),
        ([["a", "b"], ["c", "d"]], "could not convert string"),
    ],
)
def test_fit_rejects_bad_input(X, message):
    with pytest.raises(ValueError, match=message):
        fast().fit(X)


def test_inference_rejects_mismatched_features(fitted):
    with pytest.raises(ValueError, match="expecting 64 features"):
        fitted.transform(np.zeros((2, 10)))
    with pytest.raises(ValueError, match=r"shape \(4, 4\)"):
        fitted.reconstruct(np.zeros((2, 4, 4)))
    with pytest.raises(ValueError, match="NaN"):
        fitted.reconstruction_error(np.full((2, 64), np.nan))
    with pytest.raises(ValueError, match="latent_dim=4"):
        fitted.inverse_transform(np.zeros((2, 3)))


def test_unfitted_model_raises():
    for method in ("transform", "reconstruct", "reconstruction_error", "score"):
        with pytest.raises(NotFittedError):
            getattr(Autoencoder(), method)(np.zeros((2, 3)))
    with pytest.raises(NotFittedError):
        Autoencoder().inverse_transform(np.zeros((2, 3)))


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"latent_dim": 0}, "latent_dim must be a positive integer"),
        ({"hidden": (8, 0)}, "every width in hidden"),
        ({"activation": "swish"}, "activation='swish' is not valid"),
        ({"output_activation": "softplus"}, "output_activation='softplus'"),
        ({"architecture": "transformer"}, "architecture='transformer'"),
        ({"scaling": "robust"}, "scaling='robust' is not valid"),
        ({"loss": "bce", "output_activation": "linear"}, "needs a sigmoid output"),
        ({"validation_fraction": 1.5}, "validation_fraction must be a number in"),
        ({"optimizer": "lbfgs"}, "optimizer='lbfgs' is not valid"),
        ({"epochs": 0}, "epochs must be a positive integer"),
    ],
)
def test_bad_parameters(params, message):
    with pytest.raises(ValueError, match=message):
        fast(**params).fit(np.random.RandomState(0).rand(20, 5))


# ------------------------------------------------------------------- auto choices
def test_unit_interval_data_gets_sigmoid_and_bce(digits):
    ae = fast(latent_dim=4).fit(digits[0][:100])
    assert ae.module_.config.output_activation == "sigmoid"
    assert ae.loss_ == "bce"
    assert ae.scaling_ is None
    assert ae.module_.config.code_activation == "linear"  # deep encoder
    assert ae.module_.config.hidden == (32, 16)


def test_unbounded_data_gets_linear_output_mse_and_scaling():
    rng = np.random.RandomState(0)
    X = 1000 + 50 * rng.randn(300, 6)
    ae = fast(latent_dim=3, epochs=50, batch_size=32).fit(X)
    assert ae.module_.config.output_activation == "linear"
    assert ae.loss_ == "mse"
    assert ae.scaling_.kind == "standard"
    np.testing.assert_allclose(ae.scaling_.offset, X.mean(0))
    R = ae.reconstruct(X)
    # Outputs come back in the data's units: far better than predicting zeros, near the mean.
    assert abs(R.mean() - X.mean()) < 5
    assert sse(X, R) < sse(X, np.broadcast_to(X.mean(0), X.shape))


def test_seed_model_is_shallow_with_relu_code(digits):
    ae = fast(hidden=(), latent_dim=32).fit(digits[0][:100])
    linears = [m for m in ae.module_.modules() if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(64, 32), (32, 64)]
    assert ae.module_.config.code_activation == "relu"
    assert (ae.transform(digits[0][:50]) >= 0).all()


def test_activation_none_is_a_linear_autoencoder(digits):
    ae = fast(activation=None, loss="mse", latent_dim=5).fit(digits[0][:100])
    config = ae.module_.config
    assert (config.hidden, config.activation, config.code_activation) == ((), "linear", "linear")
    assert config.output_activation == "linear"
    X = digits[0][:10].reshape(10, -1)
    Z = ae.transform(X)
    Z0 = ae.transform(np.zeros_like(X))
    np.testing.assert_allclose(ae.transform(2 * X) - Z0, 2 * (Z - Z0), rtol=1e-4, atol=1e-4)


# ------------------------------------------------------------------- shapes and formats
def test_image_stack_round_trip(digits):
    X = digits[0][:120]  # (n, 8, 8)
    ae = fast(latent_dim=3).fit(X)
    assert ae.input_shape_ == (8, 8)
    assert ae.n_features_in_ == 64
    assert ae.transform(X).shape == (120, 3)
    assert ae.reconstruct(X).shape == (120, 8, 8)
    assert ae.inverse_transform(ae.transform(X)).shape == (120, 8, 8)
    flat = X.reshape(120, 64)
    np.testing.assert_array_equal(ae.transform(flat), ae.transform(X))
    assert ae.reconstruct(flat).shape == (120, 64)
    assert ae.reconstruction_error(X).shape == (120,)


def test_lists_and_dataframes(digits):
    X = digits[0][:60].reshape(60, -1)
    frame = pd.DataFrame(X, columns=[f"px{i}" for i in range(64)])
    a = fast(latent_dim=2).fit(frame)
    assert list(a.feature_names_in_) == list(frame.columns)
    b = fast(latent_dim=2).fit(X.tolist())
    np.testing.assert_array_equal(a.transform(frame), b.transform(X))


def test_score_is_minus_mean_error(fitted, digits):
    X = digits[0][200:300]
    assert fitted.score(X) == pytest.approx(-fitted.reconstruction_error(X).mean())


def test_reconstruction_error_is_the_loss(digits):
    X = digits[0][:200]
    ae = fast(latent_dim=4, loss="mse").fit(X)
    err = ae.reconstruction_error(X)
    R = ae.reconstruct(X)
    np.testing.assert_allclose(err, ((X - R) ** 2).reshape(200, -1).mean(1), rtol=1e-5)


# ------------------------------------------------------------------- training behaviour
def test_same_seed_bit_identical_and_global_rng_untouched(digits):
    # random_state=None draws from the global generators, so fit must leave them alone.
    X = digits[0][:300]
    torch.manual_seed(5)
    np.random.seed(5)  # noqa: NPY002
    expected_torch, expected_np = torch.rand(2), np.random.rand(2)  # noqa: NPY002
    torch.manual_seed(5)
    np.random.seed(5)  # noqa: NPY002
    a = fast(latent_dim=3, random_state=42).fit(X)
    assert torch.equal(torch.rand(2), expected_torch)
    assert np.array_equal(np.random.rand(2), expected_np)  # noqa: NPY002
    b = fast(latent_dim=3, random_state=42).fit(X)
    c = fast(latent_dim=3, random_state=43).fit(X)
    assert np.array_equal(a.transform(X), b.transform(X))
    assert a.history_ == [dict(h, time=a.history_[i]["time"]) for i, h in enumerate(b.history_)]
    assert not np.array_equal(a.transform(X), c.transform(X))


def test_history_and_validation(digits):
    X = digits[0]
    ae = fast(epochs=4).fit(X[:1000], validation_data=X[1000:])
    assert [h["epoch"] for h in ae.history_] == [1, 2, 3, 4]
    assert {"loss", "reconstruction", "val_loss", "val_reconstruction", "time"} <= set(
        ae.history_[0]
    )
    # The validation loss is the loss on validation_data with the kept weights.
    assert ae.history_[ae.best_epoch_ - 1]["val_loss"] == pytest.approx(
        -ae.score(X[1000:]), rel=1e-4
    )
    no_val = fast(epochs=2, validation_fraction=0.0).fit(X[:100])
    assert "val_loss" not in no_val.history_[0]


def test_early_stopping_stops_before_max_epochs(digits):
    X = digits[0][:200]
    ae = fast(epochs=500, patience=2, lr=0.05).fit(X)
    assert len(ae.history_) < 500
    assert len(ae.history_) == ae.best_epoch_ + 2


def test_deep_autoencoder_beats_pca_on_digits(digits):
    X, _ = digits
    X_train, X_test = X[:1400], X[1400:]
    ae = Autoencoder(latent_dim=4, epochs=150, batch_size=64, random_state=0, verbose=False)
    ae.fit(X_train)
    pca = PCA(4).fit(X_train.reshape(1400, -1))
    flat = X_test.reshape(len(X_test), -1)
    pca_err = sse(flat, pca.inverse_transform(pca.transform(flat)))
    ae_err = sse(X_test, ae.reconstruct(X_test))
    assert ae_err < 0.9 * pca_err


def test_linear_autoencoder_matches_pca_on_digits(digits):
    X = digits[0].reshape(len(digits[0]), -1)
    ae = Autoencoder(
        activation=None,
        loss="mse",
        latent_dim=5,
        epochs=300,
        batch_size=64,
        lr=3e-3,
        random_state=0,
        verbose=False,
    ).fit(X)
    pca = PCA(5).fit(X)
    pca_err = sse(X, pca.inverse_transform(pca.transform(X)))
    assert sse(X, ae.reconstruct(X)) < 1.03 * pca_err
