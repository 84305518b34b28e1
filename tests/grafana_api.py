"""An HTTP server that answers the part of Grafana's HTTP API `riskstream grafana deploy` uses, and
refuses requests that do not follow Grafana's documented API (paths, methods, auth, bodies).

No Grafana server can be installed here, so this stands in for one in tests. It keeps what was
written, answers reads with what Grafana adds (ids, versions, provenance, redacted secrets), and logs
every request; `violations` lists requests Grafana would have refused.
"""
from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

NO_DATA_STATES = {"Alerting", "NoData", "OK", "KeepLast"}
EXEC_ERR_STATES = {"Alerting", "Error", "OK", "KeepLast"}
# Contact-point settings Grafana stores encrypted and never returns.
SECURE_SETTINGS = {"pagerduty": {"integrationKey"}, "slack": {"url", "token"}, "webhook": {"password"}}


@dataclass
class GrafanaState:
    token: str
    folders: dict = field(default_factory=dict)
    datasources: dict = field(default_factory=dict)
    dashboards: dict = field(default_factory=dict)
    rules: dict = field(default_factory=dict)
    contact_points: dict = field(default_factory=dict)
    policies: dict = field(default_factory=lambda: {"receiver": "grafana-default-email",
                                                    "group_by": ["grafana_folder", "alertname"]})
    requests: list = field(default_factory=list)
    violations: list = field(default_factory=list)

    @property
    def writes(self) -> list:
        return [r for r in self.requests if r[0] != "GET"]


