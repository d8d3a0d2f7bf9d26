"""Renderers of the results tables of ``benchmarks/RESULTS.md``: each takes the committed JSON files
(:class:`~benchmarks.tables.stats.Results`) and returns one Markdown table or block.
``benchmarks/report.py`` registers them by name and rewrites / checks the marked tables."""
