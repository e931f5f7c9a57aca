"""A shop's own order API as declared in a TOML file: each operation's requests, and where an order's fields are.

``read_endpoints`` checks the whole file and reports every problem as ``file: key: what is wrong — fix``
(the format of ``app/shop/problems.py``) in one ``ConfigError``; header secrets (``${ENV_VAR}``) are read from
the environment here, once, and are never part of a message. ``docs/shop-backend.md`` describes the file.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote, urlsplit

from app.errors import ConfigError
from app.orders.backend import STATUSES, OrderStatus
from app.shop.problems import Problems

FieldPath = tuple[str | int, ...]
"""Where a value is in a JSON document: object keys and list indexes ("line_items.0.id")."""
Field = tuple[FieldPath, ...]
"""One value, or several joined by a space (a first and a last name)."""

Operation = Literal[
    "find_customer_orders",
    "get_order",
    "cancel_pending_order",
    "return_delivered_order_items",
    "modify_pending_order_address",
]
READS: tuple[Operation, ...] = ("find_customer_orders", "get_order")
WRITES: tuple[Operation, ...] = (
    "cancel_pending_order",
    "return_delivered_order_items",
    "modify_pending_order_address",
)
ADDRESS_PARTS = ("name", "first_name", "last_name", "line1", "line2", "city", "postcode", "country")
_WRITE_VALUES = ("order_id", "order_ref", "customer_id")
# What each operation's URL and body may name; ``order_ref`` is the shop's own id of the order just read.
PLACEHOLDERS: dict[Operation, frozenset[str]] = {
    "find_customer_orders": frozenset({"customer_id"}),
    "get_order": frozenset({"order_id"}),
    "cancel_pending_order": frozenset({*_WRITE_VALUES, "reason"}),
    "return_delivered_order_items": frozenset({*_WRITE_VALUES, "reason", "item_ids"}),
    "modify_pending_order_address": frozenset(
        {*_WRITE_VALUES, *(f"address.{part}" for part in ADDRESS_PARTS)}
    ),
}
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
DEFAULT_TIMEOUT_S = 10.0
MAX_TIMEOUT_S = 120.0
DEFAULT_MAX_RESPONSE_BYTES = 2_000_000
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)?)\}")
_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
# Headers the HTTP client owns; one set by the file would break framing or the host check.
_OWN_HEADERS = frozenset({"host", "content-length", "transfer-encoding", "connection"})


def path_text(path: FieldPath) -> str:
    """The path as written in the file."""
    return ".".join(str(part) for part in path)


def pick(data: object, path: FieldPath) -> object:
    """The value at ``path`` in a JSON document, or None when any step is missing."""
    for part in path:
        if isinstance(part, int) and isinstance(data, list):
            data = data[part] if -len(data) <= part < len(data) else None
        elif isinstance(data, dict):
            data = data.get(str(part))
        else:
            return None
    return data


def text(value: object) -> str:
    """A JSON scalar as text: numbers without a trailing ``.0``; null, objects and lists as ``""``."""
    if isinstance(value, bool) or value is None or isinstance(value, dict | list):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def joined(data: object, fields: Field) -> str:
    """The field's values in ``data``, the non-empty ones joined by a space."""
    return " ".join(part for part in (text(pick(data, path)) for path in fields) if part)


