"""HTML views of a ``ShopState`` (Jinja2): the env's ``obs_mode="html"`` and the web site share them.

``render_content`` is the page's main part (what the env observes); ``render_page`` wraps it
in the site layout. Autoescaping is on: product text and queries can never inject markup.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from hiergym.envs.webshop.state import (
    BACK_TO_SEARCH,
    BUY_NOW,
    DETAIL_VIEWS,
    NEXT_PAGE,
    PREV_PAGE,
    ShopState,
)
from hiergym.envs.webshop.store import MAX_QUERY_CHARS

TEMPLATE_DIR = Path(__file__).parent / "templates"


@functools.lru_cache(maxsize=1)
def _jinja() -> Any:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    env.globals.update(
        BACK_TO_SEARCH=BACK_TO_SEARCH, NEXT_PAGE=NEXT_PAGE, PREV_PAGE=PREV_PAGE, BUY_NOW=BUY_NOW,
        DETAIL_VIEWS=DETAIL_VIEWS, MAX_QUERY_CHARS=MAX_QUERY_CHARS,
    )
    return env


def render_content(state: ShopState) -> str:
    """The main part of the current page as HTML (instruction, then the page)."""
    return _jinja().get_template("content.html").render(s=state)


def render_page(state: ShopState, **extra: Any) -> str:
    """The whole web page for a browser: layout, stylesheet and ``render_content``."""
    return _jinja().get_template("page.html").render(s=state, **extra)


def render_template(name: str, **context: Any) -> str:
    """Any other site template (e.g. the error page)."""
    return _jinja().get_template(name).render(**context)


def render_observation(state: ShopState, obs_mode: str) -> str:
    """What an agent observes in ``obs_mode``: WebShop's compact text page or the page's main HTML.

    The in-process env and the server's API both observe through this, so they cannot differ.
    """
    return render_content(state) if obs_mode == "html" else state.text_observation()
