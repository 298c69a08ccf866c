"""A tiny Hugging Face Hub for tests: just enough of the REST API for the real `huggingface_hub`
client to create a repo and branches, commit files, tag, resolve revisions and download.

Repos live in memory. Every request must carry `Authorization: Bearer <token>`, so a test can show
the client sends it; the one exception is an LFS upload URL, which, like the Hub's presigned storage
URLs, is its own credential. A commit naming a `parentCommit` that is no longer its branch's head is
refused with 412, as the Hub does.

By default the preupload endpoint answers "regular" for every file: the client then sends contents
base64-encoded inside the commit. With `lfs=True` it answers "lfs" for the paths the repo's
.gitattributes marks `filter=lfs` (`*.safetensors`), as the Hub does, and the client takes the Git
LFS path: the batch endpoint hands out an upload URL per object not yet stored, the client PUTs the
bytes there, and the commit names the object by its sha256 in an `lfsFile` line. Downloads of such
files carry the headers the Hub sends for them (X-Linked-Etag, X-Linked-Size).

Xet is not spoken here. huggingface_hub (2.x) uploads "lfs" files through Xet whenever hf_xet is
installed, without asking the server, so LFS mode is only for clients run with HF_HUB_DISABLE_XET.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import PurePosixPath
from urllib.parse import unquote, urlsplit


def blob_oid(content: bytes) -> str:
    """Git's blob sha1, which the client compares with to skip unchanged files."""
    return hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()


def lfs_pointer(content: bytes) -> bytes:
    """The pointer file git stores in place of an LFS file's content."""
    oid = hashlib.sha256(content).hexdigest()
    spec = "https://git-lfs.github.com/spec/v1"
    return f"version {spec}\noid sha256:{oid}\nsize {len(content)}\n".encode()


def git_blob(content: bytes, in_lfs: bool) -> str:
    # Git holds an LFS file's pointer, not its content: the tree lists the pointer's blob.
    return blob_oid(lfs_pointer(content) if in_lfs else content)


@dataclass
class Commit:
    oid: str
    parent: str | None
    message: str
    files: dict[str, bytes]  # every file's content, LFS files' included
    lfs: dict[str, str] = field(default_factory=dict)  # path -> sha256, for files stored in LFS

    def git_blob(self, path: str) -> str:
        return git_blob(self.files[path], path in self.lfs)


@dataclass
class Repo:
    private: bool
    commits: dict[str, Commit] = field(default_factory=dict)
    branches: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    lfs_objects: dict[str, bytes] = field(default_factory=dict)  # sha256 -> content, as uploaded

    def resolve(self, revision: str) -> Commit | None:
        oid = self.branches.get(revision) or self.tags.get(revision) or revision
        return self.commits.get(oid)


