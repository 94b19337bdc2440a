-- Text that signals read from the pixels (OCR lines, tags, captions), each with its confidence,
-- searched by words together with the places' own metadata.
CREATE TABLE image_text (
    id          INTEGER PRIMARY KEY,
    image_id    INTEGER NOT NULL REFERENCES image(id) ON DELETE CASCADE,
    signal      TEXT NOT NULL,
    field       TEXT NOT NULL,
    text        TEXT NOT NULL,
    confidence  REAL NOT NULL,
    box         TEXT  -- JSON [x0, y0, ..., x3, y3] in [0, 1] of the image, where the text was read
);
CREATE INDEX image_text_image ON image_text(image_id, signal);

CREATE VIRTUAL TABLE image_text_fts USING fts5(text, tokenize = 'unicode61 remove_diacritics 2');
CREATE TRIGGER image_text_ai AFTER INSERT ON image_text BEGIN
    INSERT INTO image_text_fts(rowid, text) VALUES (new.id, new.text);
END;
CREATE TRIGGER image_text_ad AFTER DELETE ON image_text BEGIN
    DELETE FROM image_text_fts WHERE rowid = old.id;
END;

-- Every word the text signals read, so that a mistyped query word finds the word it meant.
CREATE TABLE text_word (word TEXT PRIMARY KEY) WITHOUT ROWID;
