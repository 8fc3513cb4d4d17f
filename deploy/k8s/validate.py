"""Offline validation of the minimall chart: render, lint strictly, validate against Kubernetes.

``python deploy/k8s/validate.py --out DIR`` renders the chart with the default values and with
each values file in ``VALUES_FILES`` (through ``helm-python-sdk``: Helm's Go SDK as a shared
library, no helm binary), lints it with ``--strict`` for Kubernetes 1.30, validates every
rendered object with ``kubernetes-validate --strict`` against the 1.30 schemas, and writes one
YAML file per values file into ``DIR`` for checkov. Exit status 1 on any finding.

``tests/test_helm_chart.py`` imports ``render`` from here to assert the policy.
"""

import argparse
import sys
from pathlib import Path
from typing import Any

import helm_python as helm
import kubernetes_validate  # type: ignore[import-untyped]
import yaml
from kubernetes_validate.utils import SchemaNotFoundError  # type: ignore[import-untyped]

HERE = Path(__file__).resolve().parent
CHART = HERE / "minimall"
KUBE_VERSION = "1.30.0"
RELEASE, NAMESPACE = "minimall", "minimall"
# Values files rendered besides the defaults; "all-options" turns every option on.
VALUES_FILES = {
    "production": HERE / "values-production.yaml",
    "all-options": HERE / "values-all-options.yaml",
}
# Custom resources kubernetes-validate has no schema for (KEDA, Prometheus Operator).
CRD_KINDS = {
    ("keda.sh/v1alpha1", "ScaledObject"),
    ("monitoring.coreos.com/v1", "PodMonitor"),
    ("monitoring.coreos.com/v1", "PrometheusRule"),
}

Manifest = dict[str, Any]


def load_values(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    loaded = yaml.safe_load(path.read_text())
    return loaded if isinstance(loaded, dict) else {}


def render(values: dict[str, Any] | None = None) -> list[Manifest]:
    """Every object the chart renders for ``values`` (hooks included), in template order."""
    with helm.Chart.load(CHART) as chart:
        rendered = chart.render(
            values or {}, name=RELEASE, namespace=NAMESPACE, is_install=True, revision=1
        )
    objects: list[Manifest] = []
    for template in sorted(rendered):
        if not template.endswith((".yaml", ".yml")):
            continue  # NOTES.txt
        objects.extend(doc for doc in yaml.safe_load_all(rendered[template]) if doc)
    return objects


def lint(values: dict[str, Any]) -> list[str]:
    report = helm.lint(CHART, values, strict=True, kube_version=f"v{KUBE_VERSION}")
    findings = [
        f"{m.get('path', '')}: {m.get('error', '')}"
        for m in report.get("messages", [])
        if int(m.get("severity", 0)) >= 2  # warnings and errors (strict)
    ]
    return findings + [str(e) for e in report.get("errors") or []]


def validate(objects: list[Manifest]) -> list[str]:
    problems = []
    for obj in objects:
        where = f"{obj.get('kind')}/{obj.get('metadata', {}).get('name')}"
        try:
            kubernetes_validate.validate(obj, KUBE_VERSION, strict=True)
        except SchemaNotFoundError:
            if (obj.get("apiVersion"), obj.get("kind")) not in CRD_KINDS:
                problems.append(f"{where}: no Kubernetes {KUBE_VERSION} schema")
        except kubernetes_validate.ValidationError as exc:
            path = ".".join(str(p) for p in exc.path)
            problems.append(f"{where}: {path}: {exc.message}")
    return problems


def check(name: str, values_file: Path | None, out: Path | None) -> list[str]:
    values = load_values(values_file)
    problems = [f"lint: {f}" for f in lint(values)]
    objects = render(values)
    problems += validate(objects)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / f"{name}.yaml").write_text(yaml.safe_dump_all(objects, sort_keys=False))
    print(f"{name}: {len(objects)} objects, {len(problems)} problems")
    return [f"{name}: {p}" for p in problems]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, help="write the rendered YAML here (for checkov)")
    args = parser.parse_args()
    problems = check("default", None, args.out)
    for name, path in VALUES_FILES.items():
        problems += check(name, path, args.out)
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
