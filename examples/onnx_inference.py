"""Segment a photo with an exported ONNX model: onnxruntime runs the network, larvseg the rest.

    larvseg export timm/vit_base_patch16_224.augreg_in21k -o vit21k.onnx
    python examples/onnx_inference.py vit21k.onnx PHOTO --vocab dog.n.01 snow.n.01 [--out out/photo]

The resize, normalisation, sliding windows and the 21K decoding are larvseg's own
(`predict_labels`, the path `LarvSeg.segment` runs); only the network is onnxruntime's.
Needs the `onnx` extra.
"""

from __future__ import annotations

import argparse

from larvseg import Segmentation, Vocabulary
from larvseg.export.onnx import OnnxNetwork
from larvseg.pipeline.image import load_image
from larvseg.pipeline.labeling import assign_items
from larvseg.pipeline.predict import predict_labels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="an .onnx file written by `larvseg export`")
    parser.add_argument("photo")
    parser.add_argument("--vocab", nargs="+", help="synset names, wnids or words")
    parser.add_argument("--mode", choices=("closed", "open"), default="closed")
    parser.add_argument("--out", default="out/photo", help="prefix of the files written")
    args = parser.parse_args()

    network = OnnxNetwork(args.model)  # config and patch size come from the file
    vocabulary = Vocabulary(network.config.categories)
    items, categories = assign_items(vocabulary, args.vocab, args.mode)
    image = load_image(args.photo)
    [(labels, scores)] = predict_labels(network, [image], items)
    seg = Segmentation.from_items(labels, scores, categories, image, vocabulary, args.photo)
    for wnid, pixels in seg.pixel_counts().items():
        print(f"{pixels:>9} px  {vocabulary.resolve(wnid).name}")
    for kind, path in seg.save(args.out).items():
        print(f"wrote {kind}: {path}")


if __name__ == "__main__":
    main()
