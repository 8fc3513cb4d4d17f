"""The Helm chart's policy, asserted on what it renders (offline: no helm binary, no cluster).

Rendering goes through ``deploy/k8s/validate.py`` (helm-python-sdk), the same code
``make k8s-validate`` runs before checkov.
"""

import importlib.util
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
SERVICES = ("catalog", "order", "member", "marketing", "payment")
HTTP_COMPONENTS = ("gateway", *SERVICES)
Manifest = dict[str, Any]


def _load_chart_tools() -> ModuleType:
    spec = importlib.util.spec_from_file_location("k8s_validate", ROOT / "deploy/k8s/validate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


chart = _load_chart_tools()
VALUE_SETS = ("default", *chart.VALUES_FILES)


@cache
def values_of(name: str) -> dict[str, Any]:
    path = chart.VALUES_FILES.get(name)
    loaded: dict[str, Any] = chart.load_values(path)
    return loaded


@cache
def rendered(name: str) -> tuple[Manifest, ...]:
    return tuple(chart.render(values_of(name)))


def of_kind(objects: tuple[Manifest, ...], kind: str) -> list[Manifest]:
    return [o for o in objects if o["kind"] == kind]


def named(objects: tuple[Manifest, ...], kind: str, name: str) -> Manifest:
    matches = [o for o in of_kind(objects, kind) if o["metadata"]["name"] == name]
    assert len(matches) == 1, f"{kind}/{name}: {len(matches)} found"
    return matches[0]


def pod_specs(objects: tuple[Manifest, ...]) -> Iterator[tuple[str, Manifest]]:
    for obj in objects:
        spec = obj.get("spec", {})
        if obj["kind"] == "CronJob":
            spec = spec["jobTemplate"]["spec"]
        if "template" in spec:
            yield f"{obj['kind']}/{obj['metadata']['name']}", spec["template"]["spec"]


def selects(selector: Manifest, labels: dict[str, str]) -> bool:
    """Whether a LabelSelector matches ``labels`` (matchLabels, In, NotIn)."""
    for key, value in selector.get("matchLabels", {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions", []):
        present = labels.get(expr["key"])
        if expr["operator"] == "In" and present not in expr["values"]:
            return False
        if expr["operator"] == "NotIn" and present in expr["values"]:
            return False
    return True


# --- validity -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", VALUE_SETS)
def test_chart_lints_strictly_and_validates_against_kubernetes_1_30(name: str) -> None:
    assert chart.lint(values_of(name)) == []
    assert chart.validate(list(rendered(name))) == []


def test_validation_catches_an_invalid_object() -> None:
    deployment = dict(of_kind(rendered("default"), "Deployment")[0])
    deployment["spec"] = {**deployment["spec"], "replicas": "two", "surprise": True}
    problems = chart.validate([deployment])
    assert len(problems) == 1 and "Deployment/" in problems[0]
    assert chart.validate([{"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {}}])


def test_latest_image_tag_is_refused() -> None:
    with pytest.raises(Exception, match="latest"):
        chart.render({"image": {"tag": "latest"}})


# --- workloads ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", VALUE_SETS)
def test_every_deployment_has_probes_resources_and_runs_locked_down(name: str) -> None:
    deployments = of_kind(rendered(name), "Deployment")
    assert len(deployments) == 1 + 3 * len(SERVICES) + 1  # + order's flash-sale consumer
    for deployment in deployments:
        where = deployment["metadata"]["name"]
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, where
        assert pod["automountServiceAccountToken"] is False, where
        assert pod["topologySpreadConstraints"], where
        for container in pod["containers"]:
            for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
                assert container.get(probe), f"{where}: no {probe}"
            for bound in ("requests", "limits"):
                assert set(container["resources"][bound]) >= {"cpu", "memory"}, where
            security = container["securityContext"]
            assert security["runAsNonRoot"] is True, where
            assert security["readOnlyRootFilesystem"] is True, where
            assert security["allowPrivilegeEscalation"] is False, where
            assert security["capabilities"]["drop"] == ["ALL"], where


@pytest.mark.parametrize("name", VALUE_SETS)
def test_http_pods_probe_health_endpoints_and_drain_on_shutdown(name: str) -> None:
    objects = rendered(name)
    for component in HTTP_COMPONENTS:
        pod = named(objects, "Deployment", f"minimall-{component}")["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
        assert container["lifecycle"]["preStop"]["exec"]["command"][0] == "sleep"
        if component == "gateway":  # granian: its hot path
            assert container["command"][0] == "granian"
            assert container["command"][-1] == "gateway.main:create_app"
            assert "--workers-kill-timeout" in container["command"]
        else:
            assert container["command"][:2] == ["uvicorn", f"{component}.main:create_app"]
            assert "--timeout-graceful-shutdown" in container["command"]
        config = named(objects, "ConfigMap", f"minimall-{component}-env")["data"]
        assert float(config[f"{component.upper()}_SHUTDOWN_DRAIN_S"]) > 0
        assert config[f"{component.upper()}_HTTP_HOST"] == "0.0.0.0"


@pytest.mark.parametrize("name", VALUE_SETS)
def test_no_image_is_latest_or_untagged(name: str) -> None:
    for where, pod in pod_specs(rendered(name)):
        for container in pod["containers"]:
            image: str = container["image"]
            assert not image.endswith(":latest"), where
            assert "@sha256:" in image or ":" in image.rsplit("/", 1)[-1], f"{where}: {image}"


@pytest.mark.parametrize("name", VALUE_SETS)
def test_consumers_and_relays_are_deployments_of_their_own(name: str) -> None:
    objects = rendered(name)
    for service in SERVICES:
        consumer = named(objects, "Deployment", f"minimall-{service}-consumer")
        relay = named(objects, "Deployment", f"minimall-{service}-relay")
        http = named(objects, "Deployment", f"minimall-{service}")
        assert consumer["spec"]["template"]["spec"]["containers"][0]["command"] == [
            "python",
            "-m",
            f"{service}.consumer",
        ]
        assert relay["spec"]["template"]["spec"]["containers"][0]["command"] == [
            "python",
            "-m",
            "shared.relay",
            service,
        ]
        selectors = [d["spec"]["selector"]["matchLabels"] for d in (http, consumer, relay)]
        assert len({tuple(sorted(s.items())) for s in selectors}) == 3
        worker_env = named(objects, "ConfigMap", f"minimall-{service}-env")["data"]
        assert worker_env[f"{service.upper()}_WORKER_METRICS_PORT"] == "9100"


@pytest.mark.parametrize("name", VALUE_SETS)
def test_every_deployment_has_a_disruption_budget_and_http_ones_a_service(name: str) -> None:
    objects = rendered(name)
    pdbs = of_kind(objects, "PodDisruptionBudget")
    budgets = [p["spec"]["selector"]["matchLabels"] for p in pdbs]
    for deployment in of_kind(objects, "Deployment"):
        assert deployment["spec"]["selector"]["matchLabels"] in budgets
    for component in HTTP_COMPONENTS:
        service = named(objects, "Service", f"minimall-{component}")
        pod = named(objects, "Deployment", f"minimall-{component}")["spec"]["template"]
        assert selects({"matchLabels": service["spec"]["selector"]}, pod["metadata"]["labels"])
        named(objects, "ServiceAccount", f"minimall-{component}")


@pytest.mark.parametrize("name", VALUE_SETS)
def test_autoscalers_keep_two_pods_of_gateway_order_and_payment(name: str) -> None:
    objects = rendered(name)
    for component in ("gateway", "order", "payment"):
        hpa = named(objects, "HorizontalPodAutoscaler", f"minimall-{component}")
        assert hpa["spec"]["scaleTargetRef"]["name"] == f"minimall-{component}"
        assert hpa["spec"]["minReplicas"] >= 2
        # The HPA owns the replica count: the Deployment must not fight it on upgrade.
        assert "replicas" not in named(objects, "Deployment", f"minimall-{component}")["spec"]


def test_autoscaler_floor_below_two_is_visible_to_the_policy() -> None:
    objects = tuple(chart.render({"services": {"order": {"http": {"hpa": {"minReplicas": 1}}}}}))
    assert named(objects, "HorizontalPodAutoscaler", "minimall-order")["spec"]["minReplicas"] == 1


@pytest.mark.parametrize("name", VALUE_SETS)
def test_migrations_run_as_a_pre_install_and_pre_upgrade_hook(name: str) -> None:
    objects = rendered(name)
    for service in SERVICES:
        job = named(objects, "Job", f"minimall-{service}-migrate")
        hooks = set(job["metadata"]["annotations"]["helm.sh/hook"].split(","))
        assert hooks == {"pre-install", "pre-upgrade"}
        (container,) = job["spec"]["template"]["spec"]["containers"]
        assert container["command"] == ["python", "-m", "shared.migrate", "upgrade", service]
        secret = container["env"][0]["valueFrom"]["secretKeyRef"]
        assert container["env"][0]["name"] == f"{service.upper()}_DATABASE_URL"
        assert secret["key"] == f"{service}-database-url"
        account_name = job["spec"]["template"]["spec"]["serviceAccountName"]
        account = named(objects, "ServiceAccount", account_name)
        assert "helm.sh/hook" in account["metadata"]["annotations"]


@pytest.mark.parametrize("name", VALUE_SETS)
def test_only_the_gateway_has_an_ingress(name: str) -> None:
    for ingress in of_kind(rendered(name), "Ingress"):
        for rule in ingress["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                assert path["backend"]["service"]["name"] == "minimall-gateway"


# --- network policies -----------------------------------------------------------------------


def _pod_labels(objects: tuple[Manifest, ...]) -> dict[str, dict[str, str]]:
    return {
        d["metadata"]["name"]: d["spec"]["template"]["metadata"]["labels"]
        for d in of_kind(objects, "Deployment")
    }


def _is_release_peer(peer: Manifest) -> bool:
    """A peer that is this release's pods (a podSelector alone = same namespace)."""
    return set(peer) == {"podSelector"} and selects(
        peer["podSelector"],
        {"app.kubernetes.io/name": "minimall", "app.kubernetes.io/instance": "minimall"},
    )


@pytest.mark.parametrize("name", VALUE_SETS)
def test_everything_is_denied_unless_a_policy_allows_it(name: str) -> None:
    objects = rendered(name)
    deny = named(objects, "NetworkPolicy", "minimall-default-deny")
    assert set(deny["spec"]["policyTypes"]) == {"Ingress", "Egress"}
    assert "ingress" not in deny["spec"] and "egress" not in deny["spec"]
    for deployment, labels in _pod_labels(objects).items():
        assert selects(deny["spec"]["podSelector"], labels), deployment


@pytest.mark.parametrize("name", VALUE_SETS)
def test_from_outside_only_the_gateway_and_services_only_from_the_suite(name: str) -> None:
    objects = rendered(name)
    monitoring = (values_of(name).get("networkPolicy") or {}).get("monitoringPeers") or [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}
    ]
    for deployment, labels in _pod_labels(objects).items():
        outside_ports: set[object] = set()
        for policy in of_kind(objects, "NetworkPolicy"):
            if not selects(policy["spec"]["podSelector"], labels):
                continue
            for rule in policy["spec"].get("ingress", []):
                peers = rule.get("from")
                assert peers, f"{policy['metadata']['name']}: ingress from anywhere"
                if all(_is_release_peer(p) for p in peers):
                    continue
                if peers == monitoring:
                    continue  # Prometheus scrapes every pod
                outside_ports |= {p["port"] for p in rule["ports"]}
        if deployment == "minimall-gateway":
            assert outside_ports == {"http"}
        else:
            assert outside_ports == set(), deployment


@pytest.mark.parametrize("name", VALUE_SETS)
def test_egress_only_to_dns_the_suite_infrastructure_and_wechat(name: str) -> None:
    objects = rendered(name)
    infra_ports = {53, 8000, 5432, 6379, 9092, 9093}
    for deployment, labels in _pod_labels(objects).items():
        ports: set[int] = set()
        for policy in of_kind(objects, "NetworkPolicy"):
            if "Egress" not in policy["spec"]["policyTypes"]:
                continue
            if not selects(policy["spec"]["podSelector"], labels):
                continue
            for rule in policy["spec"].get("egress", []):
                assert rule.get("ports"), f"{policy['metadata']['name']}: egress on any port"
                ports |= {int(p["port"]) for p in rule["ports"]}
        wechat = labels["minimall.io/service"] in ("member", "payment")
        assert ports == infra_ports | ({443} if wechat else set()), deployment


# --- options --------------------------------------------------------------------------------


def test_keda_scales_consumers_on_kafka_lag_only_when_enabled() -> None:
    assert of_kind(rendered("default"), "ScaledObject") == []
    objects = rendered("all-options")
    for service in SERVICES:
        scaled = named(objects, "ScaledObject", f"minimall-{service}-consumer")
        assert scaled["spec"]["scaleTargetRef"]["name"] == f"minimall-{service}-consumer"
        (trigger,) = scaled["spec"]["triggers"]
        assert trigger["type"] == "kafka"
        assert trigger["metadata"]["consumerGroup"] == f"{service}-consumer"
        consumer = named(objects, "Deployment", f"minimall-{service}-consumer")
        assert "replicas" not in consumer["spec"]


def test_flash_sale_raises_hpa_floors_on_schedule_and_restores_them() -> None:
    assert of_kind(rendered("default"), "CronJob") == []
    objects = rendered("all-options")
    (schedule,) = values_of("all-options")["flashSale"]["schedules"]
    up = named(objects, "CronJob", f"minimall-{schedule['name']}-up")
    down = named(objects, "CronJob", f"minimall-{schedule['name']}-down")
    assert (up["spec"]["schedule"], down["spec"]["schedule"]) == (
        schedule["scaleUp"],
        schedule["scaleDown"],
    )
    for cron, phase in ((up, "up"), (down, "down")):
        containers = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
        assert {c["name"] for c in containers} == set(schedule["minReplicas"])
        for container in containers:
            component = container["name"]
            if component == "order-flash-sale":  # KEDA-scaled here: see the flash-sale test
                continue
            hpa = named(objects, "HorizontalPodAutoscaler", f"minimall-{component}")["spec"]
            floor = schedule["minReplicas"][component] if phase == "up" else hpa["minReplicas"]
            assert container["args"][:3] == [
                "patch",
                "horizontalpodautoscaler",
                f"minimall-{component}",
            ]
            assert f'"minReplicas":{floor},' in container["args"][-1]
    (role,) = of_kind(objects, "Role")
    rule, keda_rule = role["rules"]
    assert keda_rule["resources"] == ["scaledobjects"]
    assert keda_rule["resourceNames"] == ["minimall-order-flash-sale"]
    assert rule["resources"] == ["horizontalpodautoscalers"]
    assert set(rule["verbs"]) == {"get", "patch"}
    assert set(rule["resourceNames"]) == {f"minimall-{c}" for c in HTTP_COMPONENTS}


@pytest.mark.parametrize("name", VALUE_SETS)
def test_flash_sale_consumer_has_its_own_deployment_and_autoscaling(name: str) -> None:
    objects = rendered(name)
    deployment = named(objects, "Deployment", "minimall-order-flash-sale")
    pod = deployment["spec"]["template"]["spec"]
    assert pod["containers"][0]["command"] == ["python", "-m", "order.flash_sales"]
    # The autoscaler owns the replica count.
    assert "replicas" not in deployment["spec"]
    named(objects, "PodDisruptionBudget", "minimall-order-flash-sale")
    if values_of(name).get("keda", {}).get("enabled"):
        scaled = named(objects, "ScaledObject", "minimall-order-flash-sale")
        (trigger,) = scaled["spec"]["triggers"]
        assert trigger["metadata"]["consumerGroup"] == "order-flash-sale"
        assert trigger["metadata"]["topic"] == "marketing.events"
        assert not [
            h for h in of_kind(objects, "HorizontalPodAutoscaler")
            if h["metadata"]["name"] == "minimall-order-flash-sale"
        ]  # fmt: skip
    else:
        hpa = named(objects, "HorizontalPodAutoscaler", "minimall-order-flash-sale")
        assert hpa["spec"]["scaleTargetRef"]["name"] == "minimall-order-flash-sale"
        assert hpa["spec"]["minReplicas"] >= 2


def test_flash_sale_schedule_pre_scales_the_flash_sale_consumer() -> None:
    # With KEDA: the CronJobs patch the ScaledObject's floor, and put it back.
    objects = rendered("all-options")
    (schedule,) = values_of("all-options")["flashSale"]["schedules"]
    floor = schedule["minReplicas"]["order-flash-sale"]
    for phase, expected in (("up", floor), ("down", 2)):
        cron = named(objects, "CronJob", f"minimall-{schedule['name']}-{phase}")
        containers = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
        (container,) = [c for c in containers if c["name"] == "order-flash-sale"]
        assert container["args"][:3] == ["patch", "scaledobject", "minimall-order-flash-sale"]
        assert f'"minReplicaCount":{expected},' in container["args"][-1]
    # Without KEDA: its HPA's floor.
    plain = {**values_of("all-options"), "keda": {"enabled": False}}
    objects = tuple(chart.render(plain))
    up = named(objects, "CronJob", f"minimall-{schedule['name']}-up")
    containers = up["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    (container,) = [c for c in containers if c["name"] == "order-flash-sale"]
    assert container["args"][:3] == [
        "patch",
        "horizontalpodautoscaler",
        "minimall-order-flash-sale",
    ]
    assert f'"minReplicas":{floor},' in container["args"][-1]
    (role,) = of_kind(objects, "Role")
    assert "minimall-order-flash-sale" in role["rules"][0]["resourceNames"]


def test_production_takes_secrets_from_existing_secrets_and_extra_env() -> None:
    objects = rendered("production")
    assert of_kind(objects, "Secret") == []
    member = named(objects, "Deployment", "minimall-member")["spec"]["template"]["spec"]
    env = {e["name"]: e for e in member["containers"][0]["env"]}
    assert env["MEMBER_WECHAT_APP_SECRET"]["valueFrom"]["secretKeyRef"] == {
        "name": "minimall-wechat-miniprogram",
        "key": "app-secret",
    }
    assert env["MEMBER_DATABASE_URL"]["valueFrom"]["secretKeyRef"]["name"] == "minimall-postgresql"
    payment = named(objects, "Deployment", "minimall-payment")["spec"]["template"]["spec"]
    assert {"secretRef": {"name": "minimall-wechatpay"}} in payment["containers"][0]["envFrom"]
    assert "wechatpay" in {v["name"] for v in payment["volumes"]}


def test_alerts_cover_the_pipeline_http_errors_and_readiness() -> None:
    (rule,) = of_kind(rendered("default"), "PrometheusRule")
    alerts = {r["alert"]: r["expr"] for g in rule["spec"]["groups"] for r in g["rules"]}
    for alert, metric in {
        "MinimallOutboxBacklog": "outbox_backlog",
        "MinimallConsumerLag": "kafka_consumer_lag",
        "MinimallDeadLetters": 'outcome="dead"',
        "MinimallHigh5xxRate": "http_requests_total",
        "MinimallPodsNotReady": "kube_pod_status_ready",
    }.items():
        assert metric in alerts[alert]
    runbook = (ROOT / "docs/runbook.md").read_text().lower()
    for alert in alerts:
        assert f"### {alert.lower()}" in runbook, f"{alert} is not in docs/runbook.md"


def test_services_know_where_their_peers_are() -> None:
    config = named(rendered("default"), "ConfigMap", "minimall-order-env")["data"]
    assert config["ORDER_CATALOG_URL"].startswith("http://minimall-catalog")
    assert config["ORDER_MEMBER_URL"].startswith("http://minimall-member")
    assert "ORDER_ORDER_URL" not in config
