"""Segment a photo with an exported ONNX model: onnxruntime runs the network, larvseg the rest.

    larvseg export timm/vit_base_patch16_224.augreg_in21k -o vit21k.onnx
    python examples/onnx_inference.py vit21k.onnx PHOTO --vocab dog.n.01 snow.n.01 [--out out/photo]

`LarvSeg.from_pretrained` takes the `.onnx` file as it takes a checkpoint folder (the
file carries the model's config); `larvseg segment PHOTO --model vit21k.onnx` does the
same. The resize, normalisation, sliding windows and the 21K decoding are larvseg's
own, the path every model runs; only the network is onnxruntime's. Needs the `onnx`
extra.
"""

from __future__ import annotations

import argparse

from larvseg import LarvSeg


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="an .onnx file written by `larvseg export`")
    parser.add_argument("photo")
    parser.add_argument("--vocab", nargs="+", help="synset names, wnids or words")
    parser.add_argument("--mode", choices=("closed", "open"), default="closed")
    parser.add_argument("--out", default="out/photo", help="prefix of the files written")
    args = parser.parse_args()

    model = LarvSeg.from_pretrained(args.model)  # onnxruntime on the CPU
    seg = model.segment(args.photo, vocab=args.vocab, mode=args.mode)
    for wnid, pixels in seg.pixel_counts().items():
        print(f"{pixels:>9} px  {model.vocabulary.resolve(wnid).name}")
    for kind, path in seg.save(args.out).items():
        print(f"wrote {kind}: {path}")


if __name__ == "__main__":
    main()
