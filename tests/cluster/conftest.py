"""A real SLURM (slurmctld + slurmd + munge) on localhost for the cluster tests.

The daemons run from a private ``slurm.conf`` in a temporary folder (``SLURM_CONF``), are
started by the session fixture and stopped at its end; nothing is left running. Needs
Debian's ``slurm-wlm`` and ``munge`` (``scripts/bootstrap.sh`` installs them) and root,
as on the CI machine. Without them the tests are skipped, unless
``LI_CAMPAIGN_REQUIRE_SLURM=1`` (set by ``.ci/run``), where that is a failure.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

SLURM_CONF = """\
ClusterName=licampaign
SlurmctldHost={host}
SlurmctldPort={ctld_port}
SlurmdPort={slurmd_port}
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
SlurmUser=root
SlurmdUser=root
StateSaveLocation={root}/ctld
SlurmdSpoolDir={root}/slurmd
SlurmctldPidFile={root}/slurmctld.pid
SlurmdPidFile={root}/slurmd.pid
SlurmctldLogFile={root}/slurmctld.log
SlurmdLogFile={root}/slurmd.log
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
KillWait=2
NodeName={host} CPUs={cpus} RealMemory={memory} State=UNKNOWN
PartitionName=debug Nodes={host} Default=YES MaxTime=INFINITE State=UP
"""


def _unavailable(reason: str):
    if os.environ.get("LI_CAMPAIGN_REQUIRE_SLURM") == "1":
        pytest.fail(f"a real SLURM is required here (LI_CAMPAIGN_REQUIRE_SLURM=1) but {reason}")
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start_munge() -> subprocess.Popen | None:
    """Start munged unless one answers already; return the process we started."""
    if subprocess.run("munge -n | unmunge", shell=True, capture_output=True).returncode == 0:
        return None
    Path("/run/munge").mkdir(parents=True, exist_ok=True)
    shutil.chown("/run/munge", "munge", "munge")
    proc = subprocess.Popen(["runuser", "-u", "munge", "--", "/usr/sbin/munged", "--foreground"])
    for _ in range(50):
        if subprocess.run("munge -n | unmunge", shell=True, capture_output=True).returncode == 0:
            return proc
        time.sleep(0.1)
    proc.kill()
    _unavailable("munged did not start")


def _node_line() -> tuple[int, int]:
    out = subprocess.run(["slurmd", "-C"], capture_output=True, text=True, check=True).stdout
    fields = dict(item.split("=", 1) for item in out.split() if "=" in item)
    return int(fields["CPUs"]), int(int(fields["RealMemory"]) * 0.8)


def _drain(env: dict, root: Path) -> None:
    """Cancel every job of the test cluster and wait until its processes are gone."""
    subprocess.run(["scancel", "--full", "--signal=KILL", "-u", "root"], env=env, capture_output=True)
    for _ in range(150):
        queue = subprocess.run(["squeue", "-h"], env=env, capture_output=True, text=True).stdout.strip()
        if not queue:
            break
        time.sleep(0.1)
    subprocess.run(["pkill", "-KILL", "-f", str(root / "slurmd" / "job")], capture_output=True)  # job scripts, if any


@pytest.fixture(scope="session")
def slurm(tmp_path_factory):
    """Start a one-node SLURM cluster; yield the environment that talks to it."""
    for tool in ("slurmctld", "slurmd", "sbatch", "munged"):
        if shutil.which(tool) is None:
            _unavailable(f"`{tool}` is not installed (apt-get install slurm-wlm munge)")
    if os.geteuid() != 0:
        _unavailable("the SLURM daemons need root")
    root = tmp_path_factory.mktemp("slurm")
    for sub in ("ctld", "slurmd"):
        (root / sub).mkdir()
    cpus, memory = _node_line()
    host = socket.gethostname().split(".")[0]
    conf = root / "slurm.conf"
    conf.write_text(
        SLURM_CONF.format(
            host=host, root=root, cpus=cpus, memory=memory, ctld_port=_free_port(), slurmd_port=_free_port()
        )
    )
    env = dict(os.environ, SLURM_CONF=str(conf))
    old = os.environ.get("SLURM_CONF")
    munge = _start_munge()
    daemons = [
        subprocess.Popen(["slurmctld", "-D", "-i", "-f", str(conf)], env=env),
        subprocess.Popen(["slurmd", "-D", "-f", str(conf)], env=env),
    ]
    try:
        for _ in range(300):
            state = subprocess.run(["sinfo", "-h", "-o", "%t"], env=env, capture_output=True, text=True).stdout.strip()
            if state == "idle":
                break
            time.sleep(0.1)
        else:
            logs = "\n".join((root / f).read_text()[-2000:] for f in ("slurmctld.log", "slurmd.log") if (root / f).exists())
            pytest.fail(f"SLURM did not become idle (sinfo: {state!r}):\n{logs}")
        os.environ["SLURM_CONF"] = str(conf)
        yield {"SLURM_CONF": str(conf)}
    finally:
        _drain(env, root)
        for proc in [*daemons, *([munge] if munge else [])]:
            proc.send_signal(signal.SIGTERM)
        for proc in [*daemons, *([munge] if munge else [])]:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        if old is None:
            os.environ.pop("SLURM_CONF", None)
        else:
            os.environ["SLURM_CONF"] = old
