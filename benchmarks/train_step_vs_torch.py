"""Train-step throughput of xlt-jax against PyTorch eager on this machine's CPU.

One ~110M-parameter Llama-style model (hidden 768, 12 layers, 12 heads, MLP 2048,
vocab 32000, tied embeddings, sequence 512) is built with `transformers`
(`LlamaForCausalLM`) and converted into xlt-jax with `xlt_jax.models.hf_params`, so both
frameworks start from the same weights. One step is forward, backward, global-norm
clipping at 1.0 and an AdamW update, on the mean next-token cross-entropy over every
token. For each precision (fp32; bf16 compute over fp32 master weights, which is
torch's bf16 autocast) each framework runs in a process of its own and the parent
asks them for steps alternately, in blocks (xlt xlt xlt torch torch torch ...), after
warm-up steps; the median tokens/s of each and their ratio are reported. The same run measures this
machine's matmul peak (a large jitted dot in each precision: fp32, and bf16 inputs
with fp32 accumulation) and reports our step's achieved FLOP/s, from the analytic
count in `xlt_jax.models.flops`, as a fraction of it. Prints one JSON object (with the
CPU it ran on: "machine", from `machine_info.describe_machine`), then a one-line
summary per precision naming that CPU; progress goes to stderr.

    python benchmarks/train_step_vs_torch.py [--steps 6] [--block 3] [--batch 1] [--warmup 1]
        [--precisions fp32,bf16] [--peak_size 2048] [--layers 12 --embed 768 --heads 12 --mlp 2048
        --vocab 32000 --length 512] [--launch_malloc both|xlt|none] [--scan_unroll 0]
        [--out r.json]

Both frameworks run under the same allocator by default (`--launch_malloc both`): the
one `python -m xlt_jax.launch` restarts itself under, mimalloc that never returns memory
to the OS, on huge pages (see `xlt_jax.training.host_memory`; glibc's huge-page tunable where
mimalloc is missing). With glibc's default malloc torch's step maps fresh memory every
step (measured: 170k page faults and 0.4-0.6 s of system time per bf16 step, 1.6-1.9 s
against 1.25-1.4 s); `--launch_malloc xlt` measures that case, each framework as its
users start it. `none` gives the launcher's allocator to neither. Each worker reports
the allocator settings it started with ("worker_malloc" in each result).

xlt runs the model with its layer loop unrolled (`ModelConfig.scan_unroll`, `--scan_unroll`,
default all layers): on this CPU the scanned loop's stacking of residuals and gradients
cost about 0.1 s of a 1.45 s bfloat16 step.
"""

import argparse
import json
import multiprocessing
import os
import resource
import statistics
import subprocess
import sys
import time

os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

# Benchmark the checkout this file lives in, whatever xlt_jax the environment installed
# (a script's own folder, not the working directory, heads sys.path).
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import machine_info  # noqa: E402  (benchmarks/, the script's own folder)
import numpy as np  # noqa: E402
import torch  # noqa: E402
import transformers  # noqa: E402

# Set in the torch worker's environment: that process imports no JAX. Importing JAX and
# TensorFlow (through xlt_jax) into a process made torch's own fp32 step faster on this
# machine (2.58 -> 2.34 s, measured alone), which no PyTorch user's process sees.
WORKER_VARIABLE = "XLT_BENCHMARK_WORKER"
TORCH_ONLY = os.environ.get(WORKER_VARIABLE) == "torch"
if not TORCH_ONLY:
  import jax
  import jax.numpy as jnp

  import xlt_jax
  from xlt_jax.core.atomic_io import write_text
  from xlt_jax.models import flops, hf_config, hf_params
  from xlt_jax.models.decoder import parameter_count
  from xlt_jax.training import host_memory, sharding
  from xlt_jax.training.train_step import OptimizerConfig, build

# One optimizer for both frameworks (torch.optim.AdamW takes the same numbers).
OPTIMIZER = dict(learning_rate=1e-4, b1=0.9, b2=0.95, weight_decay=0.1, gradient_clip_norm=1.0)
# Our model dtype for each precision; torch runs the same precision through autocast.
PRECISIONS = {"fp32": "float32", "bf16": "bfloat16"}


def _hf_config(args: argparse.Namespace) -> dict:
  return dict(model_type="llama", vocab_size=args.vocab, hidden_size=args.embed,
              intermediate_size=args.mlp, num_hidden_layers=args.layers,
              num_attention_heads=args.heads, num_key_value_heads=args.heads,
              head_dim=args.embed // args.heads, rms_norm_eps=1e-6, rope_theta=10_000.0,
              tie_word_embeddings=True, max_position_embeddings=max(2048, args.length))


