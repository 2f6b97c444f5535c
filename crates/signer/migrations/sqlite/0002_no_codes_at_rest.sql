-- Codes are never stored: an outbox row names the challenge whose code it
-- mails, and the signer makes the code again from the challenge's serial, nonce, key
-- version and times (none of them secret without the master key) when it sends the mail.
-- Rows of the first outbox held code text: the table is dropped (with secure_delete on,
-- its pages are overwritten), and the challenges lose their last-sent time, so asking
-- again re-sends those codes at once.
DROP TABLE outbox;
UPDATE challenges SET last_sent = NULL;

CREATE TABLE outbox (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    nonce        TEXT NOT NULL REFERENCES challenges (nonce), -- the code is made again from it
    recipient    TEXT NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    next_attempt INTEGER NOT NULL,            -- Unix ms
    state        TEXT NOT NULL DEFAULT 'pending', -- pending | sent | failed
    last_error   TEXT
);
CREATE INDEX outbox_due ON outbox (state, next_attempt);

-- What the code and the staleness rule need: the challenge's master-key version and the
-- camera's counter (sealed in the challenge; it only grows).
ALTER TABLE challenges ADD COLUMN key_version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE challenges ADD COLUMN counter INTEGER NOT NULL DEFAULT 0;
CREATE INDEX challenges_serial_counter ON challenges (serial, counter);
