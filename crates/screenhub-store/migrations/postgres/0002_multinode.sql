-- Several nodes on one database.

-- 1. The events feed never skips an event. An identity value is taken at
-- insert, but transactions commit in another order, so a reader polling
-- `seq > N` could pass over an event that commits late. Instead each event is
-- inserted with a provisional number and renumbered just before its
-- transaction commits, under a transaction-scoped advisory lock: numbers are
-- then handed out in commit order, and every committed event has a number
-- lower than any event still to commit. The lock is held only for the
-- renumbering and the commit itself, so writers do not queue behind each
-- other's round trips.
ALTER TABLE events ADD COLUMN provisional BOOLEAN NOT NULL DEFAULT TRUE;
UPDATE events SET provisional = FALSE;
CREATE INDEX events_provisional ON events(seq) WHERE provisional;

CREATE FUNCTION screenhub_number_events() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- 7302 ('sh') names the lock; any constant shared by all nodes would do.
    PERFORM pg_advisory_xact_lock(7302, 1);
    -- Other transactions' provisional rows are not visible here: this only
    -- renumbers this transaction's own events, keeping their order.
    UPDATE events e SET seq = n.final_seq, provisional = FALSE
    FROM (SELECT p.seq, nextval(pg_get_serial_sequence('events', 'seq')) AS final_seq
          FROM (SELECT seq FROM events WHERE provisional ORDER BY seq) p) n
    WHERE e.seq = n.seq;
    RETURN NULL;
END $$;

-- Deferred: runs at commit, after everything else the transaction does.
CREATE CONSTRAINT TRIGGER events_numbered_at_commit
    AFTER INSERT ON events DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW WHEN (NEW.provisional) EXECUTE FUNCTION screenhub_number_events();

-- 2. New work wakes the workers of every node (each LISTENs on
-- screenhub_work). PostgreSQL sends notifications on commit and folds
-- identical ones of one transaction into one.
CREATE FUNCTION screenhub_notify_work() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('screenhub_work', '');
    RETURN NULL;
END $$;

CREATE TRIGGER deliveries_notify_insert
    AFTER INSERT ON deliveries
    FOR EACH STATEMENT EXECUTE FUNCTION screenhub_notify_work();

-- A failed or dead delivery put back in the queue by an operator.
CREATE TRIGGER deliveries_notify_requeue
    AFTER UPDATE OF state ON deliveries
    FOR EACH ROW WHEN (OLD.state <> 'pending' AND NEW.state = 'pending')
    EXECUTE FUNCTION screenhub_notify_work();
