"""The built-in responder's order policy, driven by a fake shop that answers its calls as the server's tools do."""

from __future__ import annotations

import copy
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from app.llm.actions import Act, Contact, Decision, Say, decide, intent_of, order_numbers, parse_address
from app.llm.model import ChatRequest, ToolCall, ToolSpec
from app.llm.tokens import ChatMessage

CONTACT = Contact("help@example.com", "Mon–Fri 9–17")
NAMES = (
    "find_customer_orders",
    "get_order_details",
    "cancel_pending_order",
    "return_delivered_order_items",
    "modify_pending_order_address",
    "search_products",
    "recommend_products",
    "transfer_to_human_agents",
    "verify_customer",
)
TOOLS = tuple(ToolSpec(name, name) for name in NAMES)
WRITES = {"cancel_pending_order", "return_delivered_order_items", "modify_pending_order_address"}
ADDRESS = {
    "name": "Customer 12347",
    "line1": "7 High Street",
    "line2": "",
    "city": "Leeds",
    "postcode": "LS1 4AB",
    "country": "United Kingdom",
}


def _order(
    order_id: str, status: str, day: int, items: list[tuple[str, str, int]], **extra: Any
) -> dict[str, Any]:
    return {
        "order_id": order_id,
        "status": status,
        "placed_at": f"2026-12-0{day}T10:00:00+00:00",
        "currency": "GBP",
        "total": round(sum(q * 2.5 for _, _, q in items), 2),
        "items": [
            {"item_id": i, "name": n, "quantity": q, "unit_price": 2.5, "returned_quantity": 0}
            for i, n, q in items
        ],
        "address": dict(ADDRESS),
        **extra,
    }


def orders() -> dict[str, dict[str, Any]]:
    return {
        "1234703": _order(
            "1234703",
            "shipped",
            2,
            [("22633", "HAND WARMER UNION JACK", 2)],
            carrier="Royal Mail",
            tracking_number="RM123456789GB",
        ),
        "1234705": _order("1234705", "pending", 4, [("22423", "REGENCY CAKESTAND 3 TIER", 1)]),
        "1234706": _order(
            "1234706",
            "delivered",
            6,
            [("37370", "RETRO COFFEE MUGS ASSORTED", 2), ("22961", "JAM MAKING SET PRINTED", 1)],
            delivered_at="2026-12-06T15:00:00+00:00",
        ),
    }


@dataclass
class FakeShop:
    """Runs calls like the server's tools: verification first, writes only after the customer confirms."""

    verified: bool = True
    orders: dict[str, dict[str, Any]] = field(default_factory=orders)
    attempts: int = 3
    pending: ToolCall | None = None
    ran: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def run(self, call: ToolCall) -> dict[str, Any]:
        args = json.loads(call.arguments)
        self.ran.append((call.name, args))
        if call.name == "verify_customer":
            if self.attempts <= 0:
                return {"error": "too_many_attempts", "message": "Too many attempts."}
            order = self.orders.get(args["order_id"])
            if order is not None and args["email_or_postcode"] in ("customer12347@example.com", "LS1 4AB"):
                self.verified = True
                return {"verified": True}
            self.attempts -= 1
            return {
                "error": "not_verified",
                "message": "That does not match.",
                "attempts_left": self.attempts,
            }
        if not self.verified:
            return {"error": "verification_required", "message": "Verify first."}
        if call.name == "find_customer_orders":
            listed = sorted(self.orders.values(), key=lambda o: o["placed_at"], reverse=True)
            return {"orders": [{**o, "items": len(o["items"])} for o in listed]}
        order = self.orders.get(args.get("order_id", ""))
        if order is None:
            return {"error": "not_found", "message": f"No order {args.get('order_id')} was found."}
        if call.name == "get_order_details":
            return copy.deepcopy(order)
        refusal = self.refusal(call.name, order)
        if refusal is not None:
            return refusal  # the server checks a change before it asks the customer
        self.pending = call
        return {
            "status": "awaiting_confirmation",
            "action_id": "a1",
            "summary": f"{call.name} {args['order_id']}",
            "message": "Ask the customer to confirm.",
        }

    @staticmethod
    def refusal(name: str, order: dict[str, Any]) -> dict[str, Any] | None:
        if name != "return_delivered_order_items" and order["status"] != "pending":
            return {"error": "not_pending", "message": f"Order {order['order_id']} is already shipped."}
        return None

    def confirm(self) -> dict[str, Any]:
        """What the server runs once the customer said yes."""
        assert self.pending is not None
        args = json.loads(self.pending.arguments)
        order = self.orders[args["order_id"]]
        name = self.pending.name
        refusal = self.refusal(name, order)
        if refusal is not None:
            return refusal
        if name == "cancel_pending_order":
            order["status"] = "cancelled"
        elif name == "return_delivered_order_items":
            for item in order["items"]:
                if item["item_id"] in args["item_ids"]:
                    item["returned_quantity"] = item["quantity"]
            order["status"] = "return_requested"
        else:
            order["address"] = {"line2": "", **args["address"]}
        return copy.deepcopy(order)


