"""Single-threaded BLAS while fitting.

scipy's L-BFGS-B calls LAPACK/BLAS on tiny matrices at every iteration; with a
multi-threaded OpenBLAS on a busy machine each call pays thread hand-offs, which
made bootstrap fits ~10x slower. `single_threaded()` pins the loaded OpenBLAS
libraries to one thread for the duration of a block (as threadpoolctl does) and
restores their setting afterwards. Where nothing can be found it does nothing.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools

_SUFFIXES = ("", "64_", "_64_")
_PREFIXES = ("scipy_openblas_", "openblas_")


@functools.lru_cache(maxsize=None)
def _openblas_libs() -> tuple:
  """(get_num_threads, set_num_threads) of every OpenBLAS in this process."""
  try:
    with open("/proc/self/maps") as f:
      paths = {line.split()[-1] for line in f
               if "openblas" in line.lower() and ".so" in line}
  except OSError:
    return []
  libs = []
  for path in sorted(paths):
    try:
      lib = ctypes.CDLL(path)
    except OSError:
      continue
    for prefix in _PREFIXES:
      for suffix in _SUFFIXES:
        get = getattr(lib, f"{prefix}get_num_threads{suffix}", None)
        put = getattr(lib, f"{prefix}set_num_threads{suffix}", None)
        if get is not None and put is not None:
          get.restype = ctypes.c_int
          put.argtypes = [ctypes.c_int]
          libs.append((get, put))
          break
      else:
        continue
      break
  return tuple(libs)


@contextlib.contextmanager
def single_threaded():
  saved = []
  try:
    for get, put in _openblas_libs():
      saved.append((put, int(get())))
      put(1)
  except (OSError, AttributeError, ValueError):
    pass
  try:
    yield
  finally:
    for put, n in saved:
      try:
        put(n)
      except (OSError, ValueError):
        pass
