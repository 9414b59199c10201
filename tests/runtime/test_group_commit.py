"""The generic group-commit writer on its own: an ``apply`` that records its batches and
fails on demand stands for a store (the stores themselves are driven against real databases
in tests/reliability/test_writers.py and tests/licensing/test_report_writer.py)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from typing import Any

import psycopg.errors
import pytest
from sqlalchemy.exc import OperationalError

from meterline.kernel.errors import TooManyRequests, Unavailable
from meterline.runtime.group_commit import GroupCommitWriter, is_transient


class Store:
    """Applies items of the form ``"ok"``/``"poison"``; records each batch it committed."""

    def __init__(self, deadlocks: int = 0) -> None:
        self.committed: list[list[str]] = []
        self.deadlocks = deadlocks

    def apply(self, items: Sequence[str]) -> list[str | BaseException]:
        if self.deadlocks:
            self.deadlocks -= 1
            raise OperationalError("INSERT ...", {}, psycopg.errors.DeadlockDetected("deadlock"))
        if "poison" in items:
            raise ValueError("the database refused a value")
        self.committed.append(list(items))
        return [f"{item}!" for item in items]


def _writer(store: Store, **options: Any) -> GroupCommitWriter[str, str]:
    options.setdefault("max_batch", 100)
    options.setdefault("queue_limit", 100)
    return GroupCommitWriter("test writer", store.apply, **options)


def _queued(writer: GroupCommitWriter[str, str], items: list[str]) -> Any:
    loop = asyncio.new_event_loop()
    tasks = [loop.create_task(writer.submit(item)) for item in items]
    loop.run_until_complete(asyncio.sleep(0))
    return loop, tasks


def _answers(loop: asyncio.AbstractEventLoop, tasks: list[Any]) -> list[Any]:
    try:
        return list(loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True)))
    finally:
        loop.close()


def test_a_failed_batch_is_applied_again_request_by_request() -> None:
    store = Store()
    writer = _writer(store, explain=lambda item, exc: Unavailable(f"{item}: {exc}"))
    loop, tasks = _queued(writer, ["a", "poison", "b"])
    writer.start()
    try:
        answers = _answers(loop, tasks)
    finally:
        writer.stop()
    assert answers[0] == "a!" and answers[2] == "b!"
    assert isinstance(answers[1], Unavailable)
    assert answers[1].message == "poison: the database refused a value"
    assert store.committed == [["a"], ["b"]]
    assert writer.batches == 1


def test_a_deadlocked_batch_is_retried_as_it_is() -> None:
    assert is_transient(OperationalError("x", {}, psycopg.errors.SerializationFailure("s")))
    assert not is_transient(OperationalError("x", {}, psycopg.errors.UniqueViolation("u")))
    store = Store(deadlocks=2)
    writer = _writer(store)
    assert writer.commit(["a", "b"]) == ["a!", "b!"]
    assert store.committed == [["a", "b"]]  # one transaction, after two deadlocks
    assert writer.retries == 2


def test_admission_is_bounded() -> None:
    writer = _writer(Store(), queue_limit=2)
    loop, tasks = _queued(writer, ["a", "b", "c"])
    writer.start()
    try:
        answers = _answers(loop, tasks)
    finally:
        writer.stop()
    assert answers[:2] == ["a!", "b!"]
    assert isinstance(answers[2], TooManyRequests)  # refused at once, never queued


def test_the_thread_survives_a_closed_loop_and_a_bug() -> None:
    store = Store()

    def apply(items: Sequence[str]) -> list[str | BaseException]:
        if items == ["bug"]:
            return []  # a bug: too few results; that request fails, not the thread
        return store.apply(items)

    writer: GroupCommitWriter[str, str] = GroupCommitWriter(
        "test writer", apply, max_batch=1, queue_limit=10
    )
    loop, tasks = _queued(writer, ["closed"])
    tasks[0].cancel()
    _answers(loop, tasks)  # the request's loop is gone before the writer answers it
    writer.start()
    try:
        answers: list[Any] = []

        def later() -> None:
            with pytest.raises(RuntimeError):
                writer.submit_sync("bug")
            answers.append(writer.submit_sync("later"))

        thread = threading.Thread(target=later)
        thread.start()
        thread.join(10)
        assert answers == ["later!"], "the writer hung"
        assert writer.alive
        assert store.committed == [["closed"], ["later"]]
    finally:
        writer.stop()


def test_a_stopped_writer_answers_unavailable() -> None:
    writer = _writer(Store())
    assert writer.state == "stopped"  # not started yet
    writer.start()
    assert writer.state == "running"
    writer.stop()
    assert not writer.alive
    with pytest.raises(Unavailable):
        writer.submit_sync("late")
    loop = asyncio.new_event_loop()
    try:
        with pytest.raises(Unavailable):
            loop.run_until_complete(writer.submit("late"))
    finally:
        loop.close()