def request(
    history: list[ChatMessage],
    text: str,
    tail: Sequence[ChatMessage] = (),
    **kw: Any,
) -> ChatRequest:
    messages: list[ChatMessage] = [
        {"role": "system", "content": "You are the shop's assistant."},
        *history,
        {"role": "user", "content": text},
        *tail,
    ]
    return ChatRequest(messages=messages, route="chat", query=text, tools=kw.pop("tools", TOOLS), **kw)


def round_of(calls: tuple[ToolCall, ...], results: list[dict[str, Any]]) -> list[ChatMessage]:
    return [
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {"id": c.call_id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
                for c in calls
            ],
        },
        *(
            ChatMessage(role="tool", tool_call_id=c.call_id, content=json.dumps(r))
            for c, r in zip(calls, results, strict=True)
        ),
    ]


@dataclass
class Chat:
    """A conversation with the policy: each customer message runs tool rounds until the policy writes text."""

    shop: FakeShop = field(default_factory=FakeShop)
    history: list[ChatMessage] = field(default_factory=list)
    calls: list[ToolCall] = field(default_factory=list)
    tools: tuple[ToolSpec, ...] = TOOLS

    def send(self, text: str) -> str:
        tail: list[ChatMessage] = []
        for _ in range(8):
            decision = decide(request(self.history, text, tail, tools=self.tools), CONTACT)
            assert decision is not None, text
            if isinstance(decision, Say):
                return self._answered(text, decision.text)
            self.calls.extend(decision.calls)
            tail += round_of(decision.calls, [self.shop.run(c) for c in decision.calls])
        raise AssertionError("the policy never answered")

    def reply_to_confirmation(self, text: str, result: dict[str, Any] | None = None) -> str:
        """The server ran (or not) the confirmed write call and asks again with its real result."""
        assert self.shop.pending is not None
        outcome = result if result is not None else self.shop.confirm()
        tail = round_of((self.shop.pending,), [outcome])
        decision = decide(request(self.history, text, tail), CONTACT)
        assert isinstance(decision, Say)
        return self._answered(text, decision.text)

    def _answered(self, text: str, answer: str) -> str:
        self.history += [{"role": "user", "content": text}, {"role": "assistant", "content": answer}]
        return answer

    def names(self) -> list[str]:
        return [c.name for c in self.calls]

    def args(self, name: str) -> dict[str, Any]:
        found: dict[str, Any] = next(json.loads(c.arguments) for c in reversed(self.calls) if c.name == name)
        return found


def once(text: str, **kw: Any) -> Decision | None:
    return decide(request([], text, **kw), CONTACT)


# --- reading messages ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("where is my order 1234703", ["1234703"]),
        ("Status of #1234703 please", ["1234703"]),
        ("order no. 1234703 hasn't arrived", ["1234703"]),
        ("Bestellnummer: 1234703", ["1234703"]),
        ("I paid 12345.50 for order 1234703", ["1234703"]),
        ("I bought 20000 pcs and paid £15000", []),
        ("my email is customer12347@example.com", []),
        ("where is my order 536365", ["536365"]),
    ],
)
def test_order_numbers_are_found_and_prices_ignored(text: str, want: list[str]) -> None:
    assert order_numbers(text) == want


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("where is my order 1234703", "status"),
        ("Wo ist meine Bestellung 1234703?", "status"),
        ("cancel order 1234703", "cancel"),
        ("Bestellung 1234703 stornieren", "cancel"),
        ("return the mug from my last order", "return"),
        ("Ich möchte die Tasse aus meiner letzten Bestellung zurückgeben", "return"),
        ("change the delivery address of 1234703 to Jane Doe, 1 Mill Road, York, YO1 2AB", "address"),
        ("Lieferadresse von 1234703 ändern zu Hauptstraße 5, 10115 Berlin", "address"),
        ("Bitte ändere die Lieferadresse von Bestellung 1234703 auf Hauptstraße 5, 10115 Berlin", "address"),
        ("show me my orders", "list"),
        ("I don't want to cancel order 1234703", None),
        ("Bitte die Bestellung 1234703 nicht stornieren", None),
        ("what is your return policy?", None),
        ("is it too late to cancel", None),
    ],
)
def test_intents_in_english_and_german(text: str, want: str | None) -> None:
    assert intent_of(text) == want


