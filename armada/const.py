"""Named limits and defaults; tests shrink them through Config rather than patching code."""

MAX_BODY_BYTES = 1024 * 1024
# The request head, as aiohttp's parser reads it (longer: 414, 431). The two line limits
# differ so that the limit a too-long line names tells which it was (aiohttp_bad_request).
MAX_REQUEST_LINE_BYTES = 8190
MAX_HEADER_BYTES = 8192
MAX_HEADERS = 128
MAX_ID_LENGTH = 255
MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 10
MAX_PAGE = 2_147_483_647
MAX_BATCH_EVENTS = 1000
MAX_EVENTS_LIMIT = 1000
# GET /api/events/?q=: at most this many words (store.operations.MAX_SEARCH_TERMS), this long.
MAX_SEARCH_TERMS = 4
MAX_SEARCH_LENGTH = 1000
# The search index of an existing database is built in the background, this many events per
# write transaction, with this pause between them (armada/search_index.py).
SEARCH_INDEX_CHUNK = 2000
SEARCH_INDEX_PAUSE_SECONDS = 0.01
SEARCH_INDEX_RETRY_SECONDS = 5.0
# New events wait in a queue for the search index (searches see them meanwhile), indexed
# every this many seconds, this many per write transaction: big enough that FTS5's cost per
# row falls to a fraction of a row per commit's, small enough that the writes queued behind
# one chunk wait a few milliseconds.
SEARCH_QUEUE_SECONDS = 0.5
SEARCH_QUEUE_CHUNK = 500
# Whatever the rows' size, a chunk of either indexes at most this much text (one event
# whatever its length), on the one writer thread: random text costs about 0.7 µs a
# character there, so ~25 ms. A chunk slower than SEARCH_CHUNK_SECONDS halves the next
# one's text (down to SEARCH_CHUNK_MIN_CHARACTERS); one faster than half of it doubles it.
SEARCH_CHUNK_CHARACTERS = 32_768
SEARCH_CHUNK_MIN_CHARACTERS = 1024
SEARCH_CHUNK_SECONDS = 0.025
# A whole event list is read and sent this many events at a time (one read transaction
# each): memory and each turn of the event loop stay small whatever the list's length.
# Larger chunks held the loop longer for a list little faster (bench/events_list.py: 1,000
# held it up to 20 ms, 500 up to 11 ms, 250 up to 4-8 ms, mostly the reading thread's GIL).
EVENTS_LIST_CHUNK = 250
MAX_CURSOR_LENGTH = 1024

# The status vocabulary of jobs and events, in the canonical case they are stored in.
STATUSES = ("Running", "Success", "Failed", "Pending", "Cancelled", "Lost")
# What a run's status can be, derived from its jobs' (docs/api.md "Run state").
RUN_STATUSES = ("Pending", "Running", "Success", "Failed", "Cancelled")

# Paths outside the REST routes of routes.py, named once for the modules that treat them apart.
HEALTH_PATH = "/healthz"
READY_PATH = "/readyz"
METRICS_PATH = "/metrics"
DOCS_PATH = "/api/docs"
OPENAPI_PATH = "/api/openapi.json"
WEBSOCKET_PREFIX = "/ws/"
# The live page (armada/http/page.py) and its files.
PAGE_PATH = "/"
PAGE_ASSETS_PATH = "/ui/"
# The service's icon, where browsers ask for it (static/favicon.ico).
FAVICON_PATH = "/favicon.ico"

DB_WORKERS = 4
DB_TIMEOUT_SECONDS = 5.0
# SQL Server sessions a stopped store leaves to the next of its process (store/dialects.py).
MSSQL_IDLE_SESSIONS = 8
MSSQL_IDLE_SESSION_SECONDS = 60.0
# While the database stays down, one log line says so this often, not one per failure.
DB_DOWN_REMINDER_SECONDS = 60.0
RETRY_AFTER_SECONDS = 1
# Group commit under load: a batch of this many writes takes in what keeps arriving (no
# gap longer than the last) for up to this long before its commit: fewer fsyncs.
COMMIT_LINGER_FROM_WRITES = 4
COMMIT_LINGER_SECONDS = 0.002
COMMIT_LINGER_GAP_SECONDS = 0.0005
# Background writes (the search index) wait while other writes are queued, at most this
# long, so that they still advance under constant load.
BACKGROUND_WRITE_MAX_WAIT_SECONDS = 1.0
READY_TIMEOUT_SECONDS = 2.0
# A write that failed inside itself (a full disk) keeps /readyz at 503 this long after its
# failure, unless a write commits meanwhile: the probe's empty write proves nothing of the
# space, and once it has passed, traffic may come back to try.
READY_AFTER_WRITE_FAILURE_SECONDS = 10.0
REQUEST_TIMEOUT_SECONDS = 30.0
# Writes cut by the request timeout still finish (and broadcast); shutdown waits this long.
LATE_WRITES_DRAIN_SECONDS = 10.0

# Slow clients: a connection has this long to send a complete request head (from its
# opening, or from the end of the previous answer: an idle keep-alive connection too);
# beyond this many open connections, new ones are answered 503 and closed. WebSocket
# subscribers count: room for the 1,000 of bench/fanout.py and as many agents.
HEADER_TIMEOUT_SECONDS = 10.0
MAX_CONNECTIONS = 2000
# A refused connection stays open this long after its 503, for the client to read it.
CONNECTION_REFUSAL_LINGER_SECONDS = 1.0