def _median_seconds(step, repeats: int) -> float:
  step()  # warm-up (and compilation)
  times = []
  for _ in range(repeats):
    start = time.perf_counter()
    step()
    times.append(time.perf_counter() - start)
  return statistics.median(times)


def matmul_peaks(size: int, repeats: int = 5) -> dict[str, float]:
  """FLOP/s of one large square matmul, per precision and framework (the machine's peak)."""
  flop = 2.0 * size**3
  a = jax.random.normal(jax.random.key(0), (size, size), jnp.float32)
  b16 = a.astype(jnp.bfloat16)
  fp32_dot = jax.jit(lambda x, y: x @ y)
  bf16_dot = jax.jit(lambda x, y: jnp.matmul(x, y, preferred_element_type=jnp.float32))
  bf16_to_bf16_dot = jax.jit(lambda x, y: x @ y)
  t = torch.randn(size, size)
  t16 = t.bfloat16()
  return {
      "jax_fp32": flop / _median_seconds(lambda: fp32_dot(a, a).block_until_ready(), repeats),
      "jax_bf16_in_fp32_accumulate": flop / _median_seconds(
          lambda: bf16_dot(b16, b16).block_until_ready(), repeats),
      "jax_bf16_in_bf16_out": flop / _median_seconds(
          lambda: bf16_to_bf16_dot(b16, b16).block_until_ready(), repeats),
      "torch_fp32": flop / _median_seconds(lambda: t @ t, repeats),
      "torch_bf16": flop / _median_seconds(lambda: t16 @ t16, repeats),
  }


class TorchStep:
  """Forward, backward, clip and fused AdamW step of `transformers`' LlamaForCausalLM."""

  def __init__(self, model: torch.nn.Module, autocast_bf16: bool):
    self.model = model
    self.autocast_bf16 = autocast_bf16
    # fused=True is torch's fastest AdamW on CPU; the comparison is against its best.
    self.optimizer = torch.optim.AdamW(
        model.parameters(), lr=OPTIMIZER["learning_rate"],
        betas=(OPTIMIZER["b1"], OPTIMIZER["b2"]), weight_decay=OPTIMIZER["weight_decay"],
        fused=True)

  def __call__(self, inputs: torch.Tensor, targets: torch.Tensor) -> float:
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.autocast_bf16):
      logits = self.model(input_ids=inputs).logits
    loss = torch.nn.functional.cross_entropy(
        logits.float().reshape(-1, logits.shape[-1]), targets.reshape(-1))
    loss.backward()
    torch.nn.utils.clip_grad_norm_(self.model.parameters(), OPTIMIZER["gradient_clip_norm"])
    self.optimizer.step()
    self.optimizer.zero_grad(set_to_none=True)
    return float(loss.detach())


class XltStep:
  """The jitted, sharded train step of xlt-jax on a one-device mesh, same weights."""

  def __init__(self, hf: dict, state_dict: dict, dtype: str, scan_unroll: int):
    self.config = hf_config.model_config_from_hf(hf, dtype=dtype, param_dtype="float32",
                                                 scan_unroll=scan_unroll)
    mesh = sharding.make_mesh(sharding.MeshConfig(1, 1, 1), jax.devices()[:1])
    self.functions = build(self.config, OptimizerConfig(**OPTIMIZER), mesh)
    tensors = {name: value.float().numpy() for name, value in state_dict.items()}
    params = hf_params.params_from_hf(self.config, set(tensors), tensors.__getitem__)
    self.state = self.functions.init_from_params(params)

  def __call__(self, batch: dict) -> float:
    self.state, metrics = self.functions.train_step(self.state, batch)
    return float(metrics["loss"])  # blocks until the step is done


def _tokens(args: argparse.Namespace) -> np.ndarray:
  generator = np.random.default_rng(0)
  return generator.integers(0, args.vocab, (args.batch, args.length + 1), dtype=np.int64)


