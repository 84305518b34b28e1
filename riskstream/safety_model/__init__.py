"""The default safety model: training and evaluation (runs in the model server's environment)."""
