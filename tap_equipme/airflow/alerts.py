"""The DAG's failure alerts and staleness limit: a notifier of the user's choice, 3 x the schedule.

`on_task_failure` is every task's `on_failure_callback` (it fires once a task has failed for
good, after its retries). It sends nothing until a notifier is configured, read when a task
fails (never when the DAG file is parsed):

- environment variable `EQUIPME_FAILURE_NOTIFIER` of the workers, else
- Airflow Variable `equipme_failure_notifier`,

holding either a dotted path (`mypackage.alerts.page_on_call`: a function taking the context,
or a notifier class / instance) or JSON `{"notifier": "<dotted path of a BaseNotifier
class>", "kwargs": {...}}`, e.g. Airflow's Slack or SMTP notifier with
`"text": "{{ equipme_failure }}"`. The context the notifier gets has `equipme_failure`: one
line naming the DAG, task, run, try and the error (the pipeline's errors are redacted: no API
key, no catalog or S3 credentials).
"""

from __future__ import annotations

import datetime as dt
import importlib
import json
import logging
import os
import typing as t

NOTIFIER_ENV = "EQUIPME_FAILURE_NOTIFIER"
NOTIFIER_VARIABLE = "equipme_failure_notifier"
MAX_ERROR_CHARS = 2000
SCHEDULE_PERIODS = {
    "@hourly": dt.timedelta(hours=1),
    "@daily": dt.timedelta(days=1),
    "@weekly": dt.timedelta(weeks=1),
    "@monthly": dt.timedelta(days=31),
}
STALENESS_RUNS = 3
"""A stream is stale when its last successful load is older than this many schedule periods."""

logger = logging.getLogger(__name__)


def default_max_staleness(schedule: str) -> str | None:
    """The default `max_staleness` of a DAG: 3 x its schedule (`@hourly` -> `3h`).

    Args:
        schedule: The DAG's schedule preset.

    Returns:
        A duration as `quality.parse_duration` reads it, or None for a schedule it does not
        know (no staleness check unless the param is set).
    """
    period = SCHEDULE_PERIODS.get(schedule)
    if period is None:
        return None
    minutes = int((period * STALENESS_RUNS).total_seconds() // 60)
    if minutes % (24 * 60) == 0:
        return f"{minutes // (24 * 60)}d"
    return f"{minutes // 60}h" if minutes % 60 == 0 else f"{minutes}m"


def failure_message(context: t.Mapping[str, t.Any]) -> str:
    """One line for people: which DAG, task, run and try failed, and why.

    Args:
        context: The task's context.

    Returns:
        The message.
    """
    ti = context.get("ti") or context.get("task_instance")
    dag_id = getattr(ti, "dag_id", None) or getattr(context.get("dag"), "dag_id", "?")
    task_id = getattr(ti, "task_id", "?")
    run_id = context.get("run_id") or getattr(ti, "run_id", "?")
    error = context.get("exception")
    reason = f"{type(error).__name__}: {error}" if error is not None else "no error recorded"
    if len(reason) > MAX_ERROR_CHARS:
        reason = reason[:MAX_ERROR_CHARS] + " ..."
    return (
        f"Equipme task {dag_id}.{task_id} failed (run {run_id}, try "
        f"{getattr(ti, 'try_number', '?')}): {reason}"
    )


def _configured() -> str | None:
    """The notifier setting: the environment first, then the Airflow Variable."""
    value = os.environ.get(NOTIFIER_ENV)
    if value:
        return value
    from airflow.sdk import Variable

    try:
        return Variable.get(NOTIFIER_VARIABLE, default=None)
    except Exception:  # no Variable backend reachable: behave as unset
        logger.warning("Could not read the Airflow Variable %s", NOTIFIER_VARIABLE)
        return None


def build_notifier(setting: str) -> t.Callable[[t.Any], t.Any]:
    """Resolve the notifier setting into something to call with the context.

    Args:
        setting: A dotted path, or JSON `{"notifier": path, "kwargs": {...}}`.

    Returns:
        A callable taking the context (a `BaseNotifier` instance, or the user's function).

    Raises:
        ValueError: If the setting is not a dotted path or that JSON (the message names it).
    """
    text = setting.strip()
    kwargs: dict[str, t.Any] = {}
    if text.startswith("{"):
        try:
            spec = json.loads(text)
            path, kwargs = str(spec["notifier"]), dict(spec.get("kwargs") or {})
        except (ValueError, KeyError, TypeError) as exc:
            msg = f'{NOTIFIER_ENV} / {NOTIFIER_VARIABLE}: expected JSON {{"notifier": ...}}'
            raise ValueError(msg) from exc
    else:
        path = text
    module_name, _, name = path.rpartition(".")
    if not module_name:
        msg = f"{NOTIFIER_ENV} / {NOTIFIER_VARIABLE}: {path!r} is not a dotted path"
        raise ValueError(msg)
    target = getattr(importlib.import_module(module_name), name)
    if isinstance(target, type):
        return t.cast("t.Callable[[t.Any], t.Any]", target(**kwargs))
    return t.cast("t.Callable[[t.Any], t.Any]", target)


def on_task_failure(context: t.Any) -> None:
    """Every task's `on_failure_callback`: send the failure to the configured notifier.

    Never raises: a broken notifier is logged in the task's log, and the task's own failure
    stays what the run shows.

    Args:
        context: The failed task's context.
    """
    try:
        setting = _configured()
        if not setting:
            return
        notifier = build_notifier(setting)
        context["equipme_failure"] = failure_message(context)
        notifier(context)
    except Exception:
        logger.exception("The failure notifier (%s) failed", NOTIFIER_ENV)
