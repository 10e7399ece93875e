-- The deliveries waiting (every instance's): how many, the age of the oldest, and in how many
-- seconds the next one is due (its attempt's time, or the end of the lease that holds it).
SELECT COUNT(*) AS pending,
    (julianday('now') - julianday(MIN(created_datetime))) * 86400.0 AS oldest_seconds,
    (julianday(MIN(CASE WHEN lease_datetime > next_attempt_datetime THEN lease_datetime
                        ELSE next_attempt_datetime END)) - julianday('now')) * 86400.0
        AS due_in_seconds
FROM armada_alert_outbox
WHERE status = 'pending';
