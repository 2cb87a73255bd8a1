"""Backward-compatibility lint of migration SQL (PRE-DB-1 / MIG-2), on PostgreSQL's own parser.

``pglast`` (libpg_query) parses the text, so a statement inside a comment, a string literal or a
function body (``CREATE FUNCTION ... AS $$ ... $$``, run only when called) is not a statement and is
never reported. A ``DO $$ ... $$`` block runs at migration time: its PL/pgSQL body is parsed with
libpg_query's PL/pgSQL parser and every SQL statement in it (inside IF/LOOP/BEGIN blocks too) is
linted like a top-level one, at its own line; ``EXECUTE 'constant'`` and ``EXECUTE format('...', ...)``
are linted with identifiers substituted, other dynamic SQL is a ``dynamic-sql`` warning.
Comments are read from the same library's scanner, for the reviewed per-statement ignores::

    -- nova-gate: ignore drop-column reason: column unused since 4.2, see NOVA-123
    ALTER TABLE users DROP COLUMN legacy_flag;

Choices where the checklist is silent (also in the verdict's evidence): a ``lock_timeout`` is
"set" when any non-zero value precedes the first ACCESS EXCLUSIVE statement (no maximum is
imposed) and its absence is a warning, not a block; objects created earlier in the same migration
are new, so dropping or rewriting them is not flagged.

The directive must sit directly above the statement (only other comments between them), name a
rule that fires on that statement and give a non-empty reason; anything else is itself a
``bad-ignore`` finding. There is no file-wide or blanket ignore.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from pglast import ast, enums, parse_sql
from pglast.parser import ParseError, scan

from nova_gate.backends.postgres.facts import MigrationFile
from nova_gate.verdict import Verdict, failed, passed, warned

DIRECTIVE = "nova-gate:"
NO_TRANSACTION = "-- no-transaction"


class Severity(enum.StrEnum):
    BLOCK = "block"
    WARN = "warn"


#: rule id → (severity, what it means)
RULES: dict[str, tuple[Severity, str]] = {
    "syntax-error": (Severity.BLOCK, "SQL does not parse"),
    "drop-table": (Severity.BLOCK, "drops a table or view the running version may still use"),
    "drop-column": (Severity.BLOCK, "drops a column the running version may still read or write"),
    "drop-schema": (
        Severity.BLOCK,
        "drops a schema with CASCADE, or a database: every table, view and function in it",
    ),
    "rename-enum-value": (Severity.BLOCK, "renames an enum value the running version reads and writes"),
    "drop-cascade": (
        Severity.BLOCK,
        "DROP ... CASCADE also drops what depends on the object (columns of a type, defaults, views)",
    ),
    "rename-table": (
        Severity.BLOCK,
        "renames a table or view (or moves it to another schema) under the running version",
    ),
    "rename-column": (Severity.BLOCK, "renames a column under the running version"),
    "alter-column-type": (Severity.BLOCK, "changes a column type (rewrite, ACCESS EXCLUSIVE lock)"),
    "add-column-not-null": (
        Severity.BLOCK,
        "adds a NOT NULL column without DEFAULT: inserts of the running version fail",
    ),
    "set-not-null": (Severity.BLOCK, "sets NOT NULL on an existing column (full scan under lock)"),
    "drop-default": (Severity.BLOCK, "drops a column default the running version may rely on"),
    "drop-constraint": (Severity.BLOCK, "drops a constraint the running version may rely on"),
    "truncate": (Severity.BLOCK, "truncates a table"),
    "concurrently-in-transaction": (
        Severity.BLOCK,
        "CONCURRENTLY cannot run in a transaction: the migration must start with "
        "'-- no-transaction' and hold this one statement only",
    ),
    "bad-ignore": (Severity.BLOCK, "a nova-gate ignore directive that is malformed or unused"),
    "drop-index": (Severity.WARN, "drops an index queries may still use"),
    "create-index-not-concurrently": (
        Severity.WARN,
        "builds an index on an existing table without CONCURRENTLY (CREATE INDEX, REINDEX, a UNIQUE, "
        "PRIMARY KEY or EXCLUDE constraint without USING INDEX): writes blocked while it builds",
    ),
    "constraint-not-valid": (
        Severity.WARN,
        "adds a FOREIGN KEY/CHECK constraint without NOT VALID (validated under lock)",
    ),
    "missing-lock-timeout": (
        Severity.WARN,
        "takes an ACCESS EXCLUSIVE lock without a prior SET lock_timeout",
    ),
    "add-column-rewrite": (
        Severity.WARN,
        "adds a column with a volatile default, a serial or a stored generated value: the table is "
        "rewritten under ACCESS EXCLUSIVE",
    ),
    "backfill-in-transaction": (
        Severity.WARN,
        "UPDATE/DELETE of a table this transactional migration altered: the lock is held for the whole backfill",
    ),
    "dynamic-sql": (
        Severity.WARN,
        "EXECUTE of SQL built at run time inside a DO block cannot be linted: review it by hand",
    ),
}
#: where the checklist is silent, what the lint chose (recorded in every verdict's evidence)
CHOICES = (
    "lock_timeout: any non-zero value set before the first ACCESS EXCLUSIVE statement counts; none is a warning",
    "tables created earlier in the same migration are new: dropping or rewriting them is not flagged",
    "DO blocks are linted statement by statement; EXECUTE of run-time SQL is a warning",
    "SET NOT NULL is not flagged after a validated CHECK (col IS NOT NULL) in the same migration (no scan)",
)
UNIGNORABLE = frozenset({"syntax-error", "bad-ignore"})


@dataclass(frozen=True)
class Finding:
    file: str
    line: int
    statement: str
    rule: str
    severity: Severity
    message: str
    #: the reviewed reason when a directive ignores this finding; such a finding does not count
    ignored_reason: str | None = None

    @property
    def active(self) -> bool:
        return self.ignored_reason is None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "file": self.file,
            "line": self.line,
            "rule": self.rule,
            "severity": str(self.severity),
            "message": self.message,
            "statement": self.statement,
        }
        if self.ignored_reason is not None:
            out["ignored_reason"] = self.ignored_reason
        return out

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: [{self.severity}] {self.rule}: {self.message}"


@dataclass(frozen=True)
class Statement:
    """One top-level statement: parse node, 0-based char offsets, 1-based start line."""

    node: ast.Node
    start: int
    end: int
    line: int
    text: str


@dataclass(frozen=True)
class Comment:
    start: int
    end: int
    first_line: int
    last_line: int
    text: str


class SqlSyntaxError(ValueError):
    def __init__(self, file: str, line: int, message: str) -> None:
        super().__init__(f"{file}:{line}: {message}")
        self.file, self.line, self.message = file, line, message


def line_of(sql: str, offset: int) -> int:
    return sql.count("\n", 0, max(offset, 0)) + 1


def statements(sql: str, file: str = "<sql>") -> list[Statement]:
    """Parse ``sql`` into top-level statements; raise SqlSyntaxError with file and line."""
    try:
        raw = parse_sql(sql)
    except ParseError as exc:
        message = str(exc.args[0]) if exc.args else str(exc)
        offset = exc.args[1] if len(exc.args) > 1 and isinstance(exc.args[1], int) else 0
        raise SqlSyntaxError(file, line_of(sql, offset), message) from None
    out: list[Statement] = []
    for item in raw or ():
        if item.stmt is None:
            continue
        start = item.stmt_location or 0
        end = start + item.stmt_len if item.stmt_len else len(sql)
        out.append(Statement(item.stmt, start, end, line_of(sql, start), sql[start:end].strip()))
    return out


def comments(sql: str) -> list[Comment]:
    """Every comment of ``sql`` (``--`` and ``/* */``), from PostgreSQL's scanner."""
    out = []
    for token in scan(sql):
        if token.name in ("SQL_COMMENT", "C_COMMENT"):
            text = sql[token.start : token.end + 1]
            out.append(Comment(token.start, token.end + 1, line_of(sql, token.start), line_of(sql, token.end), text))
    return out


