-- Work that `lookalike worker` processes share: files to index and crawls to run.
-- A worker claims pending jobs with a lease; a worker killed mid-job leaves its lease
-- to expire, and another worker takes the job again (what it had committed is kept).
CREATE TABLE job (
    id          INTEGER PRIMARY KEY,
    kind        TEXT NOT NULL CHECK (kind IN ('file', 'crawl')),
    key         TEXT NOT NULL,            -- the file's path, or the crawl's start URLs
    payload     TEXT,                     -- JSON: a crawl's options
    state       TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'done', 'failed')),
    attempts    INTEGER NOT NULL DEFAULT 0,
    lease_until REAL,                     -- claimed until then (seconds since the epoch)
    worker      TEXT,                     -- who claimed it last
    last_error  TEXT,
    created_at  REAL NOT NULL,
    updated_at  REAL NOT NULL,
    UNIQUE (key, kind)                    -- key first: a claim by kind walks job_pending in order
);
-- the claim's index: pending jobs in order (finished ones leave it, so it stays small)
CREATE INDEX job_pending ON job(id) WHERE state = 'pending';

-- A crawl URL claimed by a worker is leased, so that others skip it until it expires.
ALTER TABLE crawl_url ADD COLUMN lease_until REAL;
-- claims walk the pending URLs in order, as they do the pending jobs
CREATE INDEX crawl_url_pending ON crawl_url(id) WHERE state = 'pending';

-- Indexes shared by many processes (Milvus) record here the last change they applied;
-- index files on one machine keep that record beside them instead.
CREATE TABLE index_state (
    name        TEXT PRIMARY KEY,         -- signal and version, e.g. "clip.v3"
    backend     TEXT NOT NULL,
    applied_seq INTEGER NOT NULL,
    transform   TEXT,
    count       INTEGER NOT NULL DEFAULT 0
);

-- Thumbnails by content, for catalogs that many machines share (an embedded collection keeps
-- them in thumbs.sqlite beside the catalog).
CREATE TABLE thumbnail (
    sha256      TEXT PRIMARY KEY,
    data        BLOB NOT NULL
);
