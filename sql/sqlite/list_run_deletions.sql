-- The oldest deletions waiting to be announced (the write transaction holds the file's lock).
SELECT id, run_uuid
FROM armada_run_deletions
ORDER BY id
LIMIT :limit;
