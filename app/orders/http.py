"""``HttpShopBackend``: a shop's orders through the shop's own REST API, as declared in a TOML file.

The shop's rules are checked here before any write is sent (only pending orders are cancelled or re-addressed,
only delivered lines are returned, within the window), with the words of ``StoredShopBackend``: a shop's API
may allow more than its customer service should. The shop's 404 is "not found"; anything else going wrong
(unreachable, refused address, timeout, error status, redirect, oversize or non-JSON answer, an order that
cannot be read with the file's mapping) raises ``ShopBackendError`` with our own words; what the shop said
goes to the log only, with the file's secrets masked.

Every request: redirects are not followed, no proxy or cookies are used, the answer is read up to
``max_response_bytes``, and unless ``allow_private`` the host must resolve to public addresses only (every
address is checked, and the connection goes to a checked one).
"""

from __future__ import annotations

import logging
import math
import os
import socket
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from ipaddress import IPv4Address, IPv6Address, ip_address
from pathlib import Path

import aiohttp
import orjson
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver
from yarl import URL

from app.errors import ShopBackendError, loggable
from app.orders.backend import (
    Address,
    Changed,
    ChangeOutcome,
    Order,
    OrderItem,
    Shipment,
    ShopRules,
    _changed,
    _not_found,
    proves,
)
from app.orders.endpoints import (
    Endpoints,
    Field,
    Operation,
    Request,
    fill_body,
    fill_url,
    joined,
    moment,
    path_text,
    pick,
    read_endpoints,
    text,
)

log = logging.getLogger(__name__)

_READ_CHUNK = 64 * 1024
GUESTS = frozenset({"", "0"})
"""Customer ids that mean "no customer account": such orders belong to nobody here."""


