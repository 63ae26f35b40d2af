"""Generation from a VAE and denoising: the library functions and the `generate` and
`denoise` verbs, run in-process."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib.image
import numpy as np
import pytest

import aekit
from aekit import VAE, Autoencoder
from aekit.datasets import load_digits
from aekit.tasks import denoise_figure, generate, psnr, run_denoise
from test_cli import assert_user_error, run_cli

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def read_png(path: Path) -> np.ndarray:
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    image = matplotlib.image.imread(path)
    assert image.ndim == 3 and image.shape[0] > 20 and image.shape[1] > 20
    return image


@pytest.fixture(scope="module")
def digits() -> np.ndarray:
    return load_digits()[0]


@pytest.fixture(scope="module")
def vae(digits: np.ndarray) -> VAE:
    return VAE(latent_dim=2, hidden=(32,), epochs=3, random_state=0, verbose=False).fit(digits)


@pytest.fixture(scope="module")
def dirs(vae: VAE, digits: np.ndarray, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Saved models: an image VAE, a table VAE, a plain autoencoder, a denoising one."""
    root = tmp_path_factory.mktemp("models")
    table = VAE(latent_dim=2, hidden=(8,), epochs=1, random_state=0, verbose=False)
    plain = Autoencoder(latent_dim=4, hidden=(), epochs=1, random_state=0, verbose=False)
    return {
        "vae": vae.save(root / "vae"),
        "table": table.fit(np.random.RandomState(0).normal(size=(100, 5))).save(root / "table"),
        "plain": plain.fit(digits).save(root / "plain"),
        "dae": denoiser(digits).save(root / "dae"),
    }


def denoiser(X: np.ndarray) -> Autoencoder:
    # Small and fast: a few seconds of CPU; see test_denoising_autoencoder_raises_the_psnr.
    return Autoencoder(
        latent_dim=16,
        hidden=(64,),
        noise="gaussian",
        epochs=5,
        batch_size=128,
        lr=1e-2,
        random_state=0,
        verbose=False,
    ).fit(X)


def noisy_copy(X: np.ndarray, sigma: float = 0.5) -> np.ndarray:
    noise = np.random.RandomState(1).normal(0.0, sigma, X.shape)
    return np.clip(X + noise, 0.0, 1.0).astype(np.float32)


# ------------------------------------------------------------------------------ generate
def test_generate_samples_interpolation_and_figures(vae: VAE, tmp_path: Path) -> None:
    result = generate(vae, 12, steps=5, random_state=3, ncols=4, out=tmp_path / "out")
    assert result.samples.shape == (12, 8, 8) and result.interpolation.shape == (5, 8, 8)
    np.testing.assert_array_equal(result.samples, vae.sample(12, random_state=3))
    np.testing.assert_array_equal(
        result.interpolation, vae.interpolate(result.samples[0], result.samples[1], steps=5)
    )
    assert result.image_shape == (8, 8)
    assert len(result.figures["samples"].axes) == 12
    assert [ax.get_xlabel() for ax in result.figures["interpolation"].axes][::4] == ["t=0", "t=1"]
    assert sorted(result.files) == [
        "interpolation.npy",
        "interpolation.png",
        "samples.npy",
        "samples.png",
    ]
    np.testing.assert_array_equal(np.load(result.files["samples.npy"]), result.samples)
    read_png(result.files["samples.png"])
    # Repeatable with the same seed, different with another.
    again = generate(vae, 12, steps=5, random_state=3, figures=False)
    np.testing.assert_array_equal(again.samples, result.samples)
    assert again.figures == {} and again.files == {}
    assert not np.array_equal(
        generate(vae, 12, random_state=4, figures=False).samples, again.samples
    )


