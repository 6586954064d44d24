#!/usr/bin/env python3
"""Checks that every deployable binary of the workspace is deployed everywhere.

Run by scripts/check-deploy.sh after it has rendered the manifests:

    check_deploy.py --root . --base rendered-base.yaml --compose resolved-compose.yaml

The deployables are the directories crates/*-svc plus gateway/. Each must have, in the
rendered Kustomize base, a Deployment (probes, limits, non-root, read-only root filesystem,
a grace period longer than its drain), a Service, an autoscaling/v2 HorizontalPodAutoscaler
(CPU and memory) and a PodDisruptionBudget that select its pods; each *-svc must be reachable
from the gateway (NetworkPolicy and <NAME>_SVC_URL); each must be a service of
docker-compose.yml built from its deploy/Dockerfile target, and that target must exist.
Also: every workspace member is in the Docker build context (.dockerignore).
Prints one line per problem and exits 1 when there is any.
"""

from __future__ import annotations

import argparse
import re
import sys
import tomllib
from pathlib import Path

import yaml

PRESTOP_DEFAULT = 0
DEFAULT_SHUTDOWN_SECS = 25
# Services of docker-compose.yml that may publish ports: the API, and the mail catcher's UI.
MAY_PUBLISH = {"gateway", "mailpit"}


def deployables(root: Path) -> list[str]:
    """Package names of crates/*-svc and gateway, from their Cargo.toml."""
    dirs = sorted(p for p in (root / "crates").glob("*-svc") if (p / "Cargo.toml").is_file())
    if (root / "gateway" / "Cargo.toml").is_file():
        dirs.append(root / "gateway")
    names = []
    for d in dirs:
        with open(d / "Cargo.toml", "rb") as f:
            names.append(tomllib.load(f)["package"]["name"])
    return names


def url_setting(name: str) -> str:
    """auth-svc -> AUTH_SVC_URL (the gateway's setting for that service)."""
    return name.upper().replace("-", "_") + "_URL"


def matches(selector: dict | None, labels: dict) -> bool:
    """Whether a matchLabels-style selector (matchExpressions unsupported) selects labels."""
    if not selector:
        return False
    wanted = selector.get("matchLabels", selector)
    if "matchExpressions" in selector:
        return False
    return bool(wanted) and all(labels.get(k) == v for k, v in wanted.items())


