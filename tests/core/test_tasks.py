from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult
from pytest_django.fixtures import Settings as SettingsWrapper

from patron.core.tasks import TASK_RESULT_RETENTION, prune_finished_task_results, redrive_events
from tests.core.conftest import DB_BACKEND


def _result(*, status: str, finished_at: datetime | None) -> str:
    result = redrive_events.enqueue()
    DBTaskResult.objects.filter(pk=result.id).update(status=status, finished_at=finished_at)
    return result.id


@pytest.mark.django_db
def test_it_prunes_finished_task_results_older_than_the_retention(
    settings: SettingsWrapper, now: datetime
) -> None:
    settings.TASKS = {"default": {"BACKEND": DB_BACKEND}}
    old = now - TASK_RESULT_RETENTION - timedelta(seconds=1)
    recent = now - TASK_RESULT_RETENTION + timedelta(seconds=1)
    _result(status=TaskResultStatus.SUCCESSFUL, finished_at=old)
    _result(status=TaskResultStatus.FAILED, finished_at=old)
    kept = [
        _result(status=TaskResultStatus.SUCCESSFUL, finished_at=recent),
        _result(status=TaskResultStatus.READY, finished_at=None),
        _result(status=TaskResultStatus.RUNNING, finished_at=None),
    ]

    pruned = prune_finished_task_results(now=now)

    assert pruned == 2
    assert sorted(str(pk) for pk in DBTaskResult.objects.values_list("pk", flat=True)) == sorted(
        kept
    )
