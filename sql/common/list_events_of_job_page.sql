-- One page of a job's events, newest first, strictly older than the keyset position
-- (before_datetime, before_uuid). The operation folds `until` into that position, so the
-- index range has one upper bound and a page never scans the newer events again.
SELECT event_uuid, event_content, job_uuid, event_datetime, event_status
FROM armada_events
WHERE job_uuid = :job_uuid
    AND event_datetime >= :since
    AND event_datetime <= :before_datetime
    AND (event_datetime < :before_datetime OR event_uuid < :before_uuid)
    AND (:event_status IS NULL OR event_status = :event_status)
ORDER BY event_datetime DESC, event_uuid DESC
LIMIT :limit;
