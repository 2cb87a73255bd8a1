"""Issue 15: every rule says what the checklist says. One test per defect found by feeding the rules
hand-built facts; each failed on the code before the fix."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest

from nova_gate.backends.clickhouse import rules as ch_rules
from nova_gate.backends.clickhouse.facts import PartitionParts
from nova_gate.backends.kafka import rules as kafka_rules
from nova_gate.backends.kafka.facts import PartitionLag
from nova_gate.backends.kubernetes import rules as k8s
from nova_gate.backends.kubernetes.facts import deployment_facts, pod_facts
from nova_gate.backends.postgres import rules as pg_rules
from nova_gate.backends.postgres.facts import ReplicaFacts
from nova_gate.backends.postgres.sql_lint import lint_sql
from nova_gate.backends.registry import rules as reg_rules
from nova_gate.backends.search import rules as search_rules
from nova_gate.backends.search.facts import IndexFacts
from nova_gate.rules import records as records_rules
from nova_gate.sources.audit_records import AuditRecord
from nova_gate.verdict import Label

NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)


# -- PD-4 replicas_in_sync -----------------------------------------------------------------------
def replica(lag_bytes: int | None, lag_s: float | None) -> ReplicaFacts:
    return ReplicaFacts(
        "replica-1", reachable=True, streaming=True, replay_paused=False, lag_bytes=lag_bytes, lag_s=lag_s
    )


def test_replica_lag_of_exactly_the_limit_is_not_below_it() -> None:
    # the checklist: "lag < 1 second"
    assert pg_rules.replicas_in_sync([replica(4096, 1.0)], 1, 1.0).label is Label.FAIL
    assert pg_rules.replicas_in_sync([replica(4096, 0.99)], 1, 1.0).label is Label.PASS


def test_unknown_byte_lag_is_not_caught_up() -> None:
    v = pg_rules.replicas_in_sync([replica(None, None)], 1, 1.0)
    assert v.label is Label.FAIL
    assert "unknown" in v.reason


def test_caught_up_replica_on_idle_primary_passes() -> None:
    assert pg_rules.replicas_in_sync([replica(0, None)], 1, 1.0).label is Label.PASS
    assert pg_rules.replicas_in_sync([replica(0, 30.0)], 1, 1.0).label is Label.PASS


# -- ROL-2/RBK-4 image_tag -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("image", "tag"),
    [
        ("127.0.0.1:55000/nova-auth-service:v1.0.0@sha256:" + "a" * 64, "v1.0.0"),
        ("registry:5000/nova/auth:v1.0.0", "v1.0.0"),
        ("registry:5000/nova/auth", ""),
        ("nova/auth@sha256:" + "b" * 64, "sha256:" + "b" * 64),
    ],
)
def test_image_tag_with_tag_and_digest_is_the_tag(image: str, tag: str) -> None:
    assert k8s.image_tag(image) == tag


# -- CAN-8 init containers ---------------------------------------------------------------------------
def _pod_json(init_state: dict[str, object], init_restarts: int = 4) -> dict[str, object]:
    return {
        "metadata": {"name": "auth-service-v1.0.0-abc", "namespace": "nova-backend",
                     "labels": {"app": "auth-service", "version": "v1.0.0"}},
        "spec": {"nodeName": "n1",
                 "initContainers": [{"name": "migrate-wait", "image": "r/busybox:1"}],
                 "containers": [{"name": "auth-service", "image": "r/nova-auth-service:v1.0.0"}]},
        "status": {
            "phase": "Pending",
            "conditions": [{"type": "Ready", "status": "False"}],
            "initContainerStatuses": [{"name": "migrate-wait", "image": "r/busybox:1", "ready": False,
                                       "restartCount": init_restarts, "state": init_state,
                                       "lastState": {"terminated": {"reason": "Error", "exitCode": 1}}}],
            "containerStatuses": [{"name": "auth-service", "image": "r/nova-auth-service:v1.0.0",
                                   "ready": False, "restartCount": 0,
                                   "state": {"waiting": {"reason": "PodInitializing"}}}],
        },
    }  # fmt: skip


def test_source_reads_init_containers() -> None:
    p = pod_facts(_pod_json({"waiting": {"reason": "CrashLoopBackOff"}}))
    assert [c.name for c in p.init_containers] == ["migrate-wait"]
    assert p.init_containers[0].waiting_reason == "CrashLoopBackOff"
    assert p.images == ("r/nova-auth-service:v1.0.0",)  # app containers only


@pytest.mark.parametrize(
    ("state", "restarts"),
    [
        ({"waiting": {"reason": "CrashLoopBackOff"}}, 4),  # Init:CrashLoopBackOff
        ({"terminated": {"reason": "Error", "exitCode": 1}}, 0),  # Init:Error (restartPolicy Never)
        ({"running": {}}, 3),  # restarting init container
    ],
)
def test_init_container_crash_loop_fails_can8(state: dict[str, object], restarts: int) -> None:
    v = k8s.canary_not_crashing("auth-service", [pod_facts(_pod_json(state, restarts))])
    assert v.label is Label.FAIL
    assert "migrate-wait" in v.reason


def test_completed_init_container_passes_can8() -> None:
    doc = _pod_json({"terminated": {"reason": "Completed", "exitCode": 0}}, 0)
    doc["status"]["initContainerStatuses"][0]["lastState"] = {}  # type: ignore[index]
    doc["status"]["containerStatuses"][0]["state"] = {"running": {}}  # type: ignore[index]
    assert k8s.canary_not_crashing("auth-service", [pod_facts(doc)]).label is Label.PASS


# -- PRE-INF-5 lagging ClickHouse replicas -----------------------------------------------------------
PARTS = [PartitionParts("t", "202611", 4)]


@pytest.mark.parametrize(
    ("delay", "queue", "label"),
    [(0, 0, Label.PASS), (299, 99, Label.PASS), (300, 0, Label.FAIL), (3600, 0, Label.FAIL), (5, 100, Label.FAIL)],
)
def test_lagging_clickhouse_replica(delay: int, queue: int, label: Label) -> None:
    replicas = [{"table": "t", "is_readonly": False, "is_session_expired": False,
                 "absolute_delay": delay, "queue_size": queue}]  # fmt: skip
    v = ch_rules.parts_healthy([], replicas, PARTS, 300)
    assert v.label is label, v.reason
    assert "300" in str(v.expected)  # the chosen delay limit is in the evidence


# -- PRE-INF-6 unknown health next to a yellow index ----------------------------------------------------
def test_unknown_health_with_a_yellow_index_is_inconclusive() -> None:
    indices = [IndexFacts("posts", "yellow", "open", 1, 1, 10), IndexFacts("users", None, "open", 1, 1, 10)]
    v = search_rules.indices_healthy(indices, [])
    assert v.label is Label.INCONCLUSIVE
    assert "users" in v.reason and "posts" in v.reason


# -- P24-10 retention by versions ---------------------------------------------------------------------
def test_retention_never_satisfied_by_deleting_running_or_rollback_version() -> None:
    tags = ["v0.7.0", "v0.8.0", "v0.8.1", "latest"]  # kept the three oldest, deleted v0.9.0 and v1.0.0
    v = reg_rules.retention("nova-auth", tags, 3, running="v1.0.0", rollback="v0.9.0")
    assert v.label is Label.FAIL
    assert "v1.0.0" in v.reason and "v0.9.0" in v.reason


def test_retention_counts_versions_not_tags() -> None:
    # "1.0.0" and "v1.0.0" are one version; semantic order (v0.10.0 is newer than v0.9.0)
    tags = ["v0.9.0", "v0.10.0", "v1.0.0", "1.0.0", "latest"]
    v = reg_rules.retention("r", tags, 3, running="v1.0.0", rollback="v0.10.0")
    assert v.label is Label.PASS, v.reason
    tags = ["v0.8.0", "v0.9.0", "v0.10.0", "v1.0.0"]
    v = reg_rules.retention("r", tags, 3, running="v1.0.0", rollback="v0.10.0")
    assert v.label is Label.FAIL
    assert "v0.8.0" in v.reason  # the oldest is the one to prune, not v0.10.0


# -- PD-1 newest record -------------------------------------------------------------------------------
def record(finished: dt.datetime, decision: str, name: str) -> AuditRecord:
    return AuditRecord(name, "preflight", "v1.0.0", decision, {"A": "PASS"}, finished, True, "ok")


def test_preflight_record_is_the_newest_not_the_first() -> None:
    old_pass = record(NOW - dt.timedelta(hours=5), "PROCEED", "old.json")
    new_stop = record(NOW - dt.timedelta(hours=1), "STOP", "new.json")
    v = records_rules.preflight_passed([old_pass, new_stop], "v1.0.0", ["A"], dt.timedelta(hours=36), NOW)
    assert v.label is Label.FAIL
    assert v.observed["record"] == "new.json"


# -- PRE-DB-1 / MIG-2 lint ----------------------------------------------------------------------------
def rules_of(sql: str) -> list[str]:
    return sorted(f.rule for f in lint_sql("SET lock_timeout = '5s';\n" + sql, "m.sql") if f.active)


def test_drop_schema_cascade_is_blocked() -> None:
    assert "drop-schema" in rules_of("DROP SCHEMA legacy CASCADE;")


def test_do_block_body_is_linted() -> None:
    assert rules_of("DO $$ BEGIN ALTER TABLE users DROP COLUMN email; END $$;") == ["drop-column"]


def test_conditional_rename_column_in_do_block_is_blocked() -> None:
    sql = """DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM information_schema.columns
             WHERE table_name = 'users' AND column_name = 'name') THEN
    ALTER TABLE users RENAME COLUMN name TO full_name;
  END IF;
