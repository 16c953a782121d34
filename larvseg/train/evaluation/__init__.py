"""Evaluation: class predictions through the inference pipeline, metrics, the runner."""
