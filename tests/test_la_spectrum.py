"""t = 0 spectrum of the normalised loss l_a (E4a, H3-H6, T1): exact quadrature law against
independent one-dimensional integrals and against dense diagonalisation at finite N."""

import math

import numpy as np
import pytest
from scipy import integrate, special

from dmft._quadrature_law import NormalisedLaw, alpha_bbp_init_bounded, exact_density
from dmft.losses import normalised_loss
from dmft.spectrum import WeightLaw

A_PAPER = 0.01


@pytest.fixture(scope="module")
def law001():
    return NormalisedLaw(A_PAPER)


def weight_law(backend, alpha):
    return WeightLaw(alpha=alpha, mu=alpha * backend.mean_fh, m=0.0, kind="normalised", t=0.0,
                     backend=backend)


def cdf_1d(x, a):
    """P(z < x) at m = 0 as a 1D integral over h* of P(3 h^2 < x (a + y) + y) (erf)."""
    def f(hs):
        y = hs * hs
        q = (x * (a + y) + y) / 3.0
        return (special.erf(math.sqrt(q / 2)) if q > 0 else 0.0) * math.exp(-y / 2)
    pts = [math.sqrt(max(-x * a / (1 + x), 0.0))] if x < 0 else [math.sqrt(a)]
    val = integrate.quad(f, 0, 40, points=pts, limit=400, epsabs=1e-14, epsrel=1e-12)[0]
    return 2 * val / math.sqrt(2 * math.pi)


@pytest.mark.parametrize("a", [1e-3, 1.0])
def test_exact_density_is_derivative_of_1d_cdf(a):
    for x in (-0.9, -0.3, 0.05, 2.0, 30.0):
        eps = 1e-5 * (1 + abs(x))
        fd = (cdf_1d(x + eps, a) - cdf_1d(x - eps, a)) / (2 * eps)
        p = exact_density(np.array([x]), a)[0][0]
        assert abs(p - fd) <= 1e-6 * (1 + fd), (x, p, fd)


def test_law_cdf_and_moments_against_1d_integrals(law001):
    a = A_PAPER
    for x in (-0.95, -0.5, 0.1, 3.0, 300.0):
        assert abs(float(law001.cdf(np.array(x))) - cdf_1d(x, a)) < 1e-9
    # m = 0: E[z] = E[f h] = E[(3 - y)/(a + y)] (h independent of y = h*^2)
    ez = 2 * integrate.quad(lambda u: (3 - u * u) / (a + u * u) * math.exp(-u * u / 2), 0, 40,
                            points=[math.sqrt(a)], limit=400, epsabs=1e-13)[0]
    ez /= math.sqrt(2 * math.pi)
    assert abs(law001.mean_z - ez) < 1e-10 * ez
    assert abs(law001.mean_fh - ez) < 1e-10 * ez
    assert abs(law001.mean_g2 - 1.0) < 1e-12
    assert law001.mass_error < 1e-12


def nested_expect(s, a, g2_power=0):
    """A(s) = E[z / (1 - z s)] (g2_power = 0) or B(s) = E[g^2 z / (1 - z s)] (1) at m = 0
    (g = h*) by nested adaptive quadrature (complex s)."""
    def inner(hs, part):
        y = hs * hs

        def f(h):
            z = (3 * h * h - y) / (a + y)
            return part(y**g2_power * z / (1 - s * z)) * math.exp(-h * h / 2)
        return integrate.quad(f, 0, 12, limit=400, points=[math.sqrt(a / 3)], epsabs=1e-12)[0]
    out = [integrate.quad(lambda u, p=p: inner(u, p) * math.exp(-u * u / 2), 0, 12,
                          limit=400, points=[math.sqrt(a), 3 * math.sqrt(a)], epsabs=1e-11)[0]
           for p in (np.real, np.imag)]
    return complex(*out) * 4 / (2 * math.pi)


