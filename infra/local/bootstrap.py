#!/usr/bin/env python3
"""Helpers for start.sh: free ports, readiness probes, and the stack's resources.

    bootstrap.py free-port            print a free TCP port on 127.0.0.1
    bootstrap.py probe URL            exit 0 if anything answers HTTP at URL within a second
    bootstrap.py resources --dynamodb URL --moto URL --env FILE
                                      create (or keep) what template.yaml defines, then write FILE

`resources` is idempotent: it creates only what is missing and keeps an existing signing-key
secret, so running it against a live stack leaves every credential minted so far valid. It needs
boto3, so run it with the cache's venv; the other two need only the standard library.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import secrets
import shlex
import socket
import sys
import tempfile
import time
import urllib.error
import urllib.request

REGION = "us-east-1"
ACCESS_KEY_ID = "test"
SECRET_ACCESS_KEY = "test"
QUEUE_NAME = "keygate-events"
DLQ_NAME = "keygate-events-dlq"
SECRET_ID = "keygate/keys"

# Queue attributes, as template.yaml's EventsQueue / EventsDeadLetterQueue set them.
QUEUE_VISIBILITY_TIMEOUT = 360
QUEUE_RETENTION_SECONDS = 4 * 24 * 3600
DLQ_RETENTION_SECONDS = 14 * 24 * 3600
MAX_RECEIVE_COUNT = 8

# Order n of the P-256 group: a private scalar must lie in [1, n-1].
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def probe(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1):
            return True
    except urllib.error.HTTPError:
        return True  # any status means the server is up (DynamoDB Local answers GET / with 400)
    except (OSError, ValueError):
        return False


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def p256_private_scalar() -> bytes:
    while True:
        raw = secrets.token_bytes(32)
        if 0 < int.from_bytes(raw, "big") < P256_ORDER:
            return raw


def new_key_material(now: int) -> dict:
    return {
        "signingKeys": [
            {
                "kid": secrets.token_hex(8),
                "alg": "ES256",
                "privateKey": b64url(p256_private_scalar()),
                "createdAt": now,
            }
        ],
        "peppers": [{"id": f"p{now}", "key": b64url(secrets.token_bytes(32)), "createdAt": now}],
    }


def client(service: str, endpoint: str):
    import boto3  # only `resources` needs it

    # Explicit endpoint, region and keys: a shell that sourced an older env file, or a real AWS
    # profile, must never redirect the bootstrap.
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY_ID,
        aws_secret_access_key=SECRET_ACCESS_KEY,
    )


def ensure_table(ddb, name: str) -> str:
    try:
        ddb.describe_table(TableName=name)
        state = "kept"
    except ddb.exceptions.ResourceNotFoundException:
        ddb.create_table(
            TableName=name,
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
                {"AttributeName": "gsi1pk", "AttributeType": "S"},
                {"AttributeName": "gsi1sk", "AttributeType": "S"},
            ],
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": "gsi1",
                    "KeySchema": [
                        {"AttributeName": "gsi1pk", "KeyType": "HASH"},
                        {"AttributeName": "gsi1sk", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        ddb.get_waiter("table_exists").wait(
            TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30}
        )
        state = "created"
    ttl = ddb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
    if ttl.get("TimeToLiveStatus") not in ("ENABLED", "ENABLING"):
        ddb.update_time_to_live(
            TableName=name,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": "ttl"},
        )
    return state


def ensure_queue(sqs, name: str, attributes: dict) -> str:
    try:
        url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
        sqs.set_queue_attributes(QueueUrl=url, Attributes=attributes)
    except sqs.exceptions.QueueDoesNotExist:
        url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    return url


def ensure_secret(sm, name: str) -> str:
    try:
        sm.describe_secret(SecretId=name)
        return "kept"
    except sm.exceptions.ResourceNotFoundException:
        sm.create_secret(
            Name=name,
            Description="keygate signing keys and peppers (local stack)",
            SecretString=json.dumps(new_key_material(int(time.time()))),
        )
        return "created"


def write_env(path: str, values: dict) -> None:
    lines = [f"export {key}={shlex.quote(str(value))}\n" for key, value in values.items()]
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".env.")
    with os.fdopen(fd, "w") as out:
        out.write("# written by infra/local/start.sh; `source` it to use the local stack\n")
        out.writelines(lines)
    os.replace(tmp, path)  # atomic: a reader never sees half a file


def resources(args: argparse.Namespace) -> None:
    table = os.environ.get("KEYGATE_TABLE") or "keygate-local"
    # The short-lived, high-volume items' table (docs/SCALE.md "Blast radius").
    volatile = os.environ.get("KEYGATE_VOLATILE_TABLE") or f"{table}-volatile"
    ddb = client("dynamodb", args.dynamodb)
    sqs = client("sqs", args.moto)
    sm = client("secretsmanager", args.moto)

    table_state = ensure_table(ddb, table)
    volatile_state = ensure_table(ddb, volatile)
    dlq_url = ensure_queue(sqs, DLQ_NAME, {"MessageRetentionPeriod": str(DLQ_RETENTION_SECONDS)})
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    queue_url = ensure_queue(
        sqs,
        QUEUE_NAME,
        {
            "VisibilityTimeout": str(QUEUE_VISIBILITY_TIMEOUT),
            "MessageRetentionPeriod": str(QUEUE_RETENTION_SECONDS),
            "RedrivePolicy": json.dumps(
                {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(MAX_RECEIVE_COUNT)}
            ),
        },
    )
    secret_state = ensure_secret(sm, SECRET_ID)

    write_env(
        args.env,
        {
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY_ID,
            "AWS_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
            "AWS_ENDPOINT_URL_DYNAMODB": args.dynamodb,
            "AWS_ENDPOINT_URL_SQS": args.moto,
            "AWS_ENDPOINT_URL_SECRETS_MANAGER": args.moto,
            "KEYGATE_TABLE": table,
            "KEYGATE_VOLATILE_TABLE": volatile,
            "KEYGATE_QUEUE_URL": queue_url,
            "KEYGATE_DLQ_URL": dlq_url,
            "KEYGATE_SECRET_ID": SECRET_ID,
            "KEYGATE_STACK": "1",
        },
    )
    print(f"tables {table} {table_state}, {volatile} {volatile_state}, queues {QUEUE_NAME}/{DLQ_NAME}, secret {SECRET_ID} {secret_state}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("free-port")
    probe_cmd = sub.add_parser("probe")
    probe_cmd.add_argument("url")
    res = sub.add_parser("resources")
    res.add_argument("--dynamodb", required=True)
    res.add_argument("--moto", required=True)
    res.add_argument("--env", required=True)
    args = parser.parse_args()

    if args.command == "free-port":
        print(free_port())
    elif args.command == "probe":
        return 0 if probe(args.url) else 1
    else:
        resources(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
