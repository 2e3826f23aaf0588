"""scaling: reproduce and extend Kaplan et al. (2020) scaling laws in JAX."""

__version__ = "0.1.0"
