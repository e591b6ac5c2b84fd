"""WebShop: shop for the product an instruction describes, in-process or over HTTP.

Modules: ``catalogue`` (seeded product generator), ``store`` (SQLite + FTS5/BM25 search),
``instructions`` (goals), ``reward`` (pure reward function), ``state`` (the page state
machine shared by the env and the web site), ``views`` (Jinja2 HTML), ``env``
(``hiergym/WebShop-v0``), ``http_env`` (``hiergym/WebShop-http-v0``), ``server`` (FastAPI
site and JSON API), ``expert`` (scripted expert and random baseline), ``load``
(loopback load generator and a server child process for benchmarks).
Importing this package imports none of them.
"""
