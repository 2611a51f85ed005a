"""Test-session settings: one BLAS thread per process.

The solver and the simulator already limit BLAS to one thread inside their loops; this
also covers the dense linear algebra done directly in tests, which on a loaded 2-core
machine was measured 20x slower with two competing BLAS threads.
"""

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