class Checker:
    def __init__(self) -> None:
        self.problems: list[str] = []

    def need(self, ok: bool, message: str) -> bool:
        if not ok:
            self.problems.append(message)
        return ok

    # ----- Kubernetes ---------------------------------------------------------------------

    def kubernetes(self, names: list[str], docs: list[dict]) -> None:
        by_kind: dict[str, dict[str, dict]] = {}
        for doc in docs:
            by_kind.setdefault(doc["kind"], {})[doc["metadata"]["name"]] = doc
        deployments = by_kind.get("Deployment", {})
        services = by_kind.get("Service", {})
        hpas = by_kind.get("HorizontalPodAutoscaler", {})
        pdbs = by_kind.get("PodDisruptionBudget", {})
        policies = list(by_kind.get("NetworkPolicy", {}).values())
        configmaps = list(by_kind.get("ConfigMap", {}).values())
        config = {}
        for cm in configmaps:
            if cm["metadata"]["name"].startswith("coglex-config"):
                config.update(cm.get("data", {}))
        self.need(bool(config), "k8s base: no ConfigMap coglex-config")

        gateway_labels = None
        if "gateway" in deployments:
            gateway_labels = deployments["gateway"]["spec"]["template"]["metadata"]["labels"]

        for name in names:
            where = f"k8s base: {name}"
            dep = deployments.get(name)
            labels, port = {}, None
            if self.need(dep is not None, f"{where}: no Deployment named {name}"):
                pod = dep["spec"]["template"]
                labels = pod["metadata"].get("labels", {})
                self.need(matches(dep["spec"].get("selector"), labels),
                          f"{where}: the Deployment's selector does not match its pod labels")
                port = self.deployment(where, name, pod, config)
            # Without a Deployment, the rest is only checked for existence.
            found = dep is not None

            svc = services.get(name)
            if self.need(svc is not None, f"{where}: no Service named {name}") and found:
                self.need(matches(svc["spec"].get("selector"), labels),
                          f"{where}: the Service does not select the Deployment's pods")
                targets = {p.get("targetPort") for p in svc["spec"].get("ports", [])}
                ports = {p.get("port") for p in svc["spec"].get("ports", [])}
                self.need(bool(targets & {port, "http"}),
                          f"{where}: the Service does not target container port {port}")
                if name != "gateway" and port is not None:
                    self.need(port in ports, f"{where}: the Service does not expose port {port}")

            hpa = hpas.get(name)
            if self.need(hpa is not None, f"{where}: no HorizontalPodAutoscaler named {name}") and found:
                self.need(hpa["apiVersion"] == "autoscaling/v2",
                          f"{where}: the HorizontalPodAutoscaler is not autoscaling/v2")
                ref = hpa["spec"].get("scaleTargetRef", {})
                self.need(ref.get("kind") == "Deployment" and ref.get("name") == name,
                          f"{where}: the HorizontalPodAutoscaler does not scale Deployment {name}")
                resources = {m.get("resource", {}).get("name")
                             for m in hpa["spec"].get("metrics", []) if m.get("type") == "Resource"}
                self.need({"cpu", "memory"} <= resources,
                          f"{where}: the HorizontalPodAutoscaler must scale on cpu and memory")
                lo, hi = hpa["spec"].get("minReplicas", 1), hpa["spec"].get("maxReplicas", 0)
                self.need(1 <= lo <= hi, f"{where}: HPA replicas must satisfy 1 <= min <= max")
                self.need("replicas" not in dep["spec"],
                          f"{where}: the Deployment sets `replicas`, which fights the HPA")

            pdb = pdbs.get(name)
            if self.need(pdb is not None, f"{where}: no PodDisruptionBudget named {name}") and found:
                self.need(matches(pdb["spec"].get("selector"), labels),
                          f"{where}: the PodDisruptionBudget does not select the Deployment's pods")

            if name != "gateway" and port is not None:
                setting = url_setting(name)
                self.need(config.get(setting) == f"http://{name}:{port}",
                          f"{where}: coglex-config must set {setting}=http://{name}:{port}")
                self.need(self.reachable_from_gateway(policies, labels, gateway_labels, port),
                          f"{where}: no NetworkPolicy lets the gateway reach port {port} "
                          "(ingress on the service and egress from the gateway)")

    def deployment(self, where: str, name: str, pod: dict, config: dict) -> int | None:
        spec = pod["spec"]
        containers = spec.get("containers", [])
        if not self.need(len(containers) >= 1, f"{where}: the Deployment has no container"):
            return None
        c = containers[0]
        image = c.get("image", "")
        repo = image.rsplit(":", 1)[0] if ":" in image.rsplit("/", 1)[-1] else image
        self.need(repo.endswith(f"coglex/{name}"),
                  f"{where}: image {image!r} is not coglex/{name} (the Dockerfile target {name})")
        ports = [p.get("containerPort") for p in c.get("ports", [])]
        port = ports[0] if ports else None
        self.need(port is not None, f"{where}: the container declares no port")
        env = {e["name"]: e.get("value") for e in c.get("env", [])}
        self.need(env.get("SERVER_PORT") == str(port),
                  f"{where}: SERVER_PORT must be set to the container port {port}")

        paths = {}
        for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
            paths[probe] = (c.get(probe) or {}).get("httpGet", {}).get("path")
        self.need(paths["livenessProbe"] == "/health", f"{where}: livenessProbe must GET /health")
        wanted_ready = {"/health", "/ready"} if name == "gateway" else {"/ready"}
        self.need(paths["readinessProbe"] in wanted_ready,
                  f"{where}: readinessProbe must GET {' or '.join(sorted(wanted_ready))}")

        res = c.get("resources", {})
        for kind in ("requests", "limits"):
            self.need({"cpu", "memory"} <= set(res.get(kind, {})),
                      f"{where}: resources.{kind} must set cpu and memory")

        psc, csc = spec.get("securityContext", {}), c.get("securityContext", {})
        self.need(csc.get("runAsNonRoot", psc.get("runAsNonRoot")) is True,
                  f"{where}: runAsNonRoot must be true")
        self.need(csc.get("readOnlyRootFilesystem") is True,
                  f"{where}: readOnlyRootFilesystem must be true")
        self.need(csc.get("allowPrivilegeEscalation") is False,
                  f"{where}: allowPrivilegeEscalation must be false")

        shutdown = int(env.get("SHUTDOWN_TIMEOUT_SECS")
                       or config.get("SHUTDOWN_TIMEOUT_SECS") or DEFAULT_SHUTDOWN_SECS)
        prestop = ((c.get("lifecycle") or {}).get("preStop") or {}).get("sleep", {}).get(
            "seconds", PRESTOP_DEFAULT)
        grace = spec.get("terminationGracePeriodSeconds", 30)
        self.need(grace > shutdown + prestop,
                  f"{where}: terminationGracePeriodSeconds ({grace}) must exceed the preStop sleep "
                  f"({prestop}) plus SHUTDOWN_TIMEOUT_SECS ({shutdown})")
        return port

    @staticmethod
    def reachable_from_gateway(policies: list[dict], labels: dict, gateway: dict | None,
                               port: int) -> bool:
        if gateway is None:
            return False

        def allows(rules: list[dict], peer_labels: dict, key: str) -> bool:
            for rule in rules:
                peers = rule.get(key, [])
                ports = [p.get("port") for p in rule.get("ports", [])]
                if any("namespaceSelector" not in p and matches(p.get("podSelector"), peer_labels)
                       for p in peers) and (not ports or port in ports):
                    return True
            return False

        ingress = any(matches(p["spec"].get("podSelector"), labels)
                      and allows(p["spec"].get("ingress", []), gateway, "from") for p in policies)
        egress = any(matches(p["spec"].get("podSelector"), gateway)
                     and allows(p["spec"].get("egress", []), labels, "to") for p in policies)
        return ingress and egress

    # ----- docker-compose.yml ---------------------------------------------------------------

    def compose(self, names: list[str], compose: dict) -> None:
        services = compose.get("services", {})
        gateway_env = (services.get("gateway") or {}).get("environment") or {}
        if isinstance(gateway_env, list):
            gateway_env = dict(item.split("=", 1) for item in gateway_env)
        for name in names:
            where = f"docker-compose.yml: {name}"
            svc = services.get(name)
            if not self.need(svc is not None, f"{where}: no service named {name}"):
                continue
            build = svc.get("build") or {}
            self.need(isinstance(build, dict) and build.get("target") == name
                      and str(build.get("dockerfile", "")).endswith("deploy/Dockerfile"),
                      f"{where}: must build deploy/Dockerfile with target {name}")
            self.need(bool(svc.get("healthcheck")), f"{where}: no healthcheck")
            self.need(bool(svc.get("restart")), f"{where}: no restart policy")
            env = svc.get("environment") or {}
            if isinstance(env, list):
                env = dict(item.split("=", 1) for item in env)
            self.need(env.get("SERVER_HOST") == "0.0.0.0",
                      f"{where}: environment must set SERVER_HOST=0.0.0.0")
            if name != "gateway":
                port = env.get("SERVER_PORT")
                self.need(gateway_env.get(url_setting(name)) == f"http://{name}:{port}",
                          f"{where}: the gateway's environment must set "
                          f"{url_setting(name)}=http://{name}:{port}")
                depends = svc.get("depends_on") or {}
                self.need("mongo" in depends, f"{where}: must depend on mongo")
                gateway_depends = (services.get("gateway") or {}).get("depends_on") or {}
                self.need(name in gateway_depends, f"{where}: the gateway must depend on it")
        for name, svc in services.items():
            self.need(not svc.get("ports") or name in MAY_PUBLISH,
                      f"docker-compose.yml: {name} publishes a port; only the gateway may")

    # ----- deploy/Dockerfile ------------------------------------------------------------------

    def dockerfile(self, names: list[str], root: Path) -> None:
        text = (root / "deploy" / "Dockerfile").read_text()
        for name in names:
            where = f"deploy/Dockerfile: {name}"
            self.need(re.search(rf"^FROM\s+runtime\s+AS\s+{re.escape(name)}\s*$", text, re.M | re.I)
                      is not None, f"{where}: no stage `FROM runtime AS {name}`")
            self.need(f"/out/{name} /usr/local/bin/{name}" in text,
                      f"{where}: the stage does not copy /out/{name}")
            self.need(f'ENTRYPOINT ["/usr/local/bin/{name}"]' in text,
                      f"{where}: no ENTRYPOINT for {name}")
            loop = re.search(r"for bin in ([^;]+);", text)
            self.need(loop is not None and name in loop.group(1).split(),
                      f"{where}: the builder stage does not copy {name} to /out")
        with open(root / "Cargo.toml", "rb") as f:
            workspace = tomllib.load(f).get("workspace", {})
        msrv = workspace.get("package", {}).get("rust-version")
        # .dockerignore is an allow-list: every workspace member must be in the build context.
        ignore = (root / ".dockerignore").read_text().splitlines()
        allowed = {line[1:].strip().rstrip("/") for line in ignore if line.startswith("!")}
        for needed in ("Cargo.toml", "Cargo.lock", "deploy/healthcheck.rs"):
            self.need(needed in allowed, f".dockerignore: {needed} must be allowed (!{needed})")
        for member in workspace.get("members", []):
            self.need(any(member == a or member.startswith(a + "/") for a in allowed),
                      f".dockerignore: workspace member {member} is not in the build context")
        arg = re.search(r"^ARG RUST_VERSION=(\S+)", text, re.M)
        if self.need(arg is not None, "deploy/Dockerfile: no `ARG RUST_VERSION=`") and msrv:
            have = tuple(int(x) for x in arg.group(1).split("."))
            want = tuple(int(x) for x in msrv.split("."))
            self.need(have[: len(want)] >= want[: len(have)],
                      f"deploy/Dockerfile: RUST_VERSION {arg.group(1)} is below rust-version {msrv}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path("."))
    parser.add_argument("--base", type=Path, required=True, help="rendered k8s/base")
    parser.add_argument("--compose", type=Path, required=True, help="resolved docker-compose.yml")
    args = parser.parse_args()

    names = deployables(args.root)
    checker = Checker()
    if not checker.need(bool(names), "no deployables found (crates/*-svc, gateway)"):
        names = []
    docs = [d for d in yaml.safe_load_all(args.base.read_text()) if d]
    checker.kubernetes(names, docs)
    checker.compose(names, yaml.safe_load(args.compose.read_text()) or {})
    checker.dockerfile(names, args.root)

    for problem in checker.problems:
        print(f"  - {problem}")
    if checker.problems:
        print(f"coverage: {len(checker.problems)} problem(s) for {len(names)} deployables")
        return 1
    print(f"coverage: {', '.join(names)}: Deployment, Service, HPA, PDB, compose service, "
          "Dockerfile target")
    return 0


if __name__ == "__main__":
    sys.exit(main())
