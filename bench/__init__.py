"""The benchmark harness behind `make bench` (issue 6); see bench/run.py."""
