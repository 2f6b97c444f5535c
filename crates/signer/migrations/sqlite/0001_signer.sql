-- The signer's own state: what it has seen and issued, and its audit log. Separate from
-- the front end's database on purpose (S1). What it must still mail is in the outbox
-- table of camkey-outbox, whose migration runs after these (crates/outbox).
CREATE TABLE challenges (
    nonce        TEXT PRIMARY KEY,            -- hex, the challenge's identity
    serial       TEXT NOT NULL,
    first_seen   INTEGER NOT NULL,            -- Unix ms, wall clock of the signer
    generated    INTEGER,                     -- Unix ms of the code issued for it, if any
    last_sent    INTEGER,                     -- Unix ms its code was last queued for mailing
    resends      INTEGER NOT NULL DEFAULT 0   -- times the same code was mailed again
);
CREATE INDEX challenges_serial_generated ON challenges (serial, generated);

CREATE TABLE audit (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    at      INTEGER NOT NULL,                 -- Unix ms
    op      TEXT NOT NULL,
    serial  TEXT,
    outcome TEXT NOT NULL,
    detail  TEXT NOT NULL
);

-- The signer's own copy of the orders (S1): a released code goes to the address on the
-- order that holds the challenge's serial, from this table, never from the caller.
CREATE TABLE orders (
    order_number   TEXT NOT NULL,
    serial         TEXT NOT NULL,
    customer_email TEXT NOT NULL,
    PRIMARY KEY (order_number, serial)
);
