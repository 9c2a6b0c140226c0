"""CeleryBackend against a real broker and a real Celery worker process."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.tasks import TaskResultStatus
from django.utils import timezone
from pytest_django.fixtures import Settings as SettingsWrapper

from patron.core.celery_backend import CeleryBackend, celery_priority
from patron.core.models import DeliveryState, EventDelivery
from patron.core.tasks import run_delivery
from patron.notifications.models import Notification
from patron.tickets import followers
from patron.tickets import services as tickets
from tests import factories
from tests.core.conftest import CeleryQueue, WorkerProcess, wait_until

DUMMY_BACKEND = "django.tasks.backends.dummy.DummyBackend"
RUN_TIMEOUT_SECONDS = 30

# Worker processes read the real clock, so these tests do too.
pytestmark = [pytest.mark.services, pytest.mark.real_clock]


def _undelivered_reply(settings: SettingsWrapper) -> tuple[EventDelivery, int]:
    """A reply on a followed ticket whose delivery no worker has seen yet; and the follower."""
    now = timezone.now()
    author = factories.agent(password=None)  # no password hashing: the tests never log in
    follower = factories.agent(password=None)
    ticket = factories.ticket(now=now)
    followers.follow(ticket, follower, actor=follower, now=now)
    settings.TASKS = {"default": {"BACKEND": DUMMY_BACKEND}}  # record, run nothing
    message = tickets.reply(ticket, author=author, body="It ships today.", now=now, public=False)
    delivery = EventDelivery.objects.get(
        event__data__message_id=message.pk, consumer="notify_followers"
    )
    return delivery, follower.pk


def _runs_through_a_real_worker(
    settings: SettingsWrapper,
    queue: CeleryQueue,
    start_worker: Callable[..., WorkerProcess],
) -> None:
    delivery, follower_id = _undelivered_reply(settings)
    settings.TASKS = queue.tasks_setting
    settings.CELERY_BROKER_URL = queue.broker_url
    worker = start_worker("celery", queues=(queue.name,), broker_url=queue.broker_url)

    result = run_delivery.enqueue(delivery.pk)

    assert result.status == TaskResultStatus.READY
    assert isinstance(result.task.get_backend(), CeleryBackend)
    wait_until(
        lambda: EventDelivery.objects.get(pk=delivery.pk).state == DeliveryState.DONE,
        timeout=RUN_TIMEOUT_SECONDS,
        what="the Celery worker to run the delivery",
        worker=worker,
    )
    assert list(
        Notification.objects.filter(event=delivery.event_id).values_list("recipient", flat=True)
    ) == [follower_id]


def test_it_runs_a_task_on_a_celery_worker_over_rabbitmq(
    settings: SettingsWrapper,
    rabbitmq_queue: CeleryQueue,
    start_worker: Callable[..., WorkerProcess],
) -> None:
    _runs_through_a_real_worker(settings, rabbitmq_queue, start_worker)


def test_it_runs_a_task_on_a_celery_worker_over_redis(
    settings: SettingsWrapper,
    redis_queue: CeleryQueue,
    start_worker: Callable[..., WorkerProcess],
) -> None:
    _runs_through_a_real_worker(settings, redis_queue, start_worker)


def test_it_orders_priorities_the_way_each_broker_reads_them() -> None:
    assert celery_priority(100, transport="amqp") == 9
    assert celery_priority(-100, transport="amqp") == 0
    assert celery_priority(100, transport="redis") == 0
    assert celery_priority(-100, transport="redis") == 9


@pytest.mark.parametrize("broker", ["rabbitmq_queue", "redis_queue"])
def test_it_runs_higher_priority_tasks_first(
    broker: str,
    request: pytest.FixtureRequest,
    settings: SettingsWrapper,
    start_worker: Callable[..., WorkerProcess],
) -> None:
    queue: CeleryQueue = request.getfixturevalue(broker)
    deliveries = {priority: _undelivered_reply(settings)[0].pk for priority in (-100, 0, 100)}
    settings.TASKS = queue.tasks_setting
    settings.CELERY_BROKER_URL = queue.broker_url
    for priority, delivery_id in deliveries.items():
        run_delivery.using(priority=priority).enqueue(delivery_id)

    worker = start_worker("celery", queues=(queue.name,), broker_url=queue.broker_url)

    enqueued = EventDelivery.objects.filter(pk__in=deliveries.values())
    wait_until(
        lambda: enqueued.filter(state=DeliveryState.DONE).count() == len(deliveries),
        timeout=RUN_TIMEOUT_SECONDS,
        what="the Celery worker to run the deliveries",
        worker=worker,
    )
    in_order = list(enqueued.order_by("done_at").values_list("pk", flat=True))
    assert in_order == [deliveries[100], deliveries[0], deliveries[-100]]
