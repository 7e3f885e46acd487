"""Uploads a local folder to an S3-compatible server (the moto server the S3
tests and bench/s3.sh start on 127.0.0.1), creating the bucket if needed.
Credentials, region and endpoint come from the standard AWS variables, as
effprobe reads them.

usage: s3_upload.py SOURCE s3://BUCKET/PREFIX
  SOURCE a folder: every file under it goes to PREFIX/RELATIVE_PATH
  SOURCE a file:   it goes to the key PREFIX itself
Prints one line: the number of objects and bytes uploaded.
"""
import os
import sys

import boto3

if len(sys.argv) != 3 or not sys.argv[2].startswith("s3://"):
    sys.exit(__doc__)
source, target = sys.argv[1], sys.argv[2][len("s3://"):]
bucket, _, prefix = target.partition("/")
prefix = prefix.strip("/")

s3 = boto3.client("s3", endpoint_url=os.environ.get("AWS_ENDPOINT_URL"))
if bucket not in {b["Name"] for b in s3.list_buckets().get("Buckets", [])}:
    s3.create_bucket(Bucket=bucket)

if os.path.isfile(source):
    uploads = [(source, prefix)]
else:
    uploads = []
    for folder, _, names in sorted(os.walk(source)):
        for name in sorted(names):
            path = os.path.join(folder, name)
            relative = os.path.relpath(path, source).replace(os.sep, "/")
            uploads.append((path, f"{prefix}/{relative}" if prefix else relative))
total = 0
for path, key in uploads:
    s3.upload_file(path, bucket, key)
    total += os.path.getsize(path)
print(f"{len(uploads)} objects, {total} bytes -> s3://{target}")
