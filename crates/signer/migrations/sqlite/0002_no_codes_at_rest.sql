-- Codes are never stored: an outbox row (camkey-outbox's table, which has no room for
-- mail text in this database) names the challenge whose code it mails, and the signer
-- makes the code again from the challenge's serial, nonce, key version and times (none of
-- them secret without the master key) when it sends the mail.

-- What the code and the staleness rule need: the challenge's master-key version and the
-- camera's counter (sealed in the challenge; it only grows).
ALTER TABLE challenges ADD COLUMN key_version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE challenges ADD COLUMN counter INTEGER NOT NULL DEFAULT 0;
CREATE INDEX challenges_serial_counter ON challenges (serial, counter);
