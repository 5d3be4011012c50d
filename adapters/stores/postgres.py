"""The ``postgresql://`` backend: the library's PostgreSQL recorder (psycopg 3), for a server database.

URLs: ``postgresql://USER[:PASSWORD]@HOST[:PORT]/DATABASE`` (``postgres://`` too), with options
``?schema=NAME`` (default ``public``; created if missing), ``pool_size=N`` (connections kept open,
default 5; up to twice as many under load) and ``connect_timeout=SECONDS`` (default 5: how long
opening the store, and a commit or read, waits for a connection). The recorder is
``adapters.stores.postgres_recorder.PostgresStreamRecorder``: the same rows as SQLite (one per run of
a stream's events, numbered by the position of its last event), the same codec and the same batching
writer. A commit is acknowledged after PostgreSQL's ``COMMIT`` returned, which with the server's
default ``synchronous_commit = on`` means it is flushed to its WAL: the durability rule holds.
Commits run in a worker thread (psycopg releases the GIL while it waits on the server, so the child
process SQLite needs buys nothing here).

Followers do not poll: every commit NOTIFYs a channel of the schema, and ``PostgresNotifier`` LISTENs on
a connection of its own, waking this process's followers when another process committed. After a
lost listening connection it reconnects (backing off up to ``_LISTEN_BACKOFF_MAX``) and wakes them
once, so they catch up from their position on whatever was committed in between.

Opening checks, in order, and says in one line what is wrong: the URL, that the server answers, that
the database exists, that the user may use the schema and create (or write to) the tables.

Snapshots and the transaction index live in tables of the same schema (``PostgresSideTables``),
parallel to ``adapters.stores.sqlite.SQLiteSideTables``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import psycopg
import trio
from eventsourcing.persistence import InfrastructureFactory, PersistenceError
from eventsourcing.postgres import ConnectionPool, PostgresDatastore
from psycopg.sql import SQL, Composable, Identifier

from adapters.stores.postgres_recorder import RECORDER_TOPIC, PostgresStreamRecorder
from adapters.stores.recording import RecordedLog, RecordMapper
from core.codec import MsgpackTranscoder, pack, unpack
from core.store import StoreUnavailable
from projections.transactions import TRANSACTION_FIELDS, TRANSACTION_INDEX, TransactionQuery

__all__ = ["PostgresSideTables", "PostgresTarget", "open_log", "postgres_target"]

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_OPTIONS = ("connect_timeout", "pool_size", "schema")
_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]{0,62}")


class PostgresTarget:
    """What a ``postgresql://`` URL names: where to connect and how."""

    def __init__(
        self,
        *,
        user: str,
        password: str,
        host: str,
        port: int,
        database: str,
        schema: str,
        pool_size: int,
        connect_timeout: int,
    ) -> None:
        self.user, self.password, self.host, self.port = user, password, host, port
        self.database, self.schema = database, schema
        self.pool_size, self.connect_timeout = pool_size, connect_timeout

    @property
    def location(self) -> str:
        """The URL without its password, for messages and logs."""
        return f"postgresql://{self.user}@{self.host}:{self.port}/{self.database} (schema {self.schema})"

    def connect_kwargs(self) -> dict[str, Any]:
        return {
            "user": self.user,
            "password": self.password,
            "host": self.host,
            "port": self.port,
            "dbname": self.database,
            "connect_timeout": self.connect_timeout,
        }