# ---------------------------------------------------------------- helpers on the parse tree


def _qualified(rel: ast.RangeVar | None) -> str:
    if rel is None:
        return "?"
    return f"{rel.schemaname}.{rel.relname}" if rel.schemaname else str(rel.relname)


def _names(obj: Any) -> str:
    if isinstance(obj, ast.String):
        return str(obj.sval)
    if isinstance(obj, tuple | list):
        return ".".join(_names(o) for o in obj)
    return str(obj)


@dataclass
class _FileState:
    """What earlier statements of the same file did."""

    new_tables: set[tuple[str | None, str]]
    new_columns: set[tuple[str, str]]
    lock_timeout_set: bool = False
    lock_timeout_reported: bool = False
    #: (table, column) guaranteed non-null by a validated CHECK (col IS NOT NULL) of this migration
    not_null_checked: set[tuple[str, str]] = field(default_factory=set)
    #: constraint name -> (table, column) of CHECK (col IS NOT NULL) ... NOT VALID, awaiting VALIDATE
    pending_not_null: dict[str, tuple[str, str]] = field(default_factory=dict)
    #: existing tables an ALTER TABLE of this migration locked
    altered: set[str] = field(default_factory=set)


def _is_new(state: _FileState, rel: ast.RangeVar | None) -> bool:
    if rel is None or rel.relname is None:
        return False
    for schema, name in state.new_tables:
        if name == rel.relname and (schema is None or rel.schemaname is None or schema == rel.schemaname):
            return True
    return False


