"""Dataset generators; `larvseg.datasets.toy` is the procedural LarvSeg benchmark."""
