"""Fixtures for the compute backends: a stand-in worker command (a small Python
script that records its environment and sleeps, exits or ignores SIGTERM as told),
local backends that always stop their children, and an ECS world in moto."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import boto3
import pytest
from moto import mock_aws

from reefguide.cluster.base import Pool
from reefguide.cluster.local import LocalBackend

T = TypeVar("T")
WAIT_SECONDS = 15.0
REGION = "us-east-1"

# argv[1]: where to write <pid>.json (the environment). FAKE_WORKER says what to do:
# "sleep" (default), "exit" (with FAKE_EXIT_CODE), "stubborn" (ignore SIGTERM).
FAKE_WORKER = """
import json, os, signal, sys, time
path = os.path.join(sys.argv[1], f"{os.getpid()}.json")
with open(path + ".part", "w") as file:
    json.dump(dict(os.environ), file)
os.replace(path + ".part", path)
mode = os.environ.get("FAKE_WORKER", "sleep")
if mode == "exit":
    sys.exit(int(os.environ.get("FAKE_EXIT_CODE", "0")))
if mode == "stubborn":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
time.sleep(120)
"""

POOL = Pool(name="reefguide", job_types=("TEST", "REGIONAL_ASSESSMENT"))


async def eventually(check: Callable[[], Awaitable[T]], *, timeout: float = WAIT_SECONDS) -> T:
    """The first truthy answer of `check`, polled until `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        answer = await check()
        if answer:
            return answer
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened; last answer: {answer!r}")
        await asyncio.sleep(0.02)  # between polls of the condition, not instead of it


def is_alive(pid: int) -> bool:
    """The process exists and is not a zombie (an ended child nobody reaped)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def exists(pid: int) -> bool:
    """Any trace of the process left, zombie included."""
    return Path(f"/proc/{pid}").exists()


class FakeWorkers:
    """Reads what the stand-in workers recorded."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.command = [sys.executable, "-c", FAKE_WORKER, str(folder)]

    def pids(self) -> set[int]:
        """Every stand-in worker that has started (and recorded its environment)."""
        return {int(path.stem) for path in self.folder.glob("*.json")}

    def env_of(self, pid: int | str) -> dict[str, str] | None:
        path = self.folder / f"{pid}.json"
        if not path.exists():
            return None
        env: dict[str, str] = json.loads(path.read_text())
        return env

    async def wait_env(self, pid: int | str) -> dict[str, str]:
        async def recorded() -> dict[str, str] | None:
            return self.env_of(pid)

        return await eventually(recorded)


@pytest.fixture
def fake_workers(tmp_path: Path) -> FakeWorkers:
    folder = tmp_path / "workers"
    folder.mkdir()
    return FakeWorkers(folder)


BASE_ENV = {"API_ENDPOINT": "http://127.0.0.1:9", "WORKER_API_KEY": "test-key", "LANG": "C.UTF-8"}


@pytest.fixture
async def make_local(fake_workers: FakeWorkers) -> AsyncIterator[Callable[..., LocalBackend]]:
    """Local backends running the stand-in worker, quick to supervise; each is closed
    (and its children gone) at the end of the test."""
    made: list[LocalBackend] = []

    def make(env: dict[str, str] | None = None, **options: Any) -> LocalBackend:
        settings: dict[str, Any] = {
            "command": fake_workers.command,
            "supervise_interval_seconds": 0.05,
            "ready_seconds": 0.3,
            "stop_grace_seconds": 5.0,
            "restart_backoff_seconds": 0.1,
        }
        settings.update(options)
        backend = LocalBackend(env={**BASE_ENV, **(env or {})}, **settings)
        made.append(backend)
        return backend

    try:
        yield make
    finally:
        for backend in made:
            await backend.close()


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """moto's AWS, with none of the machine's own profiles or instance roles."""
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    with mock_aws():
        yield


class EcsWorld:
    """A VPC with one public and one private subnet, a cluster, a Fargate task
    definition and a worker service, as an admin would have set them up."""

    cluster = "reefguide-cluster"
    service = "reefguide-workers"

    def __init__(self) -> None:
        self.ecs = boto3.client("ecs", region_name=REGION)
        ec2 = boto3.client("ec2", region_name=REGION)
        self.vpc_id = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        self.public_subnet = ec2.create_subnet(VpcId=self.vpc_id, CidrBlock="10.0.1.0/24")["Subnet"][
            "SubnetId"
        ]
        ec2.modify_subnet_attribute(SubnetId=self.public_subnet, MapPublicIpOnLaunch={"Value": True})
        self.private_subnet = ec2.create_subnet(VpcId=self.vpc_id, CidrBlock="10.0.2.0/24")["Subnet"][
            "SubnetId"
        ]
        self.security_group = ec2.create_security_group(
            GroupName="workers", Description="workers", VpcId=self.vpc_id
        )["GroupId"]
        self.ecs.create_cluster(clusterName=self.cluster)
        # Fargate needs networkMode awsvpc (which moto sets for FARGATE compatibility),
        # but moto 5.2 then fails RunTask (it reads a `private_dns_name` its network
        # interfaces lack). It checks neither on RunTask, so the definition names none.
        self.task_definition = self.ecs.register_task_definition(
            family="reefguide-worker",
            cpu="1024",
            memory="2048",
            containerDefinitions=[
                {
                    "name": "worker",
                    "image": "reefguide:latest",
                    "essential": True,
                    "cpu": 1024,
                    "memory": 2048,
                }
            ],
        )["taskDefinition"]["taskDefinitionArn"]
        self.ecs.create_service(
            cluster=self.cluster,
            serviceName=self.service,
            taskDefinition=self.task_definition,
            desiredCount=1,
            launchType="FARGATE",
            networkConfiguration={
                "awsvpcConfiguration": {
                    "subnets": [self.public_subnet],
                    "securityGroups": [self.security_group],
                }
            },
        )

    def pool(self, **changes: Any) -> Pool:
        values: dict[str, Any] = {
            "name": "reefguide",
            "job_types": ("TEST",),
            "task_definition": self.task_definition,
            "cluster": self.cluster,
            "security_group": self.security_group,
        }
        values.update(changes)
        return Pool(**values)


@pytest.fixture
def ecs_world(aws: None) -> EcsWorld:
    return EcsWorld()


class Calls:
    """The parameters of each ECS call a client makes (moto still answers it)."""

    def __init__(self) -> None:
        self.made: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        self.made.append((model.name, dict(params)))

    def of(self, operation: str) -> list[dict[str, Any]]:
        return [params for name, params in self.made if name == operation]


@pytest.fixture
def calls() -> Calls:
    return Calls()
