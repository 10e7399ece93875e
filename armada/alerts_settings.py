"""The alerts file (ARMADA_ALERTS_FILE, TOML): its targets, its rules, how delivery retries.

Read once at start (armada/config.py); every mistake is one line naming the key. A URL or a
secret may come from an environment variable that the file names (`url_env`, `secret_env`):
their values are kept out of every repr, log line and error.
"""

from __future__ import annotations

import base64
import binascii
import fnmatch
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from armada import const
from armada.durations import parse_duration

# What fires: a job turns Failed, a job turns Lost, a run ends, a run ends with failures.
EVENTS = ("job_failed", "job_lost", "run_finished", "run_failed")
JOB_EVENTS = ("job_failed", "job_lost")
KINDS = ("webhook", "slack")
NO_LIMIT = "none"
ONCE_PER_RUN = "once_per_run"
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")
SECRET_PREFIX = "whsec_"
TOP_KEYS = {"public_url", "delivery", "targets", "rules"}
DELIVERY_KEYS = {"retry_first", "retry_max", "give_up_after", "keep"}
TARGET_KEYS = {"kind", "url", "url_env", "secret_env", "timeout"}
RULE_KEYS = {"name", "when", "targets", "run_prefix", "run_pattern", "agent", "rate_limit"}


class AlertsFileError(Exception):
    """One line: where in the file, and what is wrong."""


@dataclass(frozen=True)
class Target:
    name: str
    kind: str  # "webhook" (generic JSON, signed) or "slack" (an incoming webhook's text)
    url: str = field(repr=False)  # a chat tool's webhook URL is itself a secret
    secret: bytes | None = field(default=None, repr=False)  # the whsec_ key, decoded
    timeout: float = const.ALERT_ATTEMPT_TIMEOUT_SECONDS


@dataclass(frozen=True)
class Rule:
    name: str
    when: str  # one of EVENTS
    targets: tuple[str, ...]
    run_prefix: str | None = None
    run_pattern: str | None = None  # a shell-style pattern (fnmatch), case counts
    agents: tuple[str, ...] = ()  # patterns; any matching the job's agent
    # NO_LIMIT, ONCE_PER_RUN, or seconds: a digest per run that many seconds after its first.
    rate_limit: str | float = ONCE_PER_RUN

    def matches_run(self, run_uuid: str) -> bool:
        if self.run_prefix is not None and not run_uuid.startswith(self.run_prefix):
            return False
        return self.run_pattern is None or fnmatch.fnmatchcase(run_uuid, self.run_pattern)

    def matches_agent(self, agent: str | None) -> bool:
        return not self.agents or any(fnmatch.fnmatchcase(agent or "", pattern)
                                      for pattern in self.agents)


@dataclass(frozen=True)
class AlertsSettings:
    path: str
    targets: Mapping[str, Target]
    rules: tuple[Rule, ...]
    public_url: str | None = None  # where the live page is, for the links
    retry_first: float = const.ALERT_RETRY_FIRST_SECONDS
    retry_max: float = const.ALERT_RETRY_MAX_SECONDS
    give_up_after: float = const.ALERT_GIVE_UP_SECONDS
    keep: float = const.ALERT_KEEP_SECONDS  # sent and failed deliveries are pruned after

    @property
    def lease(self) -> float:
        """How long a claimed delivery is this instance's: its longest attempt, and margin."""
        longest = max((target.timeout for target in self.targets.values()), default=0.0)
        return longest + const.ALERT_LEASE_MARGIN_SECONDS


