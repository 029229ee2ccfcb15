"""Airflow integration shipped in the wheel: the `equipme` connection type and its hook.

Airflow finds it through the `apache_airflow_provider` entry point (`provider.py`), so a
platform engineer who installs `tap-equipme` into an Airflow image gets the connection form
with no plugin folder. Nothing here is imported unless Airflow (or a DAG) asks for it; the
DAG file takes its Connections and warehouse params from `dag_settings.py`.
"""
