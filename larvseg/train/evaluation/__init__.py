"""Configuration-driven evaluation (`larvseg-train --eval-only`) on top of `larvseg.evaluation`."""