def test_both_quadrature_routes_against_nested_quadrature(law001):
    for s in (-0.5 + 0j, -0.05 + 0j, 1 / (-40 + 217j), 1 / (20 + 0.5j)):
        for k in (0, 2):  # A and B
            ref = nested_expect(s, A_PAPER, k // 2)
            direct = law001.expect(np.array([s]))[k][0]
            panels = law001._panels.expect(np.array([s]))[k, 0]
            assert abs(panels - ref) < 1e-7 * (1 + abs(ref)), (s, k, panels, ref)
            if s.imag == 0:  # the direct route is used (and valid) on the real segment [-1, 0]
                assert abs(direct - ref) < 1e-9 * (1 + abs(ref)), (s, k, direct, ref)


def dense_spectrum(alpha, N, a, seed):
    """Riemannian Hessian (H1) at m = 0, diagonalised densely. By rotation invariance of the
    inputs, w = sqrt(N) e_1 and w* = sqrt(N) e_2; the tangent space is coordinates 2..N and
    e = e_2. Returns the D-eigenvalues (H2: Riemannian + mu), overlap^2 of each eigenvector
    with e, and mu."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((int(round(alpha * N)), N))
    h, y = X[:, 0], X[:, 1] ** 2
    lo = normalised_loss(a)
    fp, mu = lo.fp(h, y), float(lo.f(h, y) @ h) / N
    Xt = X[:, 1:]
    ev, V = np.linalg.eigh((Xt.T * fp) @ Xt / N)
    return ev, V[0, :] ** 2, mu


def edge_scale(law, x_edge, N):
    """Finite-N distance of the lowest bulk eigenvalue from a square-root edge:
    N int_edge^(edge+d) c sqrt(x - edge) dx = 1, c measured from the law's density."""
    eps = 0.05
    rho = law.density(np.array([x_edge - law.mu + eps])).rho[0]
    return (1.5 * math.sqrt(eps) / (rho * N)) ** (2 / 3)


def run_dense(alpha, N, n_sets):
    rows = [dense_spectrum(alpha, N, A_PAPER, 1000 + k) for k in range(n_sets)]
    ev = np.array([r[0] for r in rows])
    ov = np.array([r[1][0] for r in rows])
    mu = np.array([r[2] for r in rows])
    return ev, ov, mu


def mean_se(v):
    return float(np.mean(v)), float(np.std(v, ddof=1) / math.sqrt(len(v)))


def test_dense_outlier_edge_overlap_alpha6(law001):
    """alpha = 6 (outlier isolated): lowest D-eigenvalue = outlier, second = edge."""
    N, n_sets, alpha = 400, 4, 6.0
    law = WeightLaw.normalised(alpha, A_PAPER)  # the public constructor (exact quadrature)
    out, edge = law.outlier(), law.hard_edge()
    assert out.status == "exists" and edge.kind == "hard"
    x_out, x_edge = out.lam + law.mu, edge.lam + law.mu
    ev, ov, mu = run_dense(alpha, N, n_sets)
    d = edge_scale(law, x_edge, N)
    m1, se1 = mean_se(ev[:, 0])
    m2, se2 = mean_se(ev[:, 1])
    mo, seo = mean_se(ov)
    # outlier: O(N^-1/2) fluctuations (in the SE) plus an O(1/N) bias allowance
    assert abs(m1 - x_out) <= 3 * se1 + 10 * (1 + abs(x_out)) / N, (m1, se1, x_out)
    assert abs(m2 - x_edge) <= 3 * se2 + 3 * d, (m2, se2, x_edge, d)
    assert abs(mo - out.overlap2) <= 3 * seo + 5 / N, (mo, seo, out.overlap2)
    # mu(0) = alpha E[f h] (E5): heavy-tailed f h, compare within its standard error
    mm, sem = mean_se(mu)
    assert abs(mm - law.mu) <= 4 * sem


def test_dense_density_binned_chi2(law001):
    """Pooled bulk D-eigenvalues against the law's density (H3), Poisson errors per bin
    (conservative: eigenvalues are rigid), alpha = 4, N = 400."""
    N, n_sets, alpha = 400, 3, 4.0
    law = weight_law(law001, alpha)
    ev, _, _ = run_dense(alpha, N, n_sets)
    x_edge = law.hard_edge().lam + law.mu
    edges = np.concatenate([[x_edge - 2.0], np.quantile(ev, np.linspace(0.02, 0.9, 16))])
    grid = np.linspace(edges[0], edges[-1], 800)
    rho = law.density(grid - law.mu).rho
    cum = np.concatenate([[0], np.cumsum(0.5 * (rho[1:] + rho[:-1]) * np.diff(grid))])
    expected = np.diff(np.interp(edges, grid, cum)) * ev.size
    counts = np.histogram(ev.ravel(), bins=edges)[0]
    chi2 = np.sum((counts - expected) ** 2 / expected)
    assert chi2 / counts.size < 2.0, (chi2, counts, expected)


def test_outlier_status_flips_at_alpha_bbp_init(law001):
    """Independent routes: min of a_R(s) under the branch constraint (alpha_bbp_init_bounded)
    against WeightLaw.outlier's scan of S_PV on the branch; edge kind: overlap -> 0."""
    res = alpha_bbp_init_bounded(law001)
    assert res.kind == "edge"
    below = weight_law(law001, res.alpha * 0.995).outlier()
    above = weight_law(law001, res.alpha * 1.005).outlier()
    assert below.status == "absent" and above.status == "exists"
    near = weight_law(law001, res.alpha * 1.0005).outlier()
    assert 0 < near.overlap2 < above.overlap2 < 0.1


@pytest.mark.slow
def test_dense_overlap_curve_against_issue_table(law001):
    """Issue 11 table (N = 800, 6 datasets): overlap^2 of the lowest eigenvector with e. Above
    alpha_BBP_init(0.01) = 2.85 the N = inf value is the H6 overlap of the outlier; compared
    where the outlier is separated from the edge by more than 3 edge scales."""
    N, n_sets = 800, 6
    issue = {2.0: (0.016, 0.009), 2.6: (0.047, 0.029), 3.2: (0.166, 0.031),
             4.0: (0.393, 0.044), 6.0: (0.810, 0.008)}
    for alpha, (ov_issue, err_issue) in issue.items():
        law = weight_law(law001, alpha)
        out = law.outlier()
        ev, ov, _ = run_dense(alpha, N, n_sets)
        mo, seo = mean_se(ov)
        assert abs(mo - ov_issue) <= 3 * math.hypot(seo, err_issue)  # same experiment
        if out.status != "exists":
            continue
        x_edge = law.hard_edge().lam + law.mu
        if x_edge - (out.lam + law.mu) > 3 * edge_scale(law, x_edge, N):
            assert abs(mo - out.overlap2) <= 3 * seo + 5 / N, (alpha, mo, seo, out.overlap2)


@pytest.mark.parametrize("m", [0.3, -0.6])
def test_routes_agree_and_match_sampling_at_nonzero_overlap(m):
    """At m != 0 (h, h* correlated): the (u, t) tensor rule and the panels of the exact density
    are independent representations; both against Monte Carlo within 5 standard errors."""
    a = 0.1
    law = NormalisedLaw(a, m=m)
    s = np.array([-0.7 + 0j, -0.2 + 0j])
    direct = np.array(law.expect(s))
    panels = law._panels.expect(s)
    assert np.allclose(direct, panels, rtol=1e-8, atol=1e-10)
    rng = np.random.default_rng(3)
    n = 400_000
    hs = rng.standard_normal(n)
    h = m * hs + math.sqrt(1 - m * m) * rng.standard_normal(n)
    y = hs * hs
    z = (3 * h * h - y) / (a + y)
    g2 = (hs - m * h) ** 2 / (1 - m * m)
    for k, sv in enumerate(s.real):
        for j, v in ((0, z / (1 - sv * z)), (2, g2 * z / (1 - sv * z))):
            se = v.std() / math.sqrt(n)
            assert abs(direct[j, k].real - v.mean()) < 5 * se, (m, sv, j)
    assert abs(law.mean_g2 - 1) < 1e-10
    for x in (-0.5, 1.0, 10.0):
        assert abs(float(law.cdf(np.array(x))) - np.mean(z < x)) < 5 * math.sqrt(0.25 / n)


def test_from_solution_at_t0_uses_the_exact_normalised_law():
    """WeightLaw.from_solution at t = 0 for an l_a solution: the exact quadrature law (not a
    sample law), whose outlier agrees with WeightLaw.normalised; a sample law of the same
    start would carry Monte Carlo error."""
    from types import SimpleNamespace

    sol = SimpleNamespace(alpha=6.0, sample_times=np.array([0.0, 1.0]), t=np.array([0.0, 1.0]),
                          m=np.array([0.0, 0.0]), mu=np.array([200.0, 100.0]),
                          loss=normalised_loss(A_PAPER).name, metadata={"noise": 0.0})
    law = WeightLaw.from_solution(sol, 0.0)
    ref = WeightLaw.normalised(6.0, A_PAPER)
    assert law.kind == "normalised" and law.bounded_below and law.z_min == -1.0
    assert law.mu == pytest.approx(ref.mu, rel=1e-12)
    assert law.outlier().lam == pytest.approx(ref.outlier().lam, rel=1e-12)