def _is_new_name(state: _FileState, obj: Any) -> bool:
    """A DROP object name (a tuple of String) of a table created earlier in the same migration."""
    parts = [str(o.sval) for o in obj] if isinstance(obj, tuple | list) else [_names(obj)]
    rel = ast.RangeVar(relname=parts[-1], schemaname=parts[-2] if len(parts) > 1 else None)
    return _is_new(state, rel)


def _fills(constraint: Any) -> bool:
    """A DEFAULT/IDENTITY/GENERATED constraint that gives existing and new rows a value (DEFAULT NULL does not)."""
    C = enums.ConstrType
    if not isinstance(constraint, ast.Constraint):
        return False
    if constraint.contype in (C.CONSTR_IDENTITY, C.CONSTR_GENERATED):
        return True
    if constraint.contype != C.CONSTR_DEFAULT:
        return False
    expr = constraint.raw_expr
    while isinstance(expr, ast.TypeCast):
        expr = expr.arg
    return not (isinstance(expr, ast.A_Const) and expr.isnull)


def _has(constraints: Iterable[ast.Constraint] | None, *kinds: enums.ConstrType) -> bool:
    return any(isinstance(c, ast.Constraint) and c.contype in kinds for c in constraints or ())


def _lock_timeout_value(node: ast.Node) -> bool | None:
    """True if the statement sets a non-zero lock_timeout, False if it resets it, else None."""
    if isinstance(node, ast.VariableSetStmt) and node.name == "lock_timeout":
        if node.kind != enums.VariableSetKind.VAR_SET_VALUE:
            return False
        return not all(_is_zero(arg) for arg in node.args or ())
    if isinstance(node, ast.SelectStmt):
        for target in node.targetList or ():
            call = getattr(target, "val", None)
            if isinstance(call, ast.FuncCall) and _names(call.funcname).endswith("set_config"):
                args = call.args or ()
                if args and _const(args[0]) == "lock_timeout":
                    return not (len(args) > 1 and _is_zero(args[1]))
    return None


def _const(node: Any) -> Any:
    if isinstance(node, ast.A_Const) and not node.isnull:
        value = node.val
        for attr in ("sval", "ival", "fval"):
            if hasattr(value, attr):
                return getattr(value, attr)
    return None


def _is_zero(node: Any) -> bool:
    value = _const(node)
    return str(value).strip().lower() in ("0", "0ms", "0s")


# ALTER TABLE subcommands that take less than ACCESS EXCLUSIVE
_WEAKER_LOCK = {
    enums.AlterTableType.AT_ValidateConstraint,
    enums.AlterTableType.AT_SetStatistics,
    enums.AlterTableType.AT_SetOptions,
    enums.AlterTableType.AT_ResetOptions,
    enums.AlterTableType.AT_ClusterOn,
    enums.AlterTableType.AT_DropCluster,
    enums.AlterTableType.AT_AttachPartition,
}
_TABLE_LIKE = {
    enums.ObjectType.OBJECT_TABLE,
    enums.ObjectType.OBJECT_VIEW,
    enums.ObjectType.OBJECT_MATVIEW,
    enums.ObjectType.OBJECT_FOREIGN_TABLE,
}


def _takes_access_exclusive(node: ast.Node, state: _FileState) -> bool:
    if isinstance(node, ast.AlterTableStmt):
        if _is_new(state, node.relation):
            return False
        return any(isinstance(cmd, ast.AlterTableCmd) and cmd.subtype not in _WEAKER_LOCK for cmd in node.cmds or ())
    if isinstance(node, ast.AlterObjectSchemaStmt):
        return node.objectType in _TABLE_LIKE and not _is_new(state, node.relation)
    if isinstance(node, ast.DropStmt):
        if node.removeType in _TABLE_LIKE:
            return not all(_is_new_name(state, o) for o in node.objects or ())
        return node.removeType == enums.ObjectType.OBJECT_INDEX and not node.concurrent
    if isinstance(node, ast.RenameStmt):
        return node.relation is not None and not _is_new(state, node.relation)
    if isinstance(node, ast.TruncateStmt | ast.ClusterStmt):
        return True
    if isinstance(node, ast.VacuumStmt):
        return any(getattr(opt, "defname", None) == "full" for opt in node.options or ())
    return False


# ---------------------------------------------------------------- the rules, per statement


