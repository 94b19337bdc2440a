-- Crawl recipes read a shop's or gallery's JSON API: each page of the API is a third kind of
-- frontier URL, 'listing'.  SQLite cannot change a CHECK in place, so the table is rebuilt
-- (every column and row kept, the same ids, so claims keep their order).
CREATE TABLE crawl_url_new (
    id            INTEGER PRIMARY KEY,
    url           TEXT NOT NULL UNIQUE,
    kind          TEXT NOT NULL CHECK (kind IN ('page', 'file', 'listing')),
    state         TEXT NOT NULL DEFAULT 'pending'
                  CHECK (state IN ('pending', 'done', 'failed', 'refused')),
    depth         INTEGER NOT NULL DEFAULT 0,   -- a listing: its page's place in the API, from 0
    attempts      INTEGER NOT NULL DEFAULT 0,
    last_error    TEXT,                     -- what went wrong, in words
    reason        TEXT,                     -- why refused or failed, a short stable code
    etag          TEXT,
    last_modified TEXT,
    sha256        TEXT,
    fresh_until   REAL,                     -- a file's max-age runs out then (seconds since the epoch)
    host          TEXT,                     -- host[:port] of the URL, lower case
    page_url      TEXT,
    title         TEXT,
    metadata      TEXT,                     -- a listing: JSON of the recipe that reads it
    lease_until   REAL,
    updated_at    REAL NOT NULL
);
INSERT INTO crawl_url_new(id, url, kind, state, depth, attempts, last_error, reason, etag, last_modified,
                          sha256, fresh_until, host, page_url, title, metadata, lease_until, updated_at)
    SELECT id, url, kind, state, depth, attempts, last_error, reason, etag, last_modified,
           sha256, fresh_until, host, page_url, title, metadata, lease_until, updated_at
    FROM crawl_url;
DROP TABLE crawl_url;
ALTER TABLE crawl_url_new RENAME TO crawl_url;
CREATE INDEX crawl_url_state ON crawl_url(state, id);
CREATE INDEX crawl_url_pending ON crawl_url(id) WHERE state = 'pending';
CREATE INDEX crawl_url_host ON crawl_url(host, state);