def postgres_target(url: str) -> PostgresTarget:
    """Parse a ``postgresql://`` URL; ValueError naming what is wrong."""
    parts = urlsplit(url)
    if parts.scheme not in ("postgresql", "postgres") or parts.fragment:
        raise ValueError(f"not a postgresql URL: {url!r}")
    if not parts.hostname:
        raise ValueError(f"postgresql URL names no host; use postgresql://USER@HOST:PORT/DATABASE: {url!r}")
    if not parts.username:
        raise ValueError(f"postgresql URL names no user; use postgresql://USER@HOST:PORT/DATABASE: {url!r}")
    database = unquote(parts.path.lstrip("/"))
    if not database or "/" in database:
        raise ValueError(
            f"postgresql URL must name one database; use postgresql://USER@HOST:PORT/DATABASE: {url!r}"
        )
    try:
        port = parts.port or 5432
    except ValueError:
        raise ValueError(f"postgresql URL has a bad port: {url!r}") from None
    query = parse_qs(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
    options = {key: values[-1] for key, values in query.items()}
    unknown = set(options) - set(_OPTIONS)
    if unknown:
        raise ValueError(
            f"unknown postgresql URL options {sorted(unknown)} in {url!r} (known: {', '.join(_OPTIONS)})"
        )
    schema = options.get("schema", "public")
    if not _IDENTIFIER.fullmatch(schema):
        raise ValueError(f"postgresql URL option schema must be a lower-case SQL identifier: {url!r}")
    numbers = {}
    for name, default in (("pool_size", 5), ("connect_timeout", 5)):
        try:
            numbers[name] = int(options.get(name, default))
        except ValueError:
            raise ValueError(f"postgresql URL option {name} must be a whole number: {url!r}") from None
        if numbers[name] < 1:
            raise ValueError(f"postgresql URL option {name} must be at least 1: {url!r}")
    return PostgresTarget(
        user=unquote(parts.username),
        password=unquote(parts.password or ""),
        host=parts.hostname,
        port=port,
        database=database,
        schema=schema,
        pool_size=numbers["pool_size"],
        connect_timeout=numbers["connect_timeout"],
    )


def _reason(e: BaseException) -> str:
    """The first line of a PostgreSQL error, which is the part that says what went wrong."""
    text = str(e).strip() or type(e).__name__
    return text.splitlines()[0].removeprefix("FATAL:  ").strip()


def _check(target: PostgresTarget) -> bool:
    """Connect once, plainly, to turn each way of failing into one clear line; create the schema.

    The pool would only say that no connection came within its timeout. True if the tables are to be
    created (some are missing); False if they are all there, so a user without CREATE on the schema
    (tables made by an owner, rights granted) can open the store.
    """
    try:
        conn = psycopg.connect(**target.connect_kwargs(), autocommit=True)
    except psycopg.OperationalError as e:
        reason = _reason(e)
        if "does not exist" in reason and "database" in reason:
            raise StoreUnavailable(
                target.location, f"{reason} (create it: createdb -h {target.host} {target.database})"
            ) from None
        if "role" in reason or "authentication" in reason or "password" in reason:
            raise StoreUnavailable(target.location, f"cannot log in: {reason}") from None
        raise StoreUnavailable(target.location, f"PostgreSQL does not answer: {reason}") from None
    with conn:
        try:
            exists = conn.execute(
                "SELECT 1 FROM pg_namespace WHERE nspname = %s", (target.schema,)
            ).fetchone()
            if exists is None:
                conn.execute(SQL("CREATE SCHEMA IF NOT EXISTS {}").format(Identifier(target.schema)))
            usable = conn.execute(
                "SELECT has_schema_privilege(%s, 'USAGE'), has_schema_privilege(%s, 'CREATE')",
                (target.schema, target.schema),
            ).fetchone()
        except psycopg.errors.InsufficientPrivilege as e:
            raise StoreUnavailable(
                target.location, f"user {target.user} may not create schema {target.schema}: {_reason(e)}"
            ) from None
        assert usable is not None
        if not usable[0]:
            raise StoreUnavailable(target.location, f"user {target.user} may not use schema {target.schema}")
        tables = conn.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relname = ANY(%s)",
            (target.schema, [*_TABLES, "stored_events"]),
        ).fetchall()
        present = {row[0] for row in tables}
        if len(present) < len(_TABLES) + 1 and not usable[1]:
            raise StoreUnavailable(
                target.location,
                f"user {target.user} may not create tables in schema {target.schema} "
                f"(GRANT CREATE ON SCHEMA {target.schema} TO {target.user}, or create them as another user)",
            )
        for table in sorted(present):
            qualified = f"{target.schema}.{table}"
            [allowed] = conn.execute(
                "SELECT has_table_privilege(%s, 'SELECT, INSERT, UPDATE')", (qualified,)
            ).fetchone() or [False]
            if not allowed:
                raise StoreUnavailable(
                    target.location,
                    f"user {target.user} may not read and write table {qualified} "
                    f"(GRANT SELECT, INSERT, UPDATE ON {qualified} TO {target.user})",
                )
        return len(present) < len(_TABLES) + 1


