"""OpenLineage for the DAG's extract-load task (apache-airflow-providers-openlineage).

The provider reports a plain `@task` with no datasets: it cannot see inside the function. The
datasets of a sync are only known when it runs (the API URL is in the Connection, the
warehouse in the run's params), so `@sync_task` is `@task` with an operator that keeps the
`SyncSummary.lineage` of its run (from the returned summary, or from the `SyncError` of a
failed one) and hands it to the provider through the operator methods the provider calls,
`get_openlineage_facets_on_complete` / `_on_failure`. The names are the pipeline's own
(`tap_equipme.pipeline.lineage`), the same as `equipme-sync` outside Airflow.

The provider sends nothing until a transport is configured (`[openlineage] transport`,
`OPENLINEAGE_URL`, ...); this module costs nothing at parse time beyond what `@task` imports.
"""

from __future__ import annotations

import typing as t
from collections.abc import Callable, Mapping

from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk.bases.decorator import DecoratedOperator, task_decorator_factory


def operator_lineage(lineage: Mapping[str, t.Any] | None) -> t.Any:
    """Turn `SyncSummary.lineage` into the provider's `OperatorLineage`.

    Args:
        lineage: `{"inputs": [...], "outputs": [...]}` (None: nothing known).

    Returns:
        An `airflow.providers.openlineage.extractors.OperatorLineage`.
    """
    from airflow.providers.openlineage.extractors import OperatorLineage

    from tap_equipme.pipeline.lineage import ol_dataset

    lineage = lineage or {}
    return OperatorLineage(
        inputs=[ol_dataset(d, output=False) for d in lineage.get("inputs", [])],
        outputs=[ol_dataset(d, output=True) for d in lineage.get("outputs", [])],
    )


class SyncTaskOperator(DecoratedOperator, PythonOperator):
    """The operator behind `@sync_task`: a TaskFlow Python task that reports its sync's lineage."""

    template_fields: t.Sequence[str] = ("templates_dict", "op_args", "op_kwargs")
    custom_operator_name: str = "@task"

    def __init__(
        self,
        *,
        python_callable: Callable[..., t.Any],
        op_args: t.Any,
        op_kwargs: t.Any,
        **kwargs: t.Any,
    ) -> None:
        super().__init__(
            kwargs_to_upstream={
                "python_callable": python_callable,
                "op_args": op_args,
                "op_kwargs": op_kwargs,
            },
            python_callable=python_callable,
            op_args=op_args,
            op_kwargs=op_kwargs,
            **kwargs,
        )
        self.sync_lineage: dict[str, t.Any] | None = None

    def execute(self, context: t.Any) -> t.Any:
        """Run the task; keep the lineage of its sync, whether it succeeds or fails.

        Args:
            context: The task's context.

        Returns:
            The task's return value (the sync's summary).
        """
        try:
            result = super().execute(context)
        except Exception as exc:
            # A failed sync's SyncError carries the summary of what it did land.
            summary = getattr(exc, "summary", None)
            self.sync_lineage = getattr(summary, "lineage", None) or None
            raise
        if isinstance(result, Mapping):
            self.sync_lineage = result.get("lineage") or None
        return result

    def get_openlineage_facets_on_complete(self, task_instance: t.Any) -> t.Any:
        """The provider's hook after success: the API in, each table out.

        Args:
            task_instance: The finished task instance (unused: the operator kept the lineage).

        Returns:
            The `OperatorLineage`.
        """
        return operator_lineage(self.sync_lineage)

    def get_openlineage_facets_on_failure(self, task_instance: t.Any) -> t.Any:
        """The provider's hook after failure: what the failed sync read and touched.

        Args:
            task_instance: The failed task instance (unused).

        Returns:
            The `OperatorLineage`.
        """
        return operator_lineage(self.sync_lineage)


def sync_task(python_callable: Callable[..., t.Any] | None = None, **kwargs: t.Any) -> t.Any:
    """`@task` for a function that returns `SyncSummary.as_dict()` (or raises `SyncError`).

    Args:
        python_callable: The function (when used as `@sync_task` without arguments).
        **kwargs: As for `@task`.

    Returns:
        The TaskFlow decorator.
    """
    return task_decorator_factory(
        python_callable=python_callable,
        decorated_operator_class=SyncTaskOperator,
        **kwargs,
    )
