#!/usr/bin/env python3
"""Generates haimaker's LiteLLM baseline migration from LiteLLM's own migrations.

    python3 scripts/gen-litellm-baseline.py [--pg-url URL] [--package-dir DIR]

LiteLLM's schema is defined by the `migration.sql` files of the PyPI package
`litellm-proxy-extras` (applied in name order by `prisma migrate deploy`). This script

1. downloads the pinned wheel (`pip download --no-deps --only-binary=:all:`) and unpacks it,
2. creates a scratch database and applies every migration.sql in order with psql, each
   sent as one query string as Prisma does (so a lone `CREATE INDEX CONCURRENTLY` runs
   outside a transaction), taking a snapshot of the schema after each one,
3. introspects the result through pg_catalog (tables, columns with exact types,
   nullability, defaults, primary keys, unique constraints, indexes, foreign keys, enum
   types, sequences, functions, triggers),
4. writes `crates/haimaker-store/migrations/0001_litellm_baseline.sql`: an idempotent
   script that builds the same schema on an empty database and, on a database LiteLLM
   already migrated (to this or an older version), adds only what is missing,
5. copies the package's licence next to it and drops the scratch database.

The snapshots taken between migrations let the baseline also replay the few non-additive
steps LiteLLM took over time that an older database still lacks and that touch no data:
renames, `DROP NOT NULL`, integer widening, changed defaults and indexes LiteLLM dropped
(an old unique index would reject rows the newer unique key allows).

Needs pip, psql and a PostgreSQL server where the connecting role may create databases.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

PACKAGE = "litellm-proxy-extras"
VERSION = "0.4.110"
DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/postgres"

REPO = Path(__file__).resolve().parent.parent
MIGRATIONS_OUT = REPO / "crates" / "haimaker-store" / "migrations"
BASELINE_OUT = MIGRATIONS_OUT / "0001_litellm_baseline.sql"
LICENSE_OUT = MIGRATIONS_OUT / "LICENSE-litellm-proxy-extras"


# --------------------------------------------------------------------------------------------
# Getting the migrations
# --------------------------------------------------------------------------------------------


def fetch_package(workdir: Path) -> Path:
    """Downloads and unpacks the pinned wheel; returns the `litellm_proxy_extras` directory."""
    wheels = workdir / "wheel"
    subprocess.run(
        [
            sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
            "--dest", str(wheels), f"{PACKAGE}=={VERSION}",
        ],
        check=True,
    )
    (wheel,) = wheels.glob("*.whl")
    unpacked = workdir / "unpacked"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(unpacked)
    return unpacked / "litellm_proxy_extras"


def migration_files(package_dir: Path) -> list[Path]:
    # Prisma applies the directories in name order (byte order; the names are ASCII).
    return sorted((package_dir / "migrations").glob("*/migration.sql"), key=lambda p: p.parent.name)


def licence_text(package_dir: Path) -> str | None:
    dist_infos = list(package_dir.parent.glob("litellm_proxy_extras-*.dist-info"))
    for info in dist_infos:
        for candidate in sorted(info.rglob("LICENSE*")):
            return candidate.read_text(encoding="utf-8")
    return None


# --------------------------------------------------------------------------------------------
# Talking to Postgres (through psql, so the script needs nothing but the standard library)
# --------------------------------------------------------------------------------------------


def with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + database, parts.query, parts.fragment))


def psql(url: str, sql: str, *, tuples: bool = False) -> str:
    command = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url]
    if tuples:
        command += ["-A", "-t"]
    # One -c string is sent as one simple query, like Prisma sends a migration file.
    command += ["-c", sql]
    env = dict(os.environ, PGOPTIONS="-c client_min_messages=warning -c search_path=public")
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"psql failed: {done.stderr.strip()}")
    return done.stdout


def query_json(url: str, sql: str):
    out = psql(url, f"SELECT coalesce(json_agg(q), '[]'::json) FROM ({sql}) q", tuples=True)
    return json.loads(out)


# --------------------------------------------------------------------------------------------
# Introspection
# --------------------------------------------------------------------------------------------

TABLES_SQL = """
SELECT c.relname AS name FROM pg_class c
WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p')
"""

COLUMNS_SQL = """
SELECT c.relname AS "table", a.attname AS name, a.attnum AS num,
       format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull AS notnull,
       pg_get_expr(d.adbin, d.adrelid) AS "default"
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p')
  AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY c.relname, a.attnum
