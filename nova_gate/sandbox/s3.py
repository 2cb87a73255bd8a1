"""S3 and Secrets Manager for the sandbox: moto's server mode with its IAM enforcement switched on (port 58202).

AWS is a SaaS API, so a stand-in is allowed; moto is the well-kept one, and with
``INITIAL_NO_AUTH_ACTION_COUNT`` it authenticates every request (SigV4, botocore's own rules on
its side too) and evaluates the caller's IAM policies, as AWS does. The first ``SEED_ACTIONS``
requests — the IAM users, policies, access keys and the web-identity role made here at start — go
unchecked; everything after is checked, the sandbox's own set-up included (as ``nova-sandbox-admin``).

Identities (a shared credentials file, .sandbox/s3/credentials, mode 0600, one profile each):

- ``nova-gate``: ListBucket, GetBucketPublicAccessBlock, GetBucketPolicy on Nova's buckets and
  secretsmanager:DescribeSecret — nothing else;
- ``nova-smoke``: the smoke journey: Put/Get/DeleteObject under ``nova-media/smoke/`` only;
- ``nova-sandbox-admin``: the sandbox's set-up and faults;
- role ``nova-gate-ci`` (the gates' policy), assumable with a web-identity token
  (``AssumeRoleWithWebIdentity``, what IRSA and GitHub's OIDC hand a CI job).

Secrets Manager (``nova_gate/sandbox/secretsmanager.py``): Nova's secrets are seeded on the same
server after the buckets, and its faults are this component's.

moto keeps its state in memory: every start seeds it afresh, so a fault does not survive a restart.
"""

from __future__ import annotations

import configparser
import json
import os
import sys
from pathlib import Path
from typing import Any

from nova_gate.sandbox import ports, secretsmanager
from nova_gate.sandbox.base import Component, Fault, Health, SandboxError, port_open, state_dir, wait_port

ENDPOINT = f"http://{ports.HOST}:{ports.S3}"
REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's account
S3_PRINCIPAL = f"arn:aws:iam::{ACCOUNT}:role/nova-services"
BUCKETS = ("nova-media", "nova-cdn-origin")
SMOKE_BUCKET, SMOKE_PREFIX = "nova-media", "smoke/"
BLOCK_ALL = {
    "BlockPublicAcls": True,
    "IgnorePublicAcls": True,
    "BlockPublicPolicy": True,
    "RestrictPublicBuckets": True,
}
GATES, SMOKE, ADMIN = "nova-gate", "nova-smoke", "nova-sandbox-admin"
CI_ROLE = "nova-gate-ci"


def _statement(actions: list[str], resources: list[str]) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": actions, "Resource": resources}


def policies() -> dict[str, dict[str, Any]]:
    """Each identity's IAM policy (the gates' one is README's least privilege)."""
    buckets = [f"arn:aws:s3:::{b}" for b in BUCKETS]
    # AWS authorises HeadBucket with s3:ListBucket; moto names that permission s3:HeadBucket
    read = ["s3:ListBucket", "s3:HeadBucket", "s3:GetBucketPublicAccessBlock", "s3:GetBucketPolicy"]
    gates = {"Version": "2012-10-17", "Statement": [_statement(read, buckets), secretsmanager.gates_statement()]}
    smoke = {
        "Version": "2012-10-17",
        "Statement": [
            _statement(
                ["s3:PutObject", "s3:GetObject", "s3:DeleteObject"], [f"arn:aws:s3:::{SMOKE_BUCKET}/{SMOKE_PREFIX}*"]
            )
        ],
    }
    admin = {"Version": "2012-10-17", "Statement": [_statement(["s3:*"], ["*"]), secretsmanager.admin_statement()]}
    return {GATES: gates, SMOKE: smoke, ADMIN: admin}


def bucket_policy(bucket: str, actions: list[str]) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "NovaServices",
                "Effect": "Allow",
                "Principal": {"AWS": S3_PRINCIPAL},
                "Action": actions,
                "Resource": [f"arn:aws:s3:::{bucket}/*"],
            }
        ],
    }


def credentials_file() -> Path:
    return state_dir() / "s3" / "credentials"


def config_file() -> Path:
    """A shared AWS config: region and the sandbox's endpoint for S3 and STS, per profile."""
    return state_dir() / "s3" / "config"


def web_identity_token_file() -> Path:
    return state_dir() / "s3" / "web-identity-token"


