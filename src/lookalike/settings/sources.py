"""Settings of the sources: decoding limits, archives, fetching URLs, crawling sites."""

from __future__ import annotations

import ipaddress
import re
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator, model_validator

__all__ = ["ArchiveSettings", "CrawlSettings", "DecodeSettings", "FetchSettings"]

MB = 1024 * 1024


class DecodeSettings(BaseModel):
    """Limits and sizes for turning bytes into pixels."""

    max_bytes: int = Field(200 * MB, gt=0, description="Largest image file accepted, in bytes.")
    max_pixels: int = Field(
        90_000_000, gt=0, description="Largest width*height accepted (decompression-bomb guard)."
    )
    work_size: int = Field(
        512,
        ge=96,
        description="Long side the decoder reduces large images to before signals run.",
    )


class ArchiveSettings(BaseModel):
    """Limits for unpacking zip, tar, 7z and rar archives."""

    max_members: int = Field(20_000, gt=0, description="Most members read from one archive.")
    max_member_bytes: int = Field(200 * MB, gt=0, description="Largest unpacked member, in bytes.")
    max_total_bytes: int = Field(4096 * MB, gt=0, description="Most unpacked bytes taken from one archive.")
    max_ratio: float = Field(
        200.0, gt=1, description="Largest unpacked/packed size ratio of a member (zip-bomb guard)."
    )
    max_depth: int = Field(2, ge=0, description="How deep archives inside archives are opened.")


class FetchSettings(BaseModel):
    """How lookalike fetches URLs (query images, URL lists)."""

    timeout: float = Field(20.0, gt=0, description="Seconds to wait for a server, per request.")
    max_bytes: int = Field(50 * MB, gt=0, description="Largest response body accepted, in bytes.")
    max_redirects: int = Field(5, ge=0, description="Most redirects followed.")
    allow_hosts: list[str] = Field(
        default_factory=list,
        description="Host names that may be fetched although they resolve to loopback or private "
        "addresses (a NAS on the LAN): exact names, or '.example.lan' for a domain and its subdomains.",
    )
    allow_networks: list[str] = Field(
        default_factory=list,
        description="Loopback or private networks that may be fetched, as CIDRs or addresses, e.g. "
        "'127.0.0.0/8' for a local test site; a link-local address (such as the cloud metadata "
        "service 169.254.169.254) only when listed by itself, never through a wider network.",
    )
    user_agent: str = Field(
        "lookalike/0.1 (+self-hosted reverse image search)",
        description="User-Agent header sent with every request.",
    )

    @field_validator("allow_networks")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for entry in value:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(
                    f"{entry!r} is not a network (CIDR such as 10.0.0.0/8) or an address"
                ) from None
        return value

    @model_validator(mode="before")
    @classmethod
    def _replaced(cls, data: Any) -> Any:
        if isinstance(data, dict) and "allow_private" in data:
            raise ValueError(
                "fetch.allow_private was replaced by allow-lists: name what may be fetched in "
                'fetch.allow_networks (e.g. ["127.0.0.0/8"]) or fetch.allow_hosts'
            )
        return data


class CrawlSettings(BaseModel):
    """How ``lookalike crawl`` walks a website (the fetch settings apply to every request)."""

    delay: float = Field(
        1.0,
        ge=0,
        description="Seconds between two requests to the same host (a longer robots.txt Crawl-delay wins).",
    )
    concurrency: int = Field(4, ge=1, description="Requests in flight at once, over all hosts.")
    per_host: int = Field(
        2,
        ge=1,
        description="Requests in flight at once to one host (each still waits crawl.delay after the last).",
    )
    max_depth: int = Field(
        5, ge=0, description="Most links followed from a start URL to reach a page (0: the start pages only)."
    )
    max_pages: int = Field(0, ge=0, description="Most pages fetched in one run; 0: no limit.")
    max_bytes: int = Field(
        0, ge=0, description="Most bytes downloaded in one run (pages and files); 0: no limit."
    )
    scope: Literal["host", "domain", "any"] = Field(
        "host",
        description="Where pages and files are fetched from: 'host' (the hosts of the start URLs, ports "
        "included), 'domain' (their registrable domains, e.g. www.art.example.co.uk and "
        "cdn.art.example.co.uk, by the bundled public suffix list) or 'any'. Files elsewhere only "
        "from crawl.allow_hosts.",
    )
    allow_hosts: list[str] = Field(
        default_factory=list,
        description="Other hosts that files (never pages) may be fetched from, such as a gallery's CDN: "
        "'cdn.example.org', 'cdn.example.org:8443', or '.example.org' for a domain and its subdomains.",
    )
    include: list[str] = Field(
        default_factory=list,
        description="Regular expressions (searched anywhere in the URL): when given, only URLs found on "
        "pages that match one are fetched (start URLs always are).",
    )
    exclude: list[str] = Field(
        default_factory=list,
        description="Regular expressions (searched anywhere in the URL): URLs found on pages that match "
        "one are never fetched, e.g. '/login', '\\?sort='.",
    )
    robots: bool = Field(True, description="Obey robots.txt (rules and Crawl-delay for the User-Agent).")
    user_agent: str = Field(
        "",
        description="User-Agent header of crawl requests; empty: fetch.user_agent (with "
        "crawl.contact: its first word, such as 'lookalike/0.1').",
    )
    contact: str = Field(
        "",
        description="Where site owners can reach whoever runs the crawl (a URL or an e-mail address), sent "
        "in the User-Agent as '(+CONTACT)'.",
    )
    sitemaps: bool = Field(
        True,
        description="Also walk the sitemaps that the start URLs' robots.txt names (Sitemap: lines; "
        "needs crawl.robots).",
    )
    selectors: dict[str, str] = Field(
        default_factory=dict,
        description="CSS selectors for what a page says of its images, by name: 'title', 'text', 'tags' "
        "replace the defaults (OpenGraph, <title>, rel=tag), other names ('author', 'licence', 'price') "
        "become extra fields.",
    )
    retries: int = Field(
        2, ge=0, description="Times a URL is asked again after HTTP 429 or 5xx before it counts as failed."
    )
    retry_wait: float = Field(
        1.0,
        ge=0,
        description="Seconds before the first retry, doubled for each next (unless Retry-After says).",
    )
    max_retry_wait: float = Field(
        120.0,
        ge=0,
        description="Longest wait before a retry; a server asking for longer makes the URL fail for this run.",
    )

    @field_validator("include", "exclude")
    @classmethod
    def _patterns(cls, value: list[str]) -> list[str]:
        for pattern in value:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"{pattern!r} is not a regular expression: {exc}") from None
        return value

    @model_validator(mode="before")
    @classmethod
    def _replaced(cls, data: Any) -> Any:
        if isinstance(data, dict) and "same_site" in data:
            raise ValueError(
                "crawl.same_site was replaced by crawl.scope: 'host' (the default, what same_site=true "
                "did, now for files too), 'domain', or 'any' (what same_site=false did)"
            )
        return data

    def agent(self, fetch_agent: str) -> str:
        """The User-Agent of crawl requests: crawl.user_agent or fetch.user_agent, with the contact
        in place of any comment (``lookalike/0.1 (+https://example.org/about-our-crawler)``)."""
        if not self.contact:
            return self.user_agent or fetch_agent
        return f"{self.user_agent or fetch_agent.split(' (', 1)[0]} (+{self.contact})"
