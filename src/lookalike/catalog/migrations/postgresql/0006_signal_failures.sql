-- An image one signal could not read (an OCR engine that failed on it): kept with its other
-- features, and listed with the reason in stats; a backfill of that signal tries it again.
CREATE TABLE signal_failure (
    image_id    BIGINT NOT NULL REFERENCES image(id) ON DELETE CASCADE,
    signal      TEXT NOT NULL,
    version     INTEGER NOT NULL,
    detail      TEXT NOT NULL,
    at          DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (image_id, signal)
);

-- A third kind of job: images to compute a signal for (`lookalike index --ocr --queue`).
ALTER TABLE job DROP CONSTRAINT job_kind_check;
ALTER TABLE job ADD CONSTRAINT job_kind_check CHECK (kind IN ('file', 'backfill', 'crawl'));
