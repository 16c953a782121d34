"""The `larvseg` command.

`main.py` builds it from `segment.py`, `vocab.py`, `export.py` and `demo.py`; `exit.py`
ends every command (and `larvseg-train`, `larvseg-toy`) the same way.
"""
