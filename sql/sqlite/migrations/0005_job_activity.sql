-- Lost jobs (README "Lost jobs"): the service's own tables, beside Armada's, never theirs.
-- armada_job_activity holds a row per job that is Running or Pending, with the time (the
-- database's clock, UTC) of its last report: its create, a status, an event. Triggers on
-- Armada's tables keep it in step, so every writer, this service or another, counts; a job
-- that ends leaves it, so the sweep's range of ix_armada_job_activity_last_report holds live
-- jobs only. A job found Lost that reports an event is Running again (operations.create_event).
-- An event moves its job's last_report (and so the index) once per 0.1 s at most: a burst
-- of events pays for one (a job may so be found Lost up to 0.1 s early).
CREATE TABLE IF NOT EXISTS armada_job_activity (
    job_uuid TEXT NOT NULL PRIMARY KEY,
    last_report DATETIME NOT NULL
);
CREATE INDEX IF NOT EXISTS ix_armada_job_activity_last_report
    ON armada_job_activity (last_report);
-- One row per periodic task that only one replica may run at a time (the sweep).
CREATE TABLE IF NOT EXISTS armada_leases (
    name TEXT NOT NULL PRIMARY KEY,
    holder TEXT NOT NULL,
    expires DATETIME NOT NULL
);
INSERT OR IGNORE INTO armada_leases (name, holder, expires)
VALUES ('lost_jobs', '', '1970-01-01 00:00:00.000');
CREATE TRIGGER IF NOT EXISTS armada_job_activity_job_insert AFTER INSERT ON armada_jobs
WHEN NEW.job_status IN ('Running', 'Pending')
BEGIN INSERT OR REPLACE INTO armada_job_activity (job_uuid, last_report) VALUES (NEW.job_uuid, strftime('%Y-%m-%d %H:%M:%f', 'now')); END;
CREATE TRIGGER IF NOT EXISTS armada_job_activity_job_status AFTER UPDATE OF job_status ON armada_jobs
BEGIN
    DELETE FROM armada_job_activity
    WHERE job_uuid = OLD.job_uuid AND NEW.job_status NOT IN ('Running', 'Pending');
    INSERT OR REPLACE INTO armada_job_activity (job_uuid, last_report)
    SELECT NEW.job_uuid, strftime('%Y-%m-%d %H:%M:%f', 'now')
    WHERE NEW.job_status IN ('Running', 'Pending');
END;
CREATE TRIGGER IF NOT EXISTS armada_job_activity_job_delete AFTER DELETE ON armada_jobs
BEGIN DELETE FROM armada_job_activity WHERE job_uuid = OLD.job_uuid; END;
-- An event: its job reported now. A Lost job that reports is made Running by the service's
-- own write (operations.create_event); the trigger of an earlier version did that too.
DROP TRIGGER IF EXISTS armada_job_activity_event;
CREATE TRIGGER IF NOT EXISTS armada_job_activity_report AFTER INSERT ON armada_events
BEGIN UPDATE armada_job_activity SET last_report = strftime('%Y-%m-%d %H:%M:%f', 'now') WHERE job_uuid = NEW.job_uuid AND last_report < strftime('%Y-%m-%d %H:%M:%f', 'now', '-0.1 seconds'); END;
-- Live jobs from before this table (or written while it was missing) start their wait now.
INSERT OR IGNORE INTO armada_job_activity (job_uuid, last_report)
SELECT job_uuid, strftime('%Y-%m-%d %H:%M:%f', 'now')
FROM armada_jobs
WHERE job_status IN ('Running', 'Pending');
