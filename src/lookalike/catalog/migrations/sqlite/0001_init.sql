-- The catalog is the truth; indexes are derived from it.

-- One row per distinct content (sha256 of the bytes).  AUTOINCREMENT: an id is never
-- reused, so it names one content for ever (links, caches and indexes rely on it).
CREATE TABLE image (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    sha256      TEXT NOT NULL UNIQUE,
    bytes       INTEGER NOT NULL,
    width       INTEGER,
    height      INTEGER,
    format      TEXT,
    mode        TEXT,
    status      TEXT NOT NULL CHECK (status IN ('ok', 'failed')),
    reason      TEXT,
    detail      TEXT,
    added_at    REAL NOT NULL
);

-- Every place an image (or a failure) was seen.  image_id is NULL when the
-- bytes were never read (unreadable file, archive limit).
CREATE TABLE occurrence (
    id          INTEGER PRIMARY KEY,
    uri         TEXT NOT NULL UNIQUE,     -- path, "archive.zip!/member.png", or URL
    file        TEXT,                     -- file on disk it came from (the archive for members)
    member      TEXT,                     -- path inside the archive
    image_id    INTEGER REFERENCES image(id) ON DELETE CASCADE,
    status      TEXT NOT NULL CHECK (status IN ('ok', 'failed')),
    reason      TEXT,
    detail      TEXT,
    size        INTEGER,
    mtime       REAL,
    url         TEXT,
    page_url    TEXT,
    title       TEXT,
    text        TEXT,
    tags        TEXT,                     -- JSON list
    extra       TEXT,                     -- JSON object: price, licence, ...
    scan_id     INTEGER,
    seen_at     REAL NOT NULL
);
CREATE INDEX occurrence_image ON occurrence(image_id);
CREATE INDEX occurrence_file ON occurrence(file);

-- A file on disk as last indexed: unchanged size and mtime means skip it.
CREATE TABLE file_state (
    path        TEXT PRIMARY KEY,
    size        INTEGER NOT NULL,
    mtime       REAL NOT NULL,
    scan_id     INTEGER
);

-- One feature per image, signal and signal version.
CREATE TABLE feature (
    image_id    INTEGER NOT NULL REFERENCES image(id) ON DELETE CASCADE,
    signal      TEXT NOT NULL,
    version     INTEGER NOT NULL,
    data        BLOB NOT NULL,
    PRIMARY KEY (image_id, signal, version)
) WITHOUT ROWID;

-- Every add and remove gets a sequence number; each index records the last it applied.
CREATE TABLE change (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    image_id    INTEGER NOT NULL,
    op          TEXT NOT NULL CHECK (op IN ('add', 'remove')),
    at          REAL NOT NULL
);

CREATE TABLE scan (
    id          INTEGER PRIMARY KEY,
    roots       TEXT NOT NULL,            -- JSON list
    started_at  REAL NOT NULL,
    finished_at REAL,
    counts      TEXT                      -- JSON object
);

-- Keyword search over names, paths, URLs, titles, tags and text (BM25).
CREATE VIRTUAL TABLE occurrence_fts USING fts5(
    location, title, tags, text, tokenize = 'unicode61 remove_diacritics 2'
);

CREATE TRIGGER occurrence_fts_insert AFTER INSERT ON occurrence BEGIN
    INSERT INTO occurrence_fts(rowid, location, title, tags, text)
    VALUES (new.id, new.uri || ' ' || coalesce(new.url, '') || ' ' || coalesce(new.page_url, ''), new.title, new.tags, new.text);
END;
CREATE TRIGGER occurrence_fts_delete AFTER DELETE ON occurrence BEGIN
    DELETE FROM occurrence_fts WHERE rowid = old.id;
END;
CREATE TRIGGER occurrence_fts_update AFTER UPDATE OF uri, url, page_url, title, tags, text ON occurrence BEGIN
    DELETE FROM occurrence_fts WHERE rowid = old.id;
    INSERT INTO occurrence_fts(rowid, location, title, tags, text)
    VALUES (new.id, new.uri || ' ' || coalesce(new.url, '') || ' ' || coalesce(new.page_url, ''), new.title, new.tags, new.text);
END;
