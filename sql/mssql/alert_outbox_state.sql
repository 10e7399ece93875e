-- The deliveries waiting (every instance's): how many, the age of the oldest, and in how many
-- seconds the next one is due (its attempt's time, or the end of the lease that holds it).
SELECT COUNT(*) AS pending,
    DATEDIFF(second, MIN(created_datetime), SYSUTCDATETIME()) AS oldest_seconds,
    DATEDIFF(millisecond, SYSUTCDATETIME(),
             MIN(CASE WHEN lease_datetime > next_attempt_datetime THEN lease_datetime
                      ELSE next_attempt_datetime END)) / 1000.0 AS due_in_seconds
FROM armada_alert_outbox
WHERE status = N'pending';
