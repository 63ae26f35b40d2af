"""AutoencoderClassifier: the stacked (denoising) autoencoder with a softmax head."""

import numpy as np
import pytest
import torch
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import train_test_split
from sklearn.utils.estimator_checks import parametrize_with_checks

import aekit
from aekit import AutoencoderClassifier
from aekit.models import MODULES
from aekit.models.classifier import StackedClassifier, StackedConfig
from test_numerics import THREADS, torch_threads


def fast(**params) -> AutoencoderClassifier:
    defaults = dict(
        hidden=(64, 32),
        pretrain_epochs=2,
        epochs=10,
        batch_size=32,
        lr=3e-3,
        random_state=0,
        verbose=False,
    )
    return AutoencoderClassifier(**{**defaults, **params})


# A tiny network that still fits the blobs of check_classifiers_train to its 83% (two Adam
# steps per epoch at batch 256 do not; small batches and a larger step do).
CHECKED = AutoencoderClassifier(
    epochs=5, pretrain_epochs=1, hidden=(8,), batch_size=16, lr=0.01, random_state=0, verbose=False
)


@pytest.mark.parametrize("threads", THREADS)
@parametrize_with_checks([CHECKED])
def test_sklearn_compatible(estimator, check, threads):
    with torch_threads(threads):  # the checks must pass at 1 and at 2 threads
        check(estimator)


@pytest.fixture(scope="module")
def split(digits):
    X, y = digits
    X, X_test, y, y_test = train_test_split(X, y, test_size=400, random_state=0, stratify=y)
    return X, y, X_test, y_test


@pytest.fixture(scope="module")
def fitted(split):
    X, y, _, _ = split
    return fast().fit(X, y)


# ------------------------------------------------------------------- the network
def test_stacked_module_shapes_and_layers():
    config = StackedConfig(n_features=20, hidden=(16, 8), n_classes=3, dropout=0.5)
    net = StackedClassifier(config)
    x = torch.rand(4, 20)
    assert net(x).shape == (4, 3)
    assert net.encode(x).shape == (4, 8)
    assert [tuple(net.layer(i).weight.shape) for i in range(2)] == [(16, 20), (8, 16)]
    assert MODULES["stacked"] == (StackedConfig, StackedClassifier)
    net.eval()
    assert torch.equal(net(x), net(x))  # dropout only in training mode


# ------------------------------------------------------------------- fit and predict
def test_digits_accuracy(fitted, split):
    _, _, X_test, y_test = split
    assert fitted.score(X_test, y_test) > 0.9
    np.testing.assert_array_equal(fitted.classes_, np.arange(10))
    proba = fitted.predict_proba(X_test)
    assert proba.shape == (len(X_test), 10)
    np.testing.assert_allclose(proba.sum(1), 1.0, rtol=1e-12)
    np.testing.assert_array_equal(fitted.predict(X_test), proba.argmax(1))
    # Image stacks and their flattened rows are the same samples.
    np.testing.assert_array_equal(
        fitted.predict_proba(X_test.reshape(len(X_test), -1)), fitted.predict_proba(X_test)
    )


def test_transform_gives_top_hidden_features(fitted, split):
    _, _, X_test, _ = split
    features = fitted.transform(X_test)
    assert features.shape == (len(X_test), 32)
    assert features.dtype == np.float32
    assert (features >= 0).all()  # ReLU units


def test_history_records_pretraining_and_fine_tuning(fitted, split):
    X, _, _, _ = split
    pre = fitted.pretrain_history_
    assert [h["stage"] for h in pre] == ["pretrain-1"] * 2 + ["pretrain-2"] * 2
    assert all(h["n_samples"] == len(X) for h in pre)
    assert {h["stage"] for h in fitted.history_} == {"finetune"}
    assert {"loss", "cross_entropy", "error", "val_loss", "val_error", "time"} <= set(
        fitted.history_[0]
    )
    assert 1 <= fitted.best_epoch_ <= len(fitted.history_)


