"""Training data: on-disk formats, datasets, augmentation, sharded mixed-batch sampling."""
