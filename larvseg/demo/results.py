"""What the demo shows, without Gradio: vocabulary suggestions, the legend, the confidence map.

Kept apart from the app so that it is plain, testable larvseg code.
"""

from __future__ import annotations

import html
import re
import textwrap

import numpy as np
from PIL import Image, ImageOps

from ..overlay import category_color
from ..result import Segmentation
from ..vocab.vocabulary import SYNSET_NAME, Vocabulary

SUGGESTIONS = 8
SEARCHED = 200  # search hits looked at to find SUGGESTIONS that cover a model category
LEGEND_ROWS = 50
SUGGESTION_HEADERS = ["synset", "words", "covers", "meaning (gloss)"]
CONFIDENCE_COLORS = ("#0d0887", "#cc4778", "#f0f921")  # low, middle, high (plasma-like)
SEPARATORS = re.compile(r"[,;\n]+")


def parse_vocab(text: str) -> list[str] | None:
    """Items typed as "dog.n.01, snow.n.01" (commas, semicolons or new lines); None if none."""
    items = [item.strip() for item in SEPARATORS.split(text) if item.strip()]
    return items or None


def last_term(text: str) -> str:
    """The item being typed: what follows the last separator."""
    return SEPARATORS.split(text)[-1].strip()


def replace_last_term(text: str, name: str) -> str:
    """`text` with its last item replaced by `name`, ready for the next one."""
    kept = parse_vocab(text) or []
    if kept and last_term(text):
        kept.pop()
    return ", ".join([*kept, name]) + ", "


def suggestions(vocabulary: Vocabulary, text: str) -> list[list[str]]:
    """Rows `[synset, words, covers, gloss]` for the item being typed in `text`: synsets of
    WordNet matching it that cover at least one of the model's categories, best first. A
    synset name ("grass.n.01") lists its word's senses, the named one first, so that its
    gloss shows."""
    term = last_term(text)
    name = SYNSET_NAME.fullmatch(term)
    word = name["lemma"] if name else term
    if not word:
        return []
    hits = [h for h in vocabulary.search(word, limit=SEARCHED) if h.covered > 0]
    hits.sort(key=lambda h: h.category.name != term.lower())  # stable: the named one first
    return [
        [
            hit.category.name,
            ", ".join(lemma.replace("_", " ") for lemma in hit.category.lemmas),
            f"{hit.covered:,}",
            hit.category.gloss,
        ]
        for hit in hits[:SUGGESTIONS]
    ]


def confidence_image(seg: Segmentation) -> Image.Image:
    """The pixels' confidence (`seg.scores`, 0..1) as an RGB image of the input's size:
    dark blue = 0, magenta = 0.5, yellow = 1."""
    gray = Image.fromarray(np.rint(np.clip(seg.scores, 0, 1) * 255).astype(np.uint8))
    low, mid, high = CONFIDENCE_COLORS
    return ImageOps.colorize(gray, black=low, white=high, mid=mid)


def legend_html(seg: Segmentation) -> str:
    """An HTML table of the categories by area: colour, synset, words, gloss, share of the
    image, pixels and mean confidence (at most `LEGEND_ROWS`, then a count of the rest);
    unlabeled pixels (open mode) in a last row."""
    total = seg.height * seg.width
    labeled = seg.labels >= 0
    counts = np.bincount(seg.labels[labeled], minlength=len(seg.categories))
    sums = np.bincount(seg.labels[labeled], seg.scores[labeled], minlength=len(seg.categories))
    order = [int(i) for i in np.argsort(-counts, kind="stable") if counts[i] > 0]
    rows = []
    for i in order[:LEGEND_ROWS]:
        category = seg.categories[i]
        red, green, blue = category_color(category.wnid)
        rows.append(
            _row(
                f'<span class="swatch" style="background: rgb({red}, {green}, {blue})"></span>',
                f"<b>{html.escape(category.name)}</b>",
                html.escape(", ".join(lemma.replace("_", " ") for lemma in category.lemmas)),
                html.escape(textwrap.shorten(category.gloss, 90)),
                f"{100 * counts[i] / total:.1f}%",
                f"{counts[i]:,}",
                f"{sums[i] / counts[i]:.2f}",
            )
        )
    if len(order) > LEGEND_ROWS:
        rows.append(_row("", f"<i>and {len(order) - LEGEND_ROWS:,} more (in the JSON)</i>"))
    unlabeled = total - int(counts.sum())
    if unlabeled:
        rows.append(
            _row(
                "",
                "<i>unlabeled</i>",
                "",
                "won by a category under none of the requested synsets",
                f"{100 * unlabeled / total:.1f}%",
                f"{unlabeled:,}",
                "",
            )
        )
    head = _row("", "synset", "words", "meaning", "area", "pixels", "confidence", cell="th")
    return (
        f'<table class="larvseg-legend"><thead>{head}</thead><tbody>{"".join(rows)}</tbody></table>'
    )


def _row(*cells: str, cell: str = "td") -> str:
    return "<tr>" + "".join(f"<{cell}>{c}</{cell}>" for c in cells) + "</tr>"


LEGEND_CSS = """
.larvseg-legend { border-collapse: collapse; width: 100%; font-size: 0.9em; }
.larvseg-legend th, .larvseg-legend td { padding: 3px 8px; text-align: left;
  border-bottom: 1px solid #ddd; vertical-align: top; }
.larvseg-legend .swatch { display: inline-block; width: 14px; height: 14px;
  border: 1px solid #000; }
"""
