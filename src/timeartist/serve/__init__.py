"""``timeartist serve``: the playground in the browser (the optional extra ``timeartist[serve]``, which brings Gradio).

    from timeartist.serve import launch
    server = launch(pipe, port=7860)          # returns at once; server.url, server.close()

The app (``app.Playground``) reads uploads through ``inputs``, shows figures from ``views`` and offers the generated
``examples``; ``browser`` drives it in a headless Chromium (screenshots, tests). It uses the pipeline only and never
imports training code.
"""

from timeartist.serve.server import Server, launch

__all__ = ["Server", "launch"]