def profile_keys(profile: str) -> tuple[str, str]:
    parser = configparser.ConfigParser()
    parser.read(credentials_file())
    if profile not in parser:
        raise SandboxError(f"s3: no profile {profile} in {credentials_file()}; start the s3 component")
    return parser[profile]["aws_access_key_id"], parser[profile]["aws_secret_access_key"]


def client(service: str = "s3", profile: str = ADMIN, **kwargs: Any) -> Any:
    """A botocore client on the sandbox's endpoint as ``profile`` (its keys from the credentials file)."""
    import botocore.config
    import botocore.session

    key, secret = profile_keys(profile)
    return botocore.session.Session().create_client(
        service,
        region_name=REGION,
        endpoint_url=ENDPOINT,
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        config=botocore.config.Config(
            s3={"addressing_style": "path"}, retries={"max_attempts": 1}, connect_timeout=5, read_timeout=10
        ),
        **kwargs,
    )


def _anonymous(service: str) -> Any:
    """A client for the unchecked seeding window (moto accepts any key then)."""
    import botocore.session

    return botocore.session.Session().create_client(
        service, region_name=REGION, endpoint_url=ENDPOINT, aws_access_key_id="seed", aws_secret_access_key="seed"
    )


#: the requests of ``_seed_identities`` (moto checks every request after these)
SEED_ACTIONS = 3 * len(policies()) + 2


