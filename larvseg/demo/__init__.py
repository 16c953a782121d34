"""The web demo (`larvseg demo`): a Gradio app around one model; needs the `demo` extra."""
