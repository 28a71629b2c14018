"""The deployment files (deploy/) are valid and say the same as the instance the platform runs locally.

No helm, no Kubernetes and no image registry here: the Helm values are checked against the chart's
documented keys (deploy/helm/chart_keys.yaml, a fixture read from the chart's schema), the production
dagster.yaml against the local instance's settings and the Helm values, and the Dockerfile against the
repository it builds. tests/test_production_instance.py runs the production dagster.yaml itself.
"""

from __future__ import annotations

import re
import shlex
import tomllib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import yaml

from orchestration.dagster_instance import instance_yaml
from orchestration.defs.jobs import DBT_RUN_TAGS, REPORT_RUN_TAGS, RUN_QUEUE_TAG
from orchestration.settings import PROJECT_ROOT
from tests.test_report_schedules import materialize, tick

DEPLOY = PROJECT_ROOT / "deploy"
PRODUCTION_YAML = DEPLOY / "dagster.yaml"
HELM_VALUES = DEPLOY / "helm" / "values.yaml"
CHART_KEYS = DEPLOY / "helm" / "chart_keys.yaml"
DOCKERFILE = DEPLOY / "Dockerfile"
# Set by the chart itself from its release (namespace, ConfigMap, service account), not by the values.
CHART_FILLED_LAUNCHER_KEYS = {"instance_config_map", "service_account_name", "job_namespace", "dagster_home",
                              "postgres_password_secret"}
SCALARS = {"str": str, "int": int, "bool": bool}
# The K8sRunLauncher's config fields (dagster-k8s 0.29, dagster_k8s/job.py:
# DagsterK8sJobConfig.config_type_run_launcher, with config_type_job and config_type_container). dagster-k8s
# is installed in the image only, so Dagster cannot validate this part of deploy/dagster.yaml here.
K8S_RUN_LAUNCHER_FIELDS = {
    "job_image", "image_pull_policy", "image_pull_secrets", "service_account_name", "env_config_maps",
    "env_secrets", "env_vars", "volume_mounts", "volumes", "labels", "resources", "scheduler_name",
    "security_context", "instance_config_map", "postgres_password_secret", "dagster_home",
    "load_incluster_config", "kubeconfig_file", "fail_pod_on_run_failure", "run_k8s_config", "job_namespace",
    "only_allow_user_defined_k8s_config_fields", "only_allow_user_defined_env_vars",
}


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def chart_key_errors(value: Any, schema: Any, path: str = "") -> list[str]:
    """Where `value` leaves the chart's documented keys (deploy/helm/chart_keys.yaml notation)."""
    where = path or "<top>"
    if schema == "any":
        return []
    if isinstance(schema, str) and schema.startswith("enum: "):
        allowed = schema.removeprefix("enum: ").split("|")
        return [] if value in allowed else [f"{where}: {value!r} is not one of {allowed}"]
    if isinstance(schema, str):
        kind = SCALARS[schema]
        ok = isinstance(value, kind) and not (kind is int and isinstance(value, bool))
        return [] if ok or value is None else [f"{where}: {value!r} is not of kind {schema}"]
    if isinstance(schema, list):
        if not isinstance(value, list):
            return [f"{where}: expected a list"]
        return [e for i, item in enumerate(value) for e in chart_key_errors(item, schema[0], f"{path}[{i}]")]
    if not isinstance(value, dict):
        return [f"{where}: expected a mapping"]
    errors = [f"{path}.{key}".lstrip(".") + ": not a key of the chart" for key in value if key not in schema]
    return errors + [e for key, item in value.items() if key in schema
                     for e in chart_key_errors(item, schema[key], f"{path}.{key}".lstrip("."))]


def snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def snake_keys(value: Any) -> Any:
    """The chart's camelCase settings as dagster.yaml spells them; a tag limit's value (for instance
    `applyLimitPerUniqueValue`) is spelled the same in both and kept."""
    if isinstance(value, dict):
        return {snake(k): (v if k == "value" else snake_keys(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [snake_keys(v) for v in value]
    return value


def leaves(value: Any, path: tuple = ()) -> dict[tuple, Any]:
    if isinstance(value, dict):
        return {p: v for k, item in value.items() for p, v in leaves(item, (*path, k)).items()}
    return {path: value}


def test_helm_values_use_only_the_charts_documented_keys():
    assert chart_key_errors(load(HELM_VALUES), load(CHART_KEYS)) == []


def test_a_key_the_chart_does_not_document_is_reported():
    values = load(HELM_VALUES)
    values["dagsterDaemon"]["runRetry"] = {"enabled": True}  # the chart's key is runRetries
    values["concurrency"]["pools"]["defaultLimit"] = "one"
    values["runLauncher"]["type"] = "K8sLauncher"
    assert sorted(chart_key_errors(values, load(CHART_KEYS))) == [
        "concurrency.pools.defaultLimit: 'one' is not of kind int",
        "dagsterDaemon.runRetry: not a key of the chart",
        "runLauncher.type: 'K8sLauncher' is not one of ['CeleryK8sRunLauncher', 'K8sRunLauncher', 'CustomRunLauncher']",
    ]


def test_the_production_instance_keeps_every_setting_of_the_local_instance():
    """Same telemetry, run monitoring, pools and storage kind as `make instance` writes; production adds."""
    local = leaves(yaml.safe_load(instance_yaml(url_env="DAGSTER_POSTGRES_URL")))
    production = leaves(load(PRODUCTION_YAML))
    assert {path: production.get(path) for path in local} == local


def test_the_run_launcher_config_uses_the_k8s_launchers_fields():
    launcher = load(PRODUCTION_YAML)["run_launcher"]
    assert (launcher["module"], launcher["class"]) == ("dagster_k8s", "K8sRunLauncher")
    assert set(launcher["config"]) <= K8S_RUN_LAUNCHER_FIELDS
    assert "instance_config_map" in launcher["config"]  # the one required field


def test_the_helm_values_say_what_the_production_instance_says():
    production, values = load(PRODUCTION_YAML), load(HELM_VALUES)
    daemon = values["dagsterDaemon"]
    assert {"enabled": values["telemetry"]["enabled"]} == production["telemetry"]
    assert snake_keys(daemon["runMonitoring"]) == production["run_monitoring"]
    assert snake_keys(daemon["runRetries"]) == production["run_retries"]
    assert snake_keys({k: v for k, v in values["concurrency"].items() if k != "enabled"}) == production["concurrency"]
    assert values["concurrency"]["enabled"] is True  # the chart renders the block only when enabled
    assert daemon["runCoordinator"]["type"] == production["run_coordinator"]["class"] == "QueuedRunCoordinator"
    assert snake_keys(daemon["runCoordinator"]["config"]["queuedRunCoordinator"]) == production["run_coordinator"][
        "config"]

    assert values["runLauncher"]["type"] == production["run_launcher"]["class"] == "K8sRunLauncher"
    launcher = snake_keys(values["runLauncher"]["config"]["k8sRunLauncher"])
    for key in ("env_config_maps", "env_secrets"):
        launcher[key] = [source["name"] for source in launcher[key]]
    expected = {k: v for k, v in production["run_launcher"]["config"].items() if k not in CHART_FILLED_LAUNCHER_KEYS}
    assert {k: v for k, v in launcher.items() if k in expected} == expected
    assert {k for k, v in launcher.items() if v and k not in expected} == set()  # nothing the yaml lacks


def test_the_run_queue_limits_name_the_tags_the_runs_carry():
    from orchestration.definitions import defs

    limits = load(PRODUCTION_YAML)["concurrency"]["runs"]["tag_concurrency_limits"]
    assert {(limit["key"], limit["value"]) for limit in limits} == {
        (RUN_QUEUE_TAG, DBT_RUN_TAGS[RUN_QUEUE_TAG]), (RUN_QUEUE_TAG, REPORT_RUN_TAGS[RUN_QUEUE_TAG])}
    for name in ("hourly_snapshot_job", "dimensions_job", "daily_rollup_job", "monthly_rollup_job"):
        assert defs.resolve_job_def(name).tags.get(RUN_QUEUE_TAG) == "dbt", name
    assert RUN_QUEUE_TAG not in defs.resolve_job_def("ml_job").tags  # no dbt in it


@pytest.fixture()
def instance():
    with dg.instance_for_test() as instance:
        yield instance


def test_a_scheduled_report_run_carries_the_report_queue_tag(instance):
    materialize(instance, dg.AssetKey(["marts", "fct_usage_daily"]), ["2026-11-20"])
    request = tick(instance, "reports_daily_schedule", datetime(2026, 11, 21, 5, 30, tzinfo=UTC))
    assert request.tags[RUN_QUEUE_TAG] == REPORT_RUN_TAGS[RUN_QUEUE_TAG]


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def test_the_dockerfile_builds_this_code_location_from_files_that_exist():
    instructions = dockerfile_instructions()
    pyproject = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())
    assert instructions[0] == ("FROM", "python:3.11-slim")

    copied = [shlex.split(args)[:-1] for op, args in instructions if op == "COPY"]
    for sources in copied:
        for source in sources:
            assert (PROJECT_ROOT / source).exists(), source
    packages = pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    assert {p.rstrip("*") for p in packages} | {"dbt_project"} <= {s for sources in copied for s in sources}

    installs = [args for op, args in instructions if op == "RUN" and "pip install" in args]
    assert installs == ['pip install -e . "dagster-k8s==0.29.27"']  # no [dev] extras
    postgres_pin = next(d for d in pyproject["project"]["dependencies"] if d.startswith("dagster-postgres=="))
    assert postgres_pin.split("==")[1] == "0.29.27"  # dagster-k8s is released with dagster-postgres

    # the manifest where the definitions read it (dagster-dbt's DbtProject: dbt_project/target/)
    parse = [args for op, args in instructions if op == "RUN" and args.startswith("dbt ")]
    assert parse == ["dbt parse --project-dir dbt_project --profiles-dir dbt_project"]
    assert (PROJECT_ROOT / "dbt_project" / "dbt_project.yml").exists()

    (command,) = [yaml.safe_load(args) for op, args in instructions if op == "CMD"]
    module = command[command.index("--module-name") + 1]
    assert command[:3] == ["dagster", "code-server", "start"]
    assert module == pyproject["tool"]["dagster"]["module_name"]
    assert (PROJECT_ROOT / Path(*module.split("."))).with_suffix(".py").exists()
    assert command[command.index("--attribute") + 1] == "defs"
    helm_args = load(HELM_VALUES)["dagster-user-deployments"]["deployments"][0]["codeServerArgs"]
    assert helm_args == command[command.index("--module-name"):]
    workspace = load(PROJECT_ROOT / "workspace.yaml")["load_from"][0]["python_module"]
    assert (workspace["module_name"], workspace["attribute"]) == (module, "defs")
