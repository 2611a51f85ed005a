"""Per-sample Moreau envelope of the normalised loss l_a: the prox-gradient step (E4a, E5).

Why: l_a is stiff. Its local rate ``f' = (3 h^2 - y) / (a + y)`` reaches ``~3 h^2 / a`` where
``y << a``, so explicit gradient descent needs ``eta ~ a`` (THEORY 1b, 6). Treating each
sample's own force implicitly removes that limit while keeping the step a gradient step.

Scheme (finite N): every sample's force is evaluated at its backward-Euler point,

    p_mu = prox_{eta l}(h_mu; y_mu),  i.e.  p_mu + eta f(p_mu; y_mu) = h_mu   (a cubic),
    w <- sqrt(N) normalize(w - eta sum_mu f(p_mu; y_mu) x_mu / sqrt(N)).

Since ``f(p) = (h - p) / eta`` is the derivative of the Moreau envelope

    l^eta(h; y) = min_p [ l(p; y) + (p - h)^2 / (2 eta) ],
    f^eta(h) = f(p),   f'^eta(h) = f'(p) / (1 + eta f'(p))   (< 1 / eta),

this is exactly projected gradient descent with step eta on the loss ``l^eta``. So
``simulate(loss=moreau_envelope(l_a, eta), eta=eta)`` runs it at finite N and
``solve(..., loss=moreau_envelope(l_a, dt))`` (or ``solve(..., scheme="prox")``) is its exact
N -> infinity limit, with no change to the DMFT. As eta -> 0, ``l^eta -> l`` and both tend
to gradient flow on l_a (E5), at first order in eta like the explicit step.

Uniqueness: ``p -> p + eta f(p)`` is strictly increasing when ``1 - eta y / (a + y) > 0``,
which holds for every y >= 0 when ``eta < 1`` (l_a has ``f' > -1``); the envelope is
therefore defined for ``0 < gamma < 1`` only. (For the plain loss, f' = -y is unbounded
below and the prox is not unique once ``eta y > 1``: not offered.)
"""

from __future__ import annotations

import numpy as np

from dmft.losses import Loss, get_loss

__all__ = ["moreau_envelope", "prox_normalised"]

_NEWTON_STEPS = 3  # polishing of the closed-form root: measured residual < 1e-13 relative


def prox_normalised(h: np.ndarray, y: np.ndarray, a: float, gamma: float) -> np.ndarray:
    """The point ``p`` with ``p + gamma (p^2 - y) p / (a + y) = h`` (E4a), elementwise.

    The cubic ``c p^3 + b p = h``, ``c = gamma / (a + y)``, ``b = 1 - c y > 0``, has one
    real root (Cardano), polished by Newton steps (``g' = 3 c p^2 + b >= b > 0``).
    """
    c = gamma / (a + y)
    b = 1.0 - c * y
    q, P = h / c, b / c
    A = np.cbrt(0.5 * np.abs(q) + np.sqrt(0.25 * q * q + P**3 / 27.0))
    p = np.sign(q) * (A - P / (3.0 * A))
    for _ in range(_NEWTON_STEPS):
        p = p - (c * p**3 + b * p - h) / (3.0 * c * p * p + b)
    return p


def moreau_envelope(loss: str | Loss, gamma: float) -> Loss:
    """The Moreau envelope ``l^gamma`` of the normalised loss l_a (module docstring).

    Parameters
    ----------
    loss : str or Loss
        A normalised loss ``l_a`` (``get_loss("phase_retrieval", a=A)``, E4a).
    gamma : float
        Envelope parameter in (0, 1), in the time units of E5; the prox-gradient scheme
        uses ``gamma = eta = dt``.

    Returns
    -------
    Loss
        ``l^gamma``, ``f^gamma = f(p)`` and ``f'^gamma = f'(p) / (1 + gamma f'(p))`` with
        ``p = prox_{gamma l}(h)``; same labels and ``a`` as ``loss``; name
        ``"moreau(<name>, gamma=<gamma>)"``.

    Raises
    ------
    ValueError
        If ``loss`` is not a normalised loss, or ``gamma`` is not in (0, 1).
    """
    base = get_loss(loss)
    if base.a is None:
        raise ValueError(f"the Moreau envelope is offered for the normalised loss l_a only "
                         f"(E4a: its prox is unique for gamma < 1), got {base.name!r}; use "
                         "get_loss('phase_retrieval', a=A)")
    gamma = float(gamma)
    if not 0.0 < gamma < 1.0:  # NaN fails too
        raise ValueError(f"gamma (the envelope parameter, = dt) must lie in (0, 1), got {gamma}")
    a = base.a

    def loss_value(h, y):
        p = prox_normalised(h, y, a, gamma)
        return base.l(p, y) + (p - h) ** 2 / (2.0 * gamma)

    def f(h, y):
        return base.f(prox_normalised(h, y, a, gamma), y)

    def fp(h, y):
        z = base.fp(prox_normalised(h, y, a, gamma), y)
        return z / (1.0 + gamma * z)

    return Loss(name=f"moreau({base.name}, gamma={gamma!r})", l=loss_value, f=f, fp=fp,
                label=base.label, a=a)
