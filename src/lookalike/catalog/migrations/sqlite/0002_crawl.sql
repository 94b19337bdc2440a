-- The crawl frontier: every page and file URL a crawl has found, and how far it got.
-- A crawl claims pending rows, fetches them and marks them done or failed; a killed
-- crawl leaves its rows pending, so running it again continues where it stopped.
CREATE TABLE crawl_url (
    id            INTEGER PRIMARY KEY,
    url           TEXT NOT NULL UNIQUE,     -- absolute, fragment removed, stored as found
    kind          TEXT NOT NULL CHECK (kind IN ('page', 'file')),
    state         TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'done', 'failed')),
    depth         INTEGER NOT NULL DEFAULT 0,   -- links followed from a start URL
    attempts      INTEGER NOT NULL DEFAULT 0,
    last_error    TEXT,
    etag          TEXT,                     -- validators for conditional requests on a re-crawl
    last_modified TEXT,
    sha256        TEXT,                     -- of the last body fetched
    page_url      TEXT,                     -- for a file: the page it was found on
    title         TEXT,                     -- for a file: that page's title
    metadata      TEXT,                     -- for a file: JSON of what the page says (text, tags, extra)
    updated_at    REAL NOT NULL
);
CREATE INDEX crawl_url_state ON crawl_url(state, id);