def test_an_address_is_read_in_any_of_its_usual_forms() -> None:
    assert parse_address("Jane Doe, 12 High Street, Flat 3, Leeds, LS1 4AB, UK") == {
        "name": "Jane Doe",
        "line1": "12 High Street",
        "line2": "Flat 3",
        "city": "Leeds",
        "postcode": "LS1 4AB",
        "country": "United Kingdom",
    }
    assert parse_address("Hauptstraße 5, 10115 Berlin, Deutschland") == {
        "line1": "Hauptstraße 5",
        "postcode": "10115",
        "city": "Berlin",
        "country": "Germany",
    }


# --- status --------------------------------------------------------------------------------------------------


def test_where_is_my_order_looks_it_up_and_tells_the_tracking() -> None:
    chat = Chat()
    answer = chat.send("where is my order 1234703")
    assert chat.names() == ["get_order_details"]
    assert chat.args("get_order_details") == {"order_id": "1234703"}
    assert "on its way" in answer
    assert "Royal Mail" in answer
    assert "RM123456789GB" in answer


def test_german_status_question_gets_a_german_answer() -> None:
    answer = Chat().send("Wo ist meine Bestellung 1234703?")
    assert answer.startswith("Ihre Bestellung **1234703**")
    assert "unterwegs" in answer
    assert "RM123456789GB" in answer


def test_first_step_is_one_tool_call_with_a_local_id() -> None:
    decision = once("where is my order 1234703")
    assert decision == Act((ToolCall("local-1", "get_order_details", '{"order_id":"1234703"}'),))


def test_a_missing_order_number_is_asked_for_and_the_bare_number_answers_it() -> None:
    chat = Chat()
    question = chat.send("where is my order?")
    assert "order number" in question
    assert chat.calls == []
    answer = chat.send("1234703")
    assert chat.args("get_order_details") == {"order_id": "1234703"}
    assert "RM123456789GB" in answer


def test_an_order_number_given_when_asked_keeps_the_request_it_answers() -> None:
    chat = Chat()
    question = chat.send("I want to cancel my order.")
    assert "order number" in question
    chat.send("It's order 1234705.")
    assert chat.args("cancel_pending_order") == {"order_id": "1234705", "reason": "Customer request"}


def test_a_german_bare_number_answer_stays_german() -> None:
    chat = Chat()
    assert "Bestellnummer" in chat.send("Wo ist meine Bestellung?")
    assert chat.send("1234703").startswith("Ihre Bestellung")


def test_an_unrelated_message_after_our_question_is_left_to_the_faq() -> None:
    chat = Chat()
    chat.send("where is my order?")
    assert decide(request(chat.history, "what are your opening hours?"), CONTACT) is None


def test_an_unknown_order_is_said_and_asked_again() -> None:
    chat = Chat()
    answer = chat.send("where is order 9999901?")
    assert "couldn't find order 9999901" in answer
    assert "RM123456789GB" in chat.send("sorry, 1234703")


def test_list_of_my_orders() -> None:
    chat = Chat()
    answer = chat.send("show me my orders")
    assert chat.names() == ["find_customer_orders"]
    assert answer.index("1234706") < answer.index("1234705") < answer.index("1234703")


# --- cancel --------------------------------------------------------------------------------------------------


def test_cancel_asks_to_confirm_without_claiming_it_is_done() -> None:
    chat = Chat()
    answer = chat.send("please cancel order 1234705")
    assert chat.names() == ["cancel_pending_order"]
    assert chat.args("cancel_pending_order") == {"order_id": "1234705", "reason": "Customer request"}
    assert "cancel order 1234705" in answer
    assert "reply yes or no" in answer
    assert "Done" not in answer


def test_cancel_reason_is_the_customers_words() -> None:
    chat = Chat()
    chat.send("Cancel order 1234705 because I ordered the wrong colour.")
    assert chat.args("cancel_pending_order")["reason"] == "I ordered the wrong colour"


