"""Read replicas: one pool per streaming replica, their lag behind the primary measured in the background.

The lag is measured by WAL position, not by the last replayed commit's time alone (`pg_last_xact_replay_timestamp()`
stays old on a replica that is fully caught up with a quiet primary): every `check_s` the primary's flushed WAL
position is sampled, and a replica's lag is the time since the primary first had WAL this replica has not replayed
yet (0 when it has replayed everything the primary had). A replica more than `max_lag_s` behind, down, or no longer
in recovery (promoted: its data goes its own way) is not used; the next measure takes it back once it is fine again.
Only built-in functions any role may call are used: the replicas are read with the web server's own role.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from gis.errors import UrbasigError
from layers.db import Pool, pooled

if TYPE_CHECKING:
    from settings import Settings

log = logging.getLogger(__name__)

OK, BEHIND, DOWN, UNKNOWN, PROMOTED = "ok", "en retard", "injoignable", "inconnu", "pas une réplique"
MAX_SAMPLES = 3_600  # the primary's WAL positions kept: an hour at one measure a second


def lsn_number(text: str) -> int:
    """A WAL position as PostgreSQL writes it (« 16/B374D848 ») as one number."""
    high, _, low = text.partition("/")
    return (int(high, 16) << 32) | int(low, 16)


def server_name(url: str) -> str:
    """host:port/database of a URL: how a replica is named in logs and /health (never its password)."""
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port or 5432}{parts.path}"


@dataclass
class Replica:
    """One replica: its pool and its state as last measured (or as a request found it)."""

    name: str
    pool: Pool
    state: str = UNKNOWN
    lag_s: float | None = None
    replay_age_s: float | None = None  # since the last transaction it replayed committed on the primary
    checked_at: float | None = None
    reason: str | None = None

    def report(self) -> dict[str, object]:
        """The state as /health?details shows it."""
        return {"name": self.name, "state": self.state,
                "lag_s": None if self.lag_s is None else round(self.lag_s, 3),
                "replay_age_s": None if self.replay_age_s is None else round(self.replay_age_s, 3),
                "checked_s_ago": None if self.checked_at is None else round(time.monotonic() - self.checked_at, 3),
                **({"reason": self.reason} if self.reason else {})}


_REPLICA_STATE = """SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn()::text,
                           extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8"""


@dataclass
class ReplicaSet:
    """The replicas of one server process, the primary's pool (for its WAL position), the limits, the monitor."""

    primary: Pool
    replicas: list[Replica]
    max_lag_s: float = 5.0
    check_s: float = 1.0
    _samples: deque[tuple[int, float]] = field(default_factory=lambda: deque(maxlen=MAX_SAMPLES))
    _turn: itertools.count = field(default_factory=itertools.count)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def usable(self) -> list[Replica]:
        """The replicas a read may use now, a different one first at each call (the load spread between them).

        The first call measures them at once, then starts the monitor (nothing runs before a read needs it).
        """
        if self._thread is None:
            self._start()
        ready = [r for r in self.replicas if r.state == OK]
        if not ready:
            return []
        first = next(self._turn) % len(ready)
        return ready[first:] + ready[:first]

    def mark_down(self, replica: Replica, reason: str) -> None:
        """A request could not use this replica: skip it until the monitor finds it fine again."""
        if replica.state != DOWN:
            log.warning("réplique %s écartée : %s", replica.name, reason)
        replica.state, replica.reason = DOWN, reason

    def report(self) -> list[dict[str, object]]:
        """Each replica's state, for /health?details."""
        return [r.report() for r in self.replicas]

    def check(self) -> None:
        """Measure every replica once (the primary's WAL position first)."""
        try:
            with pooled(self.primary, timeout=1, statement_timeout_s=2) as conn:
                position = conn.execute("SELECT pg_current_wal_flush_lsn()::text").fetchone()[0]
            self._samples.append((lsn_number(position), time.monotonic()))
        except UrbasigError as exc:  # the primary is down: the replicas are judged on the positions seen so far
            log.info("position du primaire inconnue : %s", exc)
        for replica in self.replicas:
            self._measure(replica)

    def _measure(self, replica: Replica) -> None:
        try:
            with pooled(replica.pool, timeout=1, statement_timeout_s=2) as conn:
                in_recovery, replayed, replay_age_s = conn.execute(_REPLICA_STATE).fetchone()
        except UrbasigError as exc:
            replica.state, replica.reason, replica.lag_s = DOWN, exc.message, None
            replica.checked_at = time.monotonic()
            return
        now = time.monotonic()
        replica.checked_at, replica.replay_age_s = now, replay_age_s
        if not in_recovery or replayed is None:
            replica.state, replica.reason, replica.lag_s = PROMOTED, "le serveur n'est pas en réplication", None
            return
        position = lsn_number(replayed)
        missing = [at for lsn, at in self._samples if lsn > position]  # samples are in time order
        replica.lag_s = now - missing[0] if missing else 0.0
        over = replica.lag_s > self.max_lag_s
        replica.state = BEHIND if over else OK
        replica.reason = f"{replica.lag_s:.1f} s de retard (au plus {self.max_lag_s:g} s)" if over else None

    def _start(self) -> None:
        with self._lock:
            if self._thread is not None:
                return
            self.check()
            self._thread = threading.Thread(target=self._watch, name="urbasig-replicas", daemon=True)
            self._thread.start()

    def _watch(self) -> None:
        while not self._stop.wait(self.check_s):
            try:
                self.check()
            except Exception:  # the monitor must outlive any surprise; the log says what happened
                log.exception("mesure des répliques en échec")

    def close(self) -> None:
        """Stop the monitor and close the replicas' pools."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        for replica in self.replicas:
            replica.pool.close(timeout=1)


def replica_set(settings: Settings, primary: Pool) -> ReplicaSet | None:
    """The web server's replicas from URBASIG_DATABASE_READ_URL (None without), each pool sized as the primary's
    and checked for least privilege as it is: the replicas are read with the same role."""
    from layers.db import make_pool

    if not settings.read_urls:
        return None
    replicas = [Replica(server_name(url), make_pool(
        url, settings.pool_min, settings.pool_max, connect_timeout_s=settings.pool_connect_timeout_s,
        reconnect_timeout_s=settings.pool_reconnect_timeout_s, breaker_open_s=settings.db_breaker_s,
        outage_wait_s=settings.db_outage_wait_s, least_privilege=True)) for url in settings.read_urls]
    return ReplicaSet(primary, replicas, settings.read_max_lag_s, settings.read_check_s)
