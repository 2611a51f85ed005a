"""Validation of dmft.spectrum (THEORY.md H3-H8): two independent routes per test."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest

from dmft.losses import PHASE_RETRIEVAL
from dmft.spectrum import Edge, Outlier, WeightLaw, spectrum_along


def _dense_d(alpha: float, N: int, m: float, rng: np.random.Generator):
    """Eigenpairs of D (H2) on the tangent space at t = 0, by diagonalisation.

    w* = sqrt(N) e1, w = m w* + sqrt(1 - m^2) sqrt(N) e2; tangent basis: e (in span(e1, e2),
    orthogonal to w) and e3..eN. Returns eigenvalues of D and overlap^2 with w*/sqrt(N).
    """
    M = int(round(alpha * N))
    X = rng.standard_normal((M, N))
    c = math.sqrt(1 - m * m)
    hs = X[:, 0]
    h = m * X[:, 0] + c * X[:, 1]
    z = 3 * h**2 - hs**2
    g = c * X[:, 0] - m * X[:, 1]  # = (h* - m h)/c
    T = np.column_stack([g, X[:, 2:]])
    D = (T.T * z) @ T / N
    lam, V = np.linalg.eigh(D)
    return lam, V[0, :] ** 2 * (1 - m * m)


def _mp(alpha: float, x: np.ndarray) -> np.ndarray:
    lp, lm = (1 + math.sqrt(alpha)) ** 2, (1 - math.sqrt(alpha)) ** 2
    inside = (x > lm) & (x < lp)
    return np.where(inside, np.sqrt(np.clip((lp - x) * (x - lm), 0, None)) / (2 * np.pi * x), 0)


@pytest.mark.parametrize("alpha", [2.0, 5.0])
def test_marchenko_pastur_exact(alpha):
    law = WeightLaw.from_samples(np.ones(50), np.ones(50), alpha, mu=0.0)
    lp, lm = (1 + math.sqrt(alpha)) ** 2, (1 - math.sqrt(alpha)) ** 2
    x = np.concatenate([np.linspace(lm - 1, lp + 1, 57), [lm + 1e-3, lp - 1e-3]])
    r = law.density(x)
    assert np.max(np.abs(r.rho - _mp(alpha, x))) < 1e-8
    assert np.max(r.residual) < 1e-9
    le, re_ = law.hard_edge(), law.right_edge()
    assert le.kind == "hard" and abs(le.lam - lm) < 1e-8
    assert re_.kind == "hard" and abs(re_.lam - lp) < 1e-8
    # g independent of z: nu_e equals the MP density (H5 with S = 1/s)
    nu = law.signal_measure(x[:57])
    assert np.max(np.abs(nu.nu_e - _mp(alpha, x[:57]))) < 1e-8
    assert law.outlier().status == "absent"


def test_gaussian_expectations_vs_monte_carlo():
    rng = np.random.default_rng(5)
    S = 400_000
    for m in (0.0, 0.3):
        law = WeightLaw.gaussian(3.0, m, n_quad=128)
        h, g = rng.standard_normal(S), rng.standard_normal(S)
        z = 3 * h**2 - (m * h + math.sqrt(1 - m * m) * g) ** 2
        for s in (-0.3 - 0.2j, 0.2 - 0.5j):
            got = law.expect(np.array([s]))
            for val, samp in zip(got, (z / (1 - z * s), z**2 / (1 - z * s) ** 2,
                                       g**2 * z / (1 - z * s), g**2 * z**2 / (1 - z * s) ** 2),
                                 strict=True):
                se = np.std(samp) / math.sqrt(S)
                assert abs(val[0] - samp.mean()) < 5 * se + 1e-12
        x = np.array([-6.0, -2.0, -0.5])
        cdf_mc = np.array([np.mean(z < v) for v in x])
        assert np.all(np.abs(law.cdf(x) - cdf_mc) < 5 * np.sqrt(cdf_mc * (1 - cdf_mc) / S))


def test_quadrature_vs_sampling_density():
    alpha, m = 5.0, 0.0
    exact = WeightLaw.gaussian(alpha, m, n_quad=128)
    lams = np.linspace(-16, 30, 24)
    ref = exact.density(lams).rho
    rng = np.random.default_rng(11)
    reps = []
    for _ in range(4):
        h, g = rng.standard_normal(50_000), rng.standard_normal(50_000)
        law = WeightLaw.from_samples(PHASE_RETRIEVAL.fp(h, g * g), g, alpha, exact.mu)
        reps.append(law.density(lams).rho)
    reps = np.array(reps)
    se = reps.std(axis=0, ddof=1) / 2.0
    # 5 standard errors (t with 3 dof is wider: use 8) plus 2% binning smoothing
    assert np.all(np.abs(reps.mean(0) - ref) < 8 * se + 0.02 * ref.max())


def _finite_n_stats(alpha, N, m, seeds, edges):
    rng = np.random.default_rng(int(1000 * alpha + N + 100 * m))
    hist, hov, low, ov_low = [], [], [], []
    for _ in range(seeds):
        lam, ov = _dense_d(alpha, N, m, rng)
        hist.append(np.histogram(lam, edges)[0] / lam.size)
        hov.append(np.histogram(lam, edges, weights=ov / (1 - m * m))[0])
        low.append(lam[:3])
        ov_low.append(ov[0])
    return np.array(hist), np.array(hov), np.array(low), np.array(ov_low)


def _bin_average(fun, edges, per=20):
    out = []
    for a, b in zip(edges[:-1], edges[1:], strict=True):
        x = np.linspace(a, b, per + 1)
        out.append(np.trapezoid(fun(x), x))
    return np.array(out)


@pytest.mark.parametrize("alpha,m,N,seeds", [(5.0, 0.0, 500, 8), (6.0, 0.3, 500, 8)])
def test_density_and_nu_e_vs_diagonalisation(alpha, m, N, seeds):
    law = WeightLaw.gaussian(alpha, m, n_quad=128)
    edges = np.linspace(-law.mu - 2.5 * alpha, -law.mu + 8 * alpha, 16)
    hist, hov, _, _ = _finite_n_stats(alpha, N, m, seeds, edges + law.mu)
    p_th = _bin_average(lambda x: law.density(x).rho, edges)
    nu_th = _bin_average(lambda x: law.signal_measure(x).nu_e, edges)
    p_fn = hist.mean(0)
    se_p = np.sqrt(p_th * (1 - p_th) / (seeds * N)) * 2  # eigenvalues repel: conservative x2
    assert np.all(np.abs(p_fn - p_th) < 5 * se_p + 2.0 / N)  # 2/N: O(1/N) finite-size terms
    se_nu = hov.std(0, ddof=1) / math.sqrt(seeds)
    assert np.all(np.abs(hov.mean(0) - nu_th) < 5 * se_nu + 0.01)


def _outlier_check(alpha, N, seeds, m=0.0):
    law = WeightLaw.gaussian(alpha, m, n_quad=128)
    fn = law.finite_n(N)
    _, _, low, ov_low = _finite_n_stats(alpha, N, m, seeds, np.array([0.0, 1.0]))
    lam1 = low[:, 0] - law.mu
    se = lam1.std(ddof=1) / math.sqrt(seeds)
    # H8 states its Poisson picture is good to about 0.5 in lam and 0.04 in overlap^2
    assert abs(lam1.mean() - fn.lam_low[0]) < 4 * se + 0.5
    se_o = ov_low.std(ddof=1) / math.sqrt(seeds)
    return fn, ov_low.mean(), se_o


def test_lowest_eigenvalue_vs_diagonalisation_default():
    _outlier_check(8.0, 500, 8)


@pytest.mark.slow
@pytest.mark.parametrize("alpha", [3.0, 5.0, 8.0, 12.0])
@pytest.mark.parametrize("N", [500, 1000, 2000, 4000])
def test_lowest_eigenvalue_full_grid(alpha, N):
    seeds = {500: 24, 1000: 12, 2000: 6, 4000: 3}[N]
    _outlier_check(alpha, N, seeds)


def test_outlier_resonance_and_nu_e_peak():
    law = WeightLaw.gaussian(12.0, 0.0, n_quad=128)
    out = law.outlier()
    assert out.status == "resonance" and out.width > 0
    # the resonance weight equals the mass of nu_e around the peak (route: integrate nu_e)
    x = np.linspace(out.lam - 10 * out.width, out.lam + 10 * out.width, 801)
    nu = law.signal_measure(x).nu_e
    assert abs(x[np.argmax(nu)] - out.lam) < 0.05 * out.width + (x[1] - x[0])
    mass = np.trapezoid(nu, x)
    lorentz_mass = (2 / np.pi) * np.arctan(20.0)  # Lorentzian mass within +-10 FWHM
    assert abs(mass - out.overlap2 * lorentz_mass) < 0.05 * out.overlap2


def test_bounded_law_outlier_exists():
    # z bounded below (atoms -1, +1 with probabilities 0.2, 0.8) and g^2 = 4 on z = -1,
    # 0.25 on z = +1: an isolated outlier below a hard edge (H4, H6)
    S = 5000
    z = np.where(np.arange(S) < S // 5, -1.0, 1.0)
    g = np.where(z < 0, 2.0, 0.5)
    law = WeightLaw.from_samples(z, g, 3.0, mu=0.0)
    le = law.hard_edge()
    assert isinstance(le, Edge) and le.kind == "hard"
    out = law.outlier()
    assert out.status == "exists"
    assert out.lam < le.lam and out.width == 0.0 and 0 < out.overlap2 <= 1
    # independent route: dense diagonalisation of D at N = 1000 with the same weights
    rng = np.random.default_rng(1)
    N = 1000
    M = 3 * N
    zz = np.where(np.arange(M) < M // 5, -1.0, 1.0)
    gg = np.where(zz < 0, 2.0, 0.5) * np.sign(rng.standard_normal(M))
    X = rng.standard_normal((M, N - 1))
    X[:, 0] = gg  # coordinate 0 plays the signal direction e
    lam, V = np.linalg.eigh((X.T * zz) @ X / N)
    # fluctuations: outlier O(N^-1/2), edge O(N^-2/3) (Tracy-Widom), both < 0.1 here
    assert abs(lam[0] - out.lam) < 0.15
    assert abs(lam[1] - le.lam) < 0.15
    assert abs(V[0, 0] ** 2 - out.overlap2) < 0.05
    # H8 with no Poisson tail (bounded law): the outlier, then the hard edge
    low = law.finite_n(N).lam_low
    assert abs(low[0] - lam[0]) < 0.15 and abs(low[1] - lam[1]) < 0.15


def test_uncoupled_signal_is_an_exact_zero_mode():
    """g = 0: D e = 0 exactly, so e is an eigenvector with eigenvalue 0 - mu and overlap 1
    (used to raise ZeroDivisionError in the normalisation of the g^2 measure)."""
    z = 2 * np.random.default_rng(0).standard_normal(8000) ** 2
    out = WeightLaw.from_samples(z, np.zeros(z.size), 6.0, mu=0.5).outlier()
    assert out.status == "exists"
    assert out.lam == pytest.approx(-0.5, abs=1e-8) and out.overlap2 == pytest.approx(1.0)


def test_bad_input():
    with pytest.raises(ValueError):
        WeightLaw.from_samples([], [], 3.0, 1.0)
    with pytest.raises(ValueError):
        WeightLaw.from_samples([1.0, np.nan], [0.0, 1.0], 3.0, 1.0)
    with pytest.raises(ValueError):
        WeightLaw.gaussian(0.0)
    with pytest.raises(ValueError):
        WeightLaw.gaussian(-1.0)
    with pytest.raises(ValueError):
        WeightLaw.gaussian(3.0).density([np.inf])


def _fake_solution(alpha=6.0, S=20_000, seed=0):
    rng = np.random.default_rng(seed)
    hs = rng.standard_normal(S)
    ms = np.array([0.0, 0.3])
    hsamp = []
    for m in ms:
        hsamp.append(m * hs + math.sqrt(1 - m * m) * rng.standard_normal(S))
    return SimpleNamespace(alpha=alpha, t=np.array([0.0, 1.0]), m=ms,
                           mu=2 * alpha * (1 - ms**2), sample_times=np.array([0.0, 1.0]),
                           h_samples=np.array(hsamp), h_star=hs, y=hs**2, loss=PHASE_RETRIEVAL)


def test_spectrum_along_fake_solution():
    sol = _fake_solution()
    traj = spectrum_along(sol, [0.0, 1.0])
    assert traj.t.shape == (2,) and len(traj.status) == 2
    ref = WeightLaw.gaussian(6.0, 0.3, n_quad=128).outlier()
    # sampled t=1 law is the m = 0.3 Gaussian law: PV outlier within sampling error
    assert traj.status[1] in ("resonance", "exists")
    assert abs(traj.lam_out[1] - ref.lam) < 0.1 * abs(ref.lam)
    with pytest.raises(ValueError, match="outside"):
        spectrum_along(sol, [2.0])
    with pytest.raises(ValueError):
        spectrum_along(sol, [])


def test_cli_spectrum_json(capsys):
    import json

    from dmft.cli import main

    assert main(["spectrum", "--alpha", "8", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    for key in ("lam_out", "overlap2", "width", "hard_edge", "right_edge", "mu", "status"):
        assert key in out
    assert out["status"] == "resonance" and out["mu"] == pytest.approx(16.0)
    assert main(["spectrum", "--alpha", "-1"]) == 2


def test_cli_bad_input_exit_2(capsys):
    from dmft.cli import main

    assert main(["spectrum", "--alpha", "5", "--t", "1"]) == 2
    assert main(["thresholds", "--m", "2"]) == 2
    assert "error" in capsys.readouterr().err


def test_cli_spectrum_along_saved_solution(tmp_path, capsys):
    """`dmft spectrum --solution FILE --times ...` on a real (small) DMFT solution."""
    import json

    from dmft import cli
    from dmft.solver import solve
    from dmft.spectrum import spectrum_along

    sol = solve(8.0, 1e-10, 0.4, dt=0.02, n_samples=2000, seed=0, sample_times=[0.0, 0.4])
    path = sol.save(tmp_path / "sol")
    assert cli.main(["spectrum", "--solution", str(path), "--times", "0", "0.4",
                     "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    direct = spectrum_along(sol, [0.0, 0.4])
    assert payload["status"] == direct.status
    np.testing.assert_allclose(payload["mu"], direct.mu)
    assert cli.main(["spectrum", "--solution", str(path), "--times", "0.2"]) == 2
    assert "no samples kept" in capsys.readouterr().err
    assert cli.main(["spectrum"]) == 2


def test_sample_law_expectations_far_from_the_support():
    """|s| -> 0: A -> E[z], A1 -> E[z^2] of the piecewise-linear density (closed form per
    bin); the Cauchy-transform route lost all digits there (A = -w m0 - w^2 G0 with
    w = 1/s ~ -1e6 gave x_PV off by 1e6 at late times). Also: the far-field quadrature and
    the Cauchy route agree where they hand over (|s z_max| = 1/2)."""
    z = 2 * np.random.default_rng(0).standard_normal(8000) ** 2 - 1e-5
    law = WeightLaw.from_samples(z, np.full(z.size, 0.5), 6.0, mu=0.0).backend
    b, p = law.b, law.p
    d, q0, q1 = np.diff(b), p[:-1], p[1:]
    slope = (q1 - q0) / d
    # int_b0^b1 (q0 + slope (z - b0)) z^k dz, exactly
    mom = [np.sum(q0 * (b[1:] ** (k + 1) - b[:-1] ** (k + 1)) / (k + 1)
                  + slope * ((b[1:] ** (k + 2) - b[:-1] ** (k + 2)) / (k + 2)
                             - b[:-1] * (b[1:] ** (k + 1) - b[:-1] ** (k + 1)) / (k + 1)))
           for k in (1, 2)]
    A, A1, _, _ = law.expect(np.array([-1e-7]))
    assert A[0].real == pytest.approx(mom[0], rel=1e-5)
    assert A1[0].real == pytest.approx(mom[1], rel=1e-5)
    s_switch = -0.5 / max(abs(law.z_min), abs(law.z_max))
    near, far = law.expect(np.array([s_switch * 1.001])), law.expect(np.array([s_switch * 0.999]))
    for u, v in zip(near, far, strict=True):
        assert abs(u[0] - v[0]) < 1e-2 * abs(u[0])  # a 0.2 % step in s


def test_spectrum_curves_cover_both_measures():
    """The default grid of spectrum_curves holds the whole bulk and signal measure: rho (H3)
    and nu_e (H5) each integrate to 1 (normalisation of a Stieltjes transform and of a
    spectral measure), so the trapezoid sums on the grid must reach 1 up to the tails left
    out (< 1e-5 density) and the 300-point grid error; the outlier is on the grid."""
    from dmft.spectrum import SpectrumCurves, spectrum_curves

    law = WeightLaw.gaussian(6.0, 0.0, n_quad=128)
    c = spectrum_curves(law)
    assert isinstance(c, SpectrumCurves) and c.lam.size == 300
    assert c.outlier.status == "resonance" and c.lam[0] <= c.outlier.lam <= c.lam[-1]
    assert abs(np.trapezoid(c.density, c.lam) - 1) < 0.02
    assert abs(np.trapezoid(c.nu_e, c.lam) - 1) < 0.02
    assert c.hard_edge.kind == "tail" and (c.alpha, c.m) == (6.0, 0.0)


def test_cli_spectrum_levels_are_the_library_levels(capsys):
    """`dmft spectrum --N` reports the same three levels as the library (one definition):
    no hard edge for the unbounded t = 0 tail (the PV turning point, inside the bulk, is
    only ``pv_turn``), the tail start and the lowest-eigenvalue quantiles of
    :meth:`WeightLaw.finite_n`; the tail start lies below the PV turning point and the
    density there is that of the far tail (count 1 of N = 300: rho < 10 / N)."""
    import json

    from dmft.cli import main

    assert main(["spectrum", "--alpha", "6", "--N", "300", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["hard_edge"] is None and out["hard_edge_kind"] == "tail"
    fn = WeightLaw.gaussian(6.0).finite_n(300)
    assert out["tail_start"] == pytest.approx(fn.tail_start, rel=1e-9)
    q = out["lowest_quantiles"]
    assert [q["q16"], q["median"], q["q84"]] == pytest.approx(list(fn.lowest_quantiles))
    assert out["tail_start"] < out["pv_turn"]
    assert WeightLaw.gaussian(6.0).density(np.array([out["tail_start"]])).rho[0] < 10 / 300


def test_presence_rule_needs_a_status_and_a_positive_margin():
    """T2's presence rule, one definition for one outlier and for arrays along a run: a
    resonance or isolated eigenvalue with margin > 0 is present; an absent status or a
    non-positive (or NaN) margin is not."""
    from dmft._outlier import outlier_present

    cases = [("exists", 0.3, True), ("resonance", 0.1, True), ("exists", -0.2, False),
             ("absent", 0.5, False), ("exists", 0.0, False), ("resonance", math.nan, False)]
    for status, margin, want in cases:
        out = Outlier(status, -1.0, 0.5, 0.0, -1.0, 0.0, 0.5, 0.0, margin=margin)
        assert out.present is want, (status, margin)
    got = outlier_present([c[0] for c in cases], np.array([c[1] for c in cases]))
    assert got.tolist() == [c[2] for c in cases]


@pytest.mark.parametrize("shift, present", [(-1.0, False), (-0.5, False), (0.5, True),
                                            (1.0, True)])
def test_a_sample_law_keeps_the_outlier_iff_no_weight_lies_below_one_over_s_star(shift,
                                                                                 present):
    """THEORY T3 (the plain loss's resonance): the left branch of S_PV ends at the pole of
    the lowest weight, s = 1/z_min, so the outlier root s* survives one extra weight at z
    iff z > 1/s*. Bulk: t = 0-like weights cut at z > -4, alpha = 6 (outlier at
    z* = 1/s* ~ -7.2, below the cut); one weight (g = 1) added half a unit or one unit
    above or below z*."""
    rng = np.random.default_rng(0)
    h, h_star = rng.normal(size=(2, 20000))
    z = 3 * h**2 - h_star**2
    keep = z > -4.0
    z, g = z[keep], h_star[keep]
    bulk = WeightLaw.from_samples(z, g, 6.0, 12.0).outlier()
    assert bulk.present
    z_star = 1.0 / bulk.s_pv
    assert z_star < z.min() - 2.0
    law = WeightLaw.from_samples(np.append(z, z_star + shift), np.append(g, 1.0), 6.0, 12.0)
    assert law.outlier().present is present
