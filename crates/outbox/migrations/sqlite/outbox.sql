-- The durable mail queue (camkey-outbox), the same in every database that sends mail: the
-- signer's and the vendor front end's. A row is one mail to one recipient. It names what
-- makes its mail at send time (`nonce`: the signer's code mails, whose code is never
-- stored), or, in a database that also applies `ready_mails.sql`, holds its text.
CREATE TABLE outbox (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    recipient    TEXT NOT NULL,
    nonce        TEXT,                        -- hex: what makes the mail at send time
    created      INTEGER NOT NULL,            -- Unix ms
    attempts     INTEGER NOT NULL DEFAULT 0,
    next_attempt INTEGER NOT NULL,            -- Unix ms
    state        TEXT NOT NULL DEFAULT 'pending', -- pending | sent | failed
    last_error   TEXT
);
CREATE INDEX outbox_due ON outbox (state, next_attempt);
-- Mails are counted per recipient whatever the letter case of the address.
CREATE INDEX outbox_recipient_nocase ON outbox (lower(recipient), created);