"""

CONSTRAINTS_SQL = """
SELECT c.relname AS "table", con.conname AS name, con.contype AS kind,
       pg_get_constraintdef(con.oid) AS def,
       (SELECT array_agg(a.attname ORDER BY k.ord) FROM unnest(con.conkey) WITH ORDINALITY k(num, ord)
        JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.num) AS columns
FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid
WHERE c.relnamespace = 'public'::regnamespace AND con.contype IN ('p', 'u', 'f')
ORDER BY c.relname, con.conname
"""

# Indexes that are not the index of a primary key or unique constraint.
INDEXES_SQL = """
SELECT t.relname AS "table", i.relname AS name, pg_get_indexdef(x.indexrelid) AS def,
       EXISTS (SELECT 1 FROM pg_constraint con
               WHERE con.conindid = x.indexrelid AND con.conrelid = x.indrelid
                 AND con.contype IN ('p', 'u', 'x')) AS constraint_index
FROM pg_index x
JOIN pg_class i ON i.oid = x.indexrelid
JOIN pg_class t ON t.oid = x.indrelid
WHERE t.relnamespace = 'public'::regnamespace
ORDER BY t.relname, i.relname
"""

ENUMS_SQL = """
SELECT t.typname AS name, array_agg(e.enumlabel ORDER BY e.enumsortorder) AS labels
FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid
WHERE t.typnamespace = 'public'::regnamespace
GROUP BY t.typname ORDER BY t.typname
"""

SEQUENCES_SQL = """
SELECT s.sequencename AS name, format_type(s.data_type, NULL) AS type, s.start_value AS start,
       s.increment_by AS increment, s.min_value AS min, s.max_value AS max, s.cache_size AS cache,
       s.cycle AS cycle, owner.relname AS owner_table, a.attname AS owner_column
FROM pg_sequences s
JOIN pg_class seq ON seq.relname = s.sequencename AND seq.relnamespace = 'public'::regnamespace
LEFT JOIN pg_depend d ON d.objid = seq.oid AND d.classid = 'pg_class'::regclass
     AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
LEFT JOIN pg_class owner ON owner.oid = d.refobjid
LEFT JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
WHERE s.schemaname = 'public'
ORDER BY s.sequencename
"""

FUNCTIONS_SQL = """
SELECT p.proname AS name, pg_get_functiondef(p.oid) AS def
FROM pg_proc p WHERE p.pronamespace = 'public'::regnamespace ORDER BY p.proname
"""

TRIGGERS_SQL = """
SELECT t.tgname AS name, c.relname AS "table", pg_get_triggerdef(t.oid) AS def
FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
WHERE c.relnamespace = 'public'::regnamespace AND NOT t.tgisinternal
ORDER BY c.relname, t.tgname
"""

VIEWS_SQL = """
SELECT c.relname AS name FROM pg_class c
WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('v', 'm') ORDER BY c.relname
"""


@dataclass
class Schema:
    tables: list[str]
    columns: list[dict]
    constraints: list[dict]
    indexes: list[dict]
    enums: list[dict]
    sequences: list[dict]
    functions: list[dict]
    triggers: list[dict]
    views: list[str]

    @staticmethod
    def read(url: str) -> "Schema":
        return Schema(
            tables=sorted(row["name"] for row in query_json(url, TABLES_SQL)),
            columns=query_json(url, COLUMNS_SQL),
            constraints=query_json(url, CONSTRAINTS_SQL),
            indexes=query_json(url, INDEXES_SQL),
            enums=query_json(url, ENUMS_SQL),
            sequences=query_json(url, SEQUENCES_SQL),
            functions=query_json(url, FUNCTIONS_SQL),
            triggers=query_json(url, TRIGGERS_SQL),
            views=[row["name"] for row in query_json(url, VIEWS_SQL)],
        )


SNAPSHOT_SQL = """
SELECT json_build_object(
  'columns', (SELECT coalesce(json_agg(json_build_array(c.relname, a.attname,
                  format_type(a.atttypid, a.atttypmod), a.attnotnull, pg_get_expr(d.adbin, d.adrelid))), '[]')
              FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
              LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
              WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p')
                AND a.attnum > 0 AND NOT a.attisdropped),
  'indexes', (SELECT coalesce(json_agg(json_build_array(i.relname, t.relname,
                  EXISTS (SELECT 1 FROM pg_constraint con WHERE con.conindid = x.indexrelid
                          AND con.conrelid = x.indrelid), pg_get_indexdef(x.indexrelid))), '[]')
              FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid
              WHERE t.relnamespace = 'public'::regnamespace))
