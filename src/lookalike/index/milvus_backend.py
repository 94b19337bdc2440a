"""Milvus indexes: one collection per signal and version, on a server or in a milvus-lite file.

Imported only when the Milvus backend is used; ``pymilvus`` is an optional import.

A collection ``{index.milvus_prefix}_{signal}_v{version}`` holds the catalog image
id as its primary key ``id`` and the vector as ``v``: a ``BINARY_VECTOR`` of the
signal's bits compared by Hamming distance, or a ``FLOAT_VECTOR`` compared by inner
product (cosine signals' vectors are already unit length) or L2.  Distances come
back in lookalike's units, as :class:`~lookalike.index.BruteIndex` gives them.

Index types follow ``index.dense`` as the FAISS backend does: ``flat`` -> FLAT,
``hnsw`` -> HNSW, ``ivfpq`` -> IVF_PQ, ``auto`` -> FLAT up to ``index.flat_max``
vectors, HNSW beyond.  Hashes are BIN_FLAT (BIN_IVF_FLAT past ``index.flat_max`` on
a server).  milvus-lite (a uri that is a local ``.db`` file) builds only FLAT and
IVF_FLAT for floats and BIN_FLAT for hashes, so there HNSW and IVF_PQ become
IVF_FLAT and hashes stay BIN_FLAT.

The index lives in Milvus, not in the home folder: :meth:`MilvusIndex.save` flushes
and writes a small JSON marker naming the collection, and :meth:`MilvusFactory.load`
reconnects to it (and fails, so the index is rebuilt, when it is gone or different).
Many processes share one collection; the catalog keeps its record of the last change
applied (see :mod:`lookalike.index.sync`).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import numpy as np
from pymilvus import DataType, MilvusClient, MilvusException

from lookalike.errors import BackendError
from lookalike.index.base import BaseIndex, dense_kind, replacing
from lookalike.index.milvus_uri import is_lite
from lookalike.signals import Kind, Metric, SignalSpec

if TYPE_CHECKING:
    from lookalike.settings import IndexSettings

__all__ = ["MilvusFactory", "MilvusIndex", "collection_name"]

DEFAULT_URI = "http://localhost:19530"
CONNECT_TIMEOUT = 5.0  # seconds: an unreachable server fails at once instead of hanging
# milvus-lite slows down sharply past a few MB per insert request (2k floats of 512-d: 0.4 s,
# 5k: 30 s, measured), so rows go in requests of about 1 MB
REQUEST_BYTES = 1 << 20
REQUEST_ROWS = 10_000
MAX_K = 16_384  # Milvus's largest limit (topk)
IDS_PER_QUERY = 1_000  # ids in one 'id in [...]' expression
# milvus-lite (2.5.1) once answered pymilvus's keepalive pings (every 10 s) with GOAWAY
# "too_many_pings" after a long 1M-row run and refused the client from then on; a local socket
# needs no keepalive, so lite connections send none
LITE_GRPC = {"grpc.keepalive_time_ms": 2**31 - 1, "grpc.keepalive_permit_without_calls": False}
METRICS = {Metric.HAMMING: "HAMMING", Metric.L2: "L2", Metric.COSINE: "IP"}


def collection_name(prefix: str, spec: SignalSpec) -> str:
    """The Milvus collection of a signal's version: letters, digits and '_' only."""
    name = re.sub(r"[^0-9A-Za-z_]", "_", f"{prefix}_{spec.name}_v{spec.version}")
    return (name if re.match(r"[A-Za-z_]", name) else f"_{name}")[:255]


def _lists(size: int) -> int:
    """IVF lists for about ``size`` vectors: about 4 sqrt(n)."""
    return int(min(65_536, max(16, 4 * math.sqrt(size)))) if size else 1_024