END
$$;"""
    findings = [f for f in lint_sql("SET lock_timeout = '5s';\n" + sql, "m.sql") if f.active]
    assert [f.rule for f in findings] == ["rename-column"]
    assert findings[0].line == 6  # the line of the ALTER inside the body, in the file


def test_execute_string_in_do_block_is_linted() -> None:
    assert rules_of("DO $$ BEGIN EXECUTE 'DROP TABLE legacy'; END $$;") == ["drop-table"]


def test_set_schema_is_a_rename() -> None:
    assert rules_of("ALTER TABLE users SET SCHEMA archive;") == ["rename-table"]


def test_not_null_default_null_has_no_default() -> None:
    assert rules_of("ALTER TABLE users ADD COLUMN flag boolean NOT NULL DEFAULT NULL;") == ["add-column-not-null"]


def test_dropping_a_scratch_table_created_in_the_same_migration_passes() -> None:
    sql = "CREATE TABLE tmp_backfill (id bigint);\nINSERT INTO tmp_backfill SELECT 1;\nDROP TABLE tmp_backfill;"
    assert rules_of(sql) == []


# -- PRE-CFG-3 JWKS rotation overlap --------------------------------------------------------------------
def jwks_rotation_overlap(*args: object) -> object:
    from nova_gate.backends.http.rules import jwks_rotation_overlap as rule

    return rule(*args)  # type: ignore[arg-type]


def test_key_withdrawn_within_token_ttl_fails() -> None:
    v = jwks_rotation_overlap(["new"], {"old": NOW - dt.timedelta(minutes=5)}, NOW, 3600)
    assert v.label is Label.FAIL
    assert "old" in v.reason


def test_key_withdrawn_after_token_ttl_passes() -> None:
    assert jwks_rotation_overlap(["new"], {"old": NOW - dt.timedelta(hours=2)}, NOW, 3600).label is Label.PASS


def test_rotation_with_overlap_passes() -> None:
    v = jwks_rotation_overlap(["old", "new"], {"old": NOW - dt.timedelta(minutes=5)}, NOW, 3600)
    assert v.label is Label.PASS
    assert "overlap" in v.reason


def test_empty_key_set_fails_overlap() -> None:
    assert jwks_rotation_overlap([], {}, NOW, 3600).label is Label.FAIL


# -- P24-5 / MON-7 never-committed partitions -------------------------------------------------------------
def test_uncommitted_partitions_count_as_lag_from_log_start() -> None:
    from nova_gate.backends.kafka.source import lag_with_uncommitted

    committed = {("events", 0): 100}
    subscribed = [("events", 0), ("events", 1)]
    start = {("events", 0): 0, ("events", 1): 10}
    end = {("events", 0): 100, ("events", 1): 5010}
    lags = lag_with_uncommitted(committed, subscribed, start, end)
    assert lags["events-0"] == PartitionLag(100, 100, 0)
    assert lags["events-1"].lag == 5000 and lags["events-1"].uncommitted
    v = kafka_rules.consumer_lag_below({"g": lags}, 1000, ["g"])
    assert v.label is Label.FAIL
    assert "never committed" in v.reason


# -- PRE-INF-1 the new version's requests --------------------------------------------------------------
def _deployment(version: str, cpu: str, mem: str, replicas: int = 3) -> object:
    return deployment_facts({
        "metadata": {"name": f"auth-service-{version}", "labels": {"app": "auth-service", "version": version}},
        "spec": {"replicas": replicas, "template": {"spec": {"containers": [
            {"name": "auth-service", "image": f"r/a:{version}", "resources": {"requests": {"cpu": cpu, "memory": mem}}}
        ]}}},
    })  # fmt: skip


def test_extra_set_uses_the_new_versions_requests() -> None:
    old = [_deployment("v0.9.0", "250m", "256Mi")]
    new = [_deployment("v1.0.0", "1", "1Gi", replicas=1)]  # a canary: 1 replica, bigger requests
    cpu, mem = k8s.extra_set(old, ["auth-service"], new)
    assert (cpu, mem) == (3 * 1000, 3 * 2**30)  # old replica count x new requests
    assert k8s.extra_set(old, ["auth-service"]) == (750, 3 * 256 * 2**20)


@dataclass
class _Node:
    name: str = "n1"
    ready: bool = True
    unschedulable: bool = False
    cpu_m: int = 2000
    memory_b: int = 8 * 2**30


def test_headroom_fails_when_the_new_version_needs_more() -> None:
    old = [_deployment("v0.9.0", "250m", "256Mi")]
    new = [_deployment("v1.0.0", "1", "1Gi", replicas=1)]
    usage = k8s.Usage(cpu_m=750, memory_b=768 * 2**20, pods=3)
    assert k8s.capacity_headroom([_Node()], usage, *k8s.extra_set(old, ["auth-service"])).label is Label.PASS
    assert k8s.capacity_headroom([_Node()], usage, *k8s.extra_set(old, ["auth-service"], new)).label is Label.FAIL


def test_subscribed_topics_of_active_members() -> None:
    from nova_gate.backends.kafka.source import subscribed_topics

    description = {
        "members": [
            {"member_id": "m1", "member_metadata": {"topics": ["events"]},
             "member_assignment": {"assigned_partitions": [{"topic": "events", "partitions": [0, 1]}]}},
            {"member_id": "m2", "member_metadata": None,
             "member_assignment": {"assigned_partitions": [("audit", [0])]}},
        ]
    }  # fmt: skip
    assert subscribed_topics(description) == {"events", "audit"}
    assert subscribed_topics({"members": []}) == set()


def test_release_manifests_are_read_for_the_new_requests(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from nova_gate.sources.release_repo import ReleaseRepo

    (tmp_path / "k8s").mkdir()
    (tmp_path / "k8s" / "auth.yaml").write_text(
        "apiVersion: v1\nkind: Service\nmetadata: {name: auth-service}\n---\n"
        "apiVersion: apps/v1\nkind: Deployment\n"
        "metadata: {name: auth-service, labels: {app: auth-service, version: v1.0.0}}\n"
        "spec:\n  replicas: 3\n  template:\n    spec:\n      containers:\n"
        "        - name: auth-service\n          image: r/a:v1.0.0\n"
        "          resources: {requests: {cpu: 500m, memory: 512Mi}}\n"
    )
    new = ReleaseRepo(tmp_path).deployment_manifests(tmp_path / "k8s")
    assert [d.name for d in new] == ["auth-service"]
    old = [_deployment("v0.9.0", "250m", "256Mi")]
    assert k8s.extra_set(old, ["auth-service"], new) == (1500, 3 * 512 * 2**20)
    assert k8s.extra_set_detail(old, ["auth-service"], new)["auth-service"]["requests_from"] == "new version"


def test_key_ledger_round_trip_and_a_rotation_without_overlap(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from nova_gate.backends.base import SourceError
    from nova_gate.backends.http.facts import HttpAnswer
    from nova_gate.backends.http.key_ledger import KeyLedger
    from nova_gate.backends.http.rules import jwks_keys_and_overlap

    def answer(*kids: str) -> HttpAnswer:
        keys = [{"kid": k, "kty": "RSA", "n": "xyz", "e": "AQAB", "alg": "RS256", "use": "sig"} for k in kids]
        return HttpAnswer("GET", "http://auth/jwks", 200, {"keys": keys}, 0.01)

    ledger = KeyLedger(tmp_path)
    assert ledger.last_seen() == {}
    first = jwks_keys_and_overlap(answer("k1"), ledger.last_seen(), NOW, 3600)
    assert first.label is Label.PASS and "history starts" in first.reason
    ledger.record(["k1"], NOW, keep_s=3600)
    later = NOW + dt.timedelta(minutes=10)
    assert jwks_keys_and_overlap(answer("k1", "k2"), ledger.last_seen(), later, 3600).label is Label.PASS
    broken = jwks_keys_and_overlap(answer("k2"), ledger.last_seen(), later, 3600)
    assert broken.label is Label.FAIL and "k1" in broken.reason
    assert KeyLedger(None).last_seen() is None
    assert jwks_keys_and_overlap(answer("k1"), None, NOW, 3600).label is Label.INCONCLUSIVE
    (tmp_path / "jwks-keys.json").write_text("{not json")
    with pytest.raises(SourceError):
        ledger.last_seen()


def test_wal_sender_of_a_replica_is_found_on_a_busy_primary() -> None:
    from nova_gate.backends.postgres.source import _sender_of

    senders = {"walreceiver": {"replay_lsn": "0/3000100", "replay_lag_s": 0.002}}
    # replay positions read from both sides a moment apart differ; one replica, one sender: it is it
    assert _sender_of("replica-1", "0/3000200", senders, 1) is senders["walreceiver"]
    assert _sender_of("replica-1", "0/3000200", senders, 2) is None
    named = {"replica-1": {"replay_lsn": "0/1", "replay_lag_s": 0.5}, "replica-2": {"replay_lsn": "0/2"}}
    assert _sender_of("replica-1", "0/2", named, 2) is named["replica-1"]
    assert _sender_of("replica-x", "0/2", named, 2) is named["replica-2"]
