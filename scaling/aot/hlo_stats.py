"""What a compiled step holds and does, per chip: its memory, its collectives
and its matrix-product FLOPs, read without running it.

  memory(compiled, setup, batch)  argument bytes by kind, temporaries, outputs, code
  collectives(hlo_text)           count and operand bytes per step, by kind
  matmul_flops(step, *args)       2·M·N·K of every dot_general in the traced step
"""

from __future__ import annotations

import collections
import math
import re

import jax
import numpy as np

KINDS = ("all-gather", "reduce-scatter", "all-reduce", "all-to-all", "collective-permute")
_COLLECTIVE = re.compile(r"=\s(.*?)\s(" + "|".join(KINDS) + r")(-start)?\(")
_CHANNEL = re.compile(r"\bchannel_id=(\d+)")
_SHAPE = re.compile(r"\b(pred|[a-z]+\d+(?:e\d+m\d+[a-z]*)?)\[([\d,]*)\]")
_COMPUTATION = re.compile(r"^(?:ENTRY\s+)?%?([\w.\-]+)\s.*\{\s*$")
_WHILE = re.compile(r"\swhile\(.*body=%?([\w.\-]+).*?known_trip_count\\?\"?:\{\\?\"?n\\?\"?:"
                    r"\\?\"?(\d+)")


def _itemsize(dtype: str) -> int:
  if dtype == "pred":
    return 1
  bits = re.match(r"[a-z]+(\d+)", dtype)
  return max(int(bits.group(1)) // 8, 1) if bits else 4


def shard_bytes(tree) -> int:
  """Bytes one device holds of a tree of sharded ShapeDtypeStructs."""
  total = 0
  for leaf in jax.tree.leaves(tree):
    shape = leaf.sharding.shard_shape(leaf.shape) if leaf.sharding is not None else leaf.shape
    total += math.prod(shape) * np.dtype(leaf.dtype).itemsize
  return total


def memory(compiled, abstract_state: dict, batch: dict) -> dict:
  """Per-chip bytes: the arguments by kind (from the shardings) and XLA's
  memory analysis; total = arguments + outputs − donated + temporaries + code."""
  m = compiled.memory_analysis()
  out = {
      "parameters": shard_bytes(abstract_state["params"]),
      "optimizer_state": shard_bytes(abstract_state["opt_state"]),
      "batch": shard_bytes(batch),
      "arguments": int(m.argument_size_in_bytes),
      "outputs": int(m.output_size_in_bytes),
      "donated": int(m.alias_size_in_bytes),
      "temporaries": int(m.temp_size_in_bytes),
      "generated_code": int(m.generated_code_size_in_bytes),
  }
  out["total"] = (out["arguments"] + out["outputs"] - out["donated"] + out["temporaries"]
                  + out["generated_code"])
  return out


def _multipliers(lines) -> dict[str, int]:
  """How often each computation runs per step: while bodies their trip count
  (nested loops multiply), everything else once."""
  parent, trips, current = {}, {}, None
  for line in lines:
    c = _COMPUTATION.match(line)
    if c:
      current = c.group(1)
      continue
    w = _WHILE.search(line)
    if w and current:
      parent[w.group(1)], trips[w.group(1)] = current, int(w.group(2))
  def times(name, depth=0):
    if name not in parent or depth > 32:
      return 1
    return trips[name] * times(parent[name], depth + 1)
  return {name: times(name) for name in parent}


def _result_bytes(result: str, kind: str, start: bool) -> int:
  """Bytes of a collective's result; an async all-gather's or permute's start
  returns (operands..., results..., u32 contexts): only the results count."""
  arrays = [(dtype, dims) for dtype, dims in _SHAPE.findall(result)
            if not (dtype == "u32" and not dims)]
  if start and kind in ("all-gather", "collective-permute") and len(arrays) >= 2:
    arrays = arrays[len(arrays) // 2:]
  return sum(math.prod(int(d) for d in dims.split(",") if d) * _itemsize(dtype)
             for dtype, dims in arrays)


def collectives(hlo_text: str) -> dict:
  """{kind: {"count", "bytes"}} per step over the optimised HLO.

  One collective is one channel_id: libtpu fuses an async collective's start
  and its continuation into separate computations, each holding a copy of the
  instruction under the same channel. A loop body's collectives count once per
  trip; bytes are each result's per chip (all-gather: the gathered array;
  reduce-scatter: the shard)."""
  lines = hlo_text.splitlines()
  times = _multipliers(lines)
  out = collections.OrderedDict((k, {"count": 0, "bytes": 0}) for k in KINDS)
  seen, current = set(), None
  for i, line in enumerate(lines):
    c = _COMPUTATION.match(line)
    if c:
      current = c.group(1)
      continue
    m = _COLLECTIVE.search(line)
    if not m:
      continue
    channel = _CHANNEL.search(line)
    key = (m.group(2), channel.group(1) if channel else i)
    if key in seen:
      continue
    seen.add(key)
    n_bytes = _result_bytes(m.group(1), m.group(2), bool(m.group(3)))
    k = times.get(current, 1)
    out[m.group(2)]["count"] += k
    out[m.group(2)]["bytes"] += k * n_bytes
  return dict(out)


def _eqns(jaxpr, times: int = 1):
  """(equation, how often it runs) over a jaxpr and the jaxprs inside it; a
  scan's body runs `length` times."""
  for eqn in jaxpr.eqns:
    yield eqn, times
    inner_times = times * eqn.params.get("length", 1) if eqn.primitive.name == "scan" else times
    for value in eqn.params.values():
      for sub in value if isinstance(value, (list, tuple)) else (value,):
        inner = getattr(sub, "jaxpr", sub)
        if hasattr(inner, "eqns"):
          yield from _eqns(inner, inner_times)


def _dot_flops(eqn) -> int:
  (lhs_contract, _), _ = eqn.params["dimension_numbers"]
  lhs = eqn.invars[0].aval.shape
  k = math.prod(lhs[d] for d in lhs_contract)
  return 2 * math.prod(eqn.outvars[0].aval.shape) * k


def matmul_flops(step, *args, vocab: int = 0) -> dict:
  """Matrix-product FLOPs of one call of `step` over every device (global
  shapes), from its jaxpr, remat's recomputation included as traced:
  "matmul" all of them, "vocab_matmul" those with a `vocab`-sized dimension
  (the logits and their gradients)."""
  jaxpr = jax.make_jaxpr(step)(*args).jaxpr
  total = vocab_total = 0
  for eqn, times in _eqns(jaxpr):
    if eqn.primitive.name == "dot_general":
      flops = times * _dot_flops(eqn)
      total += flops
      shapes = [v.aval.shape for v in (*eqn.invars, *eqn.outvars)]
      if vocab and any(vocab in s for s in shapes):
        vocab_total += flops
  return {"matmul": total, "vocab_matmul": vocab_total}
