"""The Gradio app of `larvseg demo`: segment an uploaded image by typed synsets.

Upload or drop an image, type what to segment (suggestions from the model's
vocabulary show each synset's gloss), pick closed or open mode (and optionally a
preselection of the image's top K categories), and get the
overlay, a legend with areas, the per-pixel confidence and the label PNG + JSON to
download. Errors of the library (an unreadable image, an unknown synset) are shown
as its message in the page. The app never contacts the internet: no analytics, no
share link, local fonts.
"""

from __future__ import annotations

import os
import uuid
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import LarvSegError
from ..extras import import_extra
from ..pipeline.image import load_image
from ..segmenter import LarvSeg
from ..vocab.vocabulary import SenseWarning
from .results import (
    LEGEND_CSS,
    SUGGESTION_HEADERS,
    confidence_image,
    legend_html,
    parse_vocab,
    replace_last_term,
    suggestions,
)

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # gradio reads it on import
import_extra("gradio", "demo", "larvseg's web demo")  # without the extra: say which to install
import gradio as gr  # noqa: E402

IMAGE_HEIGHT = 360  # display height of the images in the page, in CSS pixels
MODES = {
    "closed": "closed: every pixel gets one of the synsets",
    "open": "open: decide over all categories; pixels won by others stay unlabeled",
}


def build_demo(segmenter: LarvSeg, work_dir: str | Path, title: str = "larvseg") -> gr.Blocks:
    """The app around `segmenter`; result files go under `work_dir`."""
    vocabulary = segmenter.vocabulary
    vocabulary.search("dog")  # build the search index now, not on the first keystroke
    config = segmenter.config

    def preview(path: str | None) -> np.ndarray | None:
        if path is None:
            return None
        try:
            return load_image(path)
        except LarvSegError as err:
            raise gr.Error(str(err), print_exception=False) from err

    def suggest(text: str) -> list[list[str]]:
        return suggestions(vocabulary, text)

    def pick(text: str, event: gr.SelectData) -> str:
        row = event.row_value
        return replace_last_term(text, row[0]) if row and row[0] else text

    def run(
        path: str | None,
        text: str,
        mode: str,
        preselect: float | None,
        progress: gr.Progress = gr.Progress(),  # noqa: B008 (how Gradio asks for a bar)
    ) -> tuple[Any, str, Any, list[str]]:
        if path is None:
            raise gr.Error("upload an image first", print_exception=False)
        vocab = parse_vocab(text)
        progress(0.1, desc="segmenting")
        try:
            with warnings.catch_warnings(record=True) as notes:
                warnings.simplefilter("always", SenseWarning)
                top = int(preselect) if preselect else None  # 0 or empty: all compete
                seg = segmenter.segment(path, vocab=vocab, mode=mode, preselect=top)
        except LarvSegError as err:
            raise gr.Error(str(err), print_exception=False) from err
        for note in notes:
            if issubclass(note.category, SenseWarning):  # "'grass' read as grass.n.01 ..."
                gr.Warning(str(note.message))
        progress(0.85, desc="drawing")
        folder = Path(work_dir) / uuid.uuid4().hex
        files = seg.save(folder / Path(path).stem)
        return (
            seg.overlay(legend=False),
            legend_html(seg),
            confidence_image(seg),
            [str(files["labels"]), str(files["json"]), str(files["overlay"])],
        )

    with gr.Blocks(title=title, analytics_enabled=False, delete_cache=(3600, 3600)) as demo:
        gr.Markdown(
            f"## {title}: large-vocabulary segmentation\n"
            f"{len(vocabulary):,} WordNet categories; images are resized to a short side "
            f"of {config.image_size} pixels. Type synset names (`dog.n.01`), wnids or words, "
            "separated by commas; each covers its hyponyms. Empty: all categories."
        )
        with gr.Row():
            with gr.Column(scale=1):
                upload = gr.File(
                    label="Image (drop a file here or click to upload)",
                    file_count="single",
                    type="filepath",
                    elem_id="image-input",
                )
                shown = gr.Image(
                    label="Input", interactive=False, height=IMAGE_HEIGHT, elem_id="input-preview"
                )
                vocab_box = gr.Textbox(
                    label="What to segment",
                    placeholder="dog.n.01, snow.n.01",
                    elem_id="vocab",
                )
                table = gr.Dataframe(
                    headers=SUGGESTION_HEADERS,
                    value=[],
                    label="Suggestions for the word being typed (click a row to use it)",
                    interactive=False,
                    wrap=True,
                    column_widths=["22%", "22%", "10%", "46%"],
                    elem_id="suggestions",
                )
                mode = gr.Radio(
                    choices=[(label, name) for name, label in MODES.items()],
                    value="closed",
                    label="Mode",
                    elem_id="mode",
                )
                preselect_box = gr.Number(
                    value=0,
                    minimum=0,
                    precision=0,
                    label="Preselect: only the image's top K categories compete (0: all)",
                    elem_id="preselect",
                )
                button = gr.Button("Segment", variant="primary", elem_id="segment")
            with gr.Column(scale=1):
                overlay = _result_image("Overlay", "overlay")
                legend = gr.HTML(label="Legend", elem_id="legend")
                confidence = _result_image(
                    "Confidence per pixel (dark blue 0, magenta 0.5, yellow 1)", "confidence"
                )
                downloads = gr.File(
                    label="Downloads: labels PNG (0 = unlabeled, i = category i), JSON, overlay",
                    file_count="multiple",
                    interactive=False,
                    elem_id="downloads",
                )
        upload.upload(preview, upload, shown)
        vocab_box.input(suggest, vocab_box, table, trigger_mode="always_last")
        table.select(pick, vocab_box, vocab_box)
        button.click(
            run,
            [upload, vocab_box, mode, preselect_box],
            [overlay, legend, confidence, downloads],
        )
    return demo


def _result_image(label: str, elem_id: str) -> gr.Image:
    """An output image of the page, sent as PNG."""
    return gr.Image(
        label=label,
        type="pil",
        format="png",
        interactive=False,
        height=IMAGE_HEIGHT,
        elem_id=elem_id,
    )


def launch(
    segmenter: LarvSeg,
    work_dir: str | Path,
    host: str = "127.0.0.1",
    port: int | None = None,
    block: bool = True,
) -> gr.Blocks:
    """Serve the demo on `host:port` (port None: the first free one from 7860), with no
    share link; result files go under `work_dir`. `block=True` serves until Ctrl-C;
    otherwise the server runs in a thread (stop it with `.close()`) and the app returns."""
    demo = build_demo(segmenter, work_dir)
    demo.launch(
        server_name=host,
        server_port=port,
        share=False,
        css=LEGEND_CSS,
        allowed_paths=[str(work_dir)],
        footer_links=[],
        prevent_thread_lock=not block,
        quiet=not block,
    )
    return demo
