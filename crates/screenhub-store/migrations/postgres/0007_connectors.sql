-- Connectors: everything specific to one ATS lives behind one seam
-- (screenhub::connectors), and the store keeps what any connector needs.

-- An account's ATS credentials: one sealed value whose shape its connector
-- owns. Ashby's keys, sealed as text until now, are read by the Ashby
-- connector as they are: renaming the column moves them without a rewrite.
ALTER TABLE accounts RENAME COLUMN ats_api_key_enc TO ats_credentials_enc;
-- When the ATS first and last called with the account's token (Greenhouse
-- has no key to verify: its first call is what makes the account active).
ALTER TABLE accounts ADD COLUMN first_ats_call_at BIGINT;
ALTER TABLE accounts ADD COLUMN last_ats_call_at BIGINT;

-- Which ATS an order came from (every existing order came from its account's).
ALTER TABLE orders ADD COLUMN ats TEXT NOT NULL DEFAULT 'ashby';
UPDATE orders SET ats = (SELECT a.ats FROM accounts a WHERE a.id = orders.account_id);
-- The normalized candidate, job and ATS extras the connector built at intake
-- (sealed PII, purged with pii_enc). Orders written before this migration
-- get it from the hub at start-up, by the same connector code.
ALTER TABLE orders ADD COLUMN intake_enc BYTEA;
-- The ATS's own key for an order, unique per account (Greenhouse: the
-- take-home-test URL of send_test). NULL: deduped per live application
-- and package instead (Ashby's retried start).
ALTER TABLE orders ADD COLUMN dedupe_key TEXT;
CREATE UNIQUE INDEX orders_dedupe_key ON orders(account_id, dedupe_key) WHERE dedupe_key IS NOT NULL;
DROP INDEX orders_live_application;
CREATE UNIQUE INDEX orders_live_application
    ON orders(account_id, application_ats_id, package_id)
    WHERE status IN ('pending', 'in_progress') AND dedupe_key IS NULL;
