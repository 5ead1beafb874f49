"""Training metrics: one JSON line per logged step, TensorBoard scalars, a progress line
with the run's estimated time to go (a bar redrawn in place on a terminal)."""

import json
import sys
import time
from typing import Callable

from xlt_jax.core import atomic_io, paths
from xlt_jax.core.errors import DataFormatError
from xlt_jax.core.progress import ProgressLine, RateEstimate, draw_bar, format_duration

METRICS_FILE = "metrics.jsonl"


class MetricsLog:
  """Appends metrics to `<run_dir>/metrics.jsonl` and TensorBoard; prints progress.

  Every progress line carries the run's ETA: the steps left at the step rate measured
  since `first_step_done` (the first step, which compiles, is not a rate: its time is
  logged as `compile_seconds` with the next logged step, and steps/s and tokens/s count
  from its end), or since the first logged step when that is never called. Where `stream` is a terminal (or with
  `bar=True`) progress is one bar redrawn in place, advanced by `show_step` whenever
  `bar_due`, with validation losses as lines above it; elsewhere it is one line per
  logged step.

  Files are opened by `open()`, not by the constructor. With `enabled=False` (every
  process but the primary one of a multi-host run) it writes and prints nothing.
  """

  def __init__(self, run_dir: str, run_name: str, total_steps: int, stream=sys.stdout,
               flops_per_step: float | None = None, num_chips: int = 1,
               peak_flops_per_chip: float | None = None, enabled: bool = True,
               start_step: int = 0, bar: bool | None = None,
               clock: Callable[[], float] = time.perf_counter, redraw_seconds: float = 0.5):
    self.run_dir = run_dir
    self.run_name = run_name
    self.total_steps = total_steps
    self.stream = stream
    self.flops_per_step = flops_per_step  # analytic, all positions of the global batch
    self.num_chips = num_chips
    self.peak_flops_per_chip = peak_flops_per_chip  # None where unknown: no MFU
    self.enabled = enabled
    self._jsonl = None
    self._tensorboard = None
    self._last_time = None
    self._last_step = start_step  # a resumed run's first rate counts from its restored step
    self._tokens_since = 0
    self.clock = clock
    self._eta = RateEstimate(total_steps, clock)
    self._line = ProgressLine(stream, bar)
    self.redraw_seconds = redraw_seconds  # bar mode: the bar is redrawn at most this often
    self._last_redraw = None
    self._status = ""  # bar mode: loss and throughput of the latest logged step
    self._compile_seconds = None  # the first step's time, until a logged step records it

  def open(self) -> "MetricsLog":
    import tensorflow as tf  # heavy import, only when logging starts

    if not self.enabled:
      return self
    paths.makedirs(self.run_dir)
    # On an object store every flush uploads the whole file again (no appends there):
    # fine for a metrics file of a few thousand lines. tf.summary reads gs:// itself.
    self._jsonl = paths.open(paths.join(self.run_dir, METRICS_FILE), "a", encoding="utf-8")
    self._tensorboard = tf.summary.create_file_writer(paths.join(self.run_dir, "tensorboard"))
    self._last_time = self.clock()
    return self

  def close(self) -> None:
    self._line.finish()
    if self._jsonl:
      self._jsonl.close()
      self._tensorboard.close()

  @property
  def bar(self) -> bool:
    return self._line.bar

  def first_step_done(self, step: int, compile_seconds: float | None = None) -> None:
    """Starts the ETA's clock and the throughput's: call once the run's first step
    (compilation included) has finished on the device; `compile_seconds`, its time, goes
    into the next logged step's record."""
    self._eta.update(step)
    self._compile_seconds = compile_seconds
    self._last_time, self._last_step, self._tokens_since = self.clock(), step, 0

  def eta_seconds(self, step: int) -> float | None:
    """Seconds left after `step` at the measured rate; None until it is measured."""
    return self._eta.remaining_seconds(step)

  def bar_due(self) -> bool:
    """Bar mode: whether `redraw_seconds` have passed since the bar was last drawn."""
    if not (self.enabled and self.bar):
      return False
    return self._last_redraw is None or self.clock() - self._last_redraw >= self.redraw_seconds

  def show_step(self, step: int) -> None:
    """Bar mode: records that `step` has finished on the device and redraws the bar."""
    if self.enabled and self.bar:
      self._eta.update(step)
      self._redraw(step)

  def _redraw(self, step: int) -> None:
    self._last_redraw = self.clock()
    eta = format_duration(self.eta_seconds(step))
    self._line.show(f"[{self.run_name}] {draw_bar(step, self.total_steps)}"
                    f" {step}/{self.total_steps} eta {eta}{self._status}")

  def count_tokens(self, tokens: int) -> None:
    self._tokens_since += tokens

  def write(self, step: int, metrics: dict[str, float]) -> None:
    """Records metrics of `step`; adds steps/s and tokens/s since the previous write."""
    import tensorflow as tf

    if not self.enabled:
      return

    now = self.clock()
    elapsed = max(now - self._last_time, 1e-9)
    record = {"step": step, **{key: float(value) for key, value in metrics.items()}}
    if self._compile_seconds is not None and "loss" in metrics:
      record["compile_seconds"], self._compile_seconds = self._compile_seconds, None
    if step > self._last_step and "loss" in metrics:
      record["steps_per_second"] = (step - self._last_step) / elapsed
      record["tokens_per_second"] = self._tokens_since / elapsed
      record["tokens_per_second_per_chip"] = record["tokens_per_second"] / self.num_chips
      if self.flops_per_step:
        flops_per_chip = self.flops_per_step * record["steps_per_second"] / self.num_chips
        record["tflops_per_second_per_chip"] = flops_per_chip / 1e12
        if self.peak_flops_per_chip:
          record["mfu"] = flops_per_chip / self.peak_flops_per_chip
      self._last_time, self._last_step, self._tokens_since = now, step, 0
    if "loss" in metrics:
      self._eta.update(step)  # the first call starts the clock if first_step_done did not
    self._jsonl.write(json.dumps(record) + "\n")
    self._jsonl.flush()
    with self._tensorboard.as_default(step=step):
      for key, value in record.items():
        if key != "step":
          tf.summary.scalar(key, value)
    self._tensorboard.flush()
    self._print(record)

  def _print(self, record: dict) -> None:
    step = record["step"]
    eta = f"eta {format_duration(self.eta_seconds(step))}"
    parts = []
    if "loss" in record:
      parts.append(f"loss {record['loss']:.4f}")
    if "validation_loss" in record:
      parts.append(f"validation loss {record['validation_loss']:.4f}")
    if "compile_seconds" in record:
      parts.append(f"first step {record['compile_seconds']:.1f}s (compilation)")
    if "steps_per_second" in record:
      parts.append(
          f"{record['steps_per_second']:.1f} steps/s {record['tokens_per_second']:,.0f} tokens/s"
      )
    if "tflops_per_second_per_chip" in record:
      parts.append(f"{record['tflops_per_second_per_chip']:.3g} TFLOP/s/chip"
                   + (f" MFU {record['mfu']:.1%}" if "mfu" in record else ""))
    if self.bar and "loss" in record:  # the bar, now with this step's loss and throughput
      self._status = "".join(f" | {part}" for part in parts)
      self._redraw(step)
    else:  # a line (in bar mode a validation loss, kept on screen above the bar)
      self._line.print(" | ".join([f"[{self.run_name}] step {step}/{self.total_steps} {eta}",
                                   *parts]))


