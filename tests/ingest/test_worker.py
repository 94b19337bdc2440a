"""The worker, run in this process: it drains the job queue that collection.enqueue fills."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

import lookalike
from lookalike.cli.main import app
from lookalike.usecases.worker import Worker

from conftest import encode, photo

GOOD = 5


def make_tree(root: Path) -> Path:
    folder = root / "queued"
    (folder / "sub").mkdir(parents=True)
    for seed in range(GOOD):
        photo(seed, (96, 72)).save(folder / ("sub" if seed % 2 else "") / f"p{seed}.png")
    (folder / "broken.png").write_bytes(encode(photo(99, (96, 72)))[:200])  # truncated
    return folder


def open_collection(home: Path, signals: list[str] | None = None, **worker: object) -> lookalike.Collection:
    ingest: dict[str, object] = {"workers": 1, **({"signals": signals} if signals else {})}
    return lookalike.open(home, ingest=ingest, worker={"poll": 0.05, "batch": 2, **worker})


WITHOUT_KEYPOINTS = ["phash", "colour", "junk"]  # keypoints are a default where OpenCV is installed


def test_a_worker_indexes_the_queue_until_it_is_empty(tmp_path: Path) -> None:
    folder = make_tree(tmp_path)
    with open_collection(tmp_path / "data") as collection:
        assert collection.enqueue([folder]) == GOOD + 1
        assert collection.jobs()["jobs"]["file"]["pending"] == GOOD + 1
        report = Worker(collection.app, name="w1").run(drain=True)
        assert report.name == "w1" and report.files == GOOD + 1
        assert report.images_new == GOOD and report.failed == 1 and report.failures == {"corrupt": 1}
        assert report.jobs_failed == 0  # a file that is not an image is a recorded failure, its job is done
        jobs = collection.jobs()["jobs"]["file"]
        assert jobs["done"] == GOOD + 1 and jobs["pending"] == jobs["running"] == 0
        stats = collection.stats()
        assert stats["images"] == GOOD and stats["failures_by_reason"] == {"corrupt": 1}
        [failure] = collection.catalog.images.failures()
        assert failure["uri"].endswith("broken.png") and failure["reason"] == "corrupt" and failure["detail"]
    with open_collection(tmp_path / "data") as collection:  # what the worker committed is searchable
        [best, *_] = collection.search(folder / "sub" / "p3.png", k=2)
        assert best.location.endswith("p3.png")


def test_a_second_worker_run_finds_nothing_to_do(tmp_path: Path) -> None:
    folder = make_tree(tmp_path)
    with open_collection(tmp_path / "data") as collection:
        collection.enqueue([folder])
        Worker(collection.app, name="w1").run(drain=True)
        started = time.monotonic()
        again = Worker(collection.app, name="w2").run(drain=True)
        assert again.files == again.images_new == again.failed == again.jobs_failed == 0
        assert time.monotonic() - started < 5  # drained at once, not polling
        assert collection.stats()["images"] == GOOD


def test_queueing_the_same_files_again_indexes_nothing_twice(tmp_path: Path) -> None:
    folder = make_tree(tmp_path)
    with open_collection(tmp_path / "data") as collection:
        collection.enqueue([folder])
        Worker(collection.app).run(drain=True)
        assert collection.enqueue([folder]) == GOOD + 1  # done jobs are queued again
        report = Worker(collection.app).run(drain=True)
        assert (
            report.files == GOOD + 1 and report.images_new == report.images_known == 0
        )  # unchanged: not read
        stats = collection.stats()
        assert stats["images"] == GOOD and stats["occurrences"] == GOOD


def test_a_file_gone_before_its_job_runs_fails_with_its_reason(tmp_path: Path) -> None:
    folder = make_tree(tmp_path)
    with open_collection(tmp_path / "data") as collection:
        collection.enqueue([folder])
        (folder / "p0.png").unlink()
        report = Worker(collection.app).run(drain=True)
        assert report.jobs_failed == 1 and report.images_new == GOOD - 1
        [failed] = collection.jobs()["failures"]
        assert failed["key"].endswith("p0.png") and "no such file" in failed["last_error"]
        assert collection.jobs()["jobs"]["file"]["failed"] == 1
        assert Worker(collection.app).run(drain=True).jobs_failed == 0  # not tried again


def test_a_job_whose_workers_keep_dying_is_given_up(tmp_path: Path) -> None:
    folder = tmp_path / "one"
    folder.mkdir()
    photo(1).save(folder / "a.png")
    with open_collection(tmp_path / "data", max_attempts=2) as collection:
        collection.enqueue([folder])
        for attempt in range(2):  # two workers claim it and die: their short leases expire
            [job] = collection.catalog.jobs.claim(f"dead{attempt}", ["file"], 10, lease=0.01, max_attempts=2)
            assert job.attempts == attempt + 1
            time.sleep(0.05)
        report = Worker(collection.app).run(drain=True)
        assert report.files == 0 and report.images_new == 0
        [failed] = collection.jobs()["failures"]
        assert "gave up after 2 attempts" in failed["last_error"] and failed["attempts"] == 3
        assert not collection.catalog.jobs.left()
        assert collection.stats()["images"] == 0


def test_a_job_left_by_a_dead_worker_is_taken_again_once_its_lease_expires(tmp_path: Path) -> None:
    folder = tmp_path / "one"
    folder.mkdir()
    photo(2).save(folder / "a.png")
    with open_collection(tmp_path / "data") as collection:
        collection.enqueue([folder])
        assert len(collection.catalog.jobs.claim("dead", ["file"], 10, lease=0.01)) == 1
        time.sleep(0.05)
        report = Worker(collection.app).run(drain=True)
        assert report.images_new == 1 and collection.jobs()["jobs"]["file"]["done"] == 1


def test_enqueue_of_a_missing_path_is_not_found(tmp_path: Path) -> None:
    with open_collection(tmp_path / "data") as collection, pytest.raises(lookalike.NotFoundError):
        collection.enqueue([tmp_path / "nowhere"])


def test_a_backfill_queued_as_jobs_is_computed_by_workers_once(tmp_path: Path) -> None:
    folder = make_tree(tmp_path)
    data = tmp_path / "data"
    with open_collection(data, WITHOUT_KEYPOINTS) as collection:
        collection.index([folder])  # phash, colour and junk
    runner = CliRunner()
    env = {"LOOKALIKE_WORKER__BATCH": "2", "LOOKALIKE_INGEST__SIGNALS": json.dumps(WITHOUT_KEYPOINTS)}
    queued = runner.invoke(
        app, ["index", "--signals", "keypoints", "--queue", "--data", str(data), "--json"], env=env
    )
    assert queued.exit_code == 0, queued.output
    assert json.loads(queued.stdout) == {"queued": 3, "images": GOOD}  # worker.batch = 2 images a job
    with open_collection(data, WITHOUT_KEYPOINTS) as collection:  # not in ingest.signals: workers make them
        report = Worker(collection.app, name="w1").run(drain=True)
        assert report.backfilled == GOOD and report.jobs_failed == 0
        assert collection.jobs()["jobs"]["backfill"]["done"] == 3
        assert collection.catalog.features.by_signal()["keypoints"] == GOOD
    again = runner.invoke(app, ["index", "--signals", "keypoints", "--queue", "--data", str(data), "--json"])
    assert json.loads(again.stdout) == {"queued": 0, "images": 0}  # nothing left to compute
    mixed = runner.invoke(
        app, ["index", str(folder), "--signals", "keypoints", "--queue", "--data", str(data)]
    )
    assert mixed.exit_code != 0 and "takes files and folders" in mixed.output
