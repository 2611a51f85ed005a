"""dmft: statistical physics of spherical gradient descent in real phase retrieval.

Layers (conventions and equation tags of ``THEORY.md``):

- :mod:`dmft.simulate`   finite-N gradient descent on the sphere (E1-E5, H1);
- :mod:`dmft.solver`     N -> infinity dynamical mean-field theory (D1-D9);
- :mod:`dmft.spectrum`   Hessian spectrum from a law of weights (H1-H8);
- :mod:`dmft.thresholds` thresholds at the random start (T1).
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("dmft")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
