-- The failure streak of each receiver of deliveries: a vendor webhook endpoint,
-- and an account's ATS (the Ashby side). Reset by the next success; flagged_at
-- is set once the streak is long enough to call the receiver failing.
ALTER TABLE webhook_endpoints ADD COLUMN delivery_failures BIGINT NOT NULL DEFAULT 0;
ALTER TABLE webhook_endpoints ADD COLUMN failing_since BIGINT;
ALTER TABLE webhook_endpoints ADD COLUMN last_delivery_error TEXT;
ALTER TABLE webhook_endpoints ADD COLUMN flagged_at BIGINT;
ALTER TABLE accounts ADD COLUMN delivery_failures BIGINT NOT NULL DEFAULT 0;
ALTER TABLE accounts ADD COLUMN failing_since BIGINT;
ALTER TABLE accounts ADD COLUMN last_delivery_error TEXT;
ALTER TABLE accounts ADD COLUMN flagged_at BIGINT;
