-- Whether deletions wait to be announced: a read, before a write transaction takes them.
SELECT COUNT(*) AS deletions FROM armada_run_deletions;
