"""The container stack as files: docker-compose.yml against the Compose specification, the Dockerfile's
promises, and .env.example listing every setting. No Docker engine runs here; the commands the
containers run are exercised for real in test_stack_local.py."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from services.config import documented_settings

REPO = Path(__file__).resolve().parents[2]
SCHEMA = REPO / "tests" / "data" / "compose-spec.json"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((REPO / "docker-compose.yml").read_text())


@pytest.fixture(scope="module")
def dockerfile_stages() -> list[list[str]]:
    """The Dockerfile's instructions (continuations joined), split into stages at each FROM."""
    text = (REPO / "Dockerfile").read_text().replace("\\\n", " ")
    stages: list[list[str]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.upper().startswith("FROM "):
            stages.append([])
        if stages:
            stages[-1].append(line)
    return stages


def test_compose_file_validates_against_the_compose_specification(compose: dict[str, Any]) -> None:
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    jsonschema.Draft7Validator(schema).validate(compose)


def test_schema_check_can_fail(compose: dict[str, Any]) -> None:
    schema = json.loads(SCHEMA.read_text())
    broken = json.loads(json.dumps(compose))
    broken["services"]["web"]["depends_on"]["redis"]["condition"] = "when_ready"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft7Validator(schema).validate(broken)


def test_services_and_official_images(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert {"postgres", "redis", "migrate", "web", "worker", "beat"} <= set(services)
    assert services["postgres"]["image"].split(":")[0] == "postgres"
    assert services["redis"]["image"].split(":")[0] == "redis"


def test_healthchecks_persistence_and_volumes(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])
    assert services["redis"]["healthcheck"]["test"][-2:] == ["redis-cli", "ping"]
    assert "--appendonly" in services["redis"]["command"]
    assert services["redis"]["command"][services["redis"]["command"].index("--appendonly") + 1] == "yes"
    for name, mount in (("postgres", "/var/lib/postgresql/data"), ("redis", "/data")):
        (volume,) = services[name]["volumes"]
        source, target = volume.split(":")
        assert target == mount and source in compose["volumes"]  # a named volume, not a bind mount


def test_app_services_wait_for_healthy_dependencies_and_migrations(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in ("web", "worker", "worker-deliver", "beat"):
        depends = services[name]["depends_on"]
        assert depends["postgres"]["condition"] == "service_healthy", name
        assert depends["redis"]["condition"] == "service_healthy", name
        assert depends["migrate"]["condition"] == "service_completed_successfully", name


def test_exactly_one_beat_and_a_published_web_port(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["beat"]["deploy"]["replicas"] == 1
    beats = [n for n, s in services.items() if _stancewatch_argv(s.get("command"))[:1] == ["beat"]]
    assert beats == ["beat"]
    assert any(str(p).endswith(":8000") for p in services["web"]["ports"])


def _stancewatch_argv(command: Any) -> list[str]:
    """The ``stancewatch`` arguments of a service's command (through ``sh -c "exec ..."``)."""
    if not command:
        return []
    argv = list(command) if isinstance(command, list) else shlex.split(command)
    if argv[:2] == ["sh", "-c"]:
        # $${VAR:-default} is compose's escape for a shell expansion; take the default.
        script = re.sub(r"\$\$\{\w+:-([^}]*)\}", r"\1", argv[2])
        argv = shlex.split(script.removeprefix("exec "))
    return argv[1:] if argv[:1] == ["stancewatch"] else []


def test_container_commands_are_real_stancewatch_commands(compose: dict[str, Any]) -> None:
    import click

    from services.cli import main

    commands = {}
    for name, service in compose["services"].items():
        argv = _stancewatch_argv(service.get("command"))
        if argv:
            commands[name] = argv
    assert set(commands) == {"migrate", "web", "worker", "worker-deliver", "beat"}
    assert commands["migrate"] == ["db", "upgrade"]
    assert commands["web"][:3] == ["web", "--host", "0.0.0.0"]
    assert "deliver" not in commands["worker"][commands["worker"].index("--queues") + 1].split(",")
    assert commands["worker-deliver"][commands["worker-deliver"].index("--queues") + 1] == "deliver"
    for name, argv in commands.items():
        command: click.Command = main
        parent = main.make_context("stancewatch", [], resilient_parsing=True)
        while isinstance(command, click.Group):  # descend to the leaf and let click parse its options
            command = command.get_command(parent, argv[0])
            assert command is not None, f"{name}: unknown command {argv[0]!r}"
            parent = click.Context(command, parent=parent)
            argv = argv[1:] if isinstance(command, click.Group) else argv
        command.make_context(command.name or "", argv[1:])


def test_env_example_lists_every_setting() -> None:
    text = (REPO / ".env.example").read_text()
    listed = {m.group(1) for m in re.finditer(r"^([A-Z][A-Z0-9_]*)=", text, re.MULTILINE)}
    lines = text.splitlines()
    for setting in documented_settings():
        assert setting.env in listed, f"{setting.env} missing from .env.example"
        index = next(i for i, line in enumerate(lines) if line.startswith(setting.env + "="))
        assert lines[index - 1].startswith("#"), f"{setting.env} has no comment above it"


def test_compose_variables_are_in_env_example(compose: dict[str, Any]) -> None:
    text = (REPO / "docker-compose.yml").read_text()
    used = set(re.findall(r"(?<!\$)\$\{(\w+)", text)) | set(re.findall(r"\$\$\{(\w+)", text))
    used -= {"HOSTNAME"}  # the container's own
    example = (REPO / ".env.example").read_text()
    for name in used:
        assert re.search(rf"^{name}=", example, re.MULTILINE), f"{name} used by compose, not in .env.example"


def test_dockerfile_is_multi_stage_slim_non_root_with_healthcheck(dockerfile_stages: list[list[str]]) -> None:
    assert len(dockerfile_stages) >= 2, "multi-stage: a builder and a final stage"
    builder, final = dockerfile_stages[0], dockerfile_stages[-1]
    assert "build-essential" in " ".join(builder)
    assert "python:3.11-slim" in (REPO / "Dockerfile").read_text()
    final_text = " ".join(final)
    for tool in ("build-essential", "gcc", "apt-get install"):
        assert tool not in final_text, f"{tool} in the final image"
    assert re.search(r"COPY --from=builder /opt/venv", final_text)
    users = [line.split()[1] for line in final if line.upper().startswith("USER ")]
    assert users and users[-1].split(":")[0] not in {"root", "0"}
    assert any(line.upper().startswith("HEALTHCHECK ") and "/healthz" in line for line in final)
    assert "STANCEWATCH_LOG_FORMAT=json" in final_text and "PYTHONUNBUFFERED=1" in final_text
    install = " ".join(builder)
    assert "pip install ." in install and "COPY pyproject.toml" in install
    for line in builder:  # every file the build copies exists (else `docker build` fails)
        if line.startswith("COPY ") and "--from" not in line:
            for source in line.split()[1:-1]:
                assert (REPO / source).exists(), f"Dockerfile copies {source}, which does not exist"


def test_dockerignore_keeps_secrets_and_venvs_out() -> None:
    ignored = (REPO / ".dockerignore").read_text().splitlines()
    for entry in (".git", ".venv", ".env", ".stancewatch"):
        assert entry in ignored
    assert "!.env.example" in ignored
