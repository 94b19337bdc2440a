-- An image one signal could not read (an OCR engine that failed on it): kept with its other
-- features, and listed with the reason in stats; a backfill of that signal tries it again.
CREATE TABLE signal_failure (
    image_id    INTEGER NOT NULL REFERENCES image(id) ON DELETE CASCADE,
    signal      TEXT NOT NULL,
    version     INTEGER NOT NULL,
    detail      TEXT NOT NULL,
    at          REAL NOT NULL,
    PRIMARY KEY (image_id, signal)
) WITHOUT ROWID;

-- A third kind of job: images to compute a signal for (`lookalike index --ocr --queue`).
-- SQLite cannot change a CHECK constraint, so the job table is made again.
CREATE TABLE job_new (
    id          INTEGER PRIMARY KEY,
    kind        TEXT NOT NULL CHECK (kind IN ('file', 'backfill', 'crawl')),
    key         TEXT NOT NULL,            -- the file's path, the backfill's signals and ids, the crawl's URLs
    payload     TEXT,                     -- JSON: a crawl's options, a backfill's signals and image ids
    state       TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'done', 'failed')),
    attempts    INTEGER NOT NULL DEFAULT 0,
    lease_until REAL,
    worker      TEXT,
    last_error  TEXT,
    created_at  REAL NOT NULL,
    updated_at  REAL NOT NULL,
    UNIQUE (key, kind)
);
INSERT INTO job_new(id, kind, key, payload, state, attempts, lease_until, worker, last_error, created_at, updated_at)
    SELECT id, kind, key, payload, state, attempts, lease_until, worker, last_error, created_at, updated_at FROM job;
DROP TABLE job;
ALTER TABLE job_new RENAME TO job;
CREATE INDEX job_pending ON job(id) WHERE state = 'pending';
