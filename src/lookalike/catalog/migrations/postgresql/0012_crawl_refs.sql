-- Every page that links a file, and author and licence searched by words
-- (see ../sqlite/0012_crawl_refs.sql).
CREATE TABLE crawl_ref (
    url           TEXT NOT NULL,
    page_url      TEXT NOT NULL,
    title         TEXT,
    metadata      TEXT,
    updated_at    DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (url, page_url)
);
CREATE INDEX crawl_ref_page ON crawl_ref(page_url);
INSERT INTO crawl_ref(url, page_url, title, metadata, updated_at)
    SELECT url, page_url, title, metadata, updated_at FROM crawl_url
    WHERE kind = 'file' AND page_url IS NOT NULL;

DROP INDEX occurrence_fts;
ALTER TABLE occurrence DROP COLUMN fts;
ALTER TABLE occurrence ADD COLUMN fts tsvector GENERATED ALWAYS AS (
    setweight(to_tsvector('simple', regexp_replace(
        uri || ' ' || coalesce(url, '') || ' ' || coalesce(page_url, ''), '[^[:alnum:]]+', ' ', 'g')), 'D')
    || setweight(to_tsvector('simple', regexp_replace(
        coalesce(text, '') || ' ' || coalesce(extra::jsonb ->> 'author', '') || ' '
        || coalesce(extra::jsonb ->> 'licence', ''), '[^[:alnum:]]+', ' ', 'g')), 'C')
    || setweight(to_tsvector('simple', regexp_replace(coalesce(tags, ''), '[^[:alnum:]]+', ' ', 'g')), 'B')
    || setweight(to_tsvector('simple', regexp_replace(coalesce(title, ''), '[^[:alnum:]]+', ' ', 'g')), 'A')
) STORED;
CREATE INDEX occurrence_fts ON occurrence USING gin(fts);

INSERT INTO text_word(word)
    SELECT DISTINCT w FROM occurrence, json_array_elements_text(tags::json) AS t(tag),
        regexp_split_to_table(lower(t.tag), '\W+') AS w
    WHERE tags IS NOT NULL AND length(w) >= 3
    ON CONFLICT DO NOTHING;
