"""Scheduled reports: the catalogue, datasets read from marts/ml, rendering and artifacts.

Rendering (this package's catalogue, datasets, renderers, artifacts) turns a period's dataset into
PDF/CSV/XLSX/TXT files; delivery (reports/delivery*) e-mails them. See docs/reports.md.
"""