def load_http_backend(
    path: Path | str,
    *,
    return_window_days: int = 30,
    environ: Mapping[str, str] | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> HttpShopBackend:
    """The backend the file declares; a ``ConfigError`` lists every problem of the file, one line each."""
    endpoints = read_endpoints(path, os.environ if environ is None else environ)
    return HttpShopBackend(endpoints, return_window_days=return_window_days, clock=clock)


def public(address: IPv4Address | IPv6Address) -> bool:
    """Whether the address is on the public internet (not private, loopback, link-local, reserved …)."""
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


class _PrivateAddressError(Exception):
    def __init__(self, address: str) -> None:
        super().__init__(address)
        self.address = address


class _PublicOnlyResolver(AbstractResolver):
    """Resolves through aiohttp's resolver and refuses a host if any of its addresses is not public."""

    def __init__(self) -> None:
        self._inner = DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        found = await self._inner.resolve(host, port, family)
        for entry in found:
            if not public(ip_address(entry["host"])):
                raise _PrivateAddressError(entry["host"])
        return found

    async def close(self) -> None:
        await self._inner.close()


class HttpShopBackend:
    """A ``ShopBackend`` over the shop's REST API; ``close()`` it when the server stops."""

    def __init__(
        self,
        endpoints: Endpoints,
        *,
        return_window_days: int = 30,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._endpoints = endpoints
        self._fields = endpoints.order
        # The shop's rules, checked before any write is sent (the shop's API may not check them).
        self.rules = ShopRules(return_window_days, clock)
        self._clock = clock
        given = {name.lower() for name in endpoints.headers}
        defaults = {"Accept": "application/json", "User-Agent": "shopchat"}
        self._headers = {
            **{name: value for name, value in defaults.items() if name.lower() not in given},
            **endpoints.headers,
        }
        self._client: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        """Close the connections to the shop."""
        if self._client is not None:
            await self._client.close()
            self._client = None

    async def find_customer_orders(self, customer_id: str) -> list[Order]:
        """The customer's orders, newest first; anyone else's, and any the file cannot read (logged), are left out."""
        if not customer_id.strip():
            return []
        request = self._endpoints.operations["find_customer_orders"][0]
        status, data = await self._send("find_customer_orders", request, {"customer_id": customer_id})
        if status == 404:
            return []
        found = pick(data, request.found)
        if not isinstance(found, list):
            raise self._fail("find_customer_orders", f"the answer has no list of orders at {_at(request)}")
        orders: list[Order] = []
        failure: ShopBackendError | None = None
        for entry in found:
            try:
                orders.append(self._order("find_customer_orders", entry)[0])
            except ShopBackendError as exc:
                # One order the file cannot read (a plug-in's own status …) must not hide the others; it is logged.
                failure = exc
        if failure is not None and not orders:
            raise failure
        # A shop that ignores the filter must not show one customer another's orders.
        mine = [order for order in orders if order.customer_id == customer_id]
        return sorted(mine, key=lambda order: order.placed_at, reverse=True)

    async def get_order(self, order_id: str) -> Order | None:
        """The order whose id is ``order_id`` (a leading ``#`` ignored), or None."""
        found = await self._find(order_id)
        return found[0] if found is not None else None

    async def cancel_pending_order(self, order_id: str, reason: str) -> ChangeOutcome:
        """Cancel a pending order through the shop; any other status is refused with what it is."""
        self._declared("cancel_pending_order")
        found = await self._find(order_id)
        if found is None:
            return _not_found(order_id)
        refused = self.rules.cancel(found[0])
        if refused is not None:
            return refused
        return await self._change("cancel_pending_order", found, {"reason": reason})

    async def return_delivered_order_items(
        self, order_id: str, item_ids: Sequence[str], reason: str
    ) -> ChangeOutcome:
        """Request the return of whole lines of a delivered order within the window; each line at most once."""
        self._declared("return_delivered_order_items")
        found = await self._find(order_id)
        if found is None:
            return _not_found(order_id)
        refused = self.rules.give_back(found[0], item_ids)
        if refused is not None:
            return refused
        return await self._change(
            "return_delivered_order_items", found, {"reason": reason, "item_ids": list(item_ids)}
        )

    async def modify_pending_order_address(self, order_id: str, address: Address) -> ChangeOutcome:
        """Change the delivery address of a pending order through the shop."""
        self._declared("modify_pending_order_address")
        found = await self._find(order_id)
        if found is None:
            return _not_found(order_id)
        refused = self.rules.readdress(found[0])
        if refused is not None:
            return refused
        first, _, last = address.name.strip().partition(" ")
        values = {f"address.{key}": value for key, value in address.as_dict().items()}
        values |= {"address.first_name": first, "address.last_name": last.strip()}
        return await self._change("modify_pending_order_address", found, values)

    async def verify(self, order_id: str, email_or_postcode: str) -> str | None:
        """The order's customer when the proof matches; None too for an order without a customer (a guest's)."""
        order = await self.get_order(order_id)
        if order is None or not order.customer_id or not proves(order, email_or_postcode):
            return None
        return order.customer_id

    def _declared(self, operation: Operation) -> None:
        if operation not in self._endpoints.operations:
            raise self._fail(operation, "the shop backend file declares no such operation")

    async def _find(self, order_id: str) -> tuple[Order, object] | None:
        wanted = order_id.strip().removeprefix("#").strip()
        if not wanted:
            return None
        request = self._endpoints.operations["get_order"][0]
        status, data = await self._send("get_order", request, {"order_id": wanted})
        if status == 404:
            return None
        found = pick(data, request.found)
        # A search may answer several orders, or one whose id only looks alike: only the exact id counts.
        for entry in found if isinstance(found, list) else [found]:
            if isinstance(entry, dict) and joined(entry, self._fields.order_id) == wanted:
                return self._order("get_order", entry)
        return None

    async def _change(
        self, operation: Operation, found: tuple[Order, object], given: Mapping[str, object]
    ) -> ChangeOutcome:
        order, ref = found
        values = {**given, "order_id": order.order_id, "order_ref": ref, "customer_id": order.customer_id}
        for request in self._endpoints.operations[operation]:
            status, data = await self._send(operation, request, values)
            if status == 404:
                return _not_found(order.order_id)
            if status in (409, 422):
                # The shop says no: because the order moved on meanwhile, or for a reason of its own.
                now = await self.get_order(order.order_id)
                if now is None:
                    return _not_found(order.order_id)
                if now != order:
                    return _changed(order.order_id)
                raise self._fail(operation, f"the shop refused the change (HTTP {status})")
            for path in request.error_at:
                reported = pick(data, path)
                if reported not in (None, "", [], {}):
                    raise self._fail(
                        operation,
                        f"the shop reported an error at {path_text(path)}",
                        detail=orjson.dumps(reported).decode(),
                    )
        after = await self.get_order(order.order_id)
        return Changed(after) if after is not None else _not_found(order.order_id)

    def _session(self) -> aiohttp.ClientSession:
        if self._client is None:
            resolver = None if self._endpoints.allow_private else _PublicOnlyResolver()
            self._client = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(resolver=resolver, limit=32),
                timeout=aiohttp.ClientTimeout(total=self._endpoints.timeout_s),
                # Customers share this session: no cookie may carry one's state into another's request.
                cookie_jar=aiohttp.DummyCookieJar(),
                trust_env=False,
            )
        return self._client

    async def _send(
        self, operation: Operation, request: Request, values: Mapping[str, object]
    ) -> tuple[int, object]:
        """The answer's status and JSON (None when empty or 404); 409 and 422 of a write are returned too."""
        endpoints = self._endpoints
        url = endpoints.base_url + fill_url(request.url, values)
        body = fill_body(request.body, values) if request.body is not None else None
        if not endpoints.allow_private:
            try:
                literal = ip_address(endpoints.host)
            except ValueError:
                literal = None  # a name: the resolver checks each of its addresses
            if literal is not None and not public(literal):
                raise self._private(operation, str(literal))
        try:
            async with self._session().request(
                request.method,
                URL(url, encoded=True),
                headers=self._headers,
                json=body,
                allow_redirects=False,
            ) as response:
                status = response.status
                if 300 <= status < 400:
                    raise self._fail(
                        operation, f"answered with a redirect (HTTP {status}), which is not followed"
                    )
                if status == 404:
                    return status, None
                if status in (409, 422) and request.method != "GET":
                    return status, None
                if not 200 <= status < 300:
                    raise self._fail(operation, f"answered HTTP {status}")
                raw = await self._read(operation, response)
        except ShopBackendError:
            raise
        except _PrivateAddressError as exc:
            raise self._private(operation, exc.address) from None
        except TimeoutError:
            raise self._fail(operation, f"no answer within {endpoints.timeout_s:g} s") from None
        except aiohttp.ClientError as exc:
            if isinstance(exc.__cause__, _PrivateAddressError):
                raise self._private(operation, exc.__cause__.address) from None
            raise self._fail(
                operation, "could not be reached", detail=f"{type(exc).__name__}: {exc}"
            ) from None
        if not raw.strip():
            return status, None
        try:
            return status, orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise self._fail(operation, "answered something that is not JSON") from None

    async def _read(self, operation: Operation, response: aiohttp.ClientResponse) -> bytes:
        cap = self._endpoints.max_response_bytes
        too_large = f"answered more than max_response_bytes ({cap:,} bytes)"
        if response.content_length is not None and response.content_length > cap:
            raise self._fail(operation, too_large)
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.content.iter_chunked(_READ_CHUNK):
            size += len(chunk)
            if size > cap:
                raise self._fail(operation, too_large)
            chunks.append(chunk)
        return b"".join(chunks)

    def _order(self, operation: Operation, raw: object) -> tuple[Order, object]:
        """The order in the shop's JSON, and the shop's own id of it (its JSON value, for URLs and bodies)."""
        fields = self._fields
        if not isinstance(raw, dict):
            raise self._fail(operation, "an order in the answer is not a JSON object")
        order_id = joined(raw, fields.order_id)
        if not order_id:
            raise self._unreadable(operation, "order.id", "is empty")
        placed_at = _moment(raw, fields.placed_at)
        if placed_at is None:
            raise self._unreadable(operation, "order.placed_at", "is not a date and time")
        status = next((rule.status for rule in fields.status if rule.matches(raw)), None)
        if status is None:
            raise self._unreadable(operation, "order.status", "no rule applies to the order")
        lines = pick(raw, fields.items)
        if lines is None:
            lines = []
        if not isinstance(lines, list):
            raise self._unreadable(operation, "order.items", "is not a list")
        ref = pick(raw, fields.ref[0]) if fields.ref else None
        carrier = joined(raw, fields.carrier)
        tracking = joined(raw, fields.tracking_number)
        customer_id = joined(raw, fields.customer_id)
        order = Order(
            order_id=order_id,
            # A guest's order has no customer (WooCommerce says 0): nobody may claim it by its email.
            customer_id="" if customer_id in GUESTS else customer_id,
            status=status,
            placed_at=placed_at,
            items=tuple(self._item(operation, line) for line in lines),
            address=Address(
                name=joined(raw, fields.address.name),
                line1=joined(raw, fields.address.line1),
                line2=joined(raw, fields.address.line2),
                city=joined(raw, fields.address.city),
                postcode=joined(raw, fields.address.postcode),
                country=joined(raw, fields.address.country),
            ),
            email=joined(raw, fields.email),
            currency=joined(raw, fields.currency),
            shipment=Shipment(carrier, tracking) if carrier and tracking else None,
            delivered_at=_moment(raw, fields.delivered_at),
        )
        return order, ref if ref not in (None, "") else order_id

    def _item(self, operation: Operation, raw: object) -> OrderItem:
        item = self._fields.item
        if not isinstance(raw, dict):
            raise self._fail(operation, "an order line in the answer is not a JSON object")
        quantity = _number(raw, item.quantity)
        price = _number(raw, item.unit_price)
        returned = _number(raw, item.returned_quantity) if item.returned_quantity else 0.0
        if quantity is None or not quantity.is_integer():
            raise self._unreadable(operation, "order.item.quantity", "is not a whole number")
        if price is None:
            raise self._unreadable(operation, "order.item.unit_price", "is not a number")
        if returned is None or not returned.is_integer():
            raise self._unreadable(operation, "order.item.returned_quantity", "is not a whole number")
        item_id = joined(raw, item.item_id)
        if not item_id:
            raise self._unreadable(operation, "order.item.id", "is empty")
        return OrderItem(
            item_id=item_id,
            product_id=joined(raw, item.product_id),
            name=joined(raw, item.name),
            quantity=int(quantity),
            unit_price=price,
            returned_quantity=int(returned),
        )

    def _unreadable(self, operation: Operation, key: str, what: str) -> ShopBackendError:
        return self._fail(operation, f"an order in the answer cannot be read: the value at {key} {what}")

    def _private(self, operation: Operation, address: str) -> ShopBackendError:
        return self._fail(
            operation,
            f"{self._endpoints.host} is a non-public address ({address}); refused without "
            "allow_private = true",
        )

    def _fail(self, operation: Operation, what: str, *, detail: str | None = None) -> ShopBackendError:
        secrets = self._endpoints.secrets
        message = f"The shop's order API ({self._endpoints.host}) failed in {operation}: {what}."
        shown = loggable(detail, secrets=secrets) if detail is not None else None
        log.warning("%s%s", loggable(message, secrets=secrets), f" ({shown})" if shown else "")
        return ShopBackendError(loggable(message, secrets=secrets, limit=1000), detail=shown)


def _at(request: Request) -> str:
    return f"'{path_text(request.found)}'" if request.found else "the top of the answer"


def _moment(raw: object, field: Field) -> datetime | None:
    for path in field:
        found = moment(pick(raw, path))
        if found is not None:
            return found
    return None


def _number(raw: object, field: Field) -> float | None:
    for path in field:
        value = pick(raw, path)
        if isinstance(value, bool):
            return None
        if isinstance(value, int | float | str):
            try:
                number = float(text(value)) if isinstance(value, str) else float(value)
            except ValueError:
                return None
            return number if math.isfinite(number) else None
    return None
