-- The schema's version: the last migration applied (0: none, a new database or one made before
-- versions; armada/store/migrations.py).
SELECT user_version AS version FROM pragma_user_version;
