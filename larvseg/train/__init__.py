"""Training LarvSeg: configuration, data, losses, the training loop and its CLI.

Needs the `training` extra (`pip install larvseg[training]`). Entry point:
`larvseg-train fit --config CONFIG.yaml` (see `larvseg.train.cli` and docs/training.md).
Submodules are imported on demand; importing this package is cheap.
"""