def _sub_vectors(dim: int) -> int:
    m = max(1, dim // 4)  # 4 dimensions a byte, as FAISS's IVF-PQ (see IVFPQ_OVERSAMPLE there)
    while dim % m:
        m -= 1
    return m


def plan(
    spec: SignalSpec, options: IndexSettings | None, size: int, lite: bool
) -> tuple[str, dict[str, int]]:
    """The Milvus index type and build parameters for about ``size`` vectors."""
    flat_max = options.flat_max if options is not None else 100_000
    if spec.kind is Kind.BINARY:
        if lite or size <= flat_max:
            return "BIN_FLAT", {}
        return "BIN_IVF_FLAT", {"nlist": _lists(size)}
    kind = dense_kind(options, size)
    if kind == "flat":
        return "FLAT", {}
    if lite:  # milvus-lite builds FLAT and IVF_FLAT only
        return "IVF_FLAT", {"nlist": _lists(size)}
    if kind == "hnsw":
        return "HNSW", {
            "M": options.hnsw_m if options else 32,
            "efConstruction": options.hnsw_ef_construction if options else 80,
        }
    return "IVF_PQ", {"nlist": _lists(size), "m": _sub_vectors(spec.dim), "nbits": 8}


def _shown(uri: str) -> str:
    """A uri fit for messages and markers: without user and password."""
    if "://" not in uri:
        return uri
    parts = urlsplit(uri)
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


class MilvusIndex(BaseIndex):
    """One Milvus collection holding one signal's vectors, keyed by image id."""

    def __init__(
        self,
        client: MilvusClient,
        spec: SignalSpec,
        name: str,
        where: str,
        index_type: str,
        params: dict[str, int],
        options: IndexSettings | None = None,
        lite: bool = False,
    ) -> None:
        self.spec, self.name, self.where, self.lite = spec, name, where, lite
        self.index_type, self.params, self.options = index_type, params, options
        self._client = client
        self._binary = spec.kind is Kind.BINARY
        width = spec.row_width if self._binary else 4 * spec.dim
        self._batch = max(1, min(REQUEST_ROWS, REQUEST_BYTES // width))
        #: The largest id added since this index made its collection, until the first save;
        #: None when others may have written to it (loaded, or saved and so findable).
        self.fresh_max: int | None = None

    def _failures(self, doing: str) -> AbstractContextManager[None]:
        return _failures(self.where, doing, self.name)

    def __len__(self) -> int:
        with self._failures("counting"):
            found = self._client.query(
                self.name, filter="", output_fields=["count(*)"], consistency_level="Strong"
            )
        return int(found[0]["count(*)"])

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        ids = np.asarray(ids, dtype=np.int64)
        if not len(ids):
            return
        # one row per id, the last given wins (an upsert batch must not repeat a key)
        last = len(ids) - 1 - np.unique(ids[::-1], return_index=True)[1]
        ids, vectors = ids[last], vectors[last]
        new = self._new(ids)
        with self._failures("adding to"):
            self._write(self._client.insert, ids[new], vectors[new])
            self._write(self._client.upsert, ids[~new], vectors[~new])
        if self.fresh_max is not None:
            self.fresh_max = max(self.fresh_max, int(ids.max()))

    def _new(self, ids: np.ndarray) -> np.ndarray:
        """Which ids the collection surely lacks, so that an insert cannot repeat a key.

        An upsert deletes the key first, and on milvus-lite that costs more the larger the
        collection (512 rows: 350 ms at 200k, 2.9 s per 256 at 1M, against a steady 45 ms to
        insert; measured).  While this index is being built, ids above every id so far are new
        (catalog ids only grow).  On milvus-lite a look-up says: one process alone opens the
        file, and its writers to a shared index take the catalog's lock (``IndexSet``), so no
        other write comes between the look-up and the insert.  On a server, which processes
        outside this one may write to, every other add is an upsert.
        """
        if self.fresh_max is not None:
            return np.asarray(ids > self.fresh_max)
        if self.lite:
            return ~np.isin(ids, self._present(ids))
        return np.zeros(len(ids), dtype=bool)

    def _write(self, call: Any, ids: np.ndarray, vectors: np.ndarray) -> None:
        rows = self._rows(vectors)
        for start in range(0, len(ids), self._batch):
            end = start + self._batch
            call(
                self.name,
                [{"id": int(i), "v": v} for i, v in zip(ids[start:end], rows[start:end], strict=True)],
            )

    def _rows(self, vectors: np.ndarray) -> list[Any]:
        if self._binary:
            return [row.tobytes() for row in np.ascontiguousarray(vectors, dtype=np.uint8)]
        return list(np.ascontiguousarray(vectors, dtype=np.float32))

    def remove(self, ids: np.ndarray) -> int:
        present = self._present(np.unique(np.asarray(ids, dtype=np.int64)))
        if present:
            with self._failures("removing from"):
                for start in range(0, len(present), IDS_PER_QUERY):
                    self._client.delete(self.name, ids=present[start : start + IDS_PER_QUERY])
        return len(present)

    def _present(self, ids: np.ndarray) -> list[int]:
        found: list[int] = []
        with self._failures("looking up ids in"):
            for start in range(0, len(ids), IDS_PER_QUERY):
                chunk = [int(i) for i in ids[start : start + IDS_PER_QUERY]]
                rows = self._client.query(
                    self.name, ids=chunk, output_fields=["id"], consistency_level="Strong"
                )
                found += [int(row["id"]) for row in rows]
        return found

    def search_batch(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        n = len(queries)
        distances = np.full((n, k), np.inf, dtype=np.float32)
        ids = np.full((n, k), -1, dtype=np.int64)
        if not n or k <= 0:
            return distances, ids
        with self._failures("searching"):
            # Session: this process sees its own writes at once, without Strong's wait on the server
            hits = self._client.search(
                self.name,
                data=self._rows(queries),
                limit=min(k, MAX_K),
                anns_field="v",
                search_params={"metric_type": METRICS[self.spec.metric], "params": self._search_params(k)},
                consistency_level="Session",
            )
        for row, found in enumerate(hits):
            if found:
                ids[row, : len(found)] = [hit["id"] for hit in found]
                distances[row, : len(found)] = self._distances(np.array([hit["distance"] for hit in found]))
        order = np.lexsort((ids, distances), axis=1)  # ties broken by id, as brute force does
        return np.take_along_axis(distances, order, 1), np.take_along_axis(ids, order, 1)

    @property
    def oversample(self) -> int:
        """IVF_PQ's codes rank close neighbours only roughly: ask it for more (as FAISS's IVF-PQ)."""
        return 4 if self.index_type == "IVF_PQ" else 1

    def _search_params(self, k: int) -> dict[str, int]:
        if self.index_type == "HNSW":
            return {"ef": max(k, self.options.ef_search if self.options else 96)}
        if "nlist" in self.params:
            return {"nprobe": min(self.params["nlist"], self.options.nprobe if self.options else 32)}
        return {}

    def _distances(self, raw: np.ndarray) -> np.ndarray:
        """Milvus's scores in lookalike's 'smaller is closer' units."""
        if self.spec.metric is Metric.COSINE:
            raw = 1.0 - raw  # Milvus gives the inner product
        elif self.spec.metric is Metric.L2:
            raw = np.sqrt(np.maximum(raw, 0.0))  # Milvus gives the squared distance
        return np.asarray(raw, dtype=np.float32)

    def save(self, path: Path) -> None:
        """Flush what was written, then record which collection holds the index."""
        with self._failures("flushing"):
            self._client.flush(self.name)
        self.fresh_max = None  # once saved, other processes may open and write it
        marker = {
            "backend": "milvus",
            "uri": self.where,
            "collection": self.name,
            "index_type": self.index_type,
            "spec": _spec_record(self.spec),
        }
        with replacing(path, binary=False) as fh:
            json.dump(marker, fh)


@contextmanager
def _failures(where: str, doing: str, name: str) -> Iterator[None]:
    """Milvus's errors as a :class:`BackendError` that names the address and the collection."""
    try:
        yield
    except MilvusException as exc:
        raise BackendError(f"Milvus at {where}: {doing} collection {name} failed: {exc.message}") from exc


def _vector_type(spec: SignalSpec) -> DataType:
    return DataType.BINARY_VECTOR if spec.kind is Kind.BINARY else DataType.FLOAT_VECTOR


def _schema(spec: SignalSpec) -> Any:
    """The image id as primary key ``id`` (given, not made by Milvus) and the vector ``v``."""
    schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("v", _vector_type(spec), dim=spec.dim)
    return schema


def _dim(field: dict[str, Any]) -> int:
    return int(field.get("params", {}).get("dim", -1))


def _spec_record(spec: SignalSpec) -> dict[str, Any]:
    return {
        "name": spec.name,
        "version": spec.version,
        "kind": spec.kind.value,
        "metric": spec.metric.value,
        "dim": spec.dim,
    }


class MilvusFactory:
    """Registers the Milvus backend: collections on a Milvus server or in a milvus-lite file.

    ``uri`` is what pymilvus connects to (see :func:`lookalike.index.milvus_uri.milvus_uri`);
    the default is a server on this machine.  One client is made on first use and shared
    by every index of the factory.
    """

    name = "milvus"
    suffix = ".milvus.json"
    shared = True  # the index lives on a server that other processes use too

    def __init__(self, options: IndexSettings | None = None, uri: str | None = None) -> None:
        self.options = options
        self.uri = uri or DEFAULT_URI
        self.where = _shown(self.uri)
        self.lite = is_lite(self.uri)
        self._client: MilvusClient | None = None

    def client(self) -> MilvusClient:
        """The connection, made on first use; a failure names the address."""
        if self._client is None:
            token = self.options.milvus_token if self.options is not None else None
            if self.lite:
                Path(self.uri).parent.mkdir(parents=True, exist_ok=True)
            try:
                self._client = MilvusClient(
                    uri=self.uri,
                    token=token.get_secret_value() if token is not None else "",
                    timeout=CONNECT_TIMEOUT,
                    **({"grpc_options": LITE_GRPC} if self.lite else {}),
                )
            except Exception as exc:  # pymilvus and milvus-lite raise several kinds
                detail = exc.message if isinstance(exc, MilvusException) else str(exc)
                if self.lite:  # the usual cause: milvus-lite lets one process at a time open a file
                    detail += " (a milvus-lite file is open to one process at a time: is another using it?)"
                raise BackendError(f"cannot connect to Milvus at {self.where}: {detail}") from exc
        return self._client

    def _name(self, spec: SignalSpec) -> str:
        return collection_name(self.options.milvus_prefix if self.options else "lookalike", spec)

    def create(self, spec: SignalSpec, threads: int, size: int = 0) -> MilvusIndex:
        """A new, empty collection for ``spec``; one of that name is dropped first (a rebuild)."""
        client, name = self.client(), self._name(spec)
        index_type, params = plan(spec, self.options, size, self.lite)
        index_params = MilvusClient.prepare_index_params()
        index_params.add_index("v", index_type=index_type, metric_type=METRICS[spec.metric], params=params)
        with _failures(self.where, "creating", name):
            if client.has_collection(name):
                client.drop_collection(name)
            client.create_collection(name, schema=_schema(spec), consistency_level="Session")
            # an empty collection's index is ready at once: sync=False skips pymilvus's 0.5 s poll
            client.create_index(name, index_params, sync=False)
            client.load_collection(name)
        made = MilvusIndex(client, spec, name, self.where, index_type, params, self.options, self.lite)
        made.fresh_max = -1  # empty, and no one else knows of it yet
        return made

    def load(self, spec: SignalSpec, path: Path, threads: int) -> MilvusIndex:
        """Reconnect to the signal's collection; raises if it is gone or not the same.

        Another machine's process may have built it: without a marker here, the collection
        itself is checked (the catalog's ``index_state`` says it is up to date).
        """
        name = self._name(spec)
        if path.exists():
            marker = json.loads(path.read_text(encoding="utf-8"))
            if marker.get("collection") != name or marker.get("uri") != self.where:
                raise BackendError(
                    f"{path} names {marker.get('collection')} at {marker.get('uri')}; wanted: {name} at {self.where}"
                )
            if marker.get("spec") != _spec_record(spec):
                raise BackendError(f"{path} was written for another signal version: {marker.get('spec')}")
        client = self.client()
        with _failures(self.where, "opening", name):
            if not client.has_collection(name):
                raise BackendError(f"Milvus at {self.where} has no collection {name}")
            fields = {field["name"]: field for field in client.describe_collection(name)["fields"]}
            described = client.describe_index(name, "v")
            client.load_collection(name)
        if fields.get("v", {}).get("type") != _vector_type(spec) or _dim(fields.get("v", {})) != spec.dim:
            raise BackendError(
                f"collection {name} at {self.where} does not hold {spec.dim}-d {spec.kind} vectors"
            )
        params = {key: int(described[key]) for key in ("nlist", "m", "M") if key in described}
        index_type = str(described["index_type"])
        return MilvusIndex(client, spec, name, self.where, index_type, params, self.options, self.lite)
