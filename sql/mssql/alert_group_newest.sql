-- The newest delivery of a rule, target and run (its rate limit), and whether it is still
-- open to more occurrences (no attempt begun). UPDLOCK, HOLDLOCK: another instance's alert of
-- the same group waits for this transaction, then finds its row, instead of adding a second.
SELECT TOP (1) delivery_id, attempts
FROM armada_alert_outbox WITH (UPDLOCK, HOLDLOCK)
WHERE group_key = :group_key
ORDER BY created_datetime DESC;
