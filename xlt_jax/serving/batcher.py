"""Dynamic batching: requests that arrive together run through the model together.

Each HTTP request becomes a job (prompts to generate from with one set of sampling
parameters, or sequences to score). A single worker takes the first waiting job, waits
`max_wait_s` for more, groups the jobs by what can share one engine call (generation
jobs with equal SamplingParams; all scoring jobs), and runs each group as one call on
one thread, so the model never runs two batches at once. While a batch runs, new
requests queue up and form the next batch: under load batches fill without any wait.

Why not continuous batching (vLLM's): the engine decodes a whole batch inside one
jitted loop until every row stops, and has no way to put a new row into a free slot
of its KV cache between steps; continuous batching needs exactly that. Dynamic
batching needs only `generate` and keeps each batch's shapes to the engine's
buckets.

Errors are per request: a group whose call fails is run again job by job, so one bad
job fails alone and the others still get their results.
"""

import asyncio
import concurrent.futures
import dataclasses
import threading
import time
from collections.abc import Callable
from typing import Any

from xlt_jax.serving.scoring import TokenScores


@dataclasses.dataclass
class _Job:
  kind: str  # "generate" or "score"
  items: list[list[int]]  # prompts, or sequences to score
  options: Any  # SamplingParams for "generate", k for "score"
  future: asyncio.Future


@dataclasses.dataclass
class BatchStats:
  """Counts since start, for logs and the throughput benchmark."""

  batches: int = 0
  jobs: int = 0
  rows: int = 0
  largest_batch_rows: int = 0
  busy_s: float = 0.0


class DynamicBatcher:
  """Collects concurrent jobs for a few milliseconds and runs them in shared batches.

  Args:
    generate: (prompts, sampling) -> per prompt a list of n completions
      (`InferenceEngine.generate`).
    score: (sequences, k) -> list[TokenScores] (`scoring.score_sequences` bound to a model).
    max_wait_s: how long the first job of a batch waits for others.
    max_batch_rows: most prompts or sequences in one engine call (more wait for the next).
  """

  def __init__(self, generate: Callable, score: Callable[[list[list[int]], int], list[TokenScores]],
               max_wait_s: float = 0.005, max_batch_rows: int = 64):
    self._generate, self._score = generate, score
    self._max_wait_s, self._max_batch_rows = max_wait_s, max_batch_rows
    self._queue: asyncio.Queue | None = None
    self._worker: asyncio.Task | None = None
    # One thread: the model runs one batch at a time, off the event loop.
    self._executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="xlt-batch")
    self._lock = threading.Lock()
    self.stats = BatchStats()

  def start(self) -> None:
    """Starts the worker on the running event loop (call from the server's startup)."""
    self._queue = asyncio.Queue()
    self._worker = asyncio.get_running_loop().create_task(self._run())

  async def stop(self) -> None:
    if self._worker is not None:
      self._worker.cancel()
    self._executor.shutdown(wait=False)

  async def generate(self, prompts: list[list[int]], sampling) -> list[list[Any]]:
    """Per prompt the engine's n completions (one engine call shared with other requests)."""
    return await self._submit("generate", prompts, sampling)

  async def score(self, sequences: list[list[int]], k: int) -> list[TokenScores]:
    """Per sequence its token scores with k alternatives per position."""
    return await self._submit("score", sequences, k)

  async def _submit(self, kind: str, items: list[list[int]], options) -> list:
    if self._queue is None:
      raise RuntimeError("DynamicBatcher.start() was not called")
    future = asyncio.get_running_loop().create_future()
    await self._queue.put(_Job(kind, items, options, future))
    return await future

  async def _collect(self) -> list[_Job]:
    jobs = [await self._queue.get()]
    rows = len(jobs[0].items)
    deadline = time.monotonic() + self._max_wait_s
    while rows < self._max_batch_rows:
      try:
        if self._queue.empty():
          timeout = deadline - time.monotonic()
          if timeout <= 0:
            break
          job = await asyncio.wait_for(self._queue.get(), timeout)
        else:
          job = self._queue.get_nowait()
      except TimeoutError:
        break
      jobs.append(job)
      rows += len(job.items)
    return jobs

  async def _run(self) -> None:
    loop = asyncio.get_running_loop()
    while True:
      jobs = await self._collect()
      groups: dict[Any, list[_Job]] = {}
      for job in jobs:
        # SamplingParams need not be hashable; equal ones print equally.
        key = (job.kind,) if job.kind == "score" else (job.kind, repr(job.options))
        groups.setdefault(key, []).append(job)
      for group in groups.values():
        await loop.run_in_executor(self._executor, self._run_group, loop, group)

  def _call(self, jobs: list[_Job]) -> list:
    items = [item for job in jobs for item in job.items]
    if jobs[0].kind == "score":
      return self._score(items, max(job.options for job in jobs))
    return self._generate(items, jobs[0].options)

  def _run_group(self, loop: asyncio.AbstractEventLoop, jobs: list[_Job]) -> None:
    """Runs on the batch thread; hands each job its slice of the results, or its error."""
    start = time.perf_counter()
    try:
      results = self._call(jobs)
      outcomes = []
      for job in jobs:
        outcomes.append((job, results[:len(job.items)], None))
        results = results[len(job.items):]
    except Exception as error:  # noqa: BLE001 (any failure is this request's error)
      if len(jobs) == 1:
        outcomes = [(jobs[0], None, error)]
      else:  # find the job that failed: the others still get their results
        for job in jobs:
          self._run_group(loop, [job])
        return
    with self._lock:
      stats = self.stats
      stats.batches += 1
      stats.jobs += len(jobs)
      rows = sum(len(job.items) for job in jobs)
      stats.rows += rows
      stats.largest_batch_rows = max(stats.largest_batch_rows, rows)
      stats.busy_s += time.perf_counter() - start
    for job, result, error in outcomes:
      loop.call_soon_threadsafe(_settle, job.future, result, error)


def _settle(future: asyncio.Future, result, error) -> None:
  if future.cancelled():  # the client went away
    return
  if error is not None:
    future.set_exception(error)
  else:
    future.set_result(result)