def _check(node: ast.Node, state: _FileState, no_transaction: bool, single: bool) -> Iterator[tuple[str, str]]:
    """(rule, detail) for one statement, given what earlier statements of the file did.

    Objects created earlier in the same migration are new: the running version does not use them,
    so dropping, renaming or rewriting them is not flagged (a scratch table for a backfill).
    """
    if isinstance(node, ast.DropStmt):
        kind = node.removeType
        objects = ", ".join(_names(o) for o in node.objects or ())
        cascade = node.behavior == enums.DropBehavior.DROP_CASCADE
        if kind in _TABLE_LIKE:
            if not all(_is_new_name(state, o) for o in node.objects or ()):
                yield "drop-table", f"DROP {kind.name.removeprefix('OBJECT_')} {objects}"
        elif kind == enums.ObjectType.OBJECT_SCHEMA:
            if cascade:
                yield "drop-schema", f"DROP SCHEMA {objects} CASCADE"
        elif kind == enums.ObjectType.OBJECT_TYPE and cascade:
            yield "drop-cascade", f"DROP TYPE {objects} CASCADE"
        elif kind == enums.ObjectType.OBJECT_INDEX:
            yield "drop-index", f"DROP INDEX {objects}"
            if node.concurrent:
                yield from _concurrently(no_transaction, single, "DROP INDEX CONCURRENTLY")
        elif cascade:
            yield "drop-cascade", f"DROP {str(getattr(kind, 'name', '?')).removeprefix('OBJECT_')} {objects} CASCADE"
    elif isinstance(node, ast.DropdbStmt):
        yield "drop-schema", f"DROP DATABASE {node.dbname}"
    elif isinstance(node, ast.AlterEnumStmt) and node.oldVal is not None:
        yield "rename-enum-value", f"rename value {node.oldVal!r} of {_names(node.typeName)} to {node.newVal!r}"
    elif isinstance(node, ast.UpdateStmt | ast.DeleteStmt) and not no_transaction:
        table = _qualified(node.relation)
        if table in state.altered:
            verb = "UPDATE" if isinstance(node, ast.UpdateStmt) else "DELETE FROM"
            yield "backfill-in-transaction", f"{verb} {table} after altering it in the same transaction"
    elif isinstance(node, ast.TruncateStmt):
        rels = [r for r in node.relations or () if not _is_new(state, r)]
        if rels:
            yield "truncate", "TRUNCATE " + ", ".join(_qualified(r) for r in rels)
    elif isinstance(node, ast.RenameStmt):
        target = _qualified(node.relation) if node.relation is not None else _names(node.object)
        if node.relation is not None and _is_new(state, node.relation):
            return
        if node.renameType in _TABLE_LIKE:
            yield "rename-table", f"rename {target} to {node.newname}"
        elif node.renameType == enums.ObjectType.OBJECT_SCHEMA:
            yield "rename-table", f"rename schema {node.subname} (and every table in it) to {node.newname}"
        elif node.renameType == enums.ObjectType.OBJECT_COLUMN:
            yield "rename-column", f"rename column {target}.{node.subname} to {node.newname}"
    elif isinstance(node, ast.AlterObjectSchemaStmt) and node.objectType in _TABLE_LIKE:
        if node.relation is not None and not _is_new(state, node.relation):
            yield "rename-table", f"SET SCHEMA moves {_qualified(node.relation)} to schema {node.newschema}"
    elif isinstance(node, ast.IndexStmt):
        if node.concurrent:
            yield from _concurrently(no_transaction, single, "CREATE INDEX CONCURRENTLY")
        elif not _is_new(state, node.relation):
            yield "create-index-not-concurrently", f"CREATE INDEX on {_qualified(node.relation)}"
    elif isinstance(node, ast.ReindexStmt):
        if any(getattr(opt, "defname", None) == "concurrently" for opt in node.params or ()):
            yield from _concurrently(no_transaction, single, "REINDEX CONCURRENTLY")
        elif not _is_new(state, node.relation):
            yield "create-index-not-concurrently", f"REINDEX {_qualified(node.relation)} without CONCURRENTLY"
    elif isinstance(node, ast.AlterTableStmt) and node.objtype in (
        enums.ObjectType.OBJECT_TABLE,
        enums.ObjectType.OBJECT_FOREIGN_TABLE,
    ):
        yield from _alter_table(node, state)


def _concurrently(no_transaction: bool, single: bool, what: str) -> Iterator[tuple[str, str]]:
    if not no_transaction:
        yield "concurrently-in-transaction", f"{what} in a migration without '-- no-transaction'"
    elif not single:
        yield "concurrently-in-transaction", f"{what} in a multi-statement migration (implicit transaction)"