class HubState:
    """What the fake Hub holds, plus what it saw: tests inspect both."""

    def __init__(self, token: str, user: str, lfs: bool) -> None:
        self.token = token
        self.user = user
        self.lfs = lfs  # whether preupload sends .gitattributes' filter=lfs paths through LFS
        self.repos: dict[str, Repo] = {}
        self.uploaded_paths: set[str] = set()  # every path a client announced or sent
        self.unauthorized = 0  # requests refused for a missing or wrong token
        self.lock = threading.Lock()
        self.upload_grants: dict[str, tuple[str, str, int]] = {}  # grant -> repo id, sha256, size
        self._sequence = 0
        self._racing_writer: Callable[[], object] | None = None

    def commit(
        self,
        repo: Repo,
        parent: str | None,
        message: str,
        files: dict[str, bytes],
        lfs: dict[str, str] | None = None,
        branch: str = "main",
    ) -> str:
        # Like git, a commit id depends on more than its tree: each commit gets a new one.
        self._sequence += 1
        lfs = dict(lfs or {})
        tree = sorted((path, git_blob(content, path in lfs)) for path, content in files.items())
        oid = hashlib.sha1(json.dumps([self._sequence, parent, message, tree]).encode()).hexdigest()
        repo.commits[oid] = Commit(oid, parent, message, dict(files), lfs)
        repo.branches[branch] = oid
        return oid

    def race_next_commit(self, writer: Callable[[], object]) -> None:
        """Run `writer` (another client pushing) once the next commit request has arrived and
        before it is applied: two writers racing for one branch, in a fixed order."""
        self._racing_writer = writer

    def take_racing_writer(self) -> Callable[[], object] | None:
        with self.lock:
            writer, self._racing_writer = self._racing_writer, None
        return writer


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

    def do_PUT(self) -> None:
        self._dispatch()

    def log_message(self, format: str, *args: object) -> None:
        pass  # keep test output quiet

    def _dispatch(self) -> None:
        hub = self.server.hub
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        parts = [unquote(part) for part in urlsplit(self.path).path.strip("/").split("/")]
        try:
            if self.command == "PUT" and len(parts) == 2 and parts[0] == "lfs-uploads":
                # The client sends no token here: as with a presigned URL, the grant is the key.
                with hub.lock:
                    return self._store_lfs_object(hub, parts[1], body)
            if self.headers.get("Authorization") != f"Bearer {hub.token}":
                with hub.lock:
                    hub.unauthorized += 1
                raise _HttpError(401, "Invalid credentials in Authorization header")
            is_commit = (
                self.command == "POST"
                and parts[:2] == ["api", "models"]
                and parts[4:5] == ["commit"]
            )
            racing_writer = hub.take_racing_writer() if is_commit else None
            if racing_writer is not None:
                racing_writer()  # outside the lock: its own requests need it
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
            if action == ["branch"] and method == "POST":
                return self._create_branch(repo, rest[0], json.loads(body or b"{}"))
            if action == ["tag"] and method == "POST":
                return self._create_tag(repo, rest[0], json.loads(body)["tag"])
            if action == ["tag"] and method == "DELETE":
                if repo.tags.pop(rest[0], None) is None:
                    raise _HttpError(404, f"no tag {rest[0]}", "RevisionNotFound")
                return self._send(200, {})
        if parts[2:] == ["info", "lfs", "objects", "batch"] and method == "POST":
            repo_id = f"{parts[0]}/{parts[1].removesuffix('.git')}"
            return self._lfs_batch(hub, repo_id, _find_repo(hub, repo_id), json.loads(body))
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
        commit = _find_commit(repo, revision)
        listing = []
        for path, content in sorted(commit.files.items()):
            if prefix and not path.startswith(f"{prefix}/"):
                continue
            entry = {
                "type": "file",
                "path": path,
                "size": len(content),
                "oid": commit.git_blob(path),
            }
            if path in commit.lfs:
                entry["lfs"] = {
                    "oid": commit.lfs[path],
                    "size": len(content),
                    "pointerSize": len(lfs_pointer(content)),
                }
            listing.append(entry)
        self._send(200, listing)

    def _preupload(self, hub: HubState, repo: Repo, revision: str, payload: dict) -> None:
        commit = _find_commit(repo, revision)
        lfs_patterns = _lfs_patterns(commit) if hub.lfs else []
        answer = []
        for entry in payload["files"]:
            path = entry["path"]
            hub.uploaded_paths.add(path)
            # The client skips a file whose oid it matches: sha256 for LFS files, git's sha1 else.
            remote_oid = None
            if path in commit.lfs:
                remote_oid = commit.lfs[path]
            elif path in commit.files:
                remote_oid = blob_oid(commit.files[path])
            # Patterns without a slash match the file's name in any folder, as in git.
            in_lfs = any(fnmatchcase(PurePosixPath(path).name, glob) for glob in lfs_patterns)
            answer.append(
                {
                    "path": path,
                    "uploadMode": "lfs" if in_lfs else "regular",
                    "shouldIgnore": False,
                    "oid": remote_oid,
                }
            )
        self._send(200, {"files": answer})

    def _lfs_batch(self, hub: HubState, repo_id: str, repo: Repo, payload: dict) -> None:
        if payload.get("operation") != "upload":
            raise _HttpError(400, "the test hub's LFS batch endpoint only takes uploads")
        answer = []
        for entry in payload["objects"]:
            oid, size = entry["oid"], entry["size"]
            described = {"oid": oid, "size": size}
            # An object already stored gets no actions: the client then skips its upload.
            if oid not in repo.lfs_objects:
                grant = secrets.token_urlsafe(16)
                hub.upload_grants[grant] = (repo_id, oid, size)
                described["actions"] = {
                    "upload": {"href": f"{self.server.url}/lfs-uploads/{grant}"}
                }
            answer.append(described)
        # "basic": one PUT per object. No Xet: the client is told nothing that would switch to it.
        self._send(
            200,
            {"transfer": "basic", "objects": answer, "hash_algo": "sha256"},
            content_type="application/vnd.git-lfs+json",
        )

    def _store_lfs_object(self, hub: HubState, grant: str, body: bytes) -> None:
        if grant not in hub.upload_grants:
            raise _HttpError(403, "unknown or used upload URL")
        repo_id, oid, size = hub.upload_grants.pop(grant)
        if len(body) != size or hashlib.sha256(body).hexdigest() != oid:
            raise _HttpError(400, f"the upload is not object {oid} of {size} bytes")
        hub.repos[repo_id].lfs_objects[oid] = body
        self._send(200, {})

    def _create_commit(
        self, hub: HubState, repo_id: str, repo: Repo, branch: str, body: bytes
    ) -> None:
        if branch not in repo.branches:
            raise _HttpError(404, f"no branch {branch}", "RevisionNotFound")
        parent = repo.branches[branch]
        files = dict(repo.commits[parent].files)
        lfs = dict(repo.commits[parent].lfs)
        lines = [json.loads(line) for line in body.splitlines() if line.strip()]
        if not lines or lines[0]["key"] != "header":
            raise _HttpError(400, "a commit starts with its header line")
        header = lines[0]["value"]
        expected = header.get("parentCommit")
        if expected and not parent.startswith(expected):
            raise _HttpError(412, f"{branch} moved: it is at {parent}, not {expected}")
        for line in lines[1:]:
            key, value = line["key"], line["value"]
            path = value["path"]
            if key == "file":
                hub.uploaded_paths.add(path)
                files[path] = base64.b64decode(value["content"])
                lfs.pop(path, None)
            elif key == "lfsFile":
                oid = value["oid"]
                if value.get("algo") != "sha256" or oid not in repo.lfs_objects:
                    raise _HttpError(
                        400, f"{path}: LFS object {oid} was never uploaded to {repo_id}"
                    )
                hub.uploaded_paths.add(path)
                files[path], lfs[path] = repo.lfs_objects[oid], oid
            elif key == "deletedFile":
                files.pop(path, None)
                lfs.pop(path, None)
            else:
                raise _HttpError(400, f"the test hub does not take {key!r} operations")
        oid = hub.commit(repo, parent, header["summary"], files, lfs, branch)
        url = f"{self.server.url}/{repo_id}/commit/{oid}"
        self._send(
            200, {"commitOid": oid, "commitUrl": url, "success": True, "pullRequestUrl": None}
        )

    def _create_branch(self, repo: Repo, branch: str, payload: dict) -> None:
        if branch in repo.branches:
            raise _HttpError(409, f"branch {branch} already exists")
        # Like the Hub, a new branch starts at main's head unless told where.
        repo.branches[branch] = _find_commit(repo, payload.get("startingPoint") or "main").oid
        self._send(200, {})

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
        headers = {"X-Repo-Commit": commit.oid, "ETag": f'"{commit.git_blob(path)}"'}
        if path in commit.lfs:
            # The client keys LFS files by sha256 and size, which the Hub sends in these.
            headers["X-Linked-Etag"] = f'"{commit.lfs[path]}"'
            headers["X-Linked-Size"] = str(len(content))
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


def _lfs_patterns(commit: Commit) -> list[str]:
    """The patterns the commit's .gitattributes sends to LFS (`*.safetensors filter=lfs ...`)."""
    attributes = commit.files.get(".gitattributes", b"").decode()
    rules = (line.split() for line in attributes.splitlines())
    return [rule[0] for rule in rules if "filter=lfs" in rule[1:]]


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
def start_hub_server(
    token: str, user: str = "tester", lfs: bool = False
) -> Iterator[tuple[str, HubState]]:
    """Serve a fresh, empty hub on a free port; yield its URL and its state; stop it on exit.

    `lfs=True` sends `*.safetensors` through Git LFS; its clients must run with Xet off.
    """
    server = _Server(HubState(token, user, lfs))
    # A short poll keeps shutdown (which waits for the next poll) quick.
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server.url, server.hub
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
