"""The shipped rules say who is told what; a broken rules file is refused with a clear reason."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from contracts.incidents import (
    Comment,
    IncidentCommentAdded,
    IncidentResolved,
    IncidentStatusChanged,
    Severity,
)
from contracts.notifications import Priority
from services.notification.incidents.rules import InvalidRules, load_rules, plan
from tests.incidents.samples import incident, person, sample_assigned_event, sample_created_event

RULES = load_rules()


def ids(people: list) -> set[str]:  # type: ignore[type-arg]
    return {p.id for p in people}


def test_created_notifies_watchers_and_team_but_never_the_actor() -> None:
    event = sample_created_event(watchers=2, team=3)
    result = plan(event, RULES)
    expected = ids(event.watchers) | ids(event.team_members)
    assert event.actor is not None and event.actor.id in expected
    assert ids(result.recipients) == expected - {event.actor.id}
    assert result.notice.type == "incident_created"
    assert result.notice.title == f"New incident {event.incident.key}: {event.incident.title}"
    assert result.notice.entity_type == "incident"
    assert result.notice.entity_id == event.incident.id
    assert result.notice.entity_url == event.incident.url


def test_a_person_in_several_roles_is_told_once() -> None:
    event = sample_created_event(watchers=1, team=0)
    event = event.model_copy(update={"team_members": list(event.watchers)})
    assert len(plan(event, RULES).recipients) == 1


@pytest.mark.parametrize(
    ("severity", "priority"),
    [
        (Severity.SEV1, Priority.CRITICAL),
        (Severity.SEV2, Priority.HIGH),
        (Severity.SEV3, Priority.NORMAL),
        (Severity.SEV4, Priority.LOW),
    ],
)
def test_assigned_notifies_only_the_assignee_with_priority_from_severity(
    severity: Severity, priority: Priority
) -> None:
    event = sample_assigned_event(severity)
    result = plan(event, RULES)
    assert ids(result.recipients) == {event.assignee.id}
    assert result.notice.priority is priority
    assert result.notice.type == "incident_assigned"


def test_self_assignment_notifies_nobody() -> None:
    event = sample_assigned_event()
    event = event.model_copy(update={"actor": event.assignee})
    result = plan(event, RULES)
    assert result.recipients == []
    assert result.named == 1  # only the actor: handled, not an error


def test_status_change_and_resolution_speak_of_the_change() -> None:
    actor, watcher = person("actor"), person("watcher")
    common = {
        "occurred_at": datetime.now(UTC),
        "incident": incident(Severity.SEV3),
        "actor": actor,
        "watchers": [watcher],
    }
    changed = IncidentStatusChanged(
        event_id=str(uuid.uuid4()), previous_status="open", new_status="investigating", **common
    )
    notice = plan(changed, RULES).notice
    assert notice.type == "incident_status_changed"
    assert "open" in notice.message and "investigating" in notice.title
    assert "Actor" in notice.message
    resolved = IncidentResolved(event_id=str(uuid.uuid4()), **common)
    result = plan(resolved, RULES)
    assert result.notice.type == "incident_resolved"
    assert ids(result.recipients) == {watcher.id}


def test_comment_tells_everyone_concerned_but_its_author() -> None:
    author, assignee, watcher, member = (person(r) for r in ("author", "assignee", "w", "t"))
    event = IncidentCommentAdded(
        event_id=str(uuid.uuid4()),
        occurred_at=datetime.now(UTC),
        incident=incident(),
        actor=author,
        assignee=assignee,
        watchers=[watcher, author],
        team_members=[member],
        comment=Comment(id="c1", excerpt="Rolled back the deploy"),
    )
    result = plan(event, RULES)
    assert ids(result.recipients) == {assignee.id, watcher.id, member.id}
    assert "Rolled back the deploy" in result.notice.message


def test_long_titles_are_cut_to_the_notification_limit() -> None:
    event = sample_created_event()
    event = event.model_copy(
        update={"incident": event.incident.model_copy(update={"title": "x" * 200})}
    )
    assert len(plan(event, RULES).notice.title) == 200


def test_a_rules_file_with_an_unknown_placeholder_is_refused(tmp_path: Path) -> None:
    text = (
        Path(__file__).parents[2].joinpath("services/notification/incidents/rules.yaml").read_text()
    )
    broken = tmp_path / "rules.yaml"
    broken.write_text(text.replace("{key} resolved", "{ticket} resolved"))
    with pytest.raises(InvalidRules, match="ticket"):
        load_rules(broken)


def test_a_rules_file_missing_an_event_type_is_refused(tmp_path: Path) -> None:
    broken = tmp_path / "rules.yaml"
    broken.write_text(
        "priority_by_severity: {sev1: critical, sev2: high, sev3: normal, sev4: low}\n"
        "events:\n"
        "  incident.created: {type: incident_created, notify: [watchers], title: '{key}'}\n"
    )
    with pytest.raises(InvalidRules, match=r"incident\.assigned"):
        load_rules(broken)


def test_the_notification_app_refuses_to_start_with_a_broken_rules_file(tmp_path: Path) -> None:
    from services.notification.app import create_app
    from services.notification.settings import Settings

    broken = tmp_path / "rules.yaml"
    broken.write_text("events: [not, a, mapping]\n")
    with pytest.raises(InvalidRules, match=r"rules\.yaml"):
        create_app(Settings(jwt_secret="x", incident_rules_path=broken))
