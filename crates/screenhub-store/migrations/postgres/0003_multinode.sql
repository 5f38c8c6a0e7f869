-- Several nodes on one database.

-- The events feed never skips an event. An identity value is taken at
-- insert, but transactions commit in another order, so a reader polling
-- `seq > N` could pass over an event that commits late. Every transaction
-- that writes events holds this advisory lock in SHARE mode from before its
-- first number is drawn until it ends; writers do not block each other. The
-- feed reader takes it EXCLUSIVE for the length of one read, so it reads only
-- once every number drawn so far is committed or rolled back (see
-- `Store::list_events`). The reader pays, not the writers.
CREATE FUNCTION screenhub_events_writer() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- 7302 ('sh') names the lock; list_events takes the same key.
    PERFORM pg_advisory_xact_lock_shared(7302, 1);
    RETURN NULL;
END $$;

-- A statement trigger fires before the statement draws its identity values.
CREATE TRIGGER events_writer
    BEFORE INSERT ON events
    FOR EACH STATEMENT EXECUTE FUNCTION screenhub_events_writer();
