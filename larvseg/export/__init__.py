"""Exporting a larvseg network to other runtimes (`onnx.py`: ONNX, run with onnxruntime)."""
