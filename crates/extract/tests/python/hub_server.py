"""A Hugging Face hub on 127.0.0.1 serving one model repo, for the download tests.

  write DIR MODEL   write the repo's files into DIR as timm's save_for_hf does for a
                    randomly initialised MODEL (e.g. efficientnet_b0.ra_in1k):
                    model.safetensors (timm tensor names), config.json, plus a README.md
  serve DIR REPO    serve DIR as model repo REPO (e.g. timm/efficientnet_b0.ra_in1k) the
                    way the hub does, print the port on stdout, and stop by itself after
                    --lifetime seconds (or when killed). --corrupt sends the weights with
                    one byte changed (same length); --log FILE appends one line per request.

What the hub does, and hf-hub relies on:
  GET /api/models/REPO/revision/REV[?blobs=true]   the commit (`sha`) and the file list
      (`siblings`: rfilename, blobId, size, and for LFS files lfs.sha256/size)
  GET /REPO/resolve/REV/FILE   a small file: its bytes, ETag (the git blob id) and
      X-Repo-Commit; an LFS file: 302 to its storage URL (absolute, another "host" path
      here), with X-Repo-Commit, X-Linked-Etag (the sha256) and X-Linked-Size
  GET /lfs/SHA256   the LFS file's bytes
  Range: bytes=A-B or A- is honoured everywhere with 206 and Content-Range.
Only 127.0.0.1 is bound; nothing here reaches another machine.
"""
import argparse
import hashlib
import http.server
import json
import os
import sys
import threading
import urllib.parse


def write(args):
    import torch
    import timm
    from timm.models._hub import save_for_hf

    torch.manual_seed(0)
    model = timm.create_model(args.model, pretrained=False)
    os.makedirs(args.dir, exist_ok=True)
    save_for_hf(model, args.dir, safe_serialization=True)
    with open(os.path.join(args.dir, "README.md"), "w") as readme:
        readme.write(f"# {args.model}\n\nRandom weights for effprobe's download test.\n")
    print(sorted(os.listdir(args.dir)))


class Repo:
    def __init__(self, directory, name, corrupt):
        self.name = name
        self.files = {}
        for file_name in sorted(os.listdir(directory)):
            with open(os.path.join(directory, file_name), "rb") as handle:
                data = handle.read()
            self.files[file_name] = {
                "data": data,
                "sha256": hashlib.sha256(data).hexdigest(),
                "git_blob": hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest(),
                "lfs": file_name.endswith(".safetensors"),
            }
        self.commit = hashlib.sha1(
            "".join(f["sha256"] for f in self.files.values()).encode()
        ).hexdigest()
        self.corrupt = corrupt

    def listing(self):
        siblings = []
        for file_name, f in self.files.items():
            entry = {"rfilename": file_name, "blobId": f["git_blob"], "size": len(f["data"])}
            if f["lfs"]:
                entry["lfs"] = {"sha256": f["sha256"], "size": len(f["data"]), "pointerSize": 134}
            siblings.append(entry)
        return {"_id": self.commit[:24], "id": self.name, "modelId": self.name,
                "sha": self.commit, "private": False, "siblings": siblings}

    def lfs_bytes(self, sha256):
        for f in self.files.values():
            if f["lfs"] and f["sha256"] == sha256:
                data = f["data"]
                if self.corrupt:
                    middle = len(data) // 2
                    data = data[:middle] + bytes([data[middle] ^ 0xFF]) + data[middle + 1:]
                return data
        return None


def handler_for(repo, log_path):
    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, fmt, *args):
            if log_path:
                with open(log_path, "a") as log:
                    log.write(f"{self.command} {self.path} {self.headers.get('Range', '-')}\n")

        def send_body(self, data, headers, status=200):
            start, end = 0, len(data) - 1
            wanted = self.headers.get("Range")
            if wanted and wanted.startswith("bytes="):
                first, _, last = wanted[len("bytes="):].partition("-")
                start = int(first)
                end = min(int(last), len(data) - 1) if last else len(data) - 1
                status = 206
            body = data[start:end + 1]
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Accept-Ranges", "bytes")
            if status == 206:
                self.send_header("Content-Range", f"bytes {start}-{end}/{len(data)}")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def not_found(self, code):
            body = json.dumps({"error": code}).encode()
            self.send_response(404)
            self.send_header("X-Error-Code", code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def do_HEAD(self):
            self.do_GET()

        def do_GET(self):
            url = urllib.parse.urlsplit(self.path)
            path = urllib.parse.unquote(url.path)
            api = f"/api/models/{repo.name}/revision/"
            resolve = f"/{repo.name}/resolve/"
            if path.startswith(api):
                if path[len(api):] not in ("main", repo.commit):
                    return self.not_found("RevisionNotFound")
                body = json.dumps(repo.listing()).encode()
                return self.send_body(body, {"Content-Type": "application/json"})
            if path.startswith(resolve):
                revision, _, file_name = path[len(resolve):].partition("/")
                if revision not in ("main", repo.commit):
                    return self.not_found("RevisionNotFound")
                f = repo.files.get(file_name)
                if f is None:
                    return self.not_found("EntryNotFound")
                if f["lfs"]:
                    host, port = self.server.server_address[:2]
                    self.send_response(302)
                    self.send_header("Location", f"http://{host}:{port}/lfs/{f['sha256']}")
                    self.send_header("X-Repo-Commit", repo.commit)
                    self.send_header("X-Linked-Etag", f'"{f["sha256"]}"')
                    self.send_header("X-Linked-Size", str(len(f["data"])))
                    self.send_header("ETag", f'"{f["git_blob"]}"')
                    self.send_header("Content-Length", "0")
                    return self.end_headers()
                return self.send_body(f["data"], {"ETag": f'"{f["git_blob"]}"',
                                                  "X-Repo-Commit": repo.commit})
            if path.startswith("/lfs/"):
                data = repo.lfs_bytes(path[len("/lfs/"):])
                if data is None:
                    return self.not_found("EntryNotFound")
                return self.send_body(data, {"ETag": f'"{path[len("/lfs/"):]}"',
                                             "Content-Type": "application/octet-stream"})
            return self.not_found("RepoNotFound")

    return Handler


def serve(args):
    repo = Repo(args.dir, args.repo, args.corrupt)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler_for(repo, args.log))
    server.daemon_threads = True
    # Bounded in time whatever happens to the test that started it.
    threading.Timer(args.lifetime, server.shutdown).start()
    print(server.server_address[1], flush=True)
    server.serve_forever()
    os._exit(0)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(required=True)
    command = commands.add_parser("write")
    command.add_argument("dir")
    command.add_argument("model")
    command.set_defaults(run=write)
    command = commands.add_parser("serve")
    command.add_argument("dir")
    command.add_argument("repo")
    command.add_argument("--corrupt", action="store_true")
    command.add_argument("--lifetime", type=float, default=300.0)
    command.add_argument("--log")
    command.set_defaults(run=serve)
    args = parser.parse_args()
    args.run(args)


if __name__ == "__main__":
    sys.exit(main())