def _alter_table(node: ast.AlterTableStmt, state: _FileState) -> Iterator[tuple[str, str]]:
    table = _qualified(node.relation)
    new_table = _is_new(state, node.relation)
    AT = enums.AlterTableType
    for cmd in node.cmds or ():
        if not isinstance(cmd, ast.AlterTableCmd):
            continue
        column = f"{table}.{cmd.name}"
        if new_table and cmd.subtype != AT.AT_AddColumn:
            continue  # the running version does not know this table yet
        if cmd.subtype == AT.AT_DropColumn:
            yield "drop-column", f"DROP COLUMN {column}"
        elif cmd.subtype == AT.AT_AlterColumnType:
            yield "alter-column-type", f"ALTER COLUMN {column} TYPE"
        elif cmd.subtype == AT.AT_SetNotNull:
            key = (table, str(cmd.name))
            if key not in state.new_columns and key not in state.not_null_checked:
                yield "set-not-null", f"SET NOT NULL on {column}"
        elif cmd.subtype == AT.AT_ValidateConstraint and str(cmd.name) in state.pending_not_null:
            state.not_null_checked.add(state.pending_not_null.pop(str(cmd.name)))
        elif cmd.subtype == AT.AT_ColumnDefault and cmd.def_ is None:
            yield "drop-default", f"DROP DEFAULT on {column}"
        elif cmd.subtype == AT.AT_DropConstraint:
            yield "drop-constraint", f"DROP CONSTRAINT {cmd.name} on {table}"
        elif cmd.subtype == AT.AT_AddColumn and isinstance(cmd.def_, ast.ColumnDef):
            col = cmd.def_
            state.new_columns.add((table, str(col.colname)))
            C = enums.ConstrType
            not_null = _has(col.constraints, C.CONSTR_NOTNULL, C.CONSTR_PRIMARY) or col.is_not_null
            filled = any(_fills(c) for c in col.constraints or ())
            if not_null and not filled and not new_table and not _serial(col):
                yield "add-column-not-null", f"ADD COLUMN {table}.{col.colname} NOT NULL without DEFAULT"
            if not new_table and (rewrite := _rewrites(col)):
                yield "add-column-rewrite", f"ADD COLUMN {table}.{col.colname} {rewrite}"
            if not new_table and _has(col.constraints, C.CONSTR_UNIQUE, C.CONSTR_PRIMARY):
                yield "create-index-not-concurrently", f"ADD COLUMN {table}.{col.colname} UNIQUE/PRIMARY KEY"
            for constraint in col.constraints or ():
                if _unvalidated(constraint) and not new_table and constraint.contype == C.CONSTR_CHECK:
                    yield "constraint-not-valid", f"CHECK on new column {table}.{col.colname}"
        elif cmd.subtype == AT.AT_AddConstraint and _builds_index(cmd.def_):
            assert isinstance(cmd.def_, ast.Constraint)
            kind = str(getattr(cmd.def_.contype, "name", "")).removeprefix("CONSTR_")
            yield "create-index-not-concurrently", f"ADD CONSTRAINT {cmd.def_.conname or '(unnamed)'} {kind} on {table}"
        elif cmd.subtype == AT.AT_AddConstraint and _unvalidated(cmd.def_) and not new_table:
            assert isinstance(cmd.def_, ast.Constraint)
            kind = str(getattr(cmd.def_.contype, "name", "")).removeprefix("CONSTR_")
            name = cmd.def_.conname or "(unnamed)"
            yield "constraint-not-valid", f"ADD CONSTRAINT {name} {kind} on {table} without NOT VALID"


_VOLATILE = frozenset({"random", "gen_random_uuid", "uuid_generate_v1", "uuid_generate_v4", "uuidv4", "uuidv7",
                       "clock_timestamp", "timeofday", "nextval", "txid_current", "gen_random_bytes"})  # fmt: skip
_SERIAL = frozenset({"serial", "serial2", "serial4", "serial8", "smallserial", "bigserial"})


def _serial(col: ast.ColumnDef) -> bool:
    return col.typeName is not None and _names(col.typeName.names).split(".")[-1].lower() in _SERIAL


def _rewrites(col: ast.ColumnDef) -> str | None:
    """Why adding ``col`` to an existing table rewrites it (PostgreSQL 11+ adds a constant default
    without a rewrite; a volatile default, a serial or a stored generated column is computed per row)."""
    if _serial(col):
        return "serial"
    for c in col.constraints or ():
        if not isinstance(c, ast.Constraint):
            continue
        if c.contype == enums.ConstrType.CONSTR_GENERATED:
            return "GENERATED ... STORED"
        if c.contype == enums.ConstrType.CONSTR_IDENTITY:
            return "GENERATED AS IDENTITY"
        if c.contype == enums.ConstrType.CONSTR_DEFAULT and (name := _volatile_call(c.raw_expr)):
            return f"DEFAULT {name}() (volatile)"
    return None


def _volatile_call(node: Any) -> str | None:
    if isinstance(node, ast.FuncCall):
        name = _names(node.funcname).split(".")[-1].lower()
        if name in _VOLATILE:
            return name
        for arg in node.args or ():
            if found := _volatile_call(arg):
                return found
    if isinstance(node, ast.TypeCast):
        return _volatile_call(node.arg)
    if isinstance(node, ast.A_Expr):
        return _volatile_call(node.lexpr) or _volatile_call(node.rexpr)
    return None


def _builds_index(constraint: Any) -> bool:
    """A UNIQUE/PRIMARY KEY/EXCLUDE constraint that builds its index (not ``USING INDEX``)."""
    C = enums.ConstrType
    return (
        isinstance(constraint, ast.Constraint)
        and constraint.contype in (C.CONSTR_UNIQUE, C.CONSTR_PRIMARY, C.CONSTR_EXCLUSION)
        and not constraint.indexname
    )


