"""Benchmarks: the train step timed (measure), and the paper suite of issue 16:
its rows and levers (plan), the runner (suite) with one child process per row
(rows for JAX, peers for PyTorch, which imports no JAX), the table (report)
and the compiled-HLO inspection (hlo). Nothing here is imported by training."""