def test_confirmed_cancel_is_reported_done() -> None:
    chat = Chat()
    chat.send("cancel order 1234705")
    assert chat.reply_to_confirmation("Yes, go ahead.") == "Done: order 1234705 is cancelled."


def test_german_cancel_confirmed_by_the_button_is_reported_in_german() -> None:
    chat = Chat()
    question = chat.send("Bestellung 1234705 stornieren")
    assert "Soll ich die Bestellung 1234705 stornieren?" in question
    assert "Ja oder Nein" in question
    assert chat.reply_to_confirmation("Yes, go ahead.") == "Erledigt: Die Bestellung 1234705 ist storniert."


def test_declined_cancel_changes_nothing() -> None:
    chat = Chat()
    chat.send("cancel order 1234705")
    answer = chat.reply_to_confirmation("no", {"error": "declined", "message": "The customer declined."})
    assert "haven't changed anything" in answer


def test_expired_confirmation_says_nothing_changed() -> None:
    chat = Chat()
    chat.send("cancel order 1234705")
    answer = chat.reply_to_confirmation("yes", {"error": "confirmation_expired", "message": "Too late."})
    assert "expired" in answer
    assert "nothing was changed" in answer


def test_a_refusal_after_confirming_says_why() -> None:
    chat = Chat()
    chat.send("cancel order 1234705")
    chat.shop.orders["1234705"]["status"] = "shipped"  # shipped while the customer was deciding
    answer = chat.reply_to_confirmation("yes")
    assert answer == "I'm sorry, I couldn't cancel order 1234705: Order 1234705 is already shipped."


def test_a_refused_cancel_says_why_and_asks_nothing() -> None:
    chat = Chat()
    answer = chat.send("cancel my order 1234703")
    assert answer == "I'm sorry, I couldn't cancel order 1234703: Order 1234703 is already shipped."
    assert chat.shop.pending is None


def test_a_failed_tool_is_not_shown_as_a_refusal() -> None:
    chat = Chat()
    chat.send("cancel order 1234705")
    answer = chat.reply_to_confirmation("yes", {"ok": False, "error": "the tool timed out"})
    assert answer.startswith("Sorry, I couldn't do that just now.")


def test_a_typed_no_to_a_confirmation_the_server_did_not_hold_changes_nothing() -> None:
    chat = Chat()
    chat.send("cancel order 1234705")
    chat.calls.clear()
    assert "haven't changed anything" in chat.send("no")
    assert chat.calls == []


def test_not_wanting_to_cancel_is_not_a_cancel() -> None:
    assert once("I don't want to cancel order 1234705") is None


# --- return --------------------------------------------------------------------------------------------------


def test_return_the_mug_from_my_last_order() -> None:
    chat = Chat()
    answer = chat.send("return the mug from my last order")
    assert chat.names() == ["find_customer_orders", "get_order_details", "return_delivered_order_items"]
    assert chat.args("get_order_details") == {"order_id": "1234706"}
    assert chat.args("return_delivered_order_items") == {
        "order_id": "1234706",
        "item_ids": ["37370"],
        "reason": "Customer request",
    }
    assert "RETRO COFFEE MUGS ASSORTED" in answer
    assert "reply yes or no" in answer
    assert "Done: I've requested the return of **RETRO COFFEE MUGS ASSORTED**" in chat.reply_to_confirmation(
        "yes"
    )


def test_german_return_of_the_cup_from_my_last_order() -> None:
    chat = Chat()
    answer = chat.send("Ich möchte die Tasse aus meiner letzten Bestellung zurückgeben")
    assert chat.args("return_delivered_order_items")["item_ids"] == ["37370"]
    assert "Rücksendung" in answer
    assert "Ja oder Nein" in answer


def test_return_without_naming_an_item_asks_which_and_a_number_answers() -> None:
    chat = Chat()
    question = chat.send("I want to return something from order 1234706")
    assert "1. RETRO COFFEE MUGS ASSORTED" in question
    assert "2. JAM MAKING SET PRINTED" in question
    assert "return_delivered_order_items" not in chat.names()
    chat.send("2")
    assert chat.args("return_delivered_order_items")["item_ids"] == ["22961"]


def test_return_of_a_shipped_order_is_not_offered() -> None:
    chat = Chat()
    answer = chat.send("I want to return order 1234703")
    assert "return_delivered_order_items" not in chat.names()
    assert "Only delivered orders can be returned." in answer


# --- change of address ---------------------------------------------------------------------------------------


