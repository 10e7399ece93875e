-- list_events_page of the run's jobs' events with every term as a LIKE pattern (:like1-4,
-- NULL when unused): reads the run's events only (ix_armada_jobs_run, ix_armada_events_job).
SELECT event.event_uuid, event.event_content, event.job_uuid, event.event_datetime,
    event.event_status
FROM armada_jobs AS job
JOIN armada_events AS event ON event.job_uuid = job.job_uuid
WHERE job.run_uuid = :run_uuid
    AND event.event_datetime >= :since
    AND event.event_datetime <= :before_datetime
    AND (event.event_datetime < :before_datetime OR event.event_uuid < :before_uuid)
    AND (:event_status IS NULL OR event.event_status = :event_status)
    AND (:like1 IS NULL OR event.event_content LIKE :like1 ESCAPE '\')
    AND (:like2 IS NULL OR event.event_content LIKE :like2 ESCAPE '\')
    AND (:like3 IS NULL OR event.event_content LIKE :like3 ESCAPE '\')
    AND (:like4 IS NULL OR event.event_content LIKE :like4 ESCAPE '\')
ORDER BY event.event_datetime DESC, event.event_uuid DESC
LIMIT :limit;
