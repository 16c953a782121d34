"""Segment one photo with the default 21K model and save the labels, overlay and JSON.

python examples/segment_photo.py PHOTO [--vocab dog.n.01 grass.n.01] [--out out/photo]

An unreadable photo, an unknown synset or a missing checkpoint raises a
`larvseg.LarvSegError` whose message names the input and says what to fix
(docs/inference.md, "Errors"). The `larvseg segment` command does the same as this
script and prints such errors as one line.
"""

from __future__ import annotations

import argparse

from larvseg import DEFAULT_MODEL, LarvSeg


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("photo")
    parser.add_argument("--vocab", nargs="+", help="synset names, wnids or words")
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--out", default="out/photo", help="prefix of the files written")
    args = parser.parse_args()

    model = LarvSeg.from_pretrained(args.model)
    seg = model.segment(args.photo, vocab=args.vocab, mode="open" if args.vocab else "closed")
    for category, pixels in sorted(seg.pixel_counts().items(), key=lambda kv: -kv[1])[:10]:
        print(f"{pixels:>9} px  {model.vocabulary.resolve(category).name}")
    for kind, path in seg.save(args.out).items():
        print(f"wrote {kind}: {path}")


if __name__ == "__main__":
    main()
