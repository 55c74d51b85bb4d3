"""The cast of the access tests, direct database set-up, and a statement counter."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import event, func, select

from reefguide.projects.models import (
    Group,
    GroupManager,
    GroupMember,
    Project,
    ProjectGroupShare,
    ProjectUserShare,
)
from reefguide.users.models import Role, User, UserLog
from tests.factories import bearer, token_for

_names = itertools.count(1)


@dataclass(frozen=True)
class Caller:
    """Someone calling the API; `user` is None for the anonymous caller."""

    user: User | None
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def id(self) -> int:
        assert self.user is not None
        return self.user.id

    @property
    def email(self) -> str:
        assert self.user is not None
        return self.user.email


ROLES = [
    "owner",
    "stranger",
    "direct_share",
    "group_member",
    "group_manager",
    "admin",
    "default_role",
    "anonymous",
]


@dataclass(frozen=True)
class Cast:
    """A project and a group owned by `owner`, and everyone around them.

    The project is shared directly with `direct_share` and with the group, whose
    manager is `group_manager` and member `group_member`. `default_role` (no
    ANALYST role) is shared the project and is a member of the group, so any
    refusal they get comes from their role. `bystander` is an analyst with no
    access, to be named in bodies; `spare_group` is a second group of `owner`."""

    callers: dict[str, Caller]
    project_id: int
    group_id: int
    spare_group_id: int
    bystander: Caller

    def __getitem__(self, role: str) -> Caller:
        return self.callers[role]


async def add_users(app: FastAPI, count: int, roles: list[str] | None = None) -> list[User]:
    """Users who never log in (no password hashing), committed."""
    users = [
        User(
            email=f"cast{next(_names)}@example.com",
            password_hash="unusable",
            roles=roles if roles is not None else [Role.ANALYST.value],
        )
        for _ in range(count)
    ]
    async with app.state.sessionmaker() as session:
        session.add_all(users)
        await session.commit()
    return users


def as_caller(app: FastAPI, user: User) -> Caller:
    return Caller(user, bearer(token_for(app, user)))


async def analyst(app: FastAPI) -> Caller:
    [user] = await add_users(app, 1)
    return as_caller(app, user)


async def build_cast(app: FastAPI) -> Cast:
    owner, stranger, direct, member, manager, bystander = await add_users(app, 6)
    [admin] = await add_users(app, 1, [Role.ADMIN.value])
    [default] = await add_users(app, 1, [Role.DEFAULT.value])
    async with app.state.sessionmaker() as session:
        group = Group(name="Reef team", description="The team", owner_id=owner.id)
        spare = Group(name="Spare team", owner_id=owner.id)
        project = Project(
            name="Heron reef", type="SITE_SELECTION", project_state={"zoom": 3}, user_id=owner.id
        )
        session.add_all([group, spare, project])
        await session.flush()
        session.add_all(
            [
                GroupMember(group_id=group.id, user_id=member.id),
                GroupMember(group_id=group.id, user_id=default.id),
                GroupManager(group_id=group.id, user_id=manager.id),
                ProjectUserShare(project_id=project.id, user_id=direct.id),
                ProjectUserShare(project_id=project.id, user_id=default.id),
                ProjectGroupShare(project_id=project.id, group_id=group.id),
            ]
        )
        await session.commit()
    callers = {
        "owner": as_caller(app, owner),
        "stranger": as_caller(app, stranger),
        "direct_share": as_caller(app, direct),
        "group_member": as_caller(app, member),
        "group_manager": as_caller(app, manager),
        "admin": as_caller(app, admin),
        "default_role": as_caller(app, default),
        "anonymous": Caller(None),
    }
    return Cast(callers, project.id, group.id, spare.id, as_caller(app, bystander))


async def add_project(app: FastAPI, owner: Caller, name: str | None = None, **values: Any) -> Project:
    values.setdefault("type", "SITE_SELECTION")
    values.setdefault("project_state", {})
    async with app.state.sessionmaker() as session:
        project = Project(name=name or f"Project {next(_names)}", user_id=owner.id, **values)
        session.add(project)
        await session.commit()
    return project


async def add_group(app: FastAPI, owner: Caller, name: str | None = None, **values: Any) -> Group:
    async with app.state.sessionmaker() as session:
        group = Group(name=name or f"Group {next(_names)}", owner_id=owner.id, **values)
        session.add(group)
        await session.commit()
    return group


async def add_rows(app: FastAPI, *rows: object) -> None:
    async with app.state.sessionmaker() as session:
        session.add_all(rows)
        await session.commit()


async def count(app: FastAPI, model: type, **where: object) -> int:
    async with app.state.sessionmaker() as session:
        statement = select(func.count()).select_from(model).filter_by(**where)
        return int(await session.scalar(statement) or 0)


async def audit_rows(app: FastAPI, action: str) -> list[UserLog]:
    async with app.state.sessionmaker() as session:
        rows = await session.scalars(select(UserLog).where(UserLog.action == action).order_by(UserLog.id))
        return list(rows)


async def project_status(client: httpx.AsyncClient, caller: Caller, project_id: int) -> int:
    response = await client.get(f"/api/projects/{project_id}", headers=caller.headers)
    return response.status_code


@contextmanager
def count_statements(app: FastAPI) -> Iterator[list[str]]:
    """Every SQL statement the app's engine sends while the block runs."""
    statements: list[str] = []

    def before_cursor_execute(*args: Any) -> None:
        statements.append(args[2])

    engine = app.state.engine.sync_engine
    event.listen(engine, "before_cursor_execute", before_cursor_execute)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", before_cursor_execute)