def test_change_address_keeps_the_country_and_asks_to_confirm() -> None:
    chat = Chat()
    answer = chat.send("Change the delivery address of 1234705 to Jane Doe, 12 Mill Road, York, YO1 7HH")
    assert chat.args("modify_pending_order_address") == {
        "order_id": "1234705",
        "address": {
            "name": "Jane Doe",
            "line1": "12 Mill Road",
            "city": "York",
            "postcode": "YO1 7HH",
            "country": "United Kingdom",
        },
    }
    assert "Jane Doe, 12 Mill Road, York, YO1 7HH" in answer
    assert "Done: order 1234705 will now be delivered to Jane Doe" in chat.reply_to_confirmation("yes")


def test_german_change_of_address() -> None:
    chat = Chat()
    answer = chat.send("Lieferadresse von 1234705 ändern zu Hauptstraße 5, 10115 Berlin, Deutschland")
    address = chat.args("modify_pending_order_address")["address"]
    assert address == {
        "name": "Customer 12347",
        "line1": "Hauptstraße 5",
        "city": "Berlin",
        "postcode": "10115",
        "country": "Germany",
    }
    assert "Lieferadresse der Bestellung 1234705" in answer


def test_missing_address_parts_are_asked_for_over_turns() -> None:
    chat = Chat()
    question = chat.send("I need to change the delivery address of order 1234705")
    assert "new delivery address" in question
    assert "street and house number, town or city and postcode" in question
    chat.send("3 Park Avenue, Bristol, BS1 5TR")
    assert chat.args("modify_pending_order_address")["address"]["line1"] == "3 Park Avenue"
    assert chat.args("modify_pending_order_address")["address"]["postcode"] == "BS1 5TR"


# --- verification --------------------------------------------------------------------------------------------


def test_unverified_customer_is_asked_for_proof_then_verified_then_answered() -> None:
    chat = Chat(FakeShop(verified=False))
    question = chat.send("where is my order 1234703")
    assert "email address or delivery postcode" in question
    answer = chat.send("customer12347@example.com")
    assert chat.names() == ["get_order_details", "verify_customer", "get_order_details"]
    assert chat.args("verify_customer") == {
        "order_id": "1234703",
        "email_or_postcode": "customer12347@example.com",
    }
    assert "RM123456789GB" in answer


def test_verification_takes_order_number_and_postcode_in_one_answer() -> None:
    chat = Chat(FakeShop(verified=False))
    question = chat.send("show me my orders")
    assert "order number and the email address or delivery postcode" in question
    answer = chat.send("It's 1234703 and my postcode is LS1 4AB")
    assert chat.args("verify_customer") == {"order_id": "1234703", "email_or_postcode": "LS1 4AB"}
    assert "Here are your orders" in answer


def test_a_wrong_proof_says_the_attempts_left_and_a_second_try_works() -> None:
    chat = Chat(FakeShop(verified=False))
    chat.send("cancel order 1234705")
    wrong = chat.send("someone@example.com")
    assert "order number 1234705 and that email address or delivery postcode don't match" in wrong
    assert "2 attempts left" in wrong
    right = chat.send("LS1 4AB")
    assert chat.args("cancel_pending_order")["order_id"] == "1234705"
    assert "reply yes or no" in right


def test_too_many_attempts_points_to_a_person() -> None:
    chat = Chat(FakeShop(verified=False, attempts=0))
    chat.send("where is my order 1234703")
    answer = chat.send("LS1 4AB")
    assert "help@example.com" in answer
    assert chat.names()[-1] == "verify_customer"


def test_german_verification_question() -> None:
    chat = Chat(FakeShop(verified=False))
    assert "E-Mail-Adresse oder die Postleitzahl" in chat.send("Wo ist meine Bestellung 1234703?")
    assert chat.send("customer12347@example.com").startswith("Ihre Bestellung")


# --- what tools are offered ----------------------------------------------------------------------------------


def test_without_tools_an_order_request_gets_a_polite_way_to_a_person() -> None:
    decision = once("cancel order 1234705", tools=())
    assert isinstance(decision, Say)
    assert "can't look up or change orders" in decision.text
    assert "help@example.com" in decision.text


def test_without_tools_general_questions_stay_with_the_faq() -> None:
    assert once("where is my order?", tools=()) is None
    assert once("what is your return policy?") is None


def test_a_tool_that_is_not_offered_is_never_called() -> None:
    offered = tuple(t for t in TOOLS if t.name != "cancel_pending_order")
    chat = Chat(tools=offered)
    answer = chat.send("cancel order 1234705")
    assert "cancel_pending_order" not in chat.names()
    assert "help@example.com" in answer


