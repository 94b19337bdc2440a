"""Settings of object storage: buckets named as ``s3://``, ``gs://`` or ``az://`` URLs."""

from __future__ import annotations

from pydantic import BaseModel, Field

__all__ = ["StorageSettings"]

MB = 1024 * 1024


class StorageSettings(BaseModel):
    """Object storage (``lookalike index s3://bucket/prefix``), read through fsspec.

    Credentials are never settings here: s3fs reads them where the AWS tools do (the
    ``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY`` / ``AWS_SESSION_TOKEN`` variables,
    ``~/.aws/credentials`` and ``~/.aws/config``, an instance role); gcsfs and adlfs read theirs.
    """

    endpoint_url: str = Field(
        "",
        description="Address of an S3-compatible store (MinIO, Ceph, a local test server), e.g. "
        "'http://127.0.0.1:9000'; empty for Amazon S3 itself (or AWS_ENDPOINT_URL).",
    )
    region: str = Field("", description="S3 region of the buckets; empty: the AWS configuration's, if any.")
    profile: str = Field(
        "",
        description="AWS profile of ~/.aws/config to take credentials from; empty: AWS_PROFILE or the default.",
    )
    anonymous: bool = Field(False, description="Read public buckets without credentials (unsigned requests).")
    max_object_bytes: int = Field(
        1024 * MB,
        gt=0,
        description="Largest object downloaded, archives included, in bytes; larger ones are recorded as "
        "too large without being downloaded (images must also fit decode.max_bytes).",
    )
    concurrency: int = Field(
        16, ge=1, le=256, description="Objects downloaded at once (small images are fetched in groups)."
    )
