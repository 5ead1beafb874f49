"""The machine a benchmark ran on, recorded in its JSON so that figures name their CPU.

CPU figures differ several-fold between CPUs of the same core count (a bf16 matmul
runs on AMX on Sapphire Rapids, on AVX-512 BF16 on Zen 4), so every benchmark in
this folder writes `describe_machine()` into its output.
"""

import os
import platform

# Instruction-set extensions that decide the fp32 and bf16 matmul paths of XLA and torch.
FLAGS_OF_NOTE = ("avx2", "avx512f", "avx512_bf16", "avx512_fp16", "avx_vnni", "amx_bf16",
                 "amx_tile")


def read_cpuinfo(path: str = "/proc/cpuinfo") -> list[dict[str, str]]:
  """The processors listed in a /proc/cpuinfo file, each as its `key: value` fields; []
  where the file is missing or unreadable (not Linux)."""
  try:
    with open(path, encoding="utf-8", errors="replace") as file:
      text = file.read()
  except OSError:
    return []
  processors = []
  for block in text.split("\n\n"):
    fields = {}
    for line in block.splitlines():
      key, separator, value = line.partition(":")
      if separator:
        fields[key.strip()] = value.strip()
    if fields:
      processors.append(fields)
  return processors


def cpu_model(processors: list[dict[str, str]]) -> str:
  """The CPU's marketing name (/proc/cpuinfo `model name`), else `platform.processor()`,
  else the architecture (`platform.machine()`); never empty."""
  for fields in processors:
    if fields.get("model name"):
      return fields["model name"]
  return platform.processor() or platform.machine() or "unknown CPU"


def describe_machine(cpuinfo_path: str = "/proc/cpuinfo") -> dict:
  """The CPU and its core counts, as JSON-ready values.

  Returns:
    `cpu_model` (never empty), `cpu_vendor` and `cpu_family_model` ("6/143"; a virtual
    machine's model name can be generic, its family and model numbers less so), the
    `cpu_flags` of FLAGS_OF_NOTE present, `physical_cores` (None where unknown),
    `logical_cpus` (os.cpu_count), `usable_cpus` (this process's CPU affinity),
    `virtual_machine` (the `hypervisor` flag) and `platform`.
  """
  processors = read_cpuinfo(cpuinfo_path)
  first = processors[0] if processors else {}
  flags = set(first.get("flags", "").split())
  cores = {(fields.get("physical id"), fields["core id"]) for fields in processors
           if "core id" in fields}
  family, model = first.get("cpu family"), first.get("model")
  usable = (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
            else os.cpu_count())
  return {
      "cpu_model": cpu_model(processors),
      "cpu_vendor": first.get("vendor_id"),
      "cpu_family_model": f"{family}/{model}" if family and model else None,
      "cpu_flags": [flag for flag in FLAGS_OF_NOTE if flag in flags],
      "physical_cores": len(cores) or None,
      "logical_cpus": os.cpu_count(),
      "usable_cpus": usable,
      "virtual_machine": "hypervisor" in flags,
      "platform": platform.platform(),
  }


def describe_briefly(machine: dict) -> str:
  """'AMD EPYC 9R14 96-Core Processor, 2 cores': `describe_machine()` in a summary line
  (', N usable' where this process may use fewer CPUs than the machine has)."""
  text = f"{machine['cpu_model']}, {machine['physical_cores'] or machine['logical_cpus']} cores"
  if machine["usable_cpus"] and machine["usable_cpus"] < (machine["logical_cpus"] or 0):
    text += f", {machine['usable_cpus']} usable"
  return text


if __name__ == "__main__":
  import json

  print(json.dumps(describe_machine(), indent=1))
