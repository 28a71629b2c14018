"""Time partitions of every layer, all in UTC and starting at PARTITIONS_START.

Hourly snapshots feed daily rollups (a day depends on its 24 hours) and daily feed monthly;
Dagster derives those time-window mappings from the definitions below. A partition exists once
its period has ended (end_offset 0): the newest hour is the last complete one.
"""

from __future__ import annotations

import dagster as dg

from orchestration.settings import get_settings

_start = get_settings().partitions_start

hourly_partitions = dg.HourlyPartitionsDefinition(start_date=f"{_start}-00:00", timezone="UTC")
daily_partitions = dg.DailyPartitionsDefinition(start_date=_start, timezone="UTC")
monthly_partitions = dg.MonthlyPartitionsDefinition(start_date=_start, timezone="UTC")
