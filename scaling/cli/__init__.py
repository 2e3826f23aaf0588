"""The scaling-* command-line tools. Importing any of them first quiets
TensorFlow's and CUDA's start-up noise (scaling/quiet.py)."""

from scaling import quiet

quiet.setup()
