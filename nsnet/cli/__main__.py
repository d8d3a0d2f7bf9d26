"""``python -m nsnet.cli``: the `nsnet` command line."""

from nsnet.cli import app

app()
