-- A file linked from several pages keeps each of them: one row per (file, page), with what that
-- page says of the file (title, text, tags, author, licence...), so each page becomes a place of
-- the file's images.  The file's own crawl_url row keeps the page it was found on first.
CREATE TABLE crawl_ref (
    id            INTEGER PRIMARY KEY,      -- the order found (and a key to copy by)
    url           TEXT NOT NULL,            -- the file (or archive) linked
    page_url      TEXT NOT NULL,            -- a page (or API item) that links it
    title         TEXT,
    metadata      TEXT,                     -- JSON: text, tags, extra of that page for this file
    updated_at    REAL NOT NULL,
    UNIQUE (url, page_url)
);
CREATE INDEX crawl_ref_page ON crawl_ref(page_url);
-- The places of one fetched file (itself and its archive members): what a page found later copies.
CREATE INDEX occurrence_url ON occurrence(url);
INSERT INTO crawl_ref(url, page_url, title, metadata, updated_at)
    SELECT url, page_url, title, metadata, updated_at FROM crawl_url
    WHERE kind = 'file' AND page_url IS NOT NULL ORDER BY id;

-- Author and licence (kept in a place's extra) are searched by words, with the text.
DROP TRIGGER occurrence_fts_insert;
DROP TRIGGER occurrence_fts_update;
CREATE TRIGGER occurrence_fts_insert AFTER INSERT ON occurrence BEGIN
    INSERT INTO occurrence_fts(rowid, location, title, tags, text)
    VALUES (new.id, new.uri || ' ' || coalesce(new.url, '') || ' ' || coalesce(new.page_url, ''), new.title, new.tags,
            coalesce(new.text, '') || ' ' || coalesce(json_extract(new.extra, '$.author'), '') || ' '
            || coalesce(json_extract(new.extra, '$.licence'), ''));
END;
CREATE TRIGGER occurrence_fts_update AFTER UPDATE OF uri, url, page_url, title, tags, text, extra ON occurrence BEGIN
    DELETE FROM occurrence_fts WHERE rowid = old.id;
    INSERT INTO occurrence_fts(rowid, location, title, tags, text)
    VALUES (new.id, new.uri || ' ' || coalesce(new.url, '') || ' ' || coalesce(new.page_url, ''), new.title, new.tags,
            coalesce(new.text, '') || ' ' || coalesce(json_extract(new.extra, '$.author'), '') || ' '
            || coalesce(json_extract(new.extra, '$.licence'), ''));
END;
DELETE FROM occurrence_fts;
INSERT INTO occurrence_fts(rowid, location, title, tags, text)
    SELECT id, uri || ' ' || coalesce(url, '') || ' ' || coalesce(page_url, ''), title, tags,
           coalesce(text, '') || ' ' || coalesce(json_extract(extra, '$.author'), '') || ' '
           || coalesce(json_extract(extra, '$.licence'), '')
    FROM occurrence;

-- Tags and authors of places join the words a mistyped query word is corrected to (new places
-- add theirs as they are written).
CREATE VIRTUAL TABLE temp.occurrence_terms USING fts5vocab(main, occurrence_fts, 'col');
INSERT INTO text_word(word)
    SELECT DISTINCT term FROM temp.occurrence_terms WHERE col = 'tags' AND length(term) >= 3
    ON CONFLICT DO NOTHING;
DROP TABLE temp.occurrence_terms;
