"""Findings: the paper's claims, each checked against this project's runs.

An experiment file declares its findings (`FINDINGS`, scaling.findings.spec)
with criteria written before its runs; a check (scaling.findings.checks)
computes each verdict from a finished sweep directory, and
scaling.findings.report writes docs/findings.md from them.
"""

from scaling.findings.spec import Finding, Verdict

__all__ = ["Finding", "Verdict"]
