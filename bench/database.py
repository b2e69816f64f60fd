"""Each benchmark's own throw-away database: a fresh PostgreSQL database or SQLite file."""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
from collections.abc import Mapping


def add_database_arguments(parser: argparse.ArgumentParser, default_db: str = "postgres") -> None:
    parser.add_argument("--db", choices=["sqlite", "postgres"], default=default_db)
    parser.add_argument("--pg-host", default="127.0.0.1")
    parser.add_argument("--pg-port", default="5432")
    parser.add_argument("--pg-user", default="postgres")
    parser.add_argument(
        "--pg-name", default=None, help="the database's name (default: the benchmark's own)"
    )


def _pg_admin(sql: str, args: argparse.Namespace) -> None:
    import psycopg

    with psycopg.connect(
        host=args.pg_host, port=args.pg_port, user=args.pg_user, dbname="postgres", autocommit=True
    ) as conn:
        conn.execute(sql)


def fresh_database_url(args: argparse.Namespace, name: str) -> str:
    """The URL of an empty database for this run: PostgreSQL database `name`, dropped and
    created again (--pg-name instead, so runs side by side do not drop each other's), or
    (--db sqlite) a new file in a temporary folder."""
    name = getattr(args, "pg_name", None) or name
    if args.db == "sqlite":
        folder = tempfile.mkdtemp(prefix=f"{name}-")
        return f"sqlite:///{folder}/bench.sqlite3"
    drop_database(args, name)
    _pg_admin(f'CREATE DATABASE "{name}"', args)
    return f"postgres://{args.pg_user}@{args.pg_host}:{args.pg_port}/{name}"


def drop_database(args: argparse.Namespace, name: str) -> None:
    name = getattr(args, "pg_name", None) or name
    if args.db == "postgres":
        _pg_admin(f'DROP DATABASE IF EXISTS "{name}"', args)


def start_django(env: Mapping[str, str]) -> None:
    """Set Django up in this benchmark process with `env` (what its servers get too): always
    the local-memory cache, so a benchmark never clears someone's Redis, and no per-call log
    lines here (servers keep their own)."""
    os.environ.update(env)
    os.environ.pop("REDIS_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "askproai.settings")
    import django

    django.setup()
    logging.getLogger("askproai").setLevel(logging.WARNING)
