"""Push the rendered provisioning to a Grafana server through its HTTP API (grafana-client).

For teams that cannot mount provisioning files. Every resource is read first and written only when it
differs, so a second deploy writes nothing; `dry_run` prints the diff of what would change. The files
are the source of truth: `${VAR}` references in them are filled from this process's environment, as
Grafana fills them from its own when it loads the files.
"""
from __future__ import annotations

import difflib
import json
import os
import re
from dataclasses import dataclass
from typing import Callable

import yaml
from grafana_client import GrafanaApi
from grafana_client.client import GrafanaClientError, GrafanaException
from niquests.exceptions import RequestException

from dashboards import alerts, provisioning, render
from riskstream.core.errors import ConfigError, RiskstreamError

ALERT_FOLDER_UID = "riskstream-alerts"
_ENV_REFERENCE = re.compile(r"\$\{([A-Z0-9_]+)\}")
@dataclass(frozen=True)
class Change:
    kind: str
    name: str
    action: str  # create | update | unchanged
    diff: str
    apply: Callable[[], object]


def expand_env(document, environ=os.environ):
    """The document with every `${VAR}` filled in; a variable that is not set is an error naming it."""
    text = json.dumps(document)
    missing = sorted({name for name in _ENV_REFERENCE.findall(text) if name not in environ})
    if missing:
        raise ConfigError(f"set {', '.join(missing)}: the provisioning files refer to them")
    return json.loads(_ENV_REFERENCE.sub(lambda m: json.dumps(environ[m.group(1)])[1:-1], text))


def _managed(current, desired):
    """The part of a stored resource that a deploy manages: the top-level fields it sends. Grafana adds
    others (ids, versions, provenance, timestamps), which must not count as differences."""
    if isinstance(current, dict) and isinstance(desired, dict):
        return {k: current.get(k) for k in desired}
    return current


def _masked(resource, masks: dict[str, str]):
    if isinstance(resource, dict):
        return {k: _masked(v, masks) for k, v in resource.items()}
    if isinstance(resource, list):
        return [_masked(v, masks) for v in resource]
    return masks.get(resource, resource) if isinstance(resource, str) else resource


def _redacted_equal(current, desired) -> bool:
    """Equal, where Grafana's "[REDACTED]" (secure settings it will not return) matches any value."""
    if current == "[REDACTED]":
        return True
    if isinstance(current, dict) and isinstance(desired, dict):
        return current.keys() == desired.keys() and all(_redacted_equal(current[k], desired[k]) for k in current)
    if isinstance(current, list) and isinstance(desired, list):
        return len(current) == len(desired) and all(_redacted_equal(c, d) for c, d in zip(current, desired))
    return current == desired


def _get(call: Callable[[], object]):
    """The resource, or None when Grafana says it does not exist."""
    try:
        return call()
    except GrafanaClientError as exc:
        if exc.status_code == 404:
            return None
        raise


