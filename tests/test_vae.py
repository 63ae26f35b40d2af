"""aekit.VAE: the estimator contract, the ELBO and likelihood figures, sampling, real data."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

import aekit
from aekit import VAE
from aekit.io import describe
from test_numerics import THREADS, torch_threads


def fast(**params) -> VAE:
    defaults = dict(epochs=3, random_state=0, verbose=False)
    return VAE(**{**defaults, **params})


@pytest.mark.parametrize("threads", THREADS)
@parametrize_with_checks([VAE(epochs=2, latent_dim=2, random_state=0, verbose=False)])
def test_sklearn_compatible(estimator, check, threads):
    with torch_threads(threads):  # the checks must pass at 1 and at 2 threads
        check(estimator)


@pytest.fixture(scope="module")
def fitted(digits):
    X = digits[0]
    return fast(latent_dim=4, epochs=20).fit(X[:1500]), X


def test_likelihood_follows_the_data(digits):
    X = digits[0][:300]
    assert fast().fit(X).likelihood_ == "bernoulli"
    wide = fast().fit(X * 16 - 3)
    assert wide.likelihood_ == "gaussian"
    assert wide.module_.config.output_activation == "linear"


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (dict(architecture="recurrent"), "architecture"),
        (dict(activation=None), "nonlinear"),
        (dict(likelihood="poisson"), "likelihood"),
        (dict(binarize="static"), "binarize"),
        (dict(beta=-1.0), "beta"),
        (dict(likelihood="gaussian", binarize="dynamic"), "Bernoulli"),
    ],
)
def test_bad_parameters_say_what_is_wrong(digits, params, message):
    with pytest.raises(ValueError, match=message):
        fast(**params).fit(digits[0][:50])


def test_bernoulli_refuses_data_outside_unit_interval(digits):
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        fast(likelihood="bernoulli", scaling=None).fit(digits[0][:50] * 2)


def test_history_terms_add_up_and_beta_shrinks_the_kl(digits):
    X = digits[0][:600]
    plain = fast(epochs=5).fit(X)
    for record in plain.history_:
        assert record["loss"] == pytest.approx(record["reconstruction"] + record["kl"], rel=1e-5)
        assert record["val_loss"] == pytest.approx(
            record["val_reconstruction"] + record["val_kl"], rel=1e-5
        )
    heavy = fast(epochs=5, beta=4.0).fit(X)
    kl_plain = plain.history_[-1]["kl"]
    kl_heavy = heavy.history_[-1]["kl"] / 4.0  # the history holds beta * KL
    assert kl_heavy < kl_plain


def test_binarize_trains_on_binary_draws(digits):
    X = digits[0][:300]
    a = fast(binarize="dynamic").fit(X)
    b = fast(binarize="dynamic").fit(X)
    soft = fast().fit(X)

    def losses(model):
        return [{k: v for k, v in r.items() if k != "time"} for r in model.history_]

    assert losses(a) == losses(b)
    # Grey levels are less surprising than coin flips of them: soft data has lower -log p.
    assert soft.history_[0]["reconstruction"] < a.history_[0]["reconstruction"]


def test_transform_and_reconstruct_are_deterministic(fitted):
    vae, X = fitted
    assert np.array_equal(vae.transform(X[:50]), vae.transform(X[:50]))
    assert np.array_equal(vae.reconstruct(X[:50]), vae.reconstruct(X[:50]))
    assert vae.reconstruct(X[:50]).shape == (50, 8, 8)


def test_sample_is_reproducible_and_in_range(fitted):
    vae, _ = fitted
    a, b = vae.sample(16, random_state=1), vae.sample(16, random_state=1)
    assert a.shape == (16, 8, 8)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, vae.sample(16, random_state=2))
    assert a.min() >= 0 and a.max() <= 1


def test_interpolate_runs_from_one_code_to_the_other(fitted):
    vae, X = fitted
    path = vae.interpolate(X[0], X[1], steps=6)
    assert path.shape == (6, 8, 8)
    np.testing.assert_allclose(path[0], vae.reconstruct(X[:1])[0], atol=1e-5)
    np.testing.assert_allclose(path[-1], vae.reconstruct(X[1:2])[0], atol=1e-5)
    with pytest.raises(ValueError, match="one sample"):
        vae.interpolate(X[:2], X[1])
    with pytest.raises(ValueError, match="steps"):
        vae.interpolate(X[0], X[1], steps=1)


def test_importance_sampling_tightens_the_bound(fitted):
    vae, X = fitted
    binary = (np.random.RandomState(0).random_sample(X[1500:].shape) < X[1500:]).astype(np.float32)
    elbo = vae.elbo(binary, random_state=0)
    ll = vae.log_likelihood(binary, n_samples=200, random_state=0)
    assert elbo.shape == ll.shape == (len(binary),)
    assert np.all(ll <= 0)  # log-probabilities of binary data
    assert ll.mean() > elbo.mean()
    # The bound tightens with K; a single sample is the ELBO itself, in expectation.
    assert vae.log_likelihood(binary, n_samples=1, random_state=0).mean() == pytest.approx(
        elbo.mean(), abs=2.0
    )
    assert np.array_equal(ll, vae.log_likelihood(binary, n_samples=200, random_state=0))
    assert vae.score(binary) == pytest.approx(vae.elbo(binary, random_state=0).mean())


def test_gaussian_densities_are_in_the_data_units(digits):
    # The same data in units 10 times larger: the z-scored data, and so the network, are the
    # same; the density per sample must drop by D log 10.
    X = digits[0][:400].reshape(400, -1) * 16 - 3
    X = X[:, X.std(0) > 0]  # a constant feature keeps scale 1 (its density is degenerate)
    small = fast(likelihood="gaussian").fit(X)
    large = fast(likelihood="gaussian").fit(10 * X)
    shift = X.shape[1] * np.log(10)
    np.testing.assert_allclose(
        large.elbo(10 * X, random_state=0), small.elbo(X, random_state=0) - shift, atol=0.05
    )


def test_conv_vae_on_images(digits):
    X = digits[0][:300]
    vae = fast(architecture="conv", latent_dim=3).fit(X)
    assert type(vae.module_).__name__ == "ConvVAE"
    assert vae.sample(2, random_state=0).shape == (2, 8, 8)
    assert np.isfinite(vae.log_likelihood(X[:5], n_samples=10)).all()


def test_save_and_load_round_trip(fitted, tmp_path):
    vae, X = fitted
    loaded = aekit.load(vae.save(tmp_path / "vae"))
    assert isinstance(loaded, VAE)
    assert describe(tmp_path / "vae")["loss"] == "negative ELBO, bernoulli likelihood"
    assert loaded.likelihood_ == "bernoulli"
    assert np.array_equal(loaded.transform(X[:20]), vae.transform(X[:20]))
    assert np.array_equal(loaded.sample(4, random_state=0), vae.sample(4, random_state=0))
    assert np.array_equal(
        loaded.log_likelihood(X[:5], n_samples=20, random_state=3),
        vae.log_likelihood(X[:5], n_samples=20, random_state=3),
    )


def test_mnist_vae_beats_independent_pixels(mnist):
    # Real data: a few epochs on 10,000 dynamically binarized digits. The reference is the best
    # model with independent pixels (each pixel's training frequency), measured in the same run.
    X_train = mnist.X_train[:10000].reshape(10000, -1)
    X_test = mnist.X_test[:1000].reshape(1000, -1)
    binary = (np.random.RandomState(0).random_sample(X_test.shape) < X_test).astype(np.float32)
    vae = fast(latent_dim=20, epochs=8, batch_size=64, binarize="dynamic").fit(X_train)
    p = np.clip(X_train.mean(0), 1e-3, 1 - 1e-3)
    independent = (binary * np.log(p) + (1 - binary) * np.log(1 - p)).sum(1).mean()
    ll = vae.log_likelihood(binary, n_samples=100, random_state=0).mean()
    assert independent < -190
    assert ll > independent + 60
    assert ll > vae.elbo(binary, random_state=0).mean()
