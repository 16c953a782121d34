"""The procedural toy benchmark: generator, textures, one experiment run, `larvseg-toy`."""
