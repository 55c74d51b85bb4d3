"""The `reefguide` command: serve, worker, manager, db, keys, users, openapi."""

from __future__ import annotations

import asyncio
import getpass
import json
import sys
from collections.abc import Callable, Coroutine
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import structlog
import typer
from sqlalchemy.engine import make_url

from reefguide.settings import Settings, SettingsError, load_settings

if TYPE_CHECKING:
    from reefguide.auth.keys import KeyPair
    from reefguide.users.bootstrap import GeneratedAdmin

# Tracebacks never print local variables: they hold passwords and keys.
app = typer.Typer(
    help="ReefGuide API: accounts, spatial data and a job platform.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
db_app = typer.Typer(help="Database migrations and maintenance.", no_args_is_help=True)
keys_app = typer.Typer(help="Token signing keys.", no_args_is_help=True)
users_app = typer.Typer(help="User accounts.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(keys_app, name="keys")
app.add_typer(users_app, name="users")

log = structlog.get_logger("reefguide")
T = TypeVar("T")

LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1", ""}
# Exit code of a configuration error (as for a usage error).
BAD_SETTING = 2


def _settings(**options: object) -> Settings:
    """The settings, with command-line options (named as the settings' fields) on top."""
    try:
        return load_settings(**options)
    except SettingsError as exc:
        if exc.field is not None and exc.field in options:
            message = f"Invalid option --{exc.field.replace('_', '-')}: {exc.reason}"
        else:
            message = str(exc)
        typer.echo(message, err=True)
        raise typer.Exit(BAD_SETTING) from None


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(message, err=True)
    return typer.Exit(code)


def _run(factory: Callable[[], Coroutine[Any, Any, T]]) -> T:
    return asyncio.run(factory())


def _prepare(settings: Settings, *, migrate: bool = False, require_migrated: bool = True) -> None:
    """What every command that touches data needs: logs, the data directory, a reachable
    database (waited for), and a schema this version can use (migrated, or checked)."""
    from reefguide.db import migrate as migrations
    from reefguide.db.engine import DatabaseUnreachable, is_sqlite, wait_for_database
    from reefguide.observability.logging import configure_logging

    configure_logging(settings)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    url = settings.effective_database_url
    if not is_sqlite(url):
        try:
            _run(
                lambda: wait_for_database(
                    url, attempts=settings.db_connect_attempts, interval=settings.db_connect_interval_seconds
                )
            )
        except DatabaseUnreachable as exc:
            raise _fail(str(exc)) from None
    if not (migrate or require_migrated):
        return
    state = _run(lambda: migrations.revision_status(url))
    if state.status is migrations.Status.UNKNOWN:
        # A newer release migrated it (a rolling deploy): this one neither can nor
        # should migrate it back, and its tables are still a superset of ours.
        log.warning("database migrated by a newer release", revision=state.current, head=state.head)
    elif migrate:
        migrations.upgrade(url)
    elif state.status is not migrations.Status.HEAD:
        raise _fail(state.describe())


def _key_pair(settings: Settings) -> KeyPair:
    from reefguide.auth.keys import load_or_create_key_pair

    try:
        return load_or_create_key_pair(settings)
    except ValueError as exc:
        reason = " ".join(str(exc).split())
        if not settings.jwt_private_key:
            raise _fail(f"Cannot read the key pair in {settings.data_dir / 'keys'}: {reason}") from None
        if not reason.startswith("JWT_"):
            reason = f"Invalid setting JWT_PRIVATE_KEY: {reason}"
        raise _fail(reason, BAD_SETTING) from None


@app.command()
def serve(
    host: Annotated[
        str | None, typer.Option(help="Address to listen on [default: HOST or 127.0.0.1]")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on [default: PORT or 5000]")] = None,
    no_migrate: Annotated[
        bool, typer.Option("--no-migrate", help="Do not migrate the database at start.")
    ] = False,
    no_embedded_workers: Annotated[
        bool,
        typer.Option(
            "--no-embedded-workers",
            help="Start no workers here (REEFGUIDE_EMBEDDED_WORKERS=false): jobs wait for "
            "workers started elsewhere, e.g. by `reefguide manager`.",
        ),
    ] = False,
) -> None:
    """Start the API. With no configuration: SQLite, keys and an admin under ./.reefguide,
    and workers started on demand on this machine, so submitted jobs run."""
    options: dict[str, object] = {}
    if no_embedded_workers:
        options["embedded_workers"] = False
    if host is not None:
        options["host"] = host
    if port is not None:
        options["port"] = port
    # Settings first: a bad one stops the start before anything is imported or touched.
    settings = _settings(**options)

    from reefguide.app import begin_stop, create_app, hurry_stop
    from reefguide.auth.passwords import Passwords
    from reefguide.db.engine import create_engine, create_sessionmaker, describe
    from reefguide.http.server import serve_app
    from reefguide.users.bootstrap import ensure_accounts

    keys = _key_pair(settings)
    _prepare(settings, migrate=not no_migrate)
    url = settings.effective_database_url

    async def bootstrap() -> GeneratedAdmin | None:
        engine = create_engine(url, pool_size=1)
        try:
            passwords = Passwords(time_cost=settings.argon2_time_cost, memory_kib=settings.argon2_memory_kib)
            return await ensure_accounts(settings, create_sessionmaker(engine), passwords)
        finally:
            await engine.dispose()

    generated = _run(bootstrap)
    log.info(
        "reefguide starting",
        data_dir=str(settings.data_dir.resolve()),
        database=describe(url),
        url=f"http://{settings.host}:{settings.port}/api",
    )
    if generated is not None:
        # Printed, never logged: the one time this password is shown.
        typer.echo(
            f"\nCreated the admin account.\n  email:    {generated.email}\n"
            f"  password: {generated.password}\nStore the password now; it is not shown again.\n"
        )
    app = create_app(settings, keys=keys)
    # SIGTERM or Ctrl-C: begin_stop first, while the server still listens, then
    # uvicorn's graceful stop and the lifespan shutdown; exit 0. A second: hurry_stop.
    serve_app(
        app,
        host=settings.host,
        port=settings.port,
        begin_stop=lambda: begin_stop(app),
        hurry_stop=lambda: hurry_stop(app),
    )


@app.command()
def worker(
    types: Annotated[
        list[str] | None,
        typer.Option(
            "--types",
            metavar="TYPES",
            help="Job types to claim, comma-separated or repeated (default: JOB_TYPES, else every built-in).",
        ),
    ] = None,
    grace_seconds: Annotated[
        float,
        typer.Option(min=0, help="After SIGTERM, how long running jobs may take before they are released."),
    ] = 30.0,
    max_concurrent: Annotated[
        int | None,
        typer.Option(min=1, max=100, help="Jobs run at once (default: MAX_CONCURRENT_JOBS, else 1)."),
    ] = None,
) -> None:
    """Run jobs: claim them from the API, run the built-in handlers, report.

    Reads API_ENDPOINT, WORKER_USERNAME and WORKER_PASSWORD (or WORKER_API_KEY),
    JOB_TYPES, POLL_INTERVAL_MS, IDLE_TIMEOUT_MS and MAX_CONCURRENT_JOBS.

    Exits 0 after IDLE_TIMEOUT_MS with nothing to do, or when stopped by SIGTERM.
    """
    # The worker's own settings: it needs nothing of the server's.
    from reefguide.worker.command import WorkerConfigError, run_worker
    from reefguide.worker.settings import WorkerSettingsError, load_worker_settings

    try:
        settings = load_worker_settings()
        names = [name.strip() for option in types or () for name in option.split(",") if name.strip()]
        code = run_worker(
            settings, job_types=names or None, max_concurrent_jobs=max_concurrent, grace_seconds=grace_seconds
        )
    except (WorkerSettingsError, WorkerConfigError) as exc:
        raise _fail(str(exc), BAD_SETTING) from None
    raise typer.Exit(code)


@app.command()
def manager(
    config: Annotated[
        Path | None,
        typer.Option("--config", help="A TOML file of pools (default: the <TYPE>_* variables)."),
    ] = None,
    backend: Annotated[
        str | None,
        typer.Option(
            "--backend", metavar="local|ecs", help="Where workers run (default: CLUSTER_BACKEND, else local)."
        ),
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Decide and log, but launch nothing.")] = False,
    once: Annotated[
        bool, typer.Option("--once", help="Poll once and exit: 0 when the poll succeeded.")
    ] = False,
) -> None:
    """Start workers as the job backlog grows: per pool, as many as the original's formula asks.

    Reads API_ENDPOINT, MANAGER_USERNAME and MANAGER_PASSWORD (or API_USERNAME and
    API_PASSWORD, or MANAGER_API_KEY), POLL_INTERVAL_MS, and per job type
    <TYPE>_MIN_CAPACITY, _MAX_CAPACITY, _COOLDOWN, _SENSITIVITY, _FACTOR, _TASK_DEF,
    _CLUSTER, _SECURITY_GROUP, _SUBNETS. Serves GET /health on REEFGUIDE_MANAGER_PORT
    or PORT (3000). Exits 0 when stopped by SIGTERM.
    """
    import os

    from reefguide.manager.command import run_manager
    from reefguide.manager.config import ManagerConfigError, load_manager_config, worker_base_environment

    try:
        manager_config = load_manager_config(config_path=config, backend=backend)
    except ManagerConfigError as exc:
        raise _fail(str(exc), BAD_SETTING) from None
    # The compute backend is the one `serve` uses, configured from the same settings;
    # workers started on this machine reach the API this manager reads.
    from reefguide.cluster.build import build_backend, worker_environment

    settings = _settings(cluster_backend=manager_config.backend)
    worker_env = worker_environment(
        settings, api_endpoint=manager_config.api_url, base=worker_base_environment(os.environ)
    )
    compute = build_backend(settings, worker_env=worker_env)
    raise typer.Exit(run_manager(manager_config, compute, dry_run=dry_run, once=once))


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="Target revision")] = "head") -> None:
    """Migrate the database to the latest (or the given) revision."""
    from reefguide.db import migrate as migrations

    settings = _settings()
    _prepare(settings, require_migrated=False)
    migrations.upgrade(settings.effective_database_url, revision)
    typer.echo(f"Database at {revision}.")


@db_app.command("reset")
def db_reset(
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Allow a database that is not on this machine.")
    ] = False,
) -> None:
    """Drop every table and migrate from scratch. All data is lost."""
    from reefguide.db import migrate as migrations
    from reefguide.db.engine import describe, is_sqlite

    settings = _settings()
    url = settings.effective_database_url
    # Decided from the URL alone, before anything connects.
    if not is_sqlite(url) and (make_url(url).host or "") not in LOCAL_HOSTS and not force:
        raise _fail(f"Refusing to reset {describe(url)}: it is not a local database (use --force).")
    if not yes and not typer.confirm(f"Delete all data in {describe(url)}?", default=False):
        raise _fail("Aborted.")
    _prepare(settings, require_migrated=False)
    migrations.reset(url)
    typer.echo(f"Reset {describe(url)}.")


