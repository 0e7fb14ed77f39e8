"""The page's own routes beside Gradio's (see :mod:`suxi.web.routes`)."""

from .routes import build_router

__all__ = ["build_router"]