def keep_records_until(run_dir: str, last_step: int) -> list[dict]:
  """Rewrites `<run_dir>/metrics.jsonl` atomically without the records past `last_step`
  (logged by an attempt after its last checkpoint, which a resumed run logs again) and
  returns the records kept. A torn last line (a kill mid-write) is dropped too."""
  path = paths.join(run_dir, METRICS_FILE)
  if not paths.isfile(path):
    return []
  with paths.open(path, encoding="utf-8") as file:
    lines = file.read().splitlines()
  kept = []
  for number, line in enumerate(lines, start=1):
    try:
      record = json.loads(line)
    except json.JSONDecodeError:
      if number == len(lines):
        break
      raise DataFormatError(f"{path}:{number}: not a JSON record") from None
    if record["step"] <= last_step:
      kept.append(record)
  atomic_io.write_jsonl(path, kept)
  return kept


def keep_tensorboard_events_until(run_dir: str, last_step: int) -> int:
  """Rewrites each event file under `<run_dir>/tensorboard` without the events past
  `last_step` (logged by an attempt after its last checkpoint, which a resumed run logs
  again), each file replaced atomically; returns how many events were dropped. A torn
  last record (a kill mid-write) is dropped too."""
  import tensorflow as tf

  directory = paths.join(run_dir, "tensorboard")
  if not paths.isdir(directory):
    return 0
  dropped = 0
  for name in sorted(paths.listdir(directory)):
    path = paths.join(directory, name)
    if not name.startswith("events.out.tfevents.") or not paths.isfile(path):
      continue
    kept, torn, past = [], False, 0
    try:
      for record in tf.data.TFRecordDataset(path):
        if tf.compat.v1.Event.FromString(record.numpy()).step <= last_step:
          kept.append(record.numpy())  # and the file_version event (step 0)
        else:
          past += 1
    except tf.errors.DataLossError:
      torn = True
    if torn or past:
      temporary = paths.join(directory, ".tmp-" + name)
      with tf.io.TFRecordWriter(temporary) as writer:
        for record in kept:
          writer.write(record)
      paths.replace(temporary, path)
    dropped += past
  return dropped
