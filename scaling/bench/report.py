"""The suite's Markdown table and its one-line progress log."""

from __future__ import annotations


def _k(x):
  return f"{x / 1e3:,.1f}K" if x is not None else "–"


def _ms(x):
  return f"{1e3 * x:.1f} ms" if x is not None else "–"


def _s(x):
  return f"{x:.1f} s" if x is not None else "–"


def _gib(x):
  return f"{x / 2**30:.2f} GiB" if x else "–"


def _pct(x):
  return f"{100 * x:.1f}%" if x is not None else "–"


def shape(row: dict) -> str:
  heads = f", {row['n_heads']} heads" if row.get("n_heads") and row.get("model") != "lstm" \
      else ""
  return f"{row['n_layer']}×{row['d_model']}{heads}, n_ctx {row['n_ctx']}, V {row['vocab']}"


def _ratio(row: dict) -> str:
  if row.get("kind") == "gns" and row.get("status") == "measured":
    if row.get("gns_overhead") is None:  # cost_only
      return f"XLA FLOPs {100 * row['xla_flops_overhead']:+.3f}%"
    return f"overhead {100 * row['gns_overhead']:+.2f}%"
  if row.get("ratio") is None:
    return "–"
  mark = "" if row.get("ratio_source", "").endswith("same call") or \
      row.get("ratio_source", "").startswith("compile") else " (table)"
  return f"{row['ratio']:.2f}×{mark}"


def one_line(row: dict) -> str:
  """Progress: the row's id, status and its main figure or reason."""
  if row.get("status") != "measured":
    return f"[bench] {row['id']}: {row.get('status')} — {row.get('reason')}"
  if row.get("kind") == "compile":
    return f"[bench] {row['id']}: compile {_s(row['compile_time_s'])}"
  if row.get("kind") == "gns":
    return f"[bench] {row['id']}: {gns_summary(row)}"
  return (f"[bench] {row['id']}: {_k(row.get('tokens_per_sec'))} tokens/s, "
          f"step {_ms(row.get('step_time_s'))}, compile {_s(row.get('compile_time_s'))}")


def gns_summary(row: dict) -> str:
  """A measured gns row: the estimator's overheads, timed (unless cost-only) and by XLA."""
  xla = (f"XLA cost analysis, with vs without the estimator: FLOPs "
         f"{100 * row['xla_flops_overhead']:+.3f}%, bytes accessed "
         f"{100 * row['xla_bytes_overhead']:+.3f}%")
  if row.get("gns_overhead") is None:
    return xla
  blocks = len(next(iter(row.get("blocks_s", {}).values()), []))
  return (f"{blocks} interleaved blocks of {row.get('steps', 5)} steps: accumulate median "
          f"{_ms(row['step_time_without_gns_s'])}/step (best block "
          f"{_ms(row['best_step_time_without_gns_s'])}), accumulate+gns median "
          f"{_ms(row['step_time_s'])} (best {_ms(row['best_step_time_s'])}); overhead of the "
          f"medians {100 * row['gns_overhead']:+.2f}%, of the best blocks "
          f"{100 * row['gns_overhead_best']:+.2f}%, median over adjacent block pairs "
          f"{100 * row['gns_overhead_paired']:+.2f}%; {xla}")


def _versions(suite: dict) -> list[str]:
  j, t = suite.get("jax") or {}, suite.get("torch") or {}
  lines = [f"- device: {j.get('device') or t.get('device') or 'not reached'}"
           f" ({j.get('n_devices', '?')}×, backend {j.get('backend', '?')})",
           f"- JAX {j.get('jax', '?')}, jaxlib {j.get('jaxlib', '?')}, CUDA runtime "
           f"{j.get('cuda_runtime')}, driver {j.get('cuda_driver')}, cuDNN {j.get('cudnn')}",
           f"- PyTorch {t.get('torch', 'not run')}, CUDA {t.get('cuda_runtime')}, "
           f"cuDNN {t.get('cudnn')}",
           f"- MFU divides by: {suite.get('peak') or 'no known peak'}; FLOPs per token "
           "6·(N + d_model·V) + 12·n_layer·n_ctx·d_model (LSTM: no attention term)",
           f"- time budget {suite['budget_s']:.0f} s, used {suite['elapsed_s']:.0f} s; "
           f"{'one process per row' if suite.get('isolate') else 'JAX rows in one process'}"
           f"{'; TINY shapes (CPU test), not the paper shapes' if suite.get('tiny') else ''}"]
  return lines


def markdown(suite: dict) -> str:
  """The whole table, one row per suite row, with skipped rows and their reasons."""
  head = ("| row | shape | batch | tokens/s | MFU | step | compile | peak memory | ratio | "
          "target | status |")
  out = [f"# scaling-bench --suite {suite.get('suite', 'paper')}", "", *_versions(suite), "", head,
         "|" + "---|" * 11]
  for r in suite["rows"]:
    measured = r.get("status") == "measured"
    status = "measured" if measured else f"{r.get('status')}: {r.get('reason')}"
    if r.get("note"):
      status += f" ({r['note']})"
    mem = r.get("peak_memory_bytes") or r.get("step_memory_bytes")
    out.append(
        f"| {r['id']} | {shape(r)} | {r['batch']} | {_k(r.get('tokens_per_sec'))} | "
        f"{_pct(r.get('mfu'))} | {_ms(r.get('step_time_s'))} | {_s(r.get('compile_time_s'))} | "
        f"{_gib(mem)} | {_ratio(r)} | {r.get('target') or ''} | {status} |")
  for r in suite["rows"]:
    if r.get("kind") == "gns" and r.get("status") == "measured":
      out += ["", f"{r['id']}: {gns_summary(r)}"]
  for r in suite["rows"]:
    if r.get("ratios"):
      out += ["", f"{r['id']}: " + ", ".join(f"{v:.2f}× {p}" for p, v in r["ratios"].items())]
  if suite.get("rounds", 1) > 1:
    out += ["", f"{suite['rounds']} rounds, rows run in turn (A B A B ...): tokens/s is each "
                "row's median, a ratio the median of the rounds' ratios (each from rows of "
                "the same round)."]
  sources = sorted({r["ratio_source"] for r in suite["rows"] if r.get("ratio_source")})
  if sources:
    out += ["", "Ratios: " + "; ".join(sources) + "."]
  return "\n".join(out) + "\n"
