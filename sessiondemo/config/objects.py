"""What the app runs on: the contract's settings table, one frozen object per
concern, with its defaults beside it."""
import time
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Timeouts:
    idle: int = 1800
    absolute: int = 86400
    touch_interval: int = 60

    def __post_init__(self):
        # A touch interval over half the idle timeout could let a session in
        # steady use expire between two touches: clamp it.
        object.__setattr__(self, 'touch_interval', min(self.touch_interval, self.idle // 2))


@dataclass(frozen=True)
class CookieSettings:
    name: str = 'sid'
    secure: bool = False
    path: str = '/'
    samesite: str = 'Lax'
    httponly: bool = True


@dataclass(frozen=True)
class RedisSettings:
    url: str = 'redis://127.0.0.1:6379/0'
    cluster: bool = False
    prefix: str = 'sessiondemo:'


@dataclass(frozen=True)
class SessionSettings:
    store: str = 'memory'
    secrets: tuple = ()
    cookie: CookieSettings = field(default_factory=CookieSettings)
    encrypt: bool = False                       # session.cookie.encrypt
    timeouts: Timeouts = field(default_factory=Timeouts)
    max_bytes: int = 65536
    store_timeout: float = 1.0
    store_probe_interval: float = 0.5           # a broken store is retried this often
    memory_max_sessions: int = 100000
    redis: RedisSettings = field(default_factory=RedisSettings)
    sql_url: str = ''                           # '' = the users database
    sql_url_key: str = 'sqlalchemy.url'         # which key named it, for errors
    sql_synchronous: str = 'normal'             # SQLite: when a session write waits for the disk


@dataclass(frozen=True)
class AuthSettings:
    bcrypt_rounds: int = 12
    max_failures: int = 5
    failure_window: int = 900
    max_failures_per_address: int = 100
    throttle_store: str = 'memory'              # 'auto' resolved against session.store


@dataclass(frozen=True)
class ObserveSettings:
    enabled: bool = True                        # observe.enabled: the audit trail and metrics
    # metrics.allow_from: who may read GET /metrics (ipaddress networks).
    metrics_allow_from: tuple = ()


@dataclass(frozen=True)
class AppSettings:
    session: SessionSettings
    auth: AuthSettings
    max_body_bytes: int = 262144                # http.max_body_bytes
    database_url: str = ''                      # sqlalchemy.url
    production: bool = False
    validate_responses: bool = False            # openapi.validate_responses (tests)
    clock: object = time.time
    observe: ObserveSettings = field(default_factory=ObserveSettings)
