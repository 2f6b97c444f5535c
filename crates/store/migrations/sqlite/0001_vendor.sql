-- The front end's own records. It never holds a key or a code.
CREATE TABLE reset_requests (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    at        INTEGER NOT NULL,   -- Unix ms
    channel   TEXT NOT NULL,      -- web | mail
    requester TEXT NOT NULL,      -- IP address or sender address
    serial    TEXT,               -- from a genuine challenge only
    outcome   TEXT NOT NULL
);
CREATE INDEX reset_requests_requester ON reset_requests (requester, at);
