"""One exception tree for the domain; tasks retry the ``Transient*`` ones."""

from __future__ import annotations


class StancewatchError(Exception):
    """Base of every error stancewatch raises on purpose."""

    _default_message = "stancewatch error"

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self._default_message)

    @property
    def message(self) -> str:
        return str(self.args[0])


class ConfigError(StancewatchError):
    """A setting has a value that cannot be used; the message names the variable."""

    _default_message = "invalid configuration"


class NotFoundError(StancewatchError):
    """A feed, article, webhook or delivery id that does not exist."""

    _default_message = "not found"


class InvalidInputError(StancewatchError):
    """Input from a user (URL, interval, filter) that is malformed."""

    _default_message = "invalid input"


class UnsafeURLError(InvalidInputError):
    """A URL that resolves to a loopback, private, link-local or metadata address."""

    _default_message = "URL points to a private address"


class FeedError(StancewatchError):
    """Something went wrong with one feed or page."""

    def __init__(self, url: str, message: str | None = None) -> None:
        super().__init__(message or self._default_message)
        self.url = url


class FetchError(FeedError):
    """A permanent fetch failure (4xx, too large, not a feed)."""

    _default_message = "fetch failed"


class TransientFetchError(FetchError):
    """A fetch failure worth retrying (timeout, connection error, 5xx, 429)."""

    _default_message = "temporary fetch failure"

    def __init__(self, url: str, message: str | None = None, retry_after: float | None = None) -> None:
        super().__init__(url, message)
        self.retry_after = retry_after


class ResponseTooLargeError(FetchError):
    """The response body exceeded the configured size cap."""

    _default_message = "response too large"


class ParseError(FeedError):
    """The bytes could not be parsed as a feed at all."""

    _default_message = "not a feed"


class WebhookDeliveryError(StancewatchError):
    """A delivery attempt that failed permanently."""

    def __init__(self, url: str, status: int | None, message: str | None = None) -> None:
        super().__init__(message or f"delivery to {url} failed with status {status}")
        self.url = url
        self.status = status


class TransientWebhookError(WebhookDeliveryError):
    """A delivery attempt worth retrying (timeout, connection error, 5xx, 429)."""


class ConflictError(InvalidInputError):
    """The thing already exists (a feed URL that is already watched)."""

    _default_message = "already exists"
