"""Operators sign in to the running server, and handoffs reach the shop's webhook."""

from __future__ import annotations

from fastapi.testclient import TestClient

from app.settings import Settings
from app.store.password import hash_password
from app.web.application import create_app


def test_an_operator_signs_in_to_the_server_and_every_operator_endpoint_needs_it(settings: Settings) -> None:
    with TestClient(create_app(settings)) as client:
        operators = client.app.state.operator_auth.operators  # type: ignore[attr-defined]
        client.portal.call(operators.add, "anna", hash_password("correct horse"))  # type: ignore[union-attr]
        assert client.get("/api/operator/me").status_code == 401
        refused = client.post("/api/operator/login", json={"name": "anna", "password": "wrong"})
        assert refused.status_code == 401
        signed_in = client.post("/api/operator/login", json={"name": "anna", "password": "correct horse"})
        assert signed_in.status_code == 200
        me = client.get("/api/operator/me")
    assert me.status_code == 200
    assert me.json()["name"] == "anna"
