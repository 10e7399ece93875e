UPDATE armada_events SET event_status = :event_status WHERE event_uuid = :event_uuid;
