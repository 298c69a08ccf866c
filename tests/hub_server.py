"""A tiny Hugging Face Hub for tests: just enough of the REST API for the real `huggingface_hub`
client to create a repo, commit regular (non-LFS) files, tag, resolve revisions and download.

Repos live in memory. Every request must carry `Authorization: Bearer <token>`, so a test can show
the client sends it. The preupload endpoint answers "regular" for every file: the client then
sends contents base64-encoded inside the commit, and neither LFS nor Xet is involved.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit


def blob_oid(content: bytes) -> str:
    """Git's blob sha1, which the client compares with to skip unchanged files."""
    return hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()


@dataclass
class Commit:
    oid: str
    parent: str | None
    message: str
    files: dict[str, bytes]


@dataclass
class Repo:
    private: bool
    commits: dict[str, Commit] = field(default_factory=dict)
    branches: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)

    def resolve(self, revision: str) -> Commit | None:
        oid = self.branches.get(revision) or self.tags.get(revision) or revision
        return self.commits.get(oid)


class HubState:
    """What the fake Hub holds, plus what it saw: tests inspect both."""

    def __init__(self, token: str, user: str) -> None:
        self.token = token
        self.user = user
        self.repos: dict[str, Repo] = {}
        self.uploaded_paths: set[str] = set()  # every path a client announced or sent
        self.unauthorized = 0  # requests refused for a missing or wrong token
        self.lock = threading.Lock()
        self._sequence = 0

    def commit(self, repo: Repo, parent: str | None, message: str, files: dict[str, bytes]) -> str:
        # Like git, a commit id depends on more than its tree: each commit gets a new one.
        self._sequence += 1
        tree = sorted((path, blob_oid(content)) for path, content in files.items())
        oid = hashlib.sha1(json.dumps([self._sequence, parent, message, tree]).encode()).hexdigest()
        repo.commits[oid] = Commit(oid, parent, message, dict(files))
        repo.branches["main"] = oid
        return oid


