"""scaling: Kaplan et al. (2020) scaling laws, reproduced in JAX."""

from setuptools import find_packages, setup

setup(
    name="scaling",
    version="0.1.0",
    description="Reproduce and extend 'Scaling Laws for Neural Language Models' in JAX/Flax.",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.11",
    packages=find_packages(include=["scaling", "scaling.*"]),
    install_requires=[
        "jax>=0.10",
        "flax>=0.12",
        "optax>=0.2.5",
        "orbax-checkpoint>=0.11",
        "ml-collections>=1.0",
        "numpy>=1.26",
        # ml_dtypes 0.7.0 takes about 0.9 s of CPU to import here (0.5/0.6: 0.1 s), and
        # every process that imports JAX pays it: the suite starts hundreds of them.
        "ml-dtypes>=0.5.1,<0.7",
        "absl-py",
        "tensorboardX>=2.6",
        "scipy>=1.11",
        "matplotlib>=3.8",
        "sentencepiece>=0.2",
        "tiktoken>=0.7",
    ],
    extras_require={
        "data": ["seqio>=0.0.19", "tensorflow-datasets>=4.9"],
        "cluster": ["submitit>=1.5", "ray>=2.9", "wandb>=0.16"],
        "dev": ["pytest>=8", "pytest-xdist>=3", "nbclient>=0.10", "nbformat>=5.9",
                "ipykernel>=6.29"],
    },
    entry_points={
        "console_scripts": [
            "scaling-train=scaling.cli.train:run",
            "scaling-data=scaling.cli.data:main",
            "scaling-eval=scaling.cli.eval:main",
            "scaling-fit=scaling.cli.fit:main",
            "scaling-plan=scaling.cli.plan:main",
            "scaling-sweep=scaling.cli.sweep:main",
            "scaling-bench=scaling.cli.bench:run",
            "scaling-report=scaling.cli.report:main",
            "scaling-compile=scaling.cli.compile:run",
        ],
    },
)
