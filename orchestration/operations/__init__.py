"""Operator tasks on the warehouse: retention purge, account erasure, bulk operations.

Plain functions over a warehouse URL (tested directly); Dagster jobs in orchestration/defs/operations.py
and the CLI (orchestration/cli.py) are thin wrappers. See docs/operations.md.
"""