def moment(value: object) -> datetime | None:
    """An ISO 8601 date-time (a naive one is UTC), or None when the value is not one."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class StatusRule:
    """``status`` applies when the value at ``field`` equals, contains or is (not) present; no field: always."""

    status: OrderStatus
    field: FieldPath | None = None
    equals: tuple[str, ...] = ()
    contains: str | None = None
    present: bool | None = None

    def matches(self, order: object) -> bool:
        """Whether the rule applies to this order (as the shop's JSON)."""
        if self.field is None:
            return True
        value = pick(order, self.field)
        if self.present is not None:
            return (value not in (None, "", [], {})) == self.present
        if self.contains is not None:
            if isinstance(value, list):
                return any(text(v) == self.contains for v in value)
            # Tag lists often come as one comma-separated text ("vip, return-requested").
            return isinstance(value, str) and self.contains in (t.strip() for t in value.split(","))
        return text(value) in self.equals


@dataclass(frozen=True, slots=True)
class ItemFields:
    """Where an order line's fields are, inside one element of the order's items."""

    item_id: Field
    name: Field
    quantity: Field
    unit_price: Field
    product_id: Field = ()
    returned_quantity: Field = ()


@dataclass(frozen=True, slots=True)
class AddressFields:
    """Where the delivery address's parts are, inside the order."""

    name: Field
    line1: Field
    city: Field
    postcode: Field
    country: Field
    line2: Field = ()


@dataclass(frozen=True, slots=True)
class OrderFields:
    """Where an order's fields are in the shop's JSON, and which rule gives its status."""

    order_id: Field
    customer_id: Field
    email: Field
    placed_at: Field
    currency: Field
    items: FieldPath
    item: ItemFields
    address: AddressFields
    status: tuple[StatusRule, ...]
    ref: Field = ()
    delivered_at: Field = ()
    carrier: Field = ()
    tracking_number: Field = ()


@dataclass(frozen=True, slots=True)
class Request:
    """One HTTP request of an operation: method, URL template (after ``base_url``), optional JSON body template.

    ``found`` (reads) is where the order or orders are in the answer; ``error_at`` (writes) is where a shop
    that answers 200 to a failure (GraphQL) puts its errors: anything at one of them fails the change.
    """

    method: str
    url: str
    body: object = None
    found: FieldPath = ()
    error_at: Field = ()


@dataclass(frozen=True, slots=True)
class Endpoints:
    """Everything the file declares; ``headers`` hold secrets and are kept out of ``repr``."""

    base_url: str
    operations: Mapping[Operation, tuple[Request, ...]]
    order: OrderFields
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    secrets: tuple[str, ...] = field(default=(), repr=False)
    allow_private: bool = False
    timeout_s: float = DEFAULT_TIMEOUT_S
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES

    @property
    def host(self) -> str:
        """The shop API's host name or address."""
        return urlsplit(self.base_url).hostname or ""


def fill_url(template: str, values: Mapping[str, object]) -> str:
    """The URL template with every placeholder replaced by its value, percent-encoded (``/`` too)."""
    return _PLACEHOLDER.sub(lambda m: quote(_as_text(values[m.group(1)]), safe=""), template)


def fill_body(template: object, values: Mapping[str, object]) -> object:
    """The body template with placeholders filled: a whole-string placeholder keeps its value's JSON type."""
    if isinstance(template, dict):
        return {key: fill_body(value, values) for key, value in template.items()}
    if isinstance(template, list):
        return [fill_body(value, values) for value in template]
    if isinstance(template, str):
        whole = _PLACEHOLDER.fullmatch(template)
        if whole is not None:
            return values[whole.group(1)]
        return _PLACEHOLDER.sub(lambda m: _as_text(values[m.group(1)]), template)
    return template


def _as_text(value: object) -> str:
    if isinstance(value, list | tuple):
        return ",".join(_as_text(v) for v in value)
    return text(value) if not isinstance(value, str) else value


def read_endpoints(path: Path | str, environ: Mapping[str, str]) -> Endpoints:
    """The file's declarations; every problem at once in a ``ConfigError``, one ``file: key: …`` line each."""
    file = str(path)
    problems = Problems()
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{file}: cannot read the shop backend file: {exc.strerror or exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{file}: not valid TOML: {exc}") from None
    endpoints = _Reader(file, problems, environ).endpoints(data)
    if problems.errors or endpoints is None:
        raise ConfigError(
            f"{file}: {problems.errors} problem(s) in the shop backend file:\n  "
            + "\n  ".join(problems.lines("error", per_kind=None))
        )
    return endpoints


class _Reader:
    """Reads the parsed TOML, recording each problem against its dotted key."""

    def __init__(self, file: str, problems: Problems, environ: Mapping[str, str]) -> None:
        self.file = file
        self.problems = problems
        self.environ = environ

    def bad(self, key: str, what: str, fix: str) -> None:
        self.problems.error(self.file, None, f"{key}: {what}" if key else what, fix, key or "file")

    def known(self, table: Mapping[str, Any], where: str, keys: Sequence[str]) -> None:
        for key in table:
            if key not in keys:
                self.bad(_key(where, key), "not a known key", f"use one of {', '.join(keys)} (or remove it)")

    def table(self, data: Mapping[str, Any], key: str, where: str, required: bool = True) -> dict[str, Any]:
        value = data.get(key)
        if value is None:
            if required:
                self.bad(_key(where, key), "missing", f"add a [{_key(where, key)}] table")
            return {}
        if not isinstance(value, dict):
            self.bad(_key(where, key), "must be a table", f"write it as [{_key(where, key)}]")
            return {}
        return value

    def string(self, data: Mapping[str, Any], key: str, where: str, *, required: bool = True) -> str | None:
        value = data.get(key)
        if value is None:
            if required:
                self.bad(_key(where, key), "missing", "add it as a quoted text")
            return None
        if not isinstance(value, str) or not value.strip():
            self.bad(_key(where, key), "must be a non-empty text", 'write it in quotes, e.g. "…"')
            return None
        return value.strip()

    def number(self, data: Mapping[str, Any], key: str, default: float, low: float, high: float) -> float:
        value = data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or not (low < value <= high):
            self.bad(key, f"must be a number above {low:g} and at most {high:g}", f"e.g. {key} = {default:g}")
            return default
        return float(value)

    def path(self, value: object, key: str) -> FieldPath | None:
        if not isinstance(value, str):
            self.bad(key, "must be a dotted path text", 'e.g. "shipping.postcode" or "line_items.0.id"')
            return None
        if value.strip() == "":
            return ()
        parts = value.strip().split(".")
        if any(not part.strip() for part in parts):
            self.bad(key, f"{value!r} has an empty step", 'write steps joined by dots, e.g. "billing.email"')
            return None
        return tuple(int(part) if part.isdigit() else part.strip() for part in parts)

    def field(self, data: Mapping[str, Any], key: str, where: str, *, required: bool = True) -> Field:
        value = data.get(key)
        name = _key(where, key)
        if value is None:
            if required:
                self.bad(name, "missing", 'add where it is in the order, e.g. "id"')
            return ()
        paths = value if isinstance(value, list) else [value]
        found: list[FieldPath] = []
        for item in paths:
            parsed = self.path(item, name)
            if parsed is not None and parsed:
                found.append(parsed)
            elif parsed == ():
                self.bad(name, "is empty", "name where the value is, or leave the key out")
        if isinstance(value, list) and not value:
            self.bad(name, "is an empty list", "list one or more paths, joined by a space when read")
        return tuple(found)

    def endpoints(self, data: Mapping[str, Any]) -> Endpoints | None:
        self.known(
            data,
            "",
            (
                "base_url",
                "allow_private",
                "timeout_s",
                "max_response_bytes",
                "headers",
                "operations",
                "order",
            ),
        )
        allow_private = data.get("allow_private", False)
        if not isinstance(allow_private, bool):
            self.bad("allow_private", "must be true or false", "write allow_private = true or leave it out")
            allow_private = False
        base_url = self.base_url(data, allow_private)
        timeout_s = self.number(data, "timeout_s", DEFAULT_TIMEOUT_S, 0, MAX_TIMEOUT_S)
        cap = data.get("max_response_bytes", DEFAULT_MAX_RESPONSE_BYTES)
        if isinstance(cap, bool) or not isinstance(cap, int) or cap <= 0:
            self.bad(
                "max_response_bytes",
                "must be a whole number of bytes above 0",
                f"e.g. max_response_bytes = {DEFAULT_MAX_RESPONSE_BYTES}",
            )
            cap = DEFAULT_MAX_RESPONSE_BYTES
        headers, secrets = self.headers(self.table(data, "headers", "", required=False))
        operations = self.operations(self.table(data, "operations", ""))
        order = self.order(self.table(data, "order", ""))
        if base_url is None or order is None:
            return None
        return Endpoints(
            base_url=base_url,
            operations=operations,
            order=order,
            headers=headers,
            secrets=secrets,
            allow_private=allow_private,
            timeout_s=timeout_s,
            max_response_bytes=cap,
        )

    def base_url(self, data: Mapping[str, Any], allow_private: bool) -> str | None:
        url = self.string(data, "base_url", "")
        if url is None:
            return None
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            self.bad("base_url", f"{url!r} is not an http(s) URL", 'e.g. "https://shop.example.com/api"')
            return None
        if parts.query or parts.fragment or _PLACEHOLDER.search(url) or "${" in url:
            self.bad(
                "base_url",
                "must have no query, fragment or placeholders",
                "put them in each operation's url instead",
            )
            return None
        if parts.scheme == "http" and not allow_private:
            self.bad(
                "base_url",
                "plain http would send the headers (the shop's credentials) unencrypted",
                "use https:// (http is accepted only with allow_private = true, for a shop on your network)",
            )
            return None
        return url.rstrip("/")

    def headers(self, table: Mapping[str, Any]) -> tuple[dict[str, str], tuple[str, ...]]:
        headers: dict[str, str] = {}
        secrets: list[str] = []
        for name, value in table.items():
            key = _key("headers", name)
            if not _TOKEN.match(name) or name.lower() in _OWN_HEADERS:
                self.bad(
                    key, "not a header name the file may set", "use a plain header name such as Authorization"
                )
                continue
            if not isinstance(value, str):
                self.bad(key, "must be a text", 'e.g. "Bearer ${SHOP_API_TOKEN}"')
                continue
            missing = [m.group(1) for m in _ENV.finditer(value) if m.group(1) not in self.environ]
            if missing:
                # The variable's name only: its value, when there is one, is a secret.
                self.bad(
                    key,
                    f"environment variable {', '.join(missing)} is not set",
                    "set it in the server's environment (the file names it, never holds it)",
                )
                continue
            filled = _ENV.sub(lambda m: self.environ[m.group(1)], value)
            secrets.extend(self.environ[m.group(1)] for m in _ENV.finditer(value) if self.environ[m.group(1)])
            if any(c in filled for c in "\r\n\0"):
                self.bad(
                    key, "the value has a line break", "remove line breaks from the environment variable"
                )
                continue
            headers[name] = filled
        return headers, tuple(sorted(set(secrets), key=len, reverse=True))

    def operations(self, table: Mapping[str, Any]) -> dict[Operation, tuple[Request, ...]]:
        self.known(table, "operations", (*READS, *WRITES))
        operations: dict[Operation, tuple[Request, ...]] = {}
        for name in (*READS, *WRITES):
            where = f"operations.{name}"
            value = table.get(name)
            if value is None:
                if name in READS:
                    self.bad(where, "missing", f"add an [{where}] table with method and url")
                continue
            if isinstance(value, dict):
                declared = [value]
            elif isinstance(value, list) and value and name in WRITES:
                declared = value
            else:
                shape = "a table" if name in READS else f"a table, or [[{where}]] tables run in order"
                self.bad(where, f"must be {shape}", f"write it as [{where}]")
                continue
            requests = []
            for index, item in enumerate(declared):
                at = where if len(declared) == 1 else f"{where}[{index}]"
                if not isinstance(item, dict):
                    self.bad(at, "must be a table", f"write it as [[{where}]]")
                    continue
                request = self.request(item, at, name)
                if request is not None:
                    requests.append(request)
            if len(requests) == len(declared):
                operations[name] = tuple(requests)
        return operations

    def request(self, table: Mapping[str, Any], where: str, name: Operation) -> Request | None:
        reads = name in READS
        found_key = {"find_customer_orders": "orders", "get_order": "order"}.get(name)
        extra = (found_key,) if found_key else ("error_path",)
        self.known(table, where, ("method", "url", "body", *extra))
        method = table.get("method", "GET" if reads else None)
        ok = True
        if not isinstance(method, str) or method.upper() not in METHODS:
            self.bad(
                _key(where, "method"), "missing or not an HTTP method", f"use one of {', '.join(METHODS)}"
            )
            ok = False
        elif reads and method.upper() != "GET":
            self.bad(_key(where, "method"), "a look-up must be a GET", 'write method = "GET"')
            ok = False
        url = self.string(table, "url", where)
        allowed = PLACEHOLDERS[name]
        if url is not None:
            if not url.startswith("/"):
                self.bad(
                    _key(where, "url"),
                    "must start with / (it is appended to base_url)",
                    'e.g. "/orders/{order_id}"',
                )
                ok = False
            ok = self.placeholders(url, _key(where, "url"), allowed) and ok
        else:
            ok = False
        body = table.get("body")
        if body is not None:
            if reads:
                self.bad(_key(where, "body"), "a look-up sends no body", "remove it")
                ok = False
            elif not isinstance(body, dict | list):
                self.bad(
                    _key(where, "body"), "must be a table or a list", 'e.g. body = { status = "cancelled" }'
                )
                ok = False
            else:
                ok = self.body_placeholders(body, _key(where, "body"), allowed) and ok
        found: FieldPath | None = ()
        error_at: Field = ()
        if found_key is not None:
            found = self.path(table.get(found_key, ""), _key(where, found_key))
        else:
            error_at = self.field(table, "error_path", where, required=False)
        if not ok or found is None or url is None or not isinstance(method, str):
            return None
        return Request(method=method.upper(), url=url, body=body, found=found, error_at=error_at)

    def placeholders(self, template: str, key: str, allowed: frozenset[str]) -> bool:
        unknown = sorted({m.group(1) for m in _PLACEHOLDER.finditer(template)} - allowed)
        if unknown:
            self.bad(
                key,
                f"unknown placeholder {', '.join('{' + u + '}' for u in unknown)}",
                f"this operation knows {', '.join('{' + a + '}' for a in sorted(allowed))}",
            )
        return not unknown

    def body_placeholders(self, body: object, key: str, allowed: frozenset[str]) -> bool:
        if isinstance(body, dict):
            return all([self.body_placeholders(v, _key(key, k), allowed) for k, v in body.items()])
        if isinstance(body, list):
            return all([self.body_placeholders(v, f"{key}[{i}]", allowed) for i, v in enumerate(body)])
        if isinstance(body, float) and not math.isfinite(body):
            self.bad(key, "is not a finite number", "use a plain number")
            return False
        if isinstance(body, date | time):
            self.bad(key, "a TOML date has no JSON form", "write it as a quoted text")
            return False
        return self.placeholders(body, key, allowed) if isinstance(body, str) else True

    def order(self, table: Mapping[str, Any]) -> OrderFields | None:
        keys = (
            "id",
            "ref",
            "customer_id",
            "email",
            "placed_at",
            "delivered_at",
            "currency",
            "items",
            "carrier",
            "tracking_number",
            "item",
            "address",
            "status",
        )
        self.known(table, "order", keys)
        if not table:
            return None
        items = self.path(table.get("items"), "order.items") if "items" in table else None
        if "items" not in table or items == ():
            self.bad(
                "order.items", "missing or empty", 'name where the order\'s lines are, e.g. "line_items"'
            )
        item_table = self.table(table, "item", "order")
        self.known(
            item_table,
            "order.item",
            ("id", "product_id", "name", "quantity", "unit_price", "returned_quantity"),
        )
        item = ItemFields(
            item_id=self.field(item_table, "id", "order.item"),
            name=self.field(item_table, "name", "order.item"),
            quantity=self.field(item_table, "quantity", "order.item"),
            unit_price=self.field(item_table, "unit_price", "order.item"),
            product_id=self.field(item_table, "product_id", "order.item", required=False),
            returned_quantity=self.field(item_table, "returned_quantity", "order.item", required=False),
        )
        address_table = self.table(table, "address", "order")
        self.known(address_table, "order.address", ("name", "line1", "line2", "city", "postcode", "country"))
        address = AddressFields(
            name=self.field(address_table, "name", "order.address"),
            line1=self.field(address_table, "line1", "order.address"),
            city=self.field(address_table, "city", "order.address"),
            postcode=self.field(address_table, "postcode", "order.address"),
            country=self.field(address_table, "country", "order.address"),
            line2=self.field(address_table, "line2", "order.address", required=False),
        )
        fields = OrderFields(
            order_id=self.field(table, "id", "order"),
            customer_id=self.field(table, "customer_id", "order"),
            email=self.field(table, "email", "order"),
            placed_at=self.field(table, "placed_at", "order"),
            currency=self.field(table, "currency", "order"),
            items=items or (),
            item=item,
            address=address,
            status=self.status(table.get("status")),
            ref=self.field(table, "ref", "order", required=False),
            delivered_at=self.field(table, "delivered_at", "order", required=False),
            carrier=self.field(table, "carrier", "order", required=False),
            tracking_number=self.field(table, "tracking_number", "order", required=False),
        )
        return fields if items else None

    def status(self, value: object) -> tuple[StatusRule, ...]:
        if not isinstance(value, list) or not value:
            self.bad(
                "order.status",
                "missing: no rule says an order's status",
                'add [[order.status]] tables, e.g. field = "status", equals = "pending", status = "pending"',
            )
            return ()
        rules: list[StatusRule] = []
        for index, rule in enumerate(value):
            where = f"order.status[{index}]"
            if not isinstance(rule, dict):
                self.bad(where, "must be a table", "write it as [[order.status]]")
                continue
            self.known(rule, where, ("field", "equals", "contains", "present", "status"))
            status = rule.get("status")
            if status not in STATUSES:
                self.bad(
                    _key(where, "status"), "missing or not one of ours", f"use one of {', '.join(STATUSES)}"
                )
                continue
            if rules and rules[-1].field is None:
                self.bad(
                    where,
                    "comes after a rule without a field, so it never applies",
                    "move the catch-all last",
                )
                continue
            conditions = [key for key in ("equals", "contains", "present") if key in rule]
            if "field" not in rule:
                if conditions:
                    self.bad(
                        where, f"{conditions[0]} needs a field", 'add field = "…", or drop the condition'
                    )
                    continue
                rules.append(StatusRule(status=status))
                continue
            path = self.path(rule["field"], _key(where, "field"))
            if path is None:
                continue
            if len(conditions) != 1:
                self.bad(where, "needs exactly one of equals, contains, present", 'e.g. equals = "completed"')
                continue
            equals = rule.get("equals", ())
            equals = (equals,) if isinstance(equals, str) else equals
            if not isinstance(equals, list | tuple) or not all(isinstance(e, str) for e in equals):
                self.bad(
                    _key(where, "equals"), "must be a text or a list of texts", 'e.g. ["pending", "on-hold"]'
                )
                continue
            contains = rule.get("contains")
            if contains is not None and not isinstance(contains, str):
                self.bad(_key(where, "contains"), "must be a text", 'e.g. contains = "return-requested"')
                continue
            present = rule.get("present")
            if present is not None and not isinstance(present, bool):
                self.bad(_key(where, "present"), "must be true or false", "e.g. present = true")
                continue
            rules.append(StatusRule(status, path, tuple(equals), contains, present))
        return tuple(rules)


def _key(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key
