"""Input checks shared by the public functions: clear ValueErrors, never silent NaNs."""

from __future__ import annotations

import math

import numpy as np


def finite(name: str, value: float) -> float:
    """Return ``value`` as float, or raise if it is not a finite real number."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a real number, got {value!r}") from None
    if not math.isfinite(x):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return x


def positive(name: str, value: float) -> float:
    """Return ``value`` as float, or raise unless it is finite and > 0."""
    x = finite(name, value)
    if x <= 0:
        raise ValueError(f"{name} must be > 0, got {value!r}")
    return x


def in_range(name: str, value: float, lo: float, hi: float) -> float:
    """Return ``value`` as float, or raise unless ``lo <= value <= hi``."""
    x = finite(name, value)
    if not lo <= x <= hi:
        raise ValueError(f"{name} must lie in [{lo}, {hi}], got {value!r}")
    return x


def integer(name: str, value: int, minimum: int) -> int:
    """Return ``value`` as int, or raise unless it is an integer >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            raise ValueError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
    return int(value)


def finite_array(name: str, values, ndim: int | None = None) -> np.ndarray:
    """Return ``values`` as a float array, or raise if empty or not all finite."""
    arr = np.asarray(values, dtype=float)
    if arr.size == 0:
        raise ValueError(f"{name} is empty")
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-dimensional, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains non-finite values")
    return arr


def n_steps(t_max: float, step: float) -> int:
    """Steps of size ``step`` to reach ``t_max``: ``ceil(t_max / step)``, the ratio taken to a
    relative 1e-9 (so rounding in ``t_max = k * step`` does not add a step); at least 1. The
    run ends at ``n_steps * step >= t_max``. The one rule of the solver (``dt``) and the
    simulator (``eta``)."""
    return max(1, math.ceil(t_max / step * (1.0 - 1e-9)))
