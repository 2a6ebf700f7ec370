"""Start and stop the playground's web server."""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
from dataclasses import dataclass

from timeartist.pipelines.pipeline import TimeArtistPipeline
from timeartist.serve import views
from timeartist.serve.app import CSS, Playground, gr
from timeartist.serve.inputs import UPLOAD_LIMIT_MB

logger = logging.getLogger(__name__)

# Gradio's own cap, checked before a file is stored: a guard against filling the disk. Uploads between the page's
# stated limit and this one reach the app, which refuses them with an error in the page; larger ones Gradio refuses
# itself, with a pop-up.
HARD_UPLOAD_LIMIT_MB = 5 * UPLOAD_LIMIT_MB


def _interrupt(signum, frame):
    raise KeyboardInterrupt


@dataclass
class Server:
    """A running playground: ``url`` to open, ``close()`` to stop it, ``wait()`` to serve until Ctrl+C."""

    app: gr.Blocks
    playground: Playground
    url: str

    def wait(self) -> None:
        """Serve until Ctrl+C or SIGTERM (from the main thread), then stop and remove the temporary files."""
        signal.signal(signal.SIGTERM, _interrupt)
        try:
            while self.app.is_running:
                time.sleep(0.2)
        except KeyboardInterrupt:
            logger.info("stopping the playground")
        finally:
            self.close()  # Blocks.close ends the event streams' heartbeats first, so the server stops at once

    def close(self) -> None:
        self.app.close()
        self.playground.close()


def launch(pipe: TimeArtistPipeline, host: str = "127.0.0.1", port: int = 7860, workdir: str | os.PathLike | None = None) -> Server:
    """Serve the playground over ``pipe`` at http://host:port and return at once (the server runs in a thread).
    A port in use is an OSError. Downloads the page offers are written into ``workdir`` (default: a new temporary
    folder)."""
    playground = Playground(pipe, workdir)
    app = playground.build()
    _, url, _ = app.launch(
        server_name=host, server_port=port, prevent_thread_lock=True, share=False, quiet=True, inbrowser=False, show_error=False,
        max_file_size=f"{HARD_UPLOAD_LIMIT_MB}mb", ssr_mode=False, mcp_server=False, pwa=False, enable_monitoring=False,
        footer_links=["api", "settings"], css=CSS,
    )  # fmt: skip
    logger.info("playground serving at %s", url)
    threading.Thread(target=views.warm_up, name="timeartist-warm-up", daemon=True).start()
    return Server(app, playground, url)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on at ``host`` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]
