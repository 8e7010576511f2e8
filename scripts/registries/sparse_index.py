#!/usr/bin/env python3
"""Serve a Cargo registry's index directory as a *sparse* index (RFC 2789) on 127.0.0.1.

Started by scripts/registries.sh over the git index that cargo-http-registry writes (a git
index has the sparse file layout; its config.json names cargo-http-registry as `dl` and
`api`). Standard library only.

Why not `python3 -m http.server`: it answers `If-Modified-Since` with 304 at one-second
resolution, and cargo revalidates its cached index files with exactly that header. A crate
file appended to twice within one second (e.g. version 0.1.0 then 0.2.0 published back to
back) would then stay stale forever. Here every answer carries a strong ETag made from the
bytes served (cargo then revalidates with `If-None-Match`), `Cache-Control: no-cache`, and
no `Last-Modified`.

Also:
- only a complete index is served: cargo-http-registry appends a line with several writes,
  so a crate file is cut after its last newline (config.json is served whole);
- paths with a component starting with "." (the .git directory) and the `.crate` files
  (downloads go through cargo-http-registry's `dl` URL) answer 404, as do directories;
- a missing file answers 404, which cargo reads as "no such crate".
"""

import argparse
import hashlib
import http.server
import os
import sys
import urllib.parse


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    root = "."

    def version_string(self):
        return "shiplane-sparse-index"

    def log_message(self, format, *args):  # noqa: A002 (the base class's signature)
        sys.stderr.write("%s %s\n" % (self.log_date_time_string(), format % args))

    def _resolve(self):
        path = urllib.parse.urlsplit(self.path).path
        parts = [p for p in urllib.parse.unquote(path).split("/") if p]
        if not parts or any(p.startswith(".") or p.endswith(".crate") for p in parts):
            return None
        full = os.path.join(self.root, *parts)
        if not os.path.isfile(full):
            return None
        return full, parts[-1]

    def _send(self, code, body, headers):
        self.send_response(code)
        for key, value in headers:
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_GET(self):
        found = self._resolve()
        if found is None:
            self._send(404, b"not found\n", [("Content-Type", "text/plain")])
            return
        full, name = found
        try:
            with open(full, "rb") as f:
                body = f.read()
        except OSError:
            self._send(404, b"not found\n", [("Content-Type", "text/plain")])
            return
        if name == "config.json":
            content_type = "application/json"
        else:
            content_type = "text/plain; charset=utf-8"
            body = body[: body.rfind(b"\n") + 1]
        etag = '"%s"' % hashlib.sha256(body).hexdigest()[:32]
        headers = [("ETag", etag), ("Cache-Control", "no-cache")]
        inm = self.headers.get("If-None-Match")
        if inm is not None and etag in [t.strip() for t in inm.split(",")]:
            self._send(304, b"", headers)
            return
        self._send(200, body, headers + [("Content-Type", content_type)])

    do_HEAD = do_GET


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bind", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--dir", required=True, help="the index directory")
    args = parser.parse_args()
    Handler.root = os.path.abspath(args.dir)
    server = http.server.ThreadingHTTPServer((args.bind, args.port), Handler)
    server.daemon_threads = True
    sys.stderr.write(
        "serving %s as a sparse index on http://%s:%d/\n" % (Handler.root, args.bind, args.port)
    )
    sys.stderr.flush()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