class _Refused(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def _require(body: dict, *keys: str) -> None:
    missing = [k for k in keys if body.get(k) in (None, "", [])]
    if missing:
        raise _Refused(400, f"missing required field(s): {', '.join(missing)}")


def _check_rule(state: GrafanaState, rule: dict) -> None:
    _require(rule, "title", "condition", "data", "folderUID", "ruleGroup", "for", "noDataState", "execErrState")
    if rule["folderUID"] not in state.folders:
        raise _Refused(400, f"folder {rule['folderUID']} does not exist")
    if rule["noDataState"] not in NO_DATA_STATES or rule["execErrState"] not in EXEC_ERR_STATES:
        raise _Refused(400, "invalid noDataState or execErrState")
    if not re.fullmatch(r"\d+[smh]", str(rule["for"])):
        raise _Refused(400, f"invalid duration {rule['for']!r}")
    refs = set()
    for query in rule["data"]:
        _require(query, "refId", "datasourceUid", "model")
        if "relativeTimeRange" not in query:
            raise _Refused(400, "every query needs a relativeTimeRange")
        if query["datasourceUid"] != "__expr__" and query["datasourceUid"] not in state.datasources:
            raise _Refused(400, f"data source {query['datasourceUid']} does not exist")
        refs.add(query["refId"])
    if rule["condition"] not in refs:
        raise _Refused(400, f"condition {rule['condition']} is not a query refId")


def _receivers(route: dict) -> set[str]:
    found = {route["receiver"]} if route.get("receiver") else set()
    for child in route.get("routes", []):
        found |= _receivers(child)
    return found


class _Handler(BaseHTTPRequestHandler):
    state: GrafanaState

    def log_message(self, *args) -> None:
        pass

    def _handle(self, method: str) -> None:
        path = self.path.split("?", 1)[0]
        self.state.requests.append((method, path))
        try:
            if self.headers.get("Authorization") != f"Bearer {self.state.token}":
                raise _Refused(401, "Unauthorized")
            body = None
            if method in ("POST", "PUT"):
                if not self.headers.get("Content-Type", "").startswith("application/json"):
                    raise _Refused(415, "Content-Type must be application/json")
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"null")
                if not isinstance(body, dict):
                    raise _Refused(400, "body must be a JSON object")
            status, reply = self._route(method, path, body)
        except _Refused as refused:
            if refused.status != 404 or str(refused).startswith("no such endpoint"):
                self.state.violations.append(f"{method} {path}: {refused}")
            status, reply = refused.status, {"message": str(refused)}
        data = json.dumps(reply).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = lambda self: self._handle("GET")  # noqa: E731
    do_POST = lambda self: self._handle("POST")  # noqa: E731
    do_PUT = lambda self: self._handle("PUT")  # noqa: E731
    do_DELETE = lambda self: self._handle("DELETE")  # noqa: E731

    def _route(self, method: str, path: str, body):  # noqa: C901 - one table of documented endpoints
        s = self.state
        if m := re.fullmatch(r"/api/folders/([\w-]+)", path):
            uid = m.group(1)
            if method == "GET":
                return self._found(s.folders, uid)
            if method == "PUT":
                _require(body, "title")
                if uid not in s.folders:
                    raise _Refused(404, "folder not found")
                s.folders[uid] = {**s.folders[uid], "title": body["title"], "version": s.folders[uid]["version"] + 1}
                return 200, s.folders[uid]
        if path == "/api/folders" and method == "POST":
            _require(body, "title")
            uid = body.get("uid") or f"f{len(s.folders)}"
            if uid in s.folders:
                raise _Refused(409, "a folder with the same uid already exists")
            s.folders[uid] = {"id": len(s.folders) + 1, "uid": uid, "title": body["title"], "version": 1}
            return 200, s.folders[uid]
        if m := re.fullmatch(r"/api/datasources/uid/([\w-]+)", path):
            uid = m.group(1)
            if method == "GET":
                status, source = self._found(s.datasources, uid)
                return status, {k: v for k, v in source.items() if k != "secureJsonData"} | {
                    "secureJsonFields": {k: True for k in source.get("secureJsonData", {})}}
            if method == "PUT":
                _require(body, "name", "type", "access")
                if uid not in s.datasources:
                    raise _Refused(404, "data source not found")
                s.datasources[uid] = {**body, "uid": uid, "id": s.datasources[uid]["id"],
                                      "version": s.datasources[uid]["version"] + 1}
                return 200, {"message": "Datasource updated", "datasource": body}
        if path == "/api/datasources" and method == "POST":
            _require(body, "name", "type", "access")
            if body.get("uid") in s.datasources or any(d["name"] == body["name"] for d in s.datasources.values()):
                raise _Refused(409, "data source with the same name or uid already exists")
            s.datasources[body["uid"]] = {"url": "", "basicAuth": False, "isDefault": False, "readOnly": False,
                                          **body, "id": len(s.datasources) + 1, "orgId": 1, "version": 1}
            return 200, {"message": "Datasource added", "id": len(s.datasources), "datasource": body}
        if m := re.fullmatch(r"/api/dashboards/uid/([\w-]+)", path):
            status, stored = self._found(s.dashboards, m.group(1))
            return status, stored
        if path == "/api/dashboards/db" and method == "POST":
            _require(body, "dashboard")
            dashboard = body["dashboard"]
            _require(dashboard, "uid", "title")
            if dashboard["uid"] in s.dashboards and not body.get("overwrite"):
                raise _Refused(412, "version-mismatch")
            if body.get("folderUid") and body["folderUid"] not in s.folders:
                raise _Refused(400, "folder not found")
            version = s.dashboards.get(dashboard["uid"], {}).get("dashboard", {}).get("version", 0) + 1
            s.dashboards[dashboard["uid"]] = {"dashboard": {**dashboard, "id": 7, "version": version},
                                              "meta": {"folderUid": body.get("folderUid", ""), "canSave": True}}
            return 200, {"id": 7, "uid": dashboard["uid"], "status": "success", "version": version}
        if m := re.fullmatch(r"/api/v1/provisioning/alert-rules/([\w-]+)", path):
            uid = m.group(1)
            if method == "GET":
                return self._found(s.rules, uid)
            if method == "PUT":
                _check_rule(s, body)
                if uid not in s.rules:
                    raise _Refused(404, "rule not found")
                s.rules[uid] = {**body, "uid": uid, "id": s.rules[uid]["id"], "provenance": "api"}
                return 200, s.rules[uid]
        if path == "/api/v1/provisioning/alert-rules" and method == "POST":
            _check_rule(s, body)
            if body.get("uid") in s.rules:
                raise _Refused(409, "rule uid already exists")
            s.rules[body["uid"]] = {**body, "id": len(s.rules) + 1, "provenance": "api", "updated": "now"}
            return 201, s.rules[body["uid"]]
        if path == "/api/v1/provisioning/contact-points":
            if method == "GET":
                return 200, [self._redacted(p) for p in s.contact_points.values()]
            if method == "POST":
                _require(body, "name", "type", "settings")
                s.contact_points[body["uid"]] = {**body, "provenance": "api"}
                return 202, body
        if (m := re.fullmatch(r"/api/v1/provisioning/contact-points/([\w-]+)", path)) and method == "PUT":
            _require(body, "name", "type", "settings")
            if m.group(1) not in s.contact_points:
                raise _Refused(404, "contact point not found")
            s.contact_points[m.group(1)] = {**body, "provenance": "api"}
            return 202, {"message": "contactpoint updated"}
        if path == "/api/v1/provisioning/policies":
            if method == "GET":
                return 200, s.policies
            if method == "PUT":
                _require(body, "receiver")
                names = {p["name"] for p in s.contact_points.values()}
                unknown = _receivers(body) - names
                if unknown:
                    raise _Refused(400, f"receivers do not exist: {sorted(unknown)}")
                s.policies = {**body, "provenance": "api"}
                return 202, {"message": "policies updated"}
        raise _Refused(404 if method == "GET" else 405, f"no such endpoint: {method} {path}")

    @staticmethod
    def _found(collection: dict, uid: str):
        if uid not in collection:
            raise _Refused(404, "not found")
        return 200, collection[uid]

    @staticmethod
    def _redacted(point: dict) -> dict:
        secure = SECURE_SETTINGS.get(point["type"], set())
        return {**point, "settings": {k: "[REDACTED]" if k in secure else v for k, v in point["settings"].items()}}


class FakeGrafana:
    """`with FakeGrafana(token) as grafana:` serves on 127.0.0.1:<free port> until the block ends."""

    def __init__(self, token: str = "test-token"):
        self.state = GrafanaState(token)
        handler = type("Handler", (_Handler,), {"state": self.state})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> "FakeGrafana":
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()
