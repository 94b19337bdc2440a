"""The shared catalog: PostgreSQL (psycopg is imported only when one is opened)."""

from lookalike.catalog.postgres.database import PostgresDatabase, safe_url

__all__ = ["PostgresDatabase", "safe_url"]
