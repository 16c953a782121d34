"""onnxruntime vs PyTorch on the CPU: ViT-B/16 with 21,843 classes (random weights), 512x512.

Exports the network with `larvseg.export.onnx.export_onnx`, then times, with the same
number of threads and in turns (so that load on a shared machine weighs on both alike),
the network alone (1x3x512x512 -> 21,843x32x32 logits) and the whole `predict_labels`
path (resize, windows, 21K decoding) with each runtime, and reports how far the logits
and labels of the two runtimes agree.

    python benchmarks/onnx_runtime.py [--repeats 3] [--threads 2]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch
from inference import build_segmenter, make_image
from timing import interleaved_medians

from larvseg.export.onnx import OnnxNetwork, export_onnx
from larvseg.pipeline.labeling import assign_items
from larvseg.pipeline.predict import PredictOptions, input_transform, predict_labels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    segmenter = build_segmenter(None)
    model = segmenter.model
    image = make_image(512, 512)
    items, _ = assign_items(segmenter.vocabulary, None)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        path = export_onnx(model, Path(tmp) / "vit21k.onnx")
        export_seconds = time.perf_counter() - start
        megabytes = path.stat().st_size / 1e6
        network = OnnxNetwork(path, threads=args.threads)
        x = input_transform(model, 512)(image)[None]
        options = PredictOptions(size=512)

        def torch_forward() -> torch.Tensor:
            with torch.inference_mode():
                return model(x)

        times = interleaved_medians(
            {
                "network PyTorch": torch_forward,
                "network onnxruntime": lambda: network(x),
                "predict_labels PyTorch": lambda: predict_labels(model, [image], items, options),
                "predict_labels onnxruntime": lambda: predict_labels(
                    network, [image], items, options
                ),
            },
            args.repeats,
        )
        difference = float((network(x) - torch_forward()).abs().max())
        [(torch_labels, _)] = predict_labels(model, [image], items, options)
        [(onnx_labels, _)] = predict_labels(network, [image], items, options)
    agreement = float((torch_labels == onnx_labels).mean())
    print(
        f"ViT-B/16, 21,843 classes, 512x512, CPU, {args.threads} threads, "
        f"median of {args.repeats}; torch {torch.__version__}"
    )
    print(f"export: {export_seconds:.1f} s, {megabytes:.0f} MB")
    header = f"{'what':<16} {'PyTorch':>10} {'onnxruntime':>12} {'ort/PyTorch':>12}"
    print(header)
    print("-" * len(header))
    for what in ("network", "predict_labels"):
        reference, ours = times[f"{what} PyTorch"], times[f"{what} onnxruntime"]
        print(f"{what:<16} {reference:>8.3f} s {ours:>10.3f} s {ours / reference:>12.3f}")
    print(f"logits max abs difference: {difference:.2e}; label agreement: {agreement:.6f}")


if __name__ == "__main__":
    main()