def test_generate_between_items_of_data(vae: VAE, digits: np.ndarray) -> None:
    result = generate(vae, 2, steps=7, data=digits, start=10, end=-1, figures=False)
    np.testing.assert_array_equal(
        result.interpolation, vae.interpolate(digits[10], digits[-1], steps=7)
    )
    # The ends are the reconstructions of the two items (the decoded posterior means).
    np.testing.assert_allclose(
        result.interpolation[0], vae.reconstruct(digits[10:11])[0], atol=1e-6
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"start": 16}, "start=16 is out of range for 16 samples"),
        ({"end": 1.5}, "end must be an integer index"),
        ({"steps": 1}, "steps must be at least 2"),
        ({"data": np.zeros((0, 8, 8))}, "at least one sample"),
        ({"data": np.zeros((3, 8, 8)), "end": 3}, "end=3 is out of range for 3 samples of data"),
    ],
)
def test_generate_errors(vae: VAE, kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        generate(vae, 16, figures=False, **kwargs)  # type: ignore[arg-type]


def test_generate_needs_a_fitted_vae(digits: np.ndarray) -> None:
    ae = Autoencoder(latent_dim=2, hidden=(), epochs=1, random_state=0, verbose=False).fit(digits)
    with pytest.raises(ValueError, match=r"generating needs a VAE .*got Autoencoder"):
        generate(ae)
    with pytest.raises(ValueError, match="not fitted"):
        generate(VAE())


@pytest.mark.parametrize(
    ("shape", "expected"),
    [((8, 8), (8, 8)), ((1, 8, 8), (8, 8)), ((64,), None), ((2, 8, 8), None)],
)
def test_the_image_shape_is_the_estimators(
    digits: np.ndarray, shape: tuple[int, ...], expected: tuple[int, int] | None
) -> None:
    # Samples fitted as (h, w) or (1, h, w) are images; rows of a table (even of a square
    # length) and multi-channel samples are not. generate and plot.features ask the estimator.
    X = np.repeat(digits[:40, None], 2, axis=1)[:, : math.prod(shape) // 64].reshape(40, *shape)
    ae = Autoencoder(hidden=(), latent_dim=2, architecture="dense", epochs=1, verbose=False)
    assert ae.fit(X).image_shape() == expected


def test_cli_generate_writes_arrays_and_pictures(
    dirs: dict[str, Path], vae: VAE, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "gen"
    rc, stdout, err = run_cli(
        ["generate", dirs["vae"], "-n", 20, "--out", out, "--steps", 6, "--seed", 5], capsys
    )
    assert rc == 0, err
    assert stdout.splitlines() == [
        f"wrote 20 samples and a 6-step interpolation (samples 0 -> 1) to {out}: samples.npy, "
        "interpolation.npy, samples.png, interpolation.png"
    ]
    model = aekit.load(dirs["vae"])
    samples = np.load(out / "samples.npy")
    np.testing.assert_array_equal(samples, model.sample(20, random_state=5))
    assert np.load(out / "interpolation.npy").shape == (6, 8, 8)
    grid, strip = read_png(out / "samples.png"), read_png(out / "interpolation.png")
    assert strip.shape[1] > 3 * strip.shape[0]  # one row of six images
    assert grid.shape[0] > strip.shape[0]  # 20 samples on 3 rows of 8

    rc, stdout, err = run_cli(
        ["generate", dirs["vae"], "--out", out, "--data", "digits", "--from", 3, "--to", 7],
        capsys,
    )
    assert rc == 0, err
    assert "(DATA 3 -> 7)" in stdout
    digits = load_digits()[0]
    np.testing.assert_array_equal(
        np.load(out / "interpolation.npy"), model.interpolate(digits[3], digits[7], steps=10)
    )


def test_cli_generate_on_a_table_writes_only_arrays(
    dirs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rc, stdout, err = run_cli(["generate", dirs["table"], "-n", 4, "--out", tmp_path], capsys)
    assert rc == 0, err
    assert (
        "samples.npy, interpolation.npy (samples of shape (5,) are not one-channel images: "
        "no PNG written)" in stdout
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["interpolation.npy", "samples.npy"]
    assert np.load(tmp_path / "samples.npy").shape == (4, 5)


def test_cli_generate_errors(
    dirs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rc, _, err = run_cli(["generate", dirs["plain"], "--out", tmp_path], capsys)
    assert "generating needs a VAE" in assert_user_error(rc, err, "generate")
    rc, _, err = run_cli(["generate", dirs["vae"], "--out", tmp_path, "--to", 99], capsys)
    assert "end=99 is out of range for 16 samples" in assert_user_error(rc, err, "generate")
    rc, _, err = run_cli(["generate", dirs["vae"], "--out", tmp_path, "-n", 0], capsys)
    assert "n must be" in assert_user_error(rc, err, "generate")
    rc, _, err = run_cli(
        ["generate", dirs["vae"], "--out", tmp_path, "--data", tmp_path / "none.npy"], capsys
    )
    assert "none.npy" in assert_user_error(rc, err, "generate")
    (tmp_path / "file").write_text("x")
    rc, _, err = run_cli(["generate", dirs["vae"], "--out", tmp_path / "file"], capsys)
    assert "is not a folder" in assert_user_error(rc, err, "generate")


# -------------------------------------------------------------------------------- denoise
def test_psnr() -> None:
    clean = np.full((4, 8, 8), 0.5)
    assert psnr(clean, clean + 0.1) == pytest.approx(20.0)  # MSE 0.01, peak 1
    assert psnr(clean, clean) == float("inf")
    table = np.array([[0.0, 10.0], [5.0, 2.0]])
    assert psnr(table, table + 1.0) == pytest.approx(20.0)  # peak = range 10, MSE 1
    assert psnr(table, table + 1.0, data_range=100.0) == pytest.approx(40.0)
    with pytest.raises(ValueError, match="same samples of the same size"):
        psnr(clean, clean[:2])
    assert psnr(clean, (clean + 0.1).reshape(4, 64)) == pytest.approx(20.0)  # flat rows
    with pytest.raises(ValueError, match="data_range must be a positive number"):
        psnr(clean, clean, data_range=0)
    # A flag or an infinite peak is a mistake, not a range; numpy's integers are numbers.
    for bad in (True, float("inf")):
        with pytest.raises(ValueError, match=f"data_range must be a positive number, got {bad}"):
            psnr(clean, clean + 0.1, data_range=bad)
    assert psnr(table, table + 1.0, data_range=np.int64(100)) == pytest.approx(40.0)
    with pytest.raises(ValueError, match="NaN or infinity"):
        psnr(clean, np.full_like(clean, np.nan))
    with pytest.raises(ValueError, match="constant"):
        psnr(np.full((2, 2), 3.0), np.zeros((2, 2)))


def test_denoising_autoencoder_raises_the_psnr(dirs: dict[str, Path], digits: np.ndarray) -> None:
    model = aekit.load(dirs["dae"])
    noisy = noisy_copy(digits)
    result = run_denoise(model, noisy, clean=digits)
    assert result.trained_with_noise
    assert result.denoised.shape == digits.shape
    np.testing.assert_array_equal(result.denoised, model.denoise(noisy))
    assert result.psnr_noisy == pytest.approx(psnr(digits, noisy))
    # Measured: noisy 9.31 dB -> denoised 13.31 dB; a gain under 2.5 dB means it failed.
    assert result.psnr_noisy == pytest.approx(9.31, abs=0.01)
    assert result.psnr_denoised > result.psnr_noisy + 2.5, result
    flat = run_denoise(model, noisy, clean=digits.reshape(-1, 64))  # clean as flat rows
    assert flat.psnr_denoised == pytest.approx(result.psnr_denoised)
    plain = run_denoise(aekit.load(dirs["plain"]), noisy)
    assert not plain.trained_with_noise and plain.psnr_noisy is None
    with pytest.raises(ValueError, match="must match sample for sample"):
        run_denoise(model, noisy[:10], clean=digits[:9])
    with pytest.raises(ValueError, match="has no denoise"):
        run_denoise(object(), noisy)


def test_denoise_figure_rows() -> None:
    rng = np.random.default_rng(0)
    fig = denoise_figure(rng.random((3, 8, 8)), rng.random((3, 8, 8)), n=10)
    assert len(fig.axes) == 6
    assert (fig.axes[0].get_ylabel(), fig.axes[3].get_ylabel()) == ("noisy", "denoised")


def test_cli_denoise(
    dirs: dict[str, Path], digits: np.ndarray, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    np.save(tmp_path / "noisy.npy", noisy_copy(digits))
    np.save(tmp_path / "clean.npy", digits)
    out, png = tmp_path / "denoised.npy", tmp_path / "fig" / "denoised.png"
    rc, stdout, err = run_cli(
        [
            "denoise",
            dirs["dae"],
            tmp_path / "noisy.npy",
            "--out",
            out,
            "--clean",
            tmp_path / "clean.npy",
            "--png",
            png,
            "--n-images",
            6,
        ],
        capsys,
    )
    assert rc == 0, err
    lines = stdout.splitlines()
    assert lines[0] == f"wrote denoised data of shape (1797, 8, 8) to {out}"
    assert lines[1].startswith("PSNR against the clean data: noisy ")
    assert lines[2] == f"wrote {png}"
    model = aekit.load(dirs["dae"])
    expected = run_denoise(model, np.load(tmp_path / "noisy.npy"), clean=digits)
    np.testing.assert_array_equal(np.load(out), expected.denoised)
    assert f"denoised {expected.psnr_denoised:.2f} dB" in lines[1]
    image = read_png(png)
    assert image.shape[1] > 2 * image.shape[0]  # two rows of six images

    rc, stdout, err = run_cli(
        ["denoise", dirs["plain"], tmp_path / "noisy.npy", "--out", tmp_path / "p.csv"], capsys
    )
    assert rc == 0, err
    assert stdout.strip().endswith(
        "(the model was trained without noise: this is its plain reconstruction)"
    )
    assert np.loadtxt(tmp_path / "p.csv", delimiter=",").shape == (1797, 64)


def test_cli_denoise_errors(
    dirs: dict[str, Path], digits: np.ndarray, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rc, _, err = run_cli(["denoise", dirs["dae"], "digits", "--out", tmp_path / "d.txt"], capsys)
    assert "use a .npy or .csv" in assert_user_error(rc, err, "denoise")
    rc, _, err = run_cli(
        [
            "denoise",
            dirs["dae"],
            "digits",
            "--out",
            tmp_path / "d.npy",
            "--png",
            tmp_path / "x.jpg",
        ],
        capsys,
    )
    assert "use a .png file name" in assert_user_error(rc, err, "denoise")
    np.save(tmp_path / "rows.npy", digits.reshape(-1, 64))
    rc, _, err = run_cli(
        [
            "denoise",
            dirs["dae"],
            tmp_path / "rows.npy",
            "--out",
            tmp_path / "d.npy",
            "--png",
            tmp_path / "d.png",
        ],
        capsys,
    )
    assert "not (h, w)" in assert_user_error(rc, err, "denoise")
    np.save(tmp_path / "short.npy", digits[:5])
    rc, _, err = run_cli(
        [
            "denoise",
            dirs["dae"],
            "digits",
            "--out",
            tmp_path / "d.npy",
            "--clean",
            tmp_path / "short.npy",
        ],
        capsys,
    )
    assert "must match sample for sample" in assert_user_error(rc, err, "denoise")
    rc, _, err = run_cli(
        ["denoise", dirs["dae"], tmp_path / "rows.npy", "--out", tmp_path / "d.npy"], capsys
    )
    assert rc == 0, err  # the same 64 values per sample as flat rows: accepted
    np.save(tmp_path / "wide.npy", np.zeros((3, 10)))
    rc, _, err = run_cli(
        ["denoise", dirs["dae"], tmp_path / "wide.npy", "--out", tmp_path / "d.npy"], capsys
    )
    assert "expecting 64 features" in assert_user_error(rc, err, "denoise")
