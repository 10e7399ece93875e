-- One page of the Failed and Lost jobs of every run, newest first, strictly older than the
-- keyset position (before_datetime, before_uuid): the newest of each status from
-- ix_armada_jobs_status_datetime, merged; then each with what list_jobs_of_run_with_reports adds.
WITH failed AS (
    SELECT job_uuid, run_uuid, job_datetime, job_associated_agent, job_status FROM (
        SELECT TOP (:limit) job_uuid, run_uuid, job_datetime, job_associated_agent, job_status
        FROM armada_jobs
        WHERE job_status = 'Failed'
            AND job_datetime >= :since
            AND job_datetime <= :before_datetime
            AND (job_datetime < :before_datetime OR job_uuid < :before_uuid)
        ORDER BY job_datetime DESC, job_uuid DESC) AS failed_jobs
    UNION ALL
    SELECT job_uuid, run_uuid, job_datetime, job_associated_agent, job_status FROM (
        SELECT TOP (:limit) job_uuid, run_uuid, job_datetime, job_associated_agent, job_status
        FROM armada_jobs
        WHERE job_status = 'Lost'
            AND job_datetime >= :since
            AND job_datetime <= :before_datetime
            AND (job_datetime < :before_datetime OR job_uuid < :before_uuid)
        ORDER BY job_datetime DESC, job_uuid DESC) AS lost_jobs
),
job_page AS (
    SELECT TOP (:limit) job_uuid, run_uuid, job_datetime, job_associated_agent, job_status
    FROM failed
    ORDER BY job_datetime DESC, job_uuid DESC
)
SELECT job_uuid, run_uuid, job_datetime, job_associated_agent, job_status,
    (SELECT MAX(event.event_datetime) FROM armada_events AS event
     WHERE event.job_uuid = job_page.job_uuid) AS last_event_datetime,
    (SELECT TOP (1) LEFT(event.event_content, :text_chars) FROM armada_events AS event
     WHERE event.job_uuid = job_page.job_uuid
     ORDER BY event.event_datetime DESC, event.event_uuid DESC) AS last_message,
    (SELECT TOP (1) LEFT(event.event_content, :text_chars) FROM armada_events AS event
     WHERE event.job_uuid = job_page.job_uuid AND event.event_status = 'Failed'
     ORDER BY event.event_datetime DESC, event.event_uuid DESC) AS failed_message
FROM job_page
ORDER BY job_datetime DESC, job_uuid DESC;