@db_app.command("check")
def db_check() -> None:
    """Exit 0 when the database is at the latest revision and matches the models."""
    from alembic.util import CommandError

    from reefguide.db import migrate as migrations

    settings = _settings()
    _prepare(settings, require_migrated=False)
    url = settings.effective_database_url
    state = _run(lambda: migrations.revision_status(url))
    if state.status is not migrations.Status.HEAD:
        raise _fail(state.describe())
    try:
        migrations.check(url)
    except CommandError as exc:
        raise _fail(f"Models and migrations differ: {exc}") from None
    typer.echo(state.describe())


@keys_app.command("generate")
def keys_generate() -> None:
    """Print a new RSA-2048 key pair as JWT_* lines for a .env file."""
    from reefguide.auth.keys import generate_key_pair

    pair = generate_key_pair()

    def one_line(pem: str) -> str:
        return pem.strip().replace("\n", "\\n")

    typer.echo(f'JWT_PRIVATE_KEY="{one_line(pair.private_pem())}"')
    typer.echo(f'JWT_PUBLIC_KEY="{one_line(pair.public_pem())}"')
    typer.echo(f"JWT_KEY_ID={pair.key_id}")


def _read_password(prompt: str) -> str:
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass(f"{prompt}: ")
    if getpass.getpass("Again: ") != first:
        raise _fail("Passwords do not match.")
    return first