def _not_null_check(constraint: Any) -> str | None:
    """The column of a ``CHECK (col IS NOT NULL)`` constraint, else None."""
    if not isinstance(constraint, ast.Constraint) or constraint.contype != enums.ConstrType.CONSTR_CHECK:
        return None
    expr = constraint.raw_expr
    if (
        isinstance(expr, ast.NullTest)
        and expr.nulltesttype == enums.NullTestType.IS_NOT_NULL
        and isinstance(expr.arg, ast.ColumnRef)
    ):
        return _names(expr.arg.fields)
    return None


def _unvalidated(constraint: Any) -> bool:
    """A FOREIGN KEY or CHECK constraint added without NOT VALID."""
    return (
        isinstance(constraint, ast.Constraint)
        and constraint.contype in (enums.ConstrType.CONSTR_FOREIGN, enums.ConstrType.CONSTR_CHECK)
        and not constraint.skip_validation
    )


def _record(node: ast.Node, state: _FileState) -> None:
    """Remember the tables this statement creates (or drops again) and whether it set lock_timeout."""
    if isinstance(node, ast.CreateStmt | ast.CreateTableAsStmt):
        rel = node.relation if isinstance(node, ast.CreateStmt) else node.into.rel if node.into is not None else None
        if rel is not None and rel.relname is not None:
            state.new_tables.add((rel.schemaname, str(rel.relname)))
    if (
        isinstance(node, ast.RenameStmt)
        and node.renameType in _TABLE_LIKE
        and node.relation is not None
        and _is_new(state, node.relation)
        and node.newname
    ):
        state.new_tables.add((node.relation.schemaname, str(node.newname)))
    if isinstance(node, ast.AlterTableStmt) and not _is_new(state, node.relation):
        table = _qualified(node.relation)
        if any(isinstance(c, ast.AlterTableCmd) and c.subtype not in _WEAKER_LOCK for c in node.cmds or ()):
            state.altered.add(table)
        for cmd in node.cmds or ():
            if isinstance(cmd, ast.AlterTableCmd) and cmd.subtype == enums.AlterTableType.AT_AddConstraint:
                column = _not_null_check(cmd.def_)
                if column is None:
                    continue
                assert isinstance(cmd.def_, ast.Constraint)
                if cmd.def_.skip_validation:
                    state.pending_not_null[str(cmd.def_.conname)] = (table, column)
                else:
                    state.not_null_checked.add((table, column))
    setting = _lock_timeout_value(node)
    if setting is not None:
        state.lock_timeout_set = setting


# ---------------------------------------------------------------- directives


@dataclass(frozen=True)
class Directive:
    comment: Comment
    rule: str | None
    reason: str | None
    problem: str | None


def parse_directive(comment: Comment) -> Directive | None:
    """``-- nova-gate: ignore <rule> reason: <text>`` (or the ``/* */`` form); None if not one."""
    body = comment.text
    body = body[2:] if body.startswith("--") else body[2:-2] if body.startswith("/*") else body
    body = " ".join(body.split())
    if not body.lower().startswith(DIRECTIVE):
        return None
    words = body[len(DIRECTIVE) :].strip().split(" ", 2)
    if len(words) < 2 or words[0].lower() != "ignore":
        return Directive(comment, None, None, "expected 'nova-gate: ignore <rule-id> reason: <text>'")
    rule = words[1]
    rest = words[2] if len(words) > 2 else ""
    if rule not in RULES:
        return Directive(comment, rule, None, f"unknown rule id {rule!r}")
    if rule in UNIGNORABLE:
        return Directive(comment, rule, None, f"rule {rule!r} cannot be ignored")
    if not rest.lower().startswith("reason:") or not rest[len("reason:") :].strip():
        return Directive(comment, rule, None, f"ignore of {rule} has no 'reason: <text>'")
    return Directive(comment, rule, rest[len("reason:") :].strip(), None)


def _attached(stmt: Statement, gap: list[Comment]) -> list[Comment]:
    """The comments directly above ``stmt``: a run of comment lines ending on the line before it."""
    out: list[Comment] = []
    expected = stmt.line - 1
    for comment in reversed(gap):
        if comment.last_line != expected:
            break
        out.append(comment)
        expected = comment.first_line - 1
    return out


# ---------------------------------------------------------------- entry points