_TABLES = ("chargeward_snapshots", "chargeward_transactions", "chargeward_positions")
_LISTEN_BACKOFF_MAX = 5.0

log = logging.getLogger("chargeward.store")


class PostgresNotifier:
    """LISTENs on the store's channel; calls ``heard`` for every commit not made by ``own`` (this
    process's recorder), and once after every (re)connect.

    The connection is opened in a worker thread and then waited on in trio (its socket readable,
    then psycopg's ``consume_input`` and ``notifies``), so the listener costs no thread while idle
    and is cancelled like any trio task.
    """

    def __init__(self, target: PostgresTarget, channel: str, own: str) -> None:
        self._target = target
        self._listen = SQL("LISTEN {}").format(Identifier(channel))
        self._own = own
        self.connects = 0
        """Connections made so far (more than one: it lost one and reconnected)."""

    def _connect(self) -> psycopg.Connection[Any]:
        conn = psycopg.connect(**self._target.connect_kwargs(), autocommit=True)
        try:
            conn.execute(self._listen)
        except BaseException:
            conn.close()
            raise
        return conn

    async def run(self, heard: Callable[[], None], *, task_status: trio.TaskStatus[None]) -> None:
        backoff = 0.1
        started = False
        while True:
            try:
                conn = await trio.to_thread.run_sync(self._connect)
            except psycopg.Error as e:
                log.warning(
                    "%s: cannot LISTEN (%s); retrying in %.1f s", self._target.location, _reason(e), backoff
                )
            else:
                self.connects += 1
                backoff = 0.1
                try:
                    heard()  # whatever was committed while nobody listened
                    if not started:
                        task_status.started()
                        started = True
                    await self._hear(conn, heard)
                except psycopg.Error as e:
                    log.warning(
                        "%s: LISTEN connection lost (%s); reconnecting", self._target.location, _reason(e)
                    )
                finally:
                    conn.close()
            if not started:  # the store opens all the same; followers catch up once it connects
                task_status.started()
                started = True
            await trio.sleep(backoff)
            backoff = min(backoff * 2, _LISTEN_BACKOFF_MAX)

    async def _hear(self, conn: psycopg.Connection[Any], heard: Callable[[], None]) -> None:
        pgconn = conn.pgconn
        while True:
            await trio.lowlevel.wait_readable(pgconn.socket)
            pgconn.consume_input()
            if pgconn.status != psycopg.pq.ConnStatus.OK:
                raise psycopg.OperationalError("the listening connection closed")
            others = False
            while (notify := pgconn.notifies()) is not None:
                others = others or notify.extra.decode() != self._own
            if others:
                heard()


