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
