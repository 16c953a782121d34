#!/usr/bin/env bash
# Build the sdist and the wheel, check them, install the wheel (not the source tree) into
# a fresh venv and smoke-test it from a folder outside the repository.
#
# Usage: scripts/check_wheel.sh PYTHON NLTK_DATA_DIR
#   PYTHON: an interpreter with `build` and `twine` (the test venv's);
#   NLTK_DATA_DIR: WordNet for nltk (scripts/install_wordnet.sh output).
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
python="$1"
nltk_data="$(cd "$2" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

"$python" -m build --sdist --wheel --outdir "$work/dist" "$repo"
"$python" -m twine check --strict "$work"/dist/*
wheel="$(ls "$work"/dist/*.whl)"

python3 -m venv "$work/venv"
"$work/venv/bin/pip" install -q "${wheel}[training]"

mkdir "$work/outside" && cd "$work/outside"
NLTK_DATA="$nltk_data" "$work/venv/bin/python" - "$repo/../shared/data/real-images" <<'PY'
"""Smoke test of an installed wheel: import, vocabulary, segment a real photo."""
import sys
from pathlib import Path

import timm
from timm.models import save_for_hf

import larvseg
from larvseg import LarvSeg, Vocabulary

assert Path(larvseg.__file__).parents[1].name == "site-packages", larvseg.__file__
hits = Vocabulary.imagenet21k().search("dog", limit=3)
assert hits[0].category.name == "dog.n.01", hits
vit = timm.create_model("vit_tiny_patch16_224", num_classes=1000, depth=1, embed_dim=32, num_heads=2)
save_for_hf(
    vit, "tiny", model_args={"depth": 1, "embed_dim": 32, "num_heads": 2}, safe_serialization=True
)
photo = sorted(Path(sys.argv[1]).glob("*.JPEG"))[0]
seg = LarvSeg.from_pretrained("tiny", device="cpu").segment(photo, vocab=["animal.n.01", "n03791053"])
assert seg.labels.shape == seg.image.shape[:2] and seg.categories, seg
print(f"wheel smoke test: larvseg {larvseg.__version__}, {photo.name} -> {seg}")
PY
"$work/venv/bin/larvseg" --version
"$work/venv/bin/larvseg" vocab search moth --limit 2
"$work/venv/bin/larvseg-train" --help > /dev/null
# the packaged configurations, found by name from a folder without configs/
# (captured first: under pipefail, `| grep -q` fails whenever grep stops reading first)
configs=$("$work/venv/bin/larvseg-train" --list-configs)
grep -q "^toy/larvseg " <<<"$configs"
"$work/venv/bin/python" -c "from larvseg.train.schema import load_config; \
assert load_config('larvseg_c171_wa150_i124').data.sources[2].name == 'i124'"
echo "wheel check passed: $(basename "$wheel")"
