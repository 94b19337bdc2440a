"""sources/crawl"""
