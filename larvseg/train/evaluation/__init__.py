"""Configuration-driven evaluation (`larvseg-train eval`) on top of `larvseg.evaluation`."""
