-- Limits that cannot be dodged or used to fill the disk (security.md, items 4 and 8).
-- Unreadable reset requests are kept, but only the newest of them (see src/sqlite/resets.rs).
CREATE INDEX reset_requests_outcome ON reset_requests (outcome, id);
