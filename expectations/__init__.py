"""great-expectations suites that gate report inputs (and the code that runs them).

`expectations.gate.validate_report_input` is the entry point; suites are in
`expectations/report_suites.py`, the GX runner in `expectations/runner.py`. See docs/delivery.md.
"""