def lint_sql(sql: str, file: str = "<sql>", *, no_transaction: bool | None = None) -> list[Finding]:
    """Every finding of one migration's SQL, ignored ones included (with ``ignored_reason``)."""
    if no_transaction is None:
        no_transaction = sql.startswith(NO_TRANSACTION)
    try:
        stmts = statements(sql, file)
    except SqlSyntaxError as exc:
        severity, _ = RULES["syntax-error"]
        text = sql.splitlines()[exc.line - 1].strip() if sql.splitlines() else ""
        return [Finding(file, exc.line, text, "syntax-error", severity, exc.message)]
    all_comments = comments(sql)
    state = _FileState(new_tables=set(), new_columns=set())
    findings: list[Finding] = []
    used: set[int] = set()  # start offsets of directive comments attached to a statement
    previous_end = 0
    for stmt in stmts:
        fired: list[tuple[str, str, int, str]] = []  # rule, detail, line, statement text
        if isinstance(stmt.node, ast.DoStmt):
            for node, line, text, issue in do_body_statements(stmt, sql):
                if issue is not None:
                    fired.append((issue[0], issue[1], line, text))
                    continue
                assert node is not None
                fired += [(r, d, line, text) for r, d in _fire(node, state, no_transaction, False)]
        else:
            fired += [(r, d, stmt.line, stmt.text) for r, d in _fire(stmt.node, state, no_transaction, len(stmts) == 1)]
        gap = [c for c in all_comments if previous_end <= c.start and c.end <= stmt.start]
        previous_end = stmt.end
        directives = [d for d in map(parse_directive, _attached(stmt, gap)) if d is not None]
        reasons = {d.rule: d.reason for d in directives if d.problem is None and d.reason}
        for rule, detail, line, text in fired:
            severity, meaning = RULES[rule]
            reason = None if rule in UNIGNORABLE else reasons.get(rule)
            findings.append(Finding(file, line, text, rule, severity, f"{detail}: {meaning}", reason))
        fired_rules = {rule for rule, *_ in fired}
        for directive in directives:
            used.add(directive.comment.start)
            problem = directive.problem
            if problem is None and directive.rule not in fired_rules:
                problem = f"ignore of {directive.rule} but that rule does not fire on this statement"
            if problem is not None:
                findings.append(_bad_ignore(file, directive.comment, problem))
    for comment in all_comments:
        if comment.start in used:
            continue
        if parse_directive(comment) is not None:
            findings.append(_bad_ignore(file, comment, "ignore directive is not directly above a statement"))
    findings.sort(key=lambda f: (f.line, f.rule))
    return findings


def _fire(node: ast.Node, state: _FileState, no_transaction: bool, single: bool) -> list[tuple[str, str]]:
    """The rules one statement fires, then what it leaves in the file state."""
    fired = list(_check(node, state, no_transaction, single))
    if _takes_access_exclusive(node, state) and not state.lock_timeout_set and not state.lock_timeout_reported:
        state.lock_timeout_reported = True
        fired.append(("missing-lock-timeout", "first ACCESS EXCLUSIVE statement of the migration"))
    _record(node, state)
    return fired


# ---------------------------------------------------------------- DO blocks

_FORMAT_SPEC = re.compile(r"%(?:(\d+)\$)?-?\d*([sIL%])")


def _do_parts(node: ast.DoStmt) -> tuple[str, str | None]:
    language, body = "plpgsql", None
    for arg in node.args or ():
        if isinstance(arg, ast.DefElem) and isinstance(arg.arg, ast.String):
            if arg.defname == "language":
                language = str(arg.arg.sval).lower()
            elif arg.defname == "as":
                body = str(arg.arg.sval)
    return language, body


def _plpgsql_sql(tree: Any) -> Iterator[tuple[int, str, bool]]:
    """(line in the body, SQL text, dynamic?) of every statement a PL/pgSQL function tree runs."""
    if isinstance(tree, dict):
        for key, value in tree.items():
            if key == "PLpgSQL_stmt_execsql":
                query = ((value.get("sqlstmt") or {}).get("PLpgSQL_expr") or {}).get("query")
                if query:
                    yield int(value.get("lineno") or 1), str(query), False
                continue
            if key == "PLpgSQL_stmt_dynexecute":
                query = ((value.get("query") or {}).get("PLpgSQL_expr") or {}).get("query")
                if query:
                    yield int(value.get("lineno") or 1), str(query), True
                continue
            yield from _plpgsql_sql(value)
    elif isinstance(tree, list):
        for item in tree:
            yield from _plpgsql_sql(item)


def _constant_sql(expr: str) -> str | None:
    """The SQL an EXECUTE expression evaluates to when it is known before run time.

    ``'text'`` / ``$q$text$q$`` / ``'a' || 'b'``, and ``format('fmt', args)`` whose arguments are
    constants or identifiers-to-be (``%I``/``%s`` of a non-constant becomes a placeholder name).
    """
    try:
        parsed = parse_sql(f"SELECT {expr}")
    except ParseError:
        return None
    if len(parsed) != 1 or not isinstance(parsed[0].stmt, ast.SelectStmt):
        return None
    targets = parsed[0].stmt.targetList or ()
    if len(targets) != 1:
        return None
    return _eval_text(getattr(targets[0], "val", None))


