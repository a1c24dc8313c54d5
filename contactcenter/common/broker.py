"""The Redis broker transport of Celery (kombu's), with one guard it lacks.

When Redis goes away while a worker holds unacknowledged messages (`acks_late`: every task in progress or
prefetched), kombu 5.7 closes the consumer's channel after its connection has already let go of the transport, and
restoring those messages then fails with `AttributeError` instead of a connection error. The worker counts that as
unrecoverable and exits, so a Redis blip would take the whole worker down (found by the fault tests, issue #8).
Raising the connection error kombu expects at that point lets it ignore the failed restore (the messages stay in
Redis's unacked set, redelivered after the visibility timeout; the sweeper re-enqueues their rows sooner) and the
worker reconnects when Redis is back."""

from kombu.transport import redis as kombu_redis
from redis.exceptions import ConnectionError as RedisConnectionError


class Channel(kombu_redis.Channel):
    def _connparams(self, asynchronous=False):
        if self.connection.client is None:
            raise RedisConnectionError("The broker connection is already closed.")
        return super()._connparams(asynchronous=asynchronous)


class Transport(kombu_redis.Transport):
    Channel = Channel
