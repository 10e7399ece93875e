-- Events with no datetime (legacy rows; fresh tables require one), of the job or of every
-- job when job_uuid is NULL, after `after_uuid` in uuid order: the end of a whole list with
-- no time range, read a page at a time as the dated part is.
SELECT event_uuid, event_content, job_uuid, event_datetime, event_status
FROM armada_events
WHERE event_datetime IS NULL
    AND (:job_uuid IS NULL OR job_uuid = :job_uuid)
    AND event_uuid > :after_uuid
    AND (:event_status IS NULL OR event_status = :event_status)
ORDER BY event_uuid
LIMIT :limit;