class S3(Component):
    name = "s3"

    def start(self) -> None:
        if port_open(ports.S3):
            pid = self.pid("s3-moto")
            if pid is None:
                raise SandboxError(f"s3: port {ports.S3} is taken by a process this sandbox did not start")
            if credentials_file().exists():
                return
            self.stop()
        self.dir.mkdir(parents=True, exist_ok=True)
        self.spawn(
            "s3-moto",
            [sys.executable, "-m", "nova_gate.sandbox.moto_server", "-H", ports.HOST, "-p", str(ports.S3)],
            env={"INITIAL_NO_AUTH_ACTION_COUNT": str(SEED_ACTIONS), "MOTO_ACCOUNT_ID": ACCOUNT},
        )
        wait_port(ports.S3, "moto (S3, IAM, STS)", 30)
        self._seed_identities()
        self._seed_buckets()
        secretsmanager.seed(client("secretsmanager"))

    def _seed_identities(self) -> None:
        iam = _anonymous("iam")
        parser = configparser.ConfigParser()
        for user, policy in policies().items():
            iam.create_user(UserName=user)
            iam.put_user_policy(UserName=user, PolicyName=f"{user}-policy", PolicyDocument=json.dumps(policy))
            key = iam.create_access_key(UserName=user)["AccessKey"]
            parser[user] = {"aws_access_key_id": key["AccessKeyId"], "aws_secret_access_key": key["SecretAccessKey"]}
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Federated": f"arn:aws:iam::{ACCOUNT}:oidc-provider/token.actions.example"},
                    "Action": "sts:AssumeRoleWithWebIdentity",
                }
            ],
        }
        iam.create_role(RoleName=CI_ROLE, AssumeRolePolicyDocument=json.dumps(trust))
        iam.put_role_policy(
            RoleName=CI_ROLE, PolicyName=f"{CI_ROLE}-policy", PolicyDocument=json.dumps(policies()[GATES])
        )
        path = credentials_file()
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".partial")
        with open(tmp, "w") as out:
            parser.write(out)
        tmp.chmod(0o600)
        tmp.rename(path)
        config = configparser.ConfigParser()
        for user in policies():
            config[f"profile {user}"] = {"region": REGION, "endpoint_url": ENDPOINT}
        config[f"profile {CI_ROLE}"] = {
            "region": REGION,
            "endpoint_url": ENDPOINT,
            "role_arn": f"arn:aws:iam::{ACCOUNT}:role/{CI_ROLE}",
            "web_identity_token_file": str(web_identity_token_file()),
            "role_session_name": "nova-gate",
        }
        with open(config_file(), "w") as out:
            config.write(out)
        # an OIDC token as a CI job gets one (moto does not verify its signature; the role's
        # trust and policy are what it enforces)
        web_identity_token_file().write_text("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJyZXBvOm5vdmEvYmFja2VuZCJ9.c2lnbmF0dXJl")
        web_identity_token_file().chmod(0o600)

    def _seed_buckets(self) -> None:
        s3 = client()
        for bucket in BUCKETS:
            self._ensure_bucket(s3, bucket)

    @staticmethod
    def _ensure_bucket(s3: Any, bucket: str, actions: list[str] | None = None) -> None:
        import botocore.exceptions

        try:
            s3.head_bucket(Bucket=bucket)
        except botocore.exceptions.ClientError:
            s3.create_bucket(Bucket=bucket)
        s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=dict(BLOCK_ALL))
        policy = bucket_policy(bucket, actions or ["s3:GetObject", "s3:PutObject"])
        s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))

    def health(self) -> Health:
        if not port_open(ports.S3):
            return Health(False, ENDPOINT, self.pids(), "not listening")
        try:
            s3 = client(profile=GATES)
            for bucket in BUCKETS:
                s3.head_bucket(Bucket=bucket)
            client("secretsmanager", profile=GATES).describe_secret(SecretId=secretsmanager.SECRETS[0])
        except Exception as exc:
            return Health(False, ENDPOINT, self.pids(), f"as {GATES}: {str(exc)[:160]}")
        return Health(
            True,
            ENDPOINT,
            self.pids(),
            f"moto (IAM enforced), buckets {', '.join(BUCKETS)}, {len(secretsmanager.SECRETS)} secrets",
        )

    def stop(self) -> None:
        self.stop_and_wait([ports.S3])
        credentials_file().unlink(missing_ok=True)  # moto's keys die with it

    def snapshot(self) -> dict[str, Any]:
        """The processes, each bucket's state and the secrets' state (what the faults change)."""
        out = super().snapshot()
        try:
            out["buckets"] = self._bucket_snapshot(client())
        except Exception as exc:  # moto down: the difference shows as the error
            out["buckets"] = f"unreadable: {type(exc).__name__}"
        try:
            out["secrets"] = secretsmanager.snapshot(client("secretsmanager"))
        except Exception as exc:
            out["secrets"] = f"unreadable: {type(exc).__name__}"
        return out

    @staticmethod
    def _bucket_snapshot(s3: Any) -> dict[str, Any]:
        """Per bucket: exists, its public-access block and its policy (the smoke objects move, so not them)."""
        import botocore.exceptions

        out: dict[str, Any] = {}
        for bucket in BUCKETS:
            try:
                s3.head_bucket(Bucket=bucket)
            except botocore.exceptions.ClientError:
                out[bucket] = {"exists": False}
                continue
            try:
                block = s3.get_public_access_block(Bucket=bucket).get("PublicAccessBlockConfiguration", {})
            except botocore.exceptions.ClientError:
                block = None
            try:
                policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
            except botocore.exceptions.ClientError:
                policy = None
            out[bucket] = {"exists": True, "public_access_block": block, "policy": policy}
        return out

    # -- faults ---------------------------------------------------------------------------------
    def faults(self) -> list[Fault]:
        def reset() -> None:
            s3 = client()
            for bucket in BUCKETS:
                self._ensure_bucket(s3, bucket)

        def public() -> None:
            client().put_public_access_block(
                Bucket="nova-media", PublicAccessBlockConfiguration=dict.fromkeys(BLOCK_ALL, False)
            )

        def missing() -> None:
            s3 = client()
            listed = s3.list_objects_v2(Bucket="nova-cdn-origin").get("Contents", [])
            for item in listed:
                s3.delete_object(Bucket="nova-cdn-origin", Key=item["Key"])
            s3.delete_bucket(Bucket="nova-cdn-origin")

        def read_only_services() -> None:
            self._ensure_bucket(client(), "nova-media", ["s3:GetObject"])

        return [
            *secretsmanager.faults(lambda: client("secretsmanager"), self.name),
            Fault(
                "s3-public-access-open",
                "bucket nova-media has its public access block switched off",
                ("PRE-CFG-4",),
                public,
                reset,
                self.name,
            ),
            Fault(
                "s3-bucket-missing", "bucket nova-cdn-origin does not exist", ("PRE-CFG-4",), missing, reset, self.name
            ),
            Fault(
                "s3-services-cannot-write",
                "the bucket policy lets the services read nova-media but not write",
                ("PRE-CFG-4",),
                read_only_services,
                reset,
                self.name,
            ),
        ]


def aws_environment(profile: str) -> dict[str, str]:
    """Environment variables that point botocore's chain at the sandbox's files and ``profile``."""
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
        "AWS_SHARED_CREDENTIALS_FILE": str(credentials_file()),
        "AWS_CONFIG_FILE": str(config_file()),
        "AWS_PROFILE": profile,
    }
