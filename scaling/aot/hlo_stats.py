"""What a compiled step holds and does, per chip: its memory, its collectives
and its matrix-product FLOPs, read without running it.

  memory(compiled, setup, batch)  argument bytes by kind, temporaries, outputs, code
  collectives(hlo_text)           count and operand bytes per step, by kind
  matmul_flops(step, *args)       2·M·N·K of every dot_general in the traced step
  flop_breakdown(step, *args)     those, the elementwise work and the optimizer's
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


_WHILE_OP = re.compile(r"\swhile\(.*?condition=%?([\w.\-]+), body=%?([\w.\-]+)")
_TRIP = re.compile(r"known_trip_count\\?\"?:\{\\?\"?n\\?\"?:\\?\"?(\d+)")
_CALLS = re.compile(r"\b(?:calls|to_apply|branch_computations)=\{?%?([\w.\-]+)")
_CONSTANT = re.compile(r"%?([\w.\-]+) = [su]32\[\]\S* constant\((\d+)\)")
_LT = re.compile(r"compare\(%?([\w.\-]+), %?([\w.\-]+)\), direction=LT")
_GTE = re.compile(r"%?([\w.\-]+) = [su]32\[\]\S* get-tuple-element\(%?[\w.\-]+\), index=(\d+)")
_ADD = re.compile(r"= [su]32\[\]\S* add\(%?([\w.\-]+), %?([\w.\-]+)\)")


def _loops(lines):
  """({computation: (caller, trips)}) over while bodies and called computations
  (fusions, calls: trips 1). A trip count is the loop's known_trip_count, else
  read off its condition and body (counter < bound, counter += step, from 0:
  a lowered scan steps by 1, a bidirectional windowed einsum by 2); one that
  cannot be read counts 1."""
  caller, current, whiles = {}, None, []
  constants, gte, cond, steps = {}, {}, {}, collections.defaultdict(dict)
  for line in lines:
    c = _COMPUTATION.match(line)
    if c:
      current = c.group(1)
      continue
    if current is None:
      continue
    k = _CONSTANT.search(line)
    if k:
      constants[k.group(1)] = int(k.group(2))
    g = _GTE.search(line)
    if g:
      gte[g.group(1)] = int(g.group(2))
    lt = _LT.search(line)
    if lt:
      cond[current] = lt.groups()
    a = _ADD.search(line)
    if a:
      for x, y in (a.groups(), a.groups()[::-1]):
        if x in gte and y in constants:
          steps[current][gte[x]] = y
    w = _WHILE_OP.search(line)
    if w:
      trip = _TRIP.search(line)
      whiles.append((current, w.group(1), w.group(2), int(trip.group(1)) if trip else None))
      continue
    for called in _CALLS.findall(line):
      caller.setdefault(called, (current, 1))
  for parent, cond_name, body, trip in whiles:
    if trip is None:
      counter, bound = cond.get(cond_name, (None, None))
      step = constants.get(steps[body].get(gte.get(counter)), 1) or 1
      trip = -(-constants.get(bound, 1) // step)
    caller[body] = (parent, trip)
  return caller


def _multipliers(lines) -> dict[str, int]:
  """How often each computation runs per step: a while body its trip count
  times its caller's (nested loops multiply), a fused or called computation
  its caller's, everything else once."""
  caller = _loops(lines)
  def times(name, depth=0):
    if name not in caller or depth > 64:
      return 1
    parent, trips = caller[name]
    return trips * times(parent, depth + 1)
  return {name: times(name) for name in caller}


def has_loops(hlo_text: str) -> bool:
  """Whether the optimised HLO runs a while loop more than once (a scan over
  layers or micro-batches), where XLA's cost analysis counts its body once."""
  return any(trips > 1 for _, trips in _loops(hlo_text.splitlines()).values())


