-- Poison-proof delivery (reports/delivery.py, docs/delivery.md): a message that cannot be built
-- for one recipient (an owner e-mail that is not a valid address) or is over the size limit
-- (DELIVERY_MAX_MESSAGE_BYTES, or the server's SIZE) is recorded for that recipient alone:
--   unsendable  never offered to the server; `last_error` says why; a later run tries again
ALTER TABLE reports.delivery_ledger DROP CONSTRAINT delivery_ledger_status_check;
ALTER TABLE reports.delivery_ledger ADD CONSTRAINT delivery_ledger_status_check
    CHECK (status IN ('sending', 'sent', 'outbox', 'failed', 'refused', 'unsendable'));