def read_alerts_file(path: str, environ: Mapping[str, str]) -> AlertsSettings:
    """Parse and check the file; raise AlertsFileError (one line) on the first mistake."""
    try:
        document = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as error:
        raise AlertsFileError(f"cannot read {path}: {error.strerror}") from None
    except UnicodeDecodeError:
        raise AlertsFileError(f"{path} is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as error:
        raise AlertsFileError(f"{path} is not valid TOML: {error}") from None
    _known_keys(document, TOP_KEYS, "")
    delivery = _table(document, "delivery")
    _known_keys(delivery, DELIVERY_KEYS, "delivery.")
    targets = _targets(_table(document, "targets"), environ)
    rules = _rules(document.get("rules", []), targets)
    return AlertsSettings(
        path=path, targets=targets, rules=rules, public_url=_public_url(document),
        retry_first=_duration(delivery, "retry_first", const.ALERT_RETRY_FIRST_SECONDS,
                              "delivery.", high=const.ALERT_LONGEST_WAIT_SECONDS),
        retry_max=_duration(delivery, "retry_max", const.ALERT_RETRY_MAX_SECONDS, "delivery.",
                            high=const.ALERT_LONGEST_WAIT_SECONDS),
        give_up_after=_duration(delivery, "give_up_after", const.ALERT_GIVE_UP_SECONDS,
                                "delivery."),
        keep=_duration(delivery, "keep", const.ALERT_KEEP_SECONDS, "delivery."),
    )


def _targets(table: Mapping[str, Any], environ: Mapping[str, str]) -> dict[str, Target]:
    if not table:
        raise AlertsFileError("targets: at least one target is needed ([targets.NAME])")
    targets = {}
    for name, spec in table.items():
        where = f"targets.{name}"
        if not NAME.fullmatch(name):
            raise AlertsFileError(f"{where}: a name is letters, digits, - _ . (100 at most)")
        if not isinstance(spec, dict):
            raise AlertsFileError(f"{where}: expected a table")
        _known_keys(spec, TARGET_KEYS, where + ".")
        kind = spec.get("kind", "webhook")
        if kind not in KINDS:
            raise AlertsFileError(f"{where}.kind: {kind!r} is not one of {', '.join(KINDS)}")
        targets[name] = Target(
            name=name, kind=kind, url=_url(spec, where, environ),
            secret=_secret(spec, where, environ),
            timeout=_duration(spec, "timeout", const.ALERT_ATTEMPT_TIMEOUT_SECONDS, where + ".",
                              high=const.ALERT_MAX_ATTEMPT_TIMEOUT_SECONDS))
    return targets


def _url(spec: Mapping[str, Any], where: str, environ: Mapping[str, str]) -> str:
    """From `url`, or from the variable `url_env` names; never echoed (it may be a secret)."""
    if ("url" in spec) == ("url_env" in spec):
        raise AlertsFileError(f"{where}: give one of url or url_env")
    if "url" in spec:
        url, source = spec["url"], f"{where}.url"
    else:
        url, source = _from_environment(spec, "url_env", where, environ), None
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        named = source or f"the variable {spec['url_env']}"
        raise AlertsFileError(f"{named}: expected an http:// or https:// URL")
    return url


def _secret(spec: Mapping[str, Any], where: str, environ: Mapping[str, str]) -> bytes | None:
    """The Standard Webhooks key: `whsec_` and base64, from the variable `secret_env` names."""
    if "secret" in spec:
        raise AlertsFileError(f"{where}.secret: put the secret in a variable, named by "
                              "secret_env")
    if "secret_env" not in spec:
        return None
    variable = spec["secret_env"]
    text = _from_environment(spec, "secret_env", where, environ)
    if not text.startswith(SECRET_PREFIX):
        raise AlertsFileError(f"{variable}: a signing secret starts with {SECRET_PREFIX} "
                              "(Standard Webhooks)")
    try:
        key = base64.b64decode(text.removeprefix(SECRET_PREFIX), validate=True)
    except (binascii.Error, ValueError):
        raise AlertsFileError(f"{variable}: after {SECRET_PREFIX}, expected base64") from None
    if not const.ALERT_MIN_SECRET_BYTES <= len(key) <= const.ALERT_MAX_SECRET_BYTES:
        raise AlertsFileError(f"{variable}: the key is {len(key)} bytes, expected "
                              f"{const.ALERT_MIN_SECRET_BYTES} to "
                              f"{const.ALERT_MAX_SECRET_BYTES}")
    return key


def _from_environment(spec: Mapping[str, Any], key: str, where: str,
                      environ: Mapping[str, str]) -> str:
    variable = spec[key]
    if not isinstance(variable, str) or not variable:
        raise AlertsFileError(f"{where}.{key}: expected the name of an environment variable")
    value = environ.get(variable, "").strip()
    if not value:
        raise AlertsFileError(f"{where}.{key}: the variable {variable} is not set")
    return value


def _rules(entries: Any, targets: Mapping[str, Target]) -> tuple[Rule, ...]:
    if not isinstance(entries, list) or not entries:
        raise AlertsFileError("rules: at least one rule is needed ([[rules]])")
    rules: list[Rule] = []
    for index, spec in enumerate(entries):
        where = f"rules[{index}]"
        if not isinstance(spec, dict):
            raise AlertsFileError(f"{where}: expected a table")
        _known_keys(spec, RULE_KEYS, where + ".")
        name = spec.get("name", f"rule-{index + 1}")
        if not isinstance(name, str) or not NAME.fullmatch(name):
            raise AlertsFileError(f"{where}.name: a name is letters, digits, - _ . "
                                  "(100 at most)")
        if any(rule.name == name for rule in rules):
            raise AlertsFileError(f"{where}.name: {name!r} names another rule too")
        when = spec.get("when")
        if when not in EVENTS:
            raise AlertsFileError(f"{where}.when: expected one of {', '.join(EVENTS)}")
        names = _strings(spec, "targets", where)
        unknown = [target for target in names if target not in targets]
        if not names or unknown:
            raise AlertsFileError(f"{where}.targets: {', '.join(map(repr, unknown)) or 'none'}"
                                  f" (targets: {', '.join(targets)})")
        agents = _strings(spec, "agent", where)
        if agents and when not in JOB_EVENTS:
            raise AlertsFileError(f"{where}.agent: narrows job_failed and job_lost only (a "
                                  "run has many agents)")
        rules.append(Rule(
            name=name, when=when, targets=tuple(dict.fromkeys(names)),
            run_prefix=_optional_text(spec, "run_prefix", where),
            run_pattern=_optional_text(spec, "run_pattern", where), agents=tuple(agents),
            rate_limit=_rate_limit(spec, where)))
    return tuple(rules)


def _rate_limit(spec: Mapping[str, Any], where: str) -> str | float:
    raw = spec.get("rate_limit", ONCE_PER_RUN)
    if raw in (NO_LIMIT, ONCE_PER_RUN):
        return raw
    return _duration(spec, "rate_limit", 0, where + ".", low=1,
                     high=const.ALERT_LONGEST_WAIT_SECONDS,
                     expected=f"{NO_LIMIT}, {ONCE_PER_RUN} or a digest period such as 10m")


def _strings(spec: Mapping[str, Any], key: str, where: str) -> list[str]:
    value = spec.get(key, [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
        raise AlertsFileError(f"{where}.{key}: expected a string or a list of strings")
    return value


def _optional_text(spec: Mapping[str, Any], key: str, where: str) -> str | None:
    value = spec.get(key)
    if value is not None and (not isinstance(value, str) or not value):
        raise AlertsFileError(f"{where}.{key}: expected a non-empty string")
    return value


def _public_url(document: Mapping[str, Any]) -> str | None:
    url = document.get("public_url")
    if url is None:
        return None
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise AlertsFileError("public_url: expected the http:// or https:// address of the "
                              "live page")
    return url if url.endswith("/") else url + "/"


def _duration(spec: Mapping[str, Any], key: str, default: float, where: str, low: float = 0.1,
              high: float = 366 * 86400, expected: str | None = None) -> float:
    raw = spec.get(key)
    if raw is None:
        return default
    try:
        seconds = parse_duration(str(raw)).total_seconds()
    except ValueError as error:
        raise AlertsFileError(f"{where}{key}: {expected or error}") from None
    if not low <= seconds <= high:
        raise AlertsFileError(f"{where}{key}: {raw!r} is outside {low:g}s..{high:g}s")
    return seconds


def _table(document: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = document.get(key, {})
    if not isinstance(value, dict):
        raise AlertsFileError(f"{key}: expected a table")
    return value


def _known_keys(table: Mapping[str, Any], known: set[str], where: str) -> None:
    unknown = sorted(set(table) - known)
    if unknown:
        raise AlertsFileError(f"{where}{unknown[0]}: not a setting (known: "
                              f"{', '.join(sorted(known))})")