def test_pretraining_lowers_each_layers_reconstruction_loss(split):
    X, y, _, _ = split
    clf = fast(pretrain_epochs=8, epochs=1).fit(X, y)
    for layer in (1, 2):
        losses = [h["reconstruction"] for h in clf.pretrain_history_ if h["layer"] == layer]
        assert len(losses) == 8
        assert losses[-1] < 0.8 * losses[0]


def test_pretrained_weights_start_the_fine_tuning(split):
    # Without fine-tuning steps worth the name, the first layer is the pretrained encoder.
    X, y, _, _ = split
    a = fast(pretrain_epochs=3, epochs=1, lr=1e-7).fit(X, y)
    b = fast(pretrain_epochs=0, epochs=1, lr=1e-7).fit(X, y)
    assert b.pretrain_history_ == []
    wa, wb = a.module_.layer(0).weight.detach(), b.module_.layer(0).weight.detach()
    assert not torch.allclose(wa, wb, atol=1e-3)


def test_unlabelled_data_is_used_for_pretraining(digits):
    X, y = digits
    clf = fast(epochs=2).fit(X[:300], y[:300], X_unlabeled=X[300:])
    assert {h["n_samples"] for h in clf.pretrain_history_} == {len(X)}
    with pytest.raises(ValueError, match="expecting 64 features"):
        fast().fit(X[:300], y[:300], X_unlabeled=np.zeros((10, 10)))
    with pytest.raises(ValueError, match="NaN"):
        fast().fit(X[:300], y[:300], X_unlabeled=np.full((10, 64), np.nan))


def test_scaling_is_fitted_on_labelled_and_unlabelled_data():
    rng = np.random.RandomState(0)
    X, X_unl = 100 + 10 * rng.randn(60, 4), 100 + 10 * rng.randn(140, 4)
    y = (X[:, 0] > 100).astype(int)
    clf = fast(epochs=2).fit(X, y, X_unlabeled=X_unl)
    assert clf.scaling_.kind == "standard"
    np.testing.assert_allclose(clf.scaling_.offset, np.concatenate([X, X_unl]).mean(0))


def test_string_labels_and_validation_data(split):
    X, y, X_test, y_test = split
    names = np.array(
        ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
    )
    clf = fast(epochs=3).fit(X, names[y], validation_data=(X_test, names[y_test]))
    np.testing.assert_array_equal(clf.classes_, np.sort(names))
    assert set(clf.predict(X_test)) <= set(names)
    assert "val_error" in clf.history_[0]
    with pytest.raises(ValueError, match="not seen in fit"):
        fast(epochs=1).fit(X, names[y], validation_data=(X_test, np.full(len(X_test), "ten")))


def test_no_validation_split(split):
    X, y, _, _ = split
    clf = fast(epochs=2, validation_fraction=0.0).fit(X, y)
    assert "val_loss" not in clf.history_[0]


# ------------------------------------------------------------------- saved models
@pytest.mark.parametrize("labels", ["int", "str"])
def test_save_load_round_trip(split, tmp_path, labels):
    X, y, X_test, _ = split
    y = np.array(["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"])[y] if labels == "str" else y
    clf = fast(epochs=2).fit(X, y)
    loaded = aekit.load(clf.save(tmp_path / "model"))
    assert type(loaded) is AutoencoderClassifier
    np.testing.assert_array_equal(loaded.predict_proba(X_test), clf.predict_proba(X_test))
    np.testing.assert_array_equal(loaded.classes_, clf.classes_)
    assert loaded.classes_.dtype.kind == ("U" if labels == "str" else "i")
    np.testing.assert_array_equal(loaded.predict(X_test), clf.predict(X_test))
    assert loaded.history_ == clf.history_
    assert loaded.pretrain_history_ == clf.pretrain_history_
    assert loaded.best_epoch_ == clf.best_epoch_
    assert loaded.get_params() == clf.get_params()