def _eval_text(node: Any) -> str | None:
    value = _const(node)
    if isinstance(value, str):
        return value
    if isinstance(node, ast.A_Expr) and _names(node.name) == "||":
        left, right = _eval_text(node.lexpr), _eval_text(node.rexpr)
        return None if left is None or right is None else left + right
    if isinstance(node, ast.FuncCall) and _names(node.funcname).split(".")[-1] == "format":
        args = list(node.args or ())
        fmt = _eval_text(args[0]) if args else None
        if fmt is None:
            return None
        rest = args[1:]
        position = iter(range(len(rest)))

        def substitute(m: re.Match[str]) -> str:
            if m.group(2) == "%":
                return "%"
            index = int(m.group(1)) - 1 if m.group(1) else next(position, len(rest))
            arg = rest[index] if 0 <= index < len(rest) else None
            text = _eval_text(arg) if arg is not None else None
            if m.group(2) == "L":
                return "'" + (text or "").replace("'", "''") + "'"
            return text if text is not None else "nova_dynamic_name"

        return _FORMAT_SPEC.sub(substitute, fmt)
    return None


def do_body_statements(stmt: Statement, sql: str) -> Iterator[tuple[ast.Node | None, int, str, tuple[str, str] | None]]:
    """The statements a ``DO`` block runs: (node, file line, text, problem) with ``problem`` a
    (rule, detail) when a statement cannot be linted (syntax error, dynamic SQL)."""
    assert isinstance(stmt.node, ast.DoStmt)
    language, body = _do_parts(stmt.node)
    if body is None or language != "plpgsql":
        return
    # the body's line 1 is the line of its opening quote (arg_location: its offset in the file)
    at = next((a.arg_location for a in stmt.node.args or () if getattr(a, "defname", None) == "as"), None)
    start = at if isinstance(at, int) and at >= stmt.start else max(sql.find(body, stmt.start), stmt.start)
    base = line_of(sql, start) - 1
    from pglast import parse_plpgsql

    wrapped = f"CREATE FUNCTION nova_gate_do() RETURNS void LANGUAGE plpgsql AS $nova_gate_do${body}$nova_gate_do$"
    try:
        tree = parse_plpgsql(wrapped)
    except ParseError as exc:
        message = str(exc.args[0]) if exc.args else str(exc)
        yield None, stmt.line, stmt.text, ("syntax-error", f"DO block body: {message}")
        return
    for line, text, dynamic in _plpgsql_sql(tree):
        where = base + line
        query = _constant_sql(text) if dynamic else text
        if query is None:
            yield None, where, f"EXECUTE {text}", ("dynamic-sql", f"EXECUTE {text[:60]}")
            continue
        try:
            nodes = [item.stmt for item in parse_sql(query) or () if item.stmt is not None]
        except ParseError as exc:
            message = str(exc.args[0]) if exc.args else str(exc)
            if dynamic:
                yield None, where, f"EXECUTE {text}", ("dynamic-sql", f"EXECUTE of unparsable SQL ({message})")
            else:
                yield None, where, query, ("syntax-error", f"in DO block: {message}")
            continue
        for node in nodes:
            yield node, where, query.strip(), None


def _bad_ignore(file: str, comment: Comment, problem: str) -> Finding:
    severity, _ = RULES["bad-ignore"]
    return Finding(file, comment.first_line, comment.text.strip(), "bad-ignore", severity, problem)


def lint_migrations(files: Iterable[MigrationFile]) -> list[Finding]:
    """Lint the forward migrations, each under its file name.

    Down migrations are not linted: undoing a change is destructive by nature.
    """
    findings: list[Finding] = []
    for migration in files:
        if migration.kind.is_forward:
            findings.extend(lint_sql(migration.sql, migration.name, no_transaction=migration.no_transaction))
    return findings


def lint_verdict(findings: Sequence[Finding], what: str = "migrations") -> Verdict:
    """FAIL with any active block finding, WARN with only warn findings, else PASS."""
    active = [f for f in findings if f.active]
    ignored = [f.as_dict() for f in findings if not f.active]
    block = [f for f in active if f.severity is Severity.BLOCK]
    warn = [f for f in active if f.severity is Severity.WARN]
    observed = [f.as_dict() for f in active]
    expected = "no backward-incompatible or locking statements"
    choices = CHOICES
    # the first finding leads; "+N more" counts every other active one (a FAIL) or the other warnings
    tiers = ((failed, block, "blocking finding(s)", active), (warned, warn, "warning(s)", warn))
    for judge, found, kind, others in tiers:
        if found:
            first = found[0]
            more = f" (+{len(others) - 1} more)" if len(others) > 1 else ""
            return judge(
                f"{len(found)} {kind} in {what}: {first.file}:{first.line} {first.rule}{more}",
                observed,
                expected,
                ignored=ignored,
                choices=choices,
            )
    return passed(f"no findings in {what}", observed, expected, ignored=ignored, choices=choices)