"""


@dataclass
class History:
    """What the schema looked like between migrations, for the drift section."""

    # (table, column) -> every (type, notnull, default) it had along the way
    column_states: dict[tuple[str, str], set[tuple[str, bool, str | None]]] = field(default_factory=dict)
    # table -> the columns it had when it first appeared (a table always has those)
    original_columns: dict[str, set[str]] = field(default_factory=dict)
    # index name -> (table, backs a constraint)
    indexes: dict[str, tuple[str, bool]] = field(default_factory=dict)
    # index name -> every definition it had (LiteLLM recreated some under the same name)
    index_defs: dict[str, set[str]] = field(default_factory=dict)

    def record(self, url: str) -> None:
        snap = json.loads(psql(url, SNAPSHOT_SQL, tuples=True))
        seen: dict[str, set[str]] = {}
        for table, column, type_, notnull, default in snap["columns"]:
            self.column_states.setdefault((table, column), set()).add((type_, notnull, default))
            seen.setdefault(table, set()).add(column)
        for table, columns in seen.items():
            self.original_columns.setdefault(table, columns)
        for name, table, constraint_index, definition in snap["indexes"]:
            self.indexes.setdefault(name, (table, constraint_index))
            self.index_defs.setdefault(name, set()).add(unqualified(definition))


# Renames, read from the migration text: (kind, table, old, new) in the order LiteLLM ran them.
RENAME_TABLE = re.compile(r'ALTER\s+TABLE\s+(?:IF\s+EXISTS\s+)?"(\w+)"\s+RENAME\s+TO\s+"(\w+)"', re.I)
RENAME_COLUMN = re.compile(r'ALTER\s+TABLE\s+(?:IF\s+EXISTS\s+)?"(\w+)"\s+RENAME\s+COLUMN\s+"(\w+)"\s+TO\s+"(\w+)"', re.I)
RENAME_INDEX = re.compile(r'ALTER\s+INDEX\s+(?:IF\s+EXISTS\s+)?"(\w+)"\s+RENAME\s+TO\s+"(\w+)"', re.I)


def renames_in(sql: str) -> list[tuple[str, str | None, str, str]]:
    found = []
    for m in RENAME_TABLE.finditer(sql):
        found.append((m.start(), ("table", None, m.group(1), m.group(2))))
    for m in RENAME_COLUMN.finditer(sql):
        found.append((m.start(), ("column", m.group(1), m.group(2), m.group(3))))
    for m in RENAME_INDEX.finditer(sql):
        found.append((m.start(), ("index", None, m.group(1), m.group(2))))
    return [rename for _, rename in sorted(found)]


# --------------------------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------------------------

TYPE_NAMES = {
    "text": "TEXT",
    "integer": "INTEGER",
    "bigint": "BIGINT",
    "smallint": "SMALLINT",
    "double precision": "DOUBLE PRECISION",
    "real": "REAL",
    "boolean": "BOOLEAN",
    "jsonb": "JSONB",
    "json": "JSON",
    "bytea": "BYTEA",
    "uuid": "UUID",
    "date": "DATE",
}


def sql_type(pg_type: str) -> str:
    """Prisma's spelling of a format_type() name (`timestamp(3) without time zone` -> `TIMESTAMP(3)`)."""
    array = pg_type.endswith("[]")
    base = pg_type[:-2] if array else pg_type
    m = re.fullmatch(r"timestamp\((\d)\) without time zone", base)
    if m:
        base = f"TIMESTAMP({m.group(1)})"
    elif m := re.fullmatch(r"timestamp\((\d)\) with time zone", base):
        base = f"TIMESTAMPTZ({m.group(1)})"
    else:
        base = TYPE_NAMES.get(base, base)
    return base + ("[]" if array else "")


def ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def unqualified(definition: str) -> str:
    # pg_get_indexdef/triggerdef/functiondef name the schema; the baseline must work in
    # whichever schema it is run (LiteLLM's DATABASE_SCHEMA), so drop it.
    return definition.replace(" ON public.", " ON ").replace("FUNCTION public.", "FUNCTION ")


def column_def(col: dict, *, for_add: bool = False) -> str:
    parts = [ident(col["name"]), sql_type(col["type"])]
    if col["notnull"] and not (for_add and col["default"] is None):
        parts.append("NOT NULL")
    if col["default"] is not None:
        parts.append("DEFAULT " + col["default"])
    return " ".join(parts)


def column_exists(table: str, column: str) -> str:
    return (
        f"EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass({literal(ident(table))}) "
        f"AND attname = {literal(column)} AND NOT attisdropped)"
    )


def constraint_exists(table: str, name: str) -> str:
    return (
        f"EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = to_regclass({literal(ident(table))}) "
        f"AND conname = {literal(name)})"
    )


def do_block(body: list[str]) -> str:
    return "DO $$\nBEGIN\n" + "\n".join("    " + line for line in body) + "\nEND $$;"


@dataclass
class Rendered:
    text: str
    tables: int
    columns: int
    indexes: int
    foreign_keys: int