def test_when_calls_are_forbidden_it_answers_with_text() -> None:
    decision = once("where is my order 1234703", tool_choice="none")
    assert isinstance(decision, Say)


def test_call_ids_are_unique_within_an_answer() -> None:
    chat = Chat()
    chat.send("return the mug from my last order")
    assert [c.call_id for c in chat.calls] == ["local-1", "local-2", "local-3"]


def test_a_past_return_or_cancellation_is_not_a_request() -> None:
    assert (
        intent_of("Dear Sir/Madam, I am still awaiting the refund for order 48213, returned on 2 May.")
        is None
    )
    assert intent_of("my cancelled order 1234703 was still charged") is None


def test_a_reason_beside_the_request_is_kept() -> None:
    chat = Chat()
    chat.send("can I return the jam set from order 1234706? it was broken")
    assert chat.args("return_delivered_order_items") == {
        "order_id": "1234706",
        "item_ids": ["22961"],
        "reason": "it was broken",
    }


def test_where_is_my_last_order_uses_the_newest() -> None:
    chat = Chat()
    answer = chat.send("where is my last order?")
    assert chat.names() == ["find_customer_orders", "get_order_details"]
    assert "1234706" in answer
    assert "was delivered on 6 December 2026" in answer


def test_a_foreign_postcode_does_not_keep_the_old_country() -> None:
    chat = Chat()
    chat.send("Lieferadresse von 1234705 ändern")
    assert "Land" in chat.send("Hauptstraße 5, 10115 Berlin")
    chat.send("Deutschland")
    assert chat.args("modify_pending_order_address")["address"]["country"] == "Germany"


def two_mugs() -> FakeShop:
    shop = FakeShop()
    shop.orders["1234706"]["items"].append(
        {
            "item_id": "21080",
            "name": "WHITE SPOTTY MUG",
            "quantity": 1,
            "unit_price": 2.5,
            "returned_quantity": 0,
        }
    )
    return shop


def test_a_word_two_items_share_asks_which_of_them() -> None:
    chat = Chat(two_mugs())
    question = chat.send("I want to return the mug from order 1234706")
    assert "1. RETRO COFFEE MUGS ASSORTED\n3. WHITE SPOTTY MUG" in question
    assert "JAM" not in question
    chat.send("the white one")
    assert chat.args("return_delivered_order_items")["item_ids"] == ["21080"]


def test_items_named_in_full_are_returned_even_when_each_word_is_shared() -> None:
    shop = FakeShop()
    shop.orders["1234706"]["items"] = [
        {"item_id": item_id, "name": name, "quantity": 6, "unit_price": 2.5, "returned_quantity": 0}
        for item_id, name in [
            ("23084", "RABBIT NIGHT LIGHT"),
            ("23389", "SPACEBOY MINI BACKPACK"),
            ("23390", "DOLLY GIRL MINI BACKPACK"),
            ("22629", "SPACEBOY LUNCH BOX"),
        ]
    ]
    chat = Chat(shop)
    chat.send("Please return the Rabbit Night Light and the Spaceboy Mini Backpack from order 1234706.")
    assert chat.args("return_delivered_order_items")["item_ids"] == ["23084", "23389"]


def test_all_the_mugs_and_two_list_numbers() -> None:
    chat = Chat(two_mugs())
    chat.send("Please return all the mugs from order 1234706")
    assert chat.args("return_delivered_order_items")["item_ids"] == ["37370", "21080"]
    chat = Chat(two_mugs())
    chat.send("I want to return something from order 1234706")
    chat.send("1 and 2")
    assert chat.args("return_delivered_order_items")["item_ids"] == ["37370", "22961"]


ODD_TEXTS = [
    "",
    "   ",
    "{order} {email}",
    "cancel order 1234705 {0} %s",
    "return " * 2000,
    "where is my order " + "1" * 40,
    "Ünïcödé ß 😀 cancel my order 1234705",
    "change the address of 1234705 to ,,,,,,",
    "change the delivery address of 1234705 to 12, 34, 56",
    "#" * 500,
    "yes no ja nein",
]
ODD_RESULTS: list[Any] = [
    None,
    [],
    "text",
    {},
    {"orders": "none"},
    {"orders": [1, {"order_id": None}]},
    {
        "order_id": "1234705",
        "status": 3,
        "items": [{"quantity": "two", "returned_quantity": None}],
        "total": "x",
    },
    {"error": None, "ok": False},
    {"status": "awaiting_confirmation"},
    {"verified": "yes"},
    {"error": "not_verified", "attempts_left": "many"},
]


