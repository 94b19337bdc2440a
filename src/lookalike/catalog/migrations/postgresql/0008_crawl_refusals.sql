-- Refused URLs, reasons, hosts and file freshness in the crawl frontier (see ../sqlite/0008_crawl_refusals.sql).
ALTER TABLE crawl_url DROP CONSTRAINT crawl_url_state_check;
ALTER TABLE crawl_url ADD CONSTRAINT crawl_url_state_check
    CHECK (state IN ('pending', 'done', 'failed', 'refused'));
ALTER TABLE crawl_url ADD COLUMN reason TEXT, ADD COLUMN fresh_until DOUBLE PRECISION, ADD COLUMN host TEXT;
UPDATE crawl_url SET host = lower(split_part(split_part(url, '://', 2), '/', 1)),
    reason = CASE WHEN state = 'failed' AND last_error = 'disallowed by robots.txt' THEN 'robots'
                  WHEN state = 'failed' THEN 'fetch_failed' END,
    state = CASE WHEN state = 'failed' AND last_error = 'disallowed by robots.txt' THEN 'refused' ELSE state END;
CREATE INDEX crawl_url_host ON crawl_url(host, state);
