"""A local S3-compatible server (moto's server mode) on loopback, for tests of `s3://` file storage."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from chatkit_host.testing import free_port


@contextmanager
def s3_server(*buckets: str) -> Iterator[dict[str, Any]]:
    """Run the server until the block ends, with ``buckets`` created; yields the fsspec/s3fs options
    that reach it (what `files.options` takes in chatkit.yaml)."""
    import boto3
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    options = {"endpoint_url": f"http://127.0.0.1:{port}", "key": "testing", "secret": "testing",
               "client_kwargs": {"region_name": "us-east-1"}}
    try:
        client = boto3.client("s3", endpoint_url=options["endpoint_url"], region_name="us-east-1",
                              aws_access_key_id="testing", aws_secret_access_key="testing")
        for bucket in buckets:
            client.create_bucket(Bucket=bucket)
        yield options
    finally:
        server.stop()


def stored_keys(options: dict[str, Any], url: str) -> list[str]:
    """Every object under an `s3://bucket/prefix` URL, listed directly (not through the host)."""
    import boto3

    bucket, _, prefix = url.removeprefix("s3://").partition("/")
    client = boto3.client("s3", endpoint_url=options["endpoint_url"], region_name="us-east-1",
                          aws_access_key_id=options["key"], aws_secret_access_key=options["secret"])
    listed = client.list_objects_v2(Bucket=bucket, Prefix=prefix)
    return sorted(entry["Key"] for entry in listed.get("Contents", []))
