-- A flag a signal raised on an image, with its reason (the junk signal: spacer, blank, tiny,
-- placeholder); search, similar and dupes leave flagged images out unless asked.
-- An image that is not flagged has no row; its feature row says it was judged.
CREATE TABLE image_flag (
    image_id    INTEGER NOT NULL REFERENCES image(id) ON DELETE CASCADE,
    flag        TEXT NOT NULL,
    reason      TEXT NOT NULL,
    PRIMARY KEY (image_id, flag)
) WITHOUT ROWID;
CREATE INDEX image_flag_flag ON image_flag(flag, reason);
