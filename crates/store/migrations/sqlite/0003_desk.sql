-- The support desk: orders (the front end's copy, for warranty and matching), cases,
-- staff, sessions and the audit log. Still no key and no code.
CREATE TABLE orders (
    order_number   TEXT NOT NULL,
    serial         TEXT NOT NULL,
    customer_name  TEXT NOT NULL,
    customer_email TEXT NOT NULL,
    purchase_date  TEXT NOT NULL,   -- YYYY-MM-DD
    PRIMARY KEY (order_number, serial)
);
CREATE INDEX orders_serial ON orders (serial);

CREATE TABLE cases (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    kind             TEXT NOT NULL,     -- password_reset | factory_service
    state            TEXT NOT NULL,     -- see desk::State
    source           TEXT NOT NULL,     -- web | mail | form | staff
    reason           TEXT,              -- factory service: lost_password | hardware_fault
    serial           TEXT,              -- the challenge's own serial, else as typed
    serial_from_challenge INTEGER NOT NULL DEFAULT 0,
    model            TEXT,
    challenge        TEXT,
    challenge_nonce  TEXT,
    requester_name   TEXT,
    requester_email  TEXT,
    requester_ip     TEXT,
    order_number     TEXT,               -- as the requester typed it (unverified)
    description      TEXT,
    fee_cents        INTEGER,
    fee_token_hash   TEXT,
    created          INTEGER NOT NULL,   -- Unix ms
    updated          INTEGER NOT NULL
);
CREATE INDEX cases_queue ON cases (state, kind, id);
CREATE INDEX cases_nonce ON cases (challenge_nonce);
CREATE INDEX cases_ip ON cases (requester_ip, created);
CREATE UNIQUE INDEX cases_fee_token ON cases (fee_token_hash);

-- Everything that happens: case history, internal notes, staff actions (who, when, what).
CREATE TABLE audit (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    at      INTEGER NOT NULL,   -- Unix ms
    actor   TEXT NOT NULL,      -- staff username, 'requester', 'owner', 'system'
    action  TEXT NOT NULL,
    case_id INTEGER REFERENCES cases (id),
    detail  TEXT NOT NULL
);
CREATE INDEX audit_case ON audit (case_id, id);
CREATE INDEX audit_actor ON audit (actor, action, at);

CREATE TABLE staff (
    username TEXT PRIMARY KEY,
    hash     TEXT NOT NULL,       -- Argon2id PHC string
    role     TEXT NOT NULL,       -- agent | admin
    created  INTEGER NOT NULL
);

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,  -- SHA-256 of the bearer token / cookie
    username   TEXT NOT NULL REFERENCES staff (username),
    csrf       TEXT NOT NULL,
    created    INTEGER NOT NULL,
    expires    INTEGER NOT NULL
);
