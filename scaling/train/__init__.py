"""Training: the engine (builder, state, steps, evaluator, hooks, checkpoints) and the loop."""
