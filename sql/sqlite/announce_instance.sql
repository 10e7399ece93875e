-- This instance (its row :instance) is live for :seconds more; the rows of instances whose time
-- ran out (stopped without a word: kill -9, a lost host) go.
DELETE FROM armada_leases
WHERE name LIKE 'instance:%' AND expires < strftime('%Y-%m-%d %H:%M:%f', 'now');
INSERT OR REPLACE INTO armada_leases (name, holder, expires)
VALUES (:instance, :holder, strftime('%Y-%m-%d %H:%M:%f', 'now', '+' || :seconds || ' seconds'));