def render(schema: Schema, history: History, renames: list, last_migration: str, count: int) -> Rendered:
    out: list[str] = []
    emit = out.append

    columns_by_table: dict[str, list[dict]] = {}
    for col in schema.columns:
        columns_by_table.setdefault(col["table"], []).append(col)
    pkeys = {c["table"]: c for c in schema.constraints if c["kind"] == "p"}
    uniques = [c for c in schema.constraints if c["kind"] == "u"]
    fkeys = [c for c in schema.constraints if c["kind"] == "f"]
    plain_indexes = [i for i in schema.indexes if not i["constraint_index"]]
    final_columns = {(c["table"], c["name"]): c for c in schema.columns}
    final_index_names = {i["name"] for i in schema.indexes}

    emit(f"""\
-- GENERATED by scripts/gen-litellm-baseline.py from {PACKAGE} {VERSION}
-- ({count} migrations, the last {last_migration}). Do not edit: re-run the script, and ship a
-- schema change for databases that already applied this file as a new migration file (haimaker
-- checksums applied migrations).
--
-- LiteLLM's database schema (LiteLLM is MIT-licensed, Copyright (c) 2023 Berri AI: see
-- LICENSE-litellm-proxy-extras in this directory), written as an idempotent script:
--   * on an empty database it builds what LiteLLM's migrations build (same tables, columns,
--     types, defaults, keys, indexes, foreign keys, enum, function and trigger);
--   * on a database LiteLLM already migrated, to this or an older version, it adds only what
--     is missing and never touches rows. It also replays the few non-additive steps LiteLLM
--     took since that touch no data: renames, DROP NOT NULL, integer widening, changed
--     defaults and the removal of indexes LiteLLM dropped.
-- It never reads or writes _prisma_migrations.
""")

    # -- Enum types ---------------------------------------------------------------------
    if schema.enums:
        emit("-- Enum types\n")
        for enum in schema.enums:
            labels = ", ".join(literal(label) for label in enum["labels"])
            emit(do_block([
                "IF NOT EXISTS (SELECT 1 FROM pg_type WHERE typname = "
                f"{literal(enum['name'])} AND typnamespace = current_schema()::regnamespace) THEN",
                f"    CREATE TYPE {ident(enum['name'])} AS ENUM ({labels});",
                "END IF;",
            ]))
            for label in enum["labels"]:
                emit(f"ALTER TYPE {ident(enum['name'])} ADD VALUE IF NOT EXISTS {literal(label)};")
            emit("")

    # -- Renames ------------------------------------------------------------------------
    if renames:
        emit("-- Renames LiteLLM made (an older database still has the old names)\n")
        for kind, table, old, new in renames:
            if kind == "table":
                emit(do_block([
                    f"IF to_regclass({literal(ident(old))}) IS NOT NULL AND to_regclass({literal(ident(new))}) IS NULL THEN",
                    f"    ALTER TABLE {ident(old)} RENAME TO {ident(new)};",
                    "END IF;",
                ]))
            elif kind == "column":
                emit(do_block([
                    f"IF {column_exists(table, old)}",
                    f"   AND NOT {column_exists(table, new)} THEN",
                    f"    ALTER TABLE {ident(table)} RENAME COLUMN {ident(old)} TO {ident(new)};",
                    "END IF;",
                ]))
            else:
                emit(do_block([
                    f"IF to_regclass({literal(ident(old))}) IS NOT NULL AND to_regclass({literal(ident(new))}) IS NULL THEN",
                    f"    ALTER INDEX {ident(old)} RENAME TO {ident(new)};",
                    "END IF;",
                ]))
        emit("")

    # -- Sequences ----------------------------------------------------------------------
    if schema.sequences:
        emit("-- Sequences (SERIAL columns)\n")
        for seq in schema.sequences:
            cycle = "CYCLE" if seq["cycle"] else "NO CYCLE"
            emit(
                f"CREATE SEQUENCE IF NOT EXISTS {ident(seq['name'])} AS {sql_type(seq['type'])} "
                f"START WITH {seq['start']} INCREMENT BY {seq['increment']} MINVALUE {seq['min']} "
                f"MAXVALUE {seq['max']} CACHE {seq['cache']} {cycle};"
            )
        emit("")

    # -- Tables -------------------------------------------------------------------------
    emit("-- Tables\n")
    for table in schema.tables:
        lines = [column_def(col) for col in columns_by_table[table]]
        if table in pkeys:
            pk = pkeys[table]
            lines.append(f"CONSTRAINT {ident(pk['name'])} {pk['def']}")
        emit(f"CREATE TABLE IF NOT EXISTS {ident(table)} (\n    " + ",\n    ".join(lines) + "\n);\n")

    # -- Columns on existing tables -----------------------------------------------------
    emit("""\
-- Columns a table created by an older LiteLLM lacks. Primary-key columns are left out (a
-- table always had them). A NOT NULL column without a default that a table had from its
-- creation is always there when the table is; one LiteLLM added later cannot be added to a
-- table that has rows without inventing values, so it is added nullable, made NOT NULL
-- only if the table is empty, and otherwise left nullable with a warning.
""")
    required: list[tuple[str, dict]] = []
    for table in schema.tables:
        pk_cols = set(pkeys[table]["columns"]) if table in pkeys else set()
        original = history.original_columns.get(table, set())
        adds = []
        for col in columns_by_table[table]:
            if col["name"] in pk_cols:
                continue
            if col["notnull"] and col["default"] is None and col["name"] not in original:
                required.append((table, col))
                continue
            adds.append(f"ADD COLUMN IF NOT EXISTS {column_def(col)}")
        if adds:
            emit(f"ALTER TABLE {ident(table)}\n    " + ",\n    ".join(adds) + ";\n")
    for table, col in required:
        emit(do_block([
            f"IF NOT {column_exists(table, col['name'])} THEN",
            f"    ALTER TABLE {ident(table)} ADD COLUMN {column_def(col, for_add=True)};",
            f"    IF NOT EXISTS (SELECT 1 FROM {ident(table)}) THEN",
            f"        ALTER TABLE {ident(table)} ALTER COLUMN {ident(col['name'])} SET NOT NULL;",
            "    ELSE",
            f"        RAISE WARNING 'haimaker: added {table}.{col['name']} as nullable: the table has rows and the column has no default';",
            "    END IF;",
            "END IF;",
        ]))
    if required:
        emit("")

    # -- Drift: what changed on existing columns ----------------------------------------
    renamed_columns = {(t, old) for kind, t, old, _ in renames if kind == "column"}
    renamed_tables = {old for kind, _, old, _ in renames if kind == "table"}
    drop_not_null: dict[str, list[str]] = {}
    widen: list[tuple[str, dict, list[str]]] = []
    defaults: list[tuple[str, dict, list[str]]] = []
    obsolete_required: list[tuple[str, str]] = []
    for (table, name), states in sorted(history.column_states.items()):
        final = final_columns.get((table, name))
        if final is None:
            if table in renamed_tables or (table, name) in renamed_columns:
                continue
            # A column LiteLLM dropped: an older database still has it, and if it is NOT NULL
            # without a default, inserts written for the newer schema would fail on it.
            if any(notnull and default is None for _, notnull, default in states):
                obsolete_required.append((table, name))
            continue
        pk_cols = set(pkeys[table]["columns"]) if table in pkeys else set()
        if not final["notnull"] and any(notnull for _, notnull, _ in states) and name not in pk_cols:
            drop_not_null.setdefault(table, []).append(name)
        old_types = sorted({type_ for type_, _, _ in states if type_ != final["type"]})
        if old_types:
            widen.append((table, final, old_types))
        old_defaults = sorted({d for _, _, d in states if d != final["default"] and d is not None})
        had_no_default = any(d is None for _, _, d in states) and final["default"] is not None
        if old_defaults or had_no_default:
            defaults.append((table, final, old_defaults + (["NULL"] if had_no_default else [])))

    if drop_not_null or widen or defaults or obsolete_required:
        emit("-- Changes LiteLLM made to existing columns, replayed where an older database lacks them\n")
    for table, names in drop_not_null.items():
        emit(f"ALTER TABLE {ident(table)}\n    " + ",\n    ".join(
            f"ALTER COLUMN {ident(n)} DROP NOT NULL" for n in names) + ";\n")
    widen_by_table: dict[str, list[tuple[dict, list[str]]]] = {}
    for table, col, old_types in widen:
        widen_by_table.setdefault(table, []).append((col, old_types))
    for table, cols in widen_by_table.items():
        # One ALTER TABLE for all of a table's columns: each type change rewrites the table.
        body = ["clauses text[] := '{}';", "BEGIN"]
        for col, old_types in cols:
            olds = ", ".join(literal(t) for t in old_types)
            clause = f"ALTER COLUMN {ident(col['name'])} SET DATA TYPE {sql_type(col['type'])}"
            body += [
                "    IF (SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = "
                f"to_regclass({literal(ident(table))}) AND attname = {literal(col['name'])} AND NOT attisdropped) IN ({olds}) THEN",
                f"        clauses := array_append(clauses, {literal(clause)});",
                "    END IF;",
            ]
        body += [
            "    IF cardinality(clauses) > 0 THEN",
            f"        EXECUTE {literal(f'ALTER TABLE {ident(table)} ')} || array_to_string(clauses, ', ');",
            "    END IF;",
            "END $$;",
        ]
        emit("DO $$\nDECLARE\n    " + "\n".join(body))
    for table, col, olds in defaults:
        # Only a default LiteLLM itself once had is replaced, so a newer LiteLLM's is kept.
        conditions = []
        for old in olds:
            if old == "NULL":
                conditions.append("d.adbin IS NULL")
            else:
                conditions.append(f"pg_get_expr(d.adbin, d.adrelid) = {literal(old)}")
        emit(do_block([
            "IF EXISTS (SELECT 1 FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum",
            f"    WHERE a.attrelid = to_regclass({literal(ident(table))}) AND a.attname = {literal(col['name'])}",
            f"      AND NOT a.attisdropped AND ({' OR '.join(conditions)})) THEN",
            f"    ALTER TABLE {ident(table)} ALTER COLUMN {ident(col['name'])} SET DEFAULT {col['default']};",
            "END IF;",
        ]))
    for table, name in obsolete_required:
        emit(do_block([
            f"IF {column_exists(table, name)} THEN",
            f"    ALTER TABLE {ident(table)} ALTER COLUMN {ident(name)} DROP NOT NULL;",
            "END IF;",
        ]))
    if drop_not_null or widen or defaults or obsolete_required:
        emit("")

    # -- Sequence ownership -------------------------------------------------------------
    owned = [s for s in schema.sequences if s["owner_table"]]
    if owned:
        emit("-- SERIAL sequences belong to their column, as SERIAL makes them\n")
        for seq in owned:
            emit(f"ALTER SEQUENCE {ident(seq['name'])} OWNED BY {ident(seq['owner_table'])}.{ident(seq['owner_column'])};")
        emit("")

    # -- Indexes ------------------------------------------------------------------------
    renamed_indexes = {old for kind, _, old, _ in renames if kind == "index"}
    obsolete_indexes = sorted(
        name for name, (_, constraint_index) in history.indexes.items()
        if name not in final_index_names and not constraint_index and name not in renamed_indexes
    )
    if obsolete_indexes:
        emit("-- Indexes LiteLLM dropped (an older unique one would reject rows the newer schema allows)\n")
        for name in obsolete_indexes:
            emit(f"DROP INDEX IF EXISTS {ident(name)};")
        emit("")
    redefined = []
    for index in schema.indexes:
        final_def = unqualified(index["def"])
        olds = sorted(d for d in history.index_defs.get(index["name"], set()) if d != final_def)
        if olds and not index["constraint_index"]:
            redefined.append((index, olds))
    if redefined:
        emit("""\
-- Indexes LiteLLM recreated under the same name with other columns: an older database has
-- the old definition, which CREATE INDEX IF NOT EXISTS would keep, so drop it first.
""")
        for index, olds in redefined:
            emit(do_block([
                f"IF (SELECT replace(pg_get_indexdef(to_regclass({literal(ident(index['name']))})), ' ON ' || quote_ident(current_schema()) || '.', ' ON '))",
                "   IN (" + ",\n       ".join(literal(d) for d in olds) + ") THEN",
                f"    DROP INDEX {ident(index['name'])};",
                "END IF;",
            ]))
        emit("")
    emit("-- Indexes\n")
    for index in plain_indexes:
        definition = unqualified(index["def"])
        definition = re.sub(r"^CREATE (UNIQUE )?INDEX ", lambda m: f"CREATE {m.group(1) or ''}INDEX IF NOT EXISTS ", definition)
        emit(definition + ";")
    emit("")

    # -- Unique constraints -------------------------------------------------------------
    if uniques:
        emit("-- Unique constraints\n")
        for con in uniques:
            emit(do_block([
                f"IF NOT {constraint_exists(con['table'], con['name'])}",
                f"   AND to_regclass({literal(ident(con['name']))}) IS NULL THEN",
                f"    ALTER TABLE {ident(con['table'])} ADD CONSTRAINT {ident(con['name'])} {con['def']};",
                "END IF;",
            ]))
        emit("")

    # -- Foreign keys -------------------------------------------------------------------
    emit("""\
-- Foreign keys, added when absent. Rows an older LiteLLM left behind may not satisfy one
-- (an orphan): then it is added NOT VALID, which checks new rows only, and a warning says so.
""")
    for con in fkeys:
        emit(do_block([
            f"IF NOT {constraint_exists(con['table'], con['name'])} THEN",
            "    BEGIN",
            f"        ALTER TABLE {ident(con['table'])} ADD CONSTRAINT {ident(con['name'])} {con['def']};",
            "    EXCEPTION WHEN foreign_key_violation THEN",
            f"        ALTER TABLE {ident(con['table'])} ADD CONSTRAINT {ident(con['name'])} {con['def']} NOT VALID;",
            f"        RAISE WARNING 'haimaker: foreign key {con['name']} added NOT VALID: existing rows violate it';",
            "    END;",
            "END IF;",
        ]))
    emit("")

    # -- Functions and triggers ---------------------------------------------------------
    if schema.functions:
        emit("-- Functions\n")
        for fn in schema.functions:
            emit(unqualified(fn["def"]).rstrip() + ";\n")
    if schema.triggers:
        emit("-- Triggers\n")
        for trg in schema.triggers:
            emit(do_block([
                f"IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = to_regclass({literal(ident(trg['table']))})",
                f"   AND tgname = {literal(trg['name'])} AND NOT tgisinternal) THEN",
                f"    {unqualified(trg['def'])};",
                "END IF;",
            ]))
        emit("")

    text = "\n".join(out).rstrip() + "\n"
    return Rendered(
        text=text,
        tables=len(schema.tables),
        columns=len(schema.columns),
        indexes=len(schema.indexes),
        foreign_keys=len(fkeys),
    )


