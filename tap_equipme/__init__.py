"""tap-equipme: Singer tap, warehouse loader and Airflow DAG for the Equipme Supplier API."""

from __future__ import annotations

__version__ = "0.2.0"
