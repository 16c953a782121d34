"""The steps of `segment()` in call order.

image -> preprocess -> windows -> decode -> labeling; `predict` runs them all, for
`segment()` and for evaluation alike.
"""