@users_app.command("create")
def users_create(
    email: str,
    role: Annotated[
        list[str], typer.Option("--role", help="A role (repeatable): ADMIN, ANALYST, DEFAULT, WORKER")
    ] = ["ANALYST"],  # noqa: B006
    password: Annotated[
        str | None, typer.Option(help="Read from the terminal (or stdin) when omitted.")
    ] = None,
) -> None:
    """Create a user with the given roles."""
    from reefguide.users import commands

    settings = _settings()
    _prepare(settings)
    secret = password if password is not None else _read_password("Password")
    try:
        user = _run(lambda: commands.create_user(settings, email, secret, role))
    except ValueError as exc:
        raise _fail(str(exc)) from None
    typer.echo(f"Created user {user.id} ({user.email}) with roles {', '.join(user.roles)}.")


@users_app.command("set-password")
def users_set_password(
    email: str,
    password: Annotated[
        str | None, typer.Option(help="Read from the terminal (or stdin) when omitted.")
    ] = None,
) -> None:
    """Set a user's password and revoke their refresh tokens."""
    from reefguide.users import commands

    settings = _settings()
    _prepare(settings)
    secret = password if password is not None else _read_password("New password")
    try:
        _run(lambda: commands.set_password(settings, email, secret))
    except ValueError as exc:
        raise _fail(str(exc)) from None
    typer.echo(f"Password set for {email.strip().lower()}.")


@users_app.command("create-api-key")
def users_create_api_key(
    email: str,
    name: Annotated[str, typer.Option(help="A name to recognise the key by.")] = "cli",
    expires_at: Annotated[datetime | None, typer.Option(help="ISO 8601 expiry (UTC when no offset).")] = None,
) -> None:
    """Create an API key for a user (e.g. a worker account) and print it once."""
    from reefguide.users import commands

    settings = _settings()
    _prepare(settings)
    try:
        key = _run(lambda: commands.create_api_key(settings, email, name, expires_at))
    except ValueError as exc:
        raise _fail(str(exc)) from None
    typer.echo(key)


@app.command()
def openapi(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file instead of stdout.")
    ] = None,
) -> None:
    """Print the OpenAPI document."""
    from reefguide.app import create_app
    from reefguide.auth.keys import generate_key_pair

    settings = _settings(log_level="WARNING", database_url="sqlite:///:memory:")
    document = json.dumps(create_app(settings, keys=generate_key_pair()).openapi(), indent=2)
    if output is None:
        typer.echo(document)
    else:
        output.write_text(document + "\n")


def main() -> None:
    app()