class PostgresSideTables:
    """chargeward's own tables beside the log: snapshots by key, and the transaction index.

    Parallel to ``SQLiteSideTables``, on the recorder's connection pool. A transaction's row is kept
    whole as msgpack (``row``), so every value comes back with the type it was given (an integer
    meter reading stays one, as SQLite's untyped columns keep it); the columns beside it are what
    lookups filter and order on. Transaction ids are 1.6's integers or 2.0.1's strings: the key
    tells them apart (``i:42``, ``s:abc``); the list pages over ``int_id`` (the integers), then over
    the ``s:`` keys.
    """

    def __init__(self, datastore: PostgresDatastore, *, create: bool) -> None:
        self._datastore = datastore
        schema = Identifier(datastore.schema)
        self._sql = {
            name: SQL(text).format(schema=schema)
            for name, text in {
                "load": "SELECT blob FROM {schema}.chargeward_snapshots WHERE key = %s",
                "save": "INSERT INTO {schema}.chargeward_snapshots (key, blob) VALUES (%s, %s) "
                "ON CONFLICT (key) DO UPDATE SET blob = excluded.blob",
                "position": "SELECT position FROM {schema}.chargeward_positions WHERE name = %s",
                "apply": "INSERT INTO {schema}.chargeward_transactions "
                "(key, int_id, station_id, active, row) VALUES (%s, %s, %s, %s, %s) "
                "ON CONFLICT (key) DO UPDATE SET int_id = excluded.int_id, "
                "station_id = excluded.station_id, active = excluded.active, row = excluded.row",
                "set_position": "INSERT INTO {schema}.chargeward_positions (name, position) VALUES (%s, %s) "
                "ON CONFLICT (name) DO UPDATE SET position = excluded.position",
                "get": "SELECT row FROM {schema}.chargeward_transactions WHERE key = %s",
            }.items()
        }
        self._schema = schema
        if create:
            self._create()

    def _create(self) -> None:
        schema = self._schema
        with self._datastore.transaction(commit=True) as cursor:
            cursor.execute(
                SQL(
                    "CREATE TABLE IF NOT EXISTS {schema}.chargeward_snapshots "
                    "(key text PRIMARY KEY, blob bytea NOT NULL)"
                ).format(schema=schema)
            )
            cursor.execute(
                SQL(
                    "CREATE TABLE IF NOT EXISTS {schema}.chargeward_transactions (key text PRIMARY KEY, "
                    "int_id bigint, station_id text NOT NULL, active boolean NOT NULL, row bytea NOT NULL)"
                ).format(schema=schema)
            )
            cursor.execute(
                SQL(
                    "CREATE INDEX IF NOT EXISTS chargeward_transactions_by_station "
                    "ON {schema}.chargeward_transactions (station_id, int_id)"
                ).format(schema=schema)
            )
            cursor.execute(
                SQL(
                    "CREATE UNIQUE INDEX IF NOT EXISTS chargeward_transactions_by_int_id "
                    "ON {schema}.chargeward_transactions (int_id)"
                ).format(schema=schema)
            )
            cursor.execute(
                SQL(
                    "CREATE INDEX IF NOT EXISTS chargeward_transactions_by_text_key "
                    'ON {schema}.chargeward_transactions (key COLLATE "C") WHERE int_id IS NULL'
                ).format(schema=schema)
            )
            cursor.execute(
                SQL(
                    "CREATE TABLE IF NOT EXISTS {schema}.chargeward_positions "
                    "(name text PRIMARY KEY, position bigint NOT NULL)"
                ).format(schema=schema)
            )

    def load(self, key: str) -> bytes | None:
        with self._datastore.transaction() as cursor:
            cursor.execute(self._sql["load"], (key,))
            row = cursor.fetchone()
        return None if row is None else bytes(row["blob"])

    def save(self, key: str, blob: bytes) -> None:
        with self._datastore.transaction(commit=True) as cursor:
            cursor.execute(self._sql["save"], (key, bytes(blob)))

    def position(self) -> int:
        with self._datastore.transaction() as cursor:
            cursor.execute(self._sql["position"], (TRANSACTION_INDEX,))
            row = cursor.fetchone()
        return 0 if row is None else int(row["position"])

    def apply(self, rows: Sequence[Mapping[str, Any]], position: int) -> None:
        values = []
        for row in rows:
            tx_id = row["transaction_id"]
            values.append(
                (
                    _key(tx_id),
                    tx_id if isinstance(tx_id, int) and _INT64_MIN <= tx_id <= _INT64_MAX else None,
                    row["station_id"],
                    row["stopped"] is None,
                    pack({name: row[name] for name in TRANSACTION_FIELDS}),
                )
            )
        with self._datastore.transaction(commit=True) as cursor:
            if values:
                cursor.executemany(self._sql["apply"], values)
            cursor.execute(self._sql["set_position"], (TRANSACTION_INDEX, position))

    def get(self, transaction_id: int | str) -> dict[str, Any] | None:
        with self._datastore.transaction() as cursor:
            cursor.execute(self._sql["get"], (_key(transaction_id),))
            row = cursor.fetchone()
        return None if row is None else dict(unpack(bytes(row["row"])))

    def find(self, query: TransactionQuery) -> list[dict[str, Any]]:
        # listing_key's order: the integers by int_id, then the strings by their key ("s:" and the
        # id) in code-point order (collation "C": byte order of UTF-8 is code-point order).
        where: list[Composable]
        args: list[object]
        after = query.after
        if isinstance(after, str):
            where, args = [SQL("left(key, 2) = 's:' AND key COLLATE \"C\" > %s")], [_key(after)]
        elif after is None or after < _INT64_MIN:
            where, args = [SQL("(int_id IS NOT NULL OR left(key, 2) = 's:')")], []
        else:
            where, args = [SQL("(int_id > %s OR left(key, 2) = 's:')")], [min(after, _INT64_MAX)]
        if query.station is not None:
            where.append(SQL("station_id = %s"))
            args.append(query.station)
        if query.active is not None:
            where.append(SQL("active = %s"))
            args.append(query.active)
        sql = SQL(
            "SELECT row FROM {schema}.chargeward_transactions WHERE {where} "
            'ORDER BY int_id IS NULL, int_id, key COLLATE "C" LIMIT %s'
        ).format(schema=self._schema, where=SQL(" AND ").join(where))
        with self._datastore.transaction() as cursor:
            cursor.execute(sql, (*args, query.limit))
            return [dict(unpack(bytes(row["row"]))) for row in cursor.fetchall()]

    def close(self) -> None:
        pass  # the pool is the recorder's, closed with its factory


