"""What customers and the log may read of an error."""

from __future__ import annotations

from app.errors import (
    CUSTOMER_MESSAGES,
    BudgetError,
    ErrorCode,
    ModelError,
    TemplateError,
    customer_message,
    loggable,
)


def test_customers_read_our_words_for_a_model_error_whatever_its_message() -> None:
    error = ModelError("Error code: 400 - <script>", code=ErrorCode.MODEL_BAD_REQUEST, detail="<script>")
    assert customer_message(error) == CUSTOMER_MESSAGES[ErrorCode.MODEL_BAD_REQUEST]


def test_customers_never_read_a_template_errors_file_and_line() -> None:
    error = TemplateError("/srv/shop/prompts/system.j2:3: 'shop' is undefined")
    assert customer_message(error) == CUSTOMER_MESSAGES[ErrorCode.TEMPLATE_ERROR]


def test_a_message_written_for_customers_is_shown_as_it_is() -> None:
    error = BudgetError("Your message is too long for this assistant (900 tokens; at most 500 fit).")
    assert customer_message(error) == error.message


def test_a_foreign_exception_is_internal_to_customers() -> None:
    assert customer_message(KeyError("answer")) == CUSTOMER_MESSAGES[ErrorCode.INTERNAL]


def test_a_logged_detail_is_one_short_line_without_credentials() -> None:
    text = (
        'Incorrect API key sk-proj-abcdef123456\nAuthorization: Bearer eyJhbGci.x.y {"api_key": "k-9"} '
        + "x" * 500
    )
    line = loggable(text, secrets=["k-9"])
    assert "\n" not in line
    assert len(line) == 300
    assert "abcdef123456" not in line
    assert "eyJhbGci" not in line
    assert "k-9" not in line
    assert line.startswith("Incorrect API key sk-*** Authorization: Bearer ***")
