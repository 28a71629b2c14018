-- Row accounting (orchestration/snapshots/accounting.py): raw + quarantine rows of each table and
-- hour that were recorded in the source up to the extraction's source_cutoff, counted in the
-- extraction's own transaction. The hourly asset check compares it with the source's rows recorded
-- up to the same cutoff, without counting raw again.
ALTER TABLE raw.snapshot_log ADD COLUMN rows_stored_by_cutoff integer;
