-- The newest delivery of a rule, target and run (its rate limit), and whether it is still
-- open to more occurrences (no attempt begun).
SELECT delivery_id, attempts
FROM armada_alert_outbox
WHERE group_key = :group_key
ORDER BY created_datetime DESC
LIMIT 1;