class Deployer:
    """Plans and applies the changes that make a Grafana match the rendered provisioning files."""

    def __init__(self, api: GrafanaApi, env: provisioning.Environment = provisioning.Environment(),
                 environ=os.environ):
        self.api = api
        self.env = env
        self.files = render.files(env)
        self.environ = environ
        self.dashboard_folder = f"riskstream-{env.name}"  # the file provider's folder, by uid

        # Values filled from the environment (addresses, keys) are shown by name in diffs, never by value.
        referenced = set(_ENV_REFERENCE.findall("".join(self.files.values())))
        self.masks = {environ[name]: f"${{{name}}}" for name in referenced if environ.get(name)}

    def _yaml(self, relative: str) -> dict:
        return expand_env(yaml.safe_load(self.files[relative]), self.environ)

    def _diff(self, name: str, current, desired) -> str:
        def lines(resource):
            return json.dumps(_masked(resource, self.masks), indent=2, sort_keys=True).splitlines()
        return "\n".join(difflib.unified_diff(lines(_managed(current, desired)) if current is not None else [],
                                               lines(desired),
                                               f"grafana/{name}", f"repository/{name}", lineterm=""))

    def _change(self, kind: str, name: str, current, desired, create, update, compare=None) -> Change:
        compare = compare or (lambda c, d: _redacted_equal(_managed(c, d), d))
        if current is None:
            return Change(kind, name, "create", self._diff(name, None, desired), create)
        if compare(current, desired):
            return Change(kind, name, "unchanged", "", lambda: None)
        return Change(kind, name, "update", self._diff(name, current, desired), update)

    def plan(self) -> list[Change]:
        changes = [self._folder(self.dashboard_folder, provisioning.folder_title(self.env)),
                   self._folder(ALERT_FOLDER_UID, alerts.FOLDER)]
        changes += [self._datasource(ds) for ds in self._yaml("datasources/riskstream.yaml")["datasources"]]
        changes += [self._dashboard(json.loads(content)) for relative, content in sorted(self.files.items())
                    if relative.endswith(".json")]
        for group in self._yaml("alerting/riskstream-rules.yaml")["groups"]:
            changes += [self._rule(rule, group) for rule in group["rules"]]
        changes += [self._contact_point(point) for point in
                    self._yaml("alerting/riskstream-contact-points.yaml")["contactPoints"]]
        changes.append(self._policies(self._yaml("alerting/riskstream-policies.yaml")["policies"][0]))
        return changes

    def _folder(self, uid: str, title: str) -> Change:
        folders = self.api.folder
        current = _get(lambda: folders.get_folder(uid))
        return self._change("folder", uid, current and {"uid": current["uid"], "title": current["title"]},
                            {"uid": uid, "title": title},
                            lambda: folders.create_folder(title, uid=uid),
                            lambda: folders.update_folder(uid, title=title, overwrite=True))

    def _datasource(self, source: dict) -> Change:
        desired = {k: v for k, v in source.items() if k != "editable"}
        # The password is write-only in Grafana: it is sent on create and update, never compared.
        public = {k: v for k, v in desired.items() if k != "secureJsonData"}
        datasources = self.api.datasource
        current = _get(lambda: datasources.get_datasource_by_uid(source["uid"]))
        return self._change("datasource", source["uid"], current, desired,
                            lambda: datasources.create_datasource(desired),
                            lambda: datasources.update_datasource_by_uid(source["uid"], desired),
                            compare=lambda stored, _: _redacted_equal(_managed(stored, public), public))

    def _dashboard(self, model: dict) -> Change:
        dashboards = self.api.dashboard
        stored = _get(lambda: dashboards.get_dashboard(model["uid"]))
        current = stored and {"dashboard": _managed(stored["dashboard"], model),
                              "folderUid": stored["meta"].get("folderUid")}
        desired = {"dashboard": model, "folderUid": self.dashboard_folder}
        write = lambda: dashboards.update_dashboard({**desired, "overwrite": True,  # noqa: E731
                                                    "message": "riskstream grafana deploy"})
        return self._change("dashboard", model["uid"], current, desired, write, write)

    def _rule(self, rule: dict, group: dict) -> Change:
        desired = {**rule, "folderUID": ALERT_FOLDER_UID, "ruleGroup": group["name"], "orgID": group["orgId"]}
        provisioning = self.api.alertingprovisioning
        current = _get(lambda: provisioning.get_alertrule(rule["uid"]))
        return self._change("alert rule", rule["uid"], current, desired,
                            lambda: provisioning.create_alertrule(desired),
                            lambda: provisioning.update_alertrule(rule["uid"], desired))

    def _contact_point(self, point: dict) -> Change:
        [receiver] = point["receivers"]
        desired = {"uid": receiver["uid"], "name": point["name"], "type": receiver["type"],
                   "settings": receiver["settings"], "disableResolveMessage": receiver["disableResolveMessage"]}
        provisioning = self.api.alertingprovisioning
        current = next((p for p in provisioning.get_contactpoints() if p.get("uid") == desired["uid"]), None)
        return self._change("contact point", desired["uid"], current, desired,
                            lambda: provisioning.create_contactpoint(desired),
                            lambda: provisioning.update_contactpoint(desired["uid"], desired))

    def _policies(self, tree: dict) -> Change:
        desired = {k: v for k, v in tree.items() if k != "orgId"}
        provisioning = self.api.alertingprovisioning
        current = _get(provisioning.get_notification_policy_tree)
        update = lambda: provisioning.set_notification_policy_tree(desired)  # noqa: E731
        return self._change("notification policy", "root", current, desired, update, update)


def deploy(api: GrafanaApi, dry_run: bool, out=print, environ=os.environ,
           env: provisioning.Environment = provisioning.Environment()) -> list[Change]:
    """Plan, print, and (unless `dry_run`) apply; returns the plan."""
    changes = Deployer(api, env, environ).plan()
    for change in changes:
        out(f"{change.action:<9} {change.kind} {change.name}")
        if change.diff and dry_run:
            out(change.diff)
    if not dry_run:
        for change in changes:
            change.apply()
    pending = sum(c.action != "unchanged" for c in changes)
    out(f"{pending} change(s) {'would be made (dry run)' if dry_run else 'made'}, "
        f"{len(changes) - pending} unchanged")
    return changes


def deploy_to(url: str, token: str | None, dry_run: bool) -> list[Change]:
    """`riskstream grafana deploy`: the Grafana at `url` (token, or user:password in the URL)."""
    try:
        return deploy(GrafanaApi.from_url(url, credential=token, timeout=10), dry_run=dry_run)
    except (GrafanaException, RequestException) as exc:  # refused, or unreachable
        raise RiskstreamError(f"Grafana at {url}: {exc}") from exc