def _key(transaction_id: int | str) -> str:
    return f"i:{transaction_id}" if isinstance(transaction_id, int) else f"s:{transaction_id}"


def _drain_on_failed_check(pool: ConnectionPool[Any]) -> None:
    """Make the first broken connection found replace every pooled connection.

    A PostgreSQL restart breaks all of them at once. The pool checks a connection before handing it
    out and, when the check fails, sleeps with a growing backoff (1 s, 2 s, ...) before checking the
    next one: with ``pool_size`` broken connections, the first commit after a restart waited past
    ``connect_timeout`` and failed though PostgreSQL was back. Draining at the first failed check
    discards the others at once, so the next connection handed out is a new one (after one backoff
    of about a second)."""
    check = ConnectionPool.check_connection

    def check_or_drain(conn: psycopg.Connection[Any]) -> None:
        try:
            check(conn)
        except Exception:
            pool.drain()
            raise

    pool._check = check_or_drain  # the pool takes its check only as a constructor argument


def open_log(url: str, poll_interval: float) -> RecordedLog:
    """Open (creating the schema and tables if needed) the store named by ``url``; blocking."""
    target = postgres_target(url)
    create = _check(target)
    env = {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "APPLICATION_RECORDER_TOPIC": RECORDER_TOPIC,
        "POSTGRES_DBNAME": target.database,
        "POSTGRES_HOST": target.host,
        "POSTGRES_PORT": str(target.port),
        "POSTGRES_USER": target.user,
        "POSTGRES_PASSWORD": target.password,
        "POSTGRES_SCHEMA": target.schema,
        "POSTGRES_POOL_SIZE": str(target.pool_size),
        "POSTGRES_MAX_OVERFLOW": str(target.pool_size),
        "POSTGRES_CONNECT_TIMEOUT": str(target.connect_timeout),
        # Connections that died with a server restart are found and replaced before they are used.
        "POSTGRES_PRE_PING": "yes",
        "CREATE_TABLE": "yes" if create else "no",
    }
    factory = InfrastructureFactory.construct(env)
    try:
        recorder = factory.application_recorder()
        assert isinstance(recorder, PostgresStreamRecorder)
        mapper = factory.mapper(transcoder=MsgpackTranscoder(), mapper_class=RecordMapper)
        assert isinstance(mapper, RecordMapper)
        side = PostgresSideTables(recorder.datastore, create=create)
        _drain_on_failed_check(recorder.datastore.pool)
    except (PersistenceError, psycopg.Error) as e:
        factory.close()
        raise StoreUnavailable(target.location, _reason(e)) from e
    except BaseException:
        factory.close()
        raise
    return RecordedLog(
        recorder,
        mapper,
        location=target.location,
        offload=True,
        poll_interval=None,  # the notifier wakes followers on other processes' commits
        close=factory.close,
        side=side,
        notifier=PostgresNotifier(target, recorder.channel_name, recorder.writer_id),
    )
