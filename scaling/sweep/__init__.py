"""Sweeps: experiment files and the runner that trains their members."""