@pytest.mark.parametrize("text", ODD_TEXTS)
def test_odd_messages_never_break_the_policy(text: str) -> None:
    for history in (
        [],
        Chat().history,
        [{"role": "assistant", "content": "Which order is it about? Please tell me the order number."}],
    ):
        decision = decide(request(history, text), CONTACT)  # type: ignore[arg-type]
        assert decision is None or isinstance(decision, Say | Act)


@pytest.mark.parametrize("name", NAMES)
def test_odd_tool_results_never_break_the_policy(name: str) -> None:
    call = ToolCall("local-1", name, '{"order_id":"1234705"}')
    for result in ODD_RESULTS:
        tail = round_of((call,), [{}])
        tail[1]["content"] = json.dumps(result)
        for text in (
            "where is my order 1234705",
            "cancel order 1234705",
            "return the mug from my last order",
        ):
            decision = decide(request([], text, tail), CONTACT)
            assert isinstance(decision, Say | Act)


@pytest.mark.parametrize(
    "text",
    [
        "Can you tell me where my order is?",
        "Is my order on its way?",
        "Has my parcel been dispatched yet?",
        "Wann kommt meine Bestellung?",
        "Ist mein Paket schon unterwegs?",
        "order no. 1234703?",
    ],
)
def test_more_ways_to_ask_where_an_order_is(text: str) -> None:
    assert intent_of(text) == "status"


def test_a_complaint_naming_an_order_is_not_a_status_question() -> None:
    assert intent_of("My order 1234703 arrived damaged") is None


def test_tools_without_order_tools_leave_general_questions_to_the_faq() -> None:
    others = tuple(t for t in TOOLS if t.name in ("search_products", "transfer_to_human_agents"))
    assert once("where is my order?", tools=others) is None
    decision = once("where is my order 1234703?", tools=others)
    assert isinstance(decision, Say)
    assert "help@example.com" in decision.text


def test_the_decline_button_keeps_a_german_conversation_german() -> None:
    chat = Chat()
    chat.send("Bestellung 1234705 stornieren")
    answer = chat.reply_to_confirmation("No, don't do that.", {"error": "declined", "message": "Declined."})
    assert answer == "In Ordnung, ich habe nichts geändert: Die Bestellung 1234705 bleibt, wie sie ist."


def test_a_new_request_in_english_after_a_german_question_is_answered_in_english() -> None:
    chat = Chat()
    chat.send("Wo ist meine Bestellung?")
    assert chat.send("where is order 1234703").startswith("Your order **1234703**")


def test_it_is_the_order_just_talked_about() -> None:
    chat = Chat()
    chat.send("where is my order 1234705?")
    chat.send("please cancel it because I ordered twice")
    assert chat.args("cancel_pending_order") == {"order_id": "1234705", "reason": "I ordered twice"}


def test_an_order_that_was_not_found_is_not_it() -> None:
    chat = Chat()
    chat.send("where is order 9999901?")
    chat.calls.clear()
    assert "order number" in chat.send("where is my order?")
    assert chat.calls == []


def test_a_german_order_that_was_not_found_is_not_it() -> None:
    chat = Chat()
    assert "nicht finden" in chat.send("Wo ist meine Bestellung 9999901?")
    chat.calls.clear()
    assert "Bestellnummer" in chat.send("Wo ist meine Bestellung?")
    assert chat.calls == []


def test_a_german_compound_names_the_item_by_its_last_part() -> None:
    shop = FakeShop()
    shop.orders["1234706"]["items"].append(
        {
            "item_id": "22699",
            "name": "REGENCY MILK JUG PINK",
            "quantity": 1,
            "unit_price": 2.5,
            "returned_quantity": 0,
        }
    )
    chat = Chat(shop)
    chat.send("Ich möchte den Milchkrug aus Bestellung 1234706 zurückgeben")
    assert chat.args("return_delivered_order_items")["item_ids"] == ["22699"]


@pytest.mark.parametrize(
    "answer",
    [
        "to Jane Doe, 4 Park Avenue, Norwich, NR2 3QT",
        "The new address is: Jane Doe, 4 Park Avenue, Norwich, NR2 3QT",
        "Neue Adresse: Jane Doe, 4 Park Avenue, Norwich, NR2 3QT",
    ],
)
def test_an_address_answer_may_start_with_words_before_it(answer: str) -> None:
    chat = Chat()
    chat.send("change the delivery address of my order 1234705")
    chat.send(answer)
    assert chat.args("modify_pending_order_address")["address"]["name"] == "Jane Doe"


