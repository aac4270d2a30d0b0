"""Decoding videos in worker processes for extraction and offline scoring.

A worker that exceeds the per-video timeout (a decoder can loop forever on a bad
container) or dies is killed and replaced, and its video fails alone. Workers are
recycled after a number of videos to bound what a decoder leaks. Each worker has its own pipe,
whose buffer bounds what is in flight: a worker blocks on its next batch until the parent
has read the last one, so the decoded frames waiting at any time are at most one batch
per worker.
"""

from __future__ import annotations

import ctypes
import multiprocessing as mp
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from multiprocessing import connection
from multiprocessing.connection import Connection
from typing import Any

import torch

from ..config import ExtractConfig
from ..errors import DakdError
from .decode import VideoDecoder
from .readers import first_line

PARENT_POLL_S = 0.5


def _die_with_parent(parent: int) -> None:
    """End this worker process soon after ``parent`` dies, whatever its main thread is blocked on.

    Without this, a worker blocked on a full result queue (or inside decord) outlives a
    SIGKILLed parent forever. On Linux the kernel sends SIGKILL when the parent goes
    (PR_SET_PDEATHSIG; strictly, when the parent *thread* that started the worker ends:
    DecodePool's workers are started by the thread that iterates its events). Everywhere,
    a daemon thread polls the parent pid and calls ``os._exit``.
    """
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass

    def watch() -> None:
        while os.getppid() == parent:  # also catches a parent that died before prctl
            time.sleep(PARENT_POLL_S)
        os._exit(1)

    threading.Thread(target=watch, name="dakd-parent-watchdog", daemon=True).start()


def _decode_worker(conn: Connection, cfg: dict[str, Any], parent: int) -> None:
    """Decode the videos the parent sends, one at a time, until it sends None.

    Every message goes back on this worker's own pipe, so a worker that is killed (a hung
    decoder past its timeout) can only break its own channel: a queue shared between
    workers can be left locked, or holding half a message, by a process killed mid-write.
    """
    _die_with_parent(parent)
    torch.set_num_threads(1)
    while (item := _next_task(conn, parent)) is not None:
        index, path = item
        conn.send(("take", index, None))
        decoder = None
        try:
            decoder = VideoDecoder(path, cfg["snippet_len"], cfg["snippet_stride"], cfg["decode_short_side"],
                                   cfg["decoder"])
            conn.send(("info", index, video_info(decoder)))
            for start, frames in decoder.batches(cfg["batch_snippets"], cfg["resize"]):
                # numpy, not a shared-memory tensor: a recycled worker may exit before the
                # parent unpickles its last batch, and torch's fd sharing needs it alive.
                conn.send(("batch", index, (start, frames)))
            conn.send(("done", index, None))
        except Exception as exc:  # any failure belongs to this video only
            conn.send(("error", index, first_line(exc)))
        finally:
            if decoder is not None:
                decoder.close()
    conn.close()


def video_info(decoder: VideoDecoder) -> dict[str, Any]:
    """The ``info`` event's payload: frame count, frame rate and the snippet plan."""
    plan = decoder.plan
    return {"num_frames": plan.num_frames, "fps": decoder.info.fps, "num_snippets": plan.num_snippets,
            "last_snippet_frames": plan.last_snippet_frames}


def _next_task(conn: Connection, parent: int) -> tuple[int, str] | None:
    """The next (index, path) from the parent, or None to stop; a worker whose parent died stops too."""
    while not conn.poll(5.0):
        if os.getppid() != parent:
            return None
    try:
        return conn.recv()
    except EOFError:
        return None


STARTUP_S = 120.0


@dataclass
class _Worker:
    """A decoding process, its end of the pipe, the video it works on and since when."""

    process: Any
    conn: Connection
    task: int | None = None
    started: float = 0.0
    taken: bool = False  # the worker has said it started on ``task``
    handled: int = 0