# --------------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--pg-url",
        default=os.environ.get("HAIMAKER_TEST_PG_URL", DEFAULT_PG_URL),
        help="a database URL whose role may CREATE DATABASE (default: $HAIMAKER_TEST_PG_URL or %(default)s)",
    )
    parser.add_argument(
        "--package-dir",
        type=Path,
        help="an unpacked litellm_proxy_extras directory to use instead of downloading the wheel",
    )
    parser.add_argument("--out", type=Path, default=BASELINE_OUT, help="where to write the baseline")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="hm-baseline-") as tmp:
        package_dir = args.package_dir or fetch_package(Path(tmp))
        files = migration_files(package_dir)
        if not files:
            print(f"no migrations under {package_dir}", file=sys.stderr)
            return 1

        scratch = f"hm_baseline_{secrets.token_hex(6)}"
        psql(args.pg_url, f'CREATE DATABASE "{scratch}"')
        try:
            url = with_database(args.pg_url, scratch)
            history = History()
            renames = []
            for path in files:
                sql = path.read_text(encoding="utf-8")
                try:
                    psql(url, sql)
                except RuntimeError as e:
                    raise RuntimeError(f"{path.parent.name}: {e}") from e
                renames += renames_in(sql)
                history.record(url)
            schema = Schema.read(url)
            licence = licence_text(package_dir)
        finally:
            psql(args.pg_url, f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')

    rendered = render(schema, history, renames, files[-1].parent.name, len(files))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(rendered.text, encoding="utf-8")

    # The wheel ships the repository's LICENSE; keep it beside the SQL derived from it.
    LICENSE_OUT.write_text(licence_header() + (licence or fallback_notice()), encoding="utf-8")

    digest = hashlib.sha256(rendered.text.encode()).hexdigest()
    print(f"{PACKAGE} {VERSION}: applied {len(files)} migrations (last {files[-1].parent.name})")
    print(
        f"wrote {args.out.relative_to(REPO) if args.out.is_relative_to(REPO) else args.out}: "
        f"{rendered.tables} tables, {rendered.columns} columns, {rendered.indexes} indexes, "
        f"{rendered.foreign_keys} foreign keys, {len(schema.enums)} enum types, "
        f"{len(schema.functions)} functions, {len(schema.triggers)} triggers (sha256 {digest})"
    )
    return 0


def licence_header() -> str:
    return (
        f"The SQL in 0001_litellm_baseline.sql is generated from the migrations of the PyPI package\n"
        f"{PACKAGE} {VERSION} (https://github.com/BerriAI/litellm), distributed under the\n"
        f"licence below, copied from the package.\n\n"
    )


def fallback_notice() -> str:
    # Only if a future wheel stops shipping its licence file.
    return "MIT License\n\nCopyright (c) 2023 Berri AI\n\n(the package declares License-Expression: MIT)\n"


if __name__ == "__main__":
    sys.exit(main())