def _result_bytes(result: str, kind: str, start: bool) -> int:
  """Bytes of a collective's result; an async all-gather's or permute's start
  returns (operands..., results..., u32 contexts): only the results count."""
  arrays = [(dtype, dims) for dtype, dims in _SHAPE.findall(result)
            if not (dtype == "u32" and not dims)]
  if start and kind in ("all-gather", "collective-permute") and len(arrays) >= 2:
    arrays = arrays[len(arrays) // 2:]
  return sum(math.prod(int(d) for d in dims.split(",") if d) * _itemsize(dtype)
             for dtype, dims in arrays)


_DEF = re.compile(r"^\s*(?:ROOT\s+)?%?([\w.\-]+) = (\w+)\[([\d,]*)\]")
_CONV = re.compile(r"\sconvolution\(%?([\w.\-]+), %?([\w.\-]+)\)")
_LABELS = re.compile(r"dim_labels=(\w+)_(\w+)->(\w+)")
_WINDOW = re.compile(r"window=\{([^}]*)\}")


def _dims(text: str) -> list[int]:
  return [int(d) for d in text.split(",") if d]


def _valid_taps(out_n, in_n, size, stride, pad_lo, lhs_dilate, rhs_dilate) -> int:
  """(output, window) position pairs of one spatial dimension that land on a
  real (not dilation-inserted, not padding) input element."""
  span = (in_n - 1) * lhs_dilate + 1
  taps = 0
  for o in range(out_n):
    for k in range(size):
      pos = o * stride + k * rhs_dilate - pad_lo
      taps += 0 <= pos < span and pos % lhs_dilate == 0
  return taps


def _conv_flops(line: str, shapes: dict) -> int:
  """2 x multiply-adds of one HLO convolution (how libtpu writes every matmul,
  batched ones as a dilated window over the batch dimension)."""
  d, conv, labels = _DEF.match(line), _CONV.search(line), _LABELS.search(line)
  lhs, rhs = shapes.get(conv.group(1)), shapes.get(conv.group(2))
  if lhs is None or rhs is None or labels is None:
    return 0
  out = _dims(d.group(3))
  lhs_l, rhs_l, out_l = labels.groups()
  contraction = math.prod(n for n, l in zip(rhs, rhs_l) if l == "i")
  spatial = [c for c in out_l if c.isdigit()]
  fields = {}
  w = _WINDOW.search(line)
  for item in (w.group(1).split() if w else []):
    key, _, value = item.partition("=")
    fields[key] = value
  def per_dim(key, default):
    v = fields.get(key)
    return [int(x) for x in v.split("x")] if v else [default] * len(spatial)
  size, stride = per_dim("size", 1), per_dim("stride", 1)
  lhs_d, rhs_d = per_dim("lhs_dilate", 1), per_dim("rhs_dilate", 1)
  pads = [tuple(int(x) for x in p.split("_")) for p in fields["pad"].split("x")] \
      if "pad" in fields else [(0, 0)] * len(spatial)
  taps = 1
  for j, c in enumerate(spatial):
    taps *= _valid_taps(out[out_l.index(c)], lhs[lhs_l.index(c)], size[j], stride[j],
                        pads[j][0], lhs_d[j], rhs_d[j])
  batch_features = math.prod(n for n, l in zip(out, out_l) if not l.isdigit())
  groups = re.search(r"feature_group_count=(\d+)", line)
  return 2 * batch_features * taps * contraction // (int(groups.group(1)) if groups else 1)


def hlo_matmul_flops(hlo_text: str) -> int:
  """The matrix-product FLOPs of one step per chip, read off the optimised
  HLO: every convolution, times how often its computation runs (loop trips,
  windowed-einsum loops included), which XLA's cost analysis does not do."""
  lines = hlo_text.splitlines()
  times = _multipliers(lines)
  shapes, current, total = {}, None, 0
  for line in lines:
    d = _DEF.match(line)
    if d:
      shapes[d.group(1)] = _dims(d.group(3))
  for line in lines:
    c = _COMPUTATION.match(line)
    if c:
      current = c.group(1)
      continue
    if " convolution(" in line and _DEF.match(line):
      total += times.get(current, 1) * _conv_flops(line, shapes)
  return total


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


# XLA's cost analysis (HloCostAnalysis): an elementwise op or a compare is one
# FLOP per output element, a transcendental one is a "transcendental" instead,
# a reduction one per input element it folds; data movement is free.
_TRANSCENDENTAL = {"exp", "exp2", "log", "log1p", "expm1", "tanh", "logistic", "erf",
                   "erf_inv", "rsqrt", "sqrt", "cbrt", "pow", "sin", "cos", "tan", "atan2"}
_ELEMENTWISE = {"add", "add_any", "sub", "mul", "div", "neg", "max", "min", "abs", "sign",
                "select_n", "eq", "ne", "lt", "le", "gt", "ge", "and", "or", "not", "xor",
                "integer_pow", "square", "convert_element_type", "rem", "floor", "ceil",
                "round", "clamp", "is_finite", "nextafter", "stop_gradient"}
_REDUCE = {"reduce_sum", "reduce_max", "reduce_min", "reduce_prod", "argmax", "argmin",
           "reduce_and", "reduce_or", "cumsum", "cummax", "cumlogsumexp"}
OPTIMIZER_SCOPE = "optimizer"   # scaling/train/step.py's named scope


def flop_breakdown(step, *args, vocab: int = 0) -> dict:
  """The FLOPs of one call of `step` over every device (global shapes), from
  its jaxpr (the program lowered to HLO), counted by XLA's cost-analysis
  rules and split by what they are:

    matmul          2·M·N·K of every dot_general (remat's recomputation as traced)
    vocab_matmul    of those, the ones with a `vocab`-sized dimension (logits)
    elementwise     model elementwise ops and reductions, outside the optimizer
    vocab_elementwise  of those, over a vocab-sized array (the softmax cross-entropy)
    optimizer       everything under the step's "optimizer" scope (norm, AdamW, apply)
    transcendentals exp, log, rsqrt, ... (XLA counts them apart from FLOPs)
    by_primitive    elementwise + optimizer FLOPs per primitive, largest first
  """
  jaxpr = jax.make_jaxpr(step)(*args).jaxpr
  out = collections.Counter()
  by_primitive = collections.Counter()
  for eqn, times in _eqns(jaxpr):
    name = eqn.primitive.name
    shapes = [getattr(v.aval, "shape", ()) for v in (*eqn.invars, *eqn.outvars)]
    vocab_sized = bool(vocab) and any(vocab in s for s in shapes)
    if name == "dot_general":
      flops = times * _dot_flops(eqn)
      out["matmul"] += flops
      out["vocab_matmul"] += flops if vocab_sized else 0
      continue
    if name in _TRANSCENDENTAL:
      out["transcendentals"] += times * math.prod(eqn.outvars[0].aval.shape)
      continue
    if name in _ELEMENTWISE:
      flops = times * math.prod(eqn.outvars[0].aval.shape)
    elif name in _REDUCE:
      flops = times * (math.prod(eqn.invars[0].aval.shape) - math.prod(eqn.outvars[0].aval.shape))
    else:
      continue
    optimizer = OPTIMIZER_SCOPE in str(eqn.source_info.name_stack)
    key = "optimizer" if optimizer else "elementwise"
    out[key] += flops
    if not optimizer and vocab_sized:
      out["vocab_elementwise"] += flops
    by_primitive[f"{key}:{name}"] += flops
  result = {k: int(out[k]) for k in ("matmul", "vocab_matmul", "elementwise",
                                      "vocab_elementwise", "optimizer", "transcendentals")}
  result["total"] = result["matmul"] + result["elementwise"] + result["optimizer"]
  result["by_primitive"] = dict(by_primitive.most_common(12))
  return result


def matmul_flops(step, *args, vocab: int = 0) -> dict:
  """Matrix-product FLOPs of one call of `step` over every device (global
  shapes), from its jaxpr, remat's recomputation included as traced:
  "matmul" all of them, "vocab_matmul" those with a `vocab`-sized dimension
  (the logits and their gradients)."""
  b = flop_breakdown(step, *args, vocab=vocab)
  return {"matmul": b["matmul"], "vocab_matmul": b["vocab_matmul"]}
