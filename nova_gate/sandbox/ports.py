"""The sandbox's fixed loopback ports (environments/sandbox.yaml uses the same numbers)."""

HOST = "127.0.0.1"
POSTGRES_PRIMARY = 55432
POSTGRES_REPLICA = 55433
REDIS = 56379
REDIS_CLUSTER = (57001, 57002, 57003)
REDIS_CLUSTER_BUS = (57101, 57102, 57103)  # cluster-port = port + 100 (port + 10000 is out of range)
CLICKHOUSE_HTTP = 58123
PROMETHEUS = 59090
ALERTMANAGER = 59093
SIMULATOR_ADMIN = 58099
GRAFANA = 58200  # local stand-in for Grafana's HTTP API
VAULT = 58201  # local stand-in for HashiCorp Vault's KV v2 API
S3 = 58202  # local stand-in for the S3 REST API (SigV4-checked)
PAGERDUTY = 58203  # local stand-in for PagerDuty's REST API v2 (on-calls)
ALERT_SINK = 59095  # local stand-in for Slack and PagerDuty webhooks
REGISTRY = 55000
REGISTRY_TOKEN = 55001  # the registry's token server (Docker's token authentication)
KAFKA_BROKERS = (59192, 59193, 59194)
KAFKA_CONTROLLERS = (59292, 59293, 59294)
KAFKA_INTERNAL = (59392, 59393, 59394)  # inter-broker listener, mutual TLS (brokers and the sandbox's set-up)
KAFKA_EXPORTER = 59308  # the consumer-lag exporter (nova_gate/sandbox/streams.py); kafka_exporter's 9308
OPENSEARCH_HTTP = 59200
OPENSEARCH_TRANSPORT = 59300
KUBE_APISERVER = 56443
ETCD_CLIENT = 52379
ETCD_PEER = 52380
KWOK_KUBELET = 56250  # kwok's fake kubelet API (pod logs)
SERVICES = {
    "auth-service": 58080,
    "user-service": 58081,
    "content-service": 58082,
    "feed-service": 58083,
    "media-service": 58084,
    "messaging-service": 58085,
    "search-service": 58086,
    "streaming-service": 58087,
    "notification-service": 58088,
    "cdn-service": 58089,
    "events-service": 58090,
}


def reserved_ports_spec() -> str:
    """``ip_local_reserved_ports`` syntax for every sandbox port (they lie in Linux's ephemeral range)."""
    return ",".join(str(p) for p in all_ports())


def all_ports() -> list[int]:
    """Every port the sandbox listens on (for the no-listener-after-down proof)."""
    out: list[int] = []
    for name, value in globals().items():
        if name.isupper() and isinstance(value, int) and name != "HOST":
            out.append(value)
        elif name.isupper() and isinstance(value, tuple):
            out.extend(value)
        elif name == "SERVICES":
            out.extend(value.values())
    return sorted(set(out))
