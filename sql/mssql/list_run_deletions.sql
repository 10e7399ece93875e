-- The oldest deletions waiting to be announced, locked until the commit that deletes them:
-- another replica taking them meanwhile waits, then finds them gone (each is announced once).
SELECT TOP (:limit) id, run_uuid
FROM armada_run_deletions WITH (UPDLOCK, HOLDLOCK)
ORDER BY id;