class DecodePool:
    """Worker processes decoding a list of videos; yields per-video events in completion order.

    Frames come resized to ``decode_short_side``, or at their stored size with
    ``resize=False`` (for a resize on the GPU).

    Each worker has its own pipe. The parent hands out one video at a time, so a worker
    holds at most one video, and the pipe's buffer bounds what is in flight: a worker
    blocks on its next batch until the parent has read the last one.
    """

    def __init__(self, paths: Sequence[str], cfg: ExtractConfig, resize: bool = True) -> None:
        self.cfg, self.resize = cfg, resize
        self.ctx = mp.get_context("spawn")
        self.queue = list(enumerate(paths))[::-1]  # popped from the end: list order
        self.total = len(paths)
        self.workers: list[_Worker] = []
        for _ in range(min(max(cfg.num_workers, 1), len(paths))):
            self._spawn()

    def _spawn(self) -> None:
        decode = {k: getattr(self.cfg, k) for k in ("snippet_len", "snippet_stride", "decode_short_side",
                                                   "batch_snippets", "decoder")}
        decode["resize"] = self.resize
        ours, theirs = self.ctx.Pipe()
        process = self.ctx.Process(target=_decode_worker, daemon=True, args=(theirs, decode, os.getpid()))
        process.start()
        theirs.close()
        worker = _Worker(process, ours)
        self.workers.append(worker)
        self._assign(worker)

    def _assign(self, worker: _Worker) -> None:
        """Give an idle worker the next video; recycle it after ``videos_per_worker`` (decoders leak)."""
        if not self.queue:
            return
        if worker.handled >= self.cfg.videos_per_worker:
            self._retire(worker, graceful=True)
            return
        worker.task, path = self.queue.pop()
        worker.started, worker.taken = time.monotonic(), False
        worker.conn.send((worker.task, path))

    def _retire(self, worker: _Worker, graceful: bool = False) -> None:
        """Stop a worker (it finishes on its own when ``graceful``; else it is killed) and
        start a fresh one while videos are left."""
        self.workers.remove(worker)
        if graceful:
            try:
                worker.conn.send(None)
            except OSError:
                pass
            worker.process.join(timeout=10)
        if worker.process.is_alive():
            worker.process.kill()
        worker.process.join(timeout=5)
        worker.conn.close()
        if self.queue:
            self._spawn()

    def events(self):
        """Yield (kind, index, payload) until every video is done or failed.

        kinds: ``info`` (decoded size and snippet plan), ``batch`` ((first_snippet, frames)),
        ``done`` and ``error`` (a one-line reason).
        """
        remaining = self.total
        while remaining > 0:
            ready = connection.wait([w.conn for w in self.workers], timeout=1.0)
            for worker in [w for w in self.workers if w.conn in ready]:
                try:
                    kind, index, payload = worker.conn.recv()
                except (EOFError, OSError):  # the process died; its pipe closed with it
                    failed = self._replace_dead(worker)
                    if failed is not None:
                        remaining -= 1
                        yield "error", *failed
                    continue
                # The clock measures a stall: it restarts with every message, so a long video
                # or a parent busy embedding never times out, a decoder stuck in one call does.
                worker.started, worker.taken = time.monotonic(), True
                if kind == "take":
                    continue
                if kind in ("done", "error"):
                    remaining -= 1
                    worker.task, worker.handled = None, worker.handled + 1
                    self._assign(worker)
                yield kind, index, payload
            for index, reason in self._reap_stuck_workers():
                remaining -= 1
                yield "error", index, reason

    def _replace_dead(self, worker: _Worker) -> tuple[int, str] | None:
        worker.process.join(timeout=5)
        task, code = worker.task, worker.process.exitcode
        self._retire(worker)
        return None if task is None else (task, f"decoder process died (exit code {code})")

    def _reap_stuck_workers(self) -> list[tuple[int, str]]:
        """Kill workers past the per-video timeout or dead mid-video; their videos fail."""
        failed = []
        now = time.monotonic()
        for worker in list(self.workers):
            # A fresh process gets STARTUP_S more for its imports (seconds on a loaded machine).
            limit = self.cfg.video_timeout_s + (0 if worker.taken else STARTUP_S)
            if worker.task is not None and now - worker.started > limit:
                task = worker.task
                self._retire(worker)
                failed.append((task, f"decoding stalled: no progress for {self.cfg.video_timeout_s:g} s"))
            elif not worker.process.is_alive() and not worker.conn.poll():
                found = self._replace_dead(worker)
                if found is not None:
                    failed.append(found)
        return failed

    def close(self) -> None:
        for worker in self.workers:
            worker.process.kill()
            worker.process.join(timeout=5)
            worker.conn.close()
        self.workers = []


def decode_here(paths: Sequence[str], cfg: ExtractConfig, device: str) -> Iterator[tuple[str, int, Any]]:
    """:meth:`DecodePool.events` without worker processes: torchcodec decodes in this process
    on ``device`` (``cuda``: NVDEC, frames stay on the GPU as tensors at their stored size).

    There is no per-video timeout here: a stuck hardware decoder stops the run.
    """
    for index, path in enumerate(paths):
        decoder = None
        try:
            decoder = VideoDecoder(path, cfg.snippet_len, cfg.snippet_stride, cfg.decode_short_side, "torchcodec",
                                   device)
            yield "info", index, video_info(decoder)
            for start, frames in decoder.batches(cfg.batch_snippets, resize=False):
                yield "batch", index, (start, frames)
            yield "done", index, None
        except DakdError as exc:
            yield "error", index, first_line(exc)
        finally:
            if decoder is not None:
                decoder.close()
