"""A digest of a train state's values, computed on the devices.

Each leaf's bit pattern (as unsigned integers of its width) is multiplied by
an odd, position-dependent factor and summed modulo 2**32, twice with
different factors. Integer sums are exact, so the digest does not depend on
the sharding, the mesh or the number of processes, and a checkpoint restored
onto another mesh is checked just the same. A single changed byte changes the
word by d * 2**k (0 < d < 256, k <= 24), which an odd factor cannot map to
zero modulo 2**32: it is always caught; more damage escapes with odds of
about 2**-64.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

ALGORITHM = "bitsum32x2-v1"
_UINT = {1: jnp.uint8, 2: jnp.uint16, 4: jnp.uint32, 8: jnp.uint32}


def _words(x) -> jax.Array:
  """The leaf's bits as a flat uint32 vector."""
  if jnp.issubdtype(x.dtype, jax.dtypes.prng_key):
    x = jax.random.key_data(x)
  if x.dtype == jnp.bool_:
    return x.astype(jnp.uint32).reshape(-1)
  bits = jax.lax.bitcast_convert_type(x, _UINT[x.dtype.itemsize])
  return bits.astype(jnp.uint32).reshape(-1)


def _weighted_sum(x, mul: int, add: int) -> jax.Array:
  words = _words(x)
  i = jnp.arange(words.size, dtype=jnp.uint32)
  odd = (i * jnp.uint32(mul) + jnp.uint32(add)) | jnp.uint32(1)
  return jnp.sum(words * odd, dtype=jnp.uint32)


@jax.jit
def _fingerprints(state):
  # scalars: replicated on every device and process, whatever the inputs' sharding
  return (jax.tree.map(lambda x: _weighted_sum(x, 0x9E3779B1, 0x7F4A7C15), state),
          jax.tree.map(lambda x: _weighted_sum(x, 0x85EBCA77, 0xC2B2AE3D), state))


def _name(path) -> str:
  """'params/blocks/0/mlp_out/kernel' for a key path."""
  parts = (getattr(k, "key", getattr(k, "idx", getattr(k, "name", k))) for k in path)
  return "/".join(str(p) for p in parts)


def digest(state) -> dict[str, str]:
  """{leaf path: 16 hex digits} of `state` (a pytree of jax arrays)."""
  first, second = _fingerprints(state)
  out = {}
  for (path, a), b in zip(jax.tree_util.tree_leaves_with_path(first),
                          jax.tree.leaves(second)):
    a, b = (int(np.asarray(v.addressable_data(0))) for v in (a, b))
    out[_name(path)] = f"{a:08x}{b:08x}"
  return out


def mismatch(saved: dict[str, str], state) -> str | None:
  """The first leaf whose digest differs from `saved` (or None when all match)."""
  now = digest(state)
  for path in sorted(set(saved) | set(now)):
    if saved.get(path) != now.get(path):
      return path
  return None
