"""AutoRec: the masked loss, predictions on low-rank ratings, cold starts, recommendations,
saving, input checks, batches densified from the sparse matrix, and MovieLens (slow)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import torch

import aekit
from aekit.estimators.autorec import RatingRows, choose_damping, fit_biases, read_ratings
from aekit.models.autorec import autorec_network, masked_squared_error
from conftest import shared_file

# Small data: a small network, a larger step and a light penalty (lambda is next to a sum of
# squared errors, so 1,200 ratings need much less than MovieLens' 100,000).
FAST = {
    "hidden": (32,),
    "epochs": 100,
    "lr": 1e-2,
    "weight_decay": 1.0,
    "random_state": 0,
    "verbose": False,
    "device": "cpu",
}


def low_rank_table(n_users: int = 60, n_items: int = 40, density: float = 0.5, seed: int = 0):
    """Ratings 1-5 of rank 2 plus a little noise, ``density`` of them observed; the whole
    matrix of true ratings comes back too."""
    rng = np.random.default_rng(seed)
    truth = 3 + rng.normal(size=(n_users, 2)) @ rng.normal(size=(2, n_items))
    truth = np.clip(truth, 1, 5)
    observed = rng.random((n_users, n_items)) < density
    users, items = np.nonzero(observed)
    ratings = truth[users, items] + 0.1 * rng.normal(size=len(users))
    table = {"userId": users, "movieId": items, "rating": np.clip(ratings, 1, 5)}
    return table, truth, observed


# ------------------------------------------------------------------------ the loss
def test_masked_loss_ignores_unobserved_entries() -> None:
    target = torch.tensor([[4.0, 0.0, 2.0]])
    mask = torch.tensor([[1.0, 0.0, 1.0]])
    near = torch.tensor([[3.0, 0.0, 2.5]])
    far = torch.tensor([[3.0, 1e6, 2.5]])  # wildly wrong where nothing was observed
    assert masked_squared_error(near, target, mask).item() == pytest.approx(1.25, abs=0)
    assert masked_squared_error(far, target, mask).item() == pytest.approx(1.25, abs=0)
    # The gradient reaches observed outputs only.
    pred = far.clone().requires_grad_(True)
    masked_squared_error(pred, target, mask).backward()
    assert pred.grad.tolist() == [[-2.0, 0.0, 1.0]]


def test_the_network_is_the_paper_s() -> None:
    net = autorec_network(610)
    layers = [m for m in net.modules() if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in layers] == [(610, 500), (500, 610)]
    assert isinstance(net.encoder[1], torch.nn.Sigmoid) and len(net.decoder) == 1  # linear out


# ------------------------------------------------------------------------ predictions
def test_predictions_on_low_rank_ratings_beat_the_global_mean() -> None:
    table, truth, observed = low_rank_table()
    model = aekit.AutoRec(**FAST).fit(table)
    users, items = np.nonzero(~observed)  # the ratings it never saw
    rmse = np.sqrt(np.mean((model.predict(users, items) - truth[users, items]) ** 2))
    mean_rmse = np.sqrt(np.mean((model.global_mean_ - truth[users, items]) ** 2))
    # Measured 0.25 against 1.04: a margin far beyond what the seed moves.
    assert rmse < 0.5 * mean_rmse
    # Two networks of 32 hidden units, the second trained on every rating, folded into one.
    assert model.n_features_in_ == 60 and model.module_.config.latent_dim == 64
    history = model.history_[model.best_epoch_ - 1]
    assert {"loss", "squared_error", "weight_decay", "val_loss"} <= set(history)
    refit = [h for h in model.history_ if h.get("stage") == "refit"]
    assert len(refit) == model.best_epoch_ and "val_loss" not in refit[0]


def test_user_based_autorec_predicts_too() -> None:
    table, truth, observed = low_rank_table()
    model = aekit.AutoRec(kind="user", **FAST).fit(table)
    assert model.n_features_in_ == 40  # a user's vector of item ratings
    users, items = np.nonzero(~observed)
    rmse = np.sqrt(np.mean((model.predict(users, items) - truth[users, items]) ** 2))
    mean_rmse = np.sqrt(np.mean((model.global_mean_ - truth[users, items]) ** 2))
    assert rmse < 0.5 * mean_rmse  # measured 0.33 against 1.04


def test_predictions_are_clipped_and_batch_independent() -> None:
    table, _, _ = low_rank_table()
    model = aekit.AutoRec(**FAST).fit(table)
    users = np.repeat(np.arange(60), 40)
    items = np.tile(np.arange(40), 60)
    every = model.predict(users, items)
    assert every.min() >= model.rating_range_[0] and every.max() <= model.rating_range_[1]
    # One pair alone gets the very bits it gets among all the others.
    assert model.predict(users[777], items[777])[0] == every[777]


def test_cold_users_and_items_fall_back_to_the_biases() -> None:
    table, _, _ = low_rank_table()
    model = aekit.AutoRec(**FAST).fit(table)
    mu, b_u, b_i = model.global_mean_, model.user_bias_, model.item_bias_
    got = model.predict([1000, 3, 1000], [5, 2000, 2000])
    np.testing.assert_allclose(got, [mu + b_i[5], mu + b_u[3], mu], rtol=0, atol=1e-12)
    found = model.recommend(1000, k=4)
    assert not found.known_user
    assert found.items.tolist() == np.argsort(-b_i, kind="stable")[:4].tolist()


def test_biases_solve_the_ridge_problem() -> None:
    R = sp.random(30, 20, density=0.3, format="csr", random_state=1)
    R.data = np.round(R.data * 8 + 2) / 2  # half stars, 1 to 5
    mu, b_u, b_i = fit_biases(R, damping=5.0)
    coo = R.tocoo()
    assert mu == pytest.approx(R.data.mean(), abs=1e-12)
    # Both stationarity conditions hold at the solution (to the stopping tolerance).
    res = coo.data - mu - b_u[coo.row] - b_i[coo.col]
    np.testing.assert_allclose(np.bincount(coo.col, res, 20), 5.0 * b_i, rtol=0, atol=1e-5)
    np.testing.assert_allclose(np.bincount(coo.row, res, 30), 5.0 * b_u, rtol=0, atol=1e-5)
    # A heavier damping shrinks them.
    assert np.abs(fit_biases(R, damping=50.0)[2]).sum() < np.abs(b_i).sum()


def test_the_damping_is_chosen_on_the_held_out_ratings() -> None:
    rng = np.random.default_rng(0)
    truth = rng.normal(size=(80, 1)) + rng.normal(size=(1, 60))  # biases only, no noise
    users, items = np.nonzero(rng.random((80, 60)) < 0.3)
    ratings = 3 + truth[users, items]
    train = sp.csr_matrix((ratings[::2], (users[::2], items[::2])), shape=(80, 60))
    held = sp.csr_matrix((ratings[1::2], (users[1::2], items[1::2])), shape=(80, 60))
    assert choose_damping(train, held) == 1.0  # noiseless: the least shrinkage wins


def test_recommend_excludes_what_the_user_rated() -> None:
    table, _, observed = low_rank_table()
    model = aekit.AutoRec(**FAST).fit(table)
    seen = set(np.flatnonzero(observed[7]).tolist())
    found = model.recommend(7, k=40)
    assert len(found.items) == 40 - len(seen)
    assert not seen & set(found.items.tolist())
    assert (np.diff(found.ratings) <= 1e-6).all()  # best first (clipped ratings may tie)
    everything = model.recommend(7, k=40, exclude_seen=False)
    assert set(everything.items.tolist()) == set(range(40))
    # The ratings are the predictions.
    np.testing.assert_allclose(
        everything.ratings, model.predict(np.full(40, 7), everything.items), rtol=0, atol=1e-6
    )


# ------------------------------------------------------------------------ inputs
def test_string_ids_and_dataframes_round_trip_through_save(tmp_path) -> None:
    pd = pytest.importorskip("pandas")
    table, _, _ = low_rank_table()
    frame = pd.DataFrame(
        {
            "user_id": [f"u{u}" for u in table["userId"]],
            "item": [f"film é{i}" for i in table["movieId"]],  # not ASCII
            "Rating": table["rating"],
            "timestamp": 0,
        }
    )
    model = aekit.AutoRec(**FAST).fit(frame)
    assert model.user_ids_[:3].tolist() == ["u0", "u1", "u10"]  # sorted as texts
    path = model.save(tmp_path / "model")
    loaded = aekit.load(path)
    assert loaded.user_ids_.tolist() == model.user_ids_.tolist()
    assert loaded.item_ids_.tolist() == model.item_ids_.tolist()
    users = ["u1", "u59", "nobody", "u3"]
    items = ["film é2", "film é39", "film é2", "unknown"]
    np.testing.assert_array_equal(loaded.predict(users, items), model.predict(users, items))
    assert loaded.recommend("u4").items.tolist() == model.recommend("u4").items.tolist()
    assert (loaded.ratings_ != model.ratings_).nnz == 0


def test_integer_ids_round_trip_as_integers(tmp_path) -> None:
    table, _, _ = low_rank_table()
    table["movieId"] = table["movieId"] * 1000 + 7
    model = aekit.AutoRec(**FAST).fit(table)
    loaded = aekit.load(model.save(tmp_path / "m"))
    assert loaded.item_ids_.dtype == np.int64 and loaded.item_ids_[:2].tolist() == [7, 1007]
    np.testing.assert_array_equal(
        loaded.predict([0, 1], [7, 39007]), model.predict([0, 1], [7, 39007])
    )


def test_a_sparse_matrix_is_users_by_items() -> None:
    table, _, _ = low_rank_table()
    R = sp.coo_matrix((table["rating"], (table["userId"], table["movieId"])), shape=(60, 40))
    from_matrix = aekit.AutoRec(**FAST).fit(R)
    from_table = aekit.AutoRec(**FAST).fit(table)
    assert from_matrix.user_ids_.tolist() == list(range(60))
    np.testing.assert_array_equal(
        from_matrix.predict([0, 5], [1, 2]), from_table.predict([0, 5], [1, 2])
    )


def test_the_batch_source_densifies_one_batch_at_a_time() -> None:
    rng = np.random.default_rng(0)
    n_items, n_users = 5000, 3000
    R = sp.random(n_items, n_users, density=0.002, format="csr", random_state=0, dtype=np.float32)
    R.data = rng.integers(1, 6, size=R.nnz).astype(np.float32)
    source = RatingRows(R, np.arange(n_items), torch.device("cpu"))
    shapes = set()
    order = source.order()
    for values, mask in source.batches(order, 64):
        shapes.add(tuple(values.shape))
        assert values.shape == mask.shape
    assert shapes == {(64, n_users), (n_items % 64, n_users)}  # never the whole (5000, 3000)
    # What a batch holds is the rows of the matrix, observed entries marked.
    values, mask = next(source.batches(order, 64))
    rows = order[:64].numpy()
    np.testing.assert_array_equal(values.numpy(), R[rows].toarray())
    np.testing.assert_array_equal(mask.numpy(), (R[rows].toarray() != 0).astype(np.float32))


def test_validation_batches_score_the_held_out_ratings() -> None:
    inputs = sp.csr_matrix(np.array([[4.0, 0.0, 0.0], [0.0, 2.0, 0.0]], dtype=np.float32))
    held = sp.csr_matrix(np.array([[0.0, 5.0, 0.0], [0.0, 0.0, 1.0]], dtype=np.float32))
    source = RatingRows(inputs, np.array([0, 1]), torch.device("cpu"), targets=held)
    values, mask, target = next(source.batches(None, 2))
    assert values.tolist() == [[4.0, 0.0, 0.0], [0.0, 2.0, 0.0]]
    assert mask.tolist() == [[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]
    assert target.tolist() == held.toarray().tolist()


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"user": [1], "item": [2]}, "no rating column"),
        ({"user": [1], "movie": [2], "item": [3], "rating": [4.0]}, "several item columns"),
        ({"user": [1, 2], "item": [2, 2], "rating": ["4", "bad"]}, "must be numbers"),
        ({"user": [1, 2], "item": [2, 2], "rating": [4.0, np.nan]}, "NaN or infinite"),
        ({"user": [], "item": [], "rating": []}, "is empty"),
        (
            {"user": [1, 1], "item": [2, 2], "rating": [4.0, 3.0]},
            "^user 1 rated item 2 more than once",
        ),
        ({"user": ["a", "a"], "item": [2, 2], "rating": [4.0, 3.0]}, "^user 'a' rated item 2 more"),
        (
            {"user": np.array(["a", "a"], dtype=object), "item": [2, 2], "rating": [4.0, 3.0]},
            "^user 'a' rated item 2 more",
        ),
        ({"user": [1.5, 2], "item": [2, 2], "rating": [4.0, 3.0]}, "integers or texts"),
        (np.ones((3, 3)), "takes a ratings table"),
        (sp.csr_matrix((3, 3)), "holds no rating"),
    ],
)
def test_bad_ratings_are_one_clear_line(table, message) -> None:
    with pytest.raises(ValueError, match=message) as info:
        aekit.AutoRec(**FAST).fit(table)
    assert "\n" not in str(info.value)


def test_bad_parameters_and_queries_are_refused() -> None:
    with pytest.raises(ValueError, match="kind='items' is not valid"):
        aekit.AutoRec(kind="items").fit({"user": [1], "item": [1], "rating": [1.0]})
    with pytest.raises(ValueError, match="weight_decay must be a non-negative number"):
        aekit.AutoRec(weight_decay=-1).fit({"user": [1], "item": [1], "rating": [1.0]})
    with pytest.raises(ValueError, match="no column 'stars'"):
        aekit.AutoRec(rating_column="stars").fit({"user": [1], "item": [1], "rating": [1.0]})
    table, _, _ = low_rank_table()
    model = aekit.AutoRec(**FAST, early_stopping=False).fit(table)
    with pytest.raises(ValueError, match="k must be a positive integer, got 0"):
        model.recommend(1, k=0)
    with pytest.raises(ValueError, match="user ids are integers; got 'u1'"):
        model.predict(["u1"], [1])
    with pytest.raises(ValueError, match="differ in length: 2 and 1"):
        model.predict([1, 2], [1])


def test_read_ratings_reads_types_and_refuses_ragged_lines(tmp_path) -> None:
    path = tmp_path / "r.tsv"
    path.write_text("user\titem\trating\na\t10\t4.5\nb\t11\t3\n")
    columns = read_ratings(path)
    assert columns["user"].tolist() == ["a", "b"] and columns["item"].dtype == np.int64
    assert columns["rating"].tolist() == [4.5, 3.0]
    path = tmp_path / "r.csv"
    path.write_text("user,item,rating\n1,2,3\n1,2\n")
    with pytest.raises(ValueError, match="line 3: 2 fields, the header has 3"):
        read_ratings(path)


def test_read_ratings_in_chunks_agrees_with_one_chunk(tmp_path, monkeypatch) -> None:
    # Two rows a chunk: a column of integers in one chunk and numbers in another is float;
    # one with text in a later chunk is text as written ("007", not 7); line numbers count
    # the header and blank lines.
    path = tmp_path / "r.csv"
    path.write_text("user,item,rating\n007,1,4\n8,2,5\n\nx9,3,3.5\n10,4,2\n")
    whole = read_ratings(path)
    monkeypatch.setattr("aekit.estimators.autorec.CHUNK_ROWS", 2)
    chunked = read_ratings(path)
    for columns in (whole, chunked):
        assert columns["user"].tolist() == ["007", "8", "x9", "10"]
        assert columns["item"].dtype == np.int64 and columns["item"].tolist() == [1, 2, 3, 4]
        assert columns["rating"].dtype == np.float64
        assert columns["rating"].tolist() == [4.0, 5.0, 3.5, 2.0]
    path.write_text("user,item,rating\n1,1,4\n2,2,5\n\n3,3,3.5\n4,4\n")
    with pytest.raises(ValueError, match=r"r\.csv, line 6: 2 fields, the header has 3$"):
        read_ratings(path)
    path.write_text("user,item,rating\n\n")
    with pytest.raises(ValueError, match="holds no ratings, only a header"):
        read_ratings(path)


# ------------------------------------------------------------------------ MovieLens
@pytest.mark.slow
def test_movielens_autorec_beats_the_biases() -> None:
    columns = read_ratings(shared_file("movielens/ratings.csv"))
    rng = np.random.RandomState(0)
    # A subset for speed: the 300 users with the lowest ids, a 90/10 split of their ratings.
    keep = np.flatnonzero(columns["userId"] <= 300)
    test = rng.permutation(keep)[: len(keep) // 10]
    train = np.setdiff1d(keep, test)
    model = aekit.AutoRec(random_state=0, verbose=False).fit(
        {k: v[train] for k, v in columns.items()}
    )
    users, items, truth = columns["userId"][test], columns["movieId"][test], columns["rating"][test]
    rmse = np.sqrt(np.mean((model.predict(users, items) - truth) ** 2))
    u = model._codes(model.user_ids_, users, "user")
    i = model._codes(model.item_ids_, items, "item")
    biases = np.clip(model._baseline(u, i), *model.rating_range_)
    bias_rmse = np.sqrt(np.mean((biases - truth) ** 2))
    assert rmse < bias_rmse - 0.005, (rmse, bias_rmse)


def test_checkpoints_resume_to_the_same_model(tmp_path) -> None:
    table, _, _ = low_rank_table()
    plain = aekit.AutoRec(**FAST).fit(table)
    saved = aekit.AutoRec(**FAST).fit(table, checkpoint=tmp_path / "ck")
    resumed = aekit.AutoRec(**FAST).fit(table, checkpoint=tmp_path / "ck", resume=True)
    pairs = ([0, 5, 59], [1, 2, 39])
    # Bit-identical on the CPU: checkpointing changes nothing, resuming both stages neither.
    np.testing.assert_array_equal(saved.predict(*pairs), plain.predict(*pairs))
    np.testing.assert_array_equal(resumed.predict(*pairs), plain.predict(*pairs))
    assert resumed.best_epoch_ == plain.best_epoch_
