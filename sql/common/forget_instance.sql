-- This instance stops: its row goes at once, not when its time runs out.
DELETE FROM armada_leases WHERE name = :instance;
