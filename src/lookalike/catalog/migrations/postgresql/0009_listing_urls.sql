-- A third kind of crawl URL, 'listing': a page of a JSON API that a crawl recipe reads
-- (see ../sqlite/0009_listing_urls.sql).
ALTER TABLE crawl_url DROP CONSTRAINT crawl_url_kind_check;
ALTER TABLE crawl_url ADD CONSTRAINT crawl_url_kind_check CHECK (kind IN ('page', 'file', 'listing'));
