"""The `larvseg` command.

`main.py` builds it from `segment.py` and `vocab.py`; `exit.py` ends every command
(and `larvseg-train`, `larvseg-toy`) the same way.
"""
