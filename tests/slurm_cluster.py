"""A real one-node SLURM cluster on localhost for tests (Debian's slurmctld, slurmd, munge).

No systemd: munged runs through runuser, slurmctld and slurmd in the foreground as child
processes. Only the daemons started here are stopped afterwards. The config is also
placed at /etc/slurm/slurm.conf when that file does not exist (and removed afterwards):
job steps started by slurmd look for it there, whatever SLURM_CONF the job inherited.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

SLURM_CONF = """\
ClusterName=dakdtest
SlurmctldHost={host}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
ReturnToService=2
SlurmctldPidFile={root}/slurmctld.pid
SlurmdPidFile={root}/slurmd.pid
SlurmdSpoolDir={root}/spool
StateSaveLocation={root}/state
SlurmctldLogFile={root}/slurmctld.log
SlurmdLogFile={root}/slurmd.log
SlurmctldPort={ctld_port}
SlurmdPort={d_port}
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
JobCompType=jobcomp/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
InactiveLimit=0
KillWait=5
MinJobAge=300
SlurmctldTimeout=30
SlurmdTimeout=30
Waittime=0
NodeName={host} CPUs={cpus} RealMemory={memory} State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
"""

BINARIES = ("slurmctld", "slurmd", "sbatch", "squeue", "sinfo", "munged", "runuser")


def missing_binaries() -> list[str]:
    return [b for b in BINARIES if shutil.which(b) is None and not Path(f"/usr/sbin/{b}").exists()]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LocalSlurm:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.conf = root / "slurm.conf"
        self.processes: list[subprocess.Popen] = []
        self.started_munged = False
        self.system_conf: Path | None = None

    @property
    def env(self) -> dict[str, str]:
        return {"SLURM_CONF": str(self.conf)}

    def start(self, timeout: float = 60) -> None:
        for sub in ("spool", "state"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        host = socket.gethostname().split(".")[0]
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20 - 2048
        self.conf.write_text(SLURM_CONF.format(host=host, root=self.root, cpus=os.cpu_count(), memory=memory,
                                               ctld_port=_free_port(), d_port=_free_port()))
        system_conf = Path("/etc/slurm/slurm.conf")
        if not system_conf.exists():
            system_conf.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(self.conf, system_conf)
            self.system_conf = system_conf
        self._start_munged()
        env = {**os.environ, **self.env}
        for command in (["slurmctld", "-D", "-i", "-f", str(self.conf)], ["slurmd", "-D", "-f", str(self.conf)]):
            log = open(self.root / f"{command[0]}.out", "w")
            self.processes.append(subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, env=env).stdout
            if state.strip() == "idle":
                return
            time.sleep(1)
        self.stop()
        raise RuntimeError(f"SLURM node did not become idle; see {self.root}/*.log")

    def _start_munged(self) -> None:
        if subprocess.run(["munge", "-n"], capture_output=True).returncode == 0:
            return  # a munged is already running; leave it alone
        Path("/run/munge").mkdir(parents=True, exist_ok=True)
        shutil.chown("/run/munge", "munge", "munge")
        subprocess.run(["runuser", "-u", "munge", "--", "/usr/sbin/munged"], check=True)
        self.started_munged = True

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        self.processes.clear()
        if self.system_conf is not None:
            self.system_conf.unlink(missing_ok=True)
            self.system_conf = None
        if self.started_munged:
            pid_file = Path("/run/munge/munged.pid")
            if pid_file.exists():
                os.kill(int(pid_file.read_text().strip()), 15)
            self.started_munged = False
