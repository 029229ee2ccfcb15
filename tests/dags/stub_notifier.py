"""A notifier for the DAG tests: records each call as one JSON line (what Slack would get).

Imported by the Airflow subprocess through `EQUIPME_FAILURE_NOTIFIER` (PYTHONPATH = this
folder), as a user's Slack or SMTP notifier would be.
"""

from __future__ import annotations

import json
from typing import Any

from airflow.sdk.bases.notifier import BaseNotifier


class RecordingNotifier(BaseNotifier):
    """Appends `{dag_id, task_id, run_id, error, text}` to the file `out`."""

    template_fields = ("text",)

    def __init__(self, out: str, text: str = "{{ equipme_failure }}") -> None:
        super().__init__()
        self.out = out
        self.text = text

    def notify(self, context: Any) -> None:
        ti = context["ti"]
        record = {
            "dag_id": ti.dag_id,
            "task_id": ti.task_id,
            "run_id": context["run_id"],
            "error": str(context.get("exception")),
            "text": self.text,
        }
        with open(self.out, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")