def _worker(framework: str, precision: str, args: argparse.Namespace, hf: dict,
            connection) -> None:
  """One framework in its own process: builds its step, then runs one per request.

  Each framework gets a process of its own so that neither's thread pools (XLA's
  spin-waiting workers, torch's OpenMP team) slow the other down; the parent
  alternates requests between the two, so both see the same machine load. Its first
  message is the allocator settings it actually started with.
  """
  connection.send({name: os.environ.get(name) for name in MALLOC_VARIABLES})
  torch.manual_seed(0)  # the same random weights in both processes
  torch_model = transformers.LlamaForCausalLM(transformers.LlamaConfig(**hf))
  tokens = _tokens(args)
  inputs, targets = tokens[:, :-1], tokens[:, 1:]
  if framework == "xlt":
    xlt = XltStep(hf, torch_model.state_dict(), PRECISIONS[precision], args.scan_unroll)
    del torch_model
    batch = jax.device_put({
        "decoder_input_tokens": inputs.astype(np.int32),
        "decoder_target_tokens": targets.astype(np.int32),
        "decoder_loss_weights": np.ones_like(inputs, np.int32),
    }, xlt.functions.batch_sharding)
    step = lambda: xlt(batch)  # noqa: E731
  else:
    torch_model.train()
    torch_step = TorchStep(torch_model, autocast_bf16=precision == "bf16")
    torch_inputs, torch_targets = torch.from_numpy(inputs), torch.from_numpy(targets)
    step = lambda: torch_step(torch_inputs, torch_targets)  # noqa: E731
  while connection.recv() == "step":
    start = time.perf_counter()
    loss = step()
    connection.send((time.perf_counter() - start, loss))
  connection.close()


# Average cores other processes may use during the run before its ratio is flagged.
OTHER_PROCESSES_TOLERANCE = 0.25
LAUNCH_MALLOC_CHOICES = {"xlt": ("xlt",), "both": ("xlt", "torch"), "none": ()}
# The environment variables that choose a worker's allocator.
MALLOC_VARIABLES = ("LD_PRELOAD", "GLIBC_TUNABLES", "MIMALLOC_PURGE_DELAY")


def worker_environment(framework: str, launch_malloc: str,
                       base: dict[str, str]) -> dict[str, str]:
  """The environment a worker starts with (allocators are chosen at start-up): `base`
  (the benchmark's own environment), plus the launcher's allocator where chosen."""
  environment = {**base, WORKER_VARIABLE: framework}
  if framework in LAUNCH_MALLOC_CHOICES[launch_malloc]:
    environment = host_memory.environment_with_huge_page_malloc(
        environment, host_memory.mimalloc_library()) or environment
  return environment


