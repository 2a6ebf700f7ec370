"""``timeartist serve``: the playground in the browser (the optional extra ``timeartist[serve]``, which brings Gradio).

    from timeartist.serve.server import launch
    server = launch(pipe, port=7860)          # returns at once; server.url, server.wait(), server.close()

``app.Playground`` is the page and its handlers; it reads uploads through ``inputs``, draws with ``views`` and offers
the generated ``examples``. ``browser`` drives the page in a headless Chromium (the screenshots, the tests). Only
``app`` and ``server`` import Gradio; nothing here imports training code.
"""
