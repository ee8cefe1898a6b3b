"""The AsyncAPI document and JSON Schema files are valid, complete and current.

`asyncapi-3.0.0.schema.json` beside this file is the official AsyncAPI 3.0.0 JSON Schema as
published in the `@asyncapi/specs` package (6.11.1, Apache-2.0), unmodified apart from
whitespace: validating against it is what the AsyncAPI tools do first.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from contracts import export
from contracts.channels import TYPING_SIGNAL
from contracts.events import EVENT_DATA_MODELS
from contracts.incidents import INCIDENT_EVENT_MODELS
from contracts.presence import PRESENCE_SIGNAL
from contracts.realtime import REALTIME_PUSH
from tests.incidents.samples import sample_created_event

CONTRACTS = Path(export.__file__).parent
ASYNCAPI_SPEC = json.loads((Path(__file__).parent / "asyncapi-3.0.0.schema.json").read_text())


def load_document() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((CONTRACTS / "asyncapi.yaml").read_text())
    return document


def walk_refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [ref for value in node.values() for ref in walk_refs(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in walk_refs(value)]
    return []


def resolve_pointer(document: dict[str, Any], pointer: str) -> Any:
    node: Any = document
    for part in pointer.lstrip("/").split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        node = node[part]
    return node


BASE = "file:///contracts/"


def schema_registry() -> Registry:
    resources = [
        (
            f"{BASE}schemas/{path.name}",
            Resource.from_contents(json.loads(path.read_text()), default_specification=DRAFT202012),
        )
        for path in (CONTRACTS / "schemas").glob("*.schema.json")
    ]
    return Registry().with_resources(resources)


def test_contract_files_are_current_with_the_models() -> None:
    assert export.main(["--check"]) == 0


def test_asyncapi_document_validates_against_the_official_asyncapi_3_schema() -> None:
    validator = jsonschema.Draft7Validator(ASYNCAPI_SPEC)
    errors = sorted(validator.iter_errors(load_document()), key=lambda e: list(e.path))
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors[:5]]


def test_every_reference_in_the_document_resolves() -> None:
    document = load_document()
    refs = walk_refs(document)
    assert refs
    for ref in refs:
        if ref.startswith("#"):
            assert resolve_pointer(document, ref[1:]) is not None, ref
        else:
            path = CONTRACTS / ref
            assert path.is_file(), f"{ref} points to no file"
            json.loads(path.read_text())


def test_every_message_tocsin_publishes_or_consumes_is_described() -> None:
    document = load_document()
    names = {message["name"] for message in document["components"]["messages"].values()}
    expected = {t.value for t in EVENT_DATA_MODELS} | {t.value for t in INCIDENT_EVENT_MODELS}
    expected.add(REALTIME_PUSH)
    expected.add(TYPING_SIGNAL)
    expected.add(PRESENCE_SIGNAL)
    assert names == expected
    actions = {op["action"] for op in document["operations"].values()}
    assert actions == {"send", "receive"}
    for operation in document["operations"].values():
        for message_ref in operation["messages"]:
            assert resolve_pointer(document, message_ref["$ref"][1:])


@pytest.mark.parametrize(
    "path", sorted((CONTRACTS / "schemas").glob("*.schema.json")), ids=lambda p: p.name
)
def test_every_schema_file_is_valid_json_schema_and_its_refs_resolve(path: Path) -> None:
    schema = json.loads(path.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    resolver = schema_registry().resolver(base_uri=f"{BASE}schemas/{path.name}")
    for ref in walk_refs(schema):
        resolver.lookup(ref)


def test_message_payloads_are_valid_schemas_that_resolve_against_the_files() -> None:
    document = load_document()
    registry = schema_registry()
    for name, message in document["components"]["messages"].items():
        payload = message["payload"]
        jsonschema.Draft202012Validator.check_schema(payload)
        resolver = registry.resolver(base_uri=f"{BASE}asyncapi.yaml")
        for ref in walk_refs(payload):
            if ref.startswith("./"):
                resolver.lookup(ref)
        assert message["contentType"] == "application/json", name


def test_an_incident_event_built_by_the_models_fits_its_published_payload_schema() -> None:
    document = load_document()
    registry = schema_registry()
    event = sample_created_event()
    payload = document["components"]["messages"]["incidentCreated"]["payload"]
    validator = jsonschema.Draft202012Validator(
        {"$id": f"{BASE}asyncapi.yaml", **payload}, registry=registry
    )
    validator.validate(json.loads(event.model_dump_json()))
    with pytest.raises(jsonschema.ValidationError):
        validator.validate({**json.loads(event.model_dump_json()), "schema_version": "2.0"})


def test_asyncapi_document_loads_into_the_asyncapi_3_object_model() -> None:
    """A second, independent reader of the specification (the `asyncapi3` package)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the package's own pydantic field-name warnings
        from asyncapi3 import AsyncAPI3

    model = AsyncAPI3.model_validate(load_document())
    assert model.channels is not None and model.operations is not None
    document = load_document()
    assert len(model.channels) == len(document["channels"])
    # Every channel has an operation, and every operation names a channel of the document (a
    # channel may have several: the push service also consumes some notification events).
    used = {op["channel"]["$ref"].rsplit("/", 1)[-1] for op in document["operations"].values()}
    assert used == set(document["channels"])
    assert len(model.operations) == len(document["operations"]) >= len(document["channels"])