def run_precision(args: argparse.Namespace, precision: str, hf: dict) -> dict:
  """Times both frameworks alternately in one precision; returns the figures."""
  context = multiprocessing.get_context("spawn")
  # Spawned children inherit os.environ as it is when each starts. Each worker's
  # environment derives from the saved one: derived from os.environ as the previous
  # worker left it, the torch worker once inherited the xlt worker's allocator.
  saved_environment = dict(os.environ)
  connections, processes = {}, []
  try:
    for framework in ("xlt", "torch"):
      environment = worker_environment(framework, args.launch_malloc, saved_environment)
      os.environ.clear()
      os.environ.update(environment)
      parent_end, child_end = context.Pipe()
      process = context.Process(target=_worker, args=(framework, precision, args, hf, child_end))
      process.start()
      connections[framework] = parent_end
      processes.append(process)
  finally:
    os.environ.clear()
    os.environ.update(saved_environment)

  def step(framework: str) -> tuple[float, float]:
    connections[framework].send("step")
    return connections[framework].recv()

  try:
    malloc = {framework: connection.recv() for framework, connection in connections.items()}
    # The first step of each starts from the same weights: the losses must agree.
    first = {framework: step(framework) for framework in connections}
    for _ in range(args.warmup):
      for framework in connections:
        step(framework)
    seconds: dict[str, list[float]] = {"xlt": [], "torch": []}
    # Blocks of consecutive steps per framework, the frameworks taking turns. Step by
    # step alternation made each framework's first allocations after the other's
    # step pay for the kernel's compaction of the memory the other had just released:
    # measured, xlt's fp32 step took 0.07 s of system time alone and 1.3-1.6 s right
    # after a torch step (both with huge-page malloc).
    rounds = -(-args.steps // args.block)
    for round_index in range(rounds):
      for framework in connections:
        for _ in range(args.block):
          seconds[framework].append(step(framework)[0])
      print(f"  {precision} round {round_index + 1}/{rounds}:"
            f" xlt {' '.join(f'{value:.2f}' for value in seconds['xlt'][-args.block:])} s,"
            f" torch {' '.join(f'{value:.2f}' for value in seconds['torch'][-args.block:])} s",
            file=sys.stderr, flush=True)
  finally:
    for connection in connections.values():
      connection.send("stop")
    for process in processes:
      process.join()

  tokens_per_step = args.batch * args.length
  config = hf_config.model_config_from_hf(hf, dtype=PRECISIONS[precision], param_dtype="float32")
  median = {name: statistics.median(values) for name, values in seconds.items()}
  tokens_per_second = {name: tokens_per_step / value for name, value in median.items()}
  flop_per_step = flops.training_flops_per_token(config, args.length) * tokens_per_step
  return {
      "precision": precision,
      "xlt_dtype": config.dtype, "xlt_param_dtype": config.param_dtype,
      "xlt_scan_unroll": args.scan_unroll,
      "worker_malloc": malloc,
      "torch": "fp32" if precision == "fp32" else "torch.autocast(cpu, bfloat16), fp32 params",
      "first_step_loss": {name: round(value[1], 6) for name, value in first.items()},
      "first_step_seconds": {name: round(value[0], 2) for name, value in first.items()},
      "step_seconds": {name: [round(value, 4) for value in values]
                       for name, values in seconds.items()},
      "median_step_seconds": {name: round(value, 4) for name, value in median.items()},
      "tokens_per_second": {name: round(value, 1) for name, value in tokens_per_second.items()},
      "xlt_over_torch": round(tokens_per_second["xlt"] / tokens_per_second["torch"], 3),
      "analytic_flop_per_step": flop_per_step,
      "achieved_flops": {name: flop_per_step / value for name, value in median.items()},
  }


def _cpu_seconds() -> tuple[float, float] | None:
  """(CPU seconds every process on the machine has used, CPU seconds this benchmark and
  its finished workers have used), or None where /proc/stat is missing."""
  try:
    with open("/proc/stat") as file:
      fields = [int(value) for value in file.readline().split()[1:]]
  except (OSError, ValueError):
    return None
  # user nice system idle iowait irq softirq steal ...: everything but idle and iowait.
  machine = (sum(fields[:8]) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")
  own = sum(getattr(resource.getrusage(who), field)
            for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
            for field in ("ru_utime", "ru_stime"))
  return machine, own


def _load_average() -> list[float]:
  return [round(value, 2) for value in os.getloadavg()]


def _commit() -> str | None:
  try:
    return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                          text=True, check=True, cwd=os.path.dirname(__file__)).stdout.strip()
  except (OSError, subprocess.CalledProcessError):
    return None


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--steps", type=int, default=6,
                      help="timed steps per framework (rounded up to whole blocks)")
  parser.add_argument("--warmup", type=int, default=1, help="untimed steps after the first")
  parser.add_argument("--block", type=int, default=3,
                      help="consecutive steps of one framework before the other's turn")
  parser.add_argument("--batch", type=int, default=1, help="sequences per step")
  parser.add_argument("--length", type=int, default=512)
  parser.add_argument("--layers", type=int, default=12)
  parser.add_argument("--embed", type=int, default=768)
  parser.add_argument("--heads", type=int, default=12)
  parser.add_argument("--mlp", type=int, default=2048)
  parser.add_argument("--vocab", type=int, default=32000)
  parser.add_argument("--precisions", default="fp32,bf16",
                      help=f"comma-separated, from {sorted(PRECISIONS)}")
  parser.add_argument("--peak_size", type=int, default=2048, help="side of the peak matmul")
  parser.add_argument("--launch_malloc", default="both", choices=sorted(LAUNCH_MALLOC_CHOICES),
                      help="workers started with xlt_jax.launch's allocator (host_memory)")
  parser.add_argument("--scan_unroll", type=int, default=0,
                      help="ModelConfig.scan_unroll of the xlt model (0: all layers)")
  parser.add_argument("--out", default=None, help="also write the JSON here")
  args = parser.parse_args()
  precisions = args.precisions.split(",")
  unknown = [name for name in precisions if name not in PRECISIONS]
  if unknown or args.steps < 1 or args.block < 1 or args.embed % args.heads:
    print(f"error: bad arguments: precisions {unknown or 'ok'}, steps {args.steps} and block"
          f" {args.block} must be at least 1, embed {args.embed} must be a multiple of heads"
          f" {args.heads}", file=sys.stderr)
    sys.exit(2)
  args.scan_unroll = args.scan_unroll or args.layers

  load_before, cpu_before, start = _load_average(), _cpu_seconds(), time.perf_counter()
  hf = _hf_config(args)
  config = hf_config.model_config_from_hf(hf)
  # Measured before and after the steps; the higher of the two is the machine's peak
  # (on a shared machine, load that comes and goes only ever lowers a measurement).
  peaks_before = matmul_peaks(args.peak_size)
  results = [run_precision(args, precision, hf) for precision in precisions]
  peaks_after = matmul_peaks(args.peak_size)
  peaks = {name: max(peaks_before[name], peaks_after[name]) for name in peaks_before}
  # Our step in a precision against the peak of the dot our step uses in it.
  peak_key = {"fp32": "jax_fp32", "bf16": "jax_bf16_in_fp32_accumulate"}
  for result in results:
    peak = peaks[peak_key[result["precision"]]]
    result["xlt_fraction_of_matmul_peak"] = round(result["achieved_flops"]["xlt"] / peak, 3)
    result["torch_fraction_of_matmul_peak"] = round(result["achieved_flops"]["torch"] / peak, 3)
    result["achieved_flops"] = {name: round(value / 1e9, 1) for name, value in
                                result["achieved_flops"].items()}  # GFLOP/s
  summary = {
      "benchmark": "train_step_vs_torch", "commit": _commit(),
      "xlt_jax": os.path.dirname(xlt_jax.__file__),
      "device": f"{jax.devices()[0].device_kind} x{os.cpu_count()} cores",
      "machine": machine_info.describe_machine(),  # the CPU every figure here is from
      "jax": jax.__version__, "torch": torch.__version__,
      "torch_threads": torch.get_num_threads(),
      "load_average_before": load_before, "load_average_after": _load_average(),
      "model": {"hf_config": hf, "parameters": parameter_count(config),
                "batch": args.batch, "length": args.length,
                "tokens_per_step": args.batch * args.length,
                "loss": "mean next-token cross-entropy over every token",
                "optimizer": "global-norm clip 1.0, AdamW(lr 1e-4, b 0.9/0.95, wd 0.1)"},
      "matmul_peak_gflops": {name: round(value / 1e9, 1) for name, value in peaks.items()},
      "matmul_gflops_before_and_after": {
          name: [round(peaks_before[name] / 1e9, 1), round(peaks_after[name] / 1e9, 1)]
          for name in peaks},
      "results": results,
  }
  # Other processes on the cores make torch's OpenMP team (which spin-waits at barriers)
  # several times slower while XLA's step slows about in proportion: a ratio measured
  # then says little about either framework. Measured: at load ~4 on 2 cores torch's
  # fp32 step took 16.4 s against 2.4 s at load ~2. The load average cannot tell, as the
  # benchmark's own two threads make it ~2; the CPU time of every other process can.
  cpu_after, seconds = _cpu_seconds(), time.perf_counter() - start
  if cpu_before is not None and cpu_after is not None:
    others = ((cpu_after[0] - cpu_before[0]) - (cpu_after[1] - cpu_before[1])) / seconds
    summary["other_processes_cores"] = round(max(others, 0.0), 2)
    busy = others > OTHER_PROCESSES_TOLERANCE
  else:
    busy = max(load_before[0], summary["load_average_after"][0]) > os.cpu_count() + 1
  summary["machine_oversubscribed"] = busy
  line = json.dumps(summary)
  print(line)
  if busy:
    print(f"warning: other processes kept {summary.get('other_processes_cores', '?')} cores"
          f" busy on average (load average {load_before[0]} / "
          f"{summary['load_average_after'][0]}, {os.cpu_count()} cores): the xlt/torch ratio is"
          " not representative", file=sys.stderr, flush=True)
  for result in results:
    print(f"{result['precision']}: xlt {result['tokens_per_second']['xlt']:.0f} tokens/s,"
          f" torch {result['tokens_per_second']['torch']:.0f} tokens/s,"
          f" xlt/torch {result['xlt_over_torch']:.2f}x; xlt {result['achieved_flops']['xlt']}"
          f" GFLOP/s = {result['xlt_fraction_of_matmul_peak']:.0%} of the"
          f" {peak_key[result['precision']]} matmul peak (--launch_malloc {args.launch_malloc})"
          f" on {machine_info.describe_briefly(summary['machine'])}", flush=True)
  if args.out:
    write_text(args.out, line + "\n")


if __name__ == "__main__":
  main()
