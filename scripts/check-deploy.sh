#!/usr/bin/env bash
# Checks the manifests in deploy/ as a cluster would see them (docs/deploy.md):
#   1. renders each kustomization (deploy/ and its overlays) offline;
#   2. validates every object against the Kubernetes 1.33 OpenAPI schemas, rejecting unknown
#      fields (kubernetes-validate --strict);
#   3. scans them with checkov; every accepted exception is a `checkov.io/skipN` annotation with
#      a one-line reason in the manifest itself, so any new finding fails this script.
#
# Rendering: CI has no kubectl (it is not in Debian's archive, and CI reaches only Debian and
# PyPI), so the kustomizations are rendered by the small Python renderer below, which knows only
# what deploy/ uses (`resources:` and inline JSON6902 `patches:`) and refuses anything else. When
# kubectl is on PATH, `kubectl kustomize` renders too and both renderings must be the same objects.
#
# Needs python3 with PyYAML, kubernetes-validate and checkov (.ci/run installs them).
# Usage: scripts/check-deploy.sh [OUTPUT_DIR]   (rendered files are kept there when given)
# CHECK_DEPLOY_KUBECTL=none renders without kubectl, as CI does.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)

# Run as modules of python3, so a pip install whose scripts directory is not on PATH still works.
for module in yaml:pyyaml kubernetes_validate:kubernetes-validate checkov.main:checkov; do
  if ! python3 -c "import ${module%%:*}" 2>/dev/null; then
    echo "check-deploy: python3 cannot import ${module%%:*} (python3 -m pip install ${module##*:})" >&2
    exit 1
  fi
done

out=${1:-}
if [ -z "$out" ]; then
  out=$(mktemp -d)
  trap 'rm -rf "$out"' EXIT
fi
mkdir -p "$out"

kustomizations=(deploy deploy/legacy-endpoints)
kubectl=${CHECK_DEPLOY_KUBECTL:-kubectl}  # CHECK_DEPLOY_KUBECTL=none: as in CI, without kubectl

render() {  # render DIR > FILE, with the Python renderer
  python3 - "$1" <<'PY'
import copy, pathlib, sys, yaml

def fail(message):
    sys.exit(f"check-deploy: {message}")

def pointer(path):
    if not path.startswith("/"):
        fail(f"JSON patch path {path!r} does not start with /")
    return [part.replace("~1", "/").replace("~0", "~") for part in path[1:].split("/")]

def apply(doc, op, where):
    kind, path = op.get("op"), pointer(op.get("path", ""))
    parent = doc
    for part in path[:-1]:
        parent = parent[int(part)] if isinstance(parent, list) else parent[part]
    last = path[-1]
    if isinstance(parent, list):
        index = len(parent) if last == "-" else int(last)
        if kind == "add": parent.insert(index, copy.deepcopy(op["value"]))
        elif kind == "replace": parent[index] = copy.deepcopy(op["value"])
        elif kind == "remove": del parent[index]
        else: fail(f"{where}: JSON patch op {kind!r} is not supported by this renderer")
    else:
        if kind in ("add", "replace"): parent[last] = copy.deepcopy(op["value"])
        elif kind == "remove": del parent[last]
        else: fail(f"{where}: JSON patch op {kind!r} is not supported by this renderer")

def matches(doc, target):
    group, _, version = doc.get("apiVersion", "").rpartition("/")
    wanted = {"group": group, "version": version, "kind": doc.get("kind"),
              "name": doc.get("metadata", {}).get("name"), "namespace": doc.get("metadata", {}).get("namespace")}
    return all(wanted.get(key) == value for key, value in target.items())

def render(directory):
    file = directory / "kustomization.yaml"
    spec = yaml.safe_load(file.read_text())
    unknown = set(spec) - {"apiVersion", "kind", "resources", "patches"}
    if unknown:
        fail(f"{file}: {sorted(unknown)} not supported by this renderer (use kubectl kustomize, or keep deploy/ simple)")
    docs = []
    for entry in spec.get("resources", []):
        path = directory / entry
        if path.is_dir():
            docs += render(path)
        else:
            docs += [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
    for number, patch in enumerate(spec.get("patches", []), 1):
        where = f"{file}: patches[{number}]"
        if set(patch) != {"target", "patch"}:
            fail(f"{where}: only inline JSON6902 patches with a target are supported")
        targets = [doc for doc in docs if matches(doc, patch["target"])]
        if not targets:
            fail(f"{where}: the target matches no object")
        for doc in targets:
            for op in yaml.safe_load(patch["patch"]):
                apply(doc, op, where)
    return docs

yaml.safe_dump_all(render(pathlib.Path(sys.argv[1])), sys.stdout, sort_keys=False)
PY
}

same_objects() {  # same_objects A B: the same set of objects, whatever their order
  python3 - "$1" "$2" <<'PY'
import json, sys, yaml
def objects(path):
    docs = [doc for doc in yaml.safe_load_all(open(path)) if doc]
    return sorted(json.dumps(doc, sort_keys=True) for doc in docs)
a, b = objects(sys.argv[1]), objects(sys.argv[2])
if a != b:
    only_a = set(a) - set(b)
    only_b = set(b) - set(a)
    sys.exit(f"check-deploy: {sys.argv[1]} and {sys.argv[2]} differ:\n  only in the first: {sorted(only_a)}\n  only in the second: {sorted(only_b)}")
PY
}

files=()
for dir in "${kustomizations[@]}"; do
  name=$(echo "$dir" | tr '/' '-')
  render "$dir" >"$out/$name.yaml"
  if command -v "$kubectl" >/dev/null 2>&1; then
    "$kubectl" kustomize "$dir" >"$out/$name.kubectl.yaml"
    same_objects "$out/$name.yaml" "$out/$name.kubectl.yaml"
    echo "check-deploy: $dir: rendered; kubectl kustomize renders the same objects"
  else
    echo "check-deploy: $dir: rendered (kubectl not installed: not compared with kubectl kustomize)"
  fi
  files+=("$out/$name.yaml")
done

python3 -m kubernetes_validate --kubernetes-version 1.33.0 --strict --quiet "${files[@]}"
echo "check-deploy: every object validates against the Kubernetes 1.33 schemas (strict)"

python3 -m checkov.main --framework kubernetes --compact --quiet --skip-download $(printf -- '-f %s ' "${files[@]}")
echo "check-deploy: checkov found nothing that is not skipped with a reason in the manifests"
echo "check-deploy: passed in $(($(date +%s) - start)) s"
