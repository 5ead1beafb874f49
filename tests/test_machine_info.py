"""benchmarks/machine_info.py: every benchmark states the CPU its figures come from."""

import importlib.util
import platform

import pytest
from conftest import REPO_ROOT

BENCHMARKS = REPO_ROOT / "benchmarks"


@pytest.fixture(name="machine_info", scope="module")
def fixture_machine_info():
  spec = importlib.util.spec_from_file_location("machine_info", BENCHMARKS / "machine_info.py")
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


def test_this_machine_has_a_cpu_model_and_cores(machine_info):
  machine = machine_info.describe_machine()
  assert machine["cpu_model"].strip()
  assert machine["logical_cpus"] >= 1 and 1 <= machine["usable_cpus"] <= machine["logical_cpus"]
  assert machine_info.describe_briefly(machine).startswith(machine["cpu_model"] + ", ")


CPUINFO = """processor\t: 0
vendor_id\t: AuthenticAMD
cpu family\t: 25
model\t\t: 17
model name\t: AMD EPYC 9R14 96-Core Processor
physical id\t: 0
core id\t\t: 0
flags\t\t: fpu avx2 avx512f avx512_bf16 hypervisor

processor\t: 1
vendor_id\t: AuthenticAMD
cpu family\t: 25
model\t\t: 17
model name\t: AMD EPYC 9R14 96-Core Processor
physical id\t: 0
core id\t\t: 0
flags\t\t: fpu avx2 avx512f avx512_bf16 hypervisor

processor\t: 2
model name\t: AMD EPYC 9R14 96-Core Processor
physical id\t: 0
core id\t\t: 1
"""


def test_cpuinfo_gives_model_family_flags_and_physical_cores(machine_info, tmp_path):
  path = tmp_path / "cpuinfo"
  path.write_text(CPUINFO)
  machine = machine_info.describe_machine(str(path))
  assert machine["cpu_model"] == "AMD EPYC 9R14 96-Core Processor"
  assert machine["cpu_vendor"] == "AuthenticAMD" and machine["cpu_family_model"] == "25/17"
  assert machine["cpu_flags"] == ["avx2", "avx512f", "avx512_bf16"]
  assert machine["physical_cores"] == 2  # two hyperthreads of core 0, and core 1
  assert machine["virtual_machine"] is True


def test_without_cpuinfo_the_model_comes_from_platform(machine_info, tmp_path, monkeypatch):
  machine = machine_info.describe_machine(str(tmp_path / "missing"))
  assert machine["cpu_model"] == (platform.processor() or platform.machine())
  assert machine["physical_cores"] is None and machine["cpu_flags"] == []
  monkeypatch.setattr(platform, "processor", lambda: "")
  monkeypatch.setattr(platform, "machine", lambda: "aarch64")
  assert machine_info.describe_machine(str(tmp_path / "missing"))["cpu_model"] == "aarch64"


@pytest.mark.parametrize("script", sorted(path.name for path in BENCHMARKS.glob("*.py")
                                             if path.name != "machine_info.py"))
def test_every_benchmark_records_the_machine_in_its_json(script):
  source = (BENCHMARKS / script).read_text()
  assert '"machine": machine_info.describe_machine()' in source
