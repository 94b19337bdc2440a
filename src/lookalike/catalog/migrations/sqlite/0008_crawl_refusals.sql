-- The crawl frontier grows a fourth state, 'refused': a URL the crawl found but did not fetch, because
-- it is outside the crawl's scope, excluded by a pattern, past the depth limit or disallowed by
-- robots.txt.  Refusals and failures get a short reason (out_of_scope, robots, too_large, http_404, ...),
-- each URL its host (crawl status counts by host), and a fetched file the time it stays fresh
-- (Cache-Control max-age or Expires; NULL: as long as the page that links it is unchanged).
-- SQLite cannot change a CHECK constraint, so the table is made again.
CREATE TABLE crawl_url_new (
    id            INTEGER PRIMARY KEY,
    url           TEXT NOT NULL UNIQUE,
    kind          TEXT NOT NULL CHECK (kind IN ('page', 'file')),
    state         TEXT NOT NULL DEFAULT 'pending'
                  CHECK (state IN ('pending', 'done', 'failed', 'refused')),
    depth         INTEGER NOT NULL DEFAULT 0,
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
    metadata      TEXT,
    lease_until   REAL,
    updated_at    REAL NOT NULL
);
INSERT INTO crawl_url_new(id, url, kind, state, depth, attempts, last_error, reason, etag, last_modified,
                          sha256, host, page_url, title, metadata, lease_until, updated_at)
    SELECT id, url, kind,
           CASE WHEN state = 'failed' AND last_error = 'disallowed by robots.txt' THEN 'refused' ELSE state END,
           depth, attempts, last_error,
           CASE WHEN state = 'failed' AND last_error = 'disallowed by robots.txt' THEN 'robots'
                WHEN state = 'failed' THEN 'fetch_failed' END,
           etag, last_modified, sha256,
           lower(CASE WHEN instr(substr(url, instr(url, '://') + 3), '/') > 0
                      THEN substr(substr(url, instr(url, '://') + 3), 1,
                                  instr(substr(url, instr(url, '://') + 3), '/') - 1)
                      ELSE substr(url, instr(url, '://') + 3) END),
           page_url, title, metadata, lease_until, updated_at
    FROM crawl_url;
DROP TABLE crawl_url;
ALTER TABLE crawl_url_new RENAME TO crawl_url;
CREATE INDEX crawl_url_state ON crawl_url(state, id);
CREATE INDEX crawl_url_pending ON crawl_url(id) WHERE state = 'pending';
CREATE INDEX crawl_url_host ON crawl_url(host, state);