class _HttpError(Exception):
    def __init__(self, status: int, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.code = status, message, code


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        self._dispatch()

    def do_HEAD(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def log_message(self, format: str, *args: object) -> None:
        pass  # keep test output quiet

    def _dispatch(self) -> None:
        hub = self.server.hub
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        parts = [unquote(part) for part in urlsplit(self.path).path.strip("/").split("/")]
        try:
            if self.headers.get("Authorization") != f"Bearer {hub.token}":
                with hub.lock:
                    hub.unauthorized += 1
                raise _HttpError(401, "Invalid credentials in Authorization header")
            with hub.lock:
                self._route(hub, parts, body)
        except _HttpError as error:
            headers = {"X-Error-Message": error.message}
            if error.code:
                headers["X-Error-Code"] = error.code
            self._send(error.status, {"error": error.message}, headers)

    def _route(self, hub: HubState, parts: list[str], body: bytes) -> None:
        method = self.command
        if parts == ["api", "whoami-v2"] and method == "GET":
            return self._send(200, {"type": "user", "name": hub.user, "orgs": []})
        if parts == ["api", "validate-yaml"] and method == "POST":
            return self._send(200, {"errors": [], "warnings": []})
        if parts == ["api", "repos", "create"] and method == "POST":
            return self._create_repo(hub, json.loads(body))
        if parts[:2] == ["api", "models"] and len(parts) >= 4:
            repo_id, action, rest = f"{parts[2]}/{parts[3]}", parts[4:5], parts[5:]
            repo = _find_repo(hub, repo_id)
            if action == [] and method == "GET":
                return self._info(repo_id, repo, "main")
            if action == ["revision"] and method == "GET":
                return self._info(repo_id, repo, rest[0])
            if action == ["tree"] and method == "GET":
                return self._tree(repo, rest[0], "/".join(rest[1:]))
            if action == ["preupload"] and method == "POST":
                return self._preupload(hub, repo, rest[0], json.loads(body))
            if action == ["commit"] and method == "POST":
                return self._create_commit(hub, repo_id, repo, rest[0], body)
            if action == ["tag"] and method == "POST":
                return self._create_tag(repo, rest[0], json.loads(body)["tag"])
            if action == ["tag"] and method == "DELETE":
                if repo.tags.pop(rest[0], None) is None:
                    raise _HttpError(404, f"no tag {rest[0]}", "RevisionNotFound")
                return self._send(200, {})
        if len(parts) >= 5 and parts[2] == "resolve" and method in ("GET", "HEAD"):
            return self._resolve(
                _find_repo(hub, f"{parts[0]}/{parts[1]}"), parts[3], "/".join(parts[4:])
            )
        raise _HttpError(404, f"{method} {self.path} is not implemented by the test hub")

    def _create_repo(self, hub: HubState, payload: dict) -> None:
        if payload.get("type") not in (None, "model"):
            raise _HttpError(400, "the test hub only hosts model repos")
        repo_id = f"{payload.get('organization') or hub.user}/{payload['name']}"
        url = f"{self.server.url}/{repo_id}"
        if repo_id in hub.repos:
            # The client reads "url" from this 409 too when exist_ok=True.
            return self._send(409, {"error": "You already created this model repo", "url": url})
        # Recent clients send visibility, older ones a private flag; the Hub defaults to public.
        private = payload.get("visibility") == "private" or payload.get("private") is True
        repo = hub.repos[repo_id] = Repo(private=private)
        # Like the Hub, a new repo starts with one commit holding .gitattributes.
        hub.commit(repo, None, "initial commit", {".gitattributes": b"*.safetensors filter=lfs\n"})
        self._send(200, {"url": url, "name": repo_id})

    def _info(self, repo_id: str, repo: Repo, revision: str) -> None:
        commit = _find_commit(repo, revision)
        siblings = [{"rfilename": path} for path in sorted(commit.files)]
        self._send(
            200, {"id": repo_id, "sha": commit.oid, "private": repo.private, "siblings": siblings}
        )

    def _tree(self, repo: Repo, revision: str, prefix: str) -> None:
        files = _find_commit(repo, revision).files
        listing = [
            {"type": "file", "path": path, "size": len(content), "oid": blob_oid(content)}
            for path, content in sorted(files.items())
            if not prefix or path.startswith(f"{prefix}/")
        ]
        self._send(200, listing)

    def _preupload(self, hub: HubState, repo: Repo, revision: str, payload: dict) -> None:
        files = _find_commit(repo, revision).files
        answer = []
        for entry in payload["files"]:
            hub.uploaded_paths.add(entry["path"])
            known = files.get(entry["path"])
            answer.append(
                {
                    "path": entry["path"],
                    "uploadMode": "regular",
                    "shouldIgnore": False,
                    "oid": None if known is None else blob_oid(known),
                }
            )
        self._send(200, {"files": answer})

    def _create_commit(
        self, hub: HubState, repo_id: str, repo: Repo, branch: str, body: bytes
    ) -> None:
        if branch not in repo.branches:
            raise _HttpError(404, f"no branch {branch}", "RevisionNotFound")
        parent = repo.branches[branch]
        files = dict(repo.commits[parent].files)
        lines = [json.loads(line) for line in body.splitlines() if line.strip()]
        if not lines or lines[0]["key"] != "header":
            raise _HttpError(400, "a commit starts with its header line")
        header = lines[0]["value"]
        expected = header.get("parentCommit")
        if expected and not parent.startswith(expected):
            raise _HttpError(412, f"{branch} moved: it is at {parent}, not {expected}")
        for line in lines[1:]:
            key, value = line["key"], line["value"]
            if key == "file":
                hub.uploaded_paths.add(value["path"])
                files[value["path"]] = base64.b64decode(value["content"])
            elif key == "deletedFile":
                files.pop(value["path"], None)
            else:
                raise _HttpError(400, f"the test hub does not take {key!r} operations")
        oid = hub.commit(repo, parent, header["summary"], files)
        url = f"{self.server.url}/{repo_id}/commit/{oid}"
        self._send(
            200, {"commitOid": oid, "commitUrl": url, "success": True, "pullRequestUrl": None}
        )

    def _create_tag(self, repo: Repo, revision: str, tag: str) -> None:
        if tag in repo.tags:
            raise _HttpError(409, f"tag {tag} already exists")
        repo.tags[tag] = _find_commit(repo, revision).oid
        self._send(200, {})

    def _resolve(self, repo: Repo, revision: str, path: str) -> None:
        commit = _find_commit(repo, revision)
        if path not in commit.files:
            raise _HttpError(404, f"no {path} at {commit.oid}", "EntryNotFound")
        content = commit.files[path]
        headers = {"X-Repo-Commit": commit.oid, "ETag": f'"{blob_oid(content)}"'}
        self._send(200, content, headers, content_type="application/octet-stream")

    def _send(
        self,
        status: int,
        payload: object,
        headers: dict[str, str] | None = None,
        content_type: str = "application/json",
    ) -> None:
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.send_response(status)
        for name, value in {**(headers or {}), "Content-Type": content_type}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)


def _find_repo(hub: HubState, repo_id: str) -> Repo:
    if repo_id not in hub.repos:
        raise _HttpError(404, f"no repo {repo_id}", "RepoNotFound")
    return hub.repos[repo_id]


def _find_commit(repo: Repo, revision: str) -> Commit:
    commit = repo.resolve(revision)
    if commit is None:
        raise _HttpError(404, f"no revision {revision}", "RevisionNotFound")
    return commit


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, hub: HubState) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.hub = hub
        self.url = f"http://127.0.0.1:{self.server_address[1]}"


@contextmanager
def start_hub_server(token: str, user: str = "tester") -> Iterator[tuple[str, HubState]]:
    """Serve a fresh, empty hub on a free port; yield its URL and its state; stop it on exit."""
    server = _Server(HubState(token, user))
    # A short poll keeps shutdown (which waits for the next poll) quick.
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server.url, server.hub
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
