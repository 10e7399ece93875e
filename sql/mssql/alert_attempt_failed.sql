-- An attempt of this claim failed: tried again in :retry_seconds, or failed for good when
-- that would be later than :give_up_seconds after the change.
UPDATE armada_alert_outbox
SET last_error = :error, claim = NULL, lease_datetime = NULL,
    next_attempt_datetime = DATEADD(millisecond, CAST(:retry_seconds * 1000 AS INT),
                                    SYSUTCDATETIME()),
    status = CASE
        WHEN DATEADD(millisecond, CAST(:retry_seconds * 1000 AS INT), SYSUTCDATETIME())
            > DATEADD(second, CAST(:give_up_seconds AS INT), created_datetime)
        THEN N'failed' ELSE N'pending' END
WHERE delivery_id = :delivery_id AND claim = :claim;