# ------------------------------------------------------------------- reproducibility
def test_same_seed_bit_identical(split):
    X, y, X_test, _ = split
    a = fast(epochs=3, random_state=7).fit(X[:500], y[:500], X_unlabeled=X[500:])
    b = fast(epochs=3, random_state=7).fit(X[:500], y[:500], X_unlabeled=X[500:])
    c = fast(epochs=3, random_state=8).fit(X[:500], y[:500], X_unlabeled=X[500:])
    np.testing.assert_array_equal(a.predict_proba(X_test), b.predict_proba(X_test))

    def untimed(history):
        return [{k: v for k, v in h.items() if k != "time"} for h in history]

    assert untimed(a.history_) == untimed(b.history_)
    assert untimed(a.pretrain_history_) == untimed(b.pretrain_history_)
    assert not np.array_equal(a.predict_proba(X_test), c.predict_proba(X_test))


# ------------------------------------------------------------------- clear errors
@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"noise": "pink"}, "noise='pink' is not valid"),
        ({"noise_level": 1.5}, "noise_level is a probability"),
        ({"hidden": (8, 0)}, "every width in hidden"),
        ({"activation": "swish"}, "activation='swish' is not valid"),
        ({"dropout": 1.0}, "dropout must be a number in"),
        ({"pretrain_epochs": -1}, "pretrain_epochs must be a non-negative integer"),
        ({"epochs": 0}, "epochs must be a positive integer"),
        ({"validation_fraction": 1.5}, "validation_fraction must be a number in"),
        ({"optimizer": "lbfgs"}, "optimizer='lbfgs' is not valid"),
        ({"scaling": "robust"}, "scaling='robust' is not valid"),
    ],
)
def test_bad_parameters(params, message):
    rng = np.random.RandomState(0)
    with pytest.raises(ValueError, match=message):
        fast(**params).fit(rng.rand(20, 5), np.arange(20) % 2)


def test_bad_targets():
    X = np.random.RandomState(0).rand(20, 5)
    with pytest.raises(ValueError, match="at least 2 classes"):
        fast().fit(X, np.zeros(20))
    with pytest.raises(ValueError, match="20 samples but y has 19"):
        fast().fit(X, np.arange(19) % 2)
    with pytest.raises(ValueError, match="requires y to be passed"):
        fast().fit(X, None)
    with pytest.raises(ValueError, match="Unknown label type"):
        fast().fit(X, np.linspace(0, 1, 20))
    with pytest.raises(ValueError, match="validation_data must be a tuple"):
        fast().fit(X, np.arange(20) % 2, validation_data=X)


def test_unfitted_and_mismatched_inference(fitted):
    for method in ("predict", "predict_proba", "transform", "score"):
        args = (np.zeros((2, 3)), np.zeros(2)) if method == "score" else (np.zeros((2, 3)),)
        with pytest.raises(NotFittedError):
            getattr(AutoencoderClassifier(), method)(*args)
    with pytest.raises(ValueError, match="expecting 64 features"):
        fitted.predict(np.zeros((2, 10)))
    with pytest.raises(ValueError, match="NaN"):
        fitted.predict_proba(np.full((2, 64), np.nan))


# ------------------------------------------------------------------- real data
def test_pretraining_beats_scratch_with_1000_labels_on_mnist(mnist):
    # 1000 labels, 9000 more images unlabelled, the first 2000 test images; default network,
    # 5 pretraining epochs per layer, the same seed for both. Measured test errors: pretrained
    # 11.65% against 12.80% from scratch (seeds 1 and 2: 11.90/13.00, 12.00/12.70). A smaller
    # (256, 128) network was not reliable: one seed in four lost to its scratch twin.
    X = mnist.X_train[:10_000].reshape(10_000, -1)
    y = mnist.y_train[:1000]
    X_test, y_test = mnist.X_test[:2000].reshape(2000, -1), mnist.y_test[:2000]
    params = dict(pretrain_epochs=5, random_state=0, verbose=False)
    pretrained = AutoencoderClassifier(**params).fit(X[:1000], y, X_unlabeled=X[1000:])
    scratch = AutoencoderClassifier(**{**params, "pretrain_epochs": 0}).fit(X[:1000], y)
    assert {h["n_samples"] for h in pretrained.pretrain_history_} == {10_000}
    pre_err = 1 - pretrained.score(X_test, y_test)
    scratch_err = 1 - scratch.score(X_test, y_test)
    assert pre_err < scratch_err - 0.005  # at least 10 of the 2000 images
