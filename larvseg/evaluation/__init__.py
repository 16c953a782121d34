"""Evaluation: benchmark data, class maps through segment()'s pipeline, mIoU all / base / novel.

Core (no training extra): `larvseg eval` and `larvseg-train eval` both run it.
"""