MIN_TOKEN_LENGTH = 16
MAX_REQUEST_ID_LENGTH = 128

RETENTION_INTERVAL_SECONDS = 3600.0
RETENTION_BATCH_RUNS = 100
# How often the service looks for runs `armada purge` deleted, to announce them (delete_run).
RUN_DELETIONS_POLL_SECONDS = 1.0
# Lost jobs (armada/lost_jobs.py): a Running job silent this long is Lost (by
# default), looked for every min(ARMADA_JOB_STALE_AFTER / 2, this) seconds, so many at a time.
JOB_STALE_AFTER_SECONDS = 1800.0
LOST_JOBS_SWEEP_MAX_SECONDS = 60.0
LOST_JOBS_BATCH = 100
# Each instance renews its row in armada_leases this often; the row lasts three times as long.
INSTANCE_RENEW_SECONDS = 20.0
INSTANCE_LEASE_SECONDS = 3 * INSTANCE_RENEW_SECONDS

WS_HEARTBEAT_SECONDS = 20.0
WS_MAX_PENDING_MESSAGES = 1000
WS_CLOSE_OVERFLOW = 4008
WS_CLOSE_TIMEOUT_SECONDS = 1.0
# Under load, each subscriber's frames leave in one write per window this long: a flush due
# within it of the last one waits for the window's end, so kernel sends per subscriber fall
# as the load rises; on an idle stream a message leaves at once (docs/performance.md "Fan-out").
WS_FLUSH_WINDOW_SECONDS = 0.002
WS_BUFFER_MESSAGES = 10_000
# Bytes bound the memory whatever the messages' size: the ring (resume) and each
# subscriber's queue. 64 MiB of ring fits a small host; a queue of 16 MiB is 16 of the
# largest events (ARMADA_MAX_BODY, 1 MiB).
WS_BUFFER_BYTES = 64 * 1024 * 1024
WS_MAX_PENDING_BYTES = 16 * 1024 * 1024
# The least a byte limit may be set to (ARMADA_WS_BUFFER_BYTES, ARMADA_WS_QUEUE_BYTES).
MIN_BYTE_LIMIT = 64 * 1024
WS_MAX_INCOMING_MESSAGE_BYTES = 64 * 1024

REDIS_KEY_PREFIX = "armada:stream"
REDIS_MAX_UNPUBLISHED = 10_000
REDIS_TIMEOUT_SECONDS = 2.0
REDIS_RETRY_FIRST_SECONDS = 0.1
REDIS_RETRY_MAX_SECONDS = 5.0
REDIS_DRAIN_SECONDS = 5.0

EARLIEST_YEAR = 1753
# A body datetime later than the service's clock plus this is refused (ARMADA_MAX_CLOCK_SKEW):
# it would otherwise be its run's last report for years.
MAX_CLOCK_SKEW_SECONDS = 86400.0
# The kind of an NDJSON export's last line, which counts the records before it.
EXPORT_END = "end"

# The triage reads of the live page (armada/http/triage.py): a run's jobs in one read (a
# 1,000-job run opens in one request), and how much of an event's content says what it was.
MAX_TRIAGE_JOBS = 1000
TRIAGE_TEXT_CHARS = 300
DEFAULT_TRIAGE_LIMIT = 50

# Alerts (armada/alerts/, ARMADA_ALERTS_FILE): each attempt at most this long (a target's
# `timeout`); a failed one tried again after retry_first, doubled each time up to retry_max
# (each wait jittered between its half and its whole), given up once give_up_after has
# passed since the change; sent and failed deliveries kept `keep`, then pruned.
ALERT_ATTEMPT_TIMEOUT_SECONDS = 10.0
ALERT_MAX_ATTEMPT_TIMEOUT_SECONDS = 300.0
ALERT_RETRY_FIRST_SECONDS = 10.0
ALERT_RETRY_MAX_SECONDS = 600.0
ALERT_GIVE_UP_SECONDS = 86400.0
ALERT_KEEP_SECONDS = 7 * 86400.0
# The longest wait a retry or a digest may set: a day (SQL Server counts it in milliseconds).
ALERT_LONGEST_WAIT_SECONDS = 86400.0
# A claimed delivery is its instance's for its attempt's timeout plus this; an instance
# killed mid-attempt leaves it to be claimed again after that.
ALERT_LEASE_MARGIN_SECONDS = 5.0
# The outbox is looked at this often (and at once after a change that alerts here), at
# most this many deliveries in flight per instance; pruned this often, so many at a time.
ALERT_POLL_SECONDS = 1.0
ALERT_MAX_IN_FLIGHT = 16
ALERT_PRUNE_SECONDS = 3600.0
ALERT_PRUNE_BATCH = 500
# Standard Webhooks secrets: whsec_ and base64 of 24 to 64 bytes.
ALERT_MIN_SECRET_BYTES = 24
ALERT_MAX_SECRET_BYTES = 64
# The first line of a failure, as a message carries it; a receiver's error, as kept.
ALERT_FAILURE_LINE_CHARS = 300
ALERT_ERROR_CHARS = 500
DEFAULT_DELIVERIES_LIMIT = 50
MAX_DELIVERIES_LIMIT = 500
