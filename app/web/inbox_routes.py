"""The operators' inbox over HTTP: the page at ``/operator`` and the queue at ``/api/operator/queue``."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, Response

from app.errors import ErrorCode
from app.settings import SHIPPED_STATIC_DIR
from app.web.inbox import Inbox
from app.web.operator_frames import Queue
from app.web.operator_routes import OperatorDep
from app.web.routes import ApiError

router = APIRouter(tags=["operators"])

INBOX_PAGE = SHIPPED_STATIC_DIR / "operator.html"


def _inbox(request: Request) -> Inbox:
    inbox: Inbox | None = getattr(request.app.state, "inbox", None)
    if inbox is None:
        raise ApiError(503, ErrorCode.INTERNAL, "the inbox is not running")
    return inbox


@router.api_route("/operator", methods=["GET", "HEAD"], include_in_schema=False, response_model=None)
async def inbox_page() -> Response:
    """The inbox (it asks for a sign-in when there is no session)."""
    if not INBOX_PAGE.is_file():
        raise ApiError(404, ErrorCode.NOT_FOUND, "the inbox page (static/operator.html) is missing")
    return FileResponse(INBOX_PAGE, headers={"Cache-Control": "no-cache"})


@router.get("/api/operator/queue")
async def queue(request: Request, session: OperatorDep, response: Response) -> Queue:
    """Conversations waiting for a person (longest first), those with a person, then tickets."""
    response.headers["Cache-Control"] = "no-store"
    return await _inbox(request).queue()
