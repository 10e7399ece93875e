-- The deletions taken (list_run_deletions), up to the last one read, in the same transaction.
DELETE FROM armada_run_deletions WHERE id <= :last;
