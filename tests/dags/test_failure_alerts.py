"""The failure notifier hook and the staleness default, without a scheduler (fast)."""

from __future__ import annotations

import json
import types

import pytest

from tap_equipme.airflow import alerts

CALLS: list[dict] = []


def record(context) -> None:
    """A plain-function notifier (what `EQUIPME_FAILURE_NOTIFIER=module.func` names)."""
    CALLS.append(dict(context))


def broken(context) -> None:
    raise RuntimeError("the chat service is down")


class Notifier:
    """A notifier class with arguments (what the JSON form builds)."""

    def __init__(self, channel: str) -> None:
        self.channel = channel

    def __call__(self, context) -> None:
        CALLS.append({"channel": self.channel, **context})


def context(error: BaseException) -> dict:
    ti = types.SimpleNamespace(
        dag_id="equipme_customers_hourly", task_id="extract_load", try_number=4
    )
    return {"ti": ti, "run_id": "scheduled__2026-12-07T21:00:00+00:00", "exception": error}


@pytest.fixture(autouse=True)
def clean(monkeypatch):
    CALLS.clear()
    monkeypatch.delenv(alerts.NOTIFIER_ENV, raising=False)


def test_the_configured_function_gets_one_line_naming_dag_task_run_try_and_error(monkeypatch):
    monkeypatch.setenv(alerts.NOTIFIER_ENV, f"{__name__}.record")
    alerts.on_task_failure(context(ValueError("API answered 401")))
    assert len(CALLS) == 1
    assert CALLS[0]["equipme_failure"] == (
        "Equipme task equipme_customers_hourly.extract_load failed (run "
        "scheduled__2026-12-07T21:00:00+00:00, try 4): ValueError: API answered 401"
    )


def test_the_json_form_builds_the_notifier_with_its_arguments(monkeypatch):
    spec = {"notifier": f"{__name__}.Notifier", "kwargs": {"channel": "#data-oncall"}}
    monkeypatch.setenv(alerts.NOTIFIER_ENV, json.dumps(spec))
    alerts.on_task_failure(context(RuntimeError("boom")))
    assert [c["channel"] for c in CALLS] == ["#data-oncall"]


def logged(capsys, caplog) -> str:
    """What reached the log (Airflow's structlog writes to the console, else logging)."""
    captured = capsys.readouterr()
    return captured.out + captured.err + caplog.text


def test_nothing_is_sent_unless_configured_and_a_broken_notifier_never_raises(
    monkeypatch, capsys, caplog
):
    alerts.on_task_failure(context(RuntimeError("boom")))  # no env, no Variable backend
    assert CALLS == []
    monkeypatch.setenv(alerts.NOTIFIER_ENV, f"{__name__}.broken")
    alerts.on_task_failure(context(RuntimeError("boom")))
    assert "the chat service is down" in logged(capsys, caplog)
    monkeypatch.setenv(alerts.NOTIFIER_ENV, "not-a-path")
    alerts.on_task_failure(context(RuntimeError("boom")))
    assert "is not a dotted path" in logged(capsys, caplog)


def test_a_long_error_is_cut():
    message = alerts.failure_message(context(RuntimeError("x" * 10_000)))
    assert len(message) < alerts.MAX_ERROR_CHARS + 200
    assert message.endswith(" ...")


@pytest.mark.parametrize(
    ("schedule", "expected"),
    [("@hourly", "3h"), ("@daily", "3d"), ("@weekly", "21d"), ("0 */6 * * *", None)],
)
def test_max_staleness_defaults_to_three_schedule_periods(schedule, expected):
    assert alerts.default_max_staleness(schedule) == expected
