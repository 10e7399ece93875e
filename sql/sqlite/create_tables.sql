-- Fresh tables; existing (legacy) tables are left exactly as they are.
CREATE TABLE IF NOT EXISTS armada_runs (
    run_uuid TEXT NOT NULL PRIMARY KEY,
    run_datetime DATETIME NOT NULL
);
CREATE TABLE IF NOT EXISTS armada_jobs (
    job_uuid TEXT NOT NULL PRIMARY KEY,
    run_uuid TEXT NOT NULL,
    job_datetime DATETIME NOT NULL,
    job_associated_agent TEXT NOT NULL,
    job_status TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS armada_events (
    event_uuid TEXT NOT NULL PRIMARY KEY,
    event_content TEXT NOT NULL,
    job_uuid TEXT NOT NULL,
    event_datetime DATETIME NOT NULL,
    event_status TEXT NOT NULL
);
-- The job counts the run lists carry, kept per run and status by triggers, so that a page
-- of runs reads a few rows per run instead of counting every job of each run. Triggers,
-- not the service's code: a count stays right whoever writes the jobs table. A job with
-- no run (legacy rows allow it) is not counted; a missing status counts under ''. No
-- UPSERT in the triggers: an SQLite older than 3.24 could then not open the file at all.
CREATE TABLE IF NOT EXISTS armada_job_counts (
    run_uuid TEXT NOT NULL,
    job_status TEXT NOT NULL,
    jobs INTEGER NOT NULL,
    PRIMARY KEY (run_uuid, job_status)
);
CREATE TRIGGER IF NOT EXISTS armada_job_counts_insert AFTER INSERT ON armada_jobs
WHEN NEW.run_uuid IS NOT NULL
BEGIN
    INSERT OR IGNORE INTO armada_job_counts (run_uuid, job_status, jobs)
    VALUES (NEW.run_uuid, COALESCE(NEW.job_status, ''), 0);
    UPDATE armada_job_counts SET jobs = jobs + 1
    WHERE run_uuid = NEW.run_uuid AND job_status = COALESCE(NEW.job_status, '');
END;
CREATE TRIGGER IF NOT EXISTS armada_job_counts_delete AFTER DELETE ON armada_jobs
WHEN OLD.run_uuid IS NOT NULL
BEGIN
    UPDATE armada_job_counts SET jobs = jobs - 1
    WHERE run_uuid = OLD.run_uuid AND job_status = COALESCE(OLD.job_status, '');
    DELETE FROM armada_job_counts
    WHERE run_uuid = OLD.run_uuid AND job_status = COALESCE(OLD.job_status, '') AND jobs <= 0;
END;
CREATE TRIGGER IF NOT EXISTS armada_job_counts_update AFTER UPDATE OF run_uuid, job_status
ON armada_jobs
WHEN OLD.run_uuid IS NOT NEW.run_uuid OR OLD.job_status IS NOT NEW.job_status
BEGIN
    UPDATE armada_job_counts SET jobs = jobs - 1
    WHERE run_uuid = OLD.run_uuid AND job_status = COALESCE(OLD.job_status, '');
    DELETE FROM armada_job_counts
    WHERE run_uuid = OLD.run_uuid AND job_status = COALESCE(OLD.job_status, '') AND jobs <= 0;
    INSERT OR IGNORE INTO armada_job_counts (run_uuid, job_status, jobs)
    SELECT NEW.run_uuid, COALESCE(NEW.job_status, ''), 0 WHERE NEW.run_uuid IS NOT NULL;
    UPDATE armada_job_counts SET jobs = jobs + 1
    WHERE run_uuid = NEW.run_uuid AND job_status = COALESCE(NEW.job_status, '');
END;
-- Counts for jobs written before the table existed (an upgrade, or legacy tables). Empty
-- counts with counted jobs present can only mean that: the triggers keep them in step.
INSERT INTO armada_job_counts (run_uuid, job_status, jobs)
SELECT run_uuid, COALESCE(job_status, ''), COUNT(*)
FROM armada_jobs
WHERE run_uuid IS NOT NULL AND NOT EXISTS (SELECT 1 FROM armada_job_counts)
GROUP BY run_uuid, COALESCE(job_status, '');