@pytest.mark.parametrize(
    "text",
    [
        "change the address in my order 1234705 to Jane Doe, 4 Park Avenue, Norwich, NR2 3QT",
        "Please change the delivery address to: Jane Doe, 4 Park Avenue, Norwich, NR2 3QT for order 1234705",
        "I need a new delivery address for order 1234705. It is Jane Doe, 4 Park Avenue, Norwich, NR2 3QT",
    ],
)
def test_the_order_and_the_new_address_are_told_apart(text: str) -> None:
    chat = Chat()
    chat.send(text)
    assert chat.args("modify_pending_order_address") == {
        "order_id": "1234705",
        "address": {
            "name": "Jane Doe",
            "line1": "4 Park Avenue",
            "city": "Norwich",
            "postcode": "NR2 3QT",
            "country": "United Kingdom",
        },
    }


# --- what an order holds, a destination without the word "address", a line already returned -----------------


@pytest.mark.parametrize(
    "text",
    [
        "What was in my order 1234706?",
        "what did i buy in order 1234706",
        "which items are in order 1234706?",
        "Was war in meiner Bestellung 1234706?",
    ],
)
def test_asking_what_an_order_holds_lists_its_lines(text: str) -> None:
    answer = Chat().send(text)
    assert "2 × RETRO COFFEE MUGS ASSORTED" in answer
    assert "1 × JAM MAKING SET PRINTED" in answer


def test_a_status_question_does_not_list_the_lines() -> None:
    answer = Chat().send("where is my order 1234706?")
    assert "RETRO COFFEE MUGS" not in answer


def test_what_is_in_the_latest_order_looks_it_up_first() -> None:
    chat = Chat()
    answer = chat.send("what was in my last order?")
    assert chat.names() == ["find_customer_orders", "get_order_details"]
    assert "JAM MAKING SET PRINTED" in answer


@pytest.mark.parametrize(
    ("text", "line1", "city", "postcode"),
    [
        ("Can you send order 1234705 to 3 Queen Street, Cardiff, CF10 2AB instead?", "3 Queen Street", "Cardiff",
         "CF10 2AB"),
        ("I moved. Please deliver order 1234705 to 8 Castle Street, York, YO1 9RN.", "8 Castle Street", "York",
         "YO1 9RN"),
        ("Bitte schicken Sie die Bestellung 1234705 an Hauptstraße 5, 10115 Berlin, Deutschland", "Hauptstraße 5",
         "Berlin",
         "10115"),
    ],
)  # fmt: skip
def test_a_new_destination_without_the_word_address_is_a_change_of_address(
    text: str, line1: str, city: str, postcode: str
) -> None:
    chat = Chat()
    chat.send(text)
    address = chat.args("modify_pending_order_address")["address"]
    assert (address["line1"], address["city"], address["postcode"]) == (line1, city, postcode)


def test_sending_something_else_is_not_a_change_of_address() -> None:
    assert intent_of("please don't send order 1234705 to 4 Park Road, York, YO1 7HH") is None
    assert intent_of("send me the invoice for order 1234706") is None


def test_returning_a_line_already_returned_says_so() -> None:
    shop = FakeShop()
    shop.orders["1234706"]["items"][1]["returned_quantity"] = 1
    answer = Chat(shop=shop).send("I want to return the Jam Making Set from order 1234706")
    assert "already been returned" in answer
    assert "return_delivered_order_items" not in Chat(shop=shop).names()
    assert shop.pending is None


def test_needs_to_go_to_an_address_is_a_change_of_address() -> None:
    chat = Chat()
    chat.send("My order 1234705 needs to go to 22 Harbour Road, Bristol, BS1 5TY please")
    assert chat.args("modify_pending_order_address")["address"]["line1"] == "22 Harbour Road"


def test_going_somewhere_without_a_postcode_is_not_a_change_of_address() -> None:
    assert intent_of("I want to go to 5 shops today, is order 1234706 ready") != "address"


@pytest.mark.parametrize("text", ["did order 1234706 arrive already?", "did my order 1234706 ship?"])
def test_did_it_arrive_is_a_status_question(text: str) -> None:
    assert intent_of(text) == "status"
