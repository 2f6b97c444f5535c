-- Limits that cannot be dodged or used to fill the disk (security.md, items 4 and 8).
-- Replies are limited per recipient whatever the letter case of the address.
CREATE INDEX outbox_recipient_nocase ON outbox (lower(recipient), created);
-- Unreadable reset requests are kept, but only the newest of them (see store.rs).
CREATE INDEX reset_requests_outcome ON reset_requests (outcome, id);
