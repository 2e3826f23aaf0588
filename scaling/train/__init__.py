"""Training: state, steps, checkpoints, records and the loop."""
