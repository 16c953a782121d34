"""The training engine: forward pass, loop, optimizer, warm start, checkpoints, DDP, logs."""
